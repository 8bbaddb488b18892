"""The bot's database: the SQLite default, clear start-up errors, schema versions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.app import main
from bot.dedupe import EventLog
from kb.learn.database import DatabaseConfigError, open_database, redact
from kb.learn.feedback import FeedbackStore
from tests.slack_fakes import BOT_TOKEN, SIGNING_SECRET, FakeSlack

pytest_plugins = ["tests.conftest_bot"]


@pytest.mark.parametrize("kind", ["directory", "text-file", "other-url"])
def test_an_unusable_database_stops_the_bot_with_one_line(
    kind: str,
    fake_slack: FakeSlack,
    source_arg: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = str(tmp_path / "db")
    if kind == "directory":
        (tmp_path / "db").mkdir()
    elif kind == "text-file":
        (tmp_path / "db").write_text("these are my notes, not a database\n" * 10)
    else:
        target = "mysql://user:hunter2@db.example.com/faq"
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("FAQ_FEEDBACK_DB", target)
    with pytest.raises(SystemExit) as exit_info:
        main(["--source", source_arg, "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("faq-bot: error: the database")
    expected = {
        "directory": "is a directory",
        "text-file": "is not a SQLite database",
        "other-url": "unsupported database URL scheme 'mysql'",
    }[kind]
    assert expected in err
    assert "Traceback" not in err and "hunter2" not in err


def test_database_url_wins_over_the_feedback_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.settings import Settings

    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FAQ_FEEDBACK_DB": str(tmp_path / "old.sqlite3"),
        "FAQ_DATABASE_URL": "postgresql://faq:s3cret@db.internal:5432/faq",
    }
    settings = Settings.from_env(env)
    assert settings.feedback_db == env["FAQ_DATABASE_URL"]
    assert "s3cret" not in repr(settings)
    assert redact(env["FAQ_DATABASE_URL"]) == "postgresql://faq:***@db.internal:5432/faq"


def test_a_database_from_before_versioning_opens_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # the schema as the bot wrote it before this change
        conn.executescript(
            "CREATE TABLE answers (answer_id TEXT PRIMARY KEY, asked_at REAL NOT NULL, "
            "surface TEXT NOT NULL, question TEXT NOT NULL, entry_id TEXT, entry_title TEXT, "
            "band TEXT NOT NULL);"
            "CREATE TABLE votes (answer_id TEXT NOT NULL, voter TEXT NOT NULL, vote TEXT NOT "
            "NULL, entry_id TEXT NOT NULL, voted_at REAL NOT NULL, PRIMARY KEY (answer_id, voter));"
            "CREATE TABLE seen_events (event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL);"
            "INSERT INTO answers VALUES ('a1', 1.0, 'dm', 'q', 'faq/x', 'X', 'answer');"
            "INSERT INTO seen_events VALUES ('Ev1', 1e12);"
            "PRAGMA user_version=1;"
        )
    conn.close()
    db = open_database(path)
    store, events = FeedbackStore(db), EventLog(db)
    assert store.report().answers == 1
    assert events.first_time("Ev1") is False and events.first_time("Ev2") is True
    with sqlite3.connect(path) as conn:
        versions = dict(conn.execute("SELECT component, version FROM schema_version"))
    conn.close()
    assert versions == {"feedback": 2, "events": 1}  # step 2: the learning tables


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = open_database(tmp_path / "f.sqlite3")
    FeedbackStore(db)
    with db.transaction() as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'feedback'")
    with pytest.raises(DatabaseConfigError, match="schema version 99, newer than this faq-kb"):
        FeedbackStore(db)


def test_a_read_only_database_with_its_schema_still_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker restarted while the file is read-only (or full) serves, degraded."""
    from typing import Any

    from kb.learn.database import SqliteDatabase

    path = tmp_path / "f.sqlite3"
    db = open_database(path)
    FeedbackStore(db), EventLog(db)  # the schema is in place
    original = SqliteDatabase.transaction

    def read_only(self: SqliteDatabase, **kw: Any) -> Any:
        if kw.get("write", True):
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return original(self, **kw)

    monkeypatch.setattr(SqliteDatabase, "transaction", read_only)
    db = open_database(path)
    store, events = FeedbackStore(db), EventLog(db)
    assert store.report().answers == 0
    assert events.first_time("Ev1") is True and events.first_time("Ev1") is False
    assert events.fallbacks == 1
