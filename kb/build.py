"""Build the index: sources → entries (docutils) → BM25Plus contributions (numpy) → one file."""

from __future__ import annotations

import array
import contextlib
import io
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, overload

from kb.errors import BuildError, FaqError, SourceError
from kb.index import (
    _INT,
    FORMAT,
    INDEX_FILE,
    SCHEMA_VERSION,
    file_fingerprint,
    rst_names,
    write_streaming,
)
from kb.models import Entry
from kb.params import DELTA, FIELD_WEIGHTS, K1, UNKNOWN_SHARE, B, params
from kb.sources import Source
from kb.spec import SourceSpec, split_source_arg
from kb.text import tokenize

# The items of an ``array.array(_INT)`` as numpy sees them: native 4-byte ints.
_NP_INT = "=i4"


@dataclass
class BuildReport:
    """What a build did: counts, warnings and time, for ``faq-kb build`` to print."""

    entries: int = 0
    sources: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: str | None = None
    reused: int = 0  # unchanged sources taken from the previous index, not parsed again


# A build with this much rst (and several files) parses them in parallel, one process per
# core: docutils is most of a large build's time. Smaller builds stay in one process, where
# starting workers would cost more than it saves.
PARALLEL_MIN_BYTES = 2_000_000
PARALLEL_MIN_FILES = 4


def load_entries(
    sources: list[Source], reuse: dict[str, list[Entry]] | None = None
) -> tuple[list[Entry], list[str]]:
    """Parse every source; return all entries and the warnings.

    ``reuse`` maps the names of sources known to be unchanged to their entries from the
    previous build: those are not parsed again.

    Raises:
        BuildError: any source is unreadable or has rst errors; lists every problem of
            every source, so one broken file never hides another.
    """
    reuse = reuse or {}
    todo = [s for s in sources if s.name not in reuse]
    parsed = dict(zip((s.name for s in todo), _parse_all(todo), strict=True))
    entries: list[Entry] = []
    warnings: list[str] = []
    problems: list[SourceError] = []
    for source in sources:
        if source.name in reuse:
            entries.extend(reuse[source.name])
            continue
        source_entries, source_warnings, source_problems = parsed[source.name]
        entries.extend(source_entries)
        warnings.extend(source_warnings)
        problems.extend(source_problems)
    if problems:
        raise BuildError(problems)
    return entries, warnings


_Loaded = tuple[list[Entry], list[str], list[SourceError]]


def _parse_all(sources: list[Source]) -> list[_Loaded]:
    """``_load_source`` of each source, in order; in parallel when the build is large."""
    workers = os.cpu_count() or 1
    size = 0
    for source in sources:
        with contextlib.suppress(OSError):  # a missing file is reported by _load_source
            size += source.path.stat().st_size
    if workers < 2 or len(sources) < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        return [_load_source(source) for source in sources]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn", not fork: the bot rebuilds from a thread of a multi-threaded process.
    context = multiprocessing.get_context("spawn")
    chunk = max(1, len(sources) // (workers * 4))
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_load_source, sources, chunksize=chunk))


def _load_source(source: Source) -> _Loaded:
    """One source's entries (aliases applied), warnings and problems."""
    from kb.aliases import apply_aliases
    from kb.ingest import parse_source

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


def field_texts(entry: Entry) -> dict[str, str]:
    """The text of each BM25 field of an entry."""
    # The title as written keeps its inline literals (``in``, ``//``), which the tokenizer
    # keeps even when they are stopwords; a Sphinx "... term?" title is shown whole instead.
    written = entry.source_title if _same_text(entry.source_title, entry.title) else entry.title
    return {
        "title": written,
        # A field of their own: folded into the title they would make every aliased title
        # long, and BM25's length normalisation would then discount the title's own words.
        "aliases": "\n".join(entry.aliases),
        "context": "\n".join(entry.breadcrumb),
        "answer": entry.answer,
    }


def _same_text(raw: str, plain: str) -> bool:
    return re.sub(r"[`*\\]", "", raw).split() == plain.split()


