"""Answer a question from a loaded index: ranked entries and whether the best one answers it."""

from __future__ import annotations

from typing import Any

from kb.index import IndexReader
from kb.text import tokenize

# A question longer than this is cut: nobody's question needs more, and a pasted megabyte
# must not cost seconds. Tracebacks are cut to their last lines by the normaliser first.
MAX_QUESTION_CHARS = 4000
MAX_QUERY_TOKENS = 128
# The share of the question's weight (idf of its terms; unknown words weigh most) that the
# best entry must contain to count as an answer; below it, results are only suggestions.
ANSWER_COVERAGE = 0.5


# Plain classes, not dataclasses: ``dataclasses`` imports ``inspect``, a cost every cold
# ``faq-search`` would pay.
class TermMatch:
    """One query term's part in a result's score, for ``--explain``."""

    __slots__ = ("contribution", "field", "term")

    def __init__(self, term: str, field: str, contribution: float) -> None:
        self.term, self.field, self.contribution = term, field, contribution


class Hit:
    """One ranked entry: its stored record, score and the share of the question it covers."""

    __slots__ = ("coverage", "entry", "matches", "number", "score")

    def __init__(self, number: int, entry: dict[str, Any], score: float, coverage: float) -> None:
        self.number, self.entry, self.score, self.coverage = number, entry, score, coverage
        self.matches: list[TermMatch] = []


class SearchResult:
    """The ranked answers to one question, and whether the best one answers it."""

    __slots__ = ("answered", "band", "hits", "query", "tokens")

    def __init__(self, query: str, tokens: list[str], hits: list[Hit], band: str) -> None:
        self.query, self.tokens, self.hits, self.band = query, tokens, hits, band
        self.answered = band == "answer"  # band: "answer", "suggest" or "none"


def _query_tokens(question: str) -> list[str]:
    return tokenize(question[:MAX_QUESTION_CHARS])[:MAX_QUERY_TOKENS]


def score_all(
    index: IndexReader, tokens: list[str]
) -> tuple[float, dict[int, float], dict[int, float], float]:
    """Score every entry that shares a term with ``tokens``.

    Returns (score every entry gets, extra score per candidate, matched weight per
    candidate, total weight of the question). An entry's score is the first plus its
    extra; it equals the field-weighted sum of rank-bm25 ``BM25Plus.get_scores``.
    """
    base = 0.0
    extra: dict[int, float] = {}
    covered: dict[int, float] = {}
    total = 0.0
    fields = index.fields
    for term in tokens:
        info = index.terms.get(term)
        if info is None:
            total += index.unknown_weight
            continue
        weight = info[0]
        total += weight
        seen: set[int] = set()
        for at in range(1, len(info), 4):
            fld = fields[int(info[at])]
            base += fld.weight * info[at + 1] * fld.delta
            docs, extras = index.postings(int(info[at + 2]), int(info[at + 3]))
            w = fld.weight
            for doc, x in zip(docs, extras, strict=True):
                extra[doc] = extra.get(doc, 0.0) + w * x
            seen.update(docs)
        for doc in seen:
            covered[doc] = covered.get(doc, 0.0) + weight
    return base, extra, covered, total


def field_scores(index: IndexReader, field_name: str, tokens: list[str]) -> list[float]:
    """Every entry's BM25Plus score in one field, as rank-bm25's ``get_scores`` gives it."""
    field_no = next(i for i, f in enumerate(index.fields) if f.name == field_name)
    fld = index.fields[field_no]
    scores = [0.0] * len(index)
    for term in tokens:
        info = index.terms.get(term)
        if info is None:
            continue
        for at in range(1, len(info), 4):
            if int(info[at]) != field_no:
                continue
            idf = info[at + 1]
            docs, extras = index.postings(int(info[at + 2]), int(info[at + 3]))
            scores = [s + idf * fld.delta for s in scores]
            for doc, x in zip(docs, extras, strict=True):
                scores[doc] += x
    return scores


def search(index: IndexReader, question: str, *, k: int = 3, explain: bool = False) -> SearchResult:
    """Rank the entries for ``question``; the best first, then up to ``k - 1`` alternatives.

    A sub-part and the question it belongs to are never both listed: the better-ranked wins.
    """
    tokens = _query_tokens(question)
    base, extra, covered, total = score_all(index, tokens)
    ranked = sorted(extra, key=lambda doc: (-extra[doc], doc))
    hits: list[Hit] = []
    taken: set[int] = set()
    for doc in ranked:
        if len(hits) >= k:
            break
        if _related(index, doc, taken):
            continue
        taken.add(doc)
        coverage = covered.get(doc, 0.0) / total if total else 0.0
        hit = Hit(doc, index.entry(doc), base + extra[doc], coverage)
        if explain:
            hit.matches = _explain(index, doc, tokens)
        hits.append(hit)
    if not hits:
        band = "none"
    elif hits[0].coverage >= ANSWER_COVERAGE:
        band = "answer"
    else:
        band = "suggest"
    return SearchResult(question, tokens, hits, band)


def _related(index: IndexReader, doc: int, taken: set[int]) -> bool:
    """Whether ``doc`` is an ancestor or a descendant of an entry already taken."""
    node = index.parents[doc]
    while node >= 0:
        if node in taken:
            return True
        node = index.parents[node]
    for other in taken:
        node = index.parents[other]
        while node >= 0:
            if node == doc:
                return True
            node = index.parents[node]
    return False


def _explain(index: IndexReader, doc: int, tokens: list[str]) -> list[TermMatch]:
    matches = []
    for term in dict.fromkeys(tokens):
        info = index.terms.get(term)
        if info is None:
            continue
        count = tokens.count(term)
        for at in range(1, len(info), 4):
            fld = index.fields[int(info[at])]
            docs, extras = index.postings(int(info[at + 2]), int(info[at + 3]))
            for d, x in zip(docs, extras, strict=True):
                if d == doc:
                    matches.append(TermMatch(term, fld.name, count * fld.weight * x))
    matches.sort(key=lambda m: -m.contribution)
    return matches
