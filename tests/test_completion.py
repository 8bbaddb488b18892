"""``faq-kb completion bash|zsh|fish``: scripts written from the parsers, that shells accept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.cli.completion import describe
from kb.cli.parsers import kb_parser


def completion(shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kb", "completion", shell],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed here")
    return found


@pytest.mark.parametrize(
    ("shell", "check"),
    [("bash", ["-n"]), ("zsh", ["-n"]), ("fish", ["--no-execute"])],
)
def test_scripts_parse(shell: str, check: list[str], tmp_path: Path) -> None:
    script = tmp_path / f"faq-kb.{shell}"
    script.write_text(completion(shell))
    done = subprocess.run([_shell(shell), *check, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _bash_complete(script: Path, line: str, cwd: Path) -> list[str]:
    """What bash offers at the end of ``line`` (completion function called as bash would)."""
    words = line.split(" ")
    program = words[0]
    func = "_faq_kb_" + program.replace("-", "_")
    probe = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"{func}; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    done = subprocess.run(
        [_shell("bash"), "--norc", "-c", probe], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_commands_options_and_values(tmp_path: Path) -> None:
    script = tmp_path / "faq-kb.bash"
    script.write_text(completion("bash"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "sources.toml").write_text("")
    assert _bash_complete(script, "faq-kb bu", tmp_path) == ["build"]
    assert _bash_complete(script, "faq-kb completion ", tmp_path) == ["bash", "zsh", "fish"]
    assert "--index" in _bash_complete(script, "faq-kb build --i", tmp_path)
    assert _bash_complete(script, "faq-search --manifest so", tmp_path) == ["sources.toml"]
    assert _bash_complete(script, "faq-search --index ", tmp_path) == ["docs"]
    assert "--json" in _bash_complete(script, "faq-search --", tmp_path)
    assert _bash_complete(script, "faq-kb init d", tmp_path) == ["docs"]


def test_fish_completes_from_the_script(tmp_path: Path) -> None:
    script = tmp_path / "faq-kb.fish"
    script.write_text(completion("fish"))
    probe = f"source {script}; complete -C 'faq-kb wa'; complete -C 'faq-kb watch --int'"
    done = subprocess.run(
        [_shell("fish"), "--no-config", "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.stdout.splitlines() == [
        "watch\trebuild whenever a source changes",
        "--interval\thow often to look (default 1)",
    ]


def test_every_subcommand_and_option_is_in_every_script() -> None:
    model = describe(kb_parser(), "faq-kb")
    scripts = {shell: completion(shell) for shell in ("bash", "zsh", "fish")}
    for sub in model.subcommands:
        for option in sub.options:
            for flag in option.flags:
                assert flag in scripts["bash"] and flag in scripts["zsh"], (sub.name, flag)
                assert flag.lstrip("-") in scripts["fish"], (sub.name, flag)
        for text in scripts.values():
            assert sub.name in text
