"""Burst benchmark: N concurrent signed @mentions against one running faq-bot process.

Starts a local stand-in for Slack's Web API, runs ``faq-bot`` (HTTP mode) or gunicorn as a
separate process pointed at it, then fires bursts of signed ``app_mention`` events at once
(plus Slack-style retries of some). Prints ack latency (HTTP 200) and the time until each
threaded reply reached the fake ``chat.postMessage``; counts lost and duplicate replies.

    .venv/bin/python bench/bench_bot.py [--concurrency 20] [--rounds 5] [--gunicorn]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.slack_fakes import (  # noqa: E402
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlack,
    event_body,
    mention,
    post_signed,
)

SLACK_ACK_LIMIT = 3.0
QUESTIONS = [
    "too many open files",
    "how do I use external modules?",
    "does dask handle data locality",
    "permission denied /root/.dask",
    "KilledWorker CommsClosed",
    "OMP_NUM_THREADS error when running dask-worker",
]


def start_bot(
    fake: FakeSlack, workdir: str, gunicorn: bool, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Run the bot in its own process; return it and its events URL."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SLACK_", "FAQ_"))}
    env = {k: v for k, v in env.items() if not k.upper().endswith("_PROXY")}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        FAQ_INDEX=os.path.join(workdir, "index"),
        FAQ_FEEDBACK_DB=os.path.join(workdir, "feedback.sqlite3"),
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra_env or {})
    if gunicorn:
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "8"]
        command += ["-b", "127.0.0.1:0", "bot.wsgi:application"]
        pattern = r"Listening at: (http://127\.0\.0\.1:\d+)"
    else:
        command = [sys.executable, "-c", "from bot.app import main; main()"]
        command += ["--host", "127.0.0.1", "--port", "0"]
        pattern = r"listening on (http://127\.0\.0\.1:\d+)"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    log: list[str] = []
    deadline = time.monotonic() + 60
    ready = 2 if gunicorn else 1
    url = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        log.append(line)
        found = re.search(pattern, line)
        url = url or (found.group(1) if found else "")
        if url and sum("FAQ loaded" in x for x in log) >= ready:
            keep = os.environ.get("BENCH_BOT_LOG")  # a file to append the bot's log to

            def drain(keep: str | None = keep) -> None:
                with open(keep or os.devnull, "a", encoding="utf-8") as out:
                    out.writelines(log)
                    for line in process.stderr or []:
                        out.write(line)

            threading.Thread(target=drain, daemon=True).start()
            return process, url + "/slack/events"
    process.kill()
    raise SystemExit("the bot did not start:\n" + "".join(log))


def burst(url: str, fake: FakeSlack, round_no: int, n: int, retries: int) -> dict[str, object]:
    """Send ``n`` mentions at once (and ``retries`` repeats); wait for every reply."""
    sends: list[tuple[str, str, dict[str, str]]] = []
    for i in range(n):
        ts = f"17{round_no:04d}0000.{i:06d}"
        question = QUESTIONS[i % len(QUESTIONS)]
        body = event_body(mention(f"<@{BOT_USER_ID}> {question}", ts=ts), f"Ev{round_no}x{i}")
        sends.append((ts, body, {}))
    for i in range(retries):
        ts, body, _ = sends[i]
        sends.append((ts, body, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}))
    started: dict[str, float] = {}
    acks: list[float] = []
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(sends))

    def send(ts: str, body: str, headers: dict[str, str]) -> None:
        gate.wait()
        began = time.time()
        try:
            reply = post_signed(url, body, "application/json", headers=headers)
        except OSError as error:  # a refused or reset connection: Slack would retry it
            with lock:
                statuses.append(0)
                errors.append(f"{type(error).__name__}: {error}")
            return
        with lock:
            started.setdefault(ts, began)
            if not headers:
                acks.append(reply.seconds)
            statuses.append(reply.status)

    threads = [threading.Thread(target=send, args=s) for s in sends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wanted = {ts for ts, _, _ in sends}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = [
            c for c in fake.calls_to("/api/chat.postMessage") if c.body.get("thread_ts") in wanted
        ]
        if len({c.body["thread_ts"] for c in got}) == len(wanted):
            break
        time.sleep(0.01)
    time.sleep(0.5)  # let any duplicate reply arrive before counting
    got = [c for c in fake.calls_to("/api/chat.postMessage") if c.body.get("thread_ts") in wanted]
    per_thread = Counter(c.body["thread_ts"] for c in got)
    first_reply = {}
    for call in got:
        first_reply.setdefault(call.body["thread_ts"], call.at)
    return {
        "acks": acks,
        "replies": [first_reply[ts] - started[ts] for ts in first_reply],
        "lost": len(wanted - set(per_thread)),
        "duplicates": sum(count - 1 for count in per_thread.values()),
        "non_200": sum(1 for s in statuses if s != 200),
        "errors": errors,
    }


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=20, help="events per burst")
    parser.add_argument("--rounds", type=int, default=5, help="bursts (after one warm-up)")
    parser.add_argument("--retries", type=int, default=5, help="Slack retries sent per burst")
    parser.add_argument("--gunicorn", action="store_true", help="gunicorn -w 2 --threads 8")
    args = parser.parse_args()
    fake = FakeSlack()
    with tempfile.TemporaryDirectory() as workdir:
        process, url = start_bot(fake, workdir, args.gunicorn)
        try:
            burst(url, fake, 0, args.concurrency, 0)  # warm-up: first-request costs
            results = [
                burst(url, fake, r, args.concurrency, args.retries)
                for r in range(1, args.rounds + 1)
            ]
        finally:
            process.terminate()
            process.wait(timeout=20)
            fake.close()
    acks = [a for r in results for a in r["acks"]]  # type: ignore[attr-defined]
    replies = [a for r in results for a in r["replies"]]  # type: ignore[attr-defined]
    lost = sum(int(r["lost"]) for r in results)  # type: ignore[call-overload]
    dupes = sum(int(r["duplicates"]) for r in results)  # type: ignore[call-overload]
    bad = sum(int(r["non_200"]) for r in results)  # type: ignore[call-overload]
    server = "gunicorn -w 2 --threads 8" if args.gunicorn else "faq-bot (threaded WSGI server)"
    print(f"server: {server}; {args.rounds} bursts of {args.concurrency} concurrent mentions")
    print(
        f"        (+{args.retries} Slack retries each), {len(acks)} events, {os.cpu_count()} CPUs"
    )
    print(
        f"ack latency    p50 {pct(acks, 50) * 1000:7.1f} ms   p99 {pct(acks, 99) * 1000:7.1f} ms"
        f"   max {max(acks) * 1000:7.1f} ms   (Slack's limit: {SLACK_ACK_LIMIT:.0f} s)"
    )
    print(
        f"reply posted   p50 {pct(replies, 50) * 1000:7.1f} ms   p99 "
        f"{pct(replies, 99) * 1000:7.1f} ms   max {max(replies) * 1000:7.1f} ms"
    )
    print(f"lost replies: {lost}   duplicate replies: {dupes}   non-200 acks: {bad}")
    for error in sorted({e for r in results for e in r["errors"]})[:5]:  # type: ignore[attr-defined]
        print(f"  connection error: {error}")
    ok = max(acks) < SLACK_ACK_LIMIT / 3 and lost == 0 and dupes == 0 and bad == 0
    print("result:", "OK" if ok else "PROBLEM")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
