"""kb.search.smalltalk: whole-message greetings, thanks and requests for help; questions are not."""

from __future__ import annotations

import pytest

from kb.search.smalltalk import small_talk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("Hello!", "greeting"),
        ("hey there :wave:", "greeting"),
        ("good morning bot", "greeting"),
        ("help", "help"),
        ("?", "help"),
        ("", "help"),
        ("what can you do?", "help"),
        ("thanks", "thanks"),
        ("Thank you!", "thanks"),
        ("thank you :pray:", "thanks"),
        ("ok, got it", "thanks"),
        ("bye", "bye"),
        ("hi, how do I raise ulimit?", None),
        ("help with too many open files", None),
        ("too many open files", None),
        ("thanks but workers still die", None),
        ("42", None),
    ],
)
def test_small_talk(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind
