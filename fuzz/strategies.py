"""Hypothesis strategies: reStructuredText built from FAQ-like pieces, and real FAQs mutated.

Shared by the property tests (tests/test_fuzz_ingest.py, a few seconds each) and the long
fuzz run (fuzz/fuzz_ingest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import strategies as st

# Text with the characters that matter to rst and to terminals.
_ALPHABET = st.sampled_from(
    [
        *"abcXYZ019 _-*`:|.\\/<>[]()#=~^\"'?!\t",
        *["\x1b", "\x00", "\x9b", "\u202e", "\ufeff", "é", "日", "\r", "\x0c"],
    ]
)
WORDS = st.text(_ALPHABET, max_size=30)
NAMES = st.text(st.sampled_from(list("abcxyz-_.:+0")), min_size=1, max_size=12)
DIRECTIVES = st.sampled_from(
    [
        "note",
        "warning",
        "code-block",
        "code",
        "include",
        "raw",
        "image",
        "figure",
        "list-table",
        "csv-table",
        "table",
        "math",
        "rubric",
        "only",
        "toctree",
        "ipython",
        "seealso",
        "versionadded",
        "admonition",
        "contents",
        "sidebar",
        "topic",
        "parsed-literal",
        "replace",
        "unicode",
        "date",
        "class",
        "role",
        "default-role",
        "title",
        "meta",
        "container",
        "compound",
        "epigraph",
        "line-block",
        "highlights",
        "pull-quote",
        "sectnum",
        "header",
        "footer",
        "target-notes",
        "footnotes",
        "mydirective",
        "py:function",
        "autofunction",
        "dropdown",
        "tab-item",
        "details",
    ]
)
OPTIONS = st.sampled_from(
    [
        "caption",
        "name",
        "class",
        "linenos",
        "dedent",
        "header",
        "widths",
        "file",
        "url",
        "encoding",
        "start-line",
        "delim",
        "collapsible",
        "heading-level",
        "label",
        "local",
        "depth",
        "bogus",
        "number-lines",
        "header-rows",
        "stub-columns",
        "align",
        "width",
        "target",
        "alt",
        "open",
        "suppress",
    ]
)
UNDERLINES = st.sampled_from("=-~^\"'`#*+:.")


@st.composite
def _line(draw: st.DrawFn) -> str:
    indent = " " * draw(st.integers(0, 12))
    kind = draw(st.integers(0, 15))
    text = draw(WORDS)
    if kind == 0:
        return f"{indent}.. {draw(DIRECTIVES)}:: {text}"
    if kind == 1:
        return f"{indent}   :{draw(OPTIONS)}: {text}"
    if kind == 2:
        return f"{indent}{draw(st.sampled_from(['-', '*', '+', '1.', '#.', 'a)', '(i)']))} {text}"
    if kind == 3:
        return f"{indent}.. |{draw(NAMES)}| replace:: |{draw(NAMES)}| {text}"
    if kind == 4:
        return f"{indent}:{draw(NAMES)}:`{text}`"
    if kind == 5:
        return f"{indent}.. _{draw(NAMES)}: {text}"
    if kind == 6:
        return f"{indent}`{text} <{draw(NAMES)}>`_ {draw(NAMES)}_ |{draw(NAMES)}|"
    if kind == 7:
        return f"{indent}+---+---+" if draw(st.booleans()) else f"{indent}| {text} | x |"
    if kind == 8:
        return f"{indent}{text}::"
    if kind == 9:
        return f"{indent}[#]_ [{draw(NAMES)}]_ .. [1] {text}"
    if kind == 10:
        return ""
    if kind == 11:  # a question set as a heading: bold, italic, or in a list item
        opening, closing = draw(st.sampled_from([("**", "**"), ("*", "*"), ("* **", "**")]))
        return f"{indent}{opening}{text}?{closing}"
    if kind == 12:  # "Q: …?" and "A: …" marks
        marks = ["Q: ", "Question. ", "**A:** ", "A: ", "**Question**: ", "**Answer**: ", "*A*:"]
        return f"{indent}{draw(st.sampled_from(marks))}{text}?"
    if kind == 14:  # questions in fields, or in a table's row
        if draw(st.booleans()):
            return f"{indent}:{draw(st.sampled_from(['Q', 'A', 'Question', 'Answer']))}: {text}?"
        return f"{indent}| {text}? | {text} |"
    if kind == 13:  # a rule between questions
        return draw(st.sampled_from(["----------", "", "~~~~~"]))
    return indent + text


@st.composite
def _section(draw: st.DrawFn) -> str:
    title = draw(WORDS.filter(lambda t: t.strip() != "")) + draw(st.sampled_from(["?", "", "..."]))
    mark = draw(UNDERLINES)
    over = draw(st.booleans())
    length = len(title) + draw(st.integers(-2, 3))
    rule = mark * max(length, 1)
    head = f"{rule}\n{title}\n{rule}" if over else f"{title}\n{rule}"
    body = draw(st.lists(_line(), max_size=25))
    return head + "\n\n" + "\n".join(body) + "\n"


@st.composite
def generated_rst(draw: st.DrawFn) -> str:
    """A document of FAQ-like sections holding every kind of rst construct."""
    top = "FAQ\n===\n\n" if draw(st.booleans()) else ""
    return top + "\n".join(draw(st.lists(_section(), min_size=1, max_size=6)))


def corpus_files() -> list[Path]:
    """The real FAQs in ``$FAQ_CORPORA`` or ``../shared/corpora`` (none if absent)."""
    root = Path(__file__).resolve().parent.parent
    for candidate in (
        os.environ.get("FAQ_CORPORA"),
        root.parent / "shared" / "corpora",
        root.parent.parent / "shared" / "corpora",
    ):
        if candidate and Path(candidate, "SOURCES.tsv").is_file():
            return sorted(Path(candidate).glob("*/*.rst"))
    return []


@st.composite
def mutated(draw: st.DrawFn, files: list[Path], window: int = 12_000) -> bytes:
    """A slice of a real FAQ with a few random edits: bytes, lines, indentation."""
    data = draw(st.sampled_from(files)).read_bytes()
    start = draw(st.integers(0, max(0, len(data) - window)))
    data = bytearray(data[start : start + window])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 6))
        at = draw(st.integers(0, len(data)))
        if op == 0:
            data[at:at] = draw(st.binary(max_size=16))
        elif op == 1:
            data[at:at] = draw(WORDS).encode("utf-8", "surrogatepass")
        elif op == 2:
            end = draw(st.integers(at, min(len(data), at + 400)))
            del data[at:end]
        elif op == 3:
            end = draw(st.integers(at, min(len(data), at + 400)))
            data[at:at] = data[at:end] * draw(st.integers(1, 4))
        elif op == 4:
            data[at:at] = b"\n" + b" " * draw(st.integers(0, 20))
        elif op == 5 and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        else:
            data[at:at] = draw(_line()).encode("utf-8", "surrogatepass") + b"\n"
    return bytes(data)
