"""JSON read by the C scanner behind ``json.loads``, without importing ``json``.

``json`` imports ``re`` (with ``enum``, ``functools``, ``collections``): ~12 ms of a cold
query, most of what it may spend above the interpreter's start-up, to parse an index
header and an entry or two. ``_json.make_scanner`` is the very scanner ``json.loads``
runs (``json.decoder.JSONDecoder.scan_once``), built here from the same settings as
``json.loads``'s defaults. Where CPython's ``_json`` is missing, ``json.loads`` itself.
Reading only: the index is written by ``json.dumps`` (the build imports ``re`` anyway).
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar


class _Settings:
    """The attributes ``_json.make_scanner`` reads: ``json.loads``'s defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # "NaN", "Infinity", "-Infinity": as json.loads reads them
    memo: ClassVar[dict[str, str]] = {}


def _scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    try:
        from _json import make_scanner
    except ImportError:  # not CPython
        return None
    # (typeshed types the context as a JSONDecoder: the scanner reads only these attributes)
    scan: Callable[[str, int], tuple[Any, int]] = make_scanner(_Settings())  # type: ignore[arg-type]
    return scan


_SCAN = _scanner()


def loads(text: bytes | str) -> Any:
    """The value of a JSON text with no whitespace around it, as ``json.loads`` gives it.

    Raises:
        ValueError: ``text`` is not one JSON value (or not UTF-8).
    """
    if isinstance(text, bytes):
        text = text.decode()  # UnicodeDecodeError is a ValueError
    if _SCAN is None:
        import json

        return json.loads(text)
    try:
        value, end = _SCAN(text, 0)
    except StopIteration as stop:
        raise ValueError(f"no JSON value at {stop.value}") from None
    if end != len(text):
        raise ValueError(f"extra data at {end}")
    return value
