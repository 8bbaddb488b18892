"""Fixtures for the Slack bot tests: a clean environment, a fake Slack, a running bot.

Import the fixtures you use into a test module (``from conftest_bot import bot, ...``).
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bot.app import create_app, http_server
from bot.dedupe import EventLog
from bot.freshness import Refresher
from bot.settings import Settings
from bot.threads import ThreadLog
from kb.knowledge import KnowledgeBase
from kb.learn.feedback import FeedbackStore
from kb.spec import SourceSpec
from tests.slack_fakes import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    Response,
    action_body,
    command_body,
    event_body,
    post_signed,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_FAQ = ROOT / "faq_source" / "distributed" / "faq.rst"
FAQ_URL = "https://distributed.dask.org/en/stable/faq.html"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real token, proxy or faq-kb setting leaks into a test; no user data dir is used."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("SLACK_", "FAQ_")) or upper.endswith("_PROXY") or upper == "PORT":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def open_kb(source: Path, index_dir: Path) -> KnowledgeBase:
    """A knowledge base over one rst file, its index in ``index_dir`` (never the user cache)."""
    kb = KnowledgeBase(SourceSpec(paths=(f"{source}={FAQ_URL}",)), index_dir, preload=True)
    kb.open()
    return kb


@pytest.fixture
def source_arg(seed_copy: Path) -> str:
    """``--source PATH=URL`` for that copy."""
    return f"{seed_copy}={FAQ_URL}"


@pytest.fixture
def kb_factory(tmp_path: Path) -> Callable[[Path], KnowledgeBase]:
    """Open a knowledge base over one rst file, its index in a fresh ``tmp_path`` folder."""
    made: list[KnowledgeBase] = []

    def make(source: Path) -> KnowledgeBase:
        made.append(open_kb(source, tmp_path / f"index-{len(made)}"))
        return made[-1]

    return make


@pytest.fixture(scope="session")
def shipped_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The shipped FAQ, indexed once per session (read-only: do not edit its source)."""
    folder = tmp_path_factory.mktemp("shipped")
    source = folder / "faq.rst"
    shutil.copy(SHIPPED_FAQ, source)
    return open_kb(source, folder / "index")


@pytest.fixture
def fake_slack(clean_env: None) -> Iterator[FakeSlack]:
    """A fresh stand-in for Slack's Web API and response URLs."""
    fake = FakeSlack()
    yield fake
    fake.close()


@dataclass
class RunningBot:
    """The Bolt app served over real HTTP on a loopback port, with its fakes."""

    url: str
    app: App
    kb: KnowledgeBase
    store: FeedbackStore
    fake: FakeSlack
    settings: Settings
    refresher: Refresher
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def event(self, event: dict[str, Any], event_id: str | None = None, **kw: Any) -> Response:
        """POST a signed ``event_callback``."""
        body = event_body(event, event_id or f"Ev{uuid.uuid4().hex[:10]}")
        return post_signed(self.url, body, "application/json", **kw)

    def command(self, text: str, name: str = "r-cmd") -> Response:
        """POST a signed ``/faq`` command whose response_url is the fake's."""
        body = command_body(text, self.fake.response_url(name), self.settings.slash_command)
        return post_signed(self.url, body, "application/x-www-form-urlencoded")

    def click(self, action: dict[str, Any], name: str = "r-click", **kw: Any) -> Response:
        """POST a signed button click (``block_actions``)."""
        body = action_body(action, self.fake.response_url(name), **kw)
        return post_signed(self.url, body, "application/x-www-form-urlencoded")


@pytest.fixture
def start_bot(
    fake_slack: FakeSlack, tmp_path: Path, shipped_kb: KnowledgeBase
) -> Iterator[Callable[..., RunningBot]]:
    """Start the bot: ``start_bot(kb=..., refresh_seconds=...)``; stopped after the test."""
    started: list[RunningBot] = []

    def start(
        kb: KnowledgeBase | None = None, refresh_seconds: float = 0.0, **options: Any
    ) -> RunningBot:
        """``options``: more ``Settings`` fields (escalation, thread_followups, …)."""
        kb = kb or shipped_kb
        db = tmp_path / f"feedback-{len(started)}.sqlite3"
        settings = Settings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            api_url=fake_slack.api_url,
            feedback_db=str(db),
            refresh_seconds=refresh_seconds,
            **options,
        )
        store = FeedbackStore(db)
        app = create_app(settings, kb, store=store, events=EventLog(db), threads=ThreadLog(db))
        server = http_server(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        refresher = Refresher(kb, refresh_seconds).start()
        running = RunningBot(
            f"http://127.0.0.1:{server.server_port}/slack/events",
            app,
            kb,
            store,
            fake_slack,
            settings,
            refresher,
        )
        # The listeners still at work finish while the fake Slack is up: otherwise one
        # retrying a post to the closed fake logs its failure into the next test's caplog.
        executor = app.listener_runner.listener_executor
        finish = functools.partial(executor.shutdown, wait=True, cancel_futures=True)
        running._stops += [refresher.stop, server.shutdown, finish, server.server_close]
        started.append(running)
        return running

    yield start
    for running in started:
        for stop in running._stops:
            stop()


@pytest.fixture
def bot(start_bot: Callable[..., RunningBot]) -> RunningBot:
    """The bot over the shipped FAQ."""
    return start_bot()
