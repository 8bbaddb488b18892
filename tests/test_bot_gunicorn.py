"""Production parity: the bot under gunicorn (2 workers), as the README runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.wsgi import create_application
from tests.slack_fakes import (
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlack,
    event_body,
    mention,
    post_signed,
    wait_until,
)

pytest_plugins = ["tests.conftest_bot"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def gunicorn_url(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("SLACK_", "FAQ_")) and not k.upper().endswith("_PROXY")
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        FAQ_INDEX=str(tmp_path / "index"),
        FAQ_FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"),
        NO_PROXY="127.0.0.1,localhost",
    )
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4", "-b", "127.0.0.1:0"]
    process = subprocess.Popen(
        [*command, "bot.wsgi:application"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        booted = wait_until(
            lambda: sum("FAQ loaded" in line for line in lines) == 2 and lines,
            30,
            "two gunicorn workers",
        )
        port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", "".join(booted))
        assert port, "".join(lines)
        yield f"http://127.0.0.1:{port.group(1)}/slack/events"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
        assert BOT_TOKEN not in "".join(lines)


def test_gunicorn_answers_a_mention_once_across_workers(
    gunicorn_url: str, fake_slack: FakeSlack
) -> None:
    body = event_body(mention(f"<@{BOT_USER_ID}> too many open files"), "EvGUNI1")
    replies = [
        post_signed(gunicorn_url, body, "application/json", headers={"X-Slack-Retry-Num": str(n)})
        for n in range(4)
    ]
    assert [r.status for r in replies] == [200] * 4
    [post] = fake_slack.wait_for("/api/chat.postMessage", timeout=10)
    assert post.body["thread_ts"] == "1700000000.000100"
    assert post.body["blocks"][0]["text"]["text"].endswith("|Too many open file descriptors?>*")
    fake_slack.assert_stays("/api/chat.postMessage", 1)
    # Each worker checked the token once at start-up.
    assert len(fake_slack.calls_to("/api/auth.test")) == 2


def test_wsgi_factory_takes_faq_bot_options(
    fake_slack: FakeSlack, source_arg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("FAQ_REFRESH_SECONDS", "0")
    app = create_application(
        "--source",
        source_arg,
        "--index",
        str(tmp_path / "i"),
        "--feedback-db",
        str(tmp_path / "fb.sqlite3"),
    )
    assert app.path == "/slack/events"
    assert (tmp_path / "fb.sqlite3").exists() and (tmp_path / "i").is_dir()
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    with pytest.raises(SystemExit) as exit_info:
        create_application()
    assert exit_info.value.code == 2
