"""The bot's shared state (event ids, answers, votes): a SQLite file or a PostgreSQL server.

``open_database(target)`` takes a file path (or ``sqlite:///PATH``), the default, or a
``postgresql://…`` URL for replicas on several hosts (needs the ``postgres`` extra:
psycopg 3, imported only then). SQL is written once, with ``?`` placeholders and syntax
both accept (``ON CONFLICT``, ``CASE``). Each component keeps its schema as numbered
migrations; ``migrate`` applies the missing ones under a lock and records them in
``schema_version``, so several processes may start at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from kb.errors import FaqError

# How long a call may wait for a lock before it fails (seconds), unless told otherwise.
DEFAULT_TIMEOUT = 5.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
# Idle PostgreSQL connections kept per process; more are opened under load, then closed.
_POOL_SIZE = 8
# Any constant: the advisory lock that serialises migrations across replicas.
_MIGRATION_LOCK = 0x66617162


class DatabaseError(sqlite3.Error):
    """A database call failed, whatever the driver.

    A subclass of ``sqlite3.Error``, so code written for the SQLite store keeps catching it.
    """


class DatabaseConfigError(FaqError):
    """The database cannot be used at all (a directory, not SQLite, no driver, bad URL)."""


class Cursor(Protocol):
    """What both drivers' cursors offer."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """One transaction's connection: ``execute`` with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Database:
    """Where the shared state lives; ``transaction()`` is safe from any thread or process."""

    kind: str
    display: str

    @contextmanager
    def transaction(
        self, *, timeout: float = DEFAULT_TIMEOUT, write: bool = True
    ) -> Iterator[Connection]:
        """A connection in a transaction, committed on success, rolled back on error.

        ``timeout`` bounds the wait for locks; ``write`` takes SQLite's write lock at once.

        Raises:
            DatabaseError: the database failed (locked too long, read-only, full, gone).
        """
        raise NotImplementedError
        yield  # pragma: no cover

    def migrate(self, component: str, steps: Sequence[Sequence[str]]) -> None:
        """Bring ``component``'s tables to version ``len(steps)``; step N holds statements.

        Raises:
            DatabaseConfigError: the database is newer than this faq-kb, or unusable.
        """
        if self._version(component) == len(steps):
            return  # up to date: no write, so a read-only or full database still starts
        try:
            with self.transaction(timeout=30.0) as conn:
                self._lock_for_migration(conn)
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
                row = conn.execute(
                    "SELECT version FROM schema_version WHERE component = ?", (component,)
                ).fetchone()
                current = int(row[0]) if row else 0
                if current > len(steps):
                    raise DatabaseConfigError(
                        f"{self.display} has {component} schema version {current}, newer than "
                        f"this faq-kb knows ({len(steps)}); upgrade faq-kb"
                    )
                for statements in steps[current:]:
                    for statement in statements:
                        conn.execute(statement)
                if current < len(steps):
                    conn.execute(
                        "INSERT INTO schema_version VALUES (?, ?) ON CONFLICT (component) "
                        "DO UPDATE SET version = excluded.version",
                        (component, len(steps)),
                    )
        except sqlite3.Error as error:
            raise DatabaseConfigError(f"cannot use {self.display}: {error}") from None

    def _version(self, component: str) -> int | None:
        """``component``'s schema version, read without a write lock (None: unknown)."""
        try:
            with self.transaction(write=False) as conn:
                row = conn.execute(
                    "SELECT version FROM schema_version WHERE component = ?", (component,)
                ).fetchone()
        except sqlite3.Error:  # no table yet, or no database: migrate() says which
            return None
        return int(row[0]) if row else None

    def _lock_for_migration(self, conn: Connection) -> None:
        """Hold off other processes migrating at the same time (SQLite: the write lock)."""


