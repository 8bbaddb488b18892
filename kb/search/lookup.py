"""Entries by id, for showing again exactly what was shown before (no new search)."""

from __future__ import annotations

from typing import Any

from kb.index.reader import IndexReader
from kb.search.query import Hit, SearchResult

_BY_ID = "entry-numbers-by-id"


def entry_number(reader: IndexReader, entry_id: str) -> int | None:
    """The number of the entry with that id in ``reader``, or None if it has none."""
    numbers: dict[str, int] | None = reader.cache.get(_BY_ID)
    if numbers is None:
        numbers = {entry["id"]: n for n, entry in enumerate(reader.entries())}
        reader.cache[_BY_ID] = numbers  # one pass per index; a rebuild brings a new reader
    return numbers.get(entry_id)


def entry_by_id(reader: IndexReader, entry_id: str) -> dict[str, Any] | None:
    """The stored entry with that id, or None (e.g. removed since)."""
    number = entry_number(reader, entry_id)
    return None if number is None else reader.entry(number)


def result_of(reader: IndexReader, question: str, ids: list[str], band: str) -> SearchResult:
    """A result holding exactly the entries ``ids`` (those still in the index), in order."""
    hits = []
    for entry_id in ids:
        number = entry_number(reader, entry_id)
        if number is not None:
            hits.append(Hit(number, reader.entry(number), 0.0, 0.0, 0.0))
    return SearchResult(question, [], hits, band)
