"""Show search results: for a person at a terminal, and as ``--json`` for programs."""

from __future__ import annotations

import os
import sys

from kb.render.printable import clean, printable
from kb.search.query import Hit, SearchResult, TermMatch

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any, TextIO

_MIN_WIDTH, _MAX_WIDTH = 40, 100


def terminal_width(stream: TextIO) -> int:
    """A comfortable reading width: the terminal's (or $COLUMNS), between 40 and 100."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        width = int(columns)
    else:
        try:
            width = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            width = 80
    return max(_MIN_WIDTH, min(_MAX_WIDTH, width))


class _Style:
    """ANSI bold/dim/underline when writing to a terminal that wants colour."""

    def __init__(self, stream: TextIO) -> None:
        self.on = (
            stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        )

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def link(self, text: str) -> str:
        return self._sgr("4", text)


def answer_lines(blocks: list[dict[str, Any]], width: int, indent: str = "  ") -> list[str]:
    """Lay out answer blocks: prose wrapped, code and tables kept exactly as written."""
    lines: list[str] = []
    for block in blocks:
        pad = indent + "  " * int(block.get("depth", 0))
        kind, text = block["kind"], block["text"]
        if lines:
            lines.append("")
        if kind == "code":
            lines.extend((pad + "    " + line).rstrip() for line in text.splitlines())
        elif kind == "item":
            marker = block.get("marker") or "•"
            lines.extend(wrap(text or " ", width, f"{pad}{marker} ", pad + " " * (len(marker) + 1)))
        else:
            lines.extend(wrap(text, width, pad, pad))
    # Items of one list read better without blank lines between them.
    out: list[str] = []
    for i, line in enumerate(lines):
        if line == "" and 0 < i < len(lines) - 1 and _is_item(lines[i - 1], lines[i + 1]):
            continue
        out.append(line)
    return out


# The suggest band previews its closest question's answer in at most this many lines.
PREVIEW_LINES = 4


def preview_lines(blocks: list[dict[str, Any]], width: int) -> list[str]:
    """The start of an answer, at most PREVIEW_LINES lines, "…" where it was cut."""
    lines = answer_lines(blocks[:2], width, indent="    ")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) <= PREVIEW_LINES:
        return lines
    kept = lines[:PREVIEW_LINES]
    while kept and not kept[-1].strip():
        kept.pop()
    if kept:
        kept[-1] = kept[-1].rstrip() + " …"
    return kept


def wrap(text: str, width: int, initial_indent: str, subsequent_indent: str) -> list[str]:
    """``textwrap.wrap(text, width, initial_indent=…, subsequent_indent=…,
    break_on_hyphens=False, break_long_words=False)``, line for line.

    Its code without its module: importing textwrap compiles its regexes, ~1 ms of every
    cold query that prints an answer. (tests/test_render.py compares them.)
    """
    # textwrap's whitespace munging: tabs expanded, then each ASCII whitespace a space.
    text = text.expandtabs().translate(_SPACES)
    # Its split with break_on_hyphens off: runs of spaces and the words between them.
    chunks: list[str] = []
    spaces = 0
    for number, part in enumerate(text.split(" ")):
        if number:  # a space before every part but the first
            spaces += 1
        if part:
            if spaces:
                chunks.append(" " * spaces)
                spaces = 0
            chunks.append(part)
    if spaces:
        chunks.append(" " * spaces)
    # TextWrapper._wrap_chunks, with drop_whitespace on and no long word broken.
    lines: list[str] = []
    chunks.reverse()
    while chunks:
        line: list[str] = []
        size = 0
        indent = subsequent_indent if lines else initial_indent
        room = width - len(indent)
        if chunks[-1].strip() == "" and lines:
            del chunks[-1]
        while chunks and size + len(chunks[-1]) <= room:
            size += len(chunks[-1])
            line.append(chunks.pop())
        if chunks and len(chunks[-1]) > room and not line:
            line.append(chunks.pop())
        if line and line[-1].strip() == "":
            del line[-1]
        if line:
            lines.append(indent + "".join(line))
    return lines


_SPACES = dict.fromkeys(map(ord, "\t\n\x0b\x0c\r "), ord(" "))


def _is_item(before: str, after: str) -> bool:
    return after.lstrip().startswith("• ") and before.strip() != ""


def _printable_result(result: SearchResult) -> SearchResult:
    """A copy of ``result`` whose every text is safe to print (see ``kb.render.printable``)."""
    hits = []
    for hit in result.hits:
        copy = Hit(hit.number, clean(hit.entry), hit.score, hit.coverage, hit.title_coverage)
        copy.matches = [TermMatch(printable(m.term), m.field, m.contribution) for m in hit.matches]
        copy.similarity = hit.similarity
        hits.append(copy)
    tokens = [printable(token) for token in result.tokens]
    return SearchResult(printable(result.query), tokens, hits, result.band)


def format_result(result: SearchResult, stream: TextIO, *, explain: bool = False) -> str:
    """The human-readable answer: best entry in full, then the close alternatives.

    Escape sequences, controls and bidi overrides in the question or the FAQ's text are
    shown escaped, never sent to the terminal.
    """
    result = _printable_result(result)
    style = _Style(stream)
    width = terminal_width(stream)
    out: list[str] = []
    if not result.hits:
        out.append(f"No answer in the FAQ for: {_one_line(result.query)}")
        if not result.tokens:
            out.append("(the question has no words to search for)")
        return "\n".join(out) + "\n"
    if result.answered:
        best, rest = result.hits[0], result.hits[1:]
        out.extend(_full_hit(best, style, width))
        if explain:
            out.extend(_explain_lines(best, result, style))
        if rest:
            out.append("")
            out.append(style.bold("Also see"))
            for hit in rest:
                out.extend(_short_hit(hit, style, explain, result))
    else:
        out.append(f"No confident answer in the FAQ for: {_one_line(result.query)}")
        out.append("")
        heading = "Closest questions" if result.band == "suggest" else "Nearest, but not close"
        out.append(style.bold(heading))
        for number, hit in enumerate(result.hits):
            out.extend(_short_hit(hit, style, explain, result))
            if number == 0 and result.previews_closest():
                # Then the closest question is likely the one meant: the start of its
                # answer saves asking again with its exact title.
                out.extend(["", *preview_lines(hit.entry["blocks"], width - 4)])
        page = result.hits[0].entry["url"].split("#")[0]
        out.append("")
        out.append(f"The whole FAQ: {style.link(page)}")
    return "\n".join(out) + "\n"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _full_hit(hit: Hit, style: _Style, width: int) -> list[str]:
    entry = hit.entry
    out = [style.bold(entry["title"])]
    if entry["breadcrumb"]:
        out.append(style.dim(" › ".join(entry["breadcrumb"])))
    out.append("")
    out.extend(answer_lines(entry["blocks"], width - 2))
    out.append("")
    out.append(f"  → {style.link(entry['url'])}")
    links = [link for link in entry["links"] if link["url"] != entry["url"]]
    if links:
        out.append("")
        out.append(style.bold("Links"))
        for link in links:
            if link["text"] == link["url"]:
                out.append(f"  • {style.link(link['url'])}")
            else:
                out.append(f"  • {_one_line(link['text'], 80)}: {style.link(link['url'])}")
    return out


def _short_hit(hit: Hit, style: _Style, explain: bool, result: SearchResult) -> list[str]:
    entry = hit.entry
    out = [f"  • {entry['title']}", f"    {style.link(entry['url'])}"]
    if explain:
        out.extend("  " + line for line in _explain_lines(hit, result, style))
    return out


def _explain_lines(hit: Hit, result: SearchResult, style: _Style) -> list[str]:
    terms = ", ".join(f"{m.term} ({m.field}) {m.contribution:.2f}" for m in hit.matches[:12])
    meaning = f"; similarity {hit.similarity:.2f}" if hit.similarity is not None else ""
    return [
        "",
        style.dim(
            f"  why: score {hit.score:.3f}; holds {hit.coverage:.0%} of the question's weight; "
            f"the question has {hit.title_coverage:.0%} of its title{meaning}; "
            f"holds {hit.share:.0%} of the ranking's choice; "
            f"band: {result.band} (confidence {result.confidence:.2f})"
        ),
        style.dim(f"  terms: {terms or 'none'}"),
        style.dim(f"  question tokens: {' '.join(result.tokens) or '(none)'}"),
    ]


def result_json(result: SearchResult, *, explain: bool = False) -> dict[str, Any]:
    """The ``--json`` object of DESIGN.md (``kb.models.SearchOutput`` is its schema)."""
    results = []
    for hit in result.hits:
        entry = hit.entry
        item: dict[str, Any] = {
            "id": entry["id"],
            "title": entry["title"],
            "breadcrumb": entry["breadcrumb"],
            "url": entry["url"],
            "score": round(hit.score, 6),
            "answer": entry["answer"],
            "links": entry["links"],
            "source": entry["source"],
        }
        if explain:
            item["explain"] = {
                "coverage": round(hit.coverage, 4),
                "title_coverage": round(hit.title_coverage, 4),
                "share": round(hit.share, 4),
                "terms": [
                    {"term": m.term, "field": m.field, "contribution": round(m.contribution, 6)}
                    for m in hit.matches
                ],
            }
            if hit.similarity is not None:
                item["explain"]["similarity"] = round(hit.similarity, 4)
        results.append(item)
    out: dict[str, Any] = {"query": result.query, "answered": result.answered, "results": results}
    if explain:
        out["band"] = result.band
        out["confidence"] = round(result.confidence, 4)
        out["tokens"] = result.tokens
    return out


def write(stream: TextIO, text: str) -> None:
    """Write text, surviving a closed pipe (``faq-search … | head``)."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
