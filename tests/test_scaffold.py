"""``faq-kb init``: a starter faq-kb.toml for a docs folder, that faq-search then uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kb.cli.scaffold import page_title
from tests.conftest import ROOT, SEED


def faq_kb(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kb", *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def make_docs(project: Path, conf: str = 'html_baseurl = "https://docs.example.org/en/"\n') -> None:
    """A Sphinx project: two FAQ pages (by name, by title), other pages, a build folder."""
    docs = project / "docs"
    (docs / "user").mkdir(parents=True)
    (docs / "_build").mkdir()
    (docs / "conf.py").write_text(f"project = 'Demo'\n{conf}")
    shutil.copy(SEED, docs / "faq.rst")
    shutil.copy(SEED, docs / "_build" / "faq.rst")  # build output: never a source
    (docs / "user" / "questions.rst").write_text(
        ".. _questions:\n\n==========================\nFrequently Asked Questions\n"
        "==========================\n\nWhy?\n----\n\nBecause.\n"
    )
    (docs / "index.rst").write_text("Demo\n====\n\nWelcome to the FAQ-free index.\n")


def test_init_writes_a_config_faq_search_answers_from(tmp_path: Path) -> None:
    make_docs(tmp_path)
    done = faq_kb(tmp_path, "init", "docs")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "faq-kb.toml").read_text()
    assert '[[source]]\nname = "faq"\npath = "docs/faq.rst"\n' in text
    assert 'url = "https://docs.example.org/en/faq.html"' in text
    assert 'name = "user.questions"\npath = "docs/user/questions.rst"' in text
    assert 'url = "https://docs.example.org/en/user/questions.html"' in text
    assert "_build" not in text and "index.rst" not in text
    assert done.stdout.startswith("wrote faq-kb.toml: 2 FAQ pages under docs/\n")
    assert "(from conf.py html_baseurl)" in done.stdout
    assert "faq-kb check" in done.stdout
    nested = tmp_path / "src"
    nested.mkdir()
    asked = faq_kb(nested, "list")
    assert asked.returncode == 0, asked.stderr
    assert "user.questions/why\tWhy?" in asked.stdout
    assert faq_kb(nested, "check").returncode == 0


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    make_docs(tmp_path)
    (tmp_path / "faq-kb.toml").write_text("# mine\n")
    done = faq_kb(tmp_path, "init")  # docs/ is found by itself
    assert done.returncode == 2
    config = tmp_path / "faq-kb.toml"
    assert done.stderr == f"error: {config} already exists; --force overwrites it\n"
    assert (tmp_path / "faq-kb.toml").read_text() == "# mine\n"
    forced = faq_kb(tmp_path, "init", "--force", "--url", "https://faq.example.com")
    assert forced.returncode == 0, forced.stderr
    assert 'url = "https://faq.example.com/faq.html"' in (tmp_path / "faq-kb.toml").read_text()


def test_init_without_a_base_url_writes_placeholders_and_says_so(tmp_path: Path) -> None:
    make_docs(tmp_path, conf="")
    done = faq_kb(tmp_path, "init", "docs")
    assert done.returncode == 0, done.stderr
    assert "the urls are placeholders" in done.stdout
    text = (tmp_path / "faq-kb.toml").read_text()
    assert "# TODO: the urls below are placeholders" in text
    assert 'url = "https://docs.example.invalid/faq.html"' in text


def test_init_never_runs_conf_py(tmp_path: Path) -> None:
    make_docs(tmp_path, conf="open('ran', 'w')\nhtml_baseurl = 'https://x.example/'\n")
    assert faq_kb(tmp_path, "init", "docs").returncode == 0
    assert not (tmp_path / "ran").exists() and not (tmp_path / "docs" / "ran").exists()


def test_init_reads_the_page_suffix_of_conf_py(tmp_path: Path) -> None:
    """Pages kept as .txt (``source_suffix``, as in Django's docs) are found, and Markdown
    pages never are; faq-search then answers from them."""
    docs = tmp_path / "docs"
    (docs / "faq").mkdir(parents=True)
    (docs / "conf.py").write_text(
        "html_baseurl = 'https://docs.example.org/'\n"
        "source_suffix = {\n    '.txt': 'restructuredtext',\n    '.md': 'markdown',\n}\n"
    )
    shutil.copy(SEED, docs / "faq" / "general.txt")
    (docs / "faq" / "faq.md").write_text("# FAQ\n\n## Why?\n\nBecause.\n")
    (docs / "requirements.txt").write_text("sphinx\n")
    done = faq_kb(tmp_path, "init", "docs")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "faq-kb.toml").read_text()
    assert 'name = "faq.general"\npath = "docs/faq/general.txt"' in text
    assert 'url = "https://docs.example.org/faq/general.html"' in text
    assert ".md" not in text and "requirements" not in text
    asked = faq_kb(tmp_path, "--json", "how do I use external modules")
    assert asked.returncode == 0, asked.stderr
    assert "faq/general.html#how-do-i-use-external-modules" in asked.stdout


def test_init_with_no_faq_page_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.rst").write_text("Home\n====\n")
    done = faq_kb(tmp_path, "init", "docs")
    assert done.returncode == 2 and "no FAQ page found" in done.stderr
    assert not (tmp_path / "faq-kb.toml").exists()


def test_page_title_reads_over_and_underlined_titles(tmp_path: Path) -> None:
    page = tmp_path / "p.rst"
    page.write_text(".. comment\n\n=====\n FAQ\n=====\n\nText\n")
    assert page_title(page) == "FAQ"
    page.write_text(":orphan:\n\nGeneral Python FAQ\n******************\n")
    assert page_title(page) == "General Python FAQ"


def test_init_finds_an_faq_split_into_pages(tmp_path: Path) -> None:
    """An FAQ kept as a folder of pages (CPython's and Django's docs) or as pages an FAQ
    page's toctree lists: each page is a source; an index page that only lists them is
    left out (it has no question), and said so."""
    docs = tmp_path / "docs"
    (docs / "faq").mkdir(parents=True)
    (docs / "help").mkdir()
    (docs / "conf.py").write_text("html_baseurl = 'https://docs.example.org/'\n")
    (docs / "faq" / "index.rst").write_text(
        "Questions\n=========\n\n.. toctree::\n   :maxdepth: 1\n\n   general\n   Missing <gone>\n"
    )
    shutil.copy(SEED, docs / "faq" / "general.rst")
    (docs / "help" / "faq.rst").write_text(
        "FAQ\n===\n\nWhy?\n----\n\nBecause.\n\n.. toctree::\n   :glob:\n\n"
        "   Network trouble <network>\n   /faq/general\n   ../faq/general\n   ../../outside\n"
        "   other/*\n"
    )
    (docs / "help" / "network.rst").write_text(
        "Network\n=======\n\nWhy is it slow?\n---------------\n\nThe network.\n"
    )
    (docs / "help" / "unlisted.rst").write_text("Other\n=====\n\nWhy not?\n--------\n\nNo.\n")
    (tmp_path / "outside.rst").write_text("FAQ\n===\n\nWhy?\n----\n\nNot docs.\n")
    done = faq_kb(tmp_path, "init", "docs")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "faq-kb.toml").read_text()
    paths = [line.split('"')[1] for line in text.splitlines() if line.startswith("path = ")]
    assert paths == ["docs/faq/general.rst", "docs/help/faq.rst", "docs/help/network.rst"]
    assert "(by toctree of help/faq.rst)" in done.stdout
    assert "(left out docs/faq/index.rst: it only lists FAQ pages)" in done.stdout
    asked = faq_kb(tmp_path, "--json", "why is it slow")
    assert asked.returncode == 0, asked.stderr
    assert "https://docs.example.org/help/network.html#why-is-it-slow" in asked.stdout
