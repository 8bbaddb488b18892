"""Button clicks: votes and what was wrong, a chosen suggestion, Share, and the next step.

Each click redraws the message it was made on, in place: ``chat.update`` for a message in
a channel or DM, the click's ``response_url`` for an ephemeral ``/faq`` answer.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import Answers
from bot.blocks import Message
from bot.buttons import FEEDBACK_UP, Feedback, who
from bot.escalate import Escalation
from bot.slack_text import escape, shorten
from bot.state import Shown, decode
from kb.learn.feedback import FeedbackStore, Reason, Vote

logger = logging.getLogger(__name__)


def _clicked(action: dict[str, Any]) -> Shown | None:
    try:
        return decode(action.get("value", ""))
    except ValueError:
        logger.warning("ignoring a button this bot did not make (%s)", action.get("action_id"))
        return None


def _where(body: dict[str, Any]) -> tuple[str, str, bool, str]:
    """(channel id, message ts, ephemeral?, thread root ts) of the clicked message."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    ts = container.get("message_ts") or message.get("ts", "")
    ephemeral = bool(container.get("is_ephemeral")) or not message
    return channel, ts, ephemeral, message.get("thread_ts") or ts


class Actions:
    """The button handlers, bound to the answers, the feedback store and the next step."""

    def __init__(
        self,
        answers: Answers,
        store: FeedbackStore | None,
        *,
        escalation: Escalation | None = None,
        command: str = "/faq",
    ) -> None:
        self.answers = answers
        self.store = store
        self.escalation = escalation
        self.command = command

    def _save(self, what: str, write: Callable[[FeedbackStore], None]) -> bool:
        """``write(store)``; False (logged, with the traceback) if the database failed."""
        if self.store is None:
            return True
        try:
            write(self.store)
        except sqlite3.Error:
            logger.exception("cannot store %s in %s", what, self.store.path)
            return False
        return True

    def on_feedback(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
    ) -> None:
        """👍/👎: stored once per person per answer; the message shows the vote in place.

        A 👍 also records (question → entry) for ``faq-kb feedback --suggest-aliases``.
        """
        ack()
        shown = _clicked(action)
        if shown is None or not shown.ids:
            return
        user = body["user"]["id"]
        vote: Vote = "up" if action["action_id"] == FEEDBACK_UP else "down"
        entry_id = shown.ids[0]

        def save(store: FeedbackStore) -> None:
            store.record_vote(shown.answer_id, user, vote, entry_id)
            if vote == "up":
                store.record_choice(shown.answer_id, user, shown.question, entry_id, "helpful")
            else:
                store.forget_choice(shown.answer_id, user, entry_id, "helpful")

        if not self._save("feedback", save):
            respond(text="Sorry, your feedback could not be saved.", replace_original=False)
            return
        self._redraw(body, respond, client, shown, Feedback(vote, user))

    def on_reason(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
    ) -> None:
        """What was wrong with a 👎'd answer: stored, and shown in place."""
        ack()
        shown = _clicked(action)
        if shown is None or not shown.ids:
            return
        user = body["user"]["id"]
        reason = cast(Reason, action["action_id"].removeprefix("faq_reason_"))
        self._save(
            "feedback",
            lambda store: store.record_reason(shown.answer_id, user, reason, shown.ids[0]),
        )
        self._redraw(body, respond, client, shown, Feedback("down", user, reason))

    def on_pick(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
    ) -> None:
        """A suggested question chosen: its answer replaces the "no answer" in place, and
        (question → entry) is recorded for ``faq-kb feedback --suggest-aliases``."""
        ack()
        shown = _clicked(action)
        if shown is None or not shown.pick:
            return
        user = body["user"]["id"]
        pick = shown.pick
        self._save(
            "the choice",
            lambda store: store.record_choice(
                shown.answer_id, user, shown.question, pick, "picked"
            ),
        )
        self._redraw(body, respond, client, shown.picked(), None)

    def on_share(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        """The Share button: post exactly the answer shown, saying who shared it."""
        ack()
        shown = _clicked(action)
        if shown is None:
            return
        shared = replace(shown, surface="share", by=body["user"]["id"])
        channel = _where(body)[0]
        message = self._message(shared, None, channel, ephemeral=False)
        respond(
            **message,
            response_type="in_channel",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        respond(delete_original=True)

    def on_escalate(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: WebClient,
    ) -> None:
        """The next step: ping the configured person or group in the thread, or post the
        question in the help channel with a link back to the thread."""
        ack()
        shown = _clicked(action)
        if shown is None or self.escalation is None:
            return
        user = body["user"]["id"]
        channel, _ts, ephemeral, thread = _where(body)
        question = escape(shorten(shown.question, 300))
        try:
            if self.escalation.mention:
                text = (
                    f"{self.escalation.mention} could you help {who(user)}? The FAQ had no "
                    f"good answer to “{question}”"
                )
                if ephemeral:
                    respond(text=text, response_type="in_channel", replace_original=False)
                else:
                    client.chat_postMessage(
                        channel=channel,
                        thread_ts=thread,
                        text=text,
                        unfurl_links=False,
                        unfurl_media=False,
                    )
                return
            help_channel = self.escalation.channel
            where = f" in <#{channel}>" if channel.startswith(("C", "G")) else ""
            text = f"{who(user)} asked{where}: “{question}”. The FAQ had no good answer."
            if not ephemeral and thread:
                permalink = client.chat_getPermalink(channel=channel, message_ts=thread)
                text += f" <{permalink['permalink']}|Open the thread>"
            client.chat_postMessage(
                channel=help_channel, text=text, unfurl_links=False, unfurl_media=False
            )
            note = f"I've asked in <#{help_channel}>; someone there will follow up."
            if ephemeral:
                respond(text=note, replace_original=False)
            else:
                client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread,
                    text=note,
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except SlackApiError as error:
            logger.exception("cannot escalate the question")
            respond(
                text=f"Sorry, I couldn't ask for help ({error.response.get('error')}).",
                replace_original=False,
            )

    def _message(
        self, shown: Shown, feedback: Feedback | None, channel: str, *, ephemeral: bool
    ) -> Message:
        if shown.surface == "share":
            asked: tuple[str, str] | None = (f"Asked with {self.command}", shown.question)
        elif shown.echo or shown.surface == "command":
            asked = ("You asked", shown.question)
        else:
            asked = None
        return self.answers.render(
            shown,
            asked=asked,
            shareable=ephemeral and shown.surface == "command",
            feedback=feedback,
            shared_by=shown.by or None,
            channel=channel,
        )

    def _redraw(
        self,
        body: dict[str, Any],
        respond: Respond,
        client: WebClient,
        shown: Shown,
        feedback: Feedback | None,
    ) -> None:
        channel, ts, ephemeral, _thread = _where(body)
        message = self._message(shown, feedback, channel, ephemeral=ephemeral)
        if ephemeral or not ts:
            respond(**message, replace_original=True, unfurl_links=False, unfurl_media=False)
        else:
            client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
