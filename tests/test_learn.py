"""Learning from use, end to end: a chosen suggestion becomes an accepted alias, and the same
question is then answered confidently. The real Bolt app, the Slack stand-in, faq-kb."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kb.cli.main import kb_main
from kb.knowledge import KnowledgeBase
from kb.learn.aliases import add_aliases
from kb.learn.feedback import FeedbackStore
from kb.spec import SourceSpec
from tests.conftest import SEED_URL as FAQ_URL
from tests.slack_fakes import BOT_USER_ID, mention
from tests.test_bot_http import SUGGEST_CANDIDATES

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot

pytest_plugins = ["tests.conftest_bot"]


def test_chosen_suggestion_becomes_an_alias_that_answers(
    start_bot: Callable[..., RunningBot],
    kb_factory: Callable[[Path], KnowledgeBase],
    seed_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    aliases = seed_copy.with_suffix(".aliases.toml")
    assert not aliases.exists()
    bot = start_bot(kb=kb_factory(seed_copy))
    question = next(q for q in SUGGEST_CANDIDATES if bot.kb.search(q, k=4).band == "suggest")
    bot.event(mention(f"<@{BOT_USER_ID}> {question}"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    suggestions = next(b for b in post.body["blocks"] if b.get("block_id") == "faq_suggestions")
    chosen = suggestions["elements"][0]
    entry_id = json.loads(chosen["value"])["p"]
    click = {"action_id": chosen["action_id"], "value": chosen["value"]}
    assert bot.click(click, block_id="faq_suggestions").status == 200
    bot.fake.wait_for("/api/chat.update")
    assert bot.store.choices() == [(question, entry_id, "picked")]

    sources = ["--source", f"{seed_copy}={FAQ_URL}", "--index", str(tmp_path / "cli-index")]
    db = ["--db", bot.store.path]
    assert kb_main(["feedback", *db, "--suggest-aliases", "--json", *sources]) == 0
    [proposal] = json.loads(capsys.readouterr().out)["proposals"]
    assert proposal["entry_id"] == entry_id
    assert proposal["questions"] == [{"question": question, "votes": 1}]
    assert kb_main(["feedback", *db, "--suggest-aliases", "--min-votes", "2", *sources]) == 0
    assert "no alias to propose" in capsys.readouterr().out

    assert kb_main(["aliases", "accept", *db, "--dry-run", *sources]) == 0
    assert "would add 1 alias line(s)" in capsys.readouterr().out and not aliases.exists()
    assert kb_main(["aliases", "accept", *db, *sources]) == 0
    assert "added 1 alias line(s) for 1 entr(ies)" in capsys.readouterr().out
    key = entry_id.split("/", 1)[1]
    assert tomllib.loads(aliases.read_text())["aliases"] == {key: [question]}

    fresh = KnowledgeBase(SourceSpec(paths=(f"{seed_copy}={FAQ_URL}",)), tmp_path / "fresh")
    result = fresh.search(question, k=3)
    assert result.answered is True
    assert result.hits[0].entry["id"] == entry_id
    # Answered now: nothing more to propose.
    assert kb_main(["feedback", *db, "--suggest-aliases", "--json", *sources]) == 0
    assert json.loads(capsys.readouterr().out)["proposals"] == []


def test_proposals_skip_what_is_answered_and_count_votes(
    tmp_path: Path, shipped_kb: KnowledgeBase
) -> None:
    from kb.learn.aliases import propose_aliases

    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record_choice(
        "a1", "U1", "too many open files", "faq/too-many-open-file-descriptors", "helpful"
    )
    store.record_choice(
        "a2", "U1", "Worker memory spilling?", "faq/killedworker-commsclosed-etc", "picked"
    )
    store.record_choice(
        "a3", "U2", "worker memory  spilling", "faq/killedworker-commsclosed-etc", "picked"
    )
    store.record_choice(
        "a3", "U2", "worker memory  spilling", "faq/killedworker-commsclosed-etc", "picked"
    )
    store.record_choice("a4", "U3", "x", "faq/no-such-entry", "picked")
    [proposal] = propose_aliases(store, shipped_kb)
    assert proposal.entry_id == "faq/killedworker-commsclosed-etc"
    assert proposal.questions == [("Worker memory spilling?", 2)]
    assert propose_aliases(store, shipped_kb, min_votes=3) == []


def test_add_aliases_keeps_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "faq.aliases.toml"
    original = (
        "# maintained by hand\n[aliases]\n"
        '"send-source" = [\n    "upload [my] code",  # why: issue 12\n    "b"\n]\n'
        "'other' = [\"one\"]  # inline\n\n[extra]\nx = 1\n"
    )
    path.write_text(original)
    add_aliases(path, {"send-source": ["c", "b"], "other": ['say "hi"'], "new": ["n"]})
    text = path.read_text()
    assert text.startswith("# maintained by hand\n[aliases]\n")
    assert "# why: issue 12" in text and "# inline" in text and "[extra]\nx = 1" in text
    data: dict[str, Any] = tomllib.loads(text)
    assert data["aliases"] == {
        "send-source": ["upload [my] code", "b", "c"],
        "other": ["one", 'say "hi"'],
        "new": ["n"],
    }
    assert data["extra"] == {"x": 1}


def test_feedback_report_says_what_was_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record_answer("a1", "ulimit", surface="dm", band="answer", entry_id="faq/fds")
    store.record_vote("a1", "U1", "down", "faq/fds")
    store.record_reason("a1", "U1", "outdated", "faq/fds")
    store.record_reason("a1", "U2", "wrong", "faq/fds")
    store.record_reason("a1", "U1", "wrong", "faq/fds")  # changed its mind: replaced
    assert kb_main(["feedback", "--db", store.path]) == 0
    assert capsys.readouterr().out.endswith("\nWhat was wrong (👎): wrong answer 2\n")
