"""Hostile input and hard faults (issue #10): each is a clear error or a warning, quickly."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.errors import SourceError
from kb.ingest.parse import INCLUDED_TEXT, parse_source
from kb.ingest.sources import Source
from kb.ingest.sphinx import register_unknown
from tests.conftest import CORPORA, needs_corpora

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


# --- files: size, special files, bad paths, deep TOML (items 5-8) ---------------------

SEED_TEXT = (Path(__file__).resolve().parent.parent / "faq_source/distributed/faq.rst").read_text()


def _cli(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kb ARGV`` (faq-search, or faq-kb for its commands) for real."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "kb", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_a_source_over_the_size_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = _source(tmp_path, HEAD + "word " * 420_000)
    with pytest.raises(SourceError, match=r"faq\.rst: is larger than 2,000,000 bytes"):
        parse_source(big)
    small = _source(tmp_path, HEAD * 10, "small.rst")
    monkeypatch.setenv("FAQ_MAX_SOURCE_BYTES", "50")
    with pytest.raises(SourceError, match=r"larger than 50 bytes \(FAQ_MAX_SOURCE_BYTES"):
        parse_source(small)
    monkeypatch.setenv("FAQ_MAX_SOURCE_BYTES", "5000")
    assert parse_source(small).entries


def test_special_files_in_a_source_folder_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "faq.rst").write_text(SEED_TEXT)
    os.mkfifo(folder / "q.rst")
    (folder / "z.rst").symlink_to("/dev/zero")
    index = str(tmp_path / "index")
    proc = _cli("--index", index, "--source", str(folder), "too many open files")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {folder / 'q.rst'}: skipped: is not a regular file (a named pipe)" in (
        proc.stderr
    )
    assert f"warning: {folder / 'z.rst'}: skipped: is not a regular file (a device)" in proc.stderr
    check = _cli("check", "--source", str(folder))
    assert check.returncode == 0 and "q.rst: skipped" in check.stdout
    named = _cli("--index", index, "--source", str(folder / "q.rst"), "q")
    assert named.returncode == 2
    assert "q.rst: source q: is not a regular file (a named pipe)" in named.stderr


def test_a_fifo_index_is_unreadable_then_replaced(tmp_path: Path) -> None:
    source = _source(tmp_path, SEED_TEXT)
    index = tmp_path / "index"
    index.mkdir()
    os.mkfifo(index / "index.faqkb")
    args = ("--index", str(index), "--source", str(source.path), "too many open files")
    frozen = _cli("--no-rebuild", *args, timeout=30)
    assert frozen.returncode == 2
    assert "is not a regular file (a named pipe)" in frozen.stderr
    rebuilt = _cli(*args, timeout=60)
    assert rebuilt.returncode == 0 and "rebuilding the index" in rebuilt.stderr
    assert (index / "index.faqkb").is_file()


def _manifest(tmp_path: Path, path: str, name: str = "sources.toml") -> Path:
    manifest = tmp_path / name
    manifest.write_text(f'[[source]]\nname = "a"\npath = "{path}"\nurl = "https://x.org/a.html"\n')
    return manifest


@pytest.mark.parametrize(
    ("path", "message"),
    [("missing.rst", "source a: not found"), (".", "source a: is a folder, not a file")],
)
def test_a_bad_source_path_names_the_source(tmp_path: Path, path: str, message: str) -> None:
    manifest = _manifest(tmp_path, path)
    index = str(tmp_path / "index")
    search = _cli("--index", index, "--manifest", str(manifest), "q")
    assert search.returncode == 2 and message in search.stderr
    build = _cli("build", "--index", index, "--manifest", str(manifest))
    assert build.returncode == 2 and message in build.stderr
    assert "cannot write the index" not in build.stderr


def test_symlink_loops_are_source_errors(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    manifest = _manifest(tmp_path, "loop1")
    index = str(tmp_path / "index")
    proc = _cli("--index", index, "--manifest", str(manifest), "q")
    assert proc.returncode == 2 and "symlink loop" in proc.stderr
    proc = _cli("--index", index, "--source", str(tmp_path / "loop1"), "q")
    assert proc.returncode == 2 and "loop1" in proc.stderr


def test_deeply_nested_toml_is_a_clear_error(tmp_path: Path) -> None:
    deep = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    manifest = tmp_path / "deep.toml"
    manifest.write_text(deep)
    index = str(tmp_path / "index")
    proc = _cli("--index", index, "--manifest", str(manifest), "q")
    assert proc.returncode == 2
    assert f"{manifest}: not valid TOML: nested too deeply" in proc.stderr
    source = _source(tmp_path, SEED_TEXT)
    (tmp_path / "faq.aliases.toml").write_text(deep)
    proc = _cli("--index", index, "--source", str(source.path), "q")
    assert proc.returncode == 2
    assert "faq.aliases.toml: not valid TOML: nested too deeply" in proc.stderr


def test_sources_root_confines_every_source_path(tmp_path: Path) -> None:
    root = tmp_path / "config"
    root.mkdir()
    outside = tmp_path / "outside.rst"
    outside.write_text(SEED_TEXT)
    (root / "faq.rst").write_text(SEED_TEXT)
    (root / "link.rst").symlink_to(outside)
    index = str(tmp_path / "index")
    for path in (str(outside), "link.rst", "../outside.rst"):
        manifest = _manifest(root, path)
        allowed = _cli("--index", index, "--manifest", str(manifest), "too many open files")
        assert allowed.returncode == 0, allowed.stderr  # by default: the maintainer's choice
        flag = _cli("--index", index, "--sources-root", str(root), "--manifest", str(manifest), "q")
        env = _cli(
            "--index", index, "--manifest", str(manifest), "q", env={"FAQ_SOURCES_ROOT": str(root)}
        )
        for proc in (flag, env):
            assert proc.returncode == 2
            assert f"source a: outside the sources root {root.resolve()}" in proc.stderr
    inside = _manifest(root, "faq.rst")
    proc = _cli(
        "--index",
        index,
        "--sources-root",
        str(root),
        "--manifest",
        str(inside),
        "too many open files",
    )
    assert proc.returncode == 0, proc.stderr
    folder = _cli("check", "--sources-root", str(root), "--source", str(root))
    assert (
        folder.returncode == 2
        and "link.rst: source link: outside the sources root" in folder.stderr
    )


# --- what reaches a terminal (items 15, 16) -------------------------------------------

HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x08\u202eevil\u2066"
RAW = ("\x1b", "\x9b", "\x08", "\x07", "\u202e", "\u2066")


def test_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    text = (
        f"FAQ\n===\n\nWhy is the screen {HOSTILE} cleared?\n"
        + "-" * 40
        + f"\n\nBecause {HOSTILE} the answer says so, screen cleared.\n"
    )
    source = _source(tmp_path, text)
    index = str(tmp_path / "index")
    for question in ("why is the screen cleared", f"screen cleared {HOSTILE}"):
        proc = _cli("--index", index, "--source", str(source.path), question)
        assert proc.returncode == 0, proc.stderr
        assert not any(c in proc.stdout + proc.stderr for c in RAW), repr(proc.stdout)
        assert "\\x1b[2J" in proc.stdout and "\\u202eevil" in proc.stdout
        as_json = _cli("--index", index, "--source", str(source.path), "--json", question)
        assert not any(c in as_json.stdout for c in RAW)
        data = json.loads(as_json.stdout)
        assert HOSTILE in data["results"][0]["title"]  # the value itself is intact
    for command in (("list",), ("show", "faq/why-is-the-screen-2j-0-pwned-31m-evil-cleared")):
        proc = _cli(*command, "--index", index, "--source", str(source.path))
        assert proc.returncode == 0, proc.stderr
        assert not any(c in proc.stdout for c in RAW) and "\\x1b" in proc.stdout
    missing = str(tmp_path / f"no{HOSTILE}.rst")
    proc = _cli("--index", index, "--source", missing, "q")
    assert proc.returncode == 2 and "no\\x1b[2J" in proc.stderr
    assert not any(c in proc.stderr for c in RAW)
    proc = _cli("--index", index, "-k", HOSTILE, "q")
    assert proc.returncode == 2 and not any(c in proc.stderr for c in RAW)


def test_undecodable_argv_is_replaced_not_a_traceback(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "NO_COLOR": "1"}
    for extra in ((), ("--json",)):
        proc = subprocess.run(
            [sys.executable, "-m", "kb", "--index", index, *extra, b"\xff too many open files"],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert b"Traceback" not in proc.stderr
        out = proc.stdout.decode("utf-8")  # valid UTF-8: no raw 0xff byte
        if extra:
            assert json.loads(out)["query"] == "\ufffd too many open files"
        else:
            assert "Too many open file descriptors?" in out


# --- freshness, index integrity, build lock, workers (items 11-14) --------------------


def test_a_same_size_edit_with_its_old_mtime_is_still_seen(tmp_path: Path) -> None:
    from kb.knowledge import KnowledgeBase
    from kb.spec import SourceSpec

    source = _source(tmp_path, SEED_TEXT)
    kb = KnowledgeBase(SourceSpec(paths=(str(source.path),)), tmp_path / "idx")
    kb.open()
    before = os.stat(source.path)
    edited = SEED_TEXT.replace("Dask", "DASK", 1)
    assert len(edited) == len(SEED_TEXT) and edited != SEED_TEXT
    time.sleep(0.01)
    source.path.write_text(edited)  # cp -p: same inode, old mtime put back
    os.utime(source.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert kb.stale_reason() == f"{source.path} changed since the index was built"
    kb.refresh()
    copy = tmp_path / "copy.rst"  # rsync -t: a new file renamed over it, old mtime
    copy.write_text(SEED_TEXT)
    os.utime(copy, ns=(before.st_atime_ns, os.stat(source.path).st_mtime_ns))
    os.replace(copy, source.path)
    assert kb.stale_reason() == f"{source.path} changed since the index was built"


def _flip(path: Path, at: int, value: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[at] = value if value is not None else data[at] ^ 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_anywhere_in_the_index_means_a_rebuild(tmp_path: Path) -> None:
    from kb.index.build import build
    from kb.index.reader import SECTIONS, IndexReader
    from kb.knowledge import KnowledgeBase
    from kb.spec import SourceSpec

    source = _source(tmp_path, SEED_TEXT)
    spec = SourceSpec(paths=(str(source.path),))
    index = tmp_path / "idx"
    build(spec, str(index))
    path = index / "index.faqkb"
    pristine = path.read_bytes()
    reader = IndexReader.open(str(path))
    sections = reader.header["sections"]
    expected = KnowledgeBase(spec, index).search("too many open files", k=3)
    wanted = [h.entry["id"] for h in expected.hits]
    spots = [5, len(pristine.split(b"\n", 1)[0]) - 3]  # in the header
    rebuild_only = []  # term frequencies: read by a rebuild only, never by a question
    end = len(pristine.split(b"\n", 1)[0]) + 1
    for name in SECTIONS:  # every section, and the padding before it
        at, length = sections[name]
        spots += [at - 1] if at > end else []
        places = [at, at + length // 3, at + length // 2, at + length - 2]
        (rebuild_only if name == "tfs" else spots).extend(places)
        end = at + length
    for spot in rebuild_only:
        path.write_bytes(pristine)
        _flip(path, spot, 0xFF)
        report = build(spec, str(index))  # checks every chunk before reusing anything
        assert report.reused == 0
        assert "the previous index was damaged (checksum); every source parsed again" in (
            report.warnings
        )
        assert path.read_bytes() == pristine
    for spot in spots:
        for value in (None, 0xFF):
            path.write_bytes(pristine)
            _flip(path, spot, value)
            if path.read_bytes() == pristine:
                continue
            notes: list[str] = []
            kb = KnowledgeBase(spec, index, notify=notes.append)
            result = kb.search("too many open files", k=3)
            assert [h.entry["id"] for h in result.hits] == wanted, spot
            assert any("damaged" in n or "unreadable" in n for n in notes), (spot, notes)
            assert path.read_bytes() == pristine  # rebuilt: the same bytes as before


def test_a_damaged_index_is_reported_or_rebuilt_by_every_command(tmp_path: Path) -> None:
    source = _source(tmp_path, SEED_TEXT)
    index = tmp_path / "idx"
    args = ("--index", str(index), "--source", str(source.path))
    assert _cli("build", *args).returncode == 0
    path = index / "index.faqkb"
    pristine = path.read_bytes()
    from kb.index.reader import IndexReader

    at, length = IndexReader.open(str(path)).header["sections"]["entries"]
    for spot in (at + 10, at + length // 2):
        path.write_bytes(pristine)
        _flip(path, spot, 0xFF)
        frozen = _cli("--no-rebuild", *args, "too many open files")
        assert frozen.returncode == 2 and "the index is damaged" in frozen.stderr
        listed = _cli("list", *args)
        assert listed.returncode == 0 and "damaged" in listed.stderr
        _flip(path, spot, 0xFF)
        built = _cli("build", *args)
        assert built.returncode == 0, built.stderr
        assert "damaged (checksum); every source parsed again" in built.stderr
        assert "unchanged, not parsed again" not in built.stdout
        assert path.read_bytes() == pristine


def test_concurrent_cold_searches_build_the_index_once(tmp_path: Path) -> None:
    source = _source(tmp_path, SEED_TEXT * 1)
    index = str(tmp_path / "idx")
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "kb", "--index", index, "--source", str(source.path)]
    procs = [
        subprocess.Popen(
            [*cmd, "too many open files"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(10)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    assert all("Too many open file descriptors?" in out for _, out, _ in results)
    builds = sum("rebuilding the index…" in err for _, _, err in results)
    assert builds == 1, [err for _, _, err in results]
    assert all("Traceback" not in err for _, _, err in results)


_PARALLEL_BUILD = """
import sys, kb.index.build
from kb.spec import SourceSpec
kb.index.build.PARALLEL_MIN_BYTES, kb.index.build.PARALLEL_MIN_FILES = 0, 2
kb.index.build.os.cpu_count = lambda: 2
kb.index.build.build(SourceSpec(paths=(sys.argv[1],)), sys.argv[2])
"""


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_killing_a_parallel_build_ends_its_workers(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for n in range(40):
        (folder / f"f{n}.rst").write_text(SEED_TEXT * 4)
    build = subprocess.Popen(
        [sys.executable, "-c", _PARALLEL_BUILD, str(folder), str(tmp_path / "idx")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    children: set[int] = set()
    while len(children) < 3 and time.monotonic() < deadline:  # 2 workers + resource tracker
        time.sleep(0.05)
        children = _children(build.pid)
    assert len(children) >= 2, "the build never started its workers"
    build.kill()
    build.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]


# --- includes, Sphinx options, every message with a line (item 10) -------------------


@needs_corpora
def test_an_include_only_answer_stays_an_entry_pointing_at_the_page() -> None:
    assert CORPORA is not None
    path = CORPORA / "pylint" / "faq.rst"
    parsed = parse_source(
        Source("pylint", path, "https://pylint.readthedocs.io/en/latest/faq.html")
    )
    entries = {e.title: e for e in parsed.entries}
    install = entries["How do I install Pylint?"]
    assert install.answer == INCLUDED_TEXT
    assert install.url == "https://pylint.readthedocs.io/en/latest/faq.html#how-do-i-install-pylint"
    assert "How do I contribute to Pylint?" in entries


def test_an_include_only_question_in_a_written_file(tmp_path: Path) -> None:
    parsed = parse_source(_source(tmp_path, "FAQ\n===\n\nHow?\n----\n\n.. include:: other.rst\n"))
    assert [(e.title, e.answer) for e in parsed.entries] == [("How?", INCLUDED_TEXT)]
    assert [p.line for p in parsed.problems] == [7]


SPHINX_OPTIONS = """\
.. code-block:: python
   :caption: An example
   :dedent: 2
   :linenos:
   :force:
   :emphasize-lines: 1
   :lineno-start: 3
   :name: ex1
   :class: foo

     x = 1

