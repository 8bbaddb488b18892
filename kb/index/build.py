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
from kb.files import page_names
from kb.index.early import EarlyParser
from kb.index.encode import Corpus, write_index
from kb.index.params import params
from kb.index.prepare import (
    field_texts,
    load_source,
    prepare_entries,
    prepare_source,
)
from kb.index.reader import (
    INDEX_FILE,
    IndexReader,
    _same_stat,
    file_fingerprint,
    sweep_leftovers,
    write_streaming,
)
from kb.index.splice import Layout, OldPostings, read_ahead, splice_index
from kb.ingest.site_labels import Scan
from kb.ingest.sources import Source, Sources
from kb.spec import SourceSpec, split_source_arg

TYPE_CHECKING = False  # the models (pydantic) only where a source is parsed
if TYPE_CHECKING:
    from kb.models import Entry

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


def _in_parallel(count: int, size: int) -> bool:
    """Whether ``count`` sources of ``size`` bytes in all are parsed by a pool of workers."""
    return (os.cpu_count() or 1) >= 2 and count >= PARALLEL_MIN_FILES and size >= PARALLEL_MIN_BYTES


def _map_ordered(
    work: Callable[[Any], _T], items: Iterator[Any], count: int, size: int
) -> Iterator[_T]:
    """``work`` of each item, in order; in worker processes when there is enough to do.

    Items are taken from ``items`` only a few ahead of the results, so that items read
    lazily (an unchanged source's stored lines) are never all in memory at once.
    """
    workers = os.cpu_count() or 1
    if not _in_parallel(count, size):
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
    replaced meanwhile). An unchanged source is neither parsed nor tokenized again: the
    new index is the old one spliced (``kb.index.splice``): its postings, lengths and
    stored entries carry over, renumbered, less those of the sources that changed or
    went, with the new entries' merged in.
    """

    handle: BinaryIO | None = None
    reader: IndexReader | None = None
    buf: mmap.mmap | None = None  # the old index's bytes, which ``reader`` reads
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → entry numbers
    warnings: dict[str, list[str]] = field(default_factory=dict)  # name → its warnings
    damaged: bool = False  # the previous index failed its checksums: nothing reused
    postings: OldPostings | None = None  # the kept entries' postings, if read ahead

    def read_ahead(self, sources: list[Source]) -> None:
        """Read the postings of the entries kept for ``sources`` now: the splice's first
        step, taken while the changed sources are parsed in another process."""
        if self.reader is not None and self.buf is not None:
            kept = [self.spans[s.name] for s in sources if s.name in self.spans]
            self.postings = read_ahead(self.reader, self.buf, kept)

    def close(self) -> None:
        """Let go of the old index."""
        self.reader = self.buf = self.postings = None
        if self.handle is not None:
            self.handle.close()


def gather(
    sources: list[Source],
    reuse: Reuse,
    spool: BinaryIO,
    progress: BuildProgress | None = None,
    early: EarlyParser | None = None,
) -> tuple[Corpus, list[str], Layout | None]:
    """Prepare every source that changed (unchanged ones are in ``reuse``), in order.

    Returns the corpus of the sources prepared (their entry blocks written to ``spool``),
    the warnings, and where the entries of ``reuse`` go among them (None when nothing is
    reused: the corpus is then every source). ``progress(done, total, entries)`` is
    called as the build starts and after each source. A few changed sources go to the
    ``early`` parser, if there is one (``kb.index.early``).

    Raises:
        BuildError: any source is unreadable or has rst errors (every problem listed).
    """
    corpus = Corpus(spool)
    warnings: list[str] = []
    problems: list[SourceError] = []
    layout = Layout() if reuse.spans else None
    changed = [s for s in sources if s.name not in reuse.spans]
    if progress:
        progress(0, len(sources), 0)
    size = sum(map(_size, changed))
    if early is not None and changed and not _in_parallel(len(changed), size):
        results = early.ask(changed)
        if layout is not None:  # the splice's first step, while the worker parses
            reuse.read_ahead(sources)
    else:
        if early is not None:
            early.close()
        results = _map_ordered(prepare_source, iter(changed), len(changed), size)
    entries = 0
    for done, source in enumerate(sources, 1):
        if layout is not None and source.name in reuse.spans:
            first, stop = reuse.spans[source.name]
            kept = reuse.warnings.get(source.name, [])
            layout.keep(first, stop)
            layout.source_counts.append(stop - first)
            layout.source_warnings.append(list(kept))
            warnings.extend(kept)
            entries += stop - first
        else:
            prepared = next(results)
            warnings.extend(prepared.warnings)
            problems.extend(prepared.problems)
            if not problems:
                corpus.add(prepared)
                if layout is not None:
                    layout.add(len(prepared))
                    layout.source_counts.append(len(prepared))
                    layout.source_warnings.append(list(prepared.warnings))
            entries += len(prepared)
        if progress:
            progress(done, len(sources), entries)
    if problems:
        raise BuildError(problems)
    return corpus, warnings, layout


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
                folders.append({"path": str(folder), "names": page_names(os.listdir(folder))})
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


def _has_index(index_dir: str | None) -> bool:
    """Whether ``index_dir`` holds an index (a rebuild, which likely reuses most of it)."""
    return index_dir is not None and os.path.isfile(os.path.join(index_dir, INDEX_FILE))


def _open_previous(index_dir: str | None) -> Reuse:
    """The index in ``index_dir``, opened once for the whole build (the fingerprint the
    next one is compared with, and what it may reuse); empty if none can be read.

    Read through a handle kept open: another process may replace the file meanwhile.
    """
    if index_dir is None:
        return Reuse()
    path = os.path.join(index_dir, INDEX_FILE)
    from kb.files import open_regular

    try:
        handle = os.fdopen(open_regular(path), "rb")  # closed by Reuse.close
    except OSError:
        return Reuse()
    try:
        buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return Reuse(handle, IndexReader(buf, path), buf)
    except (FaqError, OSError, ValueError):
        handle.close()
        return Reuse()


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


def _reusable(previous: Reuse, fingerprint_: dict[str, Any]) -> Reuse:
    """The entries of the ``previous`` index whose sources have not changed since.

    Only from an index of this schema and these ranking constants, parsed by the same
    docutils; a source counts as unchanged when its name, URL, path, content and aliases
    are all the same. ``previous`` is closed if nothing of it is reused.
    """
    old = previous.reader
    if old is None:
        return previous
    try:
        old.check_all()  # stored lines are never reused unchecked
        old.forget_pages()
    except FaqError:
        previous.close()
        return Reuse(damaged=True)
    fingerprint = old.fingerprint
    records, counts = fingerprint.get("sources", []), old.header.get("source_counts", [])
    warnings = old.header.get("source_warnings")
    if (
        old.header.get("params") != params()
        or fingerprint.get("docutils") != docutils_version()
        or len(records) != len(counts)
        or not isinstance(warnings, list)
        or len(warnings) != len(records)
    ):
        previous.close()
        return Reuse()
    at = 0
    # The header counts each source's entries, in order: their numbers follow.
    for record, count, kept in zip(records, counts, warnings, strict=True):
        if record in fingerprint_["sources"]:
            previous.spans[record["name"]] = (at, at + count)
            previous.warnings[record["name"]] = [str(w) for w in kept]
        at += count
    if not previous.spans:
        previous.close()
        return Reuse()
    return previous


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
    spec: SourceSpec,
    index_dir: str,
    *,
    progress: BuildProgress | None = None,
    fetch: bool = False,
) -> BuildReport:
    """(Re)build the index of ``spec`` into ``index_dir``; the old index stays until done.

    The file is streamed, never held whole in memory; the entries' stored bytes wait in an
    unnamed temporary file in ``index_dir`` until the postings are written. With ``fetch``,
    remote sources are asked for again even if not due (``faq-kb build``).

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    return _build_file(spec, index_dir, INDEX_FILE, progress, fetch=fetch)


