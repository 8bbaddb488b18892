"""Turn the text of a Slack message or command into the plain question to search for."""

from __future__ import annotations

import re

# Slack's markup in message text: <@U123>, <@U123|name>, <#C123|name>, <!here>, <url|label>.
_MARKUP_RE = re.compile(r"<([^<>]*)>")


def clean_question(text: str, bot_user_id: str | None = None) -> str:
    """The question a user typed: the bot's own mention removed, Slack's escaping undone.

    Links become their label (or URL), channel references ``#name``; other mentions stay
    as written (the replies escape them, so they never ping). Whitespace is collapsed.
    """

    def plain(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if bot_user_id and target == f"@{bot_user_id}":
            return " "
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith(("@", "!")):
            return match.group(0)
        return label or target

    text = _MARKUP_RE.sub(plain, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


_MENTION_RE = re.compile(r"<[@!][^<>]*>")


def searchable(question: str) -> str:
    """The question without Slack mentions (``<@U123>``, ``<!channel>``): they are shown
    back to the asker as written, but are not what the question is about."""
    return " ".join(_MENTION_RE.sub(" ", question).split()) or question
