"""What the ranking and the confidence decision know about a question's candidates.

One row of evidence per candidate entry: how much of the question it holds (lexical
coverage), its BM25 score relative to the best, how much of its own question the user
asked (title coverage), and, with semantic ranking, how close in meaning the question is
to the entry's wordings and to its answer, and how generic the entry is in its FAQ.
``kb.search.hybrid`` turns rows into a ranking and a
band; ``eval/cross_faq.py`` collects the same rows to fit both.
"""

from __future__ import annotations

import itertools

from kb.index.reader import IndexReader
from kb.search.query import Scored, title_coverage

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any

# How many candidates each signal nominates: BM25's best and the closest in meaning.
LEXICAL_CANDIDATES = 20
SEMANTIC_CANDIDATES = 20

# The columns of a candidate's row (and of ``Candidate.row``).
COLUMNS = (
    "coverage",
    "lexical",
    "title",
    "similarity",
    "answer_similarity",
    "similarity_z",
    "answer_similarity_z",
    "centrality",
    "answer_centrality",
)


class Candidate:
    """One candidate entry and its evidence."""

    __slots__ = (
        "answer_centrality",
        "answer_similarity",
        "answer_similarity_z",
        "centrality",
        "coverage",
        "lexical",
        "number",
        "similarity",
        "similarity_z",
        "title",
    )

    def __init__(self, number: int) -> None:
        self.number = number
        self.coverage = 0.0  # share of the question's weight the entry holds
        self.lexical = 0.0  # BM25 score above the floor, over the best candidate's
        self.title = 0.0  # share of the entry's question (or an alias) the user asked
        self.similarity = 0.0  # best cosine of the question to the entry's wordings
        self.answer_similarity = 0.0  # best cosine to the entry's answer passages
        # How far each similarity stands out from the FAQ's other entries (in standard
        # deviations): a closeness that holds whichever FAQ and model scale it is.
        self.similarity_z = 0.0
        self.answer_similarity_z = 0.0
        # How close its wordings and its answer are to the middle of the FAQ's: a generic
        # entry (e.g. how to get help) is near many questions it does not answer.
        self.centrality = 0.0
        self.answer_centrality = 0.0

    def row(self) -> tuple[float, ...]:
        """The evidence in ``COLUMNS`` order."""
        return (
            self.coverage,
            self.lexical,
            self.title,
            self.similarity,
            self.answer_similarity,
            self.similarity_z,
            self.answer_similarity_z,
            self.centrality,
            self.answer_centrality,
        )


def candidates(
    index: IndexReader,
    scored: Scored,
    tokens: list[str],
    sims: tuple[Any, Any, Any, Any] | None = None,
    *,
    lexical: int = LEXICAL_CANDIDATES,
    semantic: int = SEMANTIC_CANDIDATES,
    titles: int | None = None,
) -> list[Candidate]:
    """BM25's ``lexical`` best and (with ``sims``, ``SemanticRanker.similarities``) the
    ``semantic`` closest, with evidence.

    Title coverage reads and tokenizes the entry's wordings: ``titles`` limits it to the
    first candidates (the lexical ranking only reads its best one's), None to all.
    """
    numbers = list(itertools.islice(scored.ranked(), lexical))
    spread: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.0, 1.0))  # mean, deviation
    if sims is not None:
        import numpy as np

        wording, answer = sims[0], sims[1]
        closest = np.argsort(-np.maximum(wording, answer), kind="stable")[:semantic]
        numbers += [int(n) for n in closest if int(n) not in numbers]
        spread = tuple((float(s.mean()), float(s.std()) or 1.0) for s in (wording, answer))
    best = max((scored.score(n) - scored.base for n in numbers), default=0.0)
    found: list[Candidate] = []
    for number in numbers:
        c = Candidate(number)
        c.coverage = scored.coverage(number)
        excess = scored.score(number) - scored.base
        c.lexical = excess / best if best > 0 else 0.0
        if c.coverage and (titles is None or len(found) < titles):
            c.title = title_coverage(index, index.entry(number), tokens)
        if sims is not None:
            c.similarity = float(sims[0][number])
            c.answer_similarity = float(sims[1][number])
            c.similarity_z = (c.similarity - spread[0][0]) / spread[0][1]
            c.answer_similarity_z = (c.answer_similarity - spread[1][0]) / spread[1][1]
            c.centrality = float(sims[2][number])
            c.answer_centrality = float(sims[3][number])
        found.append(c)
    return found
