"""Pruned ranking (kb.search.topk): the same best entries, scores and output as the full sum."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import kb.search.query
import kb.search.topk
from kb.index.build import build
from kb.index.reader import IndexReader
from kb.knowledge import KnowledgeBase
from kb.search.query import Scored, _query_tokens, score_all, search
from kb.spec import SourceSpec
from tests.conftest import CORPORA, ROOT, needs_corpora

EDGE_QUESTIONS = [
    "too many open files",
    "python",  # one term: many entries, many ties
    "the and of to",  # stopwords only: no token
    "zzqxv frobnicatorium",  # unknown terms only
    "python zzqxv",  # known and unknown
    "python python python worker",  # repeated tokens
    "file file",
    "how do I " + " ".join(["use a list of files in a module with a class"] * 12),  # many terms
    "list",
    "error",
    "how",
]


@pytest.fixture(autouse=True)
def _prune_every_question(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prune however few postings a question names (these FAQs are small)."""
    monkeypatch.setattr(kb.search.query, "PRUNE_MIN_POSTINGS", 0)


@pytest.fixture(scope="module")
def every_faq(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The fourteen real FAQs in one index, memory-mapped (a one-off query's reader)."""
    assert CORPORA is not None
    paths = tuple(str(p) for p in sorted(CORPORA.iterdir()) if p.is_dir())
    spec = SourceSpec(paths=paths)
    index_dir = tmp_path_factory.mktemp("every-faq")
    build(spec, str(index_dir))
    base = KnowledgeBase(spec, index_dir)
    base.open(rebuild=False)
    assert not base.reader.preloaded
    return base


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return EDGE_QUESTIONS + [json.loads(line)["question"] for line in lines if line.strip()]


def _full(base: KnowledgeBase, tokens: list[str], patch: pytest.MonkeyPatch) -> Scored:
    with patch.context() as inner:
        inner.setattr(kb.search.query, "PRUNE_MIN_POSTINGS", 1 << 62)
        return score_all(base.reader, tokens)


def _top(scored: Scored, k: int) -> Iterator[tuple[int, float, float]]:
    for doc in itertools.islice(scored.ranked(), k):
        yield doc, scored.score(doc), scored.coverage(doc)


@needs_corpora
@pytest.mark.parametrize("top_k", [1, 3, 20])
def test_pruned_top_equals_the_full_sum(
    every_faq: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, top_k: int
) -> None:
    """Same entries, order (ties by number), scores and coverage to the last bit; a small
    ``TOP_K`` prunes harder on these small FAQs, as 20 does at 100k entries."""
    monkeypatch.setattr(kb.search.topk, "TOP_K", top_k)
    pruned_somewhere = False
    for question in _questions():
        tokens = _query_tokens(question)
        pruned = score_all(every_faq.reader, tokens)
        full = _full(every_faq, tokens, monkeypatch)
        assert type(full).__name__ == "_ListScored"
        if tokens and any(t in every_faq.reader.terms for t in tokens):
            assert type(pruned).__name__ == "_PrunedScored"
        want = list(_top(full, 25))
        assert list(_top(pruned, top_k)) == want[:top_k], question
        top = pruned._pruned.top() if hasattr(pruned, "_pruned") else []
        pruned_somewhere |= len(top) < len(list(full.ranked()))
        # Reading past the pruned best goes on with the full sum, seamlessly.
        assert list(_top(pruned, 25)) == want, question
    assert pruned_somewhere


@needs_corpora
def test_whole_ranking_scores_and_filter_equal_the_full_sum(
    every_faq: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = every_faq.reader
    for question in EDGE_QUESTIONS:
        tokens = _query_tokens(question)
        full = _full(every_faq, tokens, monkeypatch)
        pruned = score_all(reader, tokens)
        # Scores of entries never ranked (probed one by one) are the full sum's floats too.
        for doc in range(0, len(reader), 7):
            assert pruned.score(doc) == full.score(doc)
            assert pruned.coverage(doc) == full.coverage(doc)
        assert list(pruned.ranked(0.4)) == list(full.ranked(0.4))
        assert list(pruned.ranked()) == list(full.ranked())


def _answer(result: kb.search.query.SearchResult) -> object:
    return (
        result.band,
        result.confidence,
        result.tokens,
        [
            (
                h.number,
                h.score,
                h.coverage,
                h.title_coverage,
                h.share,
                [(m.term, m.field, m.contribution) for m in h.matches],
            )
            for h in result.hits
        ],
    )


@needs_corpora
@pytest.mark.parametrize("top_k", [3, 20])
def test_search_output_is_unchanged_by_pruning(
    every_faq: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, top_k: int
) -> None:
    """Hits, scores, coverage, shares, band, confidence and --explain: all identical."""
    monkeypatch.setattr(kb.search.topk, "TOP_K", top_k)
    for question in _questions()[::3]:
        for k in (1, 3, 10):
            pruned = search(every_faq.reader, question, k=k, explain=True)
            with monkeypatch.context() as patch:
                patch.setattr(kb.search.query, "PRUNE_MIN_POSTINGS", 1 << 62)
                full = search(every_faq.reader, question, k=k, explain=True)
            assert _answer(pruned) == _answer(full), (question, k)


def test_pruning_on_the_shipped_faq(
    seed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb.search.topk, "TOP_K", 2)
    for question in EDGE_QUESTIONS:
        tokens = _query_tokens(question)
        full = _full(seed_kb, tokens, monkeypatch)
        pruned = score_all(seed_kb.reader, tokens)
        assert list(_top(pruned, 10)) == list(_top(full, 10))


def test_bounds_hold_for_every_posting(seed_kb: KnowledgeBase) -> None:
    """No posting adds more than its list's bound (what pruning relies on)."""
    reader = seed_kb.reader
    for term in reader.terms:
        info = reader.terms[term]
        for at in range(1, len(info), 4):
            field_no, idf, first, count = (
                int(info[at]),
                info[at + 1],
                int(info[at + 2]),
                int(info[at + 3]),
            )
            weight = reader.fields[field_no].weight
            plist = kb.search.topk.PostingList(reader, (weight, 1.0, field_no, idf, first, count))
            docs, extras = reader.postings(field_no, idf, first, count, weight)
            assert max(extras) <= plist.bound
            assert all(plist.score(d) == x for d, x in zip(docs, extras, strict=True))
            absent = set(range(len(reader))) - set(docs)
            assert all(plist.tf(d) == 0 for d in itertools.islice(absent, 50))


@pytest.mark.parametrize("top_k", [1, 2, 20])
def test_pruning_reads_a_tf_too_large_to_pack(monkeypatch: pytest.MonkeyPatch, top_k: int) -> None:
    """A list holding a tf kept aside (big_tfs): its bound, probes and sums stay exact."""
    from tests.test_build_speed import _assert_same_index, _entries

    entries, fingerprint_ = _entries(SourceSpec())
    entries = [entries[0].model_copy(update={"answer": "ulimit " * 5000}), *entries[1:]]
    reader = IndexReader(_assert_same_index(entries, fingerprint_), "<memory>")
    assert reader.section_size("big_tfs") == 8
    reader.preloaded = False  # as a memory-mapped one: the pruned path
    monkeypatch.setattr(kb.search.topk, "TOP_K", top_k)
    for question in ("ulimit", "ulimit open files", "too many open files ulimit ulimit"):
        tokens = _query_tokens(question)
        pruned = score_all(reader, tokens)
        assert type(pruned).__name__ == "_PrunedScored"
        with monkeypatch.context() as inner:
            inner.setattr(kb.search.query, "PRUNE_MIN_POSTINGS", 1 << 62)
            full = score_all(reader, tokens)
        assert list(_top(pruned, 10)) == list(_top(full, 10)), question


@needs_corpora
def test_warm_sums_the_same_with_or_without_the_shared_buffers(every_faq: KnowledgeBase) -> None:
    """The bot's numpy path: the shared buffers, a question that finds them taken (another
    thread's), and threads at once all give the same scores, order and coverage."""
    from concurrent.futures import ThreadPoolExecutor

    reader = IndexReader(Path(every_faq.path).read_bytes(), every_faq.path)
    assert reader.preloaded

    def answer(question: str) -> list[tuple[int, float, float]]:
        return list(_top(score_all(reader, _query_tokens(question)), 25))

    questions = [q for q in _questions() if q.strip()][:60]
    alone = [answer(q) for q in questions]
    assert any(
        type(score_all(reader, _query_tokens(q))).__name__ == "_ArrayScored" for q in questions
    )
    scratch = kb.search.query._scratch()
    with scratch.lock:  # taken: each question allocates its own
        assert [answer(q) for q in questions] == alone
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(answer, questions * 4)) == alone * 4
