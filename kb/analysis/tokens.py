"""Turn text into search tokens: the one tokenizer used for entries and questions alike."""

from __future__ import annotations

from itertools import chain

import Stemmer  # PyStemmer: the Snowball stemmers in C, imported in under a millisecond

from kb.analysis.scan import (
    LONE_OPS,
    OPS,
    QUOTE_CLOSERS,
    QUOTE_OPENERS,
    camel_like,
    may_have_operator,
    may_have_quoted,
    runs_like,
    use_patterns,
)
from kb.analysis.stopwords import ENGLISH_STOPWORDS

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    import re

# An identifier-like run: words joined by dots, dashes or colons (``client.upload_file``,
# ``dask-worker``, ``os.path``). The whole run is kept as a token of its own, unstemmed,
# so that an exact identifier in a question finds its entry first.
_RUN = r"\w+(?:['’]\w+)?(?:[.\-:]\w+)*"
_CAMEL = r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+"
# A stopword or an operator quoted on its own (``in``, "is", `//`, '+=') is what the
# question is about, so it is kept: "Behaviour of "in" on a Series".
_QUOTED = rf"""(?:``|[{QUOTE_OPENERS}])([^\s{QUOTE_CLOSERS}]{{1,4}})(?:``|[{QUOTE_CLOSERS}])"""
# An operator standing alone (``-22 // 10``, ``x += [1]``, ``def f(a, /)``), not part of a
# path, a URL or a word: runs of two or more, or a single one of ``LONE_OPS``.
# (The leading lookahead only lets the regex engine skip non-operator characters fast.)
_OPS_CLASS = "".join("\\" + char for char in OPS)  # each escaped: literal in a class
_OPERATOR = (
    rf"(?=[{_OPS_CLASS}])(?<![\w)\]}}{_OPS_CLASS}])"
    rf"([{_OPS_CLASS}]{{2,3}}|[{LONE_OPS}])"
    rf"(?![\w(\[{{{_OPS_CLASS}])"
)
_NOT_OPERATORS = frozenset({"--", "---", "==", "===", "::", ":", "**", "***", "*", "&", "|"})
_STEMMER = Stemmer.Stemmer("english")
_PATTERNS: dict[str, re.Pattern[str]] = {}
_STEMS: dict[str, str] = {}
# The tokens of each identifier-like run seen lately (see ``_run_tokens``).
RUN_CACHE: dict[str, tuple[str, ...]] = {}
RUN_CACHE_SIZE = 2**16


def _compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled on first use, ``re`` imported then: a short question without
    quotes or operators never imports it (``kb.analysis.scan``)."""
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        import re

        compiled = _PATTERNS[pattern] = re.compile(pattern)
    return compiled


def stem(word: str) -> str:
    """Return the Snowball stem of a lower-case word."""
    stemmed = _STEMS.get(word)
    if stemmed is None:
        stemmed = _STEMS[word] = _STEMMER.stemWord(word)
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
        camel = _compiled(_CAMEL).findall(piece) if use_patterns(piece) else camel_like(piece)
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
    patterns = use_patterns(text)
    if patterns or may_have_operator(text):
        tokens.extend(
            op
            for op in _compiled(_OPERATOR).findall(text)
            if op not in _NOT_OPERATORS and (len(op) <= 2 or op.endswith("="))
        )
    if patterns or may_have_quoted(text):
        for quoted in _compiled(_QUOTED).findall(text):
            word = quoted.lower()
            if word in ENGLISH_STOPWORDS:
                tokens.append(word)
    runs = _compiled(_RUN).findall(text) if patterns else runs_like(text)
    tokens.extend(chain.from_iterable(map(_run_tokens, runs)))
    return tokens


def _run_tokens(run: str) -> tuple[str, ...]:
    """The tokens of one identifier-like run: they depend on the run alone, so are cached.

    Bounded: a corpus's runs follow Zipf's law, so the cache (emptied whenever it holds
    65k runs) catches nearly all repeats while it stays a few MB (the stems below are
    cached per word, unbounded).
    """
    tokens = RUN_CACHE.get(run)
    if tokens is None:
        if len(RUN_CACHE) >= RUN_CACHE_SIZE:
            RUN_CACHE.clear()
        tokens = RUN_CACHE[run] = _tokens_of_run(run)
    return tokens


def _tokens_of_run(run: str) -> tuple[str, ...]:
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
