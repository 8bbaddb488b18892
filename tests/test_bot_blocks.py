"""Block Kit builders and question cleaning: pure functions, no Slack involved."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks import (
    ANSWER_CHARS,
    MAX_BLOCKS,
    SECTION_LIMIT,
    answer_body,
    answer_message,
    escape,
    help_message,
    no_answer_message,
    pack_sections,
)
from bot.question import clean_question
from bot.state import Shown, decode
from kb.search.query import SearchResult


def entry(n: int = 0, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"faq/q{n}",
        "title": f"Question {n}?",
        "breadcrumb": ["FAQ"],
        "url": f"https://example.com/faq.html#q{n}",
        "answer": f"Answer {n}.",
        "blocks": [{"kind": "paragraph", "text": "A.", "mrkdwn": "A.", "depth": 0, "marker": ""}],
        "links": [],
    }
    return {**base, **fields}


class FakeHit:
    """What the builders read of a ``kb.search.query.Hit``: its entry."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry


class FakeResult:
    """What the builders read of a ``kb.search.query.SearchResult`` (its constructor is kb's)."""

    def __init__(self, query: str, hits: list[FakeHit], band: str) -> None:
        self.query, self.hits, self.band = query, hits, band
        self.answered = band == "answer"

    previews_closest = SearchResult.previews_closest  # kb's own rule, on these fields


def result(entries: list[dict[str, Any]], band: str = "answer", query: str = "q") -> Any:
    return FakeResult(query, [FakeHit(e) for e in entries], band)


def block(kind: str, md: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "text": md, "mrkdwn": md, "depth": 0, "marker": "", **extra}


def valid(message: dict[str, Any]) -> None:
    assert message["text"].strip()
    assert len(message["blocks"]) <= MAX_BLOCKS
    for b in message["blocks"]:
        Block.parse(b).validate_json()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<@UBOT> how do I  use modules?", "how do I use modules?"),
        ("<@UBOT|faqbot> x", "x"),
        (
            "see <https://a.example/x|the docs> and <https://b.example>",
            "see the docs and https://b.example",
        ),
        ("in <#C123|general> &lt;tag&gt; &amp; co", "in #general <tag> & co"),
        ("<!channel> hi <@U999>", "<!channel> hi <@U999>"),
        ("   ", ""),
    ],
)
def test_clean_question(raw: str, clean: str) -> None:
    assert clean_question(raw, "UBOT") == clean


def test_escape_neutralises_mentions() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_answer_message_layout() -> None:
    best = entry(
        1,
        title="What is <b> & why?",
        links=[{"text": "docs", "url": "https://docs.example/x|y>z"}],
        blocks=[
            block("paragraph", "Use `pip`."),
            block("item", "one", marker="•"),
            block("item", "two", marker="•"),
            block("code", "```\nprint(1)\n```"),
        ],
    )
    message = answer_message(
        result([best, entry(2), entry(3), entry(4), entry(5)]),
        shown=Shown("a1", "q", ("faq/q1", "faq/q2")),
        asked=("You asked", "<!here> why?"),
        shareable=True,
    )
    valid(dict(message))
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["section", "context", "context", "section", "section", "section", "actions"]
    title = message["blocks"][0]["text"]["text"]
    assert title == "*<https://example.com/faq.html#q1|What is &lt;b&gt; &amp; why?>*"
    assert message["blocks"][2]["elements"][0]["text"] == "You asked: “&lt;!here&gt; why?”"
    body = message["blocks"][3]["text"]["text"]
    assert body == "Use `pip`.\n\n• one\n• two\n\n```\nprint(1)\n```"
    assert "<https://docs.example/x%7Cy%3Ez|docs>" in message["blocks"][4]["text"]["text"]
    also = message["blocks"][5]["text"]["text"]
    assert also.count("\n• ") == 3 and "q5" not in also  # at most 3 alternatives
    buttons = message["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == [
        "faq_feedback_up",
        "faq_feedback_down",
        "faq_share",
    ]
    assert decode(buttons[0]["value"]) == Shown("a1", "q", ("faq/q1", "faq/q2"))
    assert buttons[2]["value"] == buttons[0]["value"]
    assert message["text"].startswith("What is &lt;b&gt; &amp; why?: ")


def test_huge_everything_stays_within_limits() -> None:
    sentence = "This sentence is part of a very long answer. "
    huge = entry(
        0,
        title="T" * 5000,
        breadcrumb=["B" * 4000, "C" * 4000],
        answer="x" * 100_000,
        blocks=[block("paragraph", sentence * 200) for _ in range(100)]
        + [block("code", "```\n" + "\n".join("line" * 50 for _ in range(500)) + "\n```")],
        links=[
            {"text": "L" * 500, "url": f"https://e.example/{'p' * 2000}/{i}"} for i in range(200)
        ],
    )
    alternatives = [entry(i, title="Q" * 3000) for i in range(1, 20)]
    message = answer_message(
        result([huge, *alternatives], query="<!channel> " * 1000),
        shown=Shown("a" * 100, "<!channel> " * 1000, tuple(f"faq/q{i}" for i in range(20))),
        asked=("You asked", "<!channel> " * 1000),
        shareable=True,
    )
    valid(dict(message))
    for b in message["blocks"]:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= SECTION_LIMIT
    assert len(message["text"]) < 4000
    assert "<!channel>" not in json.dumps([message["text"], message["blocks"][:-1]])


