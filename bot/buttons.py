"""The interactive parts of a message: feedback, what was wrong, suggestions, next step.

Every button carries the message's ``Shown`` state (bot.state), so a click can redraw
the message in place with the vote shown, never searching again.

Plain buttons, not Slack's native ``feedback_buttons`` (in a ``context_actions`` block):
those only toggle their own look, while here a vote redraws the message with who voted,
and a 👎 asks what was wrong and offers the next step in the same place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from bot.slack_text import Block, button, context
from bot.state import Shown

FEEDBACK_UP = "faq_feedback_up"
FEEDBACK_DOWN = "faq_feedback_down"
FEEDBACK_ACTION_RE = re.compile(r"^faq_feedback_(up|down)$")
SHARE_ACTION = "faq_share"
REASON_ACTION_RE = re.compile(r"^faq_reason_(wrong|outdated|unanswered)$")
PICK_ACTION_RE = re.compile(r"^faq_pick_\d+$")
ESCALATE_ACTION = "faq_escalate"
# What a 👎 can say was wrong, in the order shown.
REASONS = {
    "wrong": "Wrong answer",
    "outdated": "Outdated",
    "unanswered": "Didn't answer my question",
}
_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Feedback:
    """The vote a message shows: who gave it, 👍 or 👎, and for 👎 what was wrong."""

    vote: str
    voter: str = ""
    reason: str = ""


def who(user: str) -> str:
    """A Slack user id as a mention (ids only: anything else is shown as "someone")."""
    return f"<@{user}>" if _USER_RE.match(user) else "Someone"


def feedback_blocks(
    shown: Shown,
    feedback: Feedback | None,
    *,
    shareable: bool = False,
    escalate_label: str | None = None,
) -> list[Block]:
    """👍/👎 (the vote given, if any, highlighted and still changeable), Share, and after a
    👎 the question of what was wrong and the next step."""
    value = shown.encode()
    vote = feedback.vote if feedback else ""
    up = button(
        "👍 Helpful ✓" if vote == "up" else "👍 Helpful",
        FEEDBACK_UP,
        value,
        "primary" if vote == "up" else None,
    )
    down = button(
        "👎 Not helpful ✓" if vote == "down" else "👎 Not helpful",
        FEEDBACK_DOWN,
        value,
        "danger" if vote == "down" else None,
    )
    elements = [up, down]
    if shareable:
        elements.append(button("Share in channel", SHARE_ACTION, value, "primary"))
    blocks: list[Block] = [{"type": "actions", "block_id": "faq_actions", "elements": elements}]
    if feedback is None:
        return blocks
    voter = who(feedback.voter)
    if feedback.vote == "up":
        blocks.append(context(f"{voter} found this helpful. Thanks! (Click 👎 to change it.)"))
        return blocks
    if feedback.reason:
        said = REASONS.get(feedback.reason, feedback.reason).lower()
        blocks.append(
            context(
                f"{voter} said this didn't help: _{said}_. "
                "Thanks, the FAQ maintainers will look at it."
            )
        )
        if escalate_label:
            blocks.append(escalate_actions(shown, escalate_label))
        return blocks
    blocks.append(context(f"{voter} said this didn't help. What was wrong?"))
    reasons = [button(label, f"faq_reason_{key}", value) for key, label in REASONS.items()]
    if escalate_label:
        reasons.append(button(escalate_label, ESCALATE_ACTION, value, "primary"))
    blocks.append({"type": "actions", "block_id": "faq_reasons", "elements": reasons})
    return blocks


def suggestion_buttons(shown: Shown, entries: list[dict[str, Any]]) -> Block:
    """One button per close question; a click shows that entry's answer in place."""
    elements = [
        button(entry["title"], f"faq_pick_{n}", replace(shown, pick=entry["id"]).encode())
        for n, entry in enumerate(entries)
    ]
    return {"type": "actions", "block_id": "faq_suggestions", "elements": elements}


def escalate_actions(shown: Shown, label: str) -> Block:
    """The configured next step (ask a person or a help channel) as one button."""
    return {
        "type": "actions",
        "block_id": "faq_next",
        "elements": [button(label, ESCALATE_ACTION, shown.encode())],
    }
