"""Answer each Slack request once, even when Slack retries it or another replica got it first.

The ids already handled live in the bot's database (a SQLite file shared by a host's
workers, or PostgreSQL shared by replicas on several hosts), and in this process's memory.
The database is only asked within a short time budget: if it is locked, read-only, full
or gone, the bot falls back to memory alone (saying so once), answers anyway, and tries
the database again a little later.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from kb.learn.database import Database, open_database

logger = logging.getLogger(__name__)

# Slack retries for a few minutes at most; an hour of memory is plenty.
TTL_SECONDS = 3600.0
# The longest a dedupe look-up may wait for the database before answering without it
# (HTTP acks never wait for it; a Socket Mode ack does, and Slack allows 3 s).
DB_BUDGET_SECONDS = 2.0
# After a failure, use memory alone this long before asking the database again.
DB_RETRY_SECONDS = 30.0
# Forget expired ids every this many new ones (a cheap DELETE, not on every event).
_PRUNE_EVERY = 500
# Ids kept in memory at most (the newest), whatever the TTL.
_MEMORY_IDS = 100_000
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS seen_events "
        "(event_id TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL)",
    ),
)


class EventLog:
    """Keys (event ids, request hashes) already handled.

    ``":memory:"`` keeps them in this process only.
    """

    def __init__(self, target: str | os.PathLike[str] | Database) -> None:
        self.db: Database | None = None
        if target != ":memory:":
            self.db = target if isinstance(target, Database) else open_database(target)
            self.db.migrate("events", MIGRATIONS)
        self.path = self.db.display if self.db else ":memory:"
        self.fallbacks = 0
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._count = 0
        self._down_until = 0.0
        self._failing = False

    def first_time(self, key: str) -> bool:
        """Record ``key``; True if no worker handled it within the last hour."""
        now = time.time()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen < TTL_SECONDS:
                return False
            self._count += 1
            prune = self._count % _PRUNE_EVERY == 0
            use_db = self.db is not None and time.monotonic() >= self._down_until
        first = self._first_in_db(key, now, prune) if use_db else None
        with self._lock:
            if first is None:  # memory alone: recheck, another thread may have just added it
                seen = self._seen.get(key)
                first = seen is None or now - seen >= TTL_SECONDS
            if first:
                self._remember(key, now)
            return first

    def _first_in_db(self, key: str, now: float, prune: bool) -> bool | None:
        assert self.db is not None
        try:
            with self.db.transaction(timeout=DB_BUDGET_SECONDS) as conn:
                if prune:
                    conn.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - TTL_SECONDS,))
                inserted = conn.execute(
                    "INSERT INTO seen_events VALUES (?, ?) ON CONFLICT DO NOTHING", (key, now)
                ).rowcount
        except sqlite3.Error as error:  # DatabaseError (any driver) is one too
            self._failed(error)
            return None
        with self._lock:
            recovered, self._failing = self._failing, False
        if recovered:
            logger.warning("event dedupe: %s works again", self.path)
        return bool(inserted == 1)

    def _failed(self, error: Exception) -> None:
        with self._lock:
            self.fallbacks += 1
            self._down_until = time.monotonic() + DB_RETRY_SECONDS
            first = not self._failing
            self._failing = True
        if first:
            logger.error(
                "event dedupe: cannot use %s (%s); answering anyway, deduplicating in this "
                "process only, trying again every %.0f s",
                self.path,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
                DB_RETRY_SECONDS,
            )

    def _remember(self, key: str, now: float) -> None:
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > _MEMORY_IDS:
            self._seen.popitem(last=False)
        oldest = next(iter(self._seen.values()))
        if now - oldest >= TTL_SECONDS:
            self._seen = OrderedDict((k, t) for k, t in self._seen.items() if now - t < TTL_SECONDS)


def request_key(
    body: Mapping[str, Any], headers: Mapping[str, Sequence[str]], raw: str
) -> str | None:
    """The dedupe key of a Slack request, or None if it needs none.

    An event's ``event_id`` (the same in Slack's retries); for a signed slash command, a
    hash of its timestamp and body, so a replay of the same signed request within Slack's
    five minutes is answered once (a person typing it again makes a new one).
    """
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return event_id
    timestamp = next(iter(headers.get("x-slack-request-timestamp") or ()), "")
    if body.get("command") and timestamp:
        digest = hashlib.sha256(f"{timestamp}:{raw}".encode()).hexdigest()
        return f"cmd:{digest}"
    return None
