"""A source edited while the bot runs: rebuilt in the background, swapped in atomically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kb.knowledge import KnowledgeBase

if TYPE_CHECKING:
    from tests.conftest_bot import RunningBot
from tests.slack_fakes import dm, wait_until

NEW_QUESTION = """

How do I reticulate splines?
~~~~~~~~~~~~~~~~~~~~~~~~~~~~

Use the spline reticulator: ``dask-reticulate --splines``.
"""
BROKEN = "\n\nWhy is this broken?\n~~~~~~~~~~~~~~~~~~~\n\nSee `nowhere`_.\n"

pytest_plugins = ["tests.conftest_bot"]


def answered_url(bot: RunningBot, n: int) -> str:
    call = bot.fake.wait_for("/api/chat.postMessage", n=n)[n - 1]
    first = call.body["blocks"][0]["text"]["text"]
    return first.split("<", 1)[1].split("|", 1)[0] if first.startswith("*<") else "no answer"


def test_edited_source_is_picked_up_and_a_broken_edit_keeps_the_old_index(
    start_bot: Callable[..., RunningBot],
    seed_copy: Path,
    kb_factory: Callable[[Path], KnowledgeBase],
    caplog: pytest.LogCaptureFixture,
) -> None:

    source = seed_copy
    bot = start_bot(kb=kb_factory(source), refresh_seconds=0.05)
    asked = 0

    def ask(question: str) -> str:
        nonlocal asked
        asked += 1
        assert bot.event(dm(question, ts=f"1700000000.{asked:06d}")).status == 200
        return answered_url(bot, asked)

    assert ask("how do I reticulate splines") == "no answer"

    # Questions keep being answered (from the old index, then the new) during the rebuild.
    stop = threading.Event()
    during: list[int] = []

    def keep_asking() -> None:
        while not stop.is_set() and len(during) < 200:
            during.append(bot.event(dm("too many open files", ts="1700000001.000001")).status)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    old_reader = bot.kb.reader
    with source.open("a") as handle:
        handle.write(NEW_QUESTION)
    wait_until(lambda: bot.refresher.swaps == 1, 10, "the rebuilt index")
    stop.set()
    asker.join()
    assert bot.kb.reader is not old_reader
    assert during and set(during) == {200}
    replies = wait_until(
        lambda: (lambda calls: calls if len(calls) >= asked + len(during) else None)(
            bot.fake.calls_to("/api/chat.postMessage")
        ),
        10,
        "every reply during the rebuild",
    )
    for call in replies[asked:]:
        assert call.body["blocks"][0]["text"]["text"].endswith("|Too many open file descriptors?>*")
    asked = len(replies)

    assert ask("how do I reticulate splines").endswith("faq.html#how-do-i-reticulate-splines")

    caplog.set_level(logging.ERROR, logger="bot.freshness")
    swapped_reader = bot.kb.reader
    with source.open("a") as handle:
        handle.write(BROKEN)
    wait_until(lambda: bot.refresher.last_error, 10, "the build error")
    assert 'Unknown target name: "nowhere"' in bot.refresher.last_error
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "still answering from the old index" in errors[0].getMessage()
    assert bot.kb.reader is swapped_reader
    assert ask("how do I reticulate splines").endswith("#how-do-i-reticulate-splines")
    assert bot.refresher.swaps == 1
