"""`faq-kb diff` on the seed FAQ against real edits of it, in a real git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli.main import kb_main
from tests.conftest import SEED_URL
from tests.git_fixture import edit_seed, git, repo
from tests.test_cli import assert_golden

__all__ = ["repo"]

QUESTIONS = [
    {"question": "too many open files", "answers": ["Too many open file descriptors?"]},
    {"question": "pip install on running workers", "answers": ["Temporary installations"]},
    {"question": "send my local module to the workers with upload_file", "answers": []},
    {"question": "How do I use external modules?", "answers": []},
]


def _edited(repo: Path) -> list[str]:
    """Commit the three edits; the diff arguments that ask only QUESTIONS."""
    edit_seed(repo / "faq" / "distributed" / "faq.rst")
    git(repo, "commit", "-q", "-am", "Edit the FAQ")
    questions = repo / "questions.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    manifest = repo / "faq" / "sources.toml"
    return ["diff", "--manifest", str(manifest), "--no-titles", "--questions", str(questions)]


def test_diff_markdown_names_every_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A retitle (anchor change), a removed sub-part and a moved link, as a PR comment."""
    args = _edited(repo)
    assert kb_main([*args, "--base-rev", "origin/main"]) == 1
    assert_golden("diff-seed.md", capsys.readouterr().out)


def test_diff_json_and_fail_on(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same report as JSON; --fail-on picks what fails (here nothing that happened)."""
    args = _edited(repo)
    assert kb_main([*args, "--base-rev", "origin/main", "--json"]) == 1
    assert_golden("diff-seed.json", capsys.readouterr().out)
    assert kb_main([*args, "--base-rev", "origin/main", "--fail-on", "ambiguous"]) == 0
    assert kb_main([*args, "--base-rev", "origin/main", "--fail-on", "none"]) == 0
    capsys.readouterr()
    assert kb_main([*args, "--base-rev", "origin/main", "--fail-on", "typo"]) == 2
    assert "--fail-on: unknown typo" in capsys.readouterr().err


def test_diff_against_a_base_file_matches_by_deep_link(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--base PATH=URL`: other file names, the same deep links: the same report body."""
    base = tmp_path / "old-faq.rst"
    base.write_text((repo / "faq" / "distributed" / "faq.rst").read_text())
    args = _edited(repo)
    assert kb_main([*args, "--base", f"{base}={SEED_URL}", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["before"]["url"].split("#")[1] for r in report["retitled"]] == [
        "too-many-open-file-descriptors"
    ]
    assert [e["title"] for e in report["removed"]] == ["Temporary installations"]
    assert report["added"] == []


def test_by_default_every_title_and_alias_is_asked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --no-titles the entries' own questions are asked: the retitle shows there."""
    edit_seed(repo / "faq" / "distributed" / "faq.rst")
    manifest = repo / "faq" / "sources.toml"
    assert kb_main(["diff", "--manifest", str(manifest), "--base-rev", "HEAD", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["questions_asked"] > 50
    changes = {(q["question"], q["change"]) for q in report["questions"]}
    # The old title now finds the retitled entry at its new link, less surely (kb.hybrid's
    # confidence may drop below "answer" for the words it lost): either way, flagged.
    assert {c for q, c in changes if q == "Too many open file descriptors?"} <= {
        "link-change",
        "lost-answer",
    }
    assert any(q == "Too many open file descriptors?" for q, _ in changes)
    assert ("Temporary installations", "lost-answer") in changes


def test_an_unknown_revision_is_a_clear_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = repo / "faq" / "sources.toml"
    assert kb_main(["diff", "--manifest", str(manifest), "--base-rev", "no-such-rev"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: git show no-such-rev:faq/distributed/faq.rst in ")


def test_the_bots_questions_are_asked_and_ambiguity_is_flagged(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--feedback-db: every logged question; a near-duplicate entry makes one ambiguous.

    (Without aliases: with them the original keeps a clear lead over the duplicate.)"""
    from kb.learn.feedback import FeedbackStore
    from tests.git_fixture import git

    git(repo, "rm", "-q", "faq/distributed/faq.aliases.toml")
    git(repo, "commit", "-q", "-m", "No aliases")
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    for n, question in enumerate(["Does Dask handle Data Locality?", "unrelated banana"]):
        store.record_answer(f"a{n}", question, surface="mention", band="answer")
    faq = repo / "faq" / "distributed" / "faq.rst"
    faq.write_text(
        faq.read_text()
        + "\nDoes Dask handle data locality well?\n"
        + "~" * 36
        + "\n\nYes, Dask handles data locality: it schedules tasks where the data lives.\n"
    )
    manifest = repo / "faq" / "sources.toml"
    args = ["diff", "--manifest", str(manifest), "--base-rev", "HEAD", "--no-titles"]
    fail_on = ["--fail-on", "ambiguous,lost-answer"]
    assert kb_main([*args, "--feedback-db", str(db), "--json", *fail_on]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["questions_asked"] == 2
    # Two entries now claim it: still answered but ambiguous, or no longer confident at all.
    [(question, change)] = [(q["question"], q["change"]) for q in report["questions"]]
    assert question == "Does Dask handle Data Locality?"
    assert change in {"ambiguous", "lost-answer"}
    assert [e["title"] for e in report["added"]] == ["Does Dask handle data locality well?"]


def test_a_long_question_table_is_cut_for_a_pr_comment() -> None:
    """Past MAX_ROWS questions the Markdown says how many more the JSON has."""
    from kb.maintain.diff import DiffReport, EntryRef, QuestionChange
    from kb.render.diff_markdown import MAX_ROWS, format_markdown

    entry = EntryRef(id="f/a", title="A | B", url="https://example.com/f.html#a")
    changes = [
        QuestionChange(question=f"q{n:04}", change="lost-answer", before=entry, after=None)
        for n in range(MAX_ROWS + 7)
    ]
    report = DiffReport(
        base="main",
        head="working tree",
        questions_asked=len(changes),
        added=[],
        removed=[],
        retitled=[],
        changed=[],
        questions=changes,
        regressions={"lost-answer": len(changes)},
        fail_on=["lost-answer"],
        failed=True,
    )
    text = format_markdown(report)
    assert text.count("| lost its confident answer |") == MAX_ROWS
    assert text.endswith("\n… and 7 more (`faq-kb diff --json` lists all)\n")
    assert "[A \\| B](https://example.com/f.html#a)" in text
    assert len(text) < 65_536


def test_diff_against_a_base_manifest(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--base-manifest FILE`: another manifest naming the old files under the same names."""
    old = tmp_path / "old"
    old.mkdir()
    (old / "faq.rst").write_text((repo / "faq" / "distributed" / "faq.rst").read_text())
    (old / "sources.toml").write_text(
        f'[[source]]\nname = "distributed"\npath = "faq.rst"\nurl = "{SEED_URL}"\n'
    )
    args = _edited(repo)
    assert kb_main([*args, "--base-manifest", str(old / "sources.toml"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    # The structural regressions; whether a question also loses its confident answer
    # depends on kb.hybrid's fitted bands (tested above with the golden report).
    regressions = report["regressions"]
    assert (regressions["anchor-change"], regressions["removed"]) == (1, 1)
