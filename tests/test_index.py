"""The index file: exact rank-bm25 scores, round trip, determinism, freshness, safety."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rank_bm25 import BM25Plus

from kb.analysis.tokens import tokenize
from kb.errors import BuildError, IndexFileError, ManifestError
from kb.index.build import build, field_texts, load_entries
from kb.index.params import DELTA, FIELD_WEIGHTS, K1, B
from kb.index.reader import INDEX_FILE, SCHEMA_VERSION, IndexReader
from kb.ingest.sources import Source, resolve_sources
from kb.knowledge import KnowledgeBase
from kb.models import Entry
from kb.search.query import field_scores, score_all
from kb.spec import SourceSpec
from tests.conftest import CORPORA, SEED, needs_corpora

QUESTIONS = [
    "too many open files",
    "how do I send my source code to the workers",
    "worker killed by nanny memory",
    "why does -22 // 10 return -3",
    "lambda in a loop returns the same value",
    "how do I make a python script executable on unix",
    "n_jobs uses more cores than I asked",
    "save a transparent figure",
    "create pdf without latex",
    "is nested inline markup possible",
    "python python python worker",
]


def _check_exact(index: IndexReader, entries: list[Entry]) -> None:
    for name in FIELD_WEIGHTS:
        docs = [tokenize(field_texts(e)[name]) for e in entries]
        if not any(docs):
            continue
        model = BM25Plus(docs, k1=K1, b=B, delta=DELTA)
        for question in QUESTIONS:
            tokens = tokenize(question)
            expected = model.get_scores(tokens)
            got = field_scores(index, name, tokens)
            assert got == pytest.approx(list(expected), abs=1e-9, rel=0), (name, question)


def _combined_ranking(index: IndexReader, entries: list[Entry], question: str) -> list[int]:
    tokens = tokenize(question)
    total = [0.0] * len(entries)
    for name, weight in FIELD_WEIGHTS.items():
        docs = [tokenize(field_texts(e)[name]) for e in entries]
        if any(docs):
            scores = BM25Plus(docs, k1=K1, b=B, delta=DELTA).get_scores(tokens)
            total = [t + weight * s for t, s in zip(total, scores, strict=True)]
    scored = score_all(index, tokens)
    for doc in range(len(entries)):
        assert scored.score(doc) == pytest.approx(total[doc], abs=1e-9, rel=0)
    ranked = list(scored.ranked())
    assert ranked == sorted(ranked, key=lambda d: (-total[d], d))
    unmatched = set(range(len(entries))) - set(ranked)
    assert all(total[d] <= min(total[r] for r in ranked) for d in unmatched) if ranked else True
    return ranked


def test_stored_scores_equal_rank_bm25_on_the_seed(seed_kb: KnowledgeBase) -> None:
    entries, _ = load_entries(resolve_sources(SourceSpec()))
    _check_exact(seed_kb.reader, entries)
    for question in QUESTIONS:
        _combined_ranking(seed_kb.reader, entries, question)


@needs_corpora
@pytest.mark.parametrize("project", ["cpython", "sklearn", "docutils", "matplotlib"])
def test_stored_scores_equal_rank_bm25_on_real_corpora(
    project: str, make_kb: Callable[..., KnowledgeBase]
) -> None:
    assert CORPORA is not None
    kb = make_kb(str(CORPORA / project))
    entries, _ = load_entries(resolve_sources(kb.spec))
    _check_exact(kb.reader, entries)
    for question in QUESTIONS:
        ranked = _combined_ranking(kb.reader, entries, question)
        hits = kb.search(question, k=1).hits
        if ranked:
            assert hits[0].number == ranked[0]


@needs_corpora
@pytest.mark.parametrize(
    ("all_candidates", "sample", "first_batch"),
    [
        (None, None, None),  # as shipped
        (0, 1, 4),  # candidates found by a floor, from lists of any length
        (0, 8, 4),
        (0, 10_000, 2),  # no list that long: the longest one
        (0, 1, 1_000),  # fewer candidates than a batch: every one scanned
    ],
)
def test_numpy_path_gives_the_same_scores_and_order(
    make_kb: Callable[..., KnowledgeBase],
    monkeypatch: pytest.MonkeyPatch,
    all_candidates: int | None,
    sample: int | None,
    first_batch: int | None,
) -> None:
    import kb.search.query

    assert CORPORA is not None
    kb_ = make_kb(str(CORPORA / "cpython"))
    in_memory = IndexReader(Path(kb_.path).read_bytes(), kb_.path)
    for name, value in [
        ("_ALL_CANDIDATES", all_candidates),
        ("_SAMPLE", sample),
        ("_FIRST_BATCH", first_batch),
    ]:
        if value is not None:
            monkeypatch.setattr(kb.search.query, name, value)
    for question in QUESTIONS:
        tokens = tokenize(question)
        plain = score_all(kb_.reader, tokens)
        assert type(plain).__name__ in {"_ListScored", "_PrunedScored"}
        with monkeypatch.context() as patch:
            patch.setattr(kb.search.query, "NUMPY_MIN_POSTINGS", 0)
            patch.setattr(kb.search.query, "NUMPY_MIN_POSTINGS_PRELOADED", 0)
            fast = score_all(kb_.reader, tokens)
            # as the bot holds it: in memory; the second pass uses the cached term arrays
            warm = [score_all(in_memory, tokens) for _ in range(2)]
        for other in (fast, *warm):
            assert type(other).__name__ == "_ArrayScored"
            assert list(other.ranked()) == list(plain.ranked())
            assert list(other.ranked(0.4)) == list(plain.ranked(0.4))
            for doc in range(len(kb_.reader)):
                assert other.score(doc) == plain.score(doc)
                assert other.coverage(doc) == plain.coverage(doc)


@pytest.mark.parametrize("small", [0, 1 << 16])
@pytest.mark.parametrize("kept_depth", [0, 3, 64])
def test_every_term_is_found_whatever_probes_are_kept(
    seed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, kept_depth: int, small: int
) -> None:
    """The vocabulary keeps the terms of its binary search's first levels, and reads a
    small one whole: every term, and only terms, are found, in any order of lookups, with
    none, some or all kept, read whole or probe by probe."""
    import kb.index.reader

    monkeypatch.setattr(kb.index.reader, "_PROBES_KEPT_DEPTH", kept_depth)
    monkeypatch.setattr(kb.index.reader, "_SMALL_SECTION", small)
    fresh = IndexReader.open(seed_kb.path)
    terms = list(fresh.terms)
    assert terms == sorted(terms, key=str.encode) and terms
    expected = {term: fresh.terms.info(n) for n, term in enumerate(terms)}
    reader = IndexReader.open(seed_kb.path)
    for term in [*reversed(terms), *terms]:
        assert reader.terms.get(term) == expected[term]
    for missing in ("", "\x00", "zzzzzz", terms[0] + "\x00", terms[-1] + "z", "a" + terms[-1]):
        if missing not in expected:
            assert reader.terms.get(missing) is None
    kept = reader.terms._probes
    assert len(kept) <= 2**kept_depth - 1
    assert (reader.terms._small is not None) == bool(small)
    assert all(reader.terms.term(n).encode() == probe for n, probe in kept.items())


def test_round_trip_and_deterministic_bytes(tmp_path: Path, seed_kb: KnowledgeBase) -> None:
    manifest = tmp_path / "sources.toml"
    manifest.write_text(
        f'[[source]]\nname = "distributed"\npath = "{SEED}"\n'
        'url = "https://distributed.dask.org/en/stable/faq.html"\n'
    )
    spec = SourceSpec(manifest=manifest)
    build(spec, str(tmp_path / "a"))
    build(spec, str(tmp_path / "b"))
    a = (tmp_path / "a" / INDEX_FILE).read_bytes()
    assert a == (tmp_path / "b" / INDEX_FILE).read_bytes()
    reader = IndexReader.open(str(tmp_path / "a" / INDEX_FILE))
    stored = [Entry.model_validate(e) for e in reader.entries()]
    assert stored == [Entry.model_validate(e) for e in seed_kb.reader.entries()]
    assert len(stored) == 9
    assert reader.pages() == ["https://distributed.dask.org/en/stable/faq.html"]
    kb = KnowledgeBase(spec, tmp_path / "a")
    assert kb.search("too many open files").hits[0].entry["anchor"] == (
        "too-many-open-file-descriptors"
    )


def test_pickle_free_index_is_json_and_binary_data(seed_kb: KnowledgeBase) -> None:
    data = Path(seed_kb.path).read_bytes()
    assert data.startswith(b'{"byteorder":"little","checksums":{"big_tfs":[')
    assert b',"entry_count":9,' in data.split(b"\n", 1)[0]
    assert b"\x80\x04\x95" not in data  # no pickle protocol-4 frame anywhere


def test_a_changed_source_is_rebuilt_before_answering(seed_copy: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    spec = SourceSpec(paths=(f"{seed_copy}=https://example.org/faq.html",))
    kb = KnowledgeBase(spec, tmp_path / "idx", notify=notes.append)
    kb.open()
    assert notes == [f"note: no index at {tmp_path / 'idx'} yet; rebuilding the index…"]
    assert kb.stale_reason() is None
    seed_copy.write_text(
        seed_copy.read_text()
        + "\nHow do I frobnicate the gizmo?\n~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\n"
        "Turn the frobnicator twice.\n"
    )
    assert kb.stale_reason() == f"{seed_copy} changed since the index was built"
    fresh = KnowledgeBase(spec, tmp_path / "idx", notify=notes.append)
    assert fresh.search("frobnicate gizmo").hits[0].entry["title"] == (
        "How do I frobnicate the gizmo?"
    )
    assert (
        notes[-1] == f"note: {seed_copy} changed since the index was built; rebuilding the index…"
    )


def test_touching_a_source_without_changing_it_does_not_rebuild(
    seed_copy: Path, tmp_path: Path
) -> None:
    kb = KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "idx")
    kb.open()
    os.utime(seed_copy, ns=(1, 1))
    assert kb.stale_reason() is None


def test_a_touched_source_is_hashed_once_not_on_every_question(
    seed_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout or a reinstall moves a source's stat but not its text: the first check
    hashes it and records that hash beside the index, later checks trust it while the
    stat holds, and an edit (even with its mtime set back) is still seen."""
    import kb.index.reader as reader
    from kb.index.hashes import read_hashes

    kb = KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "idx")
    kb.open()
    os.utime(seed_copy, ns=(1, 1))
    reads: list[str] = []
    real_read = reader.read_regular
    monkeypatch.setattr(reader, "read_regular", lambda path: reads.append(path) or real_read(path))
    assert kb.stale_reason() is None
    assert reads == [str(seed_copy)]
    hashes = Path(kb.path + reader.HASHES)
    stat = seed_copy.stat()
    recorded = {str(seed_copy): [stat.st_size, 1, stat.st_ctime_ns, stat.st_ino]}
    assert {p: v[:4] for p, v in read_hashes(str(hashes)).items()} == recorded
    assert kb.stale_reason() is None
    assert (
        KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "idx").stale_reason() is None
    )
    assert reads == [str(seed_copy)]  # trusted, not read again

    text = seed_copy.read_text()
    seed_copy.write_text(text.replace("worker", "wxrker", 1))  # same size
    os.utime(seed_copy, ns=(1, 1))  # and the same mtime: the change time still moved
    assert kb.stale_reason() == f"{seed_copy} changed since the index was built"


