"""Hostile input and hard faults (issue #10): the bot acks, answers once, and logs little."""

from __future__ import annotations

import http.client
import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from bot.gate import MAX_BODY_BYTES, SlackGate
from kb.learn.database import SqliteDatabase
from tests.slack_fakes import (
    BOT_USER_ID,
    SIGNING_SECRET,
    Reply,
    command_body,
    event_body,
    mention,
    post_signed,
    signature,
)

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot

pytest_plugins = ["tests.conftest_bot"]


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST exactly these bytes and headers (no signing, no fixing up)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


# --- item 18: garbage never reaches Bolt and never logs a traceback -------------------------


def test_unsigned_garbage_is_rejected_without_tracebacks(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = str(int(time.time()))
    cases = [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"{not json", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}),
        (b"{}", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "garbage"}),
        (b"payload=%7B", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"", {}),
    ]
    for body, headers in cases:
        status, text = post_raw(bot.url, body, headers)
        assert status == 401, (body, headers)
        assert json.loads(text) == {"error": "invalid request"}
    # Signed by Slack's secret but not a body Slack sends: 400, still no traceback.
    for body, kind in (("{not json", "application/json"), ("[1, 2]", "application/json")):
        assert post_signed(bot.url, body, kind).status == 400
    assert tracebacks(caplog) == []
    warnings = [r for r in caplog.records if r.name == "bot.gate"]
    assert len(warnings) <= 1  # a summary line at most, never one per request
    assert [c.path for c in bot.fake.calls] == ["/api/auth.test"]


def test_an_oversized_body_gets_413_and_is_never_read(bot: RunningBot) -> None:
    # 20 MB announced, a few bytes sent: the answer comes before the rest would be read.
    parts = urlsplit(bot.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", parts.path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(20 * 1024 * 1024))
        conn.endheaders(b"x" * 1000)
        reply = conn.getresponse()
        assert reply.status == 413
    finally:
        conn.close()
    # Just under the cap is read and judged on its signature as usual.
    body = event_body(mention("x" * (MAX_BODY_BYTES - 2000)))
    assert post_signed(bot.url, body, "application/json").status == 200


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 20 * 1024 * 1024])
def test_the_gate_reads_nothing_of_an_oversized_body(size: int) -> None:
    body = b"x" * size
    stamp = str(int(time.time()))
    stream = io.BytesIO(body)
    environ = {
        "PATH_INFO": "/slack/events",
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(size),
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,  # signed correctly: size is checked first
        "HTTP_X_SLACK_SIGNATURE": signature(SIGNING_SECRET, stamp, body.decode()),
        "wsgi.input": stream,
    }
    statuses: list[str] = []
    gate = SlackGate(None, SIGNING_SECRET)  # type: ignore[arg-type]  # never reaches the app
    gate(environ, lambda status, headers: statuses.append(status))  # type: ignore[arg-type,return-value]
    assert statuses == ["413 Request Entity Too Large"]
    assert stream.tell() == 0


# --- item 19: replays answered once; events without a listener acked ------------------------


def test_a_replayed_slash_command_is_answered_once(bot: RunningBot) -> None:
    body = command_body("too many open files", bot.fake.response_url("replay"))
    stamp = int(time.time())
    for _ in range(3):
        assert post_signed(bot.url, body, "application/x-www-form-urlencoded", timestamp=stamp)
    bot.fake.wait_for("/response/replay")
    # The same question asked again (a new request, a new timestamp) is answered again.
    later = post_signed(bot.url, body, "application/x-www-form-urlencoded", timestamp=stamp + 1)
    assert later.status == 200
    bot.fake.wait_for("/response/replay", n=2)
    bot.fake.assert_stays("/response/replay", 2)


@pytest.mark.parametrize(
    "body",
    [
        event_body({"type": "reaction_added", "user": "U1", "reaction": "x", "item": {}}),
        event_body({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}),
        json.dumps({"type": "app_rate_limited", "team_id": "T0001", "minute_rate_limited": 1}),
    ],
    ids=["reaction_added", "app_home_opened", "app_rate_limited"],
)
def test_an_event_without_a_listener_is_acked_200(bot: RunningBot, body: str) -> None:
    reply = post_signed(bot.url, body, "application/json")
    assert (reply.status, reply.body) == (200, "")


# --- item 17: database trouble never costs an answer ----------------------------------------