class SqliteDatabase(Database):
    """A SQLite file (WAL), one short-lived connection per transaction; ``:memory:`` too."""

    kind = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = self.display = path
        self._shared: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if path == ":memory:":
            # One connection for the process: a new one would be a new, empty database.
            self._shared = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            return
        if os.path.isdir(path):
            raise DatabaseConfigError(f"{path} is a directory; give the path of a database file")
        if os.path.exists(path):
            try:
                with open(path, "rb") as handle:
                    head = handle.read(len(_SQLITE_MAGIC))
            except OSError as error:
                raise DatabaseConfigError(f"cannot read {path}: {error.strerror}") from None
            if head and head != _SQLITE_MAGIC:
                raise DatabaseConfigError(f"{path} is not a SQLite database")
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            conn = sqlite3.connect(path, timeout=DEFAULT_TIMEOUT)
            try:
                conn.execute("PRAGMA journal_mode=WAL")  # outside any transaction
            except sqlite3.OperationalError:
                pass  # locked or read-only just now: the file works without it
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as error:
            reason = error.strerror if isinstance(error, OSError) else error
            raise DatabaseConfigError(f"cannot open {path}: {reason}") from None

    @contextmanager
    def transaction(
        self, *, timeout: float = DEFAULT_TIMEOUT, write: bool = True
    ) -> Iterator[Connection]:
        if self._shared is not None:
            with self._lock:
                yield from _sqlite_transaction(self._shared, write=False)
            return
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        # WAL without an fsync per commit: never corrupts, may lose the last commits on a
        # power cut (fine for event ids and feedback), and keeps the write lock brief.
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield from _sqlite_transaction(conn, write=write)
        finally:
            conn.close()


def _sqlite_transaction(conn: sqlite3.Connection, *, write: bool) -> Iterator[Connection]:
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


class PostgresDatabase(Database):
    """A PostgreSQL server shared by every replica; a small pool of connections."""

    kind = "postgres"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise DatabaseConfigError(
                "FAQ_DATABASE_URL is a PostgreSQL URL but psycopg is not installed; "
                "install the extra: pip install 'faq-kb[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.url = url
        self.display = redact(url)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        try:
            with self.transaction(write=False) as conn:
                conn.execute("SELECT 1")
        except sqlite3.Error as error:
            raise DatabaseConfigError(str(error)) from None

    def _checkout(self, timeout: float) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        # libpq's connect_timeout: whole seconds, 2 at least.
        return self._psycopg.connect(
            self.url, autocommit=True, connect_timeout=max(2, round(timeout))
        )

    def _checkin(self, conn: Any) -> None:
        with self._lock:
            if not conn.closed and len(self._idle) < _POOL_SIZE:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def transaction(
        self, *, timeout: float = DEFAULT_TIMEOUT, write: bool = True
    ) -> Iterator[Connection]:
        psycopg = self._psycopg
        try:
            conn = self._checkout(timeout)
        except psycopg.Error as error:
            raise DatabaseError(f"cannot reach {self.display}: {error}") from None
        healthy = False
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                yield _PostgresConnection(conn)
            healthy = True
        except psycopg.Error as error:
            raise DatabaseError(f"{self.display}: {error}") from None
        finally:
            if healthy:
                self._checkin(conn)
            else:
                conn.close()

    def _lock_for_migration(self, conn: Connection) -> None:
        conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")

    def close(self) -> None:
        """Close the idle connections (those in use close when they are done)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _PostgresConnection:
    """psycopg's connection speaking ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor: Cursor = self._conn.execute(sql.replace("?", "%s"), tuple(params))
        return cursor


def is_postgres_url(target: str) -> bool:
    """True for ``postgresql://…`` and ``postgres://…``."""
    return urlsplit(target).scheme.lower() in _POSTGRES_SCHEMES


def redact(url: str) -> str:
    """``url`` without its password, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def open_database(target: str | os.PathLike[str]) -> Database:
    """The database at ``target``: a file path, ``sqlite:///PATH``, or a PostgreSQL URL.

    Raises:
        DatabaseConfigError: it cannot be used; the message says why (never a password).
    """
    text = os.fspath(target)
    if is_postgres_url(text):
        return PostgresDatabase(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]  # sqlite:////abs/path → /abs/path
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise DatabaseConfigError(
            f"unsupported database URL scheme {scheme!r}; use a file path or postgresql://…"
        )
    return SqliteDatabase(os.path.expanduser(text))
