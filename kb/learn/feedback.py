"""What readers thought of the answers: answers and votes in the bot's database, a report.

The bot records every answer it gives (question, entry, whether it was confident) and every
👍/👎, one vote per person per answer, in its database (``kb.learn.database``: a SQLite file, or
PostgreSQL shared by replicas). ``faq-kb feedback`` reads the same database: counts per
entry, the questions that got 👎 or no confident answer, and those as an eval file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from kb.errors import FaqError
from kb.learn.database import (
    DEFAULT_TIMEOUT,
    Connection,
    Database,
    is_postgres_url,
    open_database,
    redact,
)

Vote = Literal["up", "down"]
VoteOutcome = Literal["new", "same", "changed"]
# Slack allows 4,000 characters of message text; nobody's question is longer.
MAX_QUESTION_CHARS = 4000
# The feedback tables, as migrations (see kb.learn.database): append a step, never edit one.
# Step 1 is the original schema, so files written before versioning open unchanged.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS answers (
            answer_id   TEXT PRIMARY KEY,
            asked_at    DOUBLE PRECISION NOT NULL,
            surface     TEXT NOT NULL,
            question    TEXT NOT NULL,
            entry_id    TEXT,
            entry_title TEXT,
            band        TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS votes (
            answer_id TEXT NOT NULL,
            voter     TEXT NOT NULL,
            vote      TEXT NOT NULL CHECK (vote IN ('up', 'down')),
            entry_id  TEXT NOT NULL,
            voted_at  DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (answer_id, voter)
        )""",
        "CREATE INDEX IF NOT EXISTS answers_band ON answers (band)",
    ),
    (  # what 👎 voters said was wrong, and which entry answered a question (learning)
        """CREATE TABLE IF NOT EXISTS reasons (
            answer_id TEXT NOT NULL,
            voter     TEXT NOT NULL,
            reason    TEXT NOT NULL,
            entry_id  TEXT NOT NULL,
            given_at  DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (answer_id, voter)
        )""",
        """CREATE TABLE IF NOT EXISTS choices (
            answer_id TEXT NOT NULL,
            voter     TEXT NOT NULL,
            question  TEXT NOT NULL,
            entry_id  TEXT NOT NULL,
            how       TEXT NOT NULL CHECK (how IN ('picked', 'helpful')),
            chosen_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (answer_id, voter, entry_id)
        )""",
    ),
)
# Logging an answer must never hold up the answer itself for long.
RECORD_TIMEOUT = 2.0
_UP = "CASE WHEN vote = 'up' THEN 1 ELSE 0 END"
_DOWN = "CASE WHEN vote = 'down' THEN 1 ELSE 0 END"
Reason = Literal["wrong", "outdated", "unanswered"]
Choice = Literal["picked", "helpful"]


def default_db_path() -> str:
    """Where feedback is kept unless ``$FAQ_FEEDBACK_DB`` or ``--db`` says otherwise."""
    env = os.environ.get("FAQ_FEEDBACK_DB")
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "faq-kb", "feedback.sqlite3")


def default_database() -> str:
    """The bot's database: ``$FAQ_DATABASE_URL`` (a path or ``postgresql://…``), else
    ``$FAQ_FEEDBACK_DB``, else a file in the per-user data folder."""
    return os.environ.get("FAQ_DATABASE_URL") or default_db_path()


