"""bot/manifest.yml asks for exactly the scopes and events the code uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from slack_bolt import App, BoltRequest

from bot.app import create_app
from bot.settings import Settings
from kb.knowledge import KnowledgeBase
from tests.slack_fakes import BOT_TOKEN, FakeSlack, event_body

pytest_plugins = ["tests.conftest_bot"]


ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "bot" / "manifest.yml").read_text())
# The scope each subscribed event needs (api.slack.com/events).
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_home_opened": None,  # needs no scope; views.publish needs none either
}
EVENTS = {
    "app_mention": {
        "type": "app_mention",
        "user": "U1",
        "text": "hi",
        "ts": "1.1",
        "channel": "C1",
    },
    "message.im": {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "",
        "ts": "1.2",
        "channel": "D1",
        "subtype": "message_deleted",
    },
    "message.channels": {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "text": "x",
        "ts": "1.3",
        "channel": "C1",
    },
    "message.groups": {
        "type": "message",
        "channel_type": "group",
        "user": "U1",
        "text": "x",
        "ts": "1.4",
        "thread_ts": "1.0",
        "channel": "G1",
    },
    "reaction_added": {"type": "reaction_added", "user": "U1", "reaction": "x", "item": {}},
    "app_home_opened": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"},
}


@pytest.fixture
def app(fake_slack: FakeSlack, shipped_kb: KnowledgeBase, tmp_path: Path) -> App:
    settings = Settings(
        bot_token=BOT_TOKEN, api_url=fake_slack.api_url, feedback_db=str(tmp_path / "f")
    )
    return create_app(settings, shipped_kb)


def dispatch(app: App, body: str) -> int:
    # Socket Mode requests skip signature checks: this test is about routing only.
    return app.dispatch(BoltRequest(body=body, mode="socket_mode")).status


def test_every_subscribed_event_has_a_listener_and_no_other(app: App) -> None:
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert subscribed == set(EVENT_SCOPES)
    for name, event in EVENTS.items():
        status = dispatch(app, event_body(event, f"Ev-{name}"))
        assert (status == 200) == (name in subscribed), name


def test_scopes_are_exactly_what_the_code_uses() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    # chat:write for chat.postMessage (say) and chat.update; commands for the slash command.
    needed = {scope for scope in EVENT_SCOPES.values() if scope}
    assert scopes == needed | {"chat:write", "commands"}


def test_home_tab_is_enabled() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]


def test_slash_command_and_buttons_are_routed(app: App) -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == Settings(bot_token="x").slash_command
    assert command["should_escape"] is False
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    form = f"command={quote(command['command'])}&text=&user_id=U1&channel_id=C1&response_url=x"
    assert dispatch(app, form) == 200
    for action_id in (
        "faq_feedback_up",
        "faq_feedback_down",
        "faq_share",
        "faq_reason_outdated",
        "faq_pick_0",
        "faq_escalate",
        "something_else",
    ):
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": "U1"},
            "actions": [
                {"action_id": action_id, "block_id": "b", "value": "junk", "type": "button"}
            ],
            "response_url": "http://127.0.0.1:9/never",
        }
        status = dispatch(app, "payload=" + quote(json.dumps(payload)))
        assert (status == 200) == (action_id != "something_else"), action_id