def test_a_damaged_hashes_file_is_ignored(seed_copy: Path, tmp_path: Path) -> None:
    import kb.index.reader as reader
    from kb.index.hashes import read_hashes

    kb = KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "idx")
    kb.open()
    hashes = Path(kb.path + reader.HASHES)
    head = b"# faq-kb content hashes 1\n"
    for junk in (b"\xff\x00junk", b"[1, 2]", head + b"1 2 x 4 abc " + str(seed_copy).encode()):
        hashes.write_bytes(junk)
        os.utime(seed_copy, ns=(2, 2))
        assert kb.stale_reason() is None
    assert read_hashes(str(hashes))[str(seed_copy)][1] == 2


def test_a_new_file_in_a_source_folder_is_picked_up(seed_copy: Path, tmp_path: Path) -> None:
    folder = seed_copy.parent
    kb = KnowledgeBase(SourceSpec(paths=(f"{folder}=https://example.org/",)), tmp_path / "idx")
    kb.open()
    (folder / "more.rst").write_text(
        "More\n====\n\nWhere is the gizmo?\n-------------------\n\nIn the box.\n"
    )
    assert kb.stale_reason() == f"{folder} changed since the index was built"
    assert kb.refresh() is True
    hit = kb.search("where is the gizmo").hits[0]
    assert hit.entry["url"] == "https://example.org/more.html#where-is-the-gizmo"


