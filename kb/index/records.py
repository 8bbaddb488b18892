"""Entries as the index stores them: each rendered form once, the rest derived on reading.

An entry's answer is rendered at ingest into blocks, each with its plain text and its
Slack mrkdwn, and the answer's plain text is the blocks joined. Stored whole, that is the
answer three times over. The index keeps the blocks' text, and a block's mrkdwn only
where it is more than the text escaped (emphasis, links, inline code); the answer's text
only where it is not the blocks joined. ``expand`` gives back exactly the entry written:
``compact`` keeps a form whenever deriving it would not give the same string. Each entry
is one line of compact JSON (``line``); the lines of a few neighbouring entries of one
source are compressed together as a block (``pack``), so that showing an entry reads
one block and a rebuild copies an unchanged source's blocks as they are.
"""

from __future__ import annotations

import zlib

from kb.index.json_scan import loads

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any

# Each block is its entries' JSON lines compressed together, primed with this dictionary:
# the parts every entry's JSON shares. Fixed, not drawn from the corpus, so that an
# unchanged source's stored blocks stay valid in any later index. Changing it changes
# every index: bump SCHEMA_VERSION.
ZDICT = (
    b'{"id":"","collection":"","title":"","source_title":"","breadcrumb":[""],'
    b'"url":"https://","anchor":"","blocks":[{"kind":"paragraph","text":""},'
    b'{"kind":"code","text":""},{"kind":"item","text":"","marker":"\xe2\x80\xa2"},'
    b'{"kind":"paragraph","text":"","mrkdwn":"<https://|>"}],'
    b'"links":[{"text":"","url":"https://"}],"source":{"path":"","line":},'
    b'"parent":null,"aliases":[]}\n'
)
_LEVEL = 6
# A block holds entries until their JSON reaches this many bytes (one entry may exceed it):
# larger blocks compress better, smaller ones cost less to read for one entry shown.
BLOCK_BYTES = 1 << 16


def line(entry: dict[str, Any]) -> bytes:
    """An entry's stored JSON line (no newline: JSON escapes every one it holds)."""
    import json  # writing: a build, which has imported re (json's own cost) anyway

    return json.dumps(compact(entry), ensure_ascii=False, separators=(",", ":")).encode()


def pack(lines: list[bytes]) -> bytes:
    """The stored block of some entries' lines (``line``)."""
    packer = zlib.compressobj(_LEVEL, zdict=ZDICT)
    return packer.compress(b"\n".join(lines)) + packer.flush()


def unpack(stored: bytes) -> list[bytes]:
    """The lines of a stored block (the inverse of ``pack``).

    Raises:
        ValueError: the bytes are not a stored block.
    """
    try:
        unpacker = zlib.decompressobj(zdict=ZDICT)
        data = unpacker.decompress(stored) + unpacker.flush()
    except zlib.error as exc:
        raise ValueError(f"not a stored block ({exc})") from None
    if not unpacker.eof:
        raise ValueError("not a stored block (truncated)")
    return data.split(b"\n")


def decode(stored_line: bytes) -> dict[str, Any]:
    """The entry stored as a line (the inverse of ``line``).

    Raises:
        ValueError: the bytes are not a stored entry.
    """
    record: dict[str, Any] = loads(stored_line)
    if not isinstance(record, dict):
        raise ValueError("not a stored entry")
    return expand(record)


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as markup: ``&``, ``<`` and ``>``.

    Defined here, not in the ingest that renders with it, so that the query path, which
    derives stored forms again, does not import the ingest.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def derived_mrkdwn(kind: str, text: str) -> str:
    """The mrkdwn a block of this kind and text has when it holds no inline markup."""
    if kind == "code":
        return f"```\n{escape_mrkdwn(text)}\n```"
    if kind == "heading":
        return f"*{escape_mrkdwn(text)}*"
    return escape_mrkdwn(text)


def answer_text(blocks: list[dict[str, Any]]) -> str:
    """The plain text of an answer from its blocks (code indented by four spaces)."""
    parts = []
    for block in blocks:
        indent = "  " * block.get("depth", 0)
        text = block["text"]
        if block["kind"] == "code":
            parts.append(
                "\n".join(f"{indent}    {line}" if line else "" for line in text.splitlines())
            )
        elif block["kind"] == "item":
            parts.append(f"{indent}{block.get('marker', '')} {text}")
        else:
            parts.append(f"{indent}{text}")
    return "\n\n".join(parts)


def compact(entry: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an entry (a dict shaped like ``kb.models.Entry``)."""
    record = dict(entry)
    blocks = []
    for block in entry["blocks"]:
        stored = {"kind": block["kind"], "text": block["text"]}
        if block["mrkdwn"] != derived_mrkdwn(block["kind"], block["text"]):
            stored["mrkdwn"] = block["mrkdwn"]
        if block.get("depth"):
            stored["depth"] = block["depth"]
        if block.get("marker"):
            stored["marker"] = block["marker"]
        blocks.append(stored)
    record["blocks"] = blocks
    if entry["answer"] == answer_text(entry["blocks"]):
        del record["answer"]
    return record


def expand(record: dict[str, Any]) -> dict[str, Any]:
    """The entry a stored record holds, every form back (the inverse of ``compact``)."""
    blocks = []
    for stored in record["blocks"]:
        kind, text = stored["kind"], stored["text"]
        blocks.append(
            {
                "kind": kind,
                "text": text,
                "mrkdwn": stored["mrkdwn"] if "mrkdwn" in stored else derived_mrkdwn(kind, text),
                "depth": stored.get("depth", 0),
                "marker": stored.get("marker", ""),
            }
        )
    entry: dict[str, Any] = {}
    for key, value in record.items():
        if key == "blocks":
            if "answer" not in record:  # in its place in ``Entry``: just before the blocks
                entry["answer"] = answer_text(blocks)
            value = blocks
        entry[key] = value
    return entry
