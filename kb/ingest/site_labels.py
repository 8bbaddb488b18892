"""Labels across the sources: a ``:ref:`` to another FAQ page shows that section's title.

Each source is parsed on its own (in a worker process when the build is large), so the
labels its ``:ref:`` roles name in *other* sources are found first, by a cheap scan of the
text for ``.. _label:`` right above a section title, and handed to it with the source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kb.ingest.sources import Source

XRef = tuple[str, str, str]  # (label, section title, deep link)

_LABEL_RE = re.compile(r"^\.\. _(`[^`]+`|[^:`\s][^:`]*):\s*$")
_LABEL_LINE_RE = re.compile(r"^\.\. _(?:`[^`\n]+`|[^:`\s][^:`\n]*):[ \t]*$", re.MULTILINE)
_ADORNMENT_RE = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")
_REF_RE = re.compile(r":ref:`(?:[^`<]*<)?([^`<>]+)>?`")


def scan_labels(text: str, page: str) -> list[XRef]:
    """The section labels of one rst text, with their titles and deep links on ``page``."""
    from docutils.nodes import make_id, whitespace_normalize_name

    found: list[XRef] = []
    taken = 0  # labels stacked above one title are read with the first
    for match in _LABEL_LINE_RE.finditer(text):
        if match.start() < taken:
            continue
        # Only the few lines after a label are looked at: a big source costs one regex pass.
        lines = text[match.start() : match.start() + 4000].splitlines()[:40]
        pending: list[str] = []
        for at, line in enumerate(lines):
            label = _LABEL_RE.match(line)
            if label:
                pending.append(whitespace_normalize_name(label.group(1).strip("`")).lower())
                taken = match.start() + sum(len(x) + 1 for x in lines[: at + 1])
                continue
            if not line.strip():
                continue
            title = _title_at(lines, at)
            if title:
                found += [(name, _plain(title), f"{page}#{make_id(name)}") for name in pending]
            break
    return found


def _title_at(lines: list[str], at: int) -> str | None:
    """The section title starting at line ``at`` (over- and underlined, or underlined)."""
    line, below = lines[at], lines[at + 1] if at + 1 < len(lines) else ""
    if _ADORNMENT_RE.match(line) and at + 2 < len(lines) and _ADORNMENT_RE.match(lines[at + 2]):
        return below.strip()
    if _ADORNMENT_RE.match(below) and not _ADORNMENT_RE.match(line):
        return line.strip()
    return None


def _plain(title: str) -> str:
    title = re.sub(r":[\w.+:-]+:(?=`)", "", title)
    return " ".join(re.sub(r"[`*\\]", "", title).split())


# What the scan of one file found: the labels its ``:ref:`` roles name (sorted), and its
# own section labels (as ``scan_labels`` gives them).
Scan = tuple[list[str], list[XRef]]


def scan_file(source: Source) -> Scan | None:
    """What one source's text holds (None: it cannot be read; its parse reports that)."""
    try:
        text = source.path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    refs = {label.strip().lower() for label in _REF_RE.findall(text)} if ":ref:`" in text else set()
    return sorted(refs), scan_labels(text, source.url.split("#")[0])


def with_site_labels(
    sources: list[Source], known: Callable[[Source], Scan | None] | None = None
) -> tuple[list[Source], dict[str, Scan]]:
    """The sources, each with the labels of the others that its ``:ref:`` roles name, and
    each source's scan that found any (by path).

    ``known(source)`` gives a source's scan from an earlier build when its file has not
    changed since (None: scan it). Each text is read, scanned and let go in turn: a build
    over many sources never holds them all in memory.
    """
    everywhere: dict[str, tuple[str, XRef]] = {}
    wanted: dict[str, set[str]] = {}
    scans: dict[str, Scan] = {}
    for source in sources:
        scan = known(source) if known is not None else None
        if scan is None:
            scan = scan_file(source)
            if scan is None:
                continue
        refs, labels = scan
        if refs or labels:
            scans[str(source.path)] = scan
        if refs:
            wanted[source.name] = set(refs)
        for xref in labels:
            everywhere.setdefault(xref[0], (source.name, xref))
    if not wanted:
        return sources, scans
    out = []
    for source in sources:
        xrefs = tuple(
            sorted(
                everywhere[label][1]
                for label in wanted.get(source.name, ())
                if label in everywhere and everywhere[label][0] != source.name
            )
        )
        out.append(replace(source, xrefs=xrefs) if xrefs else source)
    return out, scans
