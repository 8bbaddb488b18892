"""`faq-kb check`: broken references, empty entries, shared anchors, non-rst files, dead links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli.main import kb_main
from kb.ingest.parse import parse_source
from kb.ingest.sources import Source, resolve_sources
from kb.maintain.checks import check_sources
from kb.spec import SourceSpec
from tests.conftest import CORPORA, DATA, needs_corpora
from tests.http_fixture import Page, Site, site

__all__ = ["site"]

FIXTURE = DATA / "check" / "sources.toml"
BROKEN = "tests/data/check/broken.rst"


def test_every_deliberate_breakage_is_reported_at_its_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each breakage of the fixture, as FILE:LINE, and exit 1."""
    monkeypatch.chdir(DATA.parent.parent)
    assert kb_main(["check", "--manifest", str(FIXTURE)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{BROKEN}:9: unknown label :ref:`upgrade-label`: not in the sources nor in the inventory",
        f"{BROKEN}:10: no anchor #no-such-anchor on this page ('jump ahead')",
        f"{BROKEN}:13: unknown document :doc:`missing-page`: not in the sources nor in the"
        " inventory",
        f"{BROKEN}:18: unknown label :ref:`nowhere-label`: not in the sources nor in the inventory",
        f"{BROKEN}:20: empty entry 'What if it is empty?': a question with no answer",
        "tests/data/check/intro.rst: no FAQ entries found (no section with an answer)",
        "tests/data/check/notes.md: not an rst file: faq-kb reads reStructuredText (.rst) only",
        "tests/data/check/other.rst:4: https://example.com/docs/faq.html#how-do-i-upgrade-it is"
        f" also the deep link of the entry at {BROKEN}:15: links go to the first",
        "8 error(s) in 4 source(s)",
    ]


def test_check_json_names_each_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--json`: the same findings with their codes; references that resolve are absent."""
    monkeypatch.chdir(DATA.parent.parent)
    assert kb_main(["check", "--json", "--manifest", str(FIXTURE)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["sources"] == 4
    assert sorted((e["code"], e["line"]) for e in report["errors"]) == [
        ("anchor", 10),
        ("doc", 13),
        ("duplicate-anchor", 4),
        ("empty-entry", 20),
        ("no-entries", None),
        ("not-rst", None),
        ("ref", 9),
        ("ref", 18),
    ]
    # Resolved in the sources or the inventory: install-label, #how-do-i-upgrade-it,
    # :doc:`other` (a file beside it), integer_na; other.rst has no inventory, but its
    # one :ref: resolves in broken.rst.
    assert report["unchecked"] == []


def test_references_render_as_titles_not_labels(tmp_path: Path) -> None:
    """:ref: shows the section's title (in the FAQ) or the inventory's, else readable words."""
    with_inventory = resolve_sources(SourceSpec(manifest=FIXTURE, only=("broken",)))[0]
    entry = parse_source(with_inventory).entries[0]
    assert {link.text: link.url for link in entry.links} == {
        "How do I install it?": "https://example.com/docs/faq.html#how-do-i-install-it",
        "jump ahead": "https://example.com/docs/faq.html#no-such-anchor",
        "the second question": "https://example.com/docs/faq.html#how-do-i-upgrade-it",
        "missing page": "https://example.com/docs/missing-page.html",
        "other": "https://example.com/docs/other.html",
        "Nullable integer data type": "https://example.com/user_guide/integer_na.html#integer-na",
    }
    assert "Nullable integer data type" in entry.answer
    plain = Source("broken", DATA / "check" / "broken.rst", "https://example.com/docs/faq.html")
    answer = parse_source(plain).entries[0].answer
    assert "and integer na." in answer and "integer_na" not in answer
    assert "See the upgrade notes and How do I install it?" in " ".join(answer.split())


@needs_corpora
def test_no_false_alarms_on_the_real_corpora() -> None:
    """Every corpus checks clean of reference errors; the one real finding is a TOC page."""
    assert CORPORA is not None
    errors = []
    for project in sorted(p for p in CORPORA.iterdir() if p.is_dir()):
        report, _ = check_sources(resolve_sources(SourceSpec(paths=(str(project),))))
        errors += [(e.path.rsplit("corpora/", 1)[-1], e.code) for e in report.errors]
        for unchecked in report.unchecked:
            assert unchecked.code in ("ref", "doc") and unchecked.line
    references = {"anchor", "ref", "doc", "duplicate-anchor", "empty-entry"}
    assert [e for e in errors if e[1] in references] == []
    assert ("cpython/index.rst", "no-entries") in errors  # a table of contents, no FAQ


def test_check_external_reports_dead_links_at_their_line(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--external`: each distinct URL asked once; dead ones as FILE:LINE, exit 1."""
    site.pages["/alive"] = Page(b"ok")
    site.pages["/moved"] = Page(status=301, location=site.url("/alive"), etag=False)
    faq = tmp_path / "faq.rst"
    faq.write_text(
        "FAQ\n===\n\nWhere is it?\n------------\n\n"
        f"See `the page <{site.url('/alive')}>`_ and {site.url('/moved')}.\n\n"
        f"Not `here <{site.url('/gone')}>`_, nor\n"
        f"`there <{site.url('/gone')}>`_.\n\n"
        "Why?\n----\n\n"
        f"Because of `a server error <{site.url('/error')}>`_.\n"
    )
    site.pages["/error"] = Page(b"boom", status=500)
    args = ["check", "--external", "--source", f"{faq}=https://example.com/faq.html"]
    assert kb_main(args) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{faq}:9: dead link {site.url('/gone')} (HTTP 404)",
        f"{faq}:10: dead link {site.url('/gone')} (HTTP 404)",
        f"{faq}:15: dead link {site.url('/error')} (HTTP 500)",
        "3 error(s) in 1 source(s)",
        "checked 4 outbound link(s)",
    ]
    asked = [path for _, path, _ in site.requests]
    assert asked.count("/gone") == 1 and asked.count("/alive") == 2  # once, once redirected


def test_the_shipped_faq_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's one :doc: (a page outside it) is noted on stderr, never an error."""
    assert kb_main(["check"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "ok: 9 entries in 1 source(s), 0 warning(s)\n"
    assert captured.err.startswith("note: 1 :ref:/:doc: target(s) outside the sources")


def test_warnings_stay_reported_until_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unchanged source is not parsed again, yet its warnings come back every build."""
    faq = tmp_path / "faq.rst"
    faq.write_text("FAQ\n===\n\nWhy?\n----\n\nBecause.\n\n.. frobnicate::\n\n   odd\n")
    args = ["build", "--json", "--source", str(faq), "--index", str(tmp_path / "i")]
    reports = []
    for _ in range(2):
        assert kb_main(args) == 0
        reports.append(json.loads(capsys.readouterr().out))
    first, second = reports
    assert second["reused"] == 1 and first["reused"] == 0
    assert second["warnings"] == first["warnings"]
    assert len(first["warnings"]) == 1 and 'unknown directive "frobnicate"' in first["warnings"][0]
    faq.write_text("FAQ\n===\n\nWhy?\n----\n\nBecause.\n")
    assert kb_main(args) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_an_inventory_may_be_a_url(tmp_path: Path, site: Site) -> None:
    """`inventory = "https://…/objects.inv"`: fetched at build time; links under its folder."""
    site.pages["/en/objects.inv"] = Page((DATA / "check" / "objects.inv").read_bytes())
    manifest = tmp_path / "sources.toml"
    manifest.write_text(
        '[[source]]\nname = "broken"\n'
        f'path = "{DATA / "check" / "broken.rst"}"\n'
        'url = "https://example.com/docs/faq.html"\n'
        f'inventory = "{site.url("/en/objects.inv")}"\n'
    )
    source = resolve_sources(SourceSpec(manifest=manifest))[0]
    links = {link.text: link.url for link in parse_source(source).entries[0].links}
    assert links["Nullable integer data type"] == site.url(
        "/en/user_guide/integer_na.html#integer-na"
    )
    report, _ = check_sources([source])
    assert sorted(e.code for e in report.errors) == ["anchor", "doc", "empty-entry", "ref", "ref"]


def test_an_unreadable_inventory_is_a_warning(tmp_path: Path) -> None:
    """A missing objects.inv: said once, and the references are rendered as text."""
    manifest = tmp_path / "sources.toml"
    manifest.write_text(
        '[[source]]\nname = "broken"\n'
        f'path = "{DATA / "check" / "broken.rst"}"\n'
        'url = "https://example.com/docs/faq.html"\ninventory = "nowhere.inv"\n'
    )
    source = resolve_sources(SourceSpec(manifest=manifest))[0]
    parsed = parse_source(source)
    assert [p.message.split(":")[0] for p in parsed.problems] == ["inventory not used"]
    assert "integer na" in parsed.entries[0].answer
