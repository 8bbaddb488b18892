"""The next step when the FAQ has no answer: ping a person or group, or ask a help channel.

``FAQ_ESCALATE_TO`` names it: a user group (``<!subteam^S123>`` or ``S123``), a person
(``<@U123>`` or ``U123``), or a channel id (``C123``, ``<#C123>``) to post the question in,
with a link back to the thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GROUP_RE = re.compile(r"^(?:<!subteam\^)?(S[A-Z0-9]{2,})(?:\|[^<>]*)?>?$")
_USER_RE = re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>?$")
_CHANNEL_RE = re.compile(r"^(?:<#)?([CG][A-Z0-9]{2,})(?:\|[^<>]*)?>?$")


@dataclass(frozen=True)
class Escalation:
    """Who to ask: ``mention`` (mrkdwn that pings them) or ``channel`` (a channel id)."""

    mention: str = ""
    channel: str = ""

    @property
    def label(self) -> str:
        """The button's text."""
        return "Ask in the help channel" if self.channel else "Ask a person"


def parse_escalation(value: str) -> Escalation | None:
    """Read ``FAQ_ESCALATE_TO``; None when empty.

    Raises:
        ValueError: not a user group, person or channel id.
    """
    value = value.strip()
    if not value:
        return None
    if group := _GROUP_RE.match(value):
        return Escalation(mention=f"<!subteam^{group.group(1)}>")
    if user := _USER_RE.match(value):
        return Escalation(mention=f"<@{user.group(1)}>")
    if channel := _CHANNEL_RE.match(value):
        return Escalation(channel=channel.group(1))
    raise ValueError(
        "FAQ_ESCALATE_TO must be a user group (<!subteam^S123> or S123), a person "
        f"(<@U123> or U123) or a channel id (C123), got {value!r}"
    )
