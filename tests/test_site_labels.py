"""A :ref: to a section of another source shows that section's title and links to it."""

from __future__ import annotations

from pathlib import Path

import pytest

import kb.ingest.site_labels
from kb.index.build import build
from kb.index.reader import INDEX_FILE
from kb.ingest.parse import parse_source
from kb.ingest.site_labels import scan_labels
from kb.ingest.sources import resolve_sources
from kb.spec import SourceSpec


def test_labels_are_found_above_titles_only() -> None:
    """Under- and overlined titles, stacked labels; a label above a paragraph is not one."""
    text = (
        ".. _first:\n.. _also-first:\n\nHow do I use ``x``?\n-------------------\n\nText.\n\n"
        ".. _over:\n\n=====\nOver?\n=====\n\n.. _para:\n\nJust a paragraph.\n"
    )
    assert scan_labels(text, "https://e.org/p.html") == [
        ("first", "How do I use x?", "https://e.org/p.html#first"),
        ("also-first", "How do I use x?", "https://e.org/p.html#also-first"),
        ("over", "Over?", "https://e.org/p.html#over"),
    ]


def test_a_ref_to_another_source_renders_its_title(tmp_path: Path) -> None:
    """The title and deep link of the other page; an explicit title is kept."""
    (tmp_path / "a.rst").write_text(
        "A\n=\n\nWhy?\n----\n\nSee :ref:`b_label` and :ref:`the other <b_label>`.\n"
    )
    (tmp_path / "b.rst").write_text(
        "B\n=\n\n.. _b_label:\n\nHow do I do B?\n--------------\n\nLike this.\n"
    )
    spec = SourceSpec(paths=(f"{tmp_path}=https://e.org/faq/",))
    a = next(s for s in resolve_sources(spec) if s.name == "a")
    entry = parse_source(a).entries[0]
    assert entry.answer == "See How do I do B? and the other."
    assert [(link.text, link.url) for link in entry.links] == [
        ("How do I do B?", "https://e.org/faq/b.html#b-label")
    ]


def test_a_rebuild_scans_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other files' labels come from the index's fingerprint: the same index as a
    build from scratch, even when the edit moves a label another file refers to."""
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "a.rst").write_text("A\n=\n\nWhy?\n----\n\nSee :ref:`b_label`.\n")
    b_text = "B\n=\n\n.. _b_label:\n\nHow do I do B?\n--------------\n\nLike this.\n"
    (folder / "b.rst").write_text(b_text)
    (folder / "c.rst").write_text("C\n=\n\nHow?\n----\n\nPlainly.\n")
    spec = SourceSpec(paths=(f"{folder}=https://e.org/faq/",))
    build(spec, str(tmp_path / "idx"))
    scanned: list[str] = []
    scan_file = kb.ingest.site_labels.scan_file

    def counting(source: kb.ingest.sources.Source) -> kb.ingest.site_labels.Scan | None:
        scanned.append(source.name)
        return scan_file(source)

    monkeypatch.setattr(kb.ingest.site_labels, "scan_file", counting)
    (folder / "b.rst").write_text(b_text.replace("How do I do B?", "How do I do B now?"))
    build(spec, str(tmp_path / "idx"))
    assert scanned == ["b"]
    build(spec, str(tmp_path / "fresh"))
    assert scanned == ["b", "a", "b", "c"]
    rebuilt = (tmp_path / "idx" / INDEX_FILE).read_bytes()
    assert rebuilt == (tmp_path / "fresh" / INDEX_FILE).read_bytes()
    assert b"How do I do B now?" in rebuilt.split(b"\n", 1)[0]  # a's xref, in the header
