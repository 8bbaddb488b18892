"""Ranking and the answered decision on the shipped FAQ and real corpora."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kb.knowledge import KnowledgeBase
from tests.conftest import CORPORA, needs_corpora


@pytest.mark.parametrize(
    ("question", "anchor"),
    [
        ("too many open files", "too-many-open-file-descriptors"),
        ("OSError: [Errno 24] Too many open files", "too-many-open-file-descriptors"),
        ("how do I use external modules?", "how-do-i-use-external-modules"),
        ("how do I send a .py file to the workers", "send-source"),
        ("client.upload_file", "send-source"),
        ("pip install a package on all workers", "temporary-installations"),
        ("conda-pack", "maintain-consistent-environments"),
        ("OMP_NUM_THREADS", "error-when-running-dask-worker-about-omp-num-threads"),
        ("Errno 13 permission denied", "permissionerror-errno-13-permission-denied-root-dask"),
        ("does dask care about data locality?", "does-dask-handle-data-locality"),
        ("KilledWorker", "killedworker-commsclosed-etc"),
    ],
)
def test_seed_questions_find_their_entry(
    seed_kb: KnowledgeBase, question: str, anchor: str
) -> None:
    result = seed_kb.search(question)
    assert result.hits[0].entry["anchor"] == anchor


@pytest.mark.parametrize(
    "question",
    [
        "too many open files",
        "OSError: [Errno 24] Too many open files",
        "client.upload_file",
        "how do I use external modules?",
        "Errno 13 permission denied",
    ],
)
def test_clear_questions_are_answered(seed_kb: KnowledgeBase, question: str) -> None:
    assert seed_kb.search(question).answered


@pytest.mark.parametrize(
    "question",
    [
        "How do I reverse a list in Python?",
        "What is the difference between a tuple and a list?",
        "How do I read a CSV file with pandas?",
        "what's the weather like today",
    ],
)
def test_questions_the_faq_does_not_cover_are_not_answered(
    seed_kb: KnowledgeBase, question: str
) -> None:
    assert not seed_kb.search(question).answered


def test_sub_part_and_its_parent_are_not_both_listed(seed_kb: KnowledgeBase) -> None:
    hits = seed_kb.search("send source files with upload_file to workers", k=5).hits
    anchors = [h.entry["anchor"] for h in hits]
    assert anchors[0] == "send-source"
    assert "how-do-i-use-external-modules" not in anchors


def test_junk_questions_return_cleanly(seed_kb: KnowledgeBase) -> None:
    for question in ["?!?", "\x00\x01", "x" * 1_000_000, "open " * 100_000]:
        result = seed_kb.search(question)
        assert result.band in {"answer", "suggest", "none"}
    assert seed_kb.search("?!?").hits == []


def test_k_limits_results(seed_kb: KnowledgeBase) -> None:
    assert len(seed_kb.search("worker", k=1).hits) == 1
    assert len(seed_kb.search("worker", k=9).hits) <= 9


@needs_corpora
@pytest.mark.parametrize(
    ("project", "question", "title"),
    [
        ("cpython", "Why does -22 // 10 return -3?", "Why does -22 // 10 return -3?"),
        (
            "cpython",
            "UnboundLocalError local variable referenced before assignment",
            "Why am I getting an UnboundLocalError when the variable has a value?",
        ),
        (
            "cpython",
            "lambdas in a loop all return the same value",
            "Why do lambdas defined in a loop with different values all return the same result?",
        ),
        (
            "sklearn",
            "n_jobs uses more cores",
            "Why does my job use more cores than specified with n_jobs?",
        ),
        ("matplotlib", "save a figure with a transparent background", "Save transparent figures"),
        ("sphinx", "pdf without latex", "How do I create PDF files without LaTeX?"),
        ("docutils", "nested inline markup", "Is nested inline markup possible?"),
    ],
)
def test_real_corpora_questions(
    make_kb: Callable[..., KnowledgeBase], project: str, question: str, title: str
) -> None:
    assert CORPORA is not None
    kb = make_kb(f"{CORPORA / project}=https://example.org/")
    assert kb.search(question).hits[0].entry["title"] == title


def test_the_best_answers_own_sub_parts_are_not_repeated_as_alternatives(
    seed_kb: KnowledgeBase,
) -> None:
    hits = seed_kb.search("how do I use external modules on workers", k=5).hits
    assert hits[0].entry["anchor"] == "how-do-i-use-external-modules"
    assert all(h.entry.get("parent") != hits[0].entry["id"] for h in hits[1:])


def test_a_memory_mapped_index_keeps_few_wordings(
    seed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-off query reads its best entry's wording weights once (ranking, then the hit);
    a memory-mapped index keeps only a few, and the coverage is the same either way."""
    import kb.search.query
    from kb.analysis.tokens import tokenize
    from kb.index.reader import IndexReader
    from kb.search.query import title_coverage

    monkeypatch.setattr(kb.search.query, "_WORDINGS_KEPT", 3)
    reader = IndexReader.open(seed_kb.path)
    assert not reader.preloaded
    tokens = tokenize("too many open files on the dask scheduler workers")
    first = [title_coverage(reader, reader.entry(n), tokens) for n in range(len(reader))]
    again = [title_coverage(reader, reader.entry(n), tokens) for n in range(len(reader))]
    assert first == again and any(first)
    assert len(reader.cache) == 3
    preloaded = IndexReader.open(seed_kb.path, preload=True)
    assert preloaded.preloaded
    assert [title_coverage(preloaded, preloaded.entry(n), tokens) for n in range(9)] == first[:9]
