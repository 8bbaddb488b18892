"""Clean up what users paste before it is searched: tracebacks, log lines, issue tags."""

from __future__ import annotations

from kb.analysis.scan import (
    may_have_leading_tag,
    may_have_long_number,
    may_have_timestamp,
    may_have_trailing_tag,
)

# Each pattern is applied only to a text it may match (``kb.analysis.scan``), and ``re``
# imported only then: a plain question costs neither the import (~10 ms of a cold query)
# nor a compile.
# "[Bug]:", "[QST]", "[Solved]", "BUG:", "DOC:", "ENH:" … at the start of an issue title.
_TAGS = (
    r"^\s*(?:(?:\[[^\]\n]{1,24}\]|\((?:bug|question|help|solved)\)|"
    r"(?:bug|doc|docs|enh|qst|question|feature request|api|perf|maint|help)\s*:)\s*:?\s*)+"
)
# "… [SF:bugs:212]", "… [closed]", "… (#1234)" at the end of an issue title.
_TRAILING_TAGS = r"(?:\s+(?:\[[A-Za-z][^\]\n'\"]{0,39}\]|\(#\d+\)))+\s*$"
_TRACEBACK_FRAME = r'^\s*File "[^"\n]*", line \d+(?:, in .*)?$'
_TIMESTAMP = r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s*"
_HEX = r"\b0x[0-9a-fA-F]{6,}\b"
_LONG_NUMBER = r"\b\d{6,}\b"


def normalize_question(text: str) -> str:
    """Return the part of a question worth searching for.

    Issue-title tags go (leading and trailing); a pasted traceback keeps the text around
    it and its exception lines but not its frames and source lines; timestamps, memory
    addresses and long numbers (ids, ports, PIDs) go; a line pasted twice counts once.
    """
    if may_have_leading_tag(text):
        text = _cut(_TAGS, text, ignore_case=True)
    if may_have_trailing_tag(text):
        text = _cut(_TRAILING_TAGS, text)
    kept: list[str] = []
    in_frames = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Traceback (most recent call last)"):
            in_frames = True
            continue
        if in_frames:
            import re

            if re.match(_TRACEBACK_FRAME, line):
                continue
            if line[:1].isspace():  # the source line shown under a frame
                continue
            in_frames = False
        if stripped and stripped not in kept:
            kept.append(stripped)
    text = "\n".join(kept)
    if may_have_timestamp(text):
        text = _cut(_TIMESTAMP, text)
    if "0x" in text:
        text = _cut(_HEX, text)
    if may_have_long_number(text):
        text = _cut(_LONG_NUMBER, text)
    return text


def _cut(pattern: str, text: str, *, ignore_case: bool = False) -> str:
    """``text`` without what ``pattern`` matches (``re`` imported only now)."""
    import re

    return re.sub(pattern, "", text, flags=re.IGNORECASE if ignore_case else 0)