@pytest.fixture
def locked_db(bot: RunningBot) -> Iterator[threading.Event]:
    """The bot's SQLite file write-locked by another process-like connection until set."""
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(bot.settings.feedback_db, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        release.wait(30)
        conn.rollback()
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait(5)
    yield release
    release.set()
    thread.join(5)


def test_a_locked_database_still_gets_fast_acks_and_answers(
    bot: RunningBot, locked_db: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    for n in range(3):
        event = mention(f"<@{BOT_USER_ID}> too many open files", ts=f"1700000000.00010{n}")
        reply = bot.event(event, event_id=f"EvLOCK{n}")
        # An ack that waited on the lock would take its 5 s timeout; under Slack's 3 s, with
        # room for a loaded CI machine (0.5 s failed at a load of 9 on 2 cores).
        assert reply.status == 200 and reply.seconds < 2.0
    bot.fake.wait_for("/api/chat.postMessage", n=3, timeout=15)
    assert time.monotonic() - started < 12
    # A retry of one of them is still recognised (in memory) while the file is locked.
    retry = bot.event(mention(f"<@{BOT_USER_ID}> too many open files"), event_id="EvLOCK0")
    assert retry.status == 200
    bot.fake.assert_stays("/api/chat.postMessage", 3)
    dedupe_errors = [r for r in caplog.records if "event dedupe: cannot use" in r.getMessage()]
    assert len(dedupe_errors) == 1
    assert sum("cannot record answers" in r.getMessage() for r in caplog.records) <= 1


@pytest.mark.parametrize(
    "message", ["attempt to write a readonly database", "database or disk is full"]
)
def test_a_read_only_or_full_database_still_answers_once(
    bot: RunningBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    message: str,
) -> None:
    original = SqliteDatabase.transaction

    def failing(self: SqliteDatabase, **kw: Any) -> Any:
        if kw.get("write", True):
            raise sqlite3.OperationalError(message)
        return original(self, **kw)

    monkeypatch.setattr(SqliteDatabase, "transaction", failing)
    caplog.set_level(logging.INFO)
    for n in range(4):
        event = mention(f"<@{BOT_USER_ID}> too many open files", ts=f"1700000000.00020{n}")
        assert bot.event(event, event_id=f"EvFAIL{n % 2}").status == 200  # 2 ids, 2 retries
    bot.fake.wait_for("/api/chat.postMessage", n=2)
    bot.fake.assert_stays("/api/chat.postMessage", 2)
    dedupe_errors = [r for r in caplog.records if "event dedupe: cannot use" in r.getMessage()]
    assert len(dedupe_errors) == 1 and message in dedupe_errors[0].getMessage()
    answer_errors = [r for r in caplog.records if "cannot record answers" in r.getMessage()]
    assert len(answer_errors) == 1 and tracebacks(caplog) == []  # once, not per answer


# --- a long Retry-After never parks the listeners ---------------------------------------------


def test_a_long_retry_after_is_deferred_and_other_answers_go_on(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import LISTENER_THREADS
    from bot.ratelimit import MAX_INLINE_WAIT

    caplog.set_level(logging.INFO)
    wait = MAX_INLINE_WAIT + 1.5  # longer than a listener may sleep
    limited = LISTENER_THREADS + 1  # enough to park every listener thread, were they to wait
    bot.fake.push(
        "/api/chat.postMessage",
        *[Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{wait:g}"})]
        * limited,
    )
    for n in range(limited):
        bot.event(mention(f"<@{BOT_USER_ID}> too many open files", ts=f"1700000000.{n:06d}"))
    first = bot.fake.wait_for("/api/chat.postMessage", n=limited)
    # New questions are answered at once meanwhile.
    asked = time.monotonic()
    for n in range(5):
        bot.event(mention(f"<@{BOT_USER_ID}> data locality", ts=f"1700000001.{n:06d}"))
    calls = bot.fake.wait_for("/api/chat.postMessage", n=limited + 5, timeout=wait)
    assert time.monotonic() - asked < 2.0
    assert {c.body["thread_ts"] for c in calls[limited:]} == {
        f"1700000001.{n:06d}" for n in range(5)
    }
    # Each rate-limited reply is sent again, once, when Slack said.
    calls = bot.fake.wait_for("/api/chat.postMessage", n=2 * limited + 5, timeout=wait + 5)
    resent = calls[limited + 5 :]
    assert sorted(c.body["thread_ts"] for c in resent) == sorted(c.body["thread_ts"] for c in first)
    assert min(c.at for c in resent) - max(c.at for c in first) >= wait - 1.0
    bot.fake.assert_stays("/api/chat.postMessage", 2 * limited + 5)
    assert tracebacks(caplog) == []