_PENDING = itertools.count()


def build_pending(
    spec: SourceSpec,
    index_dir: str,
    *,
    progress: BuildProgress | None = None,
    early: EarlyParser | None = None,
) -> tuple[str, BuildReport]:
    """Build the index of ``spec`` into a new file beside ``index_dir``'s index, not in use.

    Streamed as ``build`` streams it (bounded memory); the caller renames the file over
    the index (``os.replace``) to use it, or removes it. ``early``: a parser the caller
    started (``kb.index.early``), which the build stops when done.

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    name = f".{INDEX_FILE}.{os.getpid()}.{next(_PENDING)}.new"
    report = _build_file(spec, index_dir, name, progress, early=early)
    return os.path.join(index_dir, name), report


def _build_file(
    spec: SourceSpec,
    index_dir: str,
    name: str,
    progress: BuildProgress | None,
    *,
    fetch: bool = False,
    early: EarlyParser | None = None,
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
        fetch=fetch,
        early=early,
    )
    report.path = path
    return report


def _spool(folder: str) -> BinaryIO:
    """An unnamed temporary file in ``folder``: gone when closed, or if the build dies."""
    return tempfile.TemporaryFile("w+b", dir=folder)


def _splice(
    reuse: Reuse, layout: Layout, corpus: Corpus, fingerprint_: dict[str, Any], out: BinaryIO
) -> None:
    """The index of ``layout``: the previous index (``reuse``) spliced with ``corpus``."""
    assert reuse.reader is not None and reuse.handle is not None
    postings, reuse.postings = reuse.postings, None  # read once: its arrays change
    splice_index(reuse.reader, reuse.buf, reuse.handle, layout, corpus, fingerprint_, out, postings)


def _build(
    spec: SourceSpec,
    previous_dir: str | None,
    save: Callable[[Callable[[BinaryIO], None]], None],
    spool: Callable[[], BinaryIO],
    progress: BuildProgress | None = None,
    *,
    fetch: bool = False,
    early: EarlyParser | None = None,
) -> BuildReport:
    from kb.ingest.sources import resolve_sources

    started = time.perf_counter()
    if previous_dir is not None:
        sweep_leftovers(previous_dir)
    # A one-line edit's rebuild is mostly the parser's start-up: get it going now.
    if early is None and _has_index(previous_dir):
        early = EarlyParser.start()
    previous = _open_previous(previous_dir)
    try:
        earlier = previous.reader.fingerprint if previous.reader is not None else {}
        files = {item["path"]: item for item in earlier.get("files", [])}
        known = functools.partial(_known_scan, files, earlier.get("labels"))
        sources = resolve_sources(spec, previous_dir, fetch=fetch, known=known)
        fingerprint_ = fingerprint(spec, sources, earlier)
    except BaseException:
        previous.close()
        if early is not None:
            early.close()
        raise
    reuse = _reusable(previous, fingerprint_)
    try:
        with spool() as lines:
            corpus, warnings, layout = gather(sources, reuse, lines, progress, early)
            if layout is None:
                entries = len(corpus)
                save(lambda out: write_index(corpus, fingerprint_, out))
            else:
                entries = sum(layout.source_counts)
                save(lambda out: _splice(reuse, layout, corpus, fingerprint_, out))
    finally:
        reuse.close()
        if early is not None:
            early.close()
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
