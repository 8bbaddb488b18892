"""``--version`` on faq-search, faq-kb and faq-bot: the installed distribution's version."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["faq-search", "faq-kb", "faq-bot"])
def test_every_command_prints_its_version(command: str) -> None:
    script = Path(sys.executable).with_name(command)
    if not script.exists():
        pytest.skip(f"{command} is not installed next to this Python (pip install the project)")
    if command == "faq-bot":
        pytest.importorskip("slack_bolt")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"faq-kb {version('faq-kb')}\n", "")


def test_python_dash_m_kb_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("faq-kb ")
