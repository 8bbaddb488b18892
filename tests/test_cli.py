"""The command line: golden output, every option, exit codes and error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.cli.main import kb_main, plain_search, search_main
from kb.cli.parsers import search_parser
from kb.models import SearchOutput
from tests.conftest import GOLDEN, ROOT, SEED, needs_corpora

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def assert_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual)
    expected = path.read_text()
    assert actual == expected, f"{name} differs; if the new output is right: UPDATE_GOLDEN=1 pytest"


@pytest.fixture
def index_dir(tmp_path: Path) -> str:
    return str(tmp_path / "index")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = search_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_golden_terminal_answer(capsys: pytest.CaptureFixture[str], index_dir: str) -> None:
    code, out, err = run(capsys, "--index", index_dir, "too", "many", "open", "files")
    assert code == 0
    assert err == f"note: no index at {index_dir} yet; rebuilding the index…\n"
    assert_golden("too-many-open-files.txt", out)


def test_golden_json_answer(capsys: pytest.CaptureFixture[str], index_dir: str) -> None:
    code, out, _ = run(capsys, "--index", index_dir, "--json", "too many open files")
    assert code == 0
    data = json.loads(out)
    SearchOutput.model_validate(data)
    assert_golden("too-many-open-files.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    assert data["results"][0]["url"] == (
        "https://distributed.dask.org/en/stable/faq.html#too-many-open-file-descriptors"
    )


def test_sub_part_answer_deep_links_to_the_sub_part(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    _, out, _ = run(capsys, "--index", index_dir, "--json", "-k", "1", "client.upload_file")
    best = json.loads(out)["results"][0]
    assert best["url"] == "https://distributed.dask.org/en/stable/faq.html#send-source"
    assert best["breadcrumb"] == ["Frequently Asked Questions", "How do I use external modules?"]
    assert [link["url"] for link in best["links"]][1] == (
        "http://stackoverflow.com/questions/39295200/"
        "can-i-use-functions-imported-from-py-files-in-dask-distributed"
    )


def test_unanswered_exits_1_with_suggestions(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    code, out, _ = run(capsys, "--index", index_dir, "How do I reverse a list in Python?")
    assert code == 1
    assert out.startswith("No confident answer in the FAQ for: How do I reverse a list in Python?")
    assert "The whole FAQ: https://distributed.dask.org/en/stable/faq.html" in out
    code, out, _ = run(capsys, "--index", index_dir, "--json", "How do I reverse a list?")
    assert code == 1 and json.loads(out)["answered"] is False


def test_suggestions_preview_the_closest_answer(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    """Not confident, but the closest question is the one meant: the start of its answer
    is shown under it (cut with "…"), the other close questions are not expanded."""
    question = "how do I use external modules like my own code on the workers"
    code, out, _ = run(capsys, "--index", index_dir, question)
    assert code == 1
    assert_golden("suggest-external-modules.txt", out)
    closest, _, rest = out.partition("Closest questions\n")[2].partition("\n\n")
    assert closest.startswith("  • How do I use external modules?")
    preview = rest.split("\n\n")[0].splitlines()
    assert 1 <= len(preview) <= 4 and preview[0].startswith("    Most functions")
    assert preview[-1].endswith(" …")
    # Several close questions: the first is a coin toss, so none of them is quoted.
    code, out, _ = run(capsys, "--index", index_dir, "can dask run on a single machine")
    listed = out.partition("Closest questions\n")[2].partition("\n\nThe whole FAQ")[0]
    assert code == 1 and listed.count("  • ") > 1
    assert all(line.startswith(("  • ", "    http")) for line in listed.splitlines())


def test_explain_shows_terms_fields_and_band(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    code, out, _ = run(capsys, "--index", index_dir, "--explain", "too many open files")
    assert code == 0
    assert "band: answer" in out
    assert "mani (title)" in out
    code, out, _ = run(capsys, "--index", index_dir, "--explain", "--json", "too many open files")
    data = SearchOutput.model_validate_json(out)
    assert data.band == "answer" and data.tokens == ["mani", "open", "file"]
    assert data.results[0].explain is not None
    assert {"title", "answer"} <= {t.field for t in data.results[0].explain.terms}


def test_k_sets_the_number_of_results(capsys: pytest.CaptureFixture[str], index_dir: str) -> None:
    _, out, _ = run(capsys, "--index", index_dir, "--json", "-k", "1", "worker")
    assert len(json.loads(out)["results"]) == 1


def test_questions_from_stdin_one_json_line_each(
    capsys: pytest.CaptureFixture[str], index_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    stdin = io.TextIOWrapper(io.BytesIO(b"too many open files\n\nKilledWorker\nweather today?\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = run(capsys, "--index", index_dir, "--json", "-")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == [
        "too many open files",
        "KilledWorker",
        "weather today?",
    ]
    assert [line["answered"] for line in lines] == [True, True, False]
    assert code == 1  # not every question got a confident answer


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_empty_question_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], index_dir: str, question: str
) -> None:
    code, out, err = run(capsys, "--index", index_dir, question)
    assert code == 2 and out == ""
    assert err.startswith("usage: faq-search")
    assert 'error: ask a question, e.g. faq-search "too many open files"' in err


@pytest.mark.parametrize(
    "argv", [[], [""], ["   "], ["too many open files"], ["too", "many", "open", "files"], ["?"]]
)
def test_a_plain_question_gets_the_parsers_defaults(argv: list[str]) -> None:
    """Without an option, faq-search skips argparse: its options must be what it parses."""
    plain = plain_search(argv)
    assert plain is not None
    assert vars(plain) == vars(search_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--index", "/x", "q"],
        ["--index=/x", "too", "many"],
        ["--no-rebuild", "--source", "a=https://e.org/", "--source=b", "--index", "i", "q"],
        ["--manifest", "m.toml", "--no-rebuild", "q"],
        ["--index", "a", "--index", "b", "q"],  # the last wins, as in argparse
        ["--index", "/x"],
        ["--source", "a b=c", "q q"],
    ],
)
def test_light_options_are_parsed_as_argparse_parses_them(argv: list[str]) -> None:
    """``--index``, ``--manifest``, ``--source`` and ``--no-rebuild`` before the question
    skip argparse too (how a large FAQ is asked): to the same options."""
    light = plain_search(argv)
    assert light is not None
    assert vars(light) == vars(search_parser().parse_args(argv))


_ARGS = ["--index", "--index=i", "--source", "--source=a=b", "--manifest", "--manifest=m"]
_ARGS += ["--no-rebuild", "q", "w w", "", "-", "--", "-k", "2", "--json", "--ind", "x=y", "-x"]


def test_light_parsing_never_differs_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command line of up to four of these arguments (~110k): wherever the light
    parsing answers, argparse parses it, to the same options."""
    import itertools

    parser = search_parser()
    answered = 0
    for length in range(5):
        for argv in itertools.product(_ARGS, repeat=length):
            light = plain_search(argv)
            if light is None:
                continue
            answered += 1
            try:
                parsed = parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"argparse refuses {argv}, the light parsing does not")
            assert vars(light) == vars(parsed), argv
    assert answered > 1000
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["-"],
        ["-k", "1", "q"],
        ["q", "--json"],
        ["-1"],
        ["--", "q"],
        ["--index"],  # no value: argparse's error
        ["--index", "-x", "q"],
        ["--index="],
        ["--ind", "x", "q"],  # an abbreviation argparse accepts
        ["q", "--index", "x"],  # an option after the question
        ["--manifest", "m", "--source", "s", "q"],  # exclusive: argparse's error
        ["--no-rebuild=1", "q"],
        ["--index", "x", "--top", "2", "q"],
        ["--index", "x", "q", "-"],
    ],
)
def test_any_other_option_goes_through_argparse(argv: list[str]) -> None:
    assert plain_search(argv) is None


