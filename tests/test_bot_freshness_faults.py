"""The refresher under hard faults (issue #10): it never dies, never swaps in a half-save."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.freshness import Refresher
from kb.knowledge import KnowledgeBase
from tests.slack_fakes import wait_until

pytest_plugins = ["tests.conftest_bot"]

QUESTION = "\n\nHow do I frobnicate {n}?\n~~~~~~~~~~~~~~~~~~~~{u}\n\nRun ``dask-frob {n}``.\n"


def question(n: int) -> str:
    return QUESTION.format(n=n, u="~" * len(str(n)))


@pytest.fixture
def refresher_for(
    kb_factory: Callable[[Path], KnowledgeBase],
) -> Iterator[Callable[..., Refresher]]:
    made: list[Refresher] = []

    def make(source: Path, **kw: float) -> Refresher:
        made.append(Refresher(kb_factory(source), 0.02, **kw))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for refresher in made:
        refresher.stop()


class Sizes:
    """Samples how many entries the index in use has, all the time, in a thread."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb, self.seen = kb, set[int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.add(len(self.kb.reader))
            time.sleep(0.002)

    def stop(self) -> set[int]:
        self._stop.set()
        self._thread.join()
        self.seen.add(len(self.kb.reader))  # the state now, which a busy sampler may not have seen
        return self.seen


def test_the_refresher_survives_any_failure_and_logs_each_once(
    refresher_for: Callable[..., Refresher],
    seed_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.freshness")
    refresher = refresher_for(seed_copy, quiet_seconds=0)
    kb = refresher.kb
    failures: list[BaseException] = [
        RuntimeError("boom"),
        RuntimeError("boom"),
        ValueError("bad vocabulary"),
        MemoryError(),
        KeyError("entries"),
        RuntimeError("boom"),
    ]
    build = kb._build

    def flaky(reason: str) -> bytes:
        if failures:
            raise failures.pop(0)
        return build(reason)

    monkeypatch.setattr(kb, "_build", flaky)
    before = len(kb.reader)
    refresher.start()
    with seed_copy.open("a") as handle:
        handle.write(question(1))
    wait_until(lambda: refresher.swaps == 1, 10, "the swap after the failures")
    assert refresher.alive and refresher.failures == 6
    assert len(kb.reader) == before + 1
    logged = [r.getMessage().split("\n", 1)[1] for r in caplog.records]
    # Each change of failure is logged (with its traceback); a repeat is not.
    assert logged == [
        "RuntimeError: boom",
        "ValueError: bad vocabulary",
        "MemoryError: ",
        "KeyError: 'entries'",
        "RuntimeError: boom",
    ]
    assert all(r.exc_info for r in caplog.records)


def test_a_source_saved_in_two_halves_is_never_swapped_in_half_done(
    refresher_for: Callable[..., Refresher], seed_copy: Path
) -> None:
    refresher = refresher_for(seed_copy, quiet_seconds=0.5)
    kb, base = refresher.kb, seed_copy.read_text()
    full = len(kb.reader)
    sizes = Sizes(kb)
    refresher.start()
    for n in range(1, 4):
        text = base + "".join(question(i) for i in range(1, n + 1))
        with seed_copy.open("w") as handle:  # a slow writer: half, a pause, the rest
            handle.write(text[: len(text) // 2])
            handle.flush()
            time.sleep(0.3)
            handle.write(text[len(text) // 2 :])
        wait_until(lambda n=n: len(kb.reader) == full + n, 10, f"the save with {n} new")
    assert sizes.stop() == {full, full + 1, full + 2, full + 3}


def test_an_index_losing_most_entries_is_held_back_and_warned_about(
    refresher_for: Callable[..., Refresher],
    seed_copy: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.freshness")
    refresher = refresher_for(seed_copy, quiet_seconds=0.1, shrink_looks=20)
    kb, text = refresher.kb, seed_copy.read_text()
    full = len(kb.reader)
    lines = text.splitlines(keepends=True)
    cut = "".join(lines[: int(len(lines) * 0.3)])  # 2 of the 9 entries
    sizes = Sizes(kb)
    refresher.start()
    # A writer pausing longer than the quiet period: the cut file is built, but held back.
    seed_copy.write_text(cut)
    wait_until(lambda: "keeping the old index" in caplog.text, 10, "the shrink warning")
    assert len(kb.reader) == full
    seed_copy.write_text(text + question(1))  # the save completes
    wait_until(lambda: len(kb.reader) == full + 1, 10, "the completed save")
    # A deliberate cut that stays: swapped in after the looks, with a second warning.
    seed_copy.write_text(cut)
    wait_until(lambda: len(kb.reader) == 2, 10, "the deliberate cut")
    assert sizes.stop() == {full, full + 1, 2}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("keeping the old index" in m for m in messages) == 2
    assert sum(f"went from {full + 1} to 2 entries" in m for m in messages) == 1
