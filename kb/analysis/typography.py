"""Sphinx-style typography (curly quotes, en and em dashes, ellipses) undone, to compare."""

from __future__ import annotations

# What docutils' smart_quotes makes of straight quotes, ``--``, ``---`` and ``...``
# (language "en"), mapped back: a title as written and as rendered then compare equal.
_ASCII = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "--", "—": "---", "…": "..."})


def plain_typography(text: str) -> str:
    """``text`` with typographic quotes, dashes and ellipses written the ASCII way."""
    return text.translate(_ASCII)
