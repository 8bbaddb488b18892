"""Shared fixtures: the real corpora (read from ../shared, never copied), the seed, indexes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kb.index.build import build
from kb.ingest.parse import ParsedSource, parse_source
from kb.ingest.sources import Source
from kb.knowledge import KnowledgeBase
from kb.spec import SourceSpec

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "faq_source" / "distributed" / "faq.rst"
SEED_URL = "https://distributed.dask.org/en/stable/faq.html"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"


# Where eval/corpora.toml (the labelled questions' FAQs) reads the corpora from.
EVAL_CORPORA = ROOT.parent / "shared" / "corpora"


def _corpora_dir() -> Path | None:
    for candidate in (os.environ.get("FAQ_CORPORA"), EVAL_CORPORA):
        if candidate and Path(candidate, "SOURCES.tsv").is_file():
            return Path(candidate)
    return None


CORPORA = _corpora_dir()
needs_corpora = pytest.mark.skipif(
    CORPORA is None,
    reason="the real FAQ corpora (../shared/corpora, or $FAQ_CORPORA) are not on this machine",
)
needs_eval_corpora = pytest.mark.skipif(
    not (EVAL_CORPORA / "SOURCES.tsv").is_file(),
    reason="eval/corpora.toml reads the real FAQ corpora from ../shared/corpora, absent here",
)


def published_url(path: Path) -> str:
    """The published page of a corpus file, from SOURCES.tsv."""
    assert CORPORA is not None
    rel = path.relative_to(CORPORA).as_posix()
    project, name = rel.split("/", 1)
    for line in (CORPORA / "SOURCES.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        if cols[0] == project and cols[2].endswith(name):
            return cols[4]
    raise LookupError(rel)


def corpus_files() -> list[Path]:
    return sorted(CORPORA.glob("*/*.rst")) if CORPORA else []


@pytest.fixture(scope="session")
def parsed_corpora() -> dict[str, ParsedSource]:
    """Every corpus file parsed once, keyed by 'project/file.rst'."""
    if CORPORA is None:
        pytest.skip("the real FAQ corpora (../shared/corpora) are not on this machine")
    return {
        p.relative_to(CORPORA).as_posix(): parse_source(
            Source(p.stem, p, published_url(p)), strict=True
        )
        for p in corpus_files()
    }


@pytest.fixture(scope="session")
def seed_entries() -> dict[str, object]:
    """The shipped seed FAQ's entries by anchor."""
    parsed = parse_source(Source("distributed", SEED, SEED_URL), strict=True)
    return {e.anchor: e for e in parsed.entries}


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A private copy of the seed FAQ that a test may edit."""
    target = tmp_path / "src" / "faq.rst"
    target.parent.mkdir()
    shutil.copy(SEED, target)
    return target


@pytest.fixture(scope="session")
def seed_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The shipped FAQ, built into a private index folder."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    kb = KnowledgeBase(SourceSpec(), index_dir)
    kb.open()
    return kb


@pytest.fixture
def make_kb(tmp_path: Path) -> Callable[..., KnowledgeBase]:
    """Build a knowledge base from ``--source`` style arguments into ``tmp_path``."""

    def make(*paths: str, index: Path | None = None) -> KnowledgeBase:
        spec = SourceSpec(paths=tuple(paths))
        index_dir = index or tmp_path / "index"
        build(spec, str(index_dir))
        kb = KnowledgeBase(spec, index_dir)
        kb.open(rebuild=False)
        return kb

    return make


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the user's cache: the default index folder lives in a temp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("FAQ_INDEX", raising=False)
    # Nor the user's config: no ~/.config/faq-kb/config.toml, no FAQ_MANIFEST.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "config"))
    monkeypatch.delenv("FAQ_MANIFEST", raising=False)
    monkeypatch.delenv("FAQ_SEMANTIC", raising=False)  # semantic ranking: asked for per test
    monkeypatch.delenv("FAQ_SEMANTIC_MODEL", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")


def cross_faq_script() -> Any:
    """eval/cross_faq.py, imported as a module (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cross_faq", ROOT / "eval" / "cross_faq.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
