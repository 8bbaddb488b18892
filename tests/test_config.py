"""Configuration: flags > environment > config file > shipped FAQ, found from any folder."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import ConfigError, apply, find_config, load_config
from tests.conftest import SEED

URL = "https://faq.example.org/faq.html"


def write_faq(folder: Path, url: str = URL) -> None:
    """A project whose faq-kb.toml is its own manifest: docs/faq.rst at ``url``."""
    (folder / "docs").mkdir(parents=True)
    shutil.copy(SEED, folder / "docs" / "faq.rst")
    (folder / "faq-kb.toml").write_text(
        f'[[source]]\nname = "mine"\npath = "docs/faq.rst"\nurl = "{url}"\n'
    )


def faq_search(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kb", *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_faq_search_answers_from_the_config_found_upward(tmp_path: Path) -> None:
    write_faq(tmp_path / "proj")
    nested = tmp_path / "proj" / "src" / "deep"
    nested.mkdir(parents=True)
    done = faq_search(nested, "--json", "too many open files")
    assert done.returncode == 0, done.stderr
    assert f'"url": "{URL}#too-many-open-file-descriptors"' in done.stdout


def test_flags_beat_env_beat_config(tmp_path: Path) -> None:
    write_faq(tmp_path / "proj")
    other = tmp_path / "other"
    write_faq(other, "https://env.example.org/faq.html")
    cwd = tmp_path / "proj"
    via_env = faq_search(cwd, "too many open files", FAQ_MANIFEST=str(other / "faq-kb.toml"))
    assert "https://env.example.org/faq.html#" in via_env.stdout, via_env.stderr
    shipped = str(SEED.parent.parent / "sources.toml")
    via_flag = faq_search(
        cwd, "--manifest", shipped, "too many open files", FAQ_MANIFEST=str(other / "faq-kb.toml")
    )
    assert "https://distributed.dask.org/en/stable/faq.html#" in via_flag.stdout


def test_without_any_config_the_shipped_faq_answers(tmp_path: Path) -> None:
    done = faq_search(tmp_path, "too many open files")
    assert "https://distributed.dask.org/en/stable/faq.html#" in done.stdout, done.stderr


def test_a_broken_config_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "faq-kb.toml").write_text("manfest = 'x.toml'\n")
    done = faq_search(tmp_path, "too many open files")
    assert done.returncode == 2
    config = tmp_path / "faq-kb.toml"
    assert done.stderr == (
        f"error: {config}: unknown key(s) manfest (known: manifest, index, semantic, source)\n"
    )
    config.write_text("manifest = [")
    done = faq_search(tmp_path, "list")
    assert done.returncode == 2 and done.stderr.startswith(f"error: {config}: not valid TOML")


def test_the_query_path_stays_light_with_a_config(tmp_path: Path) -> None:
    """A config file costs a TOML parse, never docutils, pydantic or numpy."""
    write_faq(tmp_path)
    assert faq_search(tmp_path, "build").returncode == 0
    probe = (
        "import sys, runpy; sys.argv = ['faq-search', 'too many open files'];\n"
        "try:\n    runpy.run_module('kb', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = {'docutils', 'pydantic', 'numpy', 'rank_bm25', 'importlib.metadata'}\n"
        "print(sorted(heavy & (set(sys.modules) | {m.split('.')[0] for m in sys.modules})),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert URL in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


# Discovery and precedence, in process.


def test_nearest_config_wins_and_pyproject_needs_its_table(tmp_path: Path) -> None:
    (tmp_path / "faq-kb.toml").write_text("")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(str(inner)) == str(tmp_path / "faq-kb.toml")
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.faq-kb]\nmanifest = 'm.toml'\n")
    assert find_config(str(inner)) == str(tmp_path / "a" / "pyproject.toml")
    config = load_config(str(tmp_path / "a" / "pyproject.toml"))
    assert config.manifest == str(tmp_path / "a" / "m.toml")


def test_search_stops_below_homes_parent_then_uses_the_user_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home" / "me"
    (home / "proj").mkdir(parents=True)
    (tmp_path / "home" / "faq-kb.toml").write_text("")  # $HOME's parent: never read
    monkeypatch.setenv("HOME", str(home))
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config(str(home / "proj"), env) is None
    user = tmp_path / "xdg" / "faq-kb" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("index = '~/idx'\nsemantic = false\n")
    assert find_config(str(home / "proj"), env) == str(user)
    (home / "faq-kb.toml").write_text("")
    assert find_config(str(home / "proj"), env) == str(home / "faq-kb.toml")


def _args(**given: object) -> argparse.Namespace:
    base: dict[str, object] = {"manifest": None, "source": [], "index": None, "semantic": None}
    return argparse.Namespace(**{**base, **given})


def test_apply_fills_only_what_flags_and_env_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "faq-kb.toml").write_text(
        "manifest = 'docs/sources.toml'\nindex = '.faq-index'\nsemantic = true\n"
    )
    monkeypatch.chdir(tmp_path)
    args = _args()
    config = apply(args, {})
    assert config is not None and config.path == str(tmp_path / "faq-kb.toml")
    assert args.manifest == str(tmp_path / "docs" / "sources.toml")
    assert (args.index, args.semantic) == (str(tmp_path / ".faq-index"), True)
    args = _args(source=["x.rst"], index="i", semantic=False)
    assert apply(args, {}) is None  # nothing left to fill: the file is not even read
    assert (args.manifest, args.index, args.semantic) == (None, "i", False)
    args = _args()
    apply(args, {"FAQ_MANIFEST": "m.toml", "FAQ_INDEX": "/x", "FAQ_SEMANTIC": "0"})
    assert (args.manifest, args.index, args.semantic) == (str(tmp_path / "m.toml"), None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("semantic = 'yes'", "'semantic' must be true or false"),
        ("index = 3", "'index' must be a path"),
        ("manifest = 'm.toml'\n[[source]]\nname = 'a'", "either manifest = PATH or [[source]]"),
    ],
)
def test_bad_values_say_what_is_expected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "faq-kb.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(str(path))


def test_the_bot_reads_the_same_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("slack_bolt")
    from bot.app import StartupError, bootstrap

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef0123")
    (tmp_path / "faq-kb.toml").write_text("semantic = 2\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StartupError, match=r"faq-kb\.toml: 'semantic' must be true or false"):
        bootstrap([])
