"""Text made safe to print: no escape sequence, control or bidi override reaches a terminal.

A question, a path in an error message or an FAQ's text could carry ``ESC [ …`` (recolour,
retitle, hide text), C1 controls, backspaces or bidi overrides that reorder what is seen.
Everything printed for a person goes through ``printable``: such characters are shown as
``\\x1b``, ``\\u202e`` … instead. JSON output goes through ``json_text``, which escapes the
same characters as JSON ``\\u`` escapes (the value is unchanged; the bytes are inert).
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    import re
    from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, bidi controls, and lone surrogates
# (undecodable bytes of a path or an argument). Every one is unprintable to
# ``str.isprintable``, so a text that is printable but for tabs and newlines holds none:
# ``re`` is imported and the pattern compiled only for a text that may (``re`` alone is
# ~10 ms of a cold query).
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"


def _unsafe() -> re.Pattern[str]:
    import re

    return re.compile(_UNSAFE)  # re keeps it compiled


def _safe(text: str) -> bool:
    """Whether ``text`` surely holds no unsafe character (a quick test, no regex)."""
    return text.isprintable() or text.replace("\n", "").replace("\t", "").isprintable()


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control, bidi override and lone surrogate shown escaped."""
    return text if _safe(text) else _unsafe().sub(_escape, text)


def clean(value: Any) -> Any:
    """``printable`` applied to every string in a structure of dicts and lists."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def json_text(data: Any, **kwargs: Any) -> str:
    """``json.dumps(data, ensure_ascii=False)`` with the unsafe characters ``\\u``-escaped."""
    import json  # only for --json output

    text = json.dumps(data, ensure_ascii=False, **kwargs)
    if _safe(text):
        return text
    return _unsafe().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def from_argv(arg: str) -> str:
    """A command-line argument as text: undecodable bytes become U+FFFD, like stdin's."""
    try:
        return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return arg.encode("utf-8", "replace").decode("utf-8")
