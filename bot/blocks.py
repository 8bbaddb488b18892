"""Block Kit messages for answers, non-answers and help: pure functions of kb's results.

Every string that came from a user is escaped (``& < >``), so a question holding
``<!channel>`` or ``<@U…>`` is shown, never acted on. FAQ text arrives as mrkdwn already
escaped by kb's renderer. Messages stay inside Block Kit's limits whatever the answer's size.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.buttons import (
    FEEDBACK_ACTION_RE,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    SHARE_ACTION,
    Feedback,
    escalate_actions,
    feedback_blocks,
    suggestion_buttons,
)
from bot.slack_text import (
    MAX_BLOCKS,
    SECTION_LIMIT,
    Block,
    Message,
    escape,
    link,
    shorten,
)
from bot.slack_text import context as _context
from bot.slack_text import section as _section
from bot.state import Shown
from kb.search.query import Hit, SearchResult

# Well under the section limit: long messages also hit Slack's total-size check
# (msg_blocks_too_long at ~13k) and nobody reads more than this in a chat reply.
ANSWER_CHARS = 2500
# A cut shorter than this would leave a stub; drop the block instead.
MIN_CUT_CHARS = 120
TITLE_CHARS = 250
ECHO_CHARS = 300
FALLBACK_CHARS = 300
MAX_ALTERNATIVES = 3
# A "no confident answer" offers at most this many close questions (issue #9: up to three).
MAX_SUGGESTIONS = 3
# How much of the closest question's answer a suggestion previews.
PREVIEW_CHARS = 280
MAX_LINKS = 5


def answer_message(
    result: SearchResult,
    *,
    shown: Shown,
    asked: tuple[str, str] | None = None,
    shareable: bool = False,
    feedback: Feedback | None = None,
    escalate_label: str | None = None,
    name_sources: bool = False,
    shared_by: str | None = None,
) -> Message:
    """The best entry in full, its links, close alternatives, and feedback buttons.

    ``asked`` is (label, question) to echo the question, e.g. ("You asked", q);
    ``shareable`` adds the "Share in channel" button of ``/faq`` replies; ``feedback`` is
    the vote already given (the buttons show it); ``name_sources`` names each entry's FAQ
    (when there are several); ``shared_by`` is the Slack user id who shared it.
    """
    best = result.hits[0]
    entry = best.entry
    title = f"*{link(entry['url'], entry['title'], TITLE_CHARS)}*"
    blocks: list[Block] = [_section(title)]
    where = list(entry.get("breadcrumb") or [])
    context = escape(shorten(" › ".join(where), 300)) if where else ""
    if name_sources:
        faq = f"_{escape(collection(entry))}_ FAQ"
        context = f"{faq} · {context}" if context else faq
    if context:
        blocks.append(_context(context))
    if shared_by:
        blocks.append(_context(f"Shared by <@{shared_by}>"))
    if asked:
        blocks.append(_asked(*asked))
    body, cut = answer_body(entry["blocks"])
    blocks.extend(_section(text) for text in pack_sections(body))
    if cut:
        blocks.append(_context(f"… {link(entry['url'], 'Read the full answer')}"))
    links = _links_text(entry, "\n".join(body))
    if links:
        blocks.append(_section(links))
    alternatives = _hit_list(result.hits[1 : 1 + MAX_ALTERNATIVES], name_sources)
    if alternatives:
        blocks.append(_section("*Also see*\n" + alternatives))
    blocks += feedback_blocks(shown, feedback, shareable=shareable, escalate_label=escalate_label)
    summary = shorten(entry["answer"], FALLBACK_CHARS)
    text = f"{escape(shorten(entry['title'], TITLE_CHARS))}: {escape(summary)} {entry['url']}"
    return {"text": text, "blocks": fit_blocks(blocks)}


def no_answer_message(
    result: SearchResult,
    *,
    faq_pages: list[str],
    shown: Shown | None = None,
    asked_label: str = "I looked for",
    escalate_label: str | None = None,
    name_sources: bool = False,
) -> Message:
    """A polite "no confident answer", the closest questions (as buttons that show each
    answer in place, given ``shown``), the FAQ's page, and the next step if configured."""
    question = escape(shorten(result.query, ECHO_CHARS)) or "(no words to search for)"
    sorry = "Sorry, I couldn't find a confident answer to that in the FAQ."
    blocks: list[Block] = [_section(sorry), _context(f"{escape(asked_label)}: “{question}”")]
    # kb's "none" band means even the closest entries are unrelated: suggest nothing.
    near = result.hits[:MAX_SUGGESTIONS] if result.band != "none" else []
    closest = _hit_list(near, name_sources)
    if closest:
        blocks.append(_section("*Closest questions*\n" + closest))
    if near and result.previews_closest():
        # Then the closest question is likely the one meant: how its answer begins.
        start = escape(shorten(near[0].entry["answer"], PREVIEW_CHARS))
        blocks.append(_context(f"{escape(shorten(near[0].entry['title'], 80))}: {start}"))
    if near and shown is not None:
        blocks.append(suggestion_buttons(shown, [hit.entry for hit in near]))
    pages = faq_pages[:3]
    if pages:
        where = ", ".join(link(page, page.split("://", 1)[-1]) for page in pages)
        blocks.append(_context(f"Browse the whole FAQ: {where}"))
    if escalate_label and shown is not None:
        blocks.append(escalate_actions(shown, escalate_label))
    titles = "; ".join(hit.entry["title"] for hit in near)
    text = f"No confident answer in the FAQ for “{question}”."
    if titles:
        text += f" Closest: {escape(shorten(titles, FALLBACK_CHARS))}"
    return {"text": text, "blocks": fit_blocks(blocks)}


