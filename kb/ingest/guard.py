"""Checks on a source's text before docutils parses it: what would make the parse explode.

docutils recurses once per nesting level (a few hundred levels exhaust Python's stack;
thousands exhaust memory), expands substitution definitions without bound (a chain of
``|s0| replace:: |s1| |s1|`` doubles at every step), and rescans a run of blank lines
once per line after a list item (quadratic). Each is caught here, in linear time, before
the parse: a clear ``FILE:LINE`` error, or (blank lines) a harmless rewrite.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from kb.errors import SourceError

# Real FAQs nest a handful of levels; docutils' own recursion fails past ~120.
MAX_NESTING = 50
# Substitutions: how deep definitions may refer to each other, and how much text they may
# expand to (per definition and over the whole file). Real FAQs: depth 1-2, a few words.
MAX_SUBSTITUTION_DEPTH = 8
MAX_SUBSTITUTION_CHARS = 200_000
# Longer runs of blank lines are shortened to this many before parsing.
MAX_BLANK_RUN = 32

# What opens a nested block on the same line: a bullet or enumerator, a field marker, a
# directive (``.. note:: text``). Each is bounded, so matching is linear. (Not a table's
# or line block's ``|``: what follows it on the line is never parsed as a nested block.)
_OPENER = re.compile(
    r"(?:[-*+•‣⁃]|\(?(?:\d{1,9}|[#a-zA-Z]|[ivxlcdmIVXLCDM]{1,9})[.)]"
    r"|:[^:\s][^:\n]{0,80}:|\.\.[ \t]+[\w.+:-]{1,128}::)(?:[ \t]+|$)"
)
_SUBST_DEF = re.compile(r"\.\.[ \t]+\|([^|\n]{1,256})\|[ \t]+[\w.+:-]{1,128}::(.*)")
_SUBST_REF = re.compile(r"\|([^|\s\n][^|\n]{0,255})\|")


@dataclass
class Checked:
    """A source's text ready to parse, and how its lines map back to the file's."""

    text: str
    # Line numbers of the text where blank lines were dropped, and how many before each.
    _starts: list[int] = field(default_factory=list)
    _dropped: list[int] = field(default_factory=list)

    def original_line(self, line: int | None) -> int | None:
        """The file's line number of ``line`` of ``text``."""
        if line is None or not self._starts:
            return line
        at = bisect_right(self._starts, line)
        return line + (self._dropped[at - 1] if at else 0)


def check_text(text: str, shown: str) -> Checked:
    """Check ``text`` (the file ``shown``) and return it ready for docutils.

    Raises:
        SourceError: it nests too deeply, or its substitutions expand too far.
    """
    lines = text.split("\n")
    _check_nesting(lines, shown)
    _check_substitutions(lines, shown)
    return _shorten_blank_runs(lines)


def _check_nesting(lines: list[str], shown: str) -> None:
    stack: list[int] = []  # the columns of the blocks open at the current line
    for number, raw in enumerate(lines, 1):
        line = raw.expandtabs(8) if "\t" in raw else raw
        stripped = line.lstrip(" ")
        if not stripped.strip():
            continue
        indent = len(line) - len(stripped)
        while stack and stack[-1] > indent:
            stack.pop()
        if not stack or stack[-1] < indent:
            stack.append(indent)
        pos = indent
        while len(stack) <= MAX_NESTING:
            match = _OPENER.match(line, pos)
            if match is None or match.end() == pos:
                break
            pos = match.end()
            stack.append(pos)
        if len(stack) > MAX_NESTING:
            raise SourceError(
                shown,
                number,
                f"nested too deeply (more than {MAX_NESTING} levels of lists, quotes or"
                " directives); flatten it",
            )


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


def _check_substitutions(lines: list[str], shown: str) -> None:
    definitions: dict[str, tuple[int, list[str]]] = {}  # name → (line, names it refers to)
    body_refs: list[tuple[int, str]] = []
    current: list[str] | None = None
    current_indent = 0
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip(" \t")
        indent = len(line) - len(stripped)
        if current is not None and (not stripped or indent > current_indent):
            current.extend(_key(m) for m in _SUBST_REF.findall(line))
            continue
        current = None
        match = _SUBST_DEF.match(stripped)
        if match:
            refs = [_key(m) for m in _SUBST_REF.findall(match.group(2))]
            definitions.setdefault(_key(match.group(1)), (number, refs))
            current, current_indent = refs, indent
        elif "|" in line:
            body_refs.extend((number, _key(m)) for m in _SUBST_REF.findall(line))
    if not definitions:
        return
    sizes: dict[str, int] = {}

    def size(name: str, depth: int, line: int) -> int:
        if name in sizes:
            return sizes[name]
        if name not in definitions:
            return len(name)
        if depth > MAX_SUBSTITUTION_DEPTH:
            raise SourceError(
                shown,
                line,
                f"substitution definitions nest more than {MAX_SUBSTITUTION_DEPTH} deep",
            )
        sizes[name] = 0  # a cycle: docutils reports it itself
        own_line, refs = definitions[name]
        total = 1
        for ref in refs:
            total += size(ref, depth + 1, own_line)
            if total > MAX_SUBSTITUTION_CHARS:
                raise SourceError(
                    shown,
                    own_line,
                    f"substitution |{name}| expands to more than {MAX_SUBSTITUTION_CHARS:,}"
                    " characters",
                )
        sizes[name] = total
        return total

    for name, (where, _) in definitions.items():
        size(name, 0, where)
    used = 0
    for where, name in body_refs:
        used += sizes.get(name, 0)
        if used > MAX_SUBSTITUTION_CHARS * 5:
            raise SourceError(
                shown,
                where,
                f"substitutions expand to more than {MAX_SUBSTITUTION_CHARS * 5:,} characters",
            )


def _shorten_blank_runs(lines: list[str]) -> Checked:
    kept: list[str] = []
    starts: list[int] = []
    dropped: list[int] = []
    run = total = 0
    for line in lines:
        if line.strip():
            run = 0
        else:
            run += 1
            if run > MAX_BLANK_RUN:
                total += 1
                if not starts or starts[-1] != len(kept) + 1:
                    starts.append(len(kept) + 1)
                    dropped.append(total)
                else:
                    dropped[-1] = total
                continue
        kept.append(line)
    if not starts:
        return Checked("\n".join(lines))
    return Checked("\n".join(kept), starts, dropped)
