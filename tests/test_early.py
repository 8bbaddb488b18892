"""The early parser (kb.index.early): a rebuild's changed sources parsed by a forked
worker, and the same index whatever becomes of the worker."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kb.index.early
import kb.ingest.parse
from kb.errors import BuildError
from kb.index.build import build
from kb.index.early import EarlyParser
from kb.index.reader import INDEX_FILE
from kb.ingest.sources import Source
from kb.spec import SourceSpec

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the early parser forks")
FORKABLE = kb.index.early._forkable  # the rule, before the fixture below lifts it


def _faq(name: str, answer: str) -> str:
    return f"{name.title()}\n=====\n\nWhy {name}?\n---------\n\n{answer}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    faqs = tmp_path / "faqs"
    faqs.mkdir()
    for name in ("one", "two", "three"):
        (faqs / f"{name}.rst").write_text(_faq(name, f"Because {name}, see ``code``."))
    return faqs


@pytest.fixture(autouse=True)
def forkable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork even if an earlier test left a thread behind (a pool's idle workers): the
    worker only parses. The rule itself is tested on its own below."""
    monkeypatch.setattr(kb.index.early, "_forkable", lambda: True)


@pytest.fixture
def parsed_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A log of (source name, process id) for every parse, in whichever process."""
    log = tmp_path / "parsed.log"
    real = kb.ingest.parse.parse_source

    def spy(source: Source, **kw: Any) -> Any:
        with log.open("a") as out:
            out.write(f"{source.name} {os.getpid()}\n")
        return real(source, **kw)

    monkeypatch.setattr(kb.ingest.parse, "parse_source", spy)
    yield log


def _parses(log: Path) -> list[tuple[str, int]]:
    if not log.exists():
        return []
    return [
        (name, int(pid))
        for name, pid in (line.split() for line in log.read_text().split("\n") if line)
    ]


def _rebuild_after_edit(folder: Path, tmp_path: Path, log: Path) -> tuple[bytes, bytes]:
    """Build, edit two.rst, rebuild; returns the rebuilt index's bytes and a fresh build's."""
    spec = SourceSpec(paths=(f"{folder}=https://example.org/",))
    build(spec, str(tmp_path / "idx"))
    log.unlink(missing_ok=True)
    (folder / "two.rst").write_text(_faq("two", "Because 2, see ``other code``."))
    report = build(spec, str(tmp_path / "idx"))
    assert (report.entries, report.reused) == (3, 2)
    rebuilt = (tmp_path / "idx" / INDEX_FILE).read_bytes()
    build(spec, str(tmp_path / "fresh"))
    return rebuilt, (tmp_path / "fresh" / INDEX_FILE).read_bytes()


def test_a_rebuild_parses_the_changed_source_in_the_worker(
    folder: Path, tmp_path: Path, parsed_by: Path
) -> None:
    spec = SourceSpec(paths=(f"{folder}=https://example.org/",))
    build(spec, str(tmp_path / "idx"))
    parsed_by.unlink()
    (folder / "two.rst").write_text(_faq("two", "Because 2."))
    assert build(spec, str(tmp_path / "idx")).reused == 2
    [(name, pid)] = _parses(parsed_by)
    assert name == "two" and pid != os.getpid()


def test_the_rebuilt_index_is_a_fresh_builds_byte_for_byte(
    folder: Path, tmp_path: Path, parsed_by: Path
) -> None:
    rebuilt, fresh = _rebuild_after_edit(folder, tmp_path, parsed_by)
    assert rebuilt == fresh


def _dies_at_once(requests: int, results: int) -> None:
    os._exit(3)


def _sends_half_a_result(requests: int, results: int) -> None:
    os.read(requests, 1 << 16)
    os.write(results, (1000).to_bytes(8, "little") + b"\x80\x05 not all of it")
    os._exit(0)


@pytest.mark.parametrize("worker", [_dies_at_once, _sends_half_a_result])
def test_a_failing_worker_leaves_the_parse_to_the_build(
    folder: Path,
    tmp_path: Path,
    parsed_by: Path,
    monkeypatch: pytest.MonkeyPatch,
    worker: Callable[[int, int], None],
) -> None:
    monkeypatch.setattr(kb.index.early, "_serve", worker)
    rebuilt, fresh = _rebuild_after_edit(folder, tmp_path, parsed_by)
    assert rebuilt == fresh
    assert ("two", os.getpid()) in _parses(parsed_by)


def test_no_worker_is_forked_beside_another_thread(
    folder: Path, tmp_path: Path, parsed_by: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bot rebuilds from a thread of a multi-threaded process: forking there is unsafe.
    monkeypatch.setattr(kb.index.early, "_forkable", FORKABLE)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert EarlyParser.start() is None
        rebuilt, fresh = _rebuild_after_edit(folder, tmp_path, parsed_by)
    finally:
        release.set()
        other.join()
    assert rebuilt == fresh
    assert {pid for _, pid in _parses(parsed_by)} == {os.getpid()}


def test_a_broken_edit_is_reported_as_without_the_worker(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SourceSpec(paths=(f"{folder}=https://example.org/",))
    build(spec, str(tmp_path / "idx"))
    before = (tmp_path / "idx" / INDEX_FILE).read_bytes()
    (folder / "two.rst").write_bytes(b"Two\n===\n\nWhy?\n----\n\n\xff not UTF-8\n")
    with pytest.raises(BuildError) as by_worker:
        build(spec, str(tmp_path / "idx"))
    monkeypatch.setattr(EarlyParser, "start", classmethod(lambda cls: None))
    with pytest.raises(BuildError) as in_process:
        build(spec, str(tmp_path / "idx"))
    assert str(by_worker.value) == str(in_process.value)
    assert "not UTF-8" in str(by_worker.value)
    assert (tmp_path / "idx" / INDEX_FILE).read_bytes() == before  # the old index stays


def test_the_worker_is_reaped_whether_asked_or_not(folder: Path) -> None:
    unasked = EarlyParser.start()
    assert unasked is not None
    pid = unasked.pid
    unasked.close()  # not worth waiting for: stopped at once
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    asked = EarlyParser.start()
    assert asked is not None
    pid = asked.pid
    source = Source("one", folder / "one.rst", "https://example.org/one.html")
    [prepared] = list(asked.ask([source]))
    assert (prepared.name, len(prepared), prepared.problems) == ("one", 1, [])
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
