"""A source made ready to index: its entries' stored bytes, its fields as term numbers.

This is the part of a build that each source can do on its own, in a worker process when
the build is large: parse the rst, serialise the entries and tokenize their fields. Only
compact results cross back to the process that writes the index: bytes and int arrays,
never entry models.
"""

from __future__ import annotations

import array
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.analysis.tokens import tokenize
from kb.analysis.typography import plain_typography
from kb.errors import SourceError
from kb.index.params import FIELD_WEIGHTS
from kb.index.reader import _INT
from kb.index.records import BLOCK_BYTES, line, pack
from kb.ingest.sources import Source

TYPE_CHECKING = False  # the models (pydantic) only where a source is parsed
if TYPE_CHECKING:
    from kb.models import Entry

FIELDS = tuple(FIELD_WEIGHTS)


@dataclass
class Prepared:
    """One source's entries, ready to index (or its problems, if it could not be read)."""

    name: str
    count: int = 0  # entries
    lines: bytearray = field(default_factory=bytearray)  # entry blocks as stored, in a row
    block_sizes: list[int] = field(default_factory=list)  # stored bytes of each block
    block_counts: list[int] = field(default_factory=list)  # entries in each block
    ids: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)  # "" for a top-level entry
    # The source's own term numbering: ``vocab[n]`` is term n; per field, the term numbers
    # of every entry's tokens one entry after another, and how many tokens each entry has.
    vocab: list[str] = field(default_factory=list)
    terms: list[array.array[int]] = field(
        default_factory=lambda: [array.array(_INT) for _ in FIELDS]
    )
    lengths: list[array.array[int]] = field(
        default_factory=lambda: [array.array(_INT) for _ in FIELDS]
    )
    warnings: list[str] = field(default_factory=list)
    problems: list[SourceError] = field(default_factory=list)
    tokenize_seconds: float = 0.0  # CPU time spent tokenizing ...
    numbering_seconds: float = 0.0  # ... and numbering the tokens

    def __len__(self) -> int:
        return self.count

    def add_block(self, lines: list[bytes]) -> None:
        """Store some entries' lines as one more block."""
        block = pack(lines)
        self.lines += block
        self.block_sizes.append(len(block))
        self.block_counts.append(len(lines))

    def local_parents(self) -> list[int]:
        """Each entry's parent's place among these entries (-1: none, or not among them)."""
        places = {id_: n for n, id_ in enumerate(self.ids)}
        return [places.get(p, -1) if p else -1 for p in self.parents]


def field_texts(entry: Entry) -> dict[str, str]:
    """The text of each BM25 field of an entry."""
    return _texts(entry.source_title, entry.title, entry.aliases, entry.breadcrumb, entry.answer)


def record_texts(record: Mapping[str, Any]) -> dict[str, str]:
    """``field_texts`` of an entry as stored in the index (a dict shaped like ``Entry``)."""
    return _texts(
        record["source_title"],
        record["title"],
        record["aliases"],
        record["breadcrumb"],
        record["answer"],
    )


def _texts(
    source_title: str, title: str, aliases: Sequence[str], breadcrumb: Sequence[str], answer: str
) -> dict[str, str]:
    # The title as written keeps its inline literals (``in``, ``//``), which the tokenizer
    # keeps even when they are stopwords; a Sphinx "... term?" title is shown whole instead.
    written = source_title if _same_text(source_title, title) else title
    return {
        "title": written,
        # A field of their own: folded into the title they would make every aliased title
        # long, and BM25's length normalisation would then discount the title's own words.
        "aliases": "\n".join(aliases),
        "context": "\n".join(breadcrumb),
        "answer": answer,
    }


def _same_text(raw: str, plain: str) -> bool:
    # ``plain`` has Sphinx's typography (smart quotes, dashes); the rst as written has not.
    raw, plain = plain_typography(raw), plain_typography(plain)
    return re.sub(r"[`*\\]", "", raw).split() == plain.split()


class _Numbering(dict[str, int]):
    """Term → number, numbering each new term as it is first looked up."""

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self)
        return number


def prepare_entries(name: str, entries: Iterable[Entry]) -> Prepared:
    """Serialise and tokenize parsed entries."""
    return _prepare(name, ((_line(e), e.id, e.parent or "", field_texts(e)) for e in entries))


def _line(entry: Entry) -> bytes:
    """The entry's stored line (``kb.index.records.line``)."""
    return line(entry.model_dump())


def _prepare(name: str, rows: Iterable[tuple[bytes, str, str, dict[str, str]]]) -> Prepared:
    prepared = Prepared(name)
    numbering = _Numbering()
    lookup = numbering.__getitem__
    # Entries of one category follow each other and share their breadcrumb: a field's
    # text equal to the previous entry's is not tokenized again.
    last: list[tuple[str, array.array[int]]] = [("", array.array(_INT)) for _ in FIELDS]
    clock = time.perf_counter
    block: list[bytes] = []  # lines of the block being filled
    filled = 0
    for stored, id_, parent, texts in rows:
        block.append(stored)
        filled += len(stored) + 1
        if filled >= BLOCK_BYTES:
            prepared.add_block(block)
            block, filled = [], 0
        prepared.count += 1
        prepared.ids.append(id_)
        prepared.parents.append(parent)
        for number, name_ in enumerate(FIELDS):
            text = texts[name_]
            if text != last[number][0]:
                started = clock()
                tokens = tokenize(text)
                tokenized = clock()
                last[number] = (text, array.array(_INT, map(lookup, tokens)))
                prepared.numbering_seconds += clock() - tokenized
                prepared.tokenize_seconds += tokenized - started
            numbers = last[number][1]
            prepared.lengths[number].append(len(numbers))
            prepared.terms[number].extend(numbers)
    if block:
        prepared.add_block(block)
    prepared.vocab = list(numbering)
    return prepared


def load_source(source: Source) -> tuple[list[Entry], list[str], list[SourceError]]:
    """One source's entries (aliases applied), warnings and problems."""
    from kb.ingest.aliases import apply_aliases
    from kb.ingest.parse import parse_source

    try:
        parsed = parse_source(source)
    except SourceError as exc:
        return [], [], [exc]
    warnings = [str(p) for p in parsed.problems if not p.is_error]
    problems = [SourceError(p.path, p.line, p.message) for p in parsed.problems if p.is_error]
    if not parsed.entries and not problems:
        warnings.append(f"{source.path}: no FAQ entries found (no section with an answer)")
    try:
        entries, alias_warnings = apply_aliases(source, parsed.entries)
    except SourceError as exc:
        return [], warnings, [*problems, exc]
    return entries, warnings + alias_warnings, problems


def prepare_source(source: Source) -> Prepared:
    """Parse one source and prepare its entries (nothing of them if it has problems)."""
    entries, warnings, problems = load_source(source)
    prepared = prepare_entries(source.name, [] if problems else entries)
    prepared.warnings, prepared.problems = warnings, problems
    return prepared
