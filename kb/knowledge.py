"""The knowledge base as the CLI and the bot use it: sources, a fresh index, search."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kb.errors import FaqError, IndexFileError
from kb.index import (
    INDEX_FILE,
    DamagedIndex,
    IndexReader,
    StaleSchema,
    changed_files,
    default_index_dir,
)
from kb.params import params
from kb.search import SearchResult, search
from kb.spec import SourceSpec

if TYPE_CHECKING:
    from kb.semantic import SemanticRanker

Notify = Callable[[str], None]
_T = TypeVar("_T")


def _quiet(message: str) -> None:
    """Discard a progress note."""


class KnowledgeBase:
    """An index kept in step with its sources.

    ``open()`` rebuilds first when a source changed (unless ``rebuild=False``); ``refresh()``
    does the same later and swaps the new index in atomically, so questions being answered
    meanwhile keep using the old one. If a rebuild fails, the old index stays in use.

    With ``semantic`` the answers are ranked with the sentence-embedding model too (see
    ``kb.semantic``); the index's vectors are made ready with the index itself.
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
        self._lock = threading.Lock()
        self._failed_state: tuple[tuple[str, int, int, int], ...] | None = None
        self.semantic = semantic
        self._ranker: tuple[IndexReader, SemanticRanker] | None = None
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
        reader, reason = self._load()
        if reason is not None or reader is None:
            if not rebuild:
                if reader is None:
                    raise IndexFileError(f"{reason}; run `faq-kb build` (or drop --no-rebuild)")
                self.notify(f"note: {reason}; using it as it is (--no-rebuild)")
            else:
                reader = self._rebuild(reason or "the index needs a rebuild", fallback=reader)
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
            from kb.semantic import SemanticRanker

            current = self._ranker = (reader, SemanticRanker.for_index(reader, self.notify))
        return current[1]

    def stale_reason(self) -> str | None:
        """Why the index on disk no longer matches the sources, or None if it does."""
        return self._load(check_only=True)[1]

    def refresh(self) -> bool:
        """Rebuild and swap in a new index if a source changed. Returns True if it swapped.

        Raises:
            FaqError: the rebuild failed; the index in use is unchanged.
        """
        with self._lock:
            reason = self.stale_reason()
            if reason is None:
                self._failed_state = None
                return False
            state = self._source_state()
            if state == self._failed_state:
                return False  # the same broken sources as last time: reported once already
            try:
                new = self._rebuild(reason, fallback=self._reader)
            except FaqError:
                self._failed_state = state
                raise
            self._failed_state = None
            self._use(new)
            return True

    def _source_state(self) -> tuple[tuple[str, int, int, int], ...]:
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
        """Rank the entries for ``question`` (see ``kb.search.search``).

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

    def _load(self, *, check_only: bool = False) -> tuple[IndexReader | None, str | None]:
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
            return reader, "the index was built with other ranking settings"
        fingerprint = reader.fingerprint
        if fingerprint.get("spec") != self.spec.key:
            return reader, "the index was built from other sources"
        changed = changed_files(fingerprint)
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            return reader, f"{changed[0]}{more} changed since the index was built"
        return reader, None

    def _rebuild(
        self, reason: str, fallback: IndexReader | None = None, *, damaged: bool = False
    ) -> IndexReader:
        """Rebuild the index, unless another process is rebuilding it: then use theirs.

        Waits (bounded: ``kb.lock.wait_seconds``) for another process's rebuild of this
        folder; if it takes longer, answers from ``fallback`` (the stale index) if any.
        """
        from kb.lock import build_lock, wait_seconds
        from kb.sources import resolve_sources

        resolve_sources(self.spec)  # a bad manifest or --source fails before any note

        def waiting() -> None:
            self.notify("note: another process is rebuilding the index; waiting for it…")

        with build_lock(self.index_dir, wait_seconds(), waiting) as state:
            if state == "timeout" and fallback is not None:
                self.notify("note: the other rebuild is taking long; using the old index")
                return fallback
            if state in ("free", "waited") and not damaged:
                reader, still = self._load()
                if reader is not None and still is None:
                    return reader  # another process has just rebuilt it
            return self._build_now(reason)

    def _build_now(self, reason: str) -> IndexReader:
        from kb.build import build_bytes
        from kb.index import write_atomically

        self.notify(f"note: {reason}; rebuilding the index…")
        data, report = build_bytes(self.spec, self.index_dir)
        for warning in report.warnings:
            self.notify(f"warning: {warning}")
        try:
            write_atomically(self.path, data)
        except OSError as exc:
            self.notify(
                f"warning: cannot write the index in {self.index_dir} ({exc.strerror});"
                " using it from memory this time (set FAQ_INDEX or --index)"
            )
            return IndexReader(data, self.path)
        return IndexReader.open(self.path, preload=self.preload)


__all__ = ["FaqError", "KnowledgeBase"]