def help_message(command: str, greeting: str = "") -> Message:
    """Usage of the bot: for ``/faq`` without a question, "help", "?" or a greeting."""
    text = (
        f"Ask the FAQ a question: `{escape(command)} how do I use external modules?`\n"
        "Only you see the answer; its *Share in channel* button posts it for everyone. "
        "You can also mention me in a channel or send me a direct message."
    )
    if greeting:
        text = f"{greeting}\n{text}"
    return {"text": text, "blocks": [_section(text)]}


# Short replies to small talk that is not a request for help (kb.smalltalk's kinds).
SMALL_TALK_REPLIES = {
    "thanks": "You're welcome! Ask me anything else from the FAQ any time.",
    "bye": "Bye! Mention me or send me a message whenever you have a question.",
}


def small_talk_message(kind: str, command: str) -> Message:
    """The reply to small talk: the help text (with a hello), or a short line."""
    if kind in SMALL_TALK_REPLIES:
        text = SMALL_TALK_REPLIES[kind]
        return {"text": text, "blocks": [_section(text)]}
    return help_message(command, "Hi! :wave:" if kind == "greeting" else "")


def error_message() -> Message:
    """What the asker sees when the FAQ cannot be searched right now."""
    text = "Sorry, the FAQ can't be searched right now; the maintainers have been told."
    return {"text": text, "blocks": [_section(text)]}


def collection(entry: dict[str, Any]) -> str:
    """The name of the FAQ (source) an entry comes from."""
    return str(entry.get("collection") or entry["id"].split("/", 1)[0])


def _asked(label: str, question: str) -> Block:
    return _context(f"{escape(label)}: “{escape(shorten(question, ECHO_CHARS))}”")


def _hit_list(hits: list[Hit], name_sources: bool = False) -> str:
    return "\n".join(
        f"• {link(h.entry['url'], h.entry['title'], TITLE_CHARS)}"
        + (f" · _{escape(collection(h.entry))}_" if name_sources else "")
        for h in hits
    )


def _links_text(entry: dict[str, Any], shown: str = "") -> str:
    """The entry's links not already linked in the ``shown`` answer text."""
    seen = {entry["url"]}
    lines: list[str] = []
    for item in entry.get("links", []):
        url = item["url"]
        if url in seen or len(lines) >= MAX_LINKS:
            continue
        safe = quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_")
        if (
            f"<{url}|" in shown
            or f"<{url}>" in shown
            or f"<{safe}|" in shown
            or f"<{safe}>" in shown
        ):
            continue
        seen.add(item["url"])
        lines.append(f"• {link(item['url'], item['text'] or item['url'])}")
    text = "*Links*\n" + "\n".join(lines) if lines else ""
    while len(text) > SECTION_LIMIT and lines:
        lines.pop()
        text = "*Links*\n" + "\n".join(lines)
    return text


def _piece(block: dict[str, Any]) -> str:
    """One answer block as mrkdwn: list items keep their marker and nesting."""
    md = str(block.get("mrkdwn") or "")
    if block.get("kind") == "item":
        marker = block.get("marker") or "•"
        return "    " * int(block.get("depth", 0)) + f"{marker} {md}"
    return md