def test_a_folder_of_txt_pages_is_read_when_it_holds_no_rst(tmp_path: Path) -> None:
    """Sphinx projects that set ``source_suffix = ".txt"`` (Django's docs) keep their pages
    as .txt: a folder without any .rst file is read as those, and watched as those."""
    folder = tmp_path / "faq"
    folder.mkdir()
    shutil.copy(SEED, folder / "general.txt")
    (folder / "general.aliases.toml").write_text(
        '[aliases]\n"how-do-i-use-external-modules" = ["gizmo"]\n'
    )
    spec = SourceSpec(paths=(f"{folder}=https://example.org/faq/",))
    kb = KnowledgeBase(spec, tmp_path / "idx")
    hit = kb.search("how do I use external modules").hits[0]
    assert hit.entry["url"] == "https://example.org/faq/general.html#how-do-i-use-external-modules"
    assert kb.search("gizmo").hits[0].entry["anchor"] == "how-do-i-use-external-modules"
    (folder / "more.txt").write_text(
        "More\n====\n\nWhere is the box?\n-----------------\n\nHere.\n"
    )
    assert kb.stale_reason() == f"{folder} changed since the index was built"
    assert kb.refresh() is True
    assert (
        kb.search("where is the box").hits[0].entry["url"].endswith("/more.html#where-is-the-box")
    )
    (folder / "index.rst").write_text("Index\n=====\n\nWhat is this?\n-------------\n\nA test.\n")
    assert kb.stale_reason() is not None  # an .rst page now: the folder is its .rst pages
    assert kb.refresh() is True
    assert [e["collection"] for e in kb.entries()] == ["index"]


