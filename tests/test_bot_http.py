"""The bot end to end over HTTP: signed requests in, recorded Web API calls out."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks import MAX_BLOCKS, SECTION_LIMIT
from tests.slack_fakes import (
    BOT_ID,
    BOT_USER_ID,
    Reply,
    dm,
    event_body,
    mention,
    post_signed,
    wait_until,
)

EXTERNAL = "https://distributed.dask.org/en/stable/faq.html#how-do-i-use-external-modules"
OPEN_FILES = "https://distributed.dask.org/en/stable/faq.html#too-many-open-file-descriptors"

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot

pytest_plugins = ["tests.conftest_bot"]


def assert_valid_message(call_body: dict[str, Any]) -> None:
    """Within Block Kit's limits, every block valid per slack_sdk's models, text set."""
    blocks = call_body["blocks"]
    assert call_body["text"].strip()
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_LIMIT


def posted_urls(blocks: list[dict[str, Any]]) -> list[str]:
    """The entries a message names: the title's link, then the alternatives' links."""
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    also = [s for s in sections if s.startswith(("*Also see*", "*Closest questions*"))]
    return _links(sections[0])[:1] + (_links(also[0]) if also else [])


def _links(text: str) -> list[str]:
    out = []
    for part in text.split("<")[1:]:
        url = part.split("|", 1)[0].split(">", 1)[0]
        if url.startswith("http"):
            out.append(url)
    return out


def dumps(data: Any) -> str:
    """JSON as Slack would show it (no ``\\u`` escapes)."""
    return json.dumps(data, ensure_ascii=False)


def no_pings(payload: dict[str, Any]) -> None:
    """No text Slack renders holds a live mention (button values are data, never shown)."""
    shown = [payload["text"]]
    for block in payload["blocks"]:
        shown.append(dumps({k: v for k, v in block.items() if k != "elements"}))
        for element in block.get("elements", []):
            shown.append(dumps(element.get("text", "")))
    dumped = "\n".join(shown)
    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U999>"):
        assert ping not in dumped


def test_url_verification_echoes_challenge(bot: RunningBot) -> None:
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"})
    reply = post_signed(bot.url, body, "application/json")
    assert reply.status == 200
    assert reply.json() == {"challenge": "abc123"}


def test_mention_gets_a_threaded_answer(bot: RunningBot) -> None:
    reply = bot.event(mention(f"<@{BOT_USER_ID}> how do I use external modules?"))
    assert reply.status == 200
    assert reply.seconds < 1.0
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    body = call.body
    assert call.headers["authorization"] == "Bearer xoxb-1111-2222-testtoken"
    assert body["channel"] == "C0001"
    assert body["thread_ts"] == "1700000000.000100"
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    assert_valid_message(body)
    title = body["blocks"][0]["text"]["text"]
    assert title == f"*<{EXTERNAL}|How do I use external modules?>*"
    answer = dumps(body["blocks"])
    assert "`client.upload_file`" in answer  # inline code kept
    assert "<https://conda.github.io/conda-pack/|conda-pack>" in answer  # link as <url|text>
    assert "• docker images" in answer  # list items
    actions = next(b for b in body["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["faq_feedback_up", "faq_feedback_down"]
    assert body["text"].startswith("How do I use external modules?")


def test_mention_inside_a_thread_replies_in_that_thread(bot: RunningBot) -> None:
    event = mention(
        f"<@{BOT_USER_ID}> too many open files",
        ts="1700000050.000300",
        thread_ts="1700000000.000900",
    )
    assert bot.event(event).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    assert call.body["thread_ts"] == "1700000000.000900"
    assert posted_urls(call.body["blocks"])[0] == OPEN_FILES


def test_dm_gets_an_answer_in_the_dm_not_threaded(bot: RunningBot) -> None:
    assert bot.event(dm("does dask handle data locality?")).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    assert call.body["channel"] == "D0001"
    assert "thread_ts" not in call.body
    assert posted_urls(call.body["blocks"])[0].endswith("#does-dask-handle-data-locality")


@pytest.mark.parametrize(
    "event",
    [
        dm("too many open files", user=BOT_USER_ID),  # its own message
        dm("too many open files", bot_id=BOT_ID),
        dm("too many open files", bot_id="BOTHER", user="UOTHERBOT"),  # another bot
        dm("too many open files", subtype="bot_message", bot_id="BOTHER"),
        dm("too many open files", subtype="message_changed"),
        dm("", subtype="message_deleted"),
        mention(f"<@{BOT_USER_ID}> too many open files", bot_id="BOTHER"),
        {**dm("too many open files"), "channel_type": "channel", "channel": "C0001"},
    ],
    ids=[
        "own-user",
        "own-bot",
        "other-bot",
        "bot-message",
        "edit",
        "delete",
        "bot-mention",
        "chan",
    ],
)
def test_ignored_messages_get_200_and_no_reply(bot: RunningBot, event: dict[str, Any]) -> None:
    assert bot.event(event).status == 200
    # A real question afterwards is answered: so the ignored one would have been seen by now.
    assert bot.event(dm("does dask handle data locality?", ts="1700000009.000001")).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    bot.fake.assert_stays("/api/chat.postMessage", 1)
    assert call.body["channel"] == "D0001"
    assert posted_urls(call.body["blocks"])[0].endswith("#does-dask-handle-data-locality")


def test_retried_event_is_answered_once(bot: RunningBot) -> None:
    event = mention(f"<@{BOT_USER_ID}> too many open files")
    first = bot.event(event, event_id="EvRETRY1")
    retry = bot.event(
        event,
        event_id="EvRETRY1",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first.status == retry.status == 200
    bot.fake.wait_for("/api/chat.postMessage")
    assert bot.event(dm("data locality", ts="1700000009.000002")).status == 200
    bot.fake.wait_for("/api/chat.postMessage", n=2)
    bot.fake.assert_stays("/api/chat.postMessage", 2)
    threaded = [
        c for c in bot.fake.calls_to("/api/chat.postMessage") if c.body["channel"] == "C0001"
    ]
    assert len(threaded) == 1


def test_forged_signature_and_old_timestamp_are_rejected(bot: RunningBot) -> None:
    body = event_body(mention(f"<@{BOT_USER_ID}> too many open files"))
    forged = post_signed(bot.url, body, "application/json", sign_with="f" * 32)
    old = post_signed(bot.url, body, "application/json", timestamp=int(time.time()) - 360)
    assert (forged.status, old.status) == (401, 401)
    assert forged.json() == {"error": "invalid request"}
    # Nothing reached Slack's API but the start-up token check.
    assert [c.path for c in bot.fake.calls] == ["/api/auth.test"]


def test_channel_ping_in_a_question_is_escaped(bot: RunningBot) -> None:
    text = f"<@{BOT_USER_ID}> <!channel> <!here> <@U999> &amp; &lt;b&gt; banana spaceship"
    assert bot.event(mention(text)).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    no_pings(call.body)
    assert_valid_message(call.body)
    echoed = dumps(call.body["blocks"])
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U999&gt; &amp; &lt;b&gt;" in echoed
    assert "&lt;!channel&gt;" in call.body["text"]


# kb's bands may be re-tuned: the test takes the first of these kb calls "suggest".
SUGGEST_CANDIDATES = [
    "environment variables on workers",
    "worker crashed",
    "worker memory spilling",
]


def test_no_confident_answer_says_so_with_suggestions_and_page(bot: RunningBot) -> None:
    question = next(q for q in SUGGEST_CANDIDATES if bot.kb.search(q, k=4).band == "suggest")
    hits = bot.kb.search(question, k=4).hits
    expected = [hit.entry["url"] for hit in hits]
    assert bot.event(mention(f"<@{BOT_USER_ID}> {question}")).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    blocks = call.body["blocks"]
    assert_valid_message(call.body)
    assert "couldn't find a confident answer" in blocks[0]["text"]["text"]
    closest = next(b for b in blocks if b["type"] == "section" and "Closest" in b["text"]["text"])
    assert _links(closest["text"]["text"]) == expected
    assert "<https://distributed.dask.org/en/stable/faq.html|" in dumps(blocks)
    [choose] = [b for b in blocks if b["type"] == "actions"]
    assert choose["block_id"] == "faq_suggestions"
    assert [e["text"]["text"] for e in choose["elements"]] == [h.entry["title"] for h in hits]
    assert call.body["text"].startswith("No confident answer")


def test_nothing_close_gives_no_suggestions_only_the_faq_page(bot: RunningBot) -> None:
    assert bot.kb.search("quantum banana teleporter", k=4).band == "none"
    assert bot.event(dm("quantum banana teleporter")).status == 200
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    shown = dumps(call.body["blocks"])
    assert "couldn't find a confident answer" in shown and "Closest" not in shown
    assert "Browse the whole FAQ: <https://distributed.dask.org/en/stable/faq.html|" in shown


def test_slash_command_without_text_is_help(bot: RunningBot) -> None:
    reply = bot.command("   ")
    assert reply.status == 200
    assert "/faq how do I use external modules?" in reply.json()["text"]
    assert bot.fake.calls_to("/response/r-cmd") == []


def test_slash_command_answers_only_the_asker(bot: RunningBot) -> None:
    reply = bot.command("<!channel> too many open files")
    assert reply.status == 200 and reply.body == ""
    [call] = bot.fake.wait_for("/response/r-cmd")
    assert call.body["response_type"] == "ephemeral"
    assert call.body["unfurl_links"] is False
    assert_valid_message(call.body)
    no_pings(call.body)
    assert posted_urls(call.body["blocks"])[0] == OPEN_FILES
    assert "You asked: “&lt;!channel&gt; too many open files”" in dumps(call.body["blocks"])
    buttons = next(b for b in call.body["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons][-1] == "faq_share"
    assert bot.fake.calls_to("/api/chat.postMessage") == []


def test_share_button_posts_the_answer_in_channel(bot: RunningBot) -> None:
    bot.command("too many open files")
    [answer] = bot.fake.wait_for("/response/r-cmd")
    share = next(b for b in answer.body["blocks"] if b["type"] == "actions")["elements"][-1]
    reply = bot.click({"action_id": share["action_id"], "value": share["value"]}, ephemeral=True)
    assert reply.status == 200
    public, delete = bot.fake.wait_for("/response/r-click", n=2)
    assert public.body["response_type"] == "in_channel"
    assert public.body["replace_original"] is False
    assert posted_urls(public.body["blocks"])[0] == OPEN_FILES
    assert "faq_share" not in dumps(public.body["blocks"])
    assert delete.body["delete_original"] is True


def test_feedback_is_shown_in_place_and_stored_once(bot: RunningBot) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files"))
    [call] = bot.fake.wait_for("/api/chat.postMessage")
    up = next(b for b in call.body["blocks"] if b["type"] == "actions")["elements"][0]
    click = {"action_id": up["action_id"], "value": up["value"]}
    assert bot.click(click).status == 200
    assert bot.click(click).status == 200
    updates = bot.fake.wait_for("/api/chat.update", n=2)
    for update in updates:  # the same vote twice: the same message twice
        assert update.body["channel"] == "C0001" and update.body["ts"] == "1700000100.000001"
        assert_valid_message(update.body)
        buttons = next(b for b in update.body["blocks"] if b["type"] == "actions")["elements"]
        assert buttons[0]["text"]["text"] == "👍 Helpful ✓" and buttons[0]["style"] == "primary"
        assert "<@U0HUMAN> found this helpful" in dumps(update.body["blocks"])
    assert bot.fake.calls_to("/response/r-click") == []
    report = bot.store.report()
    assert (report.up, report.down) == (1, 0)
    assert report.entries[0].entry_id == "faq/too-many-open-file-descriptors"


def test_rate_limited_post_is_retried(bot: RunningBot) -> None:
    bot.fake.push(
        "/api/chat.postMessage",
        Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}),
    )
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files"))
    first, second = bot.fake.wait_for("/api/chat.postMessage", n=2)
    assert first.body == second.body
    bot.fake.assert_stays("/api/chat.postMessage", 2)


def test_bot_and_cli_rank_the_same(bot: RunningBot, capsys: pytest.CaptureFixture[str]) -> None:
    from kb.cli.main import search_main

    questions = ["too many open files", "external modules pip", "data locality workers"]
    for n, question in enumerate(questions):
        bot.event(dm(question, ts=f"1700000000.00{n}"))
        call = bot.fake.wait_for("/api/chat.postMessage", n=n + 1)[n]
        source = bot.kb.spec.paths[0]
        code = search_main(
            ["--json", "-k", "4", "--source", source, "--index", bot.kb.index_dir, question]
        )
        cli = json.loads(capsys.readouterr().out)
        assert code == 0 and cli["answered"]
        assert posted_urls(call.body["blocks"]) == [r["url"] for r in cli["results"]]


def test_huge_answer_stays_within_block_kit_limits(
    start_bot: Any, kb_factory: Any, tmp_path: Any
) -> None:
    sentence = "Workers need the same packages as the client, or unpickling fails. "
    code = "\n".join(f"    print({i})  # {'x' * 60}" for i in range(300))
    items = "\n".join(
        f"- item {i} with `code` and `a link <https://example.com/{i}>`_" for i in range(200)
    )
    rst = (
        "FAQ\n===\n\nHow do I install the enormous package?\n"
        "---------------------------------------\n\n"
        + "\n\n".join(sentence * 8 for _ in range(40))
        + "\n\n::\n\n"
        + code
        + "\n\n"
        + items
        + "\n"
    )
    source = tmp_path / "huge.rst"
    source.write_text(rst)
    running = start_bot(kb=kb_factory(source))
    running.event(mention(f"<@{BOT_USER_ID}> how do I install the enormous package"))
    [call] = running.fake.wait_for("/api/chat.postMessage")
    assert_valid_message(call.body)
    assert len(dumps(call.body["blocks"])) < 12_000
    sections = [b["text"]["text"] for b in call.body["blocks"] if b["type"] == "section"]
    answer = sections[1]
    assert answer.endswith("unpickling fails. …")  # cut at a sentence end
    assert "Read the full answer" in dumps(call.body["blocks"])
    assert sum(1 for s in sections if s.startswith("*Links*")) == 1
    # 👎 redraws it with more buttons: still within the limits.
    down = next(b for b in call.body["blocks"] if b["type"] == "actions")["elements"][1]
    running.click({"action_id": down["action_id"], "value": down["value"]})
    [update] = running.fake.wait_for("/api/chat.update")
    assert_valid_message(update.body)
    assert len(dumps(update.body["blocks"])) < 12_000


def test_unparsed_command_url_encoding_round_trip(bot: RunningBot) -> None:
    """Slash command text arrives form-encoded; & and + survive into the echo, escaped."""
    bot.command("a+b & c? banana")
    [call] = bot.fake.wait_for("/response/r-cmd")
    assert "a+b &amp; c? banana" in dumps(call.body["blocks"])
    assert urllib.parse.quote("&") not in call.body["text"]


def test_unusable_faq_gets_a_friendly_reply(start_bot: Any, tmp_path: Any) -> None:
    from kb.knowledge import KnowledgeBase
    from kb.spec import SourceSpec

    missing = KnowledgeBase(SourceSpec(paths=(str(tmp_path / "gone.rst"),)), tmp_path / "i")
    running = start_bot(kb=missing)
    assert running.event(dm("too many open files")).status == 200
    [call] = running.fake.wait_for("/api/chat.postMessage")
    assert call.body["text"].startswith("Sorry, the FAQ can't be searched right now")


def test_a_failing_web_api_call_is_logged_with_its_traceback(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    bot.fake.push("/api/chat.postMessage", Reply(200, {"ok": False, "error": "channel_not_found"}))
    assert bot.event(mention(f"<@{BOT_USER_ID}> too many open files")).status == 200
    bot.fake.wait_for("/api/chat.postMessage")
    record = wait_until(
        lambda: next((r for r in caplog.records if "listener failed" in r.getMessage()), None),
        what="the logged listener error",
    )
    assert record.exc_info and "channel_not_found" in str(record.exc_info[1])
    assert "xoxb-" not in caplog.text
