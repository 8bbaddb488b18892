"""Soak: two faq-bot replicas (separate processes) sharing one PostgreSQL database.

Starts a throwaway PostgreSQL server (tests/pgcluster.py), a local stand-in for Slack's
Web API, and two ``faq-bot`` processes (or two gunicorn ``-w 2`` servers) with
``FAQ_DATABASE_URL`` pointing at the same database, as two hosts behind Slack would run.
Sends N signed @mentions, each to either replica, plus Slack-style retries of many of
them to either replica (some before the original arrives); then votes on answers through
both. Prints throughput, ack and reply latency, lost and doubled replies, and whether
every vote was kept.

    .venv/bin/python bench/bench_replicas.py [--events 10000] [--gunicorn]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_bot import QUESTIONS, pct, start_bot  # noqa: E402
from kb.learn.database import open_database  # noqa: E402
from kb.learn.feedback import FeedbackStore  # noqa: E402
from tests.pgcluster import Cluster  # noqa: E402
from tests.slack_fakes import (  # noqa: E402
    BOT_USER_ID,
    FakeSlack,
    action_body,
    event_body,
    mention,
    post_signed,
)

CONFIDENT = QUESTIONS[:3]  # answered with 👍/👎 buttons


def send_events(urls: list[str], n: int, retry_share: float, rng: random.Random) -> dict[str, Any]:
    """Every event to a random replica, retries to either; a window of 200 shuffled."""
    sends: list[tuple[str, str, dict[str, str]]] = []
    for i in range(n):
        ts = f"1800000000.{i:06d}"
        text = f"<@{BOT_USER_ID}> {CONFIDENT[i % len(CONFIDENT)]}"
        body = event_body(mention(text, ts=ts), f"EvSoak{i:07d}")
        sends.append((rng.choice(urls), body, {}))
        retries = 0
        while rng.random() < retry_share and retries < 3:
            retries += 1
            headers = {"X-Slack-Retry-Num": str(retries), "X-Slack-Retry-Reason": "http_timeout"}
            sends.append((rng.choice(urls), body, headers))
    for start in range(0, len(sends), 200):
        window = sends[start : start + 200]
        rng.shuffle(window)
        sends[start : start + 200] = window
    acks: list[float] = []
    statuses: Counter[int] = Counter()

    def post(item: tuple[str, str, dict[str, str]]) -> None:
        try:
            reply = post_signed(item[0], item[1], "application/json", headers=item[2])
        except OSError:
            statuses[0] += 1
            return
        statuses[reply.status] += 1
        acks.append(reply.seconds)

    began = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        list(pool.map(post, sends))
    return {
        "sent": len(sends),
        "acks": acks,
        "statuses": statuses,
        "seconds": time.monotonic() - began,
    }


def main() -> None:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--retry-share", type=float, default=0.5, help="chance of each retry")
    parser.add_argument("--voted", type=int, default=2000, help="answers voted on")
    parser.add_argument("--gunicorn", action="store_true", help="each replica gunicorn -w 2")
    args = parser.parse_args()
    rng = random.Random(10)
    cluster = Cluster.start()
    fake = FakeSlack()
    processes = []
    try:
        db_url = cluster.new_database()
        urls = []
        with tempfile.TemporaryDirectory() as workdir:
            for name in ("a", "b"):
                os.makedirs(os.path.join(workdir, name))
                process, url = start_bot(
                    fake,
                    os.path.join(workdir, name),
                    args.gunicorn,
                    {"FAQ_DATABASE_URL": db_url, "FAQ_REFRESH_SECONDS": "0"},
                )
                processes.append(process)
                urls.append(url)
            started = time.monotonic()
            sent = send_events(urls, args.events, args.retry_share, rng)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if len(fake.calls_to("/api/chat.postMessage")) >= args.events:
                    break
                time.sleep(0.05)
            answered_at = time.monotonic()
            time.sleep(2)  # any duplicate arrives meanwhile
            posts = fake.calls_to("/api/chat.postMessage")
            per_event = Counter(c.body["thread_ts"] for c in posts)
            lost = args.events - len(per_event)
            doubled = sum(k - 1 for k in per_event.values())
            # Votes: A 👍 twice, B 👎 then 👍, C 👎, on each of the first --voted answers.
            sequences = []
            for call in posts[: args.voted]:
                actions = next(b for b in call.body["blocks"] if b["type"] == "actions")
                up, down = (
                    {"action_id": e["action_id"], "value": e["value"]}
                    for e in actions["elements"][:2]
                )
                sequences += [[("UA", up), ("UA", up)], [("UB", down), ("UB", up)], [("UC", down)]]

            def click(sequence: list[tuple[str, dict[str, str]]]) -> int:
                # Like a person: the next click only after the bot's note on the last one.
                bad = 0
                for user, action in sequence:
                    note = f"v{uuid.uuid4().hex}"
                    body = action_body(action, fake.response_url(note), user=user)
                    reply = post_signed(rng.choice(urls), body, "application/x-www-form-urlencoded")
                    bad += reply.status != 200
                    fake.wait_for(f"/response/{note}", timeout=30)
                return bad

            vote_began = time.monotonic()
            with ThreadPoolExecutor(64) as pool:
                bad_clicks = sum(pool.map(click, sequences))
            vote_seconds = time.monotonic() - vote_began
            report = FeedbackStore(open_database(db_url)).report()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        fake.close()
        cluster.stop()
    voted = min(args.voted, len(posts))
    clicks = sum(len(s) for s in sequences)
    acks = sent["acks"]
    server = "gunicorn -w 2 --threads 8" if args.gunicorn else "faq-bot (threaded WSGI server)"
    print(f"replicas: 2 × {server} on one PostgreSQL 15 database; {os.cpu_count()} CPUs")
    print(
        f"events: {args.events}, {sent['sent']} deliveries with retries, sent in "
        f"{sent['seconds']:.1f} s ({sent['sent'] / sent['seconds']:.0f}/s); every reply posted "
        f"{answered_at - started:.1f} s after the first"
    )
    print(
        f"ack latency  p50 {pct(acks, 50) * 1000:.1f} ms  p99 {pct(acks, 99) * 1000:.1f} ms"
        f"  max {max(acks) * 1000:.1f} ms; statuses {dict(sent['statuses'])}"
    )
    print(f"replies: lost {lost}, doubled {doubled}")
    print(
        f"votes: {clicks} clicks on {voted} answers in {vote_seconds:.1f} s, non-200 {bad_clicks};"
        f" stored 👍 {report.up} (want {2 * voted}), 👎 {report.down} (want {voted});"
        f" answers logged {report.answers} (want {args.events})"
    )
    ok = (
        lost == 0
        and doubled == 0
        and bad_clicks == 0
        and (report.up, report.down, report.answers) == (2 * voted, voted, args.events)
    )
    print("result:", "OK" if ok else "PROBLEM")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
