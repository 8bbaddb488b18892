"""Answer a question from a loaded index: ranked entries and whether the best one answers it."""

from __future__ import annotations

from kb.analysis.normalize import normalize_question
from kb.analysis.tokens import tokenize
from kb.index.reader import IndexReader

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from typing import Any

    from kb.search.semantic import SemanticRanker

# A question longer than this is cut: nobody's question needs more, and a pasted megabyte
# must not cost seconds. Tracebacks are cut to their last lines by the normaliser first.
MAX_QUESTION_CHARS = 4000
MAX_QUERY_TOKENS = 128
# How much a term found in a field counts towards coverage: the question's own words (and
# its maintainer-written aliases) fully, words only in the answer or breadcrumb partly.
MATCH_SHARE = {"title": 1.0, "aliases": 0.75}
OTHER_FIELD_SHARE = 0.5


# Plain classes, not dataclasses: ``dataclasses`` imports ``inspect``, a cost every cold
# ``faq-search`` would pay.
class TermMatch:
    """One query term's part in a result's score, for ``--explain``."""

    __slots__ = ("contribution", "field", "term")

    def __init__(self, term: str, field: str, contribution: float) -> None:
        self.term, self.field, self.contribution = term, field, contribution


class Hit:
    """One ranked entry: its stored record, score and the share of the question it covers."""

    __slots__ = (
        "coverage",
        "entry",
        "matches",
        "number",
        "score",
        "share",
        "similarity",
        "title_coverage",
    )

    def __init__(
        self,
        number: int,
        entry: dict[str, Any],
        score: float,
        coverage: float,
        title_coverage: float,
    ) -> None:
        self.number, self.entry, self.score = number, entry, score
        self.coverage = coverage  # share of the question's weight the entry holds
        self.title_coverage = title_coverage  # share of the entry's question the user asked
        self.matches: list[TermMatch] = []
        self.similarity: float | None = None  # closeness in meaning, with semantic ranking
        self.share = 0.0  # the share of the ranking's choice this entry holds


class SearchResult:
    """The ranked answers to one question, and whether the best one answers it."""

    __slots__ = ("answered", "band", "confidence", "hits", "query", "tokens")

    def __init__(self, query: str, tokens: list[str], hits: list[Hit], band: str) -> None:
        self.query, self.tokens, self.hits, self.band = query, tokens, hits, band
        self.answered = band == "answer"  # band: "answer", "suggest" or "none"
        self.confidence = 0.0  # how likely the best hit is right (kb.hybrid's model)

    def previews_closest(self) -> bool:
        """Whether a "no confident answer" shows how its closest answer begins: when that
        question stands alone (no other held a share of the choice). Held out, such a
        closest question was right 71% (lexical) to 80% (with meaning) of the time; the
        first of several, 46 to 54%: a coin toss not worth quoting."""
        return self.band == "suggest" and len(self.hits) == 1


def _query_tokens(question: str) -> list[str]:
    # Tracebacks are cut to their exception lines before the length limit applies.
    return tokenize(normalize_question(question[: MAX_QUESTION_CHARS * 4])[:MAX_QUESTION_CHARS])[
        :MAX_QUERY_TOKENS
    ]


# A preloaded index (the bot, a warm process) adds up a question's postings with numpy's
# bincount once they are this many. A memory-mapped one (a one-off ``faq-search``) never
# does (None): importing numpy (~100 ms) costs more than a Python loop over the postings
# of even a 100k-entry index saves.
NUMPY_MIN_POSTINGS: int | None = None
NUMPY_MIN_POSTINGS_PRELOADED = 500
_FIRST_BATCH = 64  # candidates ranked up front; more only if filtering skips many
# A preloaded index finds a question's candidates as the union of its postings lists'
# entries when they hold this many postings or fewer, else by a scan of every score.
_ALL_CANDIDATES = 2048
# Else its first candidates are those scoring at least the ``_FIRST_BATCH``-th best entry
# of its shortest list of at least this many entries (see ``_ArrayScored._likely_best``).
_SAMPLE = 256
# A memory-mapped index finds a question's best entries by pruning (``kb.search.topk``)
# once it names this many postings; below, adding them all up costs less (measured at
# 10k entries: even at 300-1000 postings; twice as fast from 3000, 2.4x from 10000).
PRUNE_MIN_POSTINGS = 1000


