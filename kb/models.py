"""Records that cross a boundary: entries in the index file and results in ``--json`` output."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Link(_Record):
    """A hyperlink found in an answer, resolved to an absolute URL."""

    text: str
    url: str


class Block(_Record):
    """One block of an answer, rendered once at ingest for every output."""

    kind: Literal["paragraph", "code", "item", "heading", "quote"]
    text: str = Field(description="plain text (code keeps its lines and indentation)")
    mrkdwn: str = Field(description="the same block in Slack mrkdwn")
    depth: int = Field(0, description="nesting level of lists and quotes")
    marker: str = Field("", description="list marker of an item: '•', '1.', 'a)' …")


class SourceRef(_Record):
    """Where an entry was written."""

    path: str
    line: int


class Entry(_Record):
    """One FAQ question and its answer."""

    id: str = Field(description="'<source name>/<section id>', stable across rebuilds")
    collection: str = Field(description="name of the source the entry comes from")
    title: str = Field(description="the question, as displayed")
    source_title: str = Field(description="the title line exactly as written in the rst")
    breadcrumb: list[str] = Field(description="titles of the enclosing sections, outermost first")
    url: str = Field(description="deep link: published page URL + '#' + section id")
    anchor: str = Field(description="section id as docutils and Sphinx emit it")
    answer: str = Field(description="plain text of the answer")
    blocks: list[Block]
    links: list[Link]
    source: SourceRef
    parent: str | None = Field(None, description="id of the question this is a sub-part of")
    aliases: list[str] = Field(default_factory=list, description="maintainers' alternate wordings")


class TermWeight(_Record):
    """One matched term's contribution to a result's score (``--explain``)."""

    term: str
    field: str
    contribution: float


class Explanation(_Record):
    """Why a result ranked where it did (``--explain``)."""

    coverage: float = Field(description="share of the question's term weight the entry holds")
    title_coverage: float = Field(description="share of the entry's title the question holds")
    share: float = Field(0.0, description="share of the ranking choice (kb.search.hybrid) it holds")
    terms: list[TermWeight]
    similarity: float | None = Field(
        None, description="closeness in meaning to the question (with semantic ranking only)"
    )


class Result(_Record):
    """One ranked answer in ``faq-search --json`` output."""

    id: str
    title: str
    breadcrumb: list[str]
    url: str
    score: float
    answer: str
    links: list[Link]
    source: SourceRef
    explain: Explanation | None = None


class SearchOutput(_Record):
    """The whole ``faq-search --json`` object for one question."""

    query: str
    answered: bool
    results: list[Result]
    band: Literal["answer", "suggest", "none"] | None = None  # with --explain
    confidence: float | None = None  # with --explain: how likely the best result is right
    tokens: list[str] | None = None  # with --explain
