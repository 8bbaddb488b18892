"""The threads the bot answered in, and who asked: so the asker's follow-ups need no @mention."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import closing

# A follow-up a month later is a new conversation: mention the bot again.
TTL_SECONDS = 30 * 24 * 3600.0


class ThreadLog:
    """(channel, thread) → the person who asked there, in a SQLite file every worker shares.

    ``":memory:"`` keeps them in this process only.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._memory: dict[tuple[str, str], tuple[str, float]] | None = None
        self._lock = threading.Lock()
        if self.path == ":memory:":
            self._memory = {}
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=15)) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS bot_threads (channel TEXT NOT NULL, "
                "thread_ts TEXT NOT NULL, asker TEXT NOT NULL, started_at REAL NOT NULL, "
                "PRIMARY KEY (channel, thread_ts))"
            )

    def remember(self, channel: str, thread_ts: str, asker: str) -> None:
        """The bot answered ``asker`` in this thread."""
        now = time.time()
        if self._memory is not None:
            with self._lock:
                self._memory.setdefault((channel, thread_ts), (asker, now))
            return
        with closing(sqlite3.connect(self.path, timeout=15)) as conn, conn:
            conn.execute(
                "INSERT OR IGNORE INTO bot_threads VALUES (?, ?, ?, ?)",
                (channel, thread_ts, asker, now),
            )

    def asker(self, channel: str, thread_ts: str) -> str | None:
        """Who the bot answered first in this thread (within the TTL), or None."""
        since = time.time() - TTL_SECONDS
        if self._memory is not None:
            with self._lock:
                found = self._memory.get((channel, thread_ts))
            return found[0] if found and found[1] >= since else None
        with closing(sqlite3.connect(self.path, timeout=15)) as conn:
            row = conn.execute(
                "SELECT asker FROM bot_threads WHERE channel = ? AND thread_ts = ? "
                "AND started_at >= ?",
                (channel, thread_ts, since),
            ).fetchone()
        return str(row[0]) if row else None
