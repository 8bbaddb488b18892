"""Block Kit messages for answers, non-answers and help: pure functions of kb's results.

Every string that came from a user is escaped (``& < >``), so a question holding
``<!channel>`` or ``<@U…>`` is shown, never acted on. FAQ text arrives as mrkdwn already
escaped by kb's renderer. Messages stay inside Block Kit's limits whatever the answer's size.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict
from urllib.parse import quote

from kb.search import Hit, SearchResult

Block = dict[str, Any]

# Block Kit's hard limits for chat.postMessage / response_url messages.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000
# Well under the section limit: long messages also hit Slack's total-size check
# (msg_blocks_too_long at ~13k) and nobody reads more than this in a chat reply.
ANSWER_CHARS = 2500
# A cut shorter than this would leave a stub; drop the block instead.
MIN_CUT_CHARS = 120
TITLE_CHARS = 250
ECHO_CHARS = 300
FALLBACK_CHARS = 300
MAX_ALTERNATIVES = 3
MAX_LINKS = 5
LINK_LABEL_CHARS = 80

FEEDBACK_UP = "faq_feedback_up"
FEEDBACK_DOWN = "faq_feedback_down"
FEEDBACK_ACTION_RE = re.compile(r"^faq_feedback_(up|down)$")
SHARE_ACTION = "faq_share"


class Message(TypedDict):
    """What ``chat.postMessage``, ``ack`` and ``respond`` take: fallback text and blocks."""

    text: str
    blocks: list[Block]


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link; ``label`` is plain text, ``url`` made safe for ``<url|…>``."""
    safe = quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe}|{escape(_shorten(label, LINK_LABEL_CHARS))}>"


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value[:BUTTON_VALUE_LIMIT],
    }
    if style:
        button["style"] = style
    return button


def feedback_value(answer_id: str, entry_id: str) -> str:
    """The value both feedback buttons carry: which answer, which entry."""
    return f"{answer_id}|{entry_id}"


def parse_feedback_value(value: str) -> tuple[str, str]:
    """(answer id, entry id) from a feedback button's value.

    Raises:
        ValueError: not a value this bot made.
    """
    answer_id, sep, entry_id = value.partition("|")
    if not sep or not answer_id or not entry_id:
        raise ValueError(f"not a feedback value: {value[:40]!r}")
    return answer_id, entry_id


def share_value(question: str) -> str:
    """The Share button's value: the question, to answer again in public."""
    return json.dumps({"q": question[: BUTTON_VALUE_LIMIT - 20]}, ensure_ascii=False)


def parse_share_value(value: str) -> str:
    """The question carried by a Share button.

    Raises:
        ValueError: not a value this bot made.
    """
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("q"), str):
        raise ValueError("not a share value")
    return str(data["q"])


def answer_message(
    result: SearchResult,
    *,
    answer_id: str,
    asked: tuple[str, str] | None = None,
    shareable: bool = False,
) -> Message:
    """The best entry in full, its links, close alternatives, and feedback buttons.

    ``asked`` is (label, question) to echo the question, e.g. ("You asked", q);
    ``shareable`` adds the "Share in channel" button of ``/faq`` replies.
    """
    best = result.hits[0]
    entry = best.entry
    title = f"*{link(entry['url'], _shorten(entry['title'], TITLE_CHARS))}*"
    blocks: list[Block] = [_section(title)]
    if entry.get("breadcrumb"):
        blocks.append(_context(escape(_shorten(" › ".join(entry["breadcrumb"]), 300))))
    if asked:
        blocks.append(_asked(*asked))
    body, cut = answer_body(entry["blocks"])
    blocks.extend(_section(text) for text in pack_sections(body))
    if cut:
        blocks.append(_context(f"… {link(entry['url'], 'Read the full answer')}"))
    links = _links_text(entry)
    if links:
        blocks.append(_section(links))
    alternatives = _hit_list(result.hits[1 : 1 + MAX_ALTERNATIVES])
    if alternatives:
        blocks.append(_section("*Also see*\n" + alternatives))
    buttons = [
        _button("👍 Helpful", FEEDBACK_UP, feedback_value(answer_id, entry["id"])),
        _button("👎 Not helpful", FEEDBACK_DOWN, feedback_value(answer_id, entry["id"])),
    ]
    if shareable:
        buttons.append(
            _button("Share in channel", SHARE_ACTION, share_value(result.query), "primary")
        )
    blocks.append({"type": "actions", "block_id": "faq_actions", "elements": buttons})
    summary = _shorten(entry["answer"], FALLBACK_CHARS)
    text = f"{escape(_shorten(entry['title'], TITLE_CHARS))}: {escape(summary)} {entry['url']}"
    return {"text": text, "blocks": fit_blocks(blocks)}


def no_answer_message(
    result: SearchResult, *, faq_pages: list[str], asked_label: str = "I looked for"
) -> Message:
    """A polite "no confident answer", with the closest questions and the FAQ's page."""
    question = escape(_shorten(result.query, ECHO_CHARS)) or "(no words to search for)"
    sorry = "Sorry, I couldn't find a confident answer to that in the FAQ."
    blocks: list[Block] = [_section(sorry), _context(f"{escape(asked_label)}: “{question}”")]
    # kb's "none" band means even the closest entries are unrelated: suggest nothing.
    near = result.hits[: MAX_ALTERNATIVES + 1] if result.band != "none" else []
    closest = _hit_list(near)
    if closest:
        blocks.append(_section("*Closest questions*\n" + closest))
    pages = faq_pages[:3]
    if pages:
        where = ", ".join(link(page, page.split("://", 1)[-1]) for page in pages)
        blocks.append(_context(f"Browse the whole FAQ: {where}"))
    titles = "; ".join(hit.entry["title"] for hit in near)
    text = f"No confident answer in the FAQ for “{question}”."
    if titles:
        text += f" Closest: {escape(_shorten(titles, FALLBACK_CHARS))}"
    return {"text": text, "blocks": fit_blocks(blocks)}


def help_message(command: str) -> Message:
    """Usage of the slash command, for ``/faq`` without a question."""
    text = (
        f"Ask the FAQ a question: `{escape(command)} how do I use external modules?`\n"
        "Only you see the answer; its *Share in channel* button posts it for everyone. "
        "You can also mention me in a channel or send me a direct message."
    )
    return {"text": text, "blocks": [_section(text)]}


def error_message() -> Message:
    """What the asker sees when the FAQ cannot be searched right now."""
    text = "Sorry, the FAQ can't be searched right now; the maintainers have been told."
    return {"text": text, "blocks": [_section(text)]}


def feedback_thanks(vote: str, outcome: str) -> str:
    """The note only the voter sees after clicking 👍 or 👎."""
    if outcome == "same":
        return "You already rated this answer; thanks!"
    if vote == "up":
        return "Thanks! Glad it helped." + (" (vote changed)" if outcome == "changed" else "")
    return "Thanks for telling us; the FAQ maintainers will look at this question." + (
        " (vote changed)" if outcome == "changed" else ""
    )


def _asked(label: str, question: str) -> Block:
    return _context(f"{escape(label)}: “{escape(_shorten(question, ECHO_CHARS))}”")


def _hit_list(hits: list[Hit]) -> str:
    return "\n".join(f"• {link(h.entry['url'], h.entry['title'])}" for h in hits)


def _links_text(entry: dict[str, Any]) -> str:
    seen = {entry["url"]}
    lines: list[str] = []
    for item in entry.get("links", []):
        if item["url"] in seen or len(lines) >= MAX_LINKS:
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
