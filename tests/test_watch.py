"""``faq-kb watch --json``: one JSON event a line, in a real subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


class Watcher:
    """``python -m kb watch --json`` on one source, its events read as they come."""

    def __init__(self, source: Path, index: Path) -> None:
        command = [sys.executable, "-m", "kb", "watch", "--json", "--interval", "0.2"]
        command += ["--source", str(source), "--index", str(index)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def next(self, kind: str, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for event in self.events[after:]:
                if event["event"] == kind:
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no {kind!r} event: {self.events}")


def test_watch_json_reports_each_change_as_one_event(seed_copy: Path, tmp_path: Path) -> None:
    watcher = Watcher(seed_copy, tmp_path / "i")
    try:
        start = watcher.next("watching")
        assert (start["files"], start["entries"]) == (1, 9)
        text = seed_copy.read_text()
        seed_copy.write_text(text + "\nNew?\n~~~~\n\nYes.\n")
        rebuilt = watcher.next("rebuilt")
        assert rebuilt["entries"] == 10 and rebuilt["files"] == [str(seed_copy)]
        seen = len(watcher.events)
        seed_copy.write_text(text + "\nBroken?\n~~~~\n\nSee `nowhere`_.\n")
        failed = watcher.next("failed", seen)
        assert any("nowhere" in error for error in failed["errors"]), failed
        seen = len(watcher.events)
        seed_copy.write_text(text + "\nNew?\n~~~~\n\nYes.\n")  # back to what is indexed
        assert watcher.next("unchanged", seen)["files"] == [str(seed_copy)]
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.proc.wait(timeout=20) == 130
        assert watcher.next("stopped")
        assert {"event", "time"} <= set(watcher.events[0])
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
        watcher.proc.wait()


def test_watch_text_output_is_unchanged_without_json(seed_copy: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "kb", "watch", "--source", str(seed_copy)]
    command += ["--index", str(tmp_path / "i")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "watching 1 file(s); Ctrl-C to stop\n"
        proc.terminate()
