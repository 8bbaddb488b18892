"""The App Home tab: what the bot knows (its FAQs, sizes, last rebuild) and how to ask it."""

from __future__ import annotations

from typing import Any

from bot.slack_text import HEADER_LIMIT, Block, context, escape, link, section, shorten
from kb.maintain.overview import Overview

MAX_SOURCES_LISTED = 20


def home_view(about: Overview, command: str) -> dict[str, Any]:
    """The ``views.publish`` view for the Home tab."""
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": shorten("FAQ Bot", HEADER_LIMIT)},
        },
        section(
            f"I answer questions from *{len(about.sources) or 1} FAQ"
            f"{'s' if len(about.sources) > 1 else ''}* ({about.entries} questions in all), "
            "with the best answer, a link to its exact section and close alternatives."
        ),
    ]
    lines = [
        f"• {link(s.url, s.name) if s.url.startswith('http') else escape(s.name)}: "
        f"{s.entries} question{'s' if s.entries != 1 else ''}"
        for s in about.sources[:MAX_SOURCES_LISTED]
    ]
    if len(about.sources) > MAX_SOURCES_LISTED:
        lines.append(f"• … and {len(about.sources) - MAX_SOURCES_LISTED} more")
    if lines:
        blocks.append(section("*What I know*\n" + "\n".join(lines)))
    if about.built_at is not None:
        when = int(about.built_at)
        blocks.append(
            context(
                f"Last rebuilt <!date^{when}^{{date_short_pretty}} at {{time}}|{when}>; "
                "I rebuild by myself whenever an FAQ changes."
            )
        )
    blocks.append({"type": "divider"})
    blocks.append(
        section(
            "*How to ask*\n"
            "• Mention me in a channel: I answer in a thread, and answer your follow-ups "
            "there too.\n"
            "• Send me a direct message (the *Messages* tab).\n"
            f"• Type `{escape(command)} your question`: only you see the answer, and "
            "*Share in channel* posts it for everyone.\n"
            "Vote 👍 or 👎 on an answer: the FAQ's maintainers read the votes."
        )
    )
    if about.examples:
        examples = "\n".join(f"• {escape(shorten(title, 200))}" for title in about.examples)
        blocks.append(section("*Try asking*\n" + examples))
    return {"type": "home", "blocks": blocks}
