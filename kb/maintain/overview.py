"""What a knowledge base holds, in a few lines: its FAQs, their sizes, when it was built."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from kb.index.reader import IndexReader
from kb.search.query import Hit

# Alternatives from another FAQ than the best answer's are shown only when they score
# at least this share of the best answer's score: otherwise they are noise from a
# neighbouring FAQ that happens to share a word.
OTHER_SOURCE_SCORE_SHARE = 0.8


@dataclass(frozen=True)
class SourceInfo:
    """One FAQ of the knowledge base."""

    name: str
    url: str
    entries: int


@dataclass(frozen=True)
class Overview:
    """The FAQs, the entry count, the index's build time, a few example questions."""

    sources: list[SourceInfo]
    entries: int
    built_at: float | None
    examples: list[str] = field(default_factory=list)


def overview(reader: IndexReader, *, examples: int = 4) -> Overview:
    """Describe the index ``reader`` holds (cheap: the header and a few entries)."""
    records = reader.fingerprint.get("sources", [])
    counts = reader.header.get("source_counts") or []
    sources = [
        SourceInfo(str(r.get("name", "")), str(r.get("url", "")).split("#")[0], int(c))
        for r, c in zip(records, counts, strict=False)
    ]
    try:
        built_at: float | None = os.stat(reader.path).st_mtime
    except OSError:
        built_at = None
    return Overview(sources, len(reader), built_at, _examples(reader, sources, examples))


def _examples(reader: IndexReader, sources: list[SourceInfo], n: int) -> list[str]:
    """Titles of top-level questions, taken from each FAQ in turn."""
    starts, at = [], 0
    for source in sources:
        starts.append((at, at + source.entries))
        at += source.entries
    if not starts:
        starts = [(0, len(reader))]
    picked: list[str] = []
    offsets = [first for first, _ in starts]
    while len(picked) < n and any(o < stop for o, (_, stop) in zip(offsets, starts, strict=True)):
        for i, (_, stop) in enumerate(starts):
            while offsets[i] < stop:
                entry = reader.entry(offsets[i])
                offsets[i] += 1
                if not entry.get("parent") and entry["title"].rstrip().endswith("?"):
                    picked.append(entry["title"])
                    break
            if len(picked) >= n:
                break
    return picked


def focused_alternatives(hits: list[Hit], k: int) -> list[Hit]:
    """The best hit, then up to ``k - 1`` alternatives from its FAQ.

    An alternative from another FAQ stays only if it scores close to the best answer
    (``OTHER_SOURCE_SCORE_SHARE``).
    """
    if not hits:
        return []
    best = hits[0]
    home = _collection(best.entry)
    kept = [best]
    for hit in hits[1:]:
        if len(kept) >= k:
            break
        if _collection(hit.entry) == home or hit.score >= OTHER_SOURCE_SCORE_SHARE * best.score:
            kept.append(hit)
    return kept


def _collection(entry: dict[str, Any]) -> str:
    return str(entry.get("collection") or entry["id"].split("/", 1)[0])
