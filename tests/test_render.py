"""``kb.render.results.wrap``: textwrap's wrapping without importing textwrap."""

from __future__ import annotations

import textwrap

import pytest

from kb.render.results import wrap
from tests.test_text_equivalence import REAL

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (the test extra) is missing")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _textwrap(text: str, width: int, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    )


def test_the_real_texts_wrap_as_textwrap_does() -> None:
    for text in REAL[::7]:
        for width, first, rest in ((38, "  ", "  "), (98, "    • ", "      "), (60, "", "   ")):
            assert wrap(text, width, first, rest) == _textwrap(text, width, first, rest)


_CHARS = st.sampled_from(list("ab cd  efghij\t\n\r\x0b\x0c\xa0\u2003\u3000-•é"))


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(st.text(), st.text(alphabet=_CHARS)),
    st.integers(min_value=1, max_value=30),
    st.text(alphabet=" •-", max_size=6),
    st.text(alphabet=" \xa0", max_size=8),
)
def test_any_text_wraps_as_textwrap_does(text: str, width: int, first: str, rest: str) -> None:
    assert wrap(text, width, first, rest) == _textwrap(text, width, first, rest)
