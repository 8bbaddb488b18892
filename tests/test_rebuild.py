"""A rebuild after an edit splices the previous index (``kb.index.splice``): the file it
writes is the one a full build writes, byte for byte, and rank-bm25 agrees with it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import kb.index.build
import kb.index.splice
from kb.index.build import build
from kb.index.reader import INDEX_FILE, IndexReader
from kb.maintain.verify import verify_index
from kb.spec import SourceSpec
from tests.conftest import CORPORA, SEED, needs_corpora

URL = "https://example.org/faq/"


@pytest.fixture(autouse=True, params=["by runs", "by lookup"])
def dropped_postings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case both ways the splice finds the postings of entries dropped: comparing
    entry numbers with a few runs of them, and looking each one up (many runs)."""
    if request.param == "by lookup":
        monkeypatch.setattr(kb.index.splice, "_FEW_RUNS", 0)


def _source(title: str, entries: list[tuple[str, str]]) -> str:
    """An rst FAQ: a title, then each (question, answer) as a section."""
    parts = [f"{title}\n{'=' * len(title)}\n"]
    for question, answer in entries:
        parts.append(f"{question}\n{'-' * len(question)}\n\n{answer}\n")
    return "\n".join(parts)


def _entries(name: str, count: int, extra: str = "") -> list[tuple[str, str]]:
    return [
        (
            f"How does {name} handle case {n}?",
            f"The {name} worker handles case {n} with care. It retries twice {extra}.",
        )
        for n in range(count)
    ]


NAMES = ("alpha", "bravo", "charlie", "delta", "echo")


@pytest.fixture(name="folder")
def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "faqs"
    folder.mkdir()
    for number, name in enumerate(NAMES):
        (folder / f"{name}.rst").write_text(_source(name.title(), _entries(name, 3 + number)))
    return folder


class Rebuilds:
    """Builds into one index folder, each checked against a fresh build of the same."""

    def __init__(self, tmp_path: Path, spec: SourceSpec) -> None:
        self.tmp_path, self.spec = tmp_path, spec
        self.index = tmp_path / "idx"
        self.fresh = 0
        first = build(spec, str(self.index))
        assert first.reused == 0

    def check(self, reused: int | None = None, spec: SourceSpec | None = None) -> IndexReader:
        """Rebuild (reusing what did not change) and compare with a fresh build."""
        spec = spec or self.spec
        again = build(spec, str(self.index))
        if reused is not None:
            assert again.reused == reused
        self.fresh += 1
        fresh = self.tmp_path / f"fresh{self.fresh}"
        full = build(spec, str(fresh))
        assert full.reused == 0
        assert (full.entries, full.warnings) == (again.entries, again.warnings)
        spliced = (self.index / INDEX_FILE).read_bytes()
        assert spliced == (fresh / INDEX_FILE).read_bytes()
        reader = IndexReader.open(str(self.index / INDEX_FILE))
        report = verify_index(reader, sample=None)
        assert report.ok, report.differences
        return reader


def _spec(folder: Path) -> SourceSpec:
    return SourceSpec(paths=(f"{folder}={URL}",))


@pytest.mark.parametrize("which", ["alpha", "charlie", "echo"])  # first, middle, last
def test_a_one_line_edit_is_spliced_exactly(tmp_path: Path, folder: Path, which: str) -> None:
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    path = folder / f"{which}.rst"
    path.write_text(path.read_text().replace("retries twice", "retries twice, then waits"))
    rebuilds.check(reused=len(NAMES) - 1)
    path.write_text(path.read_text().replace(", then waits", ""))  # and back
    rebuilds.check(reused=len(NAMES) - 1)


def test_sources_gaining_and_losing_entries(tmp_path: Path, folder: Path) -> None:
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    (folder / "alpha.rst").write_text(_source("Alpha", _entries("alpha", 9)))
    (folder / "delta.rst").write_text(_source("Delta", _entries("delta", 1)))
    rebuilds.check(reused=len(NAMES) - 2)
    (folder / "bravo.rst").write_text(_source("Bravo", []))  # no entry left: a warning
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert reader.header["source_counts"] == [9, 0, 5, 1, 7]


def test_a_term_gone_from_the_corpus_and_a_new_one(tmp_path: Path, folder: Path) -> None:
    path = folder / "charlie.rst"
    path.write_text(_source("Charlie", _entries("charlie", 5, "zyzzyva")))
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    assert "zyzzyva" in IndexReader.open(str(rebuilds.index / INDEX_FILE)).terms
    path.write_text(_source("Charlie", _entries("charlie", 5, "quokka")))
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert "zyzzyva" not in reader.terms and "quokka" in reader.terms
    # The only source with some terms (its title's, "charlie") goes: they go too.
    path.unlink()
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert "charli" not in reader.terms and "charlie" not in reader.terms


def test_sources_added_removed_and_changed_at_once(tmp_path: Path, folder: Path) -> None:
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    (folder / "bravo.rst").unlink()
    (folder / "aardvark.rst").write_text(_source("Aardvark", _entries("aardvark", 4)))
    (folder / "foxtrot.rst").write_text(_source("Foxtrot", _entries("foxtrot", 2)))
    (folder / "delta.rst").write_text(_source("Delta", _entries("delta", 6, "and logs")))
    rebuilds.check(reused=3)


def test_large_term_frequencies(tmp_path: Path, folder: Path) -> None:
    """Tfs too large to pack (kept apart in the file), in old and new entries alike."""
    big = "\n".join(" ".join(["gizmo"] * 100) for _ in range(50))
    (folder / "bravo.rst").write_text(_source("Bravo", _entries("bravo", 4, big)))
    (folder / "delta.rst").write_text(_source("Delta", _entries("delta", 2, big + " sprocket")))
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    assert IndexReader.open(str(rebuilds.index / INDEX_FILE)).section_size("big_tfs")
    (folder / "echo.rst").write_text(_source("Echo", _entries("echo", 2, big + " " + big)))
    (folder / "delta.rst").write_text(_source("Delta", _entries("delta", 3, big)))
    rebuilds.check(reused=len(NAMES) - 2)


def test_the_entry_count_crossing_a_power_of_two(tmp_path: Path, folder: Path) -> None:
    """More bits for the entry number: every posting is laid out anew (and a tf that no
    longer fits moves apart), and back."""
    # A tf of 1500 fits in 2 bytes beside 5 bits (up to 2047), not beside 6 (up to 1023).
    (folder / "bravo.rst").write_text(_source("Bravo", _entries("bravo", 4, "cog " * 1500)))
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    reader = IndexReader.open(str(rebuilds.index / INDEX_FILE))
    assert (len(reader), reader.header["doc_bits"], reader.section_size("big_tfs")) == (25, 5, 0)
    (folder / "echo.rst").write_text(_source("Echo", _entries("echo", 16)))
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert (len(reader), reader.header["doc_bits"]) == (34, 6)
    assert reader.section_size("big_tfs") == 8 * 4  # bravo's four entries' tfs of cog
    (folder / "echo.rst").write_text(_source("Echo", _entries("echo", 2)))
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert (len(reader), reader.header["doc_bits"], reader.section_size("big_tfs")) == (20, 5, 0)


def test_sources_in_another_order(tmp_path: Path, folder: Path) -> None:
    """Unchanged sources named in another order: their postings are sorted anew."""
    files = [folder / f"{name}.rst" for name in NAMES]
    rebuilds = Rebuilds(tmp_path, SourceSpec(paths=tuple(f"{f}={URL}{f.stem}" for f in files)))
    files[1].write_text(files[1].read_text().replace("twice", "thrice"))
    turned = SourceSpec(paths=tuple(f"{f}={URL}{f.stem}" for f in reversed(files)))
    rebuilds.check(reused=len(NAMES) - 1, spec=turned)


def test_aliases_given_to_a_field_that_had_none(tmp_path: Path, folder: Path) -> None:
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    assert IndexReader.open(str(rebuilds.index / INDEX_FILE)).fields[1].total == 0
    (folder / "delta.aliases.toml").write_text(
        '[aliases]\n"how-does-delta-handle-case-1" = ["delta case one", "the first delta"]\n'
    )
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert reader.fields[1].name == "aliases" and reader.fields[1].total > 0
    (folder / "delta.aliases.toml").unlink()
    reader = rebuilds.check(reused=len(NAMES) - 1)
    assert reader.fields[1].total == 0


def test_every_source_changed_or_none(tmp_path: Path, folder: Path) -> None:
    rebuilds = Rebuilds(tmp_path, _spec(folder))
    for path in folder.glob("*.rst"):
        path.write_text(path.read_text().replace("care", "great care"))
    rebuilds.check(reused=0)
    (folder / "unrelated.txt").write_text("not a source")
    rebuilds.check()


@needs_corpora
@pytest.mark.parametrize("parallel", [False, True])
def test_real_faqs_with_sub_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    """Real FAQs (sub-parts and their parents, links, code), edited in several places."""
    assert CORPORA is not None
    if parallel:
        monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(kb.index.build, "PARALLEL_MIN_FILES", 2)
    folder = tmp_path / "faqs"
    shutil.copytree(CORPORA / "cpython", folder)
    shutil.copy(SEED, folder / "indices.rst")  # between cpython's files, with sub-parts
    shutil.copy(SEED.with_suffix(".aliases.toml"), folder / "indices.aliases.toml")
    spec = SourceSpec(paths=(f"{folder}=https://docs.python.org/3/faq/",))
    rebuilds = Rebuilds(tmp_path, spec)
    files = sorted(folder.glob("*.rst"))
    assert any(p >= 0 for p in IndexReader.open(str(rebuilds.index / INDEX_FILE)).parents)
    assert files[len(files) // 2].name == "indices.rst"
    for path in (files[0], files[len(files) // 2], files[-1]):
        text = path.read_text()
        # The end of a paragraph of prose past the middle (as the bench edits).
        cut = re.compile(r"\n[A-Za-z][^\n]*\.(?=\n\n)").search(text, len(text) // 2)
        assert cut is not None
        path.write_text(text[: cut.end()] + " Quite so." + text[cut.end() :])
    rebuilds.check(reused=len(files) - 3)
    files[1].unlink()
    rebuilds.check(reused=len(files) - 1)