def fingerprint(spec: SourceSpec, sources: list[Source]) -> dict[str, Any]:
    """What the index was built from, to tell later whether it is still fresh."""
    files = [file_fingerprint(s.path) for s in sources]
    files += [file_fingerprint(s.aliases) for s in sources if s.aliases]
    absent = [str(s.path.with_suffix(".aliases.toml")) for s in sources if not s.aliases]
    folders = []
    if spec.paths:
        for arg in spec.paths:
            folder = Path(split_source_arg(arg)[0]).expanduser().resolve()
            if folder.is_dir():
                folders.append({"path": str(folder), "names": rst_names(str(folder))})
    else:
        files.append(file_fingerprint(spec.manifest_path))
    digests = {f["path"]: f["sha256"] for f in files}
    # What an unchanged source is recognised by when rebuilding (see ``_reusable``).
    records = [
        {
            "name": s.name,
            "url": s.url,
            "path": str(s.path),
            "sha256": digests[str(s.path)],
            "aliases": digests.get(str(s.aliases)) if s.aliases else None,
        }
        for s in sources
    ]
    return {
        "spec": spec.key,
        "files": files,
        "absent": absent,
        "folders": folders,
        "sources": records,
        "docutils": docutils_version(),
    }


def docutils_version() -> str:
    """The parser's version: entries parsed by another docutils are parsed again."""
    import docutils

    return str(docutils.__version__)


def _reusable(index_dir: str, fingerprint_: dict[str, Any]) -> dict[str, list[Entry]]:
    """Entries of the index in ``index_dir`` whose sources have not changed since.

    Only from an index of this schema and these ranking constants, parsed by the same
    docutils; a source counts as unchanged when its name, URL, path, content and aliases
    are all the same.
    """
    from kb.index import IndexReader

    try:
        old = IndexReader.open(os.path.join(index_dir, INDEX_FILE))
    except FaqError:
        return {}
    previous = old.fingerprint
    if old.header.get("params") != params() or previous.get("docutils") != docutils_version():
        return {}
    unchanged = {
        record["name"]
        for record in previous.get("sources", [])
        if record in fingerprint_["sources"]
    }
    reused: dict[str, list[Entry]] = {name: [] for name in unchanged}
    if unchanged:
        for record in old.entries():
            if record["collection"] in reused:
                reused[record["collection"]].append(Entry.model_validate(record))
    return reused


class _TermIds(dict[str, int]):
    """Term → number, numbering each new term as it is first looked up."""

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self)
        return number


@overload
def encode_index(entries: list[Entry], fingerprint_: dict[str, Any]) -> bytes: ...


@overload
def encode_index(entries: list[Entry], fingerprint_: dict[str, Any], out: BinaryIO) -> None: ...


def encode_index(
    entries: list[Entry], fingerprint_: dict[str, Any], out: BinaryIO | None = None
) -> bytes | None:
    """Serialise entries and their BM25 contributions into the index file's bytes.

    With ``out`` the bytes are written to it section by section (nothing returned), so the
    file is never held in memory whole; without, they are returned.
    """
    if out is None:
        buffer = io.BytesIO()
        _encode(entries, fingerprint_, buffer)
        return buffer.getvalue()
    _encode(entries, fingerprint_, out)
    return None


