"""Slack's mrkdwn and Block Kit primitives: escaping, links, word-safe cuts, limits."""

from __future__ import annotations

from typing import Any, TypedDict
from urllib.parse import quote

Block = dict[str, Any]

# Block Kit's hard limits for chat.postMessage / response_url messages.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000
LINK_LABEL_CHARS = 80
BUTTON_TEXT_LIMIT = 75
HEADER_LIMIT = 150


class Message(TypedDict):
    """What ``chat.postMessage``, ``ack`` and ``respond`` take: fallback text and blocks."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str, limit: int = LINK_LABEL_CHARS) -> str:
    """A mrkdwn link; ``label`` is plain text, ``url`` made safe for ``<url|…>``.

    A label that is the URL itself gives a bare ``<url>``, which Slack shows as the URL.
    """
    safe = quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_")
    if label.strip() == url:
        return f"<{safe}>"
    return f"<{safe}|{escape(shorten(label, limit))}>"


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, cut at a word end with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    # A single enormous word has no word end to cut at: cut it, rather than show nothing.
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–(") + "…"


def section(mrkdwn: str) -> Block:
    """A mrkdwn section block (text held to Block Kit's limit)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}}


def context(mrkdwn: str) -> Block:
    """A context block of one mrkdwn line."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button; its label is cut at a word end to Block Kit's 75 characters."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": shorten(label, BUTTON_TEXT_LIMIT), "emoji": True},
        "action_id": action_id,
        "value": value[:BUTTON_VALUE_LIMIT],
    }
    if style:
        element["style"] = style
    return element
