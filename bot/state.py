"""What a message showed, carried in its buttons' values so a click can redraw it exactly.

Slack sends a button's ``value`` back on every click: the answer's id, the question and
the entries shown travel with the message itself, so any worker can redraw or share it
without a new search and without a lookup table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Literal

# Block Kit's limit for a button's value.
VALUE_LIMIT = 2000
# As much of the question as the message echoes (bot.blocks.ECHO_CHARS): the values of
# up to seven buttons count towards Slack's total message size.
QUESTION_CHARS = 300

Kind = Literal["answer", "suggest", "none"]


@dataclass(frozen=True)
class Shown:
    """One message's content: which answer, the question, the entries shown (best first).

    ``kind`` is "answer" (``ids[0]`` answers), "suggest" (``ids`` are the closest
    questions) or "none"; ``pick`` is the entry a suggestion button stands for.
    """

    answer_id: str
    question: str
    ids: tuple[str, ...] = ()
    kind: Kind = "answer"
    surface: str = "mention"
    pick: str = ""
    echo: bool = False  # show the question above the answer ("You asked: …")
    by: str = ""  # who shared it in the channel (a Slack user id)

    def picked(self) -> Shown:
        """The answer shown once a suggestion was chosen: that entry first, then the rest."""
        rest = tuple(i for i in self.ids if i != self.pick)
        return replace(self, ids=(self.pick, *rest), kind="answer", pick="", echo=True)

    def encode(self) -> str:
        """The value for a button: compact JSON within Block Kit's 2,000 characters."""
        question = self.question[:QUESTION_CHARS]
        while True:
            data: dict[str, object] = {
                "a": self.answer_id,
                "q": question,
                "e": list(self.ids),
                "k": self.kind,
            }
            if self.surface != "mention":
                data["s"] = self.surface
            if self.pick:
                data["p"] = self.pick
            if self.echo:
                data["x"] = 1
            if self.by:
                data["b"] = self.by
            value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            if len(value) <= VALUE_LIMIT or not question:
                return value[:VALUE_LIMIT]
            question = question[: len(question) // 2]


def decode(value: str) -> Shown:
    """The ``Shown`` a button carries.

    Raises:
        ValueError: not a value this bot made.
    """
    try:
        data = json.loads(value)
    except ValueError:
        raise ValueError(f"not a button value of this bot: {value[:40]!r}") from None
    if not isinstance(data, dict):
        raise ValueError("not a button value of this bot")
    answer_id, question, ids = data.get("a"), data.get("q"), data.get("e", [])
    kind, surface, pick = data.get("k", "answer"), data.get("s", "mention"), data.get("p", "")
    by = data.get("b", "")
    if (
        not isinstance(answer_id, str)
        or not answer_id
        or not isinstance(question, str)
        or not isinstance(ids, list)
        or not all(isinstance(i, str) for i in ids)
        or kind not in ("answer", "suggest", "none")
        or not isinstance(surface, str)
        or not isinstance(pick, str)
        or not isinstance(by, str)
    ):
        raise ValueError("not a button value of this bot")
    return Shown(answer_id, question, tuple(ids), kind, surface, pick, bool(data.get("x")), by)