class Scored:
    """Every candidate's score for one question, and how much of the question it holds."""

    def __init__(self, base: float, total: float) -> None:
        self.base = base  # what every entry scores (BM25Plus's delta term)
        self.total = total  # the question's whole weight

    def ranked(self, min_coverage: float = 0.0) -> Iterator[int]:
        """Candidates holding at least ``min_coverage`` of the question, best first.

        Ties come in index order, as sorting rank-bm25's scores by (-score, index) gives.
        """
        raise NotImplementedError

    def score(self, doc: int) -> float:
        """The entry's full score: the field-weighted sum of rank-bm25 BM25Plus scores."""
        raise NotImplementedError

    def coverage(self, doc: int) -> float:
        """The share of the question's weight the entry holds."""
        raise NotImplementedError


class _ListScored(Scored):
    """Scores added up in Python dicts of the entries found (no numpy: a cold process)."""

    def __init__(
        self, base: float, total: float, extra: dict[int, float], covered: dict[int, float]
    ) -> None:
        super().__init__(base, total)
        self.extra, self.covered = extra, covered

    def ranked(self, min_coverage: float = 0.0) -> Iterator[int]:
        extra = self.extra
        pool: Collection[int] = extra.keys()  # every entry holding a term of the question
        if min_coverage:
            pool = {d for d in pool if self.coverage(d) >= min_coverage}
        first: Collection[int] = pool
        if len(pool) > _FIRST_BATCH:
            import heapq  # only here: a question matching few entries never imports it

            # Everything scoring at least the batch's last score, ties included: exact.
            floor = heapq.nlargest(_FIRST_BATCH, map(extra.__getitem__, pool))[-1]
            first = [d for d in pool if extra[d] >= floor]
        order = sorted(first, key=lambda d: (-extra[d], d))
        yield from order
        if len(order) < len(pool):
            taken = set(order)
            yield from sorted((d for d in pool if d not in taken), key=lambda d: (-extra[d], d))

    def score(self, doc: int) -> float:
        return self.base + self.extra.get(doc, 0.0)

    def coverage(self, doc: int) -> float:
        return self.covered.get(doc, 0.0) / self.total if self.total else 0.0


