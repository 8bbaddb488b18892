"""Build the index: sources → prepared entries (docutils, in parallel) → one index file.

The index file itself is written by ``kb.index.encode``; a source is parsed, serialised and
tokenized by ``kb.index.prepare``.
"""

from __future__ import annotations

import functools
import io
import itertools
import mmap
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, overload

from kb.errors import BuildError, FaqError, SourceError
from kb.index.encode import _NP_INT, Corpus, write_index
from kb.index.params import params
from kb.index.prepare import Prepared, field_texts, load_source, prepare_entries, prepare_source
from kb.index.reader import (
    INDEX_FILE,
    IndexReader,
    _same_stat,
    file_fingerprint,
    rst_names,
    sweep_leftovers,
    write_streaming,
)
from kb.ingest.site_labels import Scan
from kb.ingest.sources import Source, Sources
from kb.models import Entry
from kb.spec import SourceSpec, split_source_arg

__all__ = [
    "BuildReport",
    "build",
    "build_bytes",
    "build_pending",
    "encode_index",
    "field_texts",
    "fingerprint",
    "gather",
    "load_entries",
    "write_index",
]

_T = TypeVar("_T")
BuildProgress = Callable[[int, int, int], None]  # (sources done, sources, entries so far)


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


def load_entries(sources: list[Source]) -> tuple[list[Entry], list[str]]:
    """Parse every source; return all entries (as models) and the warnings.

    Raises:
        BuildError: any source is unreadable or has rst errors; lists every problem of
            every source, so one broken file never hides another.
    """
    entries: list[Entry] = []
    warnings: list[str] = []
    problems: list[SourceError] = []
    for source_entries, source_warnings, source_problems in _map_sources(load_source, sources):
        entries.extend(source_entries)
        warnings.extend(source_warnings)
        problems.extend(source_problems)
    if problems:
        raise BuildError(problems)
    return entries, warnings


def _map_sources(work: Callable[[Source], _T], sources: list[Source]) -> Iterator[_T]:
    """``work`` of each source, in order, as they come; in parallel when the build is large."""
    return _map_ordered(work, iter(sources), len(sources), sum(map(_size, sources)))


def _size(source: Source) -> int:
    try:
        return source.path.stat().st_size
    except OSError:  # a missing file is reported by the work on it
        return 0


def _map_ordered(
    work: Callable[[Any], _T], items: Iterator[Any], count: int, size: int
) -> Iterator[_T]:
    """``work`` of each item, in order; in worker processes when there is enough to do.

    Items are taken from ``items`` only a few ahead of the results, so that items read
    lazily (an unchanged source's stored lines) are never all in memory at once.
    """
    workers = os.cpu_count() or 1
    if workers < 2 or count < PARALLEL_MIN_FILES or size < PARALLEL_MIN_BYTES:
        yield from map(work, items)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    # "spawn", not fork: the bot rebuilds from a thread of a multi-threaded process.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pending: deque[Future[_T]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the building process dies, even by SIGKILL.

    Linux: the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``).
    Elsewhere, and as a backstop: a thread that exits once the parent is gone.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)
    import threading

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


