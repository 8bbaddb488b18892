"""The text patterns of a question's path, spelled out without ``re``.

Importing ``re`` costs a cold ``faq-search`` ~10 ms (it pulls in ``enum``, ``functools``
and ``collections``): two thirds of the budget the whole query has above the
interpreter's own start-up. A question is short, so scanning it in Python costs
microseconds. Each function here either gives exactly what its pattern gives (the
``*_like`` scanners) or answers a necessary condition for the pattern to match (the
``may_*`` tests: False means it surely cannot, so the regex is skipped). Both kinds are
proven equal to the patterns on every line of the corpora and on fuzz
(``tests/test_text_equivalence.py``). Long texts and processes that have ``re`` loaded
already (an index build, the bot) use the patterns themselves: ``use_patterns``.
"""

from __future__ import annotations

import sys

# Past this many characters a text is scanned by the compiled pattern: an index build's
# answers, a pasted traceback. A question is a line or two.
SHORT = 400
# The characters of the tokenizer's operator and quoted-word patterns (``kb.analysis.
# tokens`` builds the patterns from them).
OPS = "-+*/%=<>!&|^~@:"
LONE_OPS = "/%@^~|&*"  # an operator matched on its own
QUOTE_OPENERS = "`\"'‘“"
QUOTE_CLOSERS = "`\"'’”"
_BEFORE_NO_OP = ")]}" + OPS  # what may not come just before an operator (with \w)
_AFTER_NO_OP = "([{" + OPS  # … nor just after it


def use_patterns(text: str) -> bool:
    """Whether ``text`` is better matched by the compiled patterns than scanned here."""
    return len(text) > SHORT or "re" in sys.modules


def is_word(char: str) -> bool:
    """Whether ``char`` is what ``\\w`` matches in a ``str`` pattern."""
    return char.isalnum() or char == "_"


def runs_like(text: str) -> list[str]:
    """What the tokenizer's run pattern finds (``kb.analysis.tokens._RUN``): word
    characters, maybe an apostrophe and more, then any joined by ``.``, ``-`` or ``:``."""
    found: list[str] = []
    at, end = 0, len(text)
    while at < end:
        if not is_word(text[at]):
            at += 1
            continue
        start = at
        at = _word_end(text, at)
        if at + 1 < end and text[at] in "'’" and is_word(text[at + 1]):
            at = _word_end(text, at + 1)
        while at + 1 < end and text[at] in ".-:" and is_word(text[at + 1]):
            at = _word_end(text, at + 1)
        found.append(text[start:at])
    return found


def _word_end(text: str, at: int) -> int:
    """Where the run of word characters starting at ``at`` ends."""
    end = len(text)
    while at < end and is_word(text[at]):
        at += 1
    return at


def _upper(char: str) -> bool:
    return "A" <= char <= "Z"


def _lower(char: str) -> bool:
    return "a" <= char <= "z"


def camel_like(piece: str) -> list[str]:
    """``re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\\d+", piece)``: CamelCase parts."""
    found: list[str] = []
    at, end = 0, len(piece)
    while at < end:
        char = piece[at]
        if _upper(char):
            stop = at + 1
            while stop < end and _upper(piece[stop]):
                stop += 1
            if stop < end and _lower(piece[stop]):
                stop -= 1  # the last capital begins a word: "HTTPServer" is HTTP, Server
            if stop > at:
                found.append(piece[at:stop])
                at = stop
                continue
            stop = at + 1  # one capital, then lower case: "Server"
        elif _lower(char):
            stop = at
        elif char.isdecimal():
            stop = at + 1
            while stop < end and piece[stop].isdecimal():
                stop += 1
            found.append(piece[at:stop])
            at = stop
            continue
        else:
            at += 1
            continue
        while stop < end and _lower(piece[stop]):
            stop += 1
        found.append(piece[at:stop])
        at = stop
    return found


def may_have_operator(text: str) -> bool:
    """False if the tokenizer's operator pattern surely finds nothing in ``text``.

    The pattern finds two or three operator characters in a row, or one of ``/%@^~|&*``
    standing alone; either way not after a word character or a closing bracket.
    """
    end = len(text)
    for at, char in enumerate(text):
        if char not in OPS:
            continue
        if at and (is_word(text[at - 1]) or text[at - 1] in _BEFORE_NO_OP):
            continue
        if at + 1 < end and text[at + 1] in OPS:
            return True
        if char in LONE_OPS and (
            at + 1 == end or not (is_word(text[at + 1]) or text[at + 1] in _AFTER_NO_OP)
        ):
            return True
    return False


def may_have_quoted(text: str) -> bool:
    """False if no short quoted word (``"in"``, ```is```) can be in ``text``: that needs
    an opening and a closing quote character, two in all."""
    count = 0
    for char in text:
        if char in QUOTE_OPENERS or char in QUOTE_CLOSERS:
            count += 1
            if count == 2:
                return True
    return False


def may_have_long_number(text: str) -> bool:
    """False if ``\\b\\d{6,}\\b`` surely finds nothing: it needs six digits in a row."""
    run = 0
    for char in text:
        if char.isdecimal():
            run += 1
            if run == 6:
                return True
        else:
            run = 0
    return False


def may_have_timestamp(text: str) -> bool:
    """False if no timestamp ("2024-01-02 10:11") can be in ``text``: one needs a digit
    just before a dash, and a colon."""
    if ":" not in text:
        return False
    at = text.find("-", 1)
    while at > 0:
        if text[at - 1].isdecimal():
            return True
        at = text.find("-", at + 1)
    return False


def may_have_leading_tag(text: str) -> bool:
    """False if no issue tag ("[Bug]", "(question)", "DOC:") can open ``text``.

    A tag opens with a bracket or one of the tag words, which start with these letters;
    a word tag ends with a colon. Non-ASCII may match a letter case-insensitively.
    """
    start = text.lstrip()[:1]
    if start in ("[", "("):
        return True
    return ":" in text and (not start.isascii() or start.lower() in "abdefhmpq")


def may_have_trailing_tag(text: str) -> bool:
    """False if no tag ("[closed]", "(#123)") can end ``text``."""
    return text.rstrip().endswith(("]", ")"))


def ascii_words(text: str) -> list[str]:
    """``re.findall("[a-z]+", text)``: the runs of ASCII lower-case letters."""
    found: list[str] = []
    start = -1
    for at, char in enumerate(text):
        if "a" <= char <= "z":
            if start < 0:
                start = at
        elif start >= 0:
            found.append(text[start:at])
            start = -1
    if start >= 0:
        found.append(text[start:])
    return found
