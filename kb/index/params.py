"""Ranking constants of the index, and its parsing rules: an index built with other values is
rebuilt."""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any

# BM25Plus, not BM25Okapi: Okapi gives a term found in half of a small FAQ's entries an
# idf of zero (and negative ones are floored), so "worker" in a ten-entry FAQ would count
# for nothing. BM25Plus's idf, log((N+1)/df), is always positive.
# The constants below were chosen by eval/tune.py on the tune split of eval/questions.jsonl
# (Recall@1 0.899 there; the usual k1=1.5, b=0.75 with one title field gave 0.76): the
# question's own words and the maintainers' alternate wordings count twice, the sub-part's
# parent question and categories (the breadcrumb) and the answer once; titles are short,
# so a milder length normalisation (b) suits them.
K1, B, DELTA = 1.2, 0.5, 1.0
FIELD_WEIGHTS = {"title": 2.0, "aliases": 2.0, "context": 1.0, "answer": 1.0}
# A question word the FAQ never uses weighs this share of the rarest word's weight when
# judging whether the best entry answers the question (a typo should not sink an answer;
# a question made of words the FAQ never uses should not be "answered").
UNKNOWN_SHARE = 0.75


# The rules that turn a source into entries (kb.ingest.parse): bump it when they change
# which entries a source gives, so that an index built before is parsed again, not reused
# (2: questions set as bold or "Q:" paragraphs, rubrics, topics, admonitions or list items;
# a definition list's whole questions keep their own titles; 3: questions set as the
# titles of dropdowns, tabs and other titled containers, and inside containers; "Q:" and
# "Answer:" marks dropped from section entries; options of the directives shown as text
# read as options; absolute :doc: targets linked below the Sphinx project's root;
# code-tab, prompt and code-cell shown as code; numbered "Q1." marks; glossary known;
# 4: a question-titled section holding only its sub-questions (and rules between them) is
# a group, not an entry; a bold "**Answer**:" mark dropped too; one question an
# introduction asks and answers, both marked, is an entry; questions in ":Q:"/":A:" fields
# and in the rows of a table of questions; substitutions defined outside the page read as
# their names; Sphinx's todo, cssclass, graphviz … show nothing, productionlist is code;
# `!name` and `~pkg.name` in the default role read as Sphinx shows them; sub-sections most
# of which ask are questions of their own, not parts of the answer above them; a bold
# question broken by inline code is a heading; a reference to a target the file lacks reads
# as its text, not its markup).
INGEST_RULES = 4


def params() -> dict[str, Any]:
    """The constants as stored in (and compared with) an index header."""
    return {
        "k1": K1,
        "b": B,
        "delta": DELTA,
        "fields": FIELD_WEIGHTS,
        "unknown": UNKNOWN_SHARE,
        "ingest": INGEST_RULES,
    }
