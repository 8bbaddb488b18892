"""The bot people keep using: votes in place, what was wrong, suggestions, Share, next step,
small talk. Real Bolt app over signed HTTP; exact calls to the Slack stand-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from bot.escalate import Escalation
from bot.state import decode
from tests.slack_fakes import BOT_USER_ID, dm, mention
from tests.test_bot_http import SUGGEST_CANDIDATES, assert_valid_message, dumps

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot

pytest_plugins = ["tests.conftest_bot"]


def buttons(body: dict[str, Any], block_id: str = "faq_actions") -> list[dict[str, Any]]:
    """The buttons of one actions block of a posted or updated message."""
    block = next(b for b in body["blocks"] if b.get("block_id") == block_id)
    return list(block["elements"])


def press(button: dict[str, Any]) -> dict[str, Any]:
    return {"action_id": button["action_id"], "value": button["value"]}


def suggest_question(bot: RunningBot) -> str:
    return next(q for q in SUGGEST_CANDIDATES if bot.kb.search(q, k=4).band == "suggest")


def test_thumbs_down_asks_what_was_wrong_in_place_and_records_it(bot: RunningBot) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", thread_ts="1700000000.000009"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    down = buttons(post.body)[1]
    where = {"thread_ts": "1700000000.000009"}
    assert bot.click(press(down), message=where).status == 200
    [update] = bot.fake.wait_for("/api/chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C0001", "1700000100.000001")
    assert_valid_message(update.body)
    voted = buttons(update.body)
    assert voted[1]["text"]["text"] == "👎 Not helpful ✓" and voted[1]["style"] == "danger"
    assert "<@U0HUMAN> said this didn't help. What was wrong?" in dumps(update.body["blocks"])
    reasons = buttons(update.body, "faq_reasons")
    assert [b["text"]["text"] for b in reasons] == [
        "Wrong answer",
        "Outdated",
        "Didn't answer my question",
    ]  # no escalation configured: no "Ask" button
    assert bot.click(press(reasons[1]), message=where).status == 200
    _, second = bot.fake.wait_for("/api/chat.update", n=2)
    assert_valid_message(second.body)
    shown = dumps(second.body["blocks"])
    assert "said this didn't help: _outdated_" in shown and "faq_reasons" not in shown
    assert bot.store.reasons() == {"outdated": 1}
    report = bot.store.report()
    assert (report.up, report.down) == (0, 1)
    # The vote stays changeable: 👍 now replaces the 👎.
    bot.click(press(buttons(second.body)[0]), message=where)
    third = bot.fake.wait_for("/api/chat.update", n=3)[2]
    assert buttons(third.body)[0]["style"] == "primary"
    assert (bot.store.report().up, bot.store.report().down) == (1, 0)


def test_vote_on_a_private_answer_redraws_it_through_response_url(bot: RunningBot) -> None:
    bot.command("too many open files")
    [answer] = bot.fake.wait_for("/response/r-cmd")
    up = buttons(answer.body)[0]
    assert bot.click(press(up), ephemeral=True).status == 200
    [redraw] = bot.fake.wait_for("/response/r-click")
    assert redraw.body["replace_original"] is True
    assert_valid_message(redraw.body)
    redrawn = buttons(redraw.body)
    assert [b["action_id"] for b in redrawn] == [
        "faq_feedback_up",
        "faq_feedback_down",
        "faq_share",
    ]
    assert redrawn[0]["style"] == "primary"
    assert "You asked: “too many open files”" in dumps(redraw.body["blocks"])
    assert bot.fake.calls_to("/api/chat.update") == []


def test_share_posts_exactly_the_answer_shown_and_who_shared_it(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.command("too many open files")
    [answer] = bot.fake.wait_for("/response/r-cmd")

    def no_new_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("Share searched again")

    monkeypatch.setattr(bot.kb, "search", no_new_search)
    share = buttons(answer.body)[2]
    assert bot.click(press(share), ephemeral=True, user="U0SHARER").status == 200
    public, delete = bot.fake.wait_for("/response/r-click", n=2)
    assert public.body["response_type"] == "in_channel"
    assert_valid_message(public.body)
    private_sections = [b for b in answer.body["blocks"] if b["type"] == "section"]
    public_sections = [b for b in public.body["blocks"] if b["type"] == "section"]
    assert public_sections == private_sections
    shown = dumps(public.body["blocks"])
    assert "Shared by <@U0SHARER>" in shown and "Asked with /faq: “too many open files”" in shown
    assert "faq_share" not in shown
    assert delete.body["delete_original"] is True


def test_suggestion_button_shows_that_answer_in_place_and_is_recorded(bot: RunningBot) -> None:
    question = suggest_question(bot)
    bot.event(mention(f"<@{BOT_USER_ID}> {question}"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    choices = buttons(post.body, "faq_suggestions")
    picked = choices[1]
    entry_id = decode(picked["value"]).pick
    assert bot.click(press(picked), block_id="faq_suggestions").status == 200
    [update] = bot.fake.wait_for("/api/chat.update")
    assert (update.body["channel"], update.body["ts"]) == ("C0001", "1700000100.000001")
    assert_valid_message(update.body)
    title = update.body["blocks"][0]["text"]["text"]
    assert title.endswith(f"|{picked['text']['text']}>*")
    assert f"You asked: “{question}”" in dumps(update.body["blocks"])
    assert [b["action_id"] for b in buttons(update.body)] == [
        "faq_feedback_up",
        "faq_feedback_down",
    ]
    assert bot.store.choices() == [(question, entry_id, "picked")]


def test_thumbs_up_records_the_question_for_the_entry(bot: RunningBot) -> None:
    bot.event(dm("too many open files"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    entry_id = decode(buttons(post.body)[0]["value"]).ids[0]
    bot.click(press(buttons(post.body)[0]))
    bot.fake.wait_for("/api/chat.update")
    assert bot.store.choices() == [("too many open files", entry_id, "helpful")]


@pytest.mark.parametrize("text", ["hi", "Hello!", "help", "?", "thanks", "thank you :pray:"])
def test_small_talk_gets_a_short_reply_not_a_search(bot: RunningBot, text: str) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> {text}"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    assert_valid_message(post.body)
    if text.startswith("thank"):
        assert post.body["text"].startswith("You're welcome!")
    else:
        assert "Ask the FAQ a question: `/faq how do I use external modules?`" in post.body["text"]
    assert (text.startswith(("hi", "Hello"))) == post.body["text"].startswith("Hi!")
    assert bot.store.report().answers == 0  # no search was made or logged


@pytest.fixture
def escalating_bot(start_bot: Callable[..., RunningBot]) -> Callable[[str], RunningBot]:
    def start(target: str) -> RunningBot:
        from bot.escalate import parse_escalation

        return start_bot(escalation=parse_escalation(target))

    return start


def test_no_answer_offers_to_ask_the_group_in_the_thread(
    escalating_bot: Callable[[str], RunningBot],
) -> None:
    bot = escalating_bot("<!subteam^S0HELP|@faq-helpers>")
    bot.event(mention(f"<@{BOT_USER_ID}> quantum banana teleporter", ts="1700000000.000500"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    [ask] = buttons(post.body, "faq_next")
    assert ask["text"]["text"] == "Ask a person"
    where = {"thread_ts": "1700000000.000500"}
    assert bot.click(press(ask), message=where, block_id="faq_next").status == 200
    _, ping = bot.fake.wait_for("/api/chat.postMessage", n=2)
    assert ping.body["channel"] == "C0001" and ping.body["thread_ts"] == "1700000000.000500"
    assert ping.body["text"] == (
        "<!subteam^S0HELP> could you help <@U0HUMAN>? The FAQ had no good answer to "
        "“quantum banana teleporter”"
    )


def test_thumbs_down_offers_the_help_channel_with_a_link_to_the_thread(
    escalating_bot: Callable[[str], RunningBot],
) -> None:
    bot = escalating_bot("C0HELP")
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files <!here>", ts="1700000000.000600"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    where = {"thread_ts": "1700000000.000600"}
    bot.click(press(buttons(post.body)[1]), message=where)
    [update] = bot.fake.wait_for("/api/chat.update")
    ask = buttons(update.body, "faq_reasons")[-1]
    assert (ask["action_id"], ask["text"]["text"]) == ("faq_escalate", "Ask in the help channel")
    bot.click(press(ask), message=where, block_id="faq_reasons")
    _, asked, note = bot.fake.wait_for("/api/chat.postMessage", n=3)
    [permalink] = bot.fake.calls_to("/api/chat.getPermalink")
    assert permalink.body["message_ts"] == "1700000000.000600"
    assert asked.body["channel"] == "C0HELP" and "thread_ts" not in asked.body
    assert asked.body["text"] == (
        "<@U0HUMAN> asked in <#C0001>: “too many open files &lt;!here&gt;”. The FAQ had no "
        "good answer. <https://example.slack.com/archives/C0001/p1700000000000600|Open the thread>"
    )
    assert note.body["thread_ts"] == "1700000000.000600"
    assert note.body["text"] == "I've asked in <#C0HELP>; someone there will follow up."


def test_escalation_setting_is_checked() -> None:
    from bot.escalate import parse_escalation

    assert parse_escalation("S123ABC") == Escalation(mention="<!subteam^S123ABC>")
    assert parse_escalation("<@U42XYZ>") == Escalation(mention="<@U42XYZ>")
    assert parse_escalation("<#C0HELP|help>") == Escalation(channel="C0HELP")
    assert parse_escalation("") is None
    with pytest.raises(ValueError, match="FAQ_ESCALATE_TO"):
        parse_escalation("#help")


def test_button_values_survive_slack(bot: RunningBot) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> {'why ' * 900}too many open files"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    for button in buttons(post.body):
        assert len(button["value"]) <= 2000
        json.loads(button["value"])


def test_suggestion_in_a_private_answer_is_shown_in_place_with_share(bot: RunningBot) -> None:
    question = suggest_question(bot)
    bot.command(question)
    [answer] = bot.fake.wait_for("/response/r-cmd")
    picked = buttons(answer.body, "faq_suggestions")[0]
    assert bot.click(press(picked), ephemeral=True, block_id="faq_suggestions").status == 200
    [redraw] = bot.fake.wait_for("/response/r-click")
    assert redraw.body["replace_original"] is True
    assert_valid_message(redraw.body)
    assert [b["action_id"] for b in buttons(redraw.body)] == [
        "faq_feedback_up",
        "faq_feedback_down",
        "faq_share",
    ]
    assert bot.store.choices() == [(question, decode(picked["value"]).pick, "picked")]