@dataclass
class Reuse:
    """The entries of a previous index whose sources have not changed since.

    Read through a file handle opened when the build starts (the old index may be
    replaced meanwhile). An unchanged source is neither parsed nor tokenized again: its
    entries' lines are copied, and its tokens come back from the old postings' term
    frequencies (all BM25Plus needs of an entry: each term's tf and the field's length),
    to be counted afresh with the new index's numbering.
    """

    handle: BinaryIO | None = None
    reader: IndexReader | None = None
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → entry numbers
    warnings: dict[str, list[str]] = field(default_factory=dict)  # name → its warnings
    damaged: bool = False  # the previous index failed its checksums: nothing reused
    _table: list[tuple[Any, Any, Any]] | None = None
    _terms: list[str] | None = None

    def release(self) -> None:
        """Free what was read of the old index (before the new one is written)."""
        self._table = None
        self._terms = None

    def close(self) -> None:
        """Let go of the old index."""
        self.release()
        self.reader = None
        if self.handle is not None:
            self.handle.close()

    def prepared(self, names: list[str]) -> Prepared:
        """A run of unchanged sources, as if prepared anew (the same tokens, counted)."""
        import numpy as np

        reader = self.reader
        assert reader is not None
        ranges = [self.spans[name] for name in names]
        total = sum(stop - first for first, stop in ranges)
        run = Prepared(names[0])
        run.runs = [
            (stop - first, self.warnings.get(name, []))
            for name, (first, stop) in zip(names, ranges, strict=True)
        ]
        streams: list[Any] = []
        lengths: list[Any] = []
        for docs, terms, tfs in self._postings_table():
            picked = []
            at = 0
            # Bounds in the table's own dtype: any other would convert the whole table.
            bounds = np.searchsorted(docs, np.array(ranges, dtype=docs.dtype).ravel())
            for number, (first, stop) in enumerate(ranges):
                low, high = int(bounds[2 * number]), int(bounds[2 * number + 1])
                picked.append((terms[low:high], tfs[low:high], docs[low:high] - (first - at)))
                at += stop - first
            run_terms = np.concatenate([p[0] for p in picked])
            run_tfs = np.concatenate([p[1] for p in picked])
            run_docs = np.concatenate([p[2] for p in picked])
            # The field's tokens, entry after entry (their order within an entry is not
            # counted: BM25 reads only each term's tf and the entry's length).
            streams.append(np.repeat(run_terms, run_tfs))
            lengths.append(np.bincount(run_docs, weights=run_tfs, minlength=total))
        vocabulary = self._vocabulary()
        # The run's own numbering: the old ranks it uses, in order (a mask, not a sort).
        local = np.zeros(len(vocabulary), dtype=_NP_INT)
        for stream in streams:
            local[stream] = 1
        used = np.flatnonzero(local)
        local[used] = np.arange(len(used), dtype=_NP_INT)
        run.vocab = [vocabulary[rank] for rank in used.tolist()]
        for number, length in enumerate(lengths):
            # Renumbered in the stream's own dtype and handed over without a bytes copy,
            # each stream dropped once used: a field's tokens are held twice at most.
            run.terms[number].frombytes(local[streams[number]].data.cast("B"))
            streams[number] = None
            run.lengths[number].frombytes(length.astype(_NP_INT).tobytes())
        parents = np.frombuffer(reader.parents, dtype=np.intc)
        ends = np.frombuffer(reader.whole("block_ends"), dtype=np.int64)
        firsts = np.frombuffer(reader.block_firsts(), dtype=np.uint32).astype(np.int64)
        numbers: list[int] = []
        at = 0
        copies = []
        for first, stop in ranges:
            low, high = reader.blocks_of(first, stop)
            copies.append(reader.block_span(low, high))
            previous = int(ends[low - 1]) if low else 0
            run.block_sizes += np.diff(ends[low:high], prepend=previous).tolist()
            run.block_counts += np.diff(firsts[low : high + 1]).tolist()
            # A parent within the run is renumbered; one outside it (or none) is -1.
            mine = parents[first:stop].astype(np.int64)
            inside = (mine >= first) & (mine < stop)
            numbers += np.where(inside, mine - first + at, -1).tolist()
            at += stop - first
        run.count = total
        run.parent_numbers = numbers
        run.copy_lines = functools.partial(self._copy, copies)
        return run

    def _copy(self, spans: list[tuple[int, int]], out: BinaryIO) -> None:
        """Copy stored entry blocks (file offsets, checked) from the old index to ``out``."""
        assert self.handle is not None
        for start, end in spans:
            self.handle.seek(start)
            left = end - start
            while left > 0:
                piece = self.handle.read(min(left, 1 << 20))
                if not piece:
                    raise OSError(f"{self.handle.name}: shorter than its header says")
                out.write(piece)
                left -= len(piece)

    def _vocabulary(self) -> list[str]:
        """The old index's terms, in rank order (decoded once)."""
        if self._terms is None:
            reader = self.reader
            assert reader is not None
            blob = reader.span("terms", 0, reader.section_size("terms"))
            ends = reader.whole("term_ends").tolist()
            starts = [0, *ends[:-1]]
            self._terms = [blob[a:b].decode() for a, b in zip(starts, ends, strict=True)]
        return self._terms

    def _postings_table(self) -> list[tuple[Any, Any, Any]]:
        """Per field: every posting's entry, term (by rank) and tf, sorted by entry and term."""
        import numpy as np

        if self._table is not None:
            return self._table
        reader = self.reader
        assert reader is not None

        section = reader.numpy_section
        spans = section("spans", "<u4").reshape(-1, 3)
        term_spans = section("term_spans", "<u4").astype(np.int64)
        span_terms = np.repeat(np.arange(len(term_spans) - 1, dtype=np.int32), np.diff(term_spans))
        header = reader.header
        width, bits = int(header["posting_width"]), int(header["doc_bits"])
        raw = section("postings", "u1").reshape(-1, width)
        wide = np.zeros((len(raw), 8), dtype=np.uint8)
        wide[:, :width] = raw
        del raw
        values = wide.view("<u8").ravel()
        all_docs = (values & ((1 << bits) - 1)).astype(np.int32)
        all_tfs = (values >> bits).astype(np.int64)
        del wide, values
        big = section("big_tfs", "<u4").reshape(-1, 2).astype(np.int64)
        all_tfs[big[:, 0]] = big[:, 1]
        table = []
        for field_no in range(len(reader.fields)):
            mine = spans[:, 0] == field_no
            counts, firsts = spans[mine, 1].astype(np.int64), spans[mine, 2].astype(np.int64)
            first_of = np.repeat(firsts, counts)
            first_of += np.arange(len(first_of)) - np.repeat(np.cumsum(counts) - counts, counts)
            docs = all_docs[first_of]
            tfs = all_tfs[first_of]
            terms = np.repeat(span_terms[mine], counts)
            del first_of
            # By entry, then term: the spans run in term order, so a stable sort by entry
            # (a radix sort for these ints) keeps each entry's terms in order.
            order = np.argsort(docs, kind="stable")
            table.append((docs[order], terms[order], tfs[order]))
        self._table = table
        reader.forget_pages()
        return table


