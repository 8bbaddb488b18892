"""A real git repository holding the seed FAQ, cloned as CI checks a pull request out."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SEED, SEED_URL

MANIFEST = f'[[source]]\nname = "distributed"\npath = "distributed/faq.rst"\nurl = "{SEED_URL}"\n'
_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; its output."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def edit_seed(faq: Path) -> None:
    """Three real edits: a retitled question, a removed sub-part, a moved link."""
    text = faq.read_text()
    text = text.replace(
        "Too many open file descriptors?\n~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
        "Too many open files?\n~~~~~~~~~~~~~~~~~~~~",
    )
    start, end = text.index("Temporary installations\n"), text.index("Send Source\n")
    text = text[:start] + text[end:]
    text = text.replace(
        ".. _conda-pack: https://conda.github.io/conda-pack/",
        ".. _conda-pack: https://conda.github.io/conda-pack/index.html",
    )
    faq.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone (with origin/main) of a repository whose main holds the seed FAQ."""
    origin = tmp_path / "origin"
    faq = origin / "faq" / "distributed" / "faq.rst"
    faq.parent.mkdir(parents=True)
    shutil.copy(SEED, faq)
    shutil.copy(SEED.with_suffix(".aliases.toml"), faq.with_suffix(".aliases.toml"))
    (origin / "faq" / "sources.toml").write_text(MANIFEST)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "The seed FAQ")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "edit-faq")
    return work