class _ArrayScored(Scored):
    """Scores added up with numpy (a preloaded index: the bot). Coverage is added up only
    for the entries asked about (a handful), unless a filtered ranking needs it whole."""

    def __init__(
        self,
        base: float,
        total: float,
        extra: Any,
        shares: list[tuple[Any, Any]],
        lists: list[Any],
    ) -> None:
        super().__init__(base, total)
        self.extra = extra
        self._shares = shares  # per query token: ``_term_shares``'s entries and weights
        self._lists = lists  # each (term, field) postings list's entries (distinct)
        self._covered: dict[int, float] = {}
        self._whole: Any = None

    @property
    def covered(self) -> Any:
        """Every entry's covered weight (one bincount: the same sums, in the same order)."""
        if self._whole is None:
            import numpy as np

            n = len(self.extra)
            if self._shares:
                docs = np.concatenate([d[:-1] for d, _ in self._shares])
                values = np.concatenate([v[:-1] for _, v in self._shares])
                self._whole = np.bincount(docs, values, minlength=n)
            else:
                self._whole = np.zeros(n)
        return self._whole

    def _cover(self, docs: Any) -> None:
        """Add up the covered weight of ``docs`` (token by token: the bincount's order)."""
        import numpy as np

        sums = np.zeros(len(docs))
        for term_docs, weights in self._shares:
            # Any entry not found is sent to the padding, which adds 0.0 (no change).
            at = np.searchsorted(term_docs, docs)
            at[term_docs[at] != docs] = -1
            sums += weights[at]
        self._covered.update(zip(docs.tolist(), sums.tolist(), strict=True))

    def ranked(self, min_coverage: float = 0.0) -> Iterator[int]:
        import numpy as np

        extra = self.extra
        if min_coverage and self.total:
            first = np.flatnonzero((extra > 0.0) & (self.covered / self.total >= min_coverage))
            floor = 0.0
        else:
            first, floor = self._likely_best()
        if len(first) > _FIRST_BATCH:
            # Everything scoring at least the batch's last score, ties included: exact.
            at = len(first) - _FIRST_BATCH
            floor = float(np.partition(extra[first], at)[at])
            first = first[extra[first] >= floor]
        order = first[np.lexsort((first, -extra[first]))]
        if self._whole is None:
            self._cover(order)
        yield from (int(d) for d in order)
        if floor > 0.0:  # the candidates scoring below the first ones
            below = (extra > 0.0) & (extra < floor)
            if min_coverage and self.total:
                below &= self.covered / self.total >= min_coverage
            rest = np.flatnonzero(below)
            yield from (int(d) for d in rest[np.lexsort((rest, -extra[rest]))])

    def _likely_best(self) -> tuple[Any, float]:
        """Candidates holding at least the ``_FIRST_BATCH`` best (all, if the question names
        few postings), and the score every other candidate is below (0.0: none is left).

        Scanning every entry's score and selecting among all candidates (a quarter of a
        100k-entry index, for a question with common words) costs more than the rest of
        the ranking. Any ``_FIRST_BATCH`` candidates' lowest score is a floor that at least
        that many entries reach; those of one of the question's rarer terms score high,
        so one comparison over the scores finds few more.
        """
        import numpy as np

        lists = self._lists
        if not lists:
            return np.zeros(0, dtype=np.intp), 0.0
        if sum(map(len, lists)) <= _ALL_CANDIDATES:
            return np.unique(np.concatenate(lists)), 0.0
        # The shortest list of at least _SAMPLE entries, else the longest (one list: its
        # entries are distinct).
        long = [docs for docs in lists if len(docs) >= _SAMPLE]
        sample = min(long, key=len) if long else max(lists, key=len)
        if len(sample) < _FIRST_BATCH:
            return np.flatnonzero(self.extra > 0.0), 0.0
        at = len(sample) - _FIRST_BATCH
        floor = float(np.partition(self.extra[sample], at)[at])
        return np.flatnonzero(self.extra >= floor), floor

    def score(self, doc: int) -> float:
        return self.base + float(self.extra[doc])

    def coverage(self, doc: int) -> float:
        if not self.total:
            return 0.0
        if self._whole is not None:
            return float(self._whole[doc]) / self.total
        if doc not in self._covered:
            import numpy as np

            self._cover(np.array([doc], dtype=np.intp))
        return self._covered[doc] / self.total


class _PrunedScored(Scored):
    """The best entries found without adding up every posting (``kb.search.topk``); the
    full sum is made only if a caller reads past them, or asks about a filtered ranking."""

    def __init__(
        self,
        base: float,
        total: float,
        index: IndexReader,
        plan: list[tuple[str, float, list[_Span]]],
    ) -> None:
        from kb.search.topk import Pruned

        super().__init__(base, total)
        self._index, self._plan = index, plan
        self._pruned = Pruned(index, plan)
        self._full: _ListScored | None = None

    def _all(self) -> _ListScored:
        if self._full is None:
            self._full = _score_lists(self._index, self.base, self.total, self._plan)
        return self._full

    def ranked(self, min_coverage: float = 0.0) -> Iterator[int]:
        if min_coverage:
            yield from self._all().ranked(min_coverage)
            return
        top = self._pruned.top()
        yield from top
        rest = self._all().ranked()
        for _ in top:
            next(rest)
        yield from rest

    def score(self, doc: int) -> float:
        if self._full is not None:
            return self._full.score(doc)
        return self.base + self._pruned.sums(doc)[0]

    def coverage(self, doc: int) -> float:
        if self._full is not None:
            return self._full.coverage(doc)
        return self._pruned.sums(doc)[1] / self.total if self.total else 0.0