def gather(
    sources: list[Source],
    reuse: Reuse,
    spool: BinaryIO,
    progress: BuildProgress | None = None,
) -> tuple[Corpus, list[str]]:
    """Prepare every source (unchanged ones from ``reuse``, not parsed again), in order.

    Returns the corpus to index, its entry lines written to ``spool``, and the warnings.
    ``progress(done, total, entries)`` is called as the build starts and after each source.

    Raises:
        BuildError: any source is unreadable or has rst errors (every problem listed).
    """
    corpus = Corpus(spool)
    warnings: list[str] = []
    problems: list[SourceError] = []
    changed = [s for s in sources if s.name not in reuse.spans]
    if progress:
        progress(0, len(sources), 0)
    results = _map_ordered(prepare_source, iter(changed), len(changed), sum(map(_size, changed)))
    run: list[str] = []  # unchanged sources in a row: taken from the old index at once
    pending = 0  # their entries

    def flush() -> None:
        nonlocal pending
        if run and not problems:
            corpus.add(reuse.prepared(run))
        run.clear()
        pending = 0

    for done, source in enumerate(sources, 1):
        if source.name in reuse.spans:
            run.append(source.name)
            first, stop = reuse.spans[source.name]
            pending += stop - first
            warnings.extend(reuse.warnings.get(source.name, []))
        else:
            flush()
            prepared = next(results)
            warnings.extend(prepared.warnings)
            problems.extend(prepared.problems)
            if not problems:
                corpus.add(prepared)
        if progress:
            progress(done, len(sources), len(corpus) + pending)
    flush()
    reuse.release()
    if problems:
        raise BuildError(problems)
    return corpus, warnings


