"""The tokenizer, the question clean-up and ``printable`` skip their regexes when a text
cannot match them, and scan short texts without ``re`` (a cold query's start-up): proven
here to give what the regexes alone gave, on every line and paragraph of the real
corpora, the bench's questions and fuzz."""

from __future__ import annotations

import functools
import re
import unicodedata
from itertools import chain

import pytest

from kb.analysis import normalize, scan, tokens
from kb.analysis.stopwords import ENGLISH_STOPWORDS
from kb.render import printable
from tests.conftest import CORPORA, ROOT, corpus_files

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the test extra) is missing")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# The tokenizer as it was: every pattern compiled and applied to every text.
_RUN_RE = re.compile(r"\w+(?:['’]\w+)?(?:[.\-:]\w+)*")
_JOINERS_RE = re.compile(r"[.\-:]")
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_ACRONYMS_RE = re.compile(r"^[A-Z]{2,}s$")
_QUOTED_RE = re.compile(r"""(?:``|[`"'‘“])([^\s`"'’”]{1,4})(?:``|[`"'’”])""")
_OPS = "-+*/%=<>!&|^~@:"
_OPERATOR_RE = re.compile(
    rf"(?=[{re.escape(_OPS)}])(?<![\w)\]}}{re.escape(_OPS)}])([{re.escape(_OPS)}]{{2,3}}|[/%@^~|&*])(?![\w(\[{{{re.escape(_OPS)}])"
)
_NOT_OPERATORS = frozenset({"--", "---", "==", "===", "::", ":", "**", "***", "*", "&", "|"})


def _words(part: str) -> list[str]:
    words: list[str] = []
    for piece in part.split("_"):
        if not piece:
            continue
        if _ACRONYMS_RE.match(piece):
            words.append(piece[:-1].lower())
            continue
        camel = _CAMEL_RE.findall(piece)
        if len(camel) > 1:
            words.append(piece.lower())
            words.extend(w.lower() for w in camel)
        else:
            words.append(piece.lower())
    return words


@functools.lru_cache(maxsize=2**16)
def _run_tokens(run: str) -> tuple[str, ...]:
    run = run.replace("’", "'")
    out: list[str] = []
    parts = _JOINERS_RE.split(run)
    if len(parts) > 1:
        out.append(run.lower())
    for part in parts:
        words = _words(part)
        if len(words) > 1 and "_" in part:
            out.append(part.lower())
        for word in words:
            if (
                word in ENGLISH_STOPWORDS
                or word in tokens._CONTRACTION_TAILS
                or word in tokens.QUESTION_FILLERS
            ):
                continue
            out.append(tokens.stem(word.removesuffix("'s")))
    return tuple(out)


def reference_tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = [
        op
        for op in _OPERATOR_RE.findall(text)
        if op not in _NOT_OPERATORS and (len(op) <= 2 or op.endswith("="))
    ]
    for quoted in _QUOTED_RE.findall(text):
        word = quoted.lower()
        if word in ENGLISH_STOPWORDS:
            out.append(word)
    out.extend(chain.from_iterable(map(_run_tokens, _RUN_RE.findall(text))))
    return out


# The question clean-up as it was.
_TAGS_RE = re.compile(
    r"^\s*(?:(?:\[[^\]\n]{1,24}\]|\((?:bug|question|help|solved)\)|"
    r"(?:bug|doc|docs|enh|qst|question|feature request|api|perf|maint|help)\s*:)\s*:?\s*)+",
    re.IGNORECASE,
)
_TRAILING_TAGS_RE = re.compile(r"(?:\s+(?:\[[A-Za-z][^\]\n'\"]{0,39}\]|\(#\d+\)))+\s*$")
_TRACEBACK_FRAME_RE = re.compile(r'^\s*File "[^"\n]*", line \d+(?:, in .*)?$')
_TIMESTAMP_RE = re.compile(
    r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s*"
)
_HEX_RE = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_LONG_NUMBER_RE = re.compile(r"\b\d{6,}\b")


def reference_normalize(text: str) -> str:
    text = _TRAILING_TAGS_RE.sub("", _TAGS_RE.sub("", text))
    kept: list[str] = []
    in_frames = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Traceback (most recent call last)"):
            in_frames = True
            continue
        if in_frames:
            if _TRACEBACK_FRAME_RE.match(line):
                continue
            if line[:1].isspace():
                continue
            in_frames = False
        if stripped and stripped not in kept:
            kept.append(stripped)
    text = "\n".join(kept)
    text = _TIMESTAMP_RE.sub("", text)
    text = _HEX_RE.sub("", text)
    return _LONG_NUMBER_RE.sub("", text)