# Field weight, coverage share, field number, the field's idf, first posting, postings count.
_Span = tuple[float, float, int, float, int, int]


def score_all(index: IndexReader, tokens: list[str]) -> Scored:
    """Score every entry that shares a term with ``tokens``.

    An entry's score equals the field-weighted sum of rank-bm25 ``BM25Plus.get_scores``
    (to the last bit: the same terms added in the same order, whichever path runs).
    """
    base = 0.0
    total = 0.0
    fields = index.fields
    plan: list[tuple[str, float, list[_Span]]] = []
    postings = 0
    for term in tokens:
        info = index.terms.get(term)
        if info is None:
            total += index.unknown_weight
            continue
        weight = info[0]
        total += weight
        spans = []
        for at in range(1, len(info), 4):
            fld = fields[int(info[at])]
            base += fld.weight * info[at + 1] * fld.delta
            share = MATCH_SHARE.get(fld.name, OTHER_FIELD_SHARE)
            spans.append(
                (
                    fld.weight,
                    share,
                    int(info[at]),
                    info[at + 1],
                    int(info[at + 2]),
                    int(info[at + 3]),
                )
            )
            postings += int(info[at + 3])
        plan.append((term, weight, spans))
    threshold = NUMPY_MIN_POSTINGS_PRELOADED if index.preloaded else NUMPY_MIN_POSTINGS
    if threshold is not None and postings >= threshold:
        return _score_numpy(index, base, total, plan)
    if not index.preloaded and postings >= PRUNE_MIN_POSTINGS:
        return _PrunedScored(base, total, index, plan)
    return _score_lists(index, base, total, plan)


def _score_lists(
    index: IndexReader, base: float, total: float, plan: list[tuple[str, float, list[_Span]]]
) -> _ListScored:
    """Every posting's contribution added up in dicts of the entries found (not lists of
    a slot per entry: at 100k entries, two such lists cost ~2 ms to make and free, more
    than a question naming a few hundred postings costs in all)."""
    extra: dict[int, float] = {}
    covered: dict[int, float] = {}
    for _term, weight, spans in plan:
        read = []
        for w, share, field_no, idf, first, count in spans:
            docs, extras = index.postings(field_no, idf, first, count, w)
            # The same additions in the same order as numpy's bincount, from 0.0: term by
            # term, field by field (``w * x``: the same product).
            add = extra.get
            for doc, x in zip(docs, extras, strict=True):
                extra[doc] = add(doc, 0.0) + x
            read.append((share, docs))
        # Each entry's best share among the term's fields: the largest written last.
        seen: dict[int, float] = {}
        for share, docs in sorted(read, key=lambda item: item[0]):
            seen.update(dict.fromkeys(docs, share))
        add = covered.get
        for doc, share in seen.items():
            covered[doc] = add(doc, 0.0) + weight * share
    return _ListScored(base, total, extra, covered)