@pytest.mark.parametrize("question", ["too many open files", "hi", "zzqx", "   "])
def test_a_plain_question_answers_as_with_options(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    index_dir: str,
    question: str,
) -> None:
    monkeypatch.setenv("FAQ_INDEX", index_dir)
    run(capsys, "--top", "3", "build the index first")
    with_options = run(capsys, "--top", "3", question)
    assert run(capsys, question) == with_options
    assert run(capsys, *question.split()) == with_options


def test_verbose_shows_a_rebuilds_progress(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    code, out, err = run(capsys, "--index", index_dir, "-v", "too many open files")
    assert code == 0 and "#too-many-open-file-descriptors" in out
    assert "reading sources: " in err and " entries (" in err


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str], index_dir: str) -> None:
    with pytest.raises(SystemExit) as caught:
        search_main(["-k", "0", "q"])
    assert caught.value.code == 2
    assert "argument -k/--top: must be 1 or more" in capsys.readouterr().err


@pytest.mark.parametrize("question", ["x" * 1_000_000, "?!?.,;", "\x00\x01\x7f\ufffd"])
def test_odd_questions_never_crash(
    capsys: pytest.CaptureFixture[str], index_dir: str, question: str
) -> None:
    code, out, err = run(capsys, "--index", index_dir, question)
    assert code in (0, 1)
    assert "Traceback" not in out + err


def test_missing_source_is_an_input_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--source", str(tmp_path / "nope.rst"), "q")
    assert code == 2 and out == ""
    assert err == f"error: --source {tmp_path / 'nope.rst'}: no such file or folder\n"