def test_a_folder_with_no_page_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n")
    with pytest.raises(ManifestError, match=r"the folder holds no \.rst \(or \.txt\) file"):
        resolve_sources(SourceSpec(paths=(f"{tmp_path}=https://example.org/",)))


def test_a_new_aliases_file_in_a_source_folder_is_picked_up(
    seed_copy: Path, tmp_path: Path
) -> None:
    """Missing aliases files are looked for in the source folder's listing first (no stat
    each): one that appears makes the index stale; a dangling link or a folder by that
    name does not (the build would find no aliases there either)."""
    folder = seed_copy.parent
    kb = KnowledgeBase(SourceSpec(paths=(f"{folder}=https://example.org/",)), tmp_path / "idx")
    kb.open()
    assert kb.reader.fingerprint["absent"] == [str(seed_copy.with_suffix(".aliases.toml"))]
    sidecar = seed_copy.with_suffix(".aliases.toml")
    sidecar.symlink_to(tmp_path / "nowhere")
    assert kb.stale_reason() is None
    sidecar.unlink()
    sidecar.mkdir()  # a folder by that name: no aliases for the build, no rebuild either
    assert kb.stale_reason() is None
    assert kb.refresh() is False
    sidecar.rmdir()
    sidecar.write_text('[aliases]\n"too-many-open-file-descriptors" = ["fd limit hit"]\n')
    assert kb.stale_reason() == f"{sidecar} changed since the index was built"


