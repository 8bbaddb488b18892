"""Socket Mode: the same app behind a WebSocket, against a local Socket Mode stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import create_app
from bot.dedupe import EventLog
from bot.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.learn.feedback import FeedbackStore
from tests.slack_fakes import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    FakeSlack,
    FakeSocketMode,
    event_body,
    mention,
    wait_until,
)

pytest_plugins = ["tests.conftest_bot"]


@pytest.fixture
def socket_server(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode()
    fake_slack.ws_url = server.url
    yield server
    server.close()


def test_socket_mode_answers_once_and_acks_every_envelope(
    fake_slack: FakeSlack, socket_server: FakeSocketMode, shipped_kb: KnowledgeBase, tmp_path: Path
) -> None:

    settings = Settings(
        bot_token=BOT_TOKEN,
        app_token=APP_TOKEN,
        api_url=fake_slack.api_url,
        feedback_db=str(tmp_path / "fb.sqlite3"),
    )
    app = create_app(
        settings, shipped_kb, store=FeedbackStore(settings.feedback_db), events=EventLog(":memory:")
    )
    handler = SocketModeHandler(app, app_token=settings.app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        [opened] = fake_slack.wait_for("/api/apps.connections.open")
        assert opened.headers["authorization"] == f"Bearer {APP_TOKEN}"
        wait_until(lambda: socket_server.connections == 1, what="the WebSocket connection")
        event = json.loads(event_body(mention(f"<@{BOT_USER_ID}> too many open files"), "EvSOCK1"))
        for envelope_id, retry in (("env-1", 0), ("env-2", 1)):
            socket_server.send(
                {
                    "envelope_id": envelope_id,
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": retry,
                    "retry_reason": "timeout" if retry else "",
                    "payload": event,
                }
            )
        socket_server.send(
            {
                "envelope_id": "env-3",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "command": "/faq",
                    "text": "",
                    "user_id": "U0HUMAN",
                    "channel_id": "C0001",
                    "team_id": "T0001",
                    "response_url": fake_slack.response_url("sock"),
                },
            }
        )
        other = {**event, "event_id": "EvSOCK2", "event": {"type": "reaction_added", "user": "U1"}}
        socket_server.send({"envelope_id": "env-4", "type": "events_api", "payload": other})
        acks = wait_until(
            lambda: (lambda a: a if len(a) >= 4 else None)(socket_server.acks()), what="4 acks"
        )
        by_id = {a["envelope_id"]: a for a in acks}
        assert set(by_id) == {"env-1", "env-2", "env-3", "env-4"}  # env-4: no listener, acked
        assert "/faq how do I use external modules?" in by_id["env-3"]["payload"]["text"]
        [post] = fake_slack.wait_for("/api/chat.postMessage")
        assert post.body["thread_ts"] == "1700000000.000100"
        assert post.body["blocks"][0]["text"]["text"].endswith("|Too many open file descriptors?>*")
        fake_slack.assert_stays("/api/chat.postMessage", 1)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
