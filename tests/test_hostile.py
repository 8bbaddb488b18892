"""Hostile input and hard faults (issue #10): each is a clear error or a warning, quickly."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from kb.errors import SourceError
from kb.ingest import parse_source
from kb.rst_sphinx import register_unknown
from kb.sources import Source

HEAD = "FAQ\n===\n\nQ?\n--\n\nA.\n\n"


def _source(tmp_path: Path, text: str, name: str = "faq.rst") -> Source:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Source("t", path, "https://example.org/faq.html")


def _timed_parse(source: Source, limit: float = 5.0) -> float:
    started = time.perf_counter()
    with contextlib.suppress(SourceError):
        parse_source(source)
    seconds = time.perf_counter() - started
    assert seconds < limit, f"took {seconds:.1f} s"
    return seconds


def test_unknown_role_and_directive_scan_is_linear() -> None:
    for text in ("\n" * 240_000 + "x", ":a." * 16_000, " \n" * 120_000, "a:" * 50_000 + "`"):
        started = time.perf_counter()
        register_unknown(text)
        assert time.perf_counter() - started < 0.5


def test_long_runs_of_blank_lines_parse_quickly_with_true_line_numbers(tmp_path: Path) -> None:
    text = HEAD + "\n" * 240_000 + "Later?\n------\n\n`broken\n"
    source = _source(tmp_path, text)
    _timed_parse(source)
    parsed = parse_source(source)
    later = [e for e in parsed.entries if e.title == "Later?"]
    assert later and later[0].source.line == 240_009
    assert [p.line for p in parsed.problems] == [240_012]


def _chain(depth: int) -> str:
    defs = "".join(f".. |s{i}| replace:: |s{i + 1}| |s{i + 1}|\n" for i in range(depth))
    return HEAD + "|s0|\n\n" + defs + f".. |s{depth}| replace:: x\n"


@pytest.mark.parametrize("depth", [15, 17, 40])
def test_substitution_chains_are_refused_with_file_and_line(tmp_path: Path, depth: int) -> None:
    source = _source(tmp_path, _chain(depth))
    with pytest.raises(SourceError, match=r"faq\.rst:\d+: substitution definitions nest"):
        parse_source(source)
    _timed_parse(source, 1.0)


def test_wide_substitutions_are_refused(tmp_path: Path) -> None:
    refs = " ".join(["|b|"] * 60)
    text = HEAD + "|a|\n\n" + f".. |a| replace:: {refs}\n"
    text += f".. |b| replace:: {refs.replace('b', 'c')}\n"
    text += f".. |c| replace:: {refs.replace('b', 'd')}\n.. |d| replace:: {'x' * 100}\n"
    with pytest.raises(SourceError, match=r"faq\.rst:\d+: substitution \|\w\| expands to more"):
        parse_source(_source(tmp_path, text))


def test_ordinary_substitutions_still_work(tmp_path: Path) -> None:
    parsed = parse_source(_source(tmp_path, _chain(3)))
    assert parsed.entries[0].answer.split() == ["A.", *["x"] * 8]


@pytest.mark.parametrize(
    "text",
    [
        "- " * 200 + "x\n",
        "".join(" " * i + "x\n\n" for i in range(200)),
        "".join("   " * i + ".. note::\n\n" for i in range(500)) + "   " * 500 + "x\n",
        "".join(" " * i + "x\n\n" for i in range(5000)),
        ".. note:: " * 300 + "x\n",
        "1. " * 300 + "x\n",
        ":a: " * 300 + "x\n",
    ],
    ids=["bullets", "quotes", "notes", "5000-quotes", "notes-one-line", "enums", "fields"],
)
def test_deep_nesting_is_a_clear_error_with_its_line(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQ_MAX_SOURCE_BYTES", "20000000")  # 5,000 quotes: 12.5 MB
    source = _source(tmp_path, HEAD + text)
    with pytest.raises(SourceError, match=r"faq\.rst:\d+: nested too deeply"):
        parse_source(source)
    _timed_parse(source)


def test_moderate_nesting_still_parses(tmp_path: Path) -> None:
    parsed = parse_source(_source(tmp_path, HEAD + "- " * 20 + "deep\n"))
    assert "deep" in parsed.entries[0].answer
