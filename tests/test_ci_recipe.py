"""The docs-CI recipe (examples/github-actions/faq-docs.yml): its faq-kb steps, for real."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.git_fixture import edit_seed, git, repo

__all__ = ["repo"]

WORKFLOW = ROOT / "examples" / "github-actions" / "faq-docs.yml"


def _faq_kb_steps(workflow: dict[str, Any]) -> list[str]:
    steps = workflow["jobs"]["faq"]["steps"]
    return [s["run"] for s in steps if str(s.get("run", "")).startswith("faq-kb ")]


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A step's command with faq-kb as this interpreter's `python -m kb`, in bash."""
    here = f"{shlex.quote(sys.executable)} -m kb"
    return subprocess.run(
        ["bash", "-c", here + command.removeprefix("faq-kb")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_recipe_lints_and_reports_a_real_edit(repo: Path, tmp_path: Path) -> None:
    """A pull request that retitles a question: check passes, diff fails with the report."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    check, diff = _faq_kb_steps(workflow)
    assert check.startswith("faq-kb check") and "--base-rev" in diff
    env = {
        **os.environ,
        **workflow["env"],
        "GITHUB_BASE_REF": "main",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    edit_seed(repo / "faq" / "distributed" / "faq.rst")
    git(repo, "commit", "-q", "-am", "Reword the open files question")

    linted = _run(check, repo, env)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # The retitle orphaned the old question's alternate wordings: said, not an error.
    assert linted.stdout.splitlines()[-1] == "ok: 8 entries in 1 source(s), 2 warning(s)"
    assert "no entry 'too-many-open-file-descriptors' in distributed" in linted.stdout

    compared = _run(diff, repo, env)
    assert compared.returncode == 1, compared.stderr  # the workflow fails after commenting
    comment = (repo / "faq-diff.md").read_text()
    assert comment.startswith("## FAQ answers: `origin/main` → `working tree`\n")
    assert "### ⚠️ Anchors changed: every link people pasted to these breaks" in comment
    assert "| `#too-many-open-file-descriptors` | `#too-many-open-files` |" in comment


def test_an_unchanged_faq_passes(repo: Path, tmp_path: Path) -> None:
    """A pull request that leaves the FAQ alone: no regression, exit 0."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    _, diff = _faq_kb_steps(workflow)
    env = {**os.environ, **workflow["env"], "GITHUB_BASE_REF": "main"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    compared = _run(diff, repo, env)
    assert compared.returncode == 0, compared.stderr
    assert "**✅ No regression**" in (repo / "faq-diff.md").read_text()
