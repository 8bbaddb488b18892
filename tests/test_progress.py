"""Build progress: on a terminal after a second, always with --verbose, else silent."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from kb.cli.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_build(progress: Progress, clock: Clock, step: float, total: int = 4) -> None:
    progress(0, total, 0)
    for done in range(1, total + 1):
        clock.now += step
        progress(done, total, done * 10)


def test_a_terminal_sees_a_line_redrawn_only_once_a_build_passes_a_second() -> None:
    clock, stream = Clock(), Terminal()
    run_build(Progress(stream, clock=clock), clock, step=0.1)
    assert stream.getvalue() == ""  # 0.4 s: nothing flashes
    clock, stream = Clock(), Terminal()
    run_build(Progress(stream, clock=clock), clock, step=0.6)
    assert stream.getvalue() == (
        "\r\x1b[Kreading sources: 2/4, 20 entries"
        "\r\x1b[Kreading sources: 3/4, 30 entries"
        "\r\x1b[K"  # cleared: the build's own summary takes the line
    )


def test_verbose_writes_lines_anywhere_and_silence_otherwise() -> None:
    clock, stream = Clock(), io.StringIO()
    run_build(Progress(stream, verbose=True, clock=clock), clock, step=0.4)
    assert stream.getvalue().splitlines() == [
        "reading sources: 0/4, 0 entries",
        "reading sources: 3/4, 30 entries",
        "reading sources: 4/4, 40 entries (1.6 s)",
    ]
    clock, stream = Clock(), io.StringIO()
    run_build(Progress(stream, clock=clock), clock, step=5)
    assert stream.getvalue() == ""


def test_faq_kb_build_verbose_in_a_subprocess(seed_copy: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "kb", "build", "--source", str(seed_copy)]
    command += ["--index", str(tmp_path / "i")]
    quiet = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = subprocess.run([*command, "--verbose"], capture_output=True, text=True)
    assert loud.returncode == 0
    assert loud.stderr.splitlines()[0] == "reading sources: 0/1, 0 entries"
    assert loud.stderr.splitlines()[-1].startswith("reading sources: 1/1, 9 entries (")
