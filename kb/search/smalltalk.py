"""Recognise small talk ("hi", "thanks", "help", "?") so it gets a short reply, not a search."""

from __future__ import annotations

from kb.analysis.scan import ascii_words

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Literal

    SmallTalk = Literal["greeting", "help", "thanks", "bye"]


# Whole messages only: "hi" is small talk, "hi, how do I raise ulimit?" is a question.
_PHRASES: dict[SmallTalk, frozenset[str]] = {
    "greeting": frozenset(
        [
            "hi",
            "hello",
            "hey",
            "hiya",
            "howdy",
            "yo",
            "hola",
            "morning",
            "evening",
            "sup",
            "good morning",
            "good afternoon",
            "good evening",
            "hi there",
            "hello there",
            "hey there",
            "whats up",
            "how are you",
        ]
    ),
    "help": frozenset(
        [
            "help",
            "usage",
            "what can you do",
            "what do you do",
            "how does this work",
            "how do i use you",
            "how do i use this",
            "what do you know",
            "who are you",
            "commands",
        ]
    ),
    "thanks": frozenset(
        [
            "thanks",
            "thx",
            "ty",
            "thanx",
            "cheers",
            "kudos",
            "thank you",
            "thanks a lot",
            "thank you so much",
            "many thanks",
            "thanks so much",
            "great thanks",
            "ok thanks",
            "ok thank you",
            "perfect thanks",
            "awesome thanks",
            "that helped",
            "that helps",
            "got it thanks",
            "got it",
            "ok",
            "okay",
            "cool",
            "great",
            "nice",
            "perfect",
            "awesome",
        ]
    ),
    "bye": frozenset(["bye", "goodbye", "see you", "see ya", "later", "cya"]),
}
# Words that may trail any of those without making it a question ("thanks bot!").
_TRAILERS = {"bot", "faqbot", "faq", "again", "everyone", "all", "folks", "team"}
# Words that may lead any of those ("ok, got it", "oh thanks").
_FILLERS = {"ok", "okay", "oh", "ah", "well", "great", "cool"}
_EMOJI = r":[a-z0-9_+-]+:"  # Slack's emoji codes, e.g. :wave:


def small_talk(question: str) -> SmallTalk | None:
    """The kind of small talk ``question`` is, or None if it should be searched.

    An empty or punctuation-only message (``"?"``) asks for help.
    """
    text = question.lower()
    if text.count(":") > 1:  # an emoji code needs two; re is imported only then
        import re

        text = re.sub(_EMOJI, " ", text)
    text = text.replace("'", "").replace("’", "")
    words = ascii_words(text)
    if not words:
        return "help" if not any(ch.isdigit() for ch in text) else None
    while len(words) > 1 and words[-1] in _TRAILERS:
        words.pop()
    while len(words) > 1 and words[0] in _FILLERS:
        words.pop(0)
    phrase = " ".join(words)
    for kind, phrases in _PHRASES.items():
        if phrase in phrases:
            return kind
    return None