def test_a_corrupt_index_is_rebuilt_and_never_half_read(seed_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(paths=(str(seed_copy),))
    kb = KnowledgeBase(spec, tmp_path / "idx")
    kb.open()
    path = Path(kb.path)
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    with pytest.raises(IndexFileError, match="the index is damaged"):
        IndexReader.open(str(path))
    path.write_bytes(b"\x00garbage")
    with pytest.raises(IndexFileError, match="not a faq-kb index"):
        IndexReader.open(str(path))
    notes: list[str] = []
    again = KnowledgeBase(spec, tmp_path / "idx", notify=notes.append)
    assert again.search("too many open files").answered
    assert notes[0].startswith("note: the index is unreadable (")
    with pytest.raises(IndexFileError, match="run `faq-kb build`"):
        KnowledgeBase(spec, tmp_path / "nothing-here").open(rebuild=False)


def test_an_index_of_another_schema_is_rebuilt(seed_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(paths=(str(seed_copy),))
    kb = KnowledgeBase(spec, tmp_path / "idx")
    kb.open()
    path = Path(kb.path)
    current = f'"schema_version":{SCHEMA_VERSION}'.encode()
    path.write_bytes(path.read_bytes().replace(current, b'"schema_version":0', 1))
    notes: list[str] = []
    KnowledgeBase(spec, tmp_path / "idx", notify=notes.append).open()
    assert notes == ["note: the index was written by another faq-kb version; rebuilding the index…"]


def test_an_interrupted_rebuild_leaves_the_previous_index(
    seed_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SourceSpec(paths=(str(seed_copy),))
    kb = KnowledgeBase(spec, tmp_path / "idx")
    kb.open()
    before = Path(kb.path).read_bytes()
    seed_copy.write_text(seed_copy.read_text().replace("Too many open", "Too few open"))

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        build(spec, str(tmp_path / "idx"))
    assert Path(kb.path).read_bytes() == before
    left = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert left == [".index.faqkb.lock", INDEX_FILE]  # the build lock stays; no temp file


def test_a_broken_source_fails_the_rebuild_and_keeps_the_old_index(
    seed_copy: Path, tmp_path: Path
) -> None:
    spec = SourceSpec(paths=(str(seed_copy),))
    kb = KnowledgeBase(spec, tmp_path / "idx")
    kb.open()
    seed_copy.write_text(seed_copy.read_text() + "\n.. list-table::\n\n   * broken\n")
    from kb.errors import BuildError

    with pytest.raises(BuildError) as caught:
        kb.refresh()
    assert "list-table" in str(caught.value)
    assert kb.search("too many open files").answered
    assert kb.refresh() is False  # the same broken file is not rebuilt (and reported) again
    seed_copy.write_text(seed_copy.read_text().replace(".. list-table::", ""))
    assert kb.refresh() is True


def test_an_unwritable_index_folder_still_answers(
    seed_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kb.index.build

    def refuse(path: str, write: object) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(kb.index.build, "write_streaming", refuse)
    notes: list[str] = []
    kb_ = KnowledgeBase(SourceSpec(paths=(str(seed_copy),)), tmp_path / "ro", notify=notes.append)
    assert kb_.search("too many open files").answered
    assert notes[-1] == (
        f"warning: cannot write the index in {tmp_path / 'ro'} (Permission denied);"
        " using it from memory this time (set FAQ_INDEX or --index)"
    )


def test_a_rebuild_parses_only_the_sources_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kb.ingest.parse

    folder = tmp_path / "faqs"
    folder.mkdir()
    for name in ("one", "two", "three"):
        (folder / f"{name}.rst").write_text(
            f"{name.title()}\n=====\n\nWhy {name}?\n---------\n\nBecause {name}.\n"
        )
    spec = SourceSpec(paths=(f"{folder}=https://example.org/",))
    first = build(spec, str(tmp_path / "idx"))
    assert (first.entries, first.reused) == (3, 0)
    log = tmp_path / "parsed.log"  # a file: the parse may happen in a forked worker
    real = kb.ingest.parse.parse_source

    def spy(source: Source, **kw: Any) -> Any:
        with log.open("a") as out:
            out.write(source.name + "\n")
        return real(source, **kw)

    monkeypatch.setattr(kb.ingest.parse, "parse_source", spy)
    (folder / "two.rst").write_text("Two\n===\n\nWhy two?\n--------\n\nBecause 2.\n")
    again = build(spec, str(tmp_path / "idx"))
    assert (again.entries, again.reused, log.read_text().split()) == (3, 2, ["two"])
    rebuilt = Path(tmp_path / "idx" / INDEX_FILE).read_bytes()
    fresh = build(spec, str(tmp_path / "fresh"))
    assert fresh.reused == 0
    assert rebuilt == (tmp_path / "fresh" / INDEX_FILE).read_bytes()
    # A faq-kb whose parsing rules changed does not reuse what an older one parsed.
    from kb.index import params as index_params

    base = KnowledgeBase(spec, tmp_path / "idx")
    assert base.stale_reason() is None
    monkeypatch.setattr(index_params, "INGEST_RULES", index_params.INGEST_RULES + 1)
    assert base.stale_reason() == "the index was built with other ranking or parsing settings"
    log.write_text("")
    (folder / "two.rst").write_text("Two\n===\n\nWhy two?\n--------\n\nBecause two.\n")
    upgraded = build(spec, str(tmp_path / "idx"))
    assert (upgraded.reused, sorted(log.read_text().split())) == (0, ["one", "three", "two"])


@needs_corpora
@pytest.mark.parametrize("parallel", [False, True])
def test_a_rebuild_reusing_real_faqs_is_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    import kb.index.build

    assert CORPORA is not None
    if parallel:  # unchanged sources' lines are then tokenized in the workers too
        monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_FILES", 2)
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
    folder = tmp_path / "cpython"
    shutil.copytree(CORPORA / "cpython", folder)
    spec = SourceSpec(paths=(f"{folder}=https://docs.python.org/3/faq/",))
    build(spec, str(tmp_path / "idx"))
    edited = folder / "gui.rst"
    edited.write_text(edited.read_text() + "\nOne more?\n=========\n\nYes.\n")
    again = build(spec, str(tmp_path / "idx"))
    assert again.reused == len(list(folder.glob("*.rst"))) - 1
    build(spec, str(tmp_path / "fresh"))
    fresh = (tmp_path / "fresh" / INDEX_FILE).read_bytes()
    assert (tmp_path / "idx" / INDEX_FILE).read_bytes() == fresh


@needs_corpora
def test_a_parallel_parse_gives_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kb.index.build

    assert CORPORA is not None
    spec = SourceSpec(paths=(f"{CORPORA / 'cpython'}=https://docs.python.org/3/faq/",))
    build(spec, str(tmp_path / "one"))
    monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    build(spec, str(tmp_path / "two"))
    assert (tmp_path / "one" / INDEX_FILE).read_bytes() == (
        tmp_path / "two" / INDEX_FILE
    ).read_bytes()
    broken = tmp_path / "broken"
    broken.mkdir()
    for n in range(3):
        (broken / f"f{n}.rst").write_text(f"F\n=\n\nQ{n}?\n---\n\nSee `nowhere{n}`_.\n")
    with pytest.raises(BuildError) as caught:
        build(SourceSpec(paths=(str(broken),)), str(tmp_path / "three"))
    assert [(p.path.rsplit("/", 1)[-1], p.line) for p in caught.value.problems] == [
        ("f0.rst", 7),
        ("f1.rst", 7),
        ("f2.rst", 7),
    ]


def test_the_automatic_rebuild_streams_to_a_file_then_renames(
    seed_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faq-search's rebuild never holds the new index in memory (as `faq-kb build`)."""
    import kb.index.build

    def in_memory(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was built in memory")

    monkeypatch.setattr(kb.index.build, "build_bytes", in_memory)
    spec = SourceSpec(paths=(str(seed_copy),))
    kb_ = KnowledgeBase(spec, tmp_path / "idx")
    assert kb_.search("too many open files").answered
    seed_copy.write_text(seed_copy.read_text().replace("Too many open", "Too few open"))
    notes: list[str] = []
    again = KnowledgeBase(spec, tmp_path / "idx", notify=notes.append)
    assert again.search("too few open files").answered
    assert any("rebuilding the index" in n for n in notes)
    left = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert left == [".index.faqkb.lock", INDEX_FILE]  # renamed into place, nothing left


def test_a_build_removes_the_temp_files_of_builds_that_died(tmp_path: Path) -> None:
    """A build killed outright leaves its temp file; the next build removes it, and never
    a live process's."""
    import subprocess
    import sys

    index = tmp_path / "idx"
    index.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    leftovers = [index / f".{INDEX_FILE}.{pid}.tmp", index / f".{INDEX_FILE}.{pid}.0.new"]
    live = index / f".{INDEX_FILE}.{os.getppid()}.0.new"
    for path in [*leftovers, live]:
        path.write_bytes(b"half an index")
    build(SourceSpec(paths=(str(SEED),)), str(index))
    assert not any(p.exists() for p in leftovers)
    assert live.exists()
    assert IndexReader.open(str(index / INDEX_FILE)).entry(0)["title"]


def test_the_build_s_int_typecode_is_four_bytes() -> None:
    """``_INT`` is the build's 4-byte int typecode (numpy reads its arrays as ``=i4``)."""
    import array

    from kb.index.reader import _INT

    assert array.array(_INT).itemsize == 4


def test_a_rebuild_another_process_finished_first_is_used_not_repeated(
    seed_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between finding the index stale and taking the build lock, another process may
    rebuild it: the new file is then used as it is. If the file found stale is still in
    place when the lock is taken, nobody did, and it is rebuilt without a second look."""
    import contextlib
    from collections.abc import Iterator

    import kb.index.build
    import kb.index.lock

    spec = SourceSpec(paths=(str(seed_copy),))
    KnowledgeBase(spec, tmp_path / "idx").open()
    seed_copy.write_text(seed_copy.read_text() + "\n\nZebracorns, too.\n")
    builds: list[str] = []
    real_build, real_lock = kb.index.build.build_pending, kb.index.lock.build_lock

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append("built")
        return real_build(*args, **kwargs)

    other_first = True

    @contextlib.contextmanager
    def lock(*args: Any, **kwargs: Any) -> Iterator[str]:
        nonlocal other_first
        if other_first:  # another process rebuilds while this one resolves its sources
            other_first = False
            KnowledgeBase(spec, tmp_path / "idx").open()
        with real_lock(*args, **kwargs) as state:
            yield state

    monkeypatch.setattr(kb.index.build, "build_pending", counted)
    monkeypatch.setattr(kb.index.lock, "build_lock", lock)
    mine = KnowledgeBase(spec, tmp_path / "idx")
    mine.open()
    assert builds == ["built"]  # the other process's rebuild only
    assert "Zebracorns" in mine.search("zebracorns").hits[0].entry["answer"]
    seed_copy.write_text(seed_copy.read_text() + "\n\nUnicornfish, also.\n")
    again = KnowledgeBase(spec, tmp_path / "idx")
    again.open()
    assert builds == ["built", "built"]
    assert "Unicornfish" in again.search("unicornfish").hits[0].entry["answer"]