def _score_numpy(
    index: IndexReader, base: float, total: float, plan: list[tuple[str, float, list[_Span]]]
) -> Scored:
    import numpy as np

    docs_parts: list[Any] = []
    value_parts: list[Any] = []
    shares = []
    for term, weight, spans in plan:
        for w, _share, field_no, idf, first, count in spans:
            docs, extras = index.postings_array(field_no, idf, first, count, w)
            docs_parts.append(docs)
            value_parts.append(extras)
        shares.append(_term_shares(index, term, weight, spans))
    n = len(index)
    size = sum(map(len, docs_parts))
    # bincount adds each bin's weights in input order: term by term, field by field, the
    # same additions in the same order as the Python loop, so the sums are identical.
    scratch = _scratch()
    if size <= _SCRATCH_MAX and scratch.lock.acquire(blocking=False):
        try:
            docs_buf, values_buf = scratch.buffers(size)
            docs = np.concatenate(docs_parts, out=docs_buf[:size])
            values = np.concatenate(value_parts, out=values_buf[:size])
            extra = np.bincount(docs, values, minlength=n)
        finally:
            scratch.lock.release()
    else:  # a question as long as few, or another thread's question using the buffers
        extra = np.bincount(np.concatenate(docs_parts), np.concatenate(value_parts), minlength=n)
    return _ArrayScored(base, total, extra, shares, docs_parts)


