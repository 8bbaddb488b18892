"""Follow-ups in the bot's threads, the Home tab, and several FAQs (named, bound to
channels). Real Bolt app over signed HTTP; exact calls to the Slack stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from slack_sdk.models.blocks import Block

from kb.knowledge import KnowledgeBase
from kb.maintain.overview import focused_alternatives
from kb.spec import SourceSpec
from tests.conftest import SEED
from tests.slack_fakes import BOT_USER_ID, mention
from tests.test_bot_http import assert_valid_message, dumps

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot

pytest_plugins = ["tests.conftest_bot"]
THREAD = "1700000000.000100"


def reply(text: str, *, user: str = "U0HUMAN", ts: str = "1700000000.000200", **kw: Any) -> Any:
    """A message in the channel thread the bot answered in (message.channels)."""
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": "C0001",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": THREAD,
        "event_ts": ts,
        **kw,
    }


def test_the_askers_follow_up_in_the_thread_is_answered_without_a_mention(
    bot: RunningBot,
) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", ts=THREAD))
    bot.fake.wait_for("/api/chat.postMessage")
    assert bot.event(reply("and does dask handle data locality?")).status == 200
    _, follow = bot.fake.wait_for("/api/chat.postMessage", n=2)
    assert follow.body["channel"] == "C0001" and follow.body["thread_ts"] == THREAD
    assert_valid_message(follow.body)
    title = follow.body["blocks"][0]["text"]["text"]
    assert title.endswith("#does-dask-handle-data-locality|Does Dask handle Data Locality?>*")


@pytest.mark.parametrize(
    "event",
    [
        reply("does dask handle data locality?", user="U0OTHER"),  # someone else
        reply(f"<@{BOT_USER_ID}> data locality?"),  # app_mention answers that one
        reply("thanks!"),  # closes the conversation
        reply("ok, got it"),
        reply("data locality?", thread_ts="1600000000.000001"),  # not the bot's thread
        reply("data locality?", bot_id="B0OTHER"),
        reply("data locality?", subtype="message_changed"),
    ],
    ids=["other-person", "mention", "thanks", "ok", "other-thread", "bot", "edit"],
)
def test_other_thread_messages_get_no_reply(bot: RunningBot, event: dict[str, Any]) -> None:
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", ts=THREAD))
    bot.fake.wait_for("/api/chat.postMessage")
    assert bot.event(event).status == 200
    bot.fake.assert_stays("/api/chat.postMessage", 1)


def test_a_mention_inside_someone_elses_thread_starts_no_conversation(bot: RunningBot) -> None:
    event = mention(f"<@{BOT_USER_ID}> too many open files", ts="1700000000.000150")
    bot.event({**event, "thread_ts": THREAD})
    [answer] = bot.fake.wait_for("/api/chat.postMessage")
    assert answer.body["thread_ts"] == THREAD
    assert bot.event(reply("does dask handle data locality?")).status == 200
    bot.fake.assert_stays("/api/chat.postMessage", 1)


def test_follow_ups_can_be_turned_off(start_bot: Callable[..., RunningBot]) -> None:
    bot = start_bot(thread_followups=False)
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", ts=THREAD))
    bot.fake.wait_for("/api/chat.postMessage")
    assert bot.event(reply("does dask handle data locality?")).status == 200
    bot.fake.assert_stays("/api/chat.postMessage", 1)


def test_home_tab_says_what_the_bot_knows_and_how_to_ask(bot: RunningBot) -> None:
    event = {"type": "app_home_opened", "user": "U0HUMAN", "channel": "D0001", "tab": "home"}
    assert bot.event(event).status == 200
    [call] = bot.fake.wait_for("/api/views.publish")
    assert call.body["user_id"] == "U0HUMAN"
    view = call.body["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    for block in view["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    shown = dumps(view["blocks"])
    assert "I answer questions from *1 FAQ* (9 questions in all)" in shown
    assert "• <https://distributed.dask.org/en/stable/faq.html|faq>: 9 questions" in shown
    assert "Last rebuilt <!date^" in shown
    assert "`/faq your question`" in shown
    assert "*Try asking*\\n• How do I use external modules?\\n" in shown
    # The Messages tab opening is not the Home tab: nothing to publish.
    bot.event({**event, "tab": "messages"})
    bot.fake.assert_stays("/api/views.publish", 1)


@pytest.fixture
def two_faqs(tmp_path: Path) -> KnowledgeBase:
    other = tmp_path / "faqs" / "widgets.rst"
    other.parent.mkdir()
    (tmp_path / "faqs" / "distributed.rst").write_bytes(SEED.read_bytes())
    other.write_text(
        "Widgets FAQ\n===========\n\n"
        "How do I configure the widget?\n------------------------------\n\n"
        "Edit ``widget.toml`` and restart the widget server.\n\n"
        "Why does the widget leak file descriptors?\n"
        "------------------------------------------\n\n"
        "Old widget versions leaked sockets; upgrade to widget 2.\n"
    )
    manifest = tmp_path / "faqs" / "sources.toml"
    manifest.write_text(
        '[[source]]\nname = "distributed"\npath = "distributed.rst"\n'
        'url = "https://distributed.dask.org/en/stable/faq.html"\n\n'
        '[[source]]\nname = "widgets"\npath = "widgets.rst"\n'
        'url = "https://widgets.example/faq.html"\n'
    )
    kb = KnowledgeBase(SourceSpec(manifest), tmp_path / "index", preload=True)
    kb.open()
    return kb


def test_with_several_faqs_each_answer_names_its_faq(
    start_bot: Callable[..., RunningBot], two_faqs: KnowledgeBase
) -> None:
    bot = start_bot(kb=two_faqs)
    bot.event(mention(f"<@{BOT_USER_ID}> how do I configure the widget"))
    [post] = bot.fake.wait_for("/api/chat.postMessage")
    assert_valid_message(post.body)
    assert post.body["blocks"][1]["elements"][0]["text"].startswith("_widgets_ FAQ · Widgets FAQ")


def test_a_channel_bound_to_a_source_searches_only_it(
    start_bot: Callable[..., RunningBot], two_faqs: KnowledgeBase
) -> None:
    bot = start_bot(kb=two_faqs, channel_sources=(("C0WIDGET", ("widgets",)),))
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", channel="C0001"))
    [everywhere] = bot.fake.wait_for("/api/chat.postMessage")
    assert "#too-many-open-file-descriptors|" in everywhere.body["blocks"][0]["text"]["text"]
    bot.event(mention(f"<@{BOT_USER_ID}> too many open files", channel="C0WIDGET"))
    _, bound = bot.fake.wait_for("/api/chat.postMessage", n=2)
    assert bound.body["channel"] == "C0WIDGET"
    shown = dumps(bound.body["blocks"])
    assert "distributed.dask.org" not in shown
    assert "widgets.example" in shown


class _Hit:
    def __init__(self, source: str, score: float) -> None:
        self.entry = {"id": f"{source}/q{score}", "collection": source}
        self.score = score


def test_alternatives_come_from_the_best_answers_faq_unless_close_in_score() -> None:
    hits: Any = [_Hit("a", 10.0), _Hit("b", 9.0), _Hit("b", 5.0), _Hit("a", 4.0), _Hit("a", 3.0)]
    kept = focused_alternatives(hits, 4)
    assert [h.entry["id"] for h in kept] == ["a/q10.0", "b/q9.0", "a/q4.0", "a/q3.0"]
