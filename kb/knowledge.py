"""The knowledge base as the CLI and the bot use it: sources, a fresh index, search."""

from __future__ import annotations

import _thread
import os
import time

from kb.errors import FaqError, IndexFileError
from kb.index.params import params
from kb.index.reader import (
    HASHES,
    INDEX_FILE,
    DamagedIndex,
    IndexReader,
    StaleSchema,
    changed_files,
    default_index_dir,
)
from kb.search.query import SearchResult, search
from kb.spec import SourceSpec

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from kb.index.early import EarlyParser
    from kb.ingest.sources import Sources
    from kb.search.semantic import SemanticRanker

    _T = TypeVar("_T")
    Notify = Callable[[str], None]

# (path, size, mtime_ns, ctime_ns) of every file an index was built from.
SourceState = tuple[tuple[str, int, int, int], ...]


def _quiet(message: str) -> None:
    """Discard a progress note."""


class KnowledgeBase:
    """An index kept in step with its sources.

    ``open()`` rebuilds first when a source changed (unless ``rebuild=False``); ``refresh()``
    does the same later and swaps the new index in atomically, so questions being answered
    meanwhile keep using the old one. If a rebuild fails, the old index stays in use.

    With ``semantic`` the answers are ranked with the sentence-embedding model too (see
    ``kb.search.semantic``); the index's vectors are made ready with the index itself.
    """

    def __init__(
        self,
        spec: SourceSpec | None = None,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        preload: bool = False,
        notify: Notify = _quiet,
        semantic: bool = False,
    ) -> None:
        self.spec = spec or SourceSpec()
        self.index_dir = os.fspath(index_dir) if index_dir else default_index_dir(self.spec.key)
        self.path = os.path.join(self.index_dir, INDEX_FILE)
        self.preload = preload
        self.notify = notify
        self._reader: IndexReader | None = None
        self._lock = _thread.allocate_lock()  # threading costs a cold query ~2 ms
        self._failed_state: SourceState | None = None
        self._pending: tuple[SourceState, float] | None = None  # first seen, at (monotonic)
        # A build that shrank the index, held back: its sources, the build, looks since.
        self._held: tuple[SourceState, Built, int] | None = None
        self.semantic = semantic
        self.progress: Callable[[int, int, int], None] | None = None  # see kb.cli.progress
        self._ranker: tuple[IndexReader, SemanticRanker] | None = None
        self._remote_failing: set[str] = set()  # remote URLs already warned about
        self._may_rebuild = True

    @property
    def reader(self) -> IndexReader:
        """The index in use (opened on first use)."""
        if self._reader is None:
            self.open()
        assert self._reader is not None
        return self._reader

    def open(self, *, rebuild: bool = True) -> IndexReader:
        """Load the index, rebuilding it first if it is missing, stale or unreadable.

        Raises:
            IndexFileError: no usable index and ``rebuild`` is off.
            BuildError, ManifestError: the rebuild failed.
        """
        self._may_rebuild = rebuild
        seen = _identity(self.path)  # the file about to be judged
        reader, reason = self._load(remote=rebuild)  # --no-rebuild: no request either
        if reason is not None or reader is None:
            if not rebuild:
                if reader is None:
                    raise IndexFileError(f"{reason}; run `faq-kb build` (or drop --no-rebuild)")
                self.notify(f"note: {reason}; using it as it is (--no-rebuild)")
            else:
                reason = reason or "the index needs a rebuild"
                reader = self._rebuild(reason, fallback=reader, seen=seen)
        self._use(reader)
        return reader

    def _use(self, reader: IndexReader) -> None:
        """Make ``reader`` the index in use (its semantic vectors ready first, if on)."""
        self._ranker_for(reader)
        self._reader = reader  # one reference swap: readers hold the old one till done

    def _ranker_for(self, reader: IndexReader) -> SemanticRanker | None:
        if not self.semantic:
            return None
        current = self._ranker
        if current is None or current[0] is not reader:
            from kb.search.semantic import SemanticRanker

            ranker = SemanticRanker.for_index(reader, self.notify, long_running=self.preload)
            current = self._ranker = (reader, ranker)
        return current[1]

    def stale_reason(self) -> str | None:
        """Why the index on disk no longer matches the sources, or None if it does."""
        return self._load(check_only=True)[1]

    def refresh(
        self, *, quiet_seconds: float = 0.0, shrink_polls: int = 0, warn: Notify | None = None
    ) -> bool:
        """Rebuild and swap in a new index if a source changed. Returns True if it swapped.

        ``quiet_seconds``: rebuild only once every source's size and mtime were the same at
        two calls at least that far apart (a writer still saving is not read half-done),
        and drop a build whose sources changed while it ran. ``shrink_polls``: an index
        with under half the entries of the one in use is held back (``warn`` says so)
        until its sources stay as they are for that many more calls, then swapped in
        with a second warning; 0 swaps it in at once.

        Raises:
            FaqError: the rebuild failed; the index in use is unchanged.
        """
        warn = warn or self.notify
        with self._lock:
            reason = self.stale_reason()
            if reason is None:
                self._drop_held()
                self._failed_state = self._pending = None
                return False
            state = self._source_state()
            if state == self._failed_state:
                return False  # the same broken sources as last time: reported once already
            if not self._quiet(state, quiet_seconds):
                return False
            if self._held is not None and self._held[0] == state:
                return self._confirm_held(shrink_polls, warn)
            self._drop_held()
            try:
                data = self._build(reason)
            except FaqError:
                self._failed_state = state
                raise
            self._failed_state = None
            if quiet_seconds > 0 and self._source_state() != state:
                self._pending = None  # edited while it was read: wait for quiet again
                _discard(data)
                return False
            old = len(self._reader) if self._reader is not None else 0
            new = _entry_count(data)
            if shrink_polls > 0 and old >= 4 and new * 2 < old:
                self._drop_held()
                self._held = (state, data, 0)
                warn(
                    f"warning: the edited FAQ has {new} entries, the index in use {old}; "
                    f"keeping the old index unless the sources stay like this "
                    f"({shrink_polls} more looks)"
                )
                return False
            self._use(self._commit(data))
            return True

    def _drop_held(self) -> None:
        if self._held is not None:
            _discard(self._held[1])
        self._held = None

    def _quiet(self, state: SourceState, quiet_seconds: float) -> bool:
        """True once ``state`` was also seen at least ``quiet_seconds`` ago."""
        if quiet_seconds <= 0:
            return True
        now = time.monotonic()
        if self._pending is None or self._pending[0] != state:
            self._pending = (state, now)
            return False
        return now - self._pending[1] >= quiet_seconds

    def _confirm_held(self, shrink_polls: int, warn: Notify) -> bool:
        assert self._held is not None
        state, data, polls = self._held
        if polls + 1 < shrink_polls:
            self._held = (state, data, polls + 1)
            return False
        self._held = None
        old = len(self.reader)
        self._use(self._commit(data))
        warn(
            f"warning: the FAQ index went from {old} to {len(self.reader)} entries; the "
            "sources stayed that way, so it is in use now"
        )
        return True

    def _source_state(self) -> SourceState:
        """Size, mtime and ctime of every file the index was built from (stat only)."""
        fingerprint = self._reader.fingerprint if self._reader is not None else {}
        paths = [item["path"] for item in fingerprint.get("files", [])]
        paths += [folder["path"] for folder in fingerprint.get("folders", [])]
        paths += fingerprint.get("absent", [])
        state = []
        for path in paths:
            try:
                stat = os.stat(path)
                state.append((path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
            except OSError:
                state.append((path, -1, -1, -1))
        return tuple(state)

    def ranker(self) -> SemanticRanker | None:
        """The semantic ranking of the index in use; None unless ``semantic`` is on."""
        return self._ranker_for(self.reader)

    def search(self, question: str, *, k: int = 3, explain: bool = False) -> SearchResult:
        """Rank the entries for ``question`` (see ``kb.search.query.search``).

        Raises:
            IndexFileError: the index is damaged and may not be rebuilt (``rebuild=False``).
        """
        return self._checked(
            lambda reader: search(
                reader, question, k=k, explain=explain, semantic=self._ranker_for(reader)
            )
        )

    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry, in index order (checksums verified)."""
        return self._checked(lambda reader: reader.entries())

    def _checked(self, read: Callable[[IndexReader], _T]) -> _T:
        """``read(reader)``; if it meets a damaged chunk, rebuild once and read again."""
        reader = self.reader
        try:
            return read(reader)
        except DamagedIndex as exc:
            if not self._may_rebuild:
                raise IndexFileError(f"{exc}; run `faq-kb build`") from None
            with self._lock:
                if self._reader is reader:
                    self._use(self._rebuild(f"the index is damaged ({exc})", damaged=True))
        return read(self.reader)

    def _load(
        self, *, check_only: bool = False, remote: bool = True
    ) -> tuple[IndexReader | None, str | None]:
        if not os.path.exists(self.path):
            return None, f"no index at {self.index_dir} yet"
        try:
            reader = (
                self._reader
                if check_only and self._reader is not None
                else IndexReader.open(self.path, preload=self.preload)
            )
        except StaleSchema:
            return None, "the index was written by another faq-kb version"
        except IndexFileError as exc:
            return None, f"the index is unreadable ({exc})"
        if reader.header.get("params") != params():
            return reader, "the index was built with other ranking or parsing settings"
        fingerprint = reader.fingerprint
        if fingerprint.get("spec") != self.spec.key:
            return reader, "the index was built from other sources"
        if remote:
            self._refresh_remote(fingerprint.get("remote") or [])
        changed = changed_files(fingerprint, hashes=self.path + HASHES)
        if changed:
            records = fingerprint.get("remote") or []
            shown = {os.path.splitext(r["meta"])[0] + ".rst": r["url"] for r in records}
            changed = [shown.get(path, path) for path in changed]
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            return reader, f"{changed[0]}{more} changed since the index was built"
        return reader, None

    def _refresh_remote(self, records: list[dict[str, Any]]) -> None:
        """Ask again for the remote sources whose copies are due (one warning per outage)."""
        due = [r for r in records if _remote_due(r)]
        if not due:
            return
        from kb.ingest.remote import update

        for record in due:
            url = record["url"]
            index_dir = os.path.dirname(os.path.dirname(record["meta"]))
            try:
                warning = update(url, index_dir, age=record.get("max_age"))
            except FaqError as exc:  # the copy is gone too: the rebuild reports it
                warning = str(exc)
            if warning is None:
                self._remote_failing.discard(url)
            elif url not in self._remote_failing:
                self._remote_failing.add(url)
                self.notify(f"warning: {warning}")

    def _rebuild(
        self,
        reason: str,
        fallback: IndexReader | None = None,
        *,
        damaged: bool = False,
        seen: Identity | None = None,
    ) -> IndexReader:
        """Rebuild the index, unless another process is rebuilding it: then use theirs.

        Waits (bounded: ``kb.index.lock.wait_seconds``) for another process's rebuild of this
        folder; if it takes longer, answers from ``fallback`` (the stale index) if any.
        ``seen``: the index file found stale (``_identity``); if it is still there when
        the lock is taken, nobody rebuilt it meanwhile.
        """
        from kb.index import early
        from kb.index.lock import build_lock, wait_seconds
        from kb.ingest.sources import resolve_sources

        def waiting() -> None:
            self.notify("note: another process is rebuilding the index; waiting for it…")

        # The parser's start-up is most of a one-line edit's rebuild: under way from here.
        with early.started(fallback is not None and not damaged) as parser:
            # A bad manifest or --source (or an unreachable remote never fetched) fails first.
            sources = resolve_sources(self.spec, self.index_dir, labels=False)
            with build_lock(self.index_dir, wait_seconds(), waiting) as state:
                if state == "timeout" and fallback is not None:
                    self.notify("note: the other rebuild is taking long; using the old index")
                    return fallback
                untouched = state == "free" and seen is not None and _identity(self.path) == seen
                if state in ("free", "waited") and not damaged and not untouched:
                    reader, still = self._load(remote=False)
                    if reader is not None and still is None:
                        return reader  # another process has just rebuilt it
                return self._commit(self._build(reason, sources, parser))

    def _build(
        self, reason: str, sources: Sources | None = None, early: EarlyParser | None = None
    ) -> Built:
        """The new index, not in use yet: a finished file beside the index (streamed,
        never whole in memory), or its bytes if the index folder cannot be written.
        ``sources``: the spec's, if the caller has resolved them already; ``early``: a
        parser started for the build (``kb.index.early``)."""
        from kb.index.build import build_bytes, build_pending

        if sources is None:
            from kb.ingest.sources import resolve_sources

            # A bad manifest or --source (or an unreachable remote) fails first.
            sources = resolve_sources(self.spec, self.index_dir, labels=False)
        for source in sources:
            if source.fetch_warning and source.origin not in self._remote_failing:
                self._remote_failing.add(source.origin or "")
                self.notify(f"warning: {source.fetch_warning}")
        self.notify(f"note: {reason}; rebuilding the index…")
        data: Built
        try:
            data, report = build_pending(
                self.spec, self.index_dir, progress=self.progress, early=early
            )
        except OSError as exc:
            self.notify(
                f"warning: cannot write the index in {self.index_dir} ({exc.strerror});"
                " using it from memory this time (set FAQ_INDEX or --index)"
            )
            data, report = build_bytes(self.spec, self.index_dir, progress=self.progress)
        for warning in report.warnings:
            if not any(warning.startswith(url + ":") for url in self._remote_failing):
                self.notify(f"warning: {warning}")
        return data

    def _commit(self, data: Built) -> IndexReader:
        """Put the new index in place (an atomic rename) and open it."""
        if isinstance(data, bytes):
            return IndexReader(data, self.path)
        os.replace(data, self.path)
        return IndexReader.open(self.path, preload=self.preload)


# An index file's identity: a rebuild renames a new file into place, so any rebuild
# changes it.
Identity = tuple[int, int, int, int, int]


def _identity(path: str) -> Identity | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


# A rebuilt index not yet in use: the path of its finished file beside the index, or its
# bytes (built in memory when the index folder cannot be written).
Built = str | bytes


def _entry_count(data: Built) -> int:
    from kb.index.reader import IndexReader

    return len(IndexReader(data, "<new>") if isinstance(data, bytes) else IndexReader.open(data))


def _discard(data: Built) -> None:
    """Remove a build that will not be used."""
    if isinstance(data, str):
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(data)


def _remote_due(record: dict[str, Any]) -> bool:
    """Whether a remote source's copy is older than its max age (one stat, no import)."""
    raw, configured = os.environ.get("FAQ_REMOTE_MAX_AGE"), record.get("max_age")
    try:
        age = float(raw) if raw else float(3600.0 if configured is None else configured)
    except ValueError:
        age = 3600.0  # kb.ingest.remote.DEFAULT_MAX_AGE
    try:
        return time.time() - os.stat(record["meta"]).st_mtime >= age
    except OSError:
        return True


__all__ = ["FaqError", "KnowledgeBase"]