class _Scratch:
    """Buffers for a question's postings, reused: fresh ones of a few MB each time (a long
    question at 100k entries) cost more in page faults than the sum itself. One set per
    process (at most 16 MB), held by one question at a time."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self._kept: tuple[Any, Any] | None = None

    def buffers(self, size: int) -> tuple[Any, Any]:
        """Entry numbers and values, room for ``size`` postings or more (hold ``lock``)."""
        if self._kept is None or len(self._kept[0]) < size:
            import numpy as np

            have = len(self._kept[0]) if self._kept else 1 << 15
            grown = min(_SCRATCH_MAX, max(size, 2 * have))
            self._kept = (np.empty(grown, np.intp), np.empty(grown, np.float64))
        return self._kept


_SCRATCH_MAX = 1 << 20  # postings; a longer question allocates its own
_SCRATCH: list[_Scratch] = []  # made by the first question summed with numpy


def _scratch() -> _Scratch:
    if not _SCRATCH:  # two threads at once may each make one: one is kept, no harm
        _SCRATCH.append(_Scratch())
    return _SCRATCH[0]


def _term_shares(
    index: IndexReader, term: str, weight: float, spans: list[_Span]
) -> tuple[Any, Any]:
    """Each entry holding ``term`` once (ascending) and the weight it covers: ``weight``
    times its best coverage share among its fields; then a padding entry (``len(index)``,
    beyond every entry) covering 0.0, so that a search for any entry lands in the arrays."""
    import numpy as np

    cached = index.cache.get(term)
    if cached is None:
        docs = np.concatenate([_docs_array(index, first, count) for *_, first, count in spans])
        shares = np.concatenate([np.full(span[5], span[1]) for span in spans])
        order = np.lexsort((-shares, docs))
        docs, shares = docs[order], shares[order]
        first = np.ones(len(docs), dtype=bool)
        first[1:] = docs[1:] != docs[:-1]
        cached = (
            np.append(docs[first], len(index)),
            np.append(weight * shares[first], 0.0),  # ``weight * share``: the bincount's
        )
        if index.preloaded:
            index.cache[term] = cached
    return cached


def _docs_array(index: IndexReader, first: int, count: int) -> Any:
    return index.packed_array(first, count)[0]


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
            docs, extras = index.postings(field_no, idf, int(info[at + 2]), int(info[at + 3]))
            scores = [s + idf * fld.delta for s in scores]
            for doc, x in zip(docs, extras, strict=True):
                scores[doc] += x
    return scores


def search(
    index: IndexReader,
    question: str,
    *,
    k: int = 3,
    explain: bool = False,
    alternative_floor: float | None = None,
    shown_parts: bool = False,
    semantic: SemanticRanker | None = None,
) -> SearchResult:
    """Rank the entries for ``question``; the best first, then up to ``k - 1`` alternatives.

    Candidates (BM25's best, and with ``semantic`` the closest in meaning) are ranked and
    banded by ``kb.search.hybrid``'s fitted models. A question is not listed after one of its own
    sub-parts. Unless ``shown_parts`` is set (the eval ranks with it), the best answer's
    own sub-parts are not listed after it either: its answer already shows them.
    Alternatives holding too small a share of the choice are left out (noise), unless
    ``alternative_floor`` is 0 (the eval lists all ``k``).
    """
    from kb.search import hybrid
    from kb.search.features import candidates

    tokens = _query_tokens(question)
    scored = score_all(index, tokens)
    sims = semantic.similarities(question) if semantic is not None else None
    # Without meaning, BM25's order ranks: only its best one's title coverage is read.
    found = candidates(index, scored, tokens, sims, titles=None if sims is not None else 1)
    model = hybrid.SEMANTIC_MODEL if sims is not None else hybrid.LEXICAL_MODEL
    rows = [c.row() for c in found]
    order, shares = model.order(rows)
    sureness = model.sureness(rows, order, shares)
    band = model.band(sureness) if order else "none"

    def descends(a: int, b: int) -> bool:
        return found[b].number in ancestors(index, found[a].number)

    every = alternative_floor == 0.0
    hits: list[Hit] = []
    for position in hybrid.listing(order, shares, k, descends, every=every, parts=shown_parts):
        c = found[position]
        doc = c.number
        entry = index.entry(doc)
        hit = Hit(doc, entry, scored.score(doc), c.coverage, title_coverage(index, entry, tokens))
        hit.share = shares[position]
        if sims is not None:
            hit.similarity = max(c.similarity, c.answer_similarity)
        if explain:
            hit.matches = _explain(index, doc, tokens)
        hits.append(hit)
    result = SearchResult(question, tokens, hits, band)
    result.confidence = sureness
    return result


def title_coverage(index: IndexReader, entry: dict[str, Any], tokens: list[str]) -> float:
    """The largest share of the entry's title (or one alias) whose words the question has."""
    asked = set(tokens)
    best = 0.0
    for weights in _wording_weights(index, entry):
        total = sum(weights.values())
        if total:
            best = max(best, sum(w for t, w in weights.items() if t in asked) / total)
    return best


def _wording_weights(index: IndexReader, entry: dict[str, Any]) -> list[dict[str, float]]:
    """Term weights of the entry's title and of each alias (kept by a preloaded index; by
    a memory-mapped one for a few entries, so that a question reads its best one's once)."""
    key = ("wording", entry["id"])
    cached: list[dict[str, float]] | None = index.cache.get(key)
    if cached is None:
        cached = [
            {t: index.terms[t][0] for t in tokenize(wording) if t in index.terms}
            for wording in [entry["title"], *entry.get("aliases", ())]
        ]
        if index.preloaded or len(index.cache) < _WORDINGS_KEPT:
            index.cache[key] = cached
    return cached


# Entries whose wording weights a memory-mapped index keeps (it keeps nothing else there).
_WORDINGS_KEPT = 64


def ancestors(index: IndexReader, doc: int) -> Iterator[int]:
    """The entries ``doc`` lies inside, nearest first (a sub-part's question, …)."""
    node = int(index.parents[doc])
    while node >= 0:
        yield node
        node = int(index.parents[node])


def _explain(index: IndexReader, doc: int, tokens: list[str]) -> list[TermMatch]:
    matches = []
    for term in dict.fromkeys(tokens):
        info = index.terms.get(term)
        if info is None:
            continue
        count = tokens.count(term)
        for at in range(1, len(info), 4):
            fld = index.fields[int(info[at])]
            docs, extras = index.postings(
                int(info[at]), info[at + 1], int(info[at + 2]), int(info[at + 3])
            )
            for d, x in zip(docs, extras, strict=True):
                if d == doc:
                    matches.append(TermMatch(term, fld.name, count * fld.weight * x))
    matches.sort(key=lambda m: -m.contribution)
    return matches
