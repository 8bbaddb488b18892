"""Packaging: licence, metadata, and dependencies that match what the code imports."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_license_is_an_spdx_expression_with_its_file() -> None:
    assert PROJECT["license"] == "BSD-3-Clause"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "BSD 3-Clause License" in text
    assert "Copyright (c) 2026, the faq-kb developers" in text
    # license = "SPDX" and license-files need setuptools 77 or later.
    assert any(r.startswith("setuptools>=7") for r in PYPROJECT["build-system"]["requires"])


def test_urls_and_classifiers() -> None:
    assert set(PROJECT["urls"]) >= {"Homepage", "Documentation", "Issues"}
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # SPDX instead


def _imported_anywhere(module: str, *folders: str) -> bool:
    pattern = re.compile(rf"^\s*(?:import|from)\s+{module}\b", re.MULTILINE)
    return any(
        pattern.search(path.read_text())
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
    )


def test_runtime_dependencies_are_what_kb_and_bot_import() -> None:
    runtime = {re.split(r"[<>=\[ ]", d)[0].lower() for d in PROJECT["dependencies"]}
    assert ("rank-bm25" in runtime) == _imported_anywhere("rank_bm25", "kb", "bot")
    for name, module in {"docutils": "docutils", "pydantic": "pydantic", "numpy": "numpy"}.items():
        assert name in runtime and _imported_anywhere(module, "kb")


def test_the_test_extra_reuses_the_slack_extra() -> None:
    extras = PROJECT["optional-dependencies"]
    assert "faq-kb[slack]" in extras["test"]
    slack = {re.split(r"[<>=]", d)[0] for d in extras["slack"]}
    assert not slack & {re.split(r"[<>=\[]", d)[0] for d in extras["test"]}


def test_the_bot_installs_with_the_meaning_signal() -> None:
    """faq-bot ranks with meaning wherever the extra is installed: its extra brings it."""
    assert "faq-kb[semantic]" in PROJECT["optional-dependencies"]["slack"]


def test_readme_links_work_on_the_package_index_page() -> None:
    """PyPI shows README.md without the repository: every link must be absolute."""
    readme = (ROOT / "README.md").read_text()
    relative = [t for t in re.findall(r"\]\(([^)]+)\)", readme) if "://" not in t]
    assert relative == []
    assert PROJECT["urls"]["Homepage"] in readme
