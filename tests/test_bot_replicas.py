"""Two bot replicas sharing one PostgreSQL database: each event answered once, no vote lost.

Each replica is its own Bolt app, HTTP server, connection pool and in-memory dedupe, as two
hosts would have; only the database is shared. Slack's retries of an event go to either.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import create_app, http_server
from bot.dedupe import EventLog
from bot.settings import Settings
from kb.knowledge import KnowledgeBase
from kb.learn.database import PostgresDatabase, open_database
from kb.learn.feedback import FeedbackStore
from tests.pgcluster import Cluster, Unavailable
from tests.slack_fakes import (
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlack,
    action_body,
    event_body,
    mention,
    post_signed,
)

pytest_plugins = ["tests.conftest_bot", "tests.conftest_pg"]

EVENTS = 1000
VOTED_ANSWERS = 300
QUESTIONS = [
    "too many open files",
    "how do I use external modules?",
    "does dask handle data locality",
]


@dataclass
class Replica:
    url: str
    store: FeedbackStore
    events: EventLog
    stop: Callable[[], None]


@pytest.fixture
def replicas(
    pg_url: str, fake_slack: FakeSlack, shipped_kb: KnowledgeBase
) -> Iterator[list[Replica]]:
    started = []
    for _ in range(2):
        db = open_database(pg_url)
        assert isinstance(db, PostgresDatabase)
        settings = Settings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            api_url=fake_slack.api_url,
            feedback_db=pg_url,
        )
        store, events = FeedbackStore(db), EventLog(db)
        app = create_app(settings, shipped_kb, store=store, events=events)
        server = http_server(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()

        def stop(server: Any = server, db: PostgresDatabase = db) -> None:
            server.shutdown()
            server.server_close()
            db.close()

        url = f"http://127.0.0.1:{server.server_port}/slack/events"
        started.append(Replica(url, store, events, stop))
    yield started
    for replica in started:
        replica.stop()


def test_two_replicas_answer_every_event_once_and_keep_every_vote(
    replicas: list[Replica], fake_slack: FakeSlack
) -> None:
    rng = random.Random(10)
    sends: list[tuple[str, str, dict[str, str]]] = []
    for n in range(EVENTS):
        ts = f"1700001000.{n:06d}"
        body = event_body(
            mention(f"<@{BOT_USER_ID}> {QUESTIONS[n % len(QUESTIONS)]}", ts=ts), f"EvR{n:05d}"
        )
        first = rng.randrange(2)
        sends.append((replicas[first].url, body, {}))
        for retry in range(1, rng.choice([1, 1, 2, 3])):  # 0-2 retries, to either replica
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            sends.append((replicas[rng.randrange(2)].url, body, headers))
    rng.shuffle(sends)  # retries may even arrive before the original
    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        statuses = list(
            pool.map(
                lambda s: post_signed(s[0], s[1], "application/json", headers=s[2]).status, sends
            )
        )
    assert set(statuses) == {200}
    posts = fake_slack.wait_for("/api/chat.postMessage", n=EVENTS, timeout=30)
    fake_slack.assert_stays("/api/chat.postMessage", EVENTS, window=0.5)
    per_event = Counter(c.body["thread_ts"] for c in posts)
    assert len(per_event) == EVENTS and set(per_event.values()) == {1}  # 0 lost, 0 doubled
    answer_seconds = time.monotonic() - started

    # Votes on 300 answers, clicked on either replica: A 👍 twice, B 👎 then 👍, C 👎.
    clicks: list[list[tuple[str, str, str]]] = []  # per (answer, user): clicks in order
    for call in posts[:VOTED_ANSWERS]:
        actions = next(b for b in call.body["blocks"] if b["type"] == "actions")["elements"]
        up, down = ({"action_id": e["action_id"], "value": e["value"]} for e in actions[:2])
        clicks += [[("UA", "up", up), ("UA", "up", up)], [("UB", "down", down), ("UB", "up", up)]]
        clicks += [[("UC", "down", down)]]

    def click_in_order(sequence: list[tuple[str, str, Any]]) -> list[int]:
        # Like a person: the next click only once the bot's note on the last one is shown.
        out = []
        for user, _, action in sequence:
            note = f"v{uuid.uuid4().hex}"
            # ephemeral: the bot redraws through response_url, which the test waits for
            body = action_body(action, fake_slack.response_url(note), user=user, ephemeral=True)
            url = replicas[rng.randrange(2)].url
            out.append(post_signed(url, body, "application/x-www-form-urlencoded").status)
            fake_slack.wait_for(f"/response/{note}", timeout=30)
        return out

    with ThreadPoolExecutor(32) as pool:
        assert {s for result in pool.map(click_in_order, clicks) for s in result} == {200}
    for replica in replicas:
        report = replica.store.report()
        assert (report.answers, report.up, report.down) == (
            EVENTS,
            2 * VOTED_ANSWERS,
            VOTED_ANSWERS,
        )
    assert answer_seconds < 30
    assert [r.events.fallbacks for r in replicas] == [0, 0]  # the database decided every time


def test_replicas_starting_at_once_create_the_schema_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            db = open_database(pg_url)
            FeedbackStore(db), EventLog(db)
        except BaseException as error:  # noqa: BLE001  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_database(pg_url).transaction() as conn:
        rows = conn.execute("SELECT component, version FROM schema_version").fetchall()
    assert sorted(rows) == [("events", 1), ("feedback", 2)]


def test_concurrent_double_clicks_store_one_vote_in_postgres(pg_url: str) -> None:
    stores = [FeedbackStore(open_database(pg_url)) for _ in range(2)]
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=lambda n=n: outcomes.append(stores[n % 2].record_vote("a1", "U1", "down", "x"))
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["new"] + ["same"] * 7
    assert stores[0].record_vote("a1", "U1", "up", "x") == "changed"
    assert (stores[1].report().up, stores[1].report().down) == (1, 0)


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A server of this test's own, to stop and start again."""
    try:
        import psycopg  # noqa: F401

        cluster = Cluster.start()
    except (ImportError, Unavailable) as error:
        pytest.skip(f"no PostgreSQL server: {error}")
    yield cluster
    cluster.stop()