def test_non_utf8_source_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.rst"
    bad.write_bytes(b"FAQ\n===\n\nCaf\xe9?\n-----\n\nYes.\n")
    code, _, err = run(capsys, "--index", str(tmp_path / "i"), "--source", str(bad), "cafe")
    assert code == 2
    assert err.splitlines()[-1] == f"error: {bad}:4: not UTF-8 text (byte 0xe9)"


def test_broken_source_reports_every_problem_and_keeps_others_visible(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "good.rst"
    good.write_text("FAQ\n===\n\nWhat?\n-----\n\nThat.\n")
    broken = tmp_path / "broken.rst"
    broken.write_text("FAQ\n===\n\nWhy?\n----\n\nSee `nowhere`_.\n")
    code, _, err = run(
        capsys, "--index", str(tmp_path / "i"), "--source", str(good), "--source", str(broken), "w"
    )
    assert code == 2
    assert err.splitlines()[-1] == f'error: {broken}:7: Unknown target name: "nowhere".'
    assert kb_main(["check", "--source", str(good), "--source", str(broken)]) == 1
    out = capsys.readouterr().out
    assert out == f'{broken}:7: Unknown target name: "nowhere".\n1 error(s) in 2 source(s)\n'


def test_no_rebuild_uses_the_index_as_it_is(
    capsys: pytest.CaptureFixture[str], seed_copy: Path, tmp_path: Path
) -> None:
    args = ["--index", str(tmp_path / "i"), "--source", str(seed_copy)]
    assert run(capsys, *args, "too many open files")[0] == 0
    seed_copy.write_text(seed_copy.read_text().replace("Too many open file", "Too many open fd"))
    code, out, err = run(capsys, "--no-rebuild", *args, "too many open files")
    assert code == 0 and "Too many open file descriptors?" in out
    assert err == (
        f"note: {seed_copy} changed since the index was built; using it as it is (--no-rebuild)\n"
    )
    code, out, err = run(capsys, *args, "too many open files")
    assert "Too many open fd descriptors?" in out
    assert "rebuilding the index" in err
    code, _, err = run(capsys, "--no-rebuild", "--index", str(tmp_path / "empty"), "q")
    assert code == 2 and "run `faq-kb build`" in err


def test_faq_kb_build_list_show_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    index = ["--index", str(tmp_path / "i")]
    assert kb_main(["build", *index]) == 0
    out = capsys.readouterr().out
    assert out.startswith("built 9 entries from 1 source in ")
    assert kb_main(["list", *index]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0] == "distributed/how-do-i-use-external-modules\tHow do I use external modules?"
    assert (
        listing[1]
        == "  distributed/maintain-consistent-environments\tMaintain consistent environments"
    )
    assert kb_main(["show", *index, "distributed/send-source"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(
        "Send Source\nFrequently Asked Questions › How do I use external modules?\n"
    )
    assert "source: faq_source/distributed/faq.rst:51" in shown
    assert kb_main(["show", *index, "distributed/send-sauce"]) == 2
    assert "did you mean distributed/send-source?" in capsys.readouterr().err
    assert kb_main(["check"]) == 0
    assert capsys.readouterr().out == "ok: 9 entries in 1 source(s), 0 warning(s)\n"


@needs_corpora
def test_check_lists_warnings_of_real_corpora(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import CORPORA

    assert CORPORA is not None
    assert kb_main(["check", "--source", str(CORPORA / "docutils")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "ok: 42 entries in 1 source(s), 1 warning(s)"


def test_manifest_errors_are_clear(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    manifest = tmp_path / "sources.toml"
    manifest.write_text('[[source]]\nname = "x"\npath = "faq.rst"\n')
    code, _, err = run(capsys, "--manifest", str(manifest), "--index", str(tmp_path / "i"), "q")
    assert code == 2
    assert err == (
        f"error: {manifest}: [[source]] #1: 'url' must be the published http(s) page of the file\n"
    )
    manifest.write_text("not [ toml")
    code, _, err = run(capsys, "--manifest", str(manifest), "--index", str(tmp_path / "i"), "q")
    assert code == 2 and err.startswith(f"error: {manifest}: not valid TOML:")


def test_python_dash_m_kb_works(tmp_path: Path) -> None:
    env = dict(os.environ, FAQ_INDEX=str(tmp_path / "i"))
    done = subprocess.run(
        [sys.executable, "-m", "kb", "too many open files"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Too many open file descriptors?\n")
    done = subprocess.run(
        [sys.executable, "-m", "kb", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0 and "distributed/send-source" in done.stdout


def test_installed_console_script_answers(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("faq-search")
    if not script.exists():
        pytest.skip("faq-search is not installed next to this Python (pip install the project)")
    env = dict(os.environ, FAQ_INDEX=str(tmp_path / "i"))
    done = subprocess.run(
        [str(script), "too many open files"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0
    assert "#too-many-open-file-descriptors" in done.stdout
    assert SEED.exists()


def test_watch_rebuilds_when_a_source_changes(seed_copy: Path, tmp_path: Path) -> None:
    import threading
    import time

    command = [
        sys.executable,
        "-m",
        "kb",
        "watch",
        "--interval",
        "0.2",
        "--source",
        str(seed_copy),
        "--index",
        str(tmp_path / "i"),
    ]
    lines: list[str] = []

    def wait_for(text: str) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(text in line for line in lines):
                return True
            time.sleep(0.05)
        return False

    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as watcher:
        assert watcher.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(watcher.stdout), daemon=True)
        reader.start()
        try:
            assert wait_for("watching 1 file(s); Ctrl-C to stop"), lines
            seed_copy.write_text(seed_copy.read_text() + "\nNew?\n~~~~\n\nYes.\n")
            assert wait_for("rebuilt: 10 entries"), lines
        finally:
            watcher.terminate()


def test_the_query_path_stays_light(tmp_path: Path) -> None:
    """faq-search answers without docutils, pydantic, numpy or rank-bm25, nor even typing,
    hashlib, threading or (a plain question) argparse: each costs a cold query milliseconds."""
    env = dict(os.environ, FAQ_INDEX=str(tmp_path / "i"))
    subprocess.run([sys.executable, "-m", "kb", "build"], env=env, check=True, capture_output=True)
    probe = (
        "import sys, runpy; sys.argv = ['faq-search', 'too many open files'];\n"
        "try:\n    runpy.run_module('kb', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = {'docutils', 'pydantic', 'numpy', 'rank_bm25', 'slack_bolt', 'tomllib',\n"
        "         'torch', 'sentence_transformers', 'kb.search.semantic', 'onnxruntime',\n"
        "         'tokenizers', 'kb.search.embedding', 'typing', 'hashlib', 'threading',\n"
        "         'argparse', 'gettext', 'locale', 'kb.cli.progress',\n"
        "         'textwrap', 'kb.ingest'}\n"
        "loaded = {m.split('.')[0] for m in sys.modules} | set(sys.modules)\n"
        "print(sorted(heavy & loaded), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert "#too-many-open-file-descriptors" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_plain_question_imports_no_re_nor_json(tmp_path: Path) -> None:
    """The launcher and the query path add none of re, json, array, functools,
    collections, enum to what the bare interpreter loads: ~13 ms of a cold query, most of
    its budget above ``python -c pass``. Run without ``site`` (an editable install's
    finder imports re itself), the packages found on this interpreter's paths."""
    env = dict(os.environ, FAQ_INDEX=str(tmp_path / "i"))
    subprocess.run([sys.executable, "-m", "kb", "build"], env=env, check=True, capture_output=True)
    paths = [str(ROOT), *(p for p in sys.path if p.endswith("-packages"))]
    probe = (
        f"import sys; sys.path[:0] = {paths!r}; before = set(sys.modules)\n"
        "sys.argv = ['faq-search', 'too many open files']\n"
        f"launcher = {str(ROOT / 'bin' / 'faq-search')!r}\n"
        "try:\n    exec(compile(open(launcher).read(), launcher, 'exec'))\n"
        "except SystemExit:\n    pass\n"
        "heavy = {'re', 'json', 'array', 'functools', 'collections', 'enum', 'typing'}\n"
        "print(sorted(heavy & (set(sys.modules) - before)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert "#too-many-open-file-descriptors" in done.stdout, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_small_talk_gets_a_short_reply_not_a_search(
    capsys: pytest.CaptureFixture[str], index_dir: str
) -> None:
    assert search_main(["--index", index_dir, "hi"]) == 1
    assert capsys.readouterr().out.startswith("Hello! Ask me a question about the FAQ")
    assert search_main(["--index", index_dir, "--json", "thanks!"]) == 1
    out = SearchOutput.model_validate_json(capsys.readouterr().out)
    assert (out.answered, out.results) == (False, [])
    # A greeting in front of a question is still the question.
    assert search_main(["--index", index_dir, "hi, too many open files"]) == 0
    assert "#too-many-open-file-descriptors" in capsys.readouterr().out


def test_faq_search_entry_freezes_the_heap_then_exits_with_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No collection walks what the imports made, nor everything at exit: faq-search
    freezes the heap after its imports and again before it exits."""
    import gc

    import kb.cli.main

    calls: list[str] = []
    monkeypatch.setattr(kb.cli.main, "search_main", lambda: calls.append("search") or 1)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "enable", lambda: calls.append("enable"))
    with pytest.raises(SystemExit) as exited:
        kb.cli.main.main()
    assert exited.value.code == 1
    # The imports' objects frozen, collection on (the launcher imports with it off), the
    # query, then everything frozen for the exit.
    assert calls == ["freeze", "enable", "search", "freeze"]
