"""What users paste is cleaned before it is searched."""

from __future__ import annotations

from kb.analysis.normalize import normalize_question


def test_issue_title_tags_are_dropped() -> None:
    assert normalize_question("[Bug]: xlabel is cut off") == "xlabel is cut off"
    assert normalize_question("DOC: numpy.arcsin(x, /)") == "numpy.arcsin(x, /)"
    assert normalize_question("[QST] [Solved] why?") == "why?"
    assert normalize_question("Error: something broke") == "Error: something broke"
    assert normalize_question("complex table error [SF:bugs:212]") == "complex table error"
    assert normalize_question("Fix the docs (#1234)") == "Fix the docs"
    assert normalize_question("a[0] is wrong") == "a[0] is wrong"
    assert normalize_question("t[0] += ['item']") == "t[0] += ['item']"
    assert normalize_question("x = a[i]") == "x = a[i]"


def test_traceback_keeps_the_story_and_the_exception_not_the_frames() -> None:
    pasted = (
        "My job fails with\n"
        "Traceback (most recent call last):\n"
        '  File "/home/me/job.py", line 12, in <module>\n'
        "    client.submit(f)\n"
        '  File "/opt/conda/lib/python3.11/site-packages/distributed/client.py", line 9, in x\n'
        "    raise exc\n"
        "OSError: [Errno 24] Too many open files\n"
    )
    assert normalize_question(pasted) == (
        "My job fails with\nOSError: [Errno 24] Too many open files"
    )


def test_log_lines_lose_timestamps_addresses_and_ids() -> None:
    line = (
        "2024-03-01 10:11:12,345 - distributed.nanny - WARNING - Worker process 1234567 "
        "at 0x7f3b2c4d5e60 was killed"
    )
    assert normalize_question(line) == (
        "- distributed.nanny - WARNING - Worker process  at  was killed"
    )


def test_a_line_pasted_twice_counts_once() -> None:
    assert normalize_question("KilledWorker\nKilledWorker\nwhy?") == "KilledWorker\nwhy?"
