"""Property tests of the ingest: generated and mutated rst never crash it, and stay quick.

``parse_source`` may only raise ``SourceError`` (the project's error for a source); the
whole preparation of a source (parse, render, serialise, tokenize) never raises at all.
Each test is bounded: a fixed number of examples, a deadline per example. The long run
is ``python fuzz/fuzz_ingest.py`` (docs/reliability.md).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the test extra) is missing")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz.strategies import corpus_files, generated_rst, mutated  # noqa: E402
from kb.errors import SourceError  # noqa: E402
from kb.index.prepare import prepare_source  # noqa: E402
from kb.ingest.parse import parse_source  # noqa: E402
from kb.ingest.sources import Source  # noqa: E402

CORPUS = corpus_files()
BOUNDED = settings(
    max_examples=30,
    deadline=timedelta(seconds=20),  # wall clock, generous: CPU time is asserted below
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECONDS_PER_SOURCE = 5.0


def _check(tmp: Path, data: bytes) -> None:
    path = tmp / "fuzz.rst"
    path.write_bytes(data)
    source = Source("fuzz", path, "https://example.org/faq.html")
    started = time.process_time()
    try:
        parsed = parse_source(source)
    except SourceError as exc:
        assert str(exc).startswith(str(path))
    else:
        for problem in parsed.problems:
            assert problem.line, problem
    prepared = prepare_source(source)  # never raises: problems are listed
    assert prepared.problems or len(prepared) == len(prepared.ids)
    assert time.process_time() - started < SECONDS_PER_SOURCE


@BOUNDED
@given(text=generated_rst())
def test_generated_rst_never_crashes_the_ingest(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    _check(tmp_path_factory.mktemp("gen"), text.encode("utf-8", "surrogatepass"))


@pytest.mark.skipif(not CORPUS, reason="the real FAQ corpora (../shared/corpora) are absent")
@BOUNDED
@given(data=mutated(CORPUS) if CORPUS else generated_rst().map(str.encode))
def test_mutated_real_faqs_never_crash_the_ingest(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    _check(tmp_path_factory.mktemp("mut"), data)