.. sourcecode:: python
   :linenos:

   y = 2

.. code:: python
   :caption: plain

   z = 3

.. rubric:: A rubric
   :heading-level: 2

.. math::
   :label: eq1
   :nowrap:

   a = b

.. note::
   :collapsible: open

   Note body.

.. warning::
   :collapsible:

   Warning body.

.. admonition:: Title
   :collapsible: closed

   Admonition body.
"""


def test_options_sphinx_accepts_are_accepted(tmp_path: Path) -> None:
    source = _source(tmp_path, HEAD + SPHINX_OPTIONS)
    parsed = parse_source(source, strict=True)
    assert parsed.problems == []
    answer = parsed.entries[0].answer
    for text in ("An example", "x = 1", "y = 2", "z = 3", "A rubric", "a = b", "Note body."):
        assert text in answer
    assert "  x = 1" not in answer.replace("    x = 1", "")  # dedented by 2
    check = _cli("check", "--source", str(source.path))
    assert check.returncode == 0, check.stdout
    bad = _source(tmp_path, HEAD + ".. note::\n   :bogus: 1\n\n   x\n", "bad.rst")
    assert [p.message for p in parse_source(bad).errors] == [
        'Error in "note" directive: unknown option: "bogus".'
    ]


def test_every_message_carries_a_line(tmp_path: Path) -> None:
    long_line = parse_source(_source(tmp_path, HEAD + "Long " + "a" * 20_000 + "\n", "long.rst"))
    assert [(p.line, p.message) for p in long_line.problems] == [
        (9, "Line 9 exceeds the line-length-limit.")
    ]
    text = HEAD + ".. csv-table::\n\n   j_, k\n\nRef: `Missing\nname`_.\n\nSub |nothing| here.\n"
    parsed = parse_source(_source(tmp_path, text))
    assert [(p.line, p.message) for p in parsed.problems] == [
        (11, 'Unknown target name: "j".'),
        (13, 'Unknown target name: "missing name".'),
        (
            16,
            "substitution |nothing| is not defined in this file (Sphinx's rst_epilog or an "
            'include may define it): shown as "nothing"',
        ),
    ]


def test_a_docutils_crash_is_a_source_error(tmp_path: Path) -> None:
    # Found by fuzz/fuzz_ingest.py: a KeyError inside docutils' Substitutions transform.
    source = _source(tmp_path, "0?\n==\n\n ` <0>`_ 0_ |00|\n.. |00| replace:: |0| \n")
    with pytest.raises(SourceError, match=r"faq\.rst: docutils cannot parse this file \(KeyError"):
        parse_source(source)
    proc = _cli("check", "--source", str(source.path))
    assert proc.returncode == 1 and "docutils cannot parse this file" in proc.stdout


def test_a_wide_table_is_not_deep_nesting(tmp_path: Path) -> None:
    row = "|" + "   |" * 80
    rule = "+" + "---+" * 80
    text = HEAD + f"{rule}\n{row}\n{rule}\n\n" + "| line block\n" * 3
    assert parse_source(_source(tmp_path, text)).entries