def _encode(entries: list[Entry], fingerprint_: dict[str, Any], out: BinaryIO) -> None:
    """The index of ``entries`` into ``out``: header line, vocab, postings, entries.

    BM25Plus as rank-bm25 computes it (tests/test_build_speed.py keeps rank-bm25 as the
    reference), counted with numpy instead of per-document dicts and a per-posting loop.
    """
    import numpy as np  # build time only: the query path never imports numpy

    n_docs = len(entries)
    names = list(FIELD_WEIGHTS)
    # Tokens become term numbers as they come, one array per field; token lists are freed
    # entry by entry.
    term_ids = _TermIds()
    lookup = term_ids.__getitem__
    field_terms = [array.array(_INT) for _ in names]
    field_lens = [array.array(_INT) for _ in names]
    # Entries of one category follow each other and share their breadcrumb: a field's
    # text equal to the previous entry's is not tokenized again.
    last: list[tuple[str, array.array[int]]] = [("", array.array(_INT)) for _ in names]
    for entry in entries:
        texts = field_texts(entry)
        for field_no, (name, ids, lens) in enumerate(
            zip(names, field_terms, field_lens, strict=True)
        ):
            text = texts[name]
            if text != last[field_no][0]:
                last[field_no] = (text, array.array(_INT, map(lookup, tokenize(text))))
            numbers = last[field_no][1]
            lens.append(len(numbers))
            ids.extend(numbers)
    del last
    terms_by_id = list(term_ids)
    del term_ids, lookup
    # Each term's rank in sorted order: postings are laid out term by term, sorted.
    rank = np.empty(len(terms_by_id), dtype=np.int64)
    rank[sorted(range(len(terms_by_id)), key=terms_by_id.__getitem__)] = np.arange(len(rank))
    by_rank = sorted(terms_by_id)
    del terms_by_id

    terms: dict[str, list[float]] = {}
    fields = []
    postings_size = 0
    # Per field: its postings' docs (int32) and contributions (float64), term by term, and
    # each term's rank and number of postings. Big arrays are updated in place.
    blocks: list[tuple[Any, Any, list[int], list[int]]] = []
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        fields.append({"name": name, "weight": weight, "delta": DELTA})
        term_nums = np.frombuffer(field_terms[field_no], dtype=_NP_INT)
        doc_lens = np.frombuffer(field_lens[field_no], dtype=_NP_INT)
        field_terms[field_no] = field_lens[field_no] = array.array(_INT)
        total = int(doc_lens.sum(dtype=np.int64))
        if n_docs == 0 or total == 0:
            continue  # rank-bm25 cannot score a field with no token at all (avgdl 0)
        # One (term rank, doc) key per token; their distinct values are the postings, in
        # file order (term by term, sorted; docs ascending), and their counts the tfs.
        keys = rank[term_nums]
        del term_nums
        keys *= n_docs
        keys += np.repeat(np.arange(n_docs, dtype=np.int64), doc_lens)
        keys, tfs = _unique_counts(keys)
        term_of = keys // n_docs
        starts = _firsts(term_of)
        ranks = term_of[starts].tolist()
        counts = np.diff(np.append(starts, len(keys))).tolist()
        del starts
        term_of *= n_docs
        keys -= term_of  # now the docs
        del term_of
        docs = keys.astype("<i4")
        del keys
        # rank-bm25's idf and its own expression, term by term, minus the idf*delta every
        # document gets for the term (added back once per query term at search):
        #   idf * (DELTA + (tf * (K1 + 1)) / (norm + tf)) - idf * DELTA
        # in place, in the same order (IEEE + and * are commutative, so exactly the same).
        idfs = [math.log((n_docs + 1) / df) for df in counts]
        avgdl = total / n_docs
        norms = K1 * (1 - B + B * doc_lens.astype(np.float64) / avgdl)
        del doc_lens
        extras = tfs.astype(np.float64)
        del tfs
        denominators = norms[docs]
        del norms
        denominators += extras
        extras *= K1 + 1
        extras /= denominators
        del denominators
        extras += DELTA
        idf = np.repeat(np.array(idfs, dtype=np.float64), counts)
        extras *= idf
        idf *= DELTA
        extras -= idf
        del idf
        at = postings_size
        for term_rank, count, term_idf in zip(ranks, counts, idfs, strict=True):
            terms.setdefault(by_rank[term_rank], [0.0]).extend([field_no, term_idf, at, count])
            at += 12 * count
        postings_size = at
        blocks.append((docs, extras.astype("<f8", copy=False), ranks, counts))
        del docs, extras
    # A term's overall document frequency counts the entries having it in any field.
    if blocks:
        pairs = np.empty(sum(len(block[0]) for block in blocks), dtype=np.int64)
        at = 0
        for docs, _, ranks, counts in blocks:
            pair = pairs[at : at + len(docs)]
            pair[:] = np.repeat(np.array(ranks, dtype=np.int64), counts)
            pair *= n_docs
            pair += docs
            at += len(docs)
        pairs.sort(kind="stable")
        every = pairs[_firsts(pairs)]
        del pairs
        every //= n_docs
        document_freq = np.bincount(every, minlength=len(by_rank)).tolist()
        del every
        for term_rank, term in enumerate(by_rank):
            terms[term][0] = math.log((n_docs + 1) / document_freq[term_rank])
    vocab = json.dumps(
        {"fields": fields, "terms": terms, "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1)},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    del terms
    # Entry lines are serialised twice (sizes now, bytes when written) rather than all
    # held in memory: they are most of the file.
    offsets = [0]
    for entry in entries:
        offsets.append(offsets[-1] + len(entry.model_dump_json().encode()) + 1)
    ids_ = {e.id: n for n, e in enumerate(entries)}
    parents = [ids_.get(e.parent, -1) if e.parent else -1 for e in entries]
    del ids_
    header: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fingerprint": fingerprint_,
        "entry_count": n_docs,
        "parents": parents,
        "entry_offsets": offsets,
    }
    # Section offsets depend on the header's own length: lay out, then fix the point.
    sizes = {"vocab": len(vocab), "postings": postings_size, "entries": offsets[-1]}
    header["sections"] = {"vocab": [0, 0], "postings": [0, 0], "entries": [0, 0]}
    while True:
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        at = len(head)
        sections = {}
        for section, size in sizes.items():
            sections[section] = [at, size]
            at += size
        if sections == header["sections"]:
            break
        header["sections"] = sections
    del header, offsets, parents
    out.write(head)
    out.write(vocab)
    del vocab
    while blocks:
        docs, extras, _, counts = blocks.pop(0)
        docs_view, extras_view = memoryview(docs.view(np.uint8)), memoryview(extras.view(np.uint8))
        start = 0
        for count in counts:
            end = start + count
            out.write(docs_view[4 * start : 4 * end])
            out.write(extras_view[8 * start : 8 * end])
            start = end
        del docs_view, extras_view, docs, extras
    written = 0
    for entry in entries:
        line = entry.model_dump_json().encode() + b"\n"
        out.write(line)
        written += len(line)
    if written != sizes["entries"]:
        raise RuntimeError("entries serialised differently twice")  # never: pydantic is pure


def _firsts(values: Any) -> Any:
    """Where each run of equal values starts in a non-empty sorted array."""
    import numpy as np

    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return np.flatnonzero(first)


def _unique_counts(keys: Any) -> tuple[Any, Any]:
    """The distinct values of a non-empty int64 array, sorted, and how often each occurs.

    ``np.unique(keys, return_counts=True)``, several times faster here: a stable sort in
    place (timsort: the keys come in long sorted runs) instead of numpy's hashing.
    """
    import numpy as np

    keys.sort(kind="stable")
    at = _firsts(keys)
    return keys[at], np.diff(np.append(at, len(keys)))


def build_bytes(spec: SourceSpec, previous_dir: str | None = None) -> tuple[bytes, BuildReport]:
    """Build the index of ``spec`` in memory: the file's bytes and what the build did.

    Sources unchanged since the index in ``previous_dir`` was built are not parsed again.

    Raises:
        ManifestError: the sources cannot be resolved.
        BuildError: a source is broken (every problem listed).
    """
    from kb.sources import resolve_sources

    started = time.perf_counter()
    sources = resolve_sources(spec)
    fingerprint_ = fingerprint(spec, sources)
    reuse = _reusable(previous_dir, fingerprint_) if previous_dir else {}
    entries, warnings = load_entries(sources, reuse)
    data = encode_index(entries, fingerprint_)
    report = BuildReport(len(entries), len(sources), warnings, time.perf_counter() - started)
    report.reused = len(reuse)
    return data, report


def build(spec: SourceSpec, index_dir: str) -> BuildReport:
    """(Re)build the index of ``spec`` into ``index_dir``; the old index stays until done.

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    from kb.sources import resolve_sources

    started = time.perf_counter()
    sources = resolve_sources(spec)
    fingerprint_ = fingerprint(spec, sources)
    reuse = _reusable(index_dir, fingerprint_)
    entries, warnings = load_entries(sources, reuse)
    path = os.path.join(index_dir, INDEX_FILE)
    # Streamed into the file, never held whole in memory (``build_bytes`` holds it).
    write_streaming(path, lambda handle: encode_index(entries, fingerprint_, handle))
    report = BuildReport(len(entries), len(sources), warnings, time.perf_counter() - started, path)
    report.reused = len(reuse)
    return report
