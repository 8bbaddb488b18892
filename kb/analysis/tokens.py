"""Turn text into search tokens: the one tokenizer used for entries and questions alike."""

from __future__ import annotations

import functools
import re
from itertools import chain

import Stemmer  # PyStemmer: the Snowball stemmers in C, imported in under a millisecond

from kb.analysis.stopwords import ENGLISH_STOPWORDS

# An identifier-like run: words joined by dots, dashes or colons (``client.upload_file``,
# ``dask-worker``, ``os.path``). The whole run is kept as a token of its own, unstemmed,
# so that an exact identifier in a question finds its entry first.
_RUN_RE = re.compile(r"\w+(?:['’]\w+)?(?:[.\-:]\w+)*")
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# A stopword or an operator quoted on its own (``in``, "is", `//`, '+=') is what the
# question is about, so it is kept: "Behaviour of "in" on a Series".
_QUOTES = "`\"'‘“"  # what a quoted word can open with
_QUOTED = rf"""(?:``|[{_QUOTES}])([^\s`"'’”]{{1,4}})(?:``|[`"'’”])"""
# An operator standing alone (``-22 // 10``, ``x += [1]``, ``def f(a, /)``), not part of a
# path, a URL or a word: runs of two or more, or a single one of these.
_OPS = "-+*/%=<>!&|^~@:"
# (The leading lookahead only lets the regex engine skip non-operator characters fast.)
_OPS_CLASS = re.escape(_OPS)
_OPERATOR = (
    rf"(?=[{_OPS_CLASS}])(?<![\w)\]}}{_OPS_CLASS}])"
    rf"([{_OPS_CLASS}]{{2,3}}|[/%@^~|&*])"
    rf"(?![\w(\[{{{_OPS_CLASS}])"
)
_NOT_OPERATORS = frozenset({"--", "---", "==", "===", "::", ":", "**", "***", "*", "&", "|"})
_STEMMER = Stemmer.Stemmer("english")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled on first use: a text without quotes or operator characters (a
    plain question) never pays for the two largest compiles (~1 ms of a cold query)."""
    return re.compile(pattern)


def _has_any(text: str, chars: str) -> bool:
    return any(char in text for char in chars)


@functools.cache
def stem(word: str) -> str:
    """Return the Snowball stem of a lower-case word."""
    stemmed: str = _STEMMER.stemWord(word)
    return stemmed


def _words(part: str) -> list[str]:
    """Split one joiner-free part into lower-case words (snake_case and CamelCase apart)."""
    words: list[str] = []
    for piece in part.split("_"):
        if not piece:
            continue
        head = piece[:-1]
        # "HMMs", "GPUs" (two or more of A-Z, then "s"): a plural, not H-M-Ms.
        if (
            piece[-1] == "s"
            and len(head) > 1
            and head.isascii()
            and head.isupper()
            and head.isalpha()
        ):
            words.append(head.lower())
            continue
        camel = _CAMEL_RE.findall(piece)
        if len(camel) > 1:
            # ``KilledWorker`` is searched as itself and as "killed worker".
            words.append(piece.lower())
            words.extend(w.lower() for w in camel)
        else:
            words.append(piece.lower())
    return words


def tokenize(text: str) -> list[str]:
    """Return the search tokens of ``text``: stemmed words without stopwords, plus identifiers.

    ``OMP_NUM_THREADS`` gives ``omp_num_threads``, ``omp``, ``num``, ``thread``;
    ``client.upload_file`` gives itself, ``client``, ``upload_file``, ``upload``, ``file``.
    """
    if not text.isascii():  # ASCII is its own NFKC form
        import unicodedata

        text = unicodedata.normalize("NFKC", text)
    tokens: list[str] = []
    if _has_any(text, _OPS):
        tokens.extend(
            op
            for op in _compiled(_OPERATOR).findall(text)
            if op not in _NOT_OPERATORS and (len(op) <= 2 or op.endswith("="))
        )
    if _has_any(text, _QUOTES):
        for quoted in _compiled(_QUOTED).findall(text):
            word = quoted.lower()
            if word in ENGLISH_STOPWORDS:
                tokens.append(word)
    tokens.extend(chain.from_iterable(map(_run_tokens, _RUN_RE.findall(text))))
    return tokens


@functools.lru_cache(maxsize=2**16)
def _run_tokens(run: str) -> tuple[str, ...]:
    """The tokens of one identifier-like run: they depend on the run alone, so are cached.

    Bounded: a corpus's runs follow Zipf's law, so 65k recent runs catch nearly all repeats
    while the cache stays a few MB (the stems below are cached per word, unbounded).
    """
    run = run.replace("’", "'")
    tokens: list[str] = []
    parts = run.replace("-", ".").replace(":", ".").split(".")  # split at each joiner
    if len(parts) > 1:
        tokens.append(run.lower())
    for part in parts:
        words = _words(part)
        if len(words) > 1 and "_" in part:
            tokens.append(part.lower())
        for word in words:
            if word in ENGLISH_STOPWORDS or word in _CONTRACTION_TAILS or word in QUESTION_FILLERS:
                continue
            tokens.append(stem(word.removesuffix("'s")))
    return tuple(tokens)


# What is left of a contraction whose apostrophe was lost ("don t", "it s").
# Words that frame a question rather than say what it is about ("can I", "is there a way",
# "please help"): they would match every FAQ title phrased the same way.
QUESTION_FILLERS = frozenset(
    {
        "can",
        "get",
        "got",
        "sure",
        "possible",
        "anyone",
        "someone",
        "please",
        "help",
        "want",
        "need",
        "way",
        "anybody",
        "thanks",
        "hi",
        "hello",
    }
)
_CONTRACTION_TAILS = frozenset({"s", "t", "d", "ll", "ve", "re", "m", "don", "doesn", "isn"})