def test_a_postgres_outage_never_costs_an_answer(
    own_cluster: Cluster,
    fake_slack: FakeSlack,
    shipped_kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import bot.dedupe

    monkeypatch.setattr(bot.dedupe, "DB_RETRY_SECONDS", 0.5)
    caplog.set_level(logging.INFO)
    url = own_cluster.new_database()
    db = open_database(url)
    settings = Settings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake_slack.api_url
    )
    events = EventLog(db)
    app = create_app(settings, shipped_kb, store=FeedbackStore(db), events=events)
    server = http_server(app, "127.0.0.1", 0, signing_secret=SIGNING_SECRET)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    bot_url = f"http://127.0.0.1:{server.server_port}/slack/events"

    def ask(n: int, event_id: str) -> float:
        body = event_body(mention(f"<@{BOT_USER_ID}> too many open files", ts=f"1.{n}"), event_id)
        reply = post_signed(bot_url, body, "application/json")
        assert reply.status == 200
        return reply.seconds

    try:
        ask(0, "EvUP0")
        fake_slack.wait_for("/api/chat.postMessage", n=1)
        own_cluster.pause()
        acks = [ask(n, f"EvDOWN{n}") for n in range(1, 4)]
        assert max(acks) < 0.5
        fake_slack.wait_for("/api/chat.postMessage", n=4, timeout=20)
        assert events.fallbacks >= 1
        own_cluster.resume()
        time.sleep(0.6)
        ask(4, "EvUP4")
        fake_slack.wait_for("/api/chat.postMessage", n=5, timeout=20)
        ask(4, "EvUP4")  # a retry: the database (working again) knows it
        fake_slack.assert_stays("/api/chat.postMessage", 5, window=0.5)
    finally:
        server.shutdown()
        server.server_close()
        db.close()  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.dedupe"]
    assert sum("event dedupe: cannot use" in m for m in messages) == 1
    assert any("works again" in m for m in messages)
    assert "Traceback" not in "\n".join(messages)


def test_faq_kb_feedback_reads_postgres(
    pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from kb.cli.main import kb_main

    store = FeedbackStore(open_database(pg_url))
    store.record_answer("a1", "ulimit", surface="dm", band="answer", entry_id="faq/x")
    store.record_vote("a1", "U1", "down", "faq/x")
    monkeypatch.setenv("FAQ_DATABASE_URL", pg_url)
    assert kb_main(["feedback", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["answers"], data["votes"]) == (1, {"up": 0, "down": 1})
    assert data["questions"][0]["question"] == "ulimit"