def test_cut_falls_at_a_sentence_end_never_inside_a_link() -> None:
    long = ("See <https://x.example/a.b|the docs. Really.> now. " * 100).strip()
    pieces, cut = answer_body([block("paragraph", "Intro."), block("paragraph", long)], budget=500)
    assert cut
    text = "\n\n".join(pieces)
    assert len(text) <= 500
    assert text.endswith("now. …")
    assert text.count("<") == text.count(">")


def test_code_block_cut_keeps_its_fence_closed() -> None:
    code = "```\n" + "\n".join(f"x = {i}" for i in range(1000)) + "\n```"
    pieces, cut = answer_body([block("code", code)], budget=300)
    assert cut and len(pieces[0]) <= 300
    assert pieces[0].startswith("```\nx = 0\n") and pieces[0].endswith("\n…\n```")


def test_short_answer_is_not_cut_and_trailing_heading_dropped() -> None:
    pieces, cut = answer_body([block("paragraph", "Short.")])
    assert (pieces, cut) == (["Short."], False)
    blocks = [
        block("paragraph", "a" * 100),
        block("heading", "*Next*"),
        block("paragraph", "b. " * 900),
    ]
    pieces, cut = answer_body(blocks, budget=150)
    assert cut and pieces == ["a" * 100]


def test_pack_sections_respects_the_section_limit() -> None:
    sections = pack_sections(["a" * 2000, "b" * 2000, "c. " * 1500])
    assert len(sections) == 3
    assert all(len(s) <= SECTION_LIMIT for s in sections)
    assert ANSWER_CHARS < SECTION_LIMIT


def test_no_answer_message_escapes_and_suggests() -> None:
    message = no_answer_message(
        result([entry(1), entry(2)], band="suggest", query="<!everyone> spilling"),
        faq_pages=["https://example.com/faq.html"],
    )
    valid(dict(message))
    shown = json.dumps(message, ensure_ascii=False)
    assert "<!everyone>" not in shown and "&lt;!everyone&gt; spilling" in shown
    assert "Closest questions" in shown and "<https://example.com/faq.html|" in shown
    nothing = no_answer_message(result([entry(1)], band="none", query="zzz"), faq_pages=[])
    assert "Closest" not in json.dumps(nothing)


def test_suggestions_preview_the_closest_answer_escaped_and_short() -> None:
    long = "Use <b>workers</b> & " + "more words " * 100
    message = no_answer_message(
        result([entry(1, answer=long)], band="suggest", query="spilling"), faq_pages=[]
    )
    valid(dict(message))
    previews = [
        b["elements"][0]["text"]
        for b in message["blocks"]
        if b["type"] == "context" and b["elements"][0]["text"].startswith("Question 1?: ")
    ]
    assert len(previews) == 1
    assert "Use &lt;b&gt;workers&lt;/b&gt; &amp; more" in previews[0]
    assert previews[0].endswith("…") and len(previews[0]) < 400
    # The first of several close questions is a coin toss: no preview of it, nor of others.
    several = no_answer_message(
        result([entry(1), entry(2)], band="suggest", query="spilling"), faq_pages=[]
    )
    assert "Answer 1." not in json.dumps(several)
    assert "Answer 2." not in json.dumps(several)
    many = no_answer_message(
        result([entry(n) for n in range(1, 6)], band="suggest", query="spilling"), faq_pages=[]
    )
    closest = [b for b in many["blocks"] if "Closest questions" in json.dumps(b)]
    assert json.dumps(closest).count("Question ") == 3  # up to three close questions


def test_help_and_values() -> None:
    assert "/ask how do I" in help_message("/ask")["text"]
    long = Shown("a1", "x" * 5000, tuple("faq/" + "y" * 300 for _ in range(4)), surface="command")
    value = long.encode()
    assert len(value) <= 2000
    assert decode(value).question == "x" * len(decode(value).question)
    assert decode(value).ids == long.ids and decode(value).surface == "command"
    for bad in ("garbage", "[1]", '{"a": "", "q": "x"}', '{"a": "a", "q": 3}'):
        with pytest.raises(ValueError):
            decode(bad)


def test_titles_are_cut_at_word_ends_only_where_block_kit_needs_it() -> None:
    from bot.buttons import suggestion_buttons
    from bot.slack_text import shorten

    long_title = "How do I keep the scheduler alive when " + "many workers reconnect " * 4 + "?"
    assert 80 < len(long_title) < 150
    message = answer_message(
        result([entry(1, title=long_title), entry(2, title=long_title + " again")]),
        shown=Shown("a1", "q", ("faq/q1", "faq/q2")),
    )
    shown = json.dumps(message["blocks"], ensure_ascii=False)
    assert f"|{long_title}>*" in shown and f"|{long_title} again>" in shown  # whole titles
    [button] = suggestion_buttons(Shown("a1", "q", kind="suggest"), [entry(1, title=long_title)])[
        "elements"
    ]
    text = button["text"]["text"]
    assert len(text) <= 75 and text.endswith("…")
    assert long_title.startswith(text[:-1]) and long_title[len(text) - 1] == " "
    assert shorten("x" * 200, 75) == "x" * 74 + "…"  # one enormous word: cut anyway


def test_links_already_in_the_answer_are_not_listed_again_and_bare_urls_stay_bare() -> None:
    best = entry(
        1,
        blocks=[block("paragraph", "See <https://a.example/x|the docs>.")],
        links=[
            {"text": "the docs", "url": "https://a.example/x"},
            {"text": "https://b.example/y", "url": "https://b.example/y"},
            {"text": "", "url": "https://c.example/"},
        ],
    )
    message = answer_message(result([best]), shown=Shown("a1", "q", ("faq/q1",)))
    links = next(
        b["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith("*Links*")
    )
    assert links == "*Links*\n• <https://b.example/y>\n• <https://c.example/>"
