"""Answer each Slack event once, even when Slack retries it or another worker got it first."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import closing

# Slack retries for a few minutes at most; an hour of memory is plenty.
TTL_SECONDS = 3600.0
# Forget expired ids every this many new ones (a cheap DELETE, not on every event).
_PRUNE_EVERY = 500


class EventLog:
    """Event ids already handled, in a SQLite file shared by every worker process.

    ``":memory:"`` keeps them in this process only.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._memory = self.path == ":memory:"
        self._seen: dict[str, float] = {}
        self._count = 0
        if not self._memory:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=15)) as conn, conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS seen_events "
                    "(event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL)"
                )

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; True if it was not seen within the last hour."""
        now = time.time()
        with self._lock:
            self._count += 1
            prune = self._count % _PRUNE_EVERY == 0
        if self._memory:
            with self._lock:
                if prune:
                    self._seen = {k: t for k, t in self._seen.items() if now - t < TTL_SECONDS}
                if event_id in self._seen:
                    return False
                self._seen[event_id] = now
                return True
        with closing(sqlite3.connect(self.path, timeout=15)) as conn, conn:
            if prune:
                conn.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - TTL_SECONDS,))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (event_id, now)
            )
            return cursor.rowcount == 1