def _voter_key(user: str) -> str:
    # Only uniqueness is needed, so the Slack user id is not kept as such.
    return hashlib.sha256(f"faq-kb:{user}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class EntryVotes:
    """👍 and 👎 counts of one entry."""

    entry_id: str
    title: str
    up: int
    down: int


@dataclass(frozen=True)
class AskedQuestion:
    """A question that needs a maintainer's look, with what the bot answered (if anything)."""

    question: str
    reason: Literal["not_helpful", "no_answer"]
    count: int
    bot_answer: str | None = None


@dataclass(frozen=True)
class FeedbackReport:
    """Everything ``faq-kb feedback`` shows."""

    path: str
    answers: int
    up: int
    down: int
    unanswered: int
    entries: list[EntryVotes] = field(default_factory=list)
    questions: list[AskedQuestion] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """The report as plain JSON data (``--json``)."""
        return {
            "db": self.path,
            "answers": self.answers,
            "votes": {"up": self.up, "down": self.down},
            "unanswered": self.unanswered,
            "entries": [e.__dict__ for e in self.entries],
            "questions": [q.__dict__ for q in self.questions],
        }

    def eval_lines(self) -> list[str]:
        """The questions in DESIGN.md's eval format, one JSON object a line.

        ``answers`` is empty ("nothing answers this") until a maintainer writes in the
        title of the entry that does; ``needs_label`` marks the lines still to check.
        """
        lines = []
        for q in self.questions:
            record = {
                "question": q.question,
                "answers": [],
                "needs_label": True,
                "reason": q.reason,
                "bot_answer": q.bot_answer,
                "count": q.count,
                "source": "slack-feedback",
            }
            lines.append(json.dumps(record, ensure_ascii=False))
        return lines


class FeedbackStore:
    """Answers and votes in the bot's database (kb.learn.database): a SQLite file or PostgreSQL.

    Safe to share between threads, processes and hosts; ``path`` names it (no password).
    """

    def __init__(self, target: str | os.PathLike[str] | Database) -> None:
        self.db = target if isinstance(target, Database) else open_database(target)
        self.path = self.db.display
        self.db.migrate("feedback", MIGRATIONS)

    @contextmanager
    def _connect(
        self, timeout: float = DEFAULT_TIMEOUT, *, write: bool = True
    ) -> Iterator[Connection]:
        with self.db.transaction(timeout=timeout, write=write) as conn:
            yield conn

    def record_answer(
        self,
        answer_id: str,
        question: str,
        *,
        surface: str,
        band: str,
        entry_id: str | None = None,
        entry_title: str | None = None,
    ) -> None:
        """Remember one answer given (or the lack of one), to report on it later."""
        with self._connect(RECORD_TIMEOUT) as conn:
            conn.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    answer_id,
                    time.time(),
                    surface,
                    question[:MAX_QUESTION_CHARS],
                    entry_id,
                    entry_title,
                    band,
                ),
            )

    def record_vote(self, answer_id: str, user: str, vote: Vote, entry_id: str) -> VoteOutcome:
        """Store one person's vote on one answer; a second click replaces, never adds.

        Returns "new", "same" (the same vote again: nothing stored) or "changed". Insert
        first, then update only a different vote: atomic on both databases, no lock held.
        """
        voter = _voter_key(user)
        now = time.time()
        with self._connect() as conn:
            inserted = conn.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (answer_id, voter, vote, entry_id, now),
            ).rowcount
            if inserted == 1:
                return "new"
            changed = conn.execute(
                "UPDATE votes SET vote = ?, voted_at = ? "
                "WHERE answer_id = ? AND voter = ? AND vote != ?",
                (vote, now, answer_id, voter, vote),
            ).rowcount
            return "changed" if changed == 1 else "same"

    def record_reason(self, answer_id: str, user: str, reason: Reason, entry_id: str) -> None:
        """Store what was wrong with an answer voted 👎 (one reason per person, replaceable)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO reasons VALUES (?, ?, ?, ?, ?) ON CONFLICT (answer_id, voter) "
                "DO UPDATE SET reason = excluded.reason, given_at = excluded.given_at",
                (answer_id, _voter_key(user), reason, entry_id, time.time()),
            )

    def record_choice(
        self, answer_id: str, user: str, question: str, entry_id: str, how: Choice
    ) -> None:
        """Remember that ``entry_id`` answered ``question`` for someone: they picked it from
        the closest questions, or voted it helpful. Once per person, answer and entry."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO choices VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (answer_id, voter, entry_id) DO NOTHING",
                (
                    answer_id,
                    _voter_key(user),
                    question[:MAX_QUESTION_CHARS],
                    entry_id,
                    how,
                    time.time(),
                ),
            )

    def forget_choice(self, answer_id: str, user: str, entry_id: str, how: Choice) -> None:
        """Take back a choice (a 👍 changed to 👎)."""
        with self._connect() as conn:
            conn.execute(
                "DELETE FROM choices WHERE answer_id = ? AND voter = ? AND entry_id = ? "
                "AND how = ?",
                (answer_id, _voter_key(user), entry_id, how),
            )

    def choices(self) -> list[tuple[str, str, str]]:
        """Every recorded (question, entry id, how), oldest first."""
        with self._connect(write=False) as conn:
            return [
                (str(q), str(e), str(h))
                for q, e, h in conn.execute(
                    "SELECT question, entry_id, how FROM choices "
                    "ORDER BY chosen_at, answer_id, voter, entry_id"
                ).fetchall()
            ]

    def reasons(self) -> dict[str, int]:
        """How often each reason was given for a 👎."""
        with self._connect(write=False) as conn:
            return {
                str(r): int(n)
                for r, n in conn.execute(
                    "SELECT reason, COUNT(*) FROM reasons GROUP BY reason"
                ).fetchall()
            }

    def report(self, *, limit: int = 200) -> FeedbackReport:
        """Counts per entry and the questions that need a look, most frequent first."""
        with self._connect(write=False) as conn:
            answers, unanswered = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN band != 'answer' THEN 1 ELSE 0 END), 0) "
                "FROM answers"
            ).fetchone()
            up, down = conn.execute(
                f"SELECT COALESCE(SUM({_UP}), 0), COALESCE(SUM({_DOWN}), 0) FROM votes"
            ).fetchone()
            entries = [
                EntryVotes(entry_id, title or entry_id, int(u), int(d))
                for entry_id, title, u, d in conn.execute(
                    "SELECT v.entry_id, (SELECT a.entry_title FROM answers a "
                    "  WHERE a.entry_id = v.entry_id AND a.entry_title IS NOT NULL LIMIT 1), "
                    f"SUM({_UP}), SUM({_DOWN}) FROM votes v "
                    f"GROUP BY v.entry_id ORDER BY SUM({_DOWN}) DESC, COUNT(*) DESC, "
                    "v.entry_id"
                ).fetchall()
            ]
            disliked = [
                AskedQuestion(question, "not_helpful", int(n), title)
                for question, title, n in conn.execute(
                    "SELECT a.question, a.entry_title, COUNT(*) FROM votes v "
                    "JOIN answers a ON a.answer_id = v.answer_id WHERE v.vote = 'down' "
                    "GROUP BY a.question, a.entry_title ORDER BY COUNT(*) DESC, a.question "
                    "LIMIT ?",
                    (limit,),
                ).fetchall()
            ]
            missed = [
                AskedQuestion(question, "no_answer", int(n), None)
                for question, n in conn.execute(
                    "SELECT MIN(question), COUNT(*) FROM answers WHERE band != 'answer' "
                    "GROUP BY LOWER(TRIM(question)) ORDER BY COUNT(*) DESC, MIN(question) "
                    "LIMIT ?",
                    (limit,),
                ).fetchall()
            ]
        return FeedbackReport(
            self.path,
            int(answers),
            int(up),
            int(down),
            int(unanswered),
            entries,
            disliked + missed,
        )


