"""Entries as the index stores them: each rendered form once, the rest derived on reading.

An entry's answer is rendered at ingest into blocks, each with its plain text and its
Slack mrkdwn, and the answer's plain text is the blocks joined. Stored whole, that is the
answer three times over. The index keeps the blocks' text, and a block's mrkdwn only
where it is more than the text escaped (emphasis, links, inline code); the answer's text
only where it is not the blocks joined. ``expand`` gives back exactly the entry written:
``compact`` keeps a form whenever deriving it would not give the same string.
"""

from __future__ import annotations

from typing import Any


def _escape(text: str) -> str:
    # kb.ingest.blocks.escape_mrkdwn, inlined: the query path does not import the ingest.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def derived_mrkdwn(kind: str, text: str) -> str:
    """The mrkdwn a block of this kind and text has when it holds no inline markup."""
    if kind == "code":
        return f"```\n{_escape(text)}\n```"
    if kind == "heading":
        return f"*{_escape(text)}*"
    return _escape(text)


def answer_text(blocks: list[dict[str, Any]]) -> str:
    """The plain text of an answer from its blocks (``kb.ingest.blocks.blocks_to_text``)."""
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