def fingerprint(
    spec: SourceSpec, sources: list[Source], earlier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the index was built from, to tell later whether it is still fresh.

    A file whose stat is the one in ``earlier`` (the previous index's fingerprint) is not
    read and hashed again.
    """
    before = {item["path"]: item for item in (earlier or {}).get("files", [])}

    def take(path: Path) -> dict[str, Any]:
        item = before.get(str(path))
        if item is not None and _unchanged(item):
            return dict(item)
        return file_fingerprint(path)

    files = [take(s.path) for s in sources]
    files += [take(s.aliases) for s in sources if s.aliases]
    absent = [
        str(s.path.with_suffix(".aliases.toml")) for s in sources if not s.aliases and not s.origin
    ]
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
            "inventory": s.inventory,
            "xrefs": [list(x) for x in s.xrefs],  # titles of other pages it shows
        }
        for s in sources
    ]
    # A remote copy is due for a conditional request when its metadata file is older than
    # its max age: the query path checks that with one stat, importing nothing.
    remote = [
        {"url": s.origin, "meta": str(s.path.with_suffix(".json")), "max_age": s.max_age}
        for s in sources
        if s.origin
    ]
    return {
        "spec": spec.key,
        "files": files,
        "remote": remote,
        "absent": absent,
        "folders": folders,
        "sources": records,
        "docutils": docutils_version(),
        # Each source's labels scan that found any, kept for the next build: a file whose
        # stat has not moved is not read again (see ``_known_scan``).
        "labels": {
            str(s.path): [*sources.scans[str(s.path)], s.url.split("#")[0]]
            for s in sources
            if isinstance(sources, Sources) and str(s.path) in sources.scans
        },
    }


def _unchanged(item: dict[str, Any]) -> bool:
    """Whether a fingerprinted file's stat is still the one fingerprinted."""
    try:
        return _same_stat(os.stat(item["path"]), item)
    except (OSError, KeyError, TypeError):
        return False


def _previous_fingerprint(index_dir: str | None) -> dict[str, Any]:
    """The fingerprint of the index in ``index_dir`` ({} if none can be read)."""
    if index_dir is None:
        return {}
    try:
        return IndexReader.open(os.path.join(index_dir, INDEX_FILE)).fingerprint
    except (FaqError, OSError, ValueError):
        return {}


def _known_scan(
    files: dict[str, dict[str, Any]], found: dict[str, Any] | None, source: Source
) -> Scan | None:
    """A source's labels scan from the previous build (its fingerprinted ``files`` by path
    and the ``found`` scans), if its file has not changed since."""
    path = str(source.path)
    item = files.get(path)
    if found is None or item is None or not _unchanged(item):
        return None
    if path not in found:
        return [], []  # nothing found in it (the scan's deep links need no page)
    refs, labels, page = found[path]
    if page != source.url.split("#")[0]:
        return None
    return [str(r) for r in refs], [(str(a), str(b), str(c)) for a, b, c in labels]


def docutils_version() -> str:
    """The parser's version: entries parsed by another docutils are parsed again."""
    import docutils

    return str(docutils.__version__)


def _reusable(index_dir: str | None, fingerprint_: dict[str, Any]) -> Reuse:
    """The entries of the index in ``index_dir`` whose sources have not changed since.

    Only from an index of this schema and these ranking constants, parsed by the same
    docutils; a source counts as unchanged when its name, URL, path, content and aliases
    are all the same.
    """
    if index_dir is None:
        return Reuse()
    path = os.path.join(index_dir, INDEX_FILE)
    from kb.ingest.files import open_regular

    try:
        handle = os.fdopen(open_regular(path), "rb")  # closed by Reuse.close
    except OSError:
        return Reuse()
    try:
        # The header from the very file the lines will be read from.
        old = IndexReader(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), path)
    except (FaqError, OSError, ValueError):
        handle.close()
        return Reuse()
    try:
        old.check_all()  # stored lines are never reused unchecked
        old.forget_pages()
    except FaqError:
        handle.close()
        return Reuse(damaged=True)
    previous = old.fingerprint
    records, counts = previous.get("sources", []), old.header.get("source_counts", [])
    warnings = old.header.get("source_warnings")
    if (
        old.header.get("params") != params()
        or previous.get("docutils") != docutils_version()
        or len(records) != len(counts)
        or not isinstance(warnings, list)
        or len(warnings) != len(records)
    ):
        handle.close()
        return Reuse()
    reuse = Reuse(handle, old)
    at = 0
    # The header counts each source's entries, in order: their numbers follow.
    for record, count, kept in zip(records, counts, warnings, strict=True):
        if record in fingerprint_["sources"]:
            reuse.spans[record["name"]] = (at, at + count)
            reuse.warnings[record["name"]] = [str(w) for w in kept]
        at += count
    return reuse


@overload
def encode_index(entries: list[Entry], fingerprint_: dict[str, Any]) -> bytes: ...


@overload
def encode_index(entries: list[Entry], fingerprint_: dict[str, Any], out: BinaryIO) -> None: ...


def encode_index(
    entries: list[Entry], fingerprint_: dict[str, Any], out: BinaryIO | None = None
) -> bytes | None:
    """The index file of parsed entries (one source), returned or written to ``out``."""
    corpus = Corpus(io.BytesIO())
    for name, group in itertools.groupby(entries, key=lambda e: e.collection):
        corpus.add(prepare_entries(name, group))
    if out is not None:
        write_index(corpus, fingerprint_, out)
        return None
    buffer = io.BytesIO()
    write_index(corpus, fingerprint_, buffer)
    return buffer.getvalue()


def build_bytes(
    spec: SourceSpec, previous_dir: str | None = None, *, progress: BuildProgress | None = None
) -> tuple[bytes, BuildReport]:
    """Build the index of ``spec`` in memory: the file's bytes and what the build did.

    Sources unchanged since the index in ``previous_dir`` was built are not parsed again.

    Raises:
        ManifestError: the sources cannot be resolved.
        BuildError: a source is broken (every problem listed).
    """
    buffer = io.BytesIO()
    report = _build(spec, previous_dir, lambda write: write(buffer), io.BytesIO, progress)
    return buffer.getvalue(), report


def build(
    spec: SourceSpec, index_dir: str, *, progress: BuildProgress | None = None
) -> BuildReport:
    """(Re)build the index of ``spec`` into ``index_dir``; the old index stays until done.

    The file is streamed, never held whole in memory; the entries' stored bytes wait in an
    unnamed temporary file in ``index_dir`` until the postings are written.

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    return _build_file(spec, index_dir, INDEX_FILE, progress)


_PENDING = itertools.count()


def build_pending(
    spec: SourceSpec, index_dir: str, *, progress: BuildProgress | None = None
) -> tuple[str, BuildReport]:
    """Build the index of ``spec`` into a new file beside ``index_dir``'s index, not in use.

    Streamed as ``build`` streams it (bounded memory); the caller renames the file over
    the index (``os.replace``) to use it, or removes it.

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    name = f".{INDEX_FILE}.{os.getpid()}.{next(_PENDING)}.new"
    return os.path.join(index_dir, name), _build_file(spec, index_dir, name, progress)


def _build_file(
    spec: SourceSpec, index_dir: str, name: str, progress: BuildProgress | None
) -> BuildReport:
    """Stream the index of ``spec`` to ``index_dir``/``name`` (via a temp file)."""
    path = os.path.join(index_dir, name)
    os.makedirs(index_dir, exist_ok=True)
    report = _build(
        spec,
        index_dir,
        lambda write: write_streaming(path, write),
        functools.partial(_spool, index_dir),
        progress,
    )
    report.path = path
    return report


def _spool(folder: str) -> BinaryIO:
    """An unnamed temporary file in ``folder``: gone when closed, or if the build dies."""
    return tempfile.TemporaryFile("w+b", dir=folder)


def _build(
    spec: SourceSpec,
    previous_dir: str | None,
    save: Callable[[Callable[[BinaryIO], None]], None],
    spool: Callable[[], BinaryIO],
    progress: BuildProgress | None = None,
) -> BuildReport:
    from kb.ingest.sources import resolve_sources

    started = time.perf_counter()
    if previous_dir is not None:
        sweep_leftovers(previous_dir)
    earlier = _previous_fingerprint(previous_dir)
    files = {item["path"]: item for item in earlier.get("files", [])}
    known = functools.partial(_known_scan, files, earlier.get("labels"))
    sources = resolve_sources(spec, previous_dir, known=known)
    fingerprint_ = fingerprint(spec, sources, earlier)
    reuse = _reusable(previous_dir, fingerprint_)
    try:
        with spool() as lines:
            corpus, warnings = gather(sources, reuse, lines, progress)
            entries = len(corpus)
            save(lambda out: write_index(corpus, fingerprint_, out))
    finally:
        reuse.close()
    fetch_warnings = [s.fetch_warning for s in sources if s.fetch_warning]
    if reuse.damaged:
        warnings.insert(0, "the previous index was damaged (checksum); every source parsed again")
    report = BuildReport(
        entries,
        len(sources),
        fetch_warnings + sources.warnings + warnings,
        time.perf_counter() - started,
    )
    report.reused = len(reuse.spans)
    return report