_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def reference_printable(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(escape, text)


def _real_texts() -> list[str]:
    texts: list[str] = []
    files = [*corpus_files(), *sorted((ROOT / "faq_source").rglob("*.rst"))]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        texts.extend(text.split("\n\n"))
        texts.extend(text.splitlines())
    for name in ("bench/queries.txt", "eval/questions.jsonl"):
        path = ROOT / name
        if path.exists():
            texts.extend(path.read_text().splitlines())
    return texts


REAL = _real_texts()
# Characters the patterns and the shortcuts care about, mixed with any text.
_INTERESTING = (
    "`\"'‘’“”-+*/%=<>!&|^~@:.,;_()[]{}#?\\ \t\n\r\x00\x1b\u202e\ud800\u2066aAzZsS09x٣²ＡＢｓ０ﬁ™é"
)
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(_INTERESTING)),
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "HMMs",
                    "GPUs",
                    "OMP_NUM_THREADS",
                    "os.path",
                    "0x1f2e3d4c",
                    "2024-01-02 10:11:12",
                    "1234567",
                    "Traceback (most recent call last):",
                    '  File "x.py", line 3, in f',
                    "[Bug]:",
                    "(#123)",
                    "``in``",
                    "'is'",
                    "x += 1",
                    "a // b",
                    "don't",
                    "it’s",
                ]
            ),
            st.text(alphabet=st.sampled_from(_INTERESTING), max_size=6),
        ),
        max_size=12,
    ).map(" ".join),
)


@pytest.fixture(params=["patterns", "scanned"])
def scanned(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test with the compiled patterns, then with the scanners a cold query uses
    (``re`` is loaded in the tests, so ``use_patterns`` would always choose the former)."""
    if request.param == "scanned":
        monkeypatch.setattr(tokens, "use_patterns", lambda text: False)
    return request.param == "scanned"


def test_the_real_texts_tokenize_as_before(scanned: bool) -> None:
    # Not a silent no-op: the corpora give ~18k texts; without them (a machine without
    # ../shared) the shipped FAQ and the eval questions still give ~980.
    assert len(REAL) > (10_000 if CORPORA else 900)
    for text in REAL:
        assert tokens.tokenize(text) == reference_tokenize(text), text


def _scanners_agree(text: str) -> None:
    """Each scanner gives what its pattern finds; each ``may_*`` is False only where its
    pattern finds nothing."""
    assert scan.runs_like(text) == _RUN_RE.findall(text)
    for piece in text.split("_"):
        assert scan.camel_like(piece) == _CAMEL_RE.findall(piece)
    assert scan.ascii_words(text) == re.findall("[a-z]+", text)
    for may, pattern in [
        (scan.may_have_operator, _OPERATOR_RE),
        (scan.may_have_quoted, _QUOTED_RE),
        (scan.may_have_long_number, _LONG_NUMBER_RE),
        (scan.may_have_timestamp, _TIMESTAMP_RE),
        (scan.may_have_leading_tag, _TAGS_RE),
        (scan.may_have_trailing_tag, _TRAILING_TAGS_RE),
    ]:
        if not may(text):
            assert pattern.search(text) is None, (may.__name__, text)


def test_the_scanners_agree_with_their_patterns_on_the_real_texts() -> None:
    for text in REAL:
        _scanners_agree(text)
        _scanners_agree(text.lower())


@settings(max_examples=3000, deadline=None)
@given(texts)
def test_the_scanners_agree_with_their_patterns_on_any_text(text: str) -> None:
    _scanners_agree(text)


def test_the_real_texts_clean_up_as_before() -> None:
    for text in REAL:
        assert normalize.normalize_question(text) == reference_normalize(text), text
        assert printable.printable(text) == reference_printable(text), text


@settings(max_examples=1000, deadline=None)
@given(texts)
def test_any_text_tokenizes_as_before(text: str) -> None:
    assert tokens.tokenize(text) == reference_tokenize(text)


@settings(max_examples=1000, deadline=None)
@given(texts)
def test_any_text_tokenizes_as_before_scanned(text: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokens, "use_patterns", lambda text: False)
        assert tokens.tokenize(text) == reference_tokenize(text)


@settings(max_examples=1000, deadline=None)
@given(texts)
def test_any_text_cleans_up_as_before(text: str) -> None:
    assert normalize.normalize_question(text) == reference_normalize(text)
    assert printable.printable(text) == reference_printable(text)
    assert printable.json_text(text) == _UNSAFE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", __import__("json").dumps(text, ensure_ascii=False)
    )
