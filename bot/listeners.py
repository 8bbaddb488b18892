"""Slack listeners: each acks, turns the payload into a question, and sends kb's answer."""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond, Say

from bot.answers import Answers
from bot.blocks import (
    FEEDBACK_ACTION_RE,
    FEEDBACK_UP,
    SHARE_ACTION,
    feedback_thanks,
    help_message,
    parse_feedback_value,
    parse_share_value,
)
from bot.dedupe import EventLog, request_key
from bot.question import clean_question
from kb.feedback import FeedbackStore, Vote

# Message subtypes that are still a person writing (a file with text, a thread reply
# also sent to the channel); every other subtype (edits, deletions, joins, bots) is not.
_PERSON_SUBTYPES = frozenset({"file_share", "thread_broadcast"})


def _from_person(event: dict[str, Any]) -> bool:
    subtype = event.get("subtype")
    return not event.get("bot_id") and (subtype is None or subtype in _PERSON_SUBTYPES)


class Listeners:
    """The bot's handlers, bound to one knowledge base, feedback store and slash command."""

    def __init__(self, answers: Answers, store: FeedbackStore | None, command: str) -> None:
        self.answers = answers
        self.store = store
        self.command_name = command

    def on_mention(self, event: dict[str, Any], context: BoltContext, say: Say) -> None:
        """@mention in a channel: reply in the message's thread (or the thread it is in)."""
        if not _from_person(event):
            return
        question = clean_question(event.get("text", ""), context.bot_user_id)
        thread_ts = event.get("thread_ts") or event["ts"]
        say(
            **self._reply(question, "mention"),
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )

    def on_message(self, event: dict[str, Any], context: BoltContext, say: Say) -> None:
        """A direct message: reply in the DM. Any other message event is acked and dropped."""
        if event.get("channel_type") != "im" or not _from_person(event):
            return
        question = clean_question(event.get("text", ""), context.bot_user_id)
        say(
            **self._reply(question, "dm"),
            thread_ts=event.get("thread_ts"),
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
            question, surface="command", asked=("You asked", question), shareable=True
        )
        respond(**message, response_type="ephemeral", unfurl_links=False, unfurl_media=False)

    def on_share(self, ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        """The Share button: post the answer for the channel, drop the private copy."""
        ack()
        try:
            question = parse_share_value(action.get("value", ""))
        except ValueError:
            logging.getLogger(__name__).warning("ignoring a Share button this bot did not make")
            return
        message = self.answers.reply(question, surface="share", asked=("Asked with /faq", question))
        respond(
            **message,
            response_type="in_channel",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        respond(delete_original=True)

    def on_feedback(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        """👍/👎: stored once per person per answer, acknowledged to the clicker only."""
        ack()
        log = logging.getLogger(__name__)
        try:
            answer_id, entry_id = parse_feedback_value(action.get("value", ""))
        except ValueError:
            log.warning("ignoring a feedback button this bot did not make")
            return
        vote: Vote = "up" if action["action_id"] == FEEDBACK_UP else "down"
        outcome = "new"
        if self.store is not None:
            try:
                outcome = self.store.record_vote(answer_id, body["user"]["id"], vote, entry_id)
            except sqlite3.Error:
                log.exception("cannot store feedback in %s", self.store.path)
                respond(text="Sorry, your feedback could not be saved.", replace_original=False)
                return
        respond(text=feedback_thanks(vote, outcome), replace_original=False)

    def _reply(self, question: str, surface: str) -> Any:
        if not question:
            return help_message(self.command_name)
        return self.answers.reply(question, surface=surface)


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


def register(app: App, listeners: Listeners, events: EventLog, command: str) -> None:
    """Route Slack's requests to the listeners (the table ``bot/manifest.yml`` mirrors)."""
    app.use(dedupe_middleware(events))
    app.event("app_mention")(listeners.on_mention)
    app.event("message")(listeners.on_message)
    app.command(command)(listeners.on_command)
    app.action(FEEDBACK_ACTION_RE)(listeners.on_feedback)
    app.action(SHARE_ACTION)(listeners.on_share)
    app.error(log_error)


def ack_other_events(app: App) -> None:
    """Ack every event type no listener above wants (call after ``register``).

    Over HTTP, ``bot.gate`` acks every event before Bolt sees it; in Socket Mode, Bolt
    would leave such an envelope unacked (404) and Slack would send it again.
    """
    app.event(re.compile(".*"))(ignore_event)
