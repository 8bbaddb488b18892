"""The feedback store and ``faq-kb feedback``: durable, one vote per person, exportable."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.answers import Answers
from kb.cli.main import kb_main
from kb.knowledge import KnowledgeBase
from kb.learn.feedback import FeedbackStore

pytest_plugins = ["tests.conftest_bot"]


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    """A store with two answers, one non-answer, and some votes."""
    store = FeedbackStore(tmp_path / "sub" / "feedback.sqlite3")
    store.record_answer(
        "a1",
        "too many open files?",
        surface="mention",
        band="answer",
        entry_id="faq/fds",
        entry_title="Too many open file descriptors?",
    )
    store.record_answer(
        "a2",
        "ulimit error",
        surface="dm",
        band="answer",
        entry_id="faq/fds",
        entry_title="Too many open file descriptors?",
    )
    store.record_answer("a3", "Worker memory spilling", surface="command", band="suggest")
    store.record_answer("a4", "worker memory spilling ", surface="dm", band="none")
    return store


def test_one_vote_per_person_per_answer(store: FeedbackStore) -> None:
    assert store.record_vote("a1", "U1", "up", "faq/fds") == "new"
    assert store.record_vote("a1", "U1", "up", "faq/fds") == "same"
    assert store.record_vote("a1", "U2", "up", "faq/fds") == "new"
    assert store.record_vote("a2", "U1", "up", "faq/fds") == "new"
    assert store.record_vote("a2", "U1", "down", "faq/fds") == "changed"
    report = FeedbackStore(store.path).report()  # a new handle: what is on disk
    assert (report.answers, report.unanswered, report.up, report.down) == (4, 2, 2, 1)
    [fds] = report.entries
    assert (fds.entry_id, fds.title, fds.up, fds.down) == (
        "faq/fds",
        "Too many open file descriptors?",
        2,
        1,
    )
    questions = [(q.reason, q.question, q.count, q.bot_answer) for q in report.questions]
    assert questions == [
        ("not_helpful", "ulimit error", 1, "Too many open file descriptors?"),
        ("no_answer", "Worker memory spilling", 2, None),
    ]


def test_concurrent_double_clicks_store_one_vote(store: FeedbackStore) -> None:
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: outcomes.append(store.record_vote("a1", "U1", "down", "faq/fds"))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["new"] + ["same"] * 7
    assert store.report().down == 1


def test_answers_logs_confident_and_unanswered_questions(
    tmp_path: Path, shipped_kb: KnowledgeBase
) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    answers = Answers(shipped_kb, store)
    answers.reply("too many open files", surface="dm")
    answers.reply("quantum banana teleporter", surface="mention")
    report = store.report()
    assert (report.answers, report.unanswered) == (2, 1)
    assert [q.question for q in report.questions] == ["quantum banana teleporter"]


def test_cli_report_json_and_eval_export(
    store: FeedbackStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.record_vote("a2", "U1", "down", "faq/fds")
    assert kb_main(["feedback", "--db", store.path]) == 0
    text = capsys.readouterr().out
    assert "4 answers given, 2 without a confident answer; votes: 0 👍, 1 👎" in text
    assert "  • ulimit error  → Too many open file descriptors?" in text
    assert "  • Worker memory spilling (2×)" in text

    assert kb_main(["feedback", "--db", store.path, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["votes"] == {"up": 0, "down": 1}
    assert data["entries"][0]["entry_id"] == "faq/fds"

    target = tmp_path / "todo.jsonl"
    assert kb_main(["feedback", "--db", store.path, "--export-eval", str(target)]) == 0
    assert "wrote 2 questions" in capsys.readouterr().err
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(x["question"], x["answers"], x["needs_label"]) for x in lines] == [
        ("ulimit error", [], True),
        ("Worker memory spilling", [], True),
    ]


def test_cli_without_a_database_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    missing = tmp_path / "nope.sqlite3"
    assert kb_main(["feedback", "--db", str(missing)]) == 2
    assert f"error: no feedback database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_exported_eval_file_loads_in_faq_kb_eval(store: FeedbackStore, tmp_path: Path) -> None:
    from kb.maintain.evaluate import load_questions

    target = tmp_path / "todo.jsonl"
    assert kb_main(["feedback", "--db", store.path, "--export-eval", str(target)]) == 0
    questions = load_questions(str(target))
    assert [q.text for q in questions] == ["Worker memory spilling"]
    assert questions[0].answers == ()
