"""The tokenizer shared by entries and questions."""

from __future__ import annotations

import pytest

from kb.analysis.tokens import tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Too many open files", ["mani", "open", "file"]),
        (
            "Error when running dask-worker about OMP_NUM_THREADS",
            [
                "error",
                "run",
                "dask-worker",
                "dask",
                "worker",
                "omp_num_threads",
                "omp",
                "num",
                "thread",
            ],
        ),
        (
            "You should use client.upload_file",
            ["use", "client.upload_file", "client", "upload_file", "upload", "file"],
        ),
        ("PermissionError [Errno 13]", ["permissionerror", "permiss", "error", "errno", "13"]),
        ("How do I call C functions?", ["call", "c", "function"]),
        ("Why don't my threads run?", ["thread", "run"]),
    ],
)
def test_identifiers_stay_searchable_whole_and_in_parts(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_question_and_answer_wording_meet() -> None:
    assert set(tokenize("workers killed")) <= set(tokenize("KilledWorker: the worker was killed"))
    assert tokenize("Running") == tokenize("runs") == ["run"]


def test_junk_yields_no_tokens_and_no_error() -> None:
    assert tokenize("?!? ... --- ///") == []
    assert tokenize("\x00\x01\ufffd") == []
    assert len(tokenize("spam " * 200_000)) == 200_000
