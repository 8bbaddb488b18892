"""Slack listeners for messages, the slash command and the Home tab; the routing table."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond, Say
from slack_sdk import WebClient

from bot.actions import Actions
from bot.answers import Answers
from bot.blocks import help_message
from bot.buttons import (
    ESCALATE_ACTION,
    FEEDBACK_ACTION_RE,
    PICK_ACTION_RE,
    REASON_ACTION_RE,
    SHARE_ACTION,
)
from bot.dedupe import EventLog, request_key
from bot.home import home_view
from bot.question import clean_question
from bot.threads import ThreadLog
from kb.maintain.overview import overview
from kb.search.smalltalk import small_talk

# Message subtypes that are still a person writing (a file with text, a thread reply
# also sent to the channel); every other subtype (edits, deletions, joins, bots) is not.
_PERSON_SUBTYPES = frozenset({"file_share", "thread_broadcast"})


def _from_person(event: dict[str, Any]) -> bool:
    subtype = event.get("subtype")
    return not event.get("bot_id") and (subtype is None or subtype in _PERSON_SUBTYPES)


class Listeners:
    """The bot's handlers, bound to its answers, the threads it answered in, its command."""

    def __init__(
        self,
        answers: Answers,
        command: str,
        *,
        threads: ThreadLog | None = None,
        followups: bool = True,
    ) -> None:
        self.answers = answers
        self.command_name = command
        self.threads = threads or ThreadLog(":memory:")
        self.followups = followups

    def on_mention(self, event: dict[str, Any], context: BoltContext, say: Say) -> None:
        """@mention in a channel: reply in the message's thread (or the thread it is in)."""
        if not _from_person(event):
            return
        question = clean_question(event.get("text", ""), context.bot_user_id)
        thread_ts = event.get("thread_ts") or event["ts"]
        channel = event.get("channel")
        say(
            **self._reply(question, "mention", channel),
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        # Only a thread the bot started (its reply to a channel message) is a conversation
        # with the asker; a mention inside others' thread answers once.
        if channel and event.get("user") and thread_ts == event["ts"]:
            self.threads.remember(channel, thread_ts, event["user"])

    def on_message(self, event: dict[str, Any], context: BoltContext, say: Say) -> None:
        """A DM: reply in the DM. In a channel: the asker's follow-up in a thread the bot
        answered in. Every other message event is acked and dropped."""
        if not _from_person(event):
            return
        if event.get("channel_type") == "im":
            question = clean_question(event.get("text", ""), context.bot_user_id)
            say(
                **self._reply(question, "dm", None),
                thread_ts=event.get("thread_ts"),
                unfurl_links=False,
                unfurl_media=False,
            )
            return
        thread_ts = event.get("thread_ts")
        channel, user, text = event.get("channel"), event.get("user"), event.get("text", "")
        if (
            not self.followups
            or not thread_ts
            or thread_ts == event.get("ts")
            or not channel
            or not user
            or f"<@{context.bot_user_id}" in text  # app_mention answers that one
            or self.threads.asker(channel, thread_ts) != user
        ):
            return
        question = clean_question(text, context.bot_user_id)
        if small_talk(question) in ("thanks", "bye"):
            return  # "thanks!" closes the conversation; no need to answer it
        say(
            **self._reply(question, "thread", channel),
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )

    def on_command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        """``/faq QUESTION``: an answer only the asker sees, with a Share button."""
        question = clean_question(command.get("text", ""))
        if not question:
            ack(**help_message(self.command_name))
            return
        ack()
        message = self.answers.reply(
            question,
            surface="command",
            asked=("You asked", question),
            shareable=True,
            channel=command.get("channel_id"),
        )
        respond(**message, response_type="ephemeral", unfurl_links=False, unfurl_media=False)

    def on_home(self, event: dict[str, Any], client: WebClient) -> None:
        """The Home tab: what the bot knows and how to ask it."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        about = overview(self.answers.kb.reader)
        client.views_publish(user_id=event["user"], view=home_view(about, self.command_name))

    def _reply(self, question: str, surface: str, channel: str | None) -> Any:
        if not question:
            return help_message(self.command_name)
        return self.answers.reply(question, surface=surface, channel=channel)


def dedupe_middleware(events: EventLog) -> Any:
    """A global middleware answering a retried event or replayed command with a bare 200."""

    def dedupe(
        body: dict[str, Any], request: BoltRequest, next_: Any, logger: logging.Logger
    ) -> BoltResponse | None:
        key = request_key(body, request.headers, request.raw_body)
        if key is not None and not events.first_time(key):
            logger.info("request %s already handled; acking it again", key[:24])
            return BoltResponse(status=200, body="")
        next_()
        return None

    return dedupe


def ignore_event() -> None:
    """Any other event type: acked, nothing else."""


def log_error(error: Exception, logger: logging.Logger) -> None:
    """The app's last resort for a listener that failed after its ack: log the traceback.

    A reply Slack rate-limited is one line: ``bot.ratelimit`` already queued or dropped it.
    """
    response = getattr(error, "response", None)
    if getattr(response, "status_code", None) == 429:
        logger.warning("a reply was rate-limited by Slack: %s", error)
        return
    logger.exception("a Slack listener failed", exc_info=error)


def register(
    app: App, listeners: Listeners, actions: Actions, events: EventLog, command: str
) -> None:
    """Route Slack's requests to the listeners (the table ``bot/manifest.yml`` mirrors)."""
    app.use(dedupe_middleware(events))
    app.event("app_mention")(listeners.on_mention)
    app.event("message")(listeners.on_message)
    app.event("app_home_opened")(listeners.on_home)
    app.command(command)(listeners.on_command)
    app.action(FEEDBACK_ACTION_RE)(actions.on_feedback)
    app.action(REASON_ACTION_RE)(actions.on_reason)
    app.action(PICK_ACTION_RE)(actions.on_pick)
    app.action(SHARE_ACTION)(actions.on_share)
    app.action(ESCALATE_ACTION)(actions.on_escalate)
    app.error(log_error)


def ack_other_events(app: App) -> None:
    """Ack every event type no listener above wants (call after ``register``).

    Over HTTP, ``bot.gate`` acks every event before Bolt sees it; in Socket Mode, Bolt
    would leave such an envelope unacked (404) and Slack would send it again.
    """
    app.event(re.compile(".*"))(ignore_event)