def format_report(report: FeedbackReport) -> str:
    """The report for a person at a terminal."""
    out = [
        f"{report.answers} answers given, {report.unanswered} without a confident answer; "
        f"votes: {report.up} 👍, {report.down} 👎  ({report.path})"
    ]
    if report.entries:
        out += ["", "Votes per entry (👍 👎)"]
        out += [f"  {e.up:3d} {e.down:3d}  {e.entry_id}  {e.title}" for e in report.entries]
    for reason, heading in (
        ("not_helpful", "Questions answered 👎"),
        ("no_answer", "Questions without a confident answer"),
    ):
        rows = [q for q in report.questions if q.reason == reason]
        if not rows:
            continue
        out += ["", heading]
        for q in rows:
            times = f" ({q.count}×)" if q.count > 1 else ""
            got = f"  → {q.bot_answer}" if q.bot_answer else ""
            out.append(f"  • {_one_line(q.question)}{times}{got}")
    return "\n".join(out) + "\n"


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def feedback_command(args: argparse.Namespace) -> int:
    """Run ``faq-kb feedback``; returns the exit status.

    Raises:
        FaqError: no database at the path, or it is not a feedback database.
    """
    path = args.db or default_database()
    if not is_postgres_url(path) and not os.path.exists(path):
        raise FaqError(
            f"no feedback database at {path}; the bot creates it when it first answers "
            "(use --db PATH, FAQ_DATABASE_URL or FAQ_FEEDBACK_DB for another one)"
        )
    try:
        report = FeedbackStore(path).report()
    except sqlite3.DatabaseError as exc:
        raise FaqError(f"{redact(path)} is not a faq-kb feedback database ({exc})") from None
    if args.export_eval:
        lines = report.eval_lines()
        with open(args.export_eval, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        print(f"wrote {len(lines)} questions to {args.export_eval}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report))
    return 0