def answer_body(blocks: list[dict[str, Any]], budget: int = ANSWER_CHARS) -> tuple[list[str], bool]:
    """The answer as mrkdwn pieces within ``budget`` characters, and whether it was cut.

    A cut falls at a block boundary, or inside a block at a sentence end (a code block at a
    line end, its fence closed again), never inside a link or inline code.
    """
    kept: list[tuple[str, str]] = []  # (kind, mrkdwn)
    used = 0
    for block in blocks:
        kind, piece = str(block.get("kind")), _piece(block)
        if not piece.strip():
            continue
        sep = 0 if not kept else (1 if kind == "item" and kept[-1][0] == "item" else 2)
        room = budget - used - sep
        if len(piece) <= room:
            kept.append((kind, piece))
            used += sep + len(piece)
            continue
        if room >= MIN_CUT_CHARS and kind != "heading":
            cut = _cut_code(piece, room) if kind == "code" else _cut_prose(piece, room)
            if cut:
                kept.append((kind, cut))
        while kept and kept[-1][0] == "heading":  # its text was cut away: it would dangle
            kept.pop()
        return _merge_lists(kept), True
    return _merge_lists(kept), False


def _merge_lists(kept: list[tuple[str, str]]) -> list[str]:
    """Pieces to join with blank lines; the items of one list stay on consecutive lines."""
    out: list[str] = []
    for i, (kind, piece) in enumerate(kept):
        if out and kind == "item" and kept[i - 1][0] == "item":
            out[-1] += "\n" + piece
        else:
            out.append(piece)
    return out


def pack_sections(pieces: list[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Join answer pieces into as few section texts as fit, each at most ``limit`` chars."""
    sections: list[str] = []
    current = ""
    for piece in pieces:
        piece = piece if len(piece) <= limit else _cut_prose(piece, limit) or piece[:limit]
        joined = f"{current}\n\n{piece}" if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            sections.append(current)
            current = piece
    if current:
        sections.append(current)
    return sections


def _protected(md: str) -> list[tuple[int, int]]:
    """Spans a cut must not fall in: links/mentions ``<…>`` and inline or fenced code."""
    spans = [m.span() for m in re.finditer(r"```.*?```|`[^`\n]*`|<[^<>]*>", md, re.S)]
    return spans


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < pos < end for start, end in spans)


def _cut_prose(md: str, limit: int) -> str:
    """The longest prefix of ``md`` up to ``limit`` chars (with " …") ending a sentence."""
    limit -= 2  # room for " …"
    spans = _protected(md)
    ends = [
        m.end()
        for m in re.finditer(r"[.!?][)\"'”’*_]*(?=\s)", md)
        if m.end() <= limit and not _inside(m.end(), spans)
    ]
    if ends:
        return md[: ends[-1]] + " …"
    spaces = [
        i for i in range(min(limit, len(md) - 1), 0, -1) if md[i] == " " and not _inside(i, spans)
    ]
    return md[: spaces[0]].rstrip() + " …" if spaces else ""


def _cut_code(md: str, limit: int) -> str:
    """A fenced code block cut at a line end, its fence closed again."""
    lines = md.split("\n")
    if len(lines) < 3 or not lines[0].startswith("```"):
        return _cut_prose(md, limit)
    kept = [lines[0]]
    size = len(lines[0]) + len("\n…\n```")
    for line in lines[1:-1]:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    if len(kept) == 1:
        return ""
    return "\n".join([*kept, "…", "```"])


def fit_blocks(blocks: list[Block]) -> list[Block]:
    """Keep a message within Block Kit's block count: drop answer sections from the end."""
    while len(blocks) > MAX_BLOCKS:
        # The title, the context lines and the buttons matter more than the last sections.
        for i in range(len(blocks) - 2, 0, -1):
            if blocks[i]["type"] == "section":
                del blocks[i]
                break
        else:
            del blocks[MAX_BLOCKS - 1 : -1]
    return blocks


__all__ = [
    "FEEDBACK_ACTION_RE",
    "FEEDBACK_DOWN",
    "FEEDBACK_UP",
    "MAX_BLOCKS",
    "SECTION_LIMIT",
    "SHARE_ACTION",
    "Message",
    "answer_message",
    "escape",
    "help_message",
    "link",
    "no_answer_message",
]
