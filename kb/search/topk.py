"""A question's best entries without adding up every posting it names (MaxScore).

At 100k entries a one-off question names tens of thousands of postings, and adding each
one's contribution in Python costs about a microsecond. Most cannot matter: an entry that
holds only the question's common words scores less than the k-th best. Every (query
term, field) postings list has a bound on what it adds to any entry (from its largest
term frequency and the shortest possible field). Lists are read whole, the most telling
per posting first, until the bounds of the lists not read add up to less than the k-th
best score so far: no entry outside the lists read can then reach the top k, and the rest
are only looked up (binary search in the packed postings, or a dict of the list when many
candidates are left) for the candidates that still can.

The finalists' scores are then added up again in the order ``score_all``'s full sum adds
them (token by token, field by field), so every score and coverage is the very float the
full sum gives, and ties order by entry number as before. Anything past the top k (a
caller reading further) comes from the full sum itself.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left

from kb.index.reader import IndexReader

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Collection

# Field weight, coverage share, field number, the field's idf, first posting, postings count.
Span = tuple[float, float, int, float, int, int]
Plan = list[tuple[str, float, list[Span]]]

# How many best entries are found by pruning (the ranking reads 20 candidates).
TOP_K = 20
# Slack on every pruning comparison, far above float rounding (~1e-15 relative): an
# entry is dropped only when its bound is below the k-th best by more than this share.
_SLACK = 1e-9
# A probe (binary search) costs about as much as putting this many postings in a dict:
# a list with fewer candidates than its postings over this is probed, else read whole.
_PROBE_COST = 20


class PostingList:
    """One (term, field) postings list: packed values, read on demand, and its bound."""

    __slots__ = (
        "_map",
        "avgdl",
        "b",
        "base",
        "bound",
        "count",
        "delta",
        "field_no",
        "first",
        "high",
        "idf",
        "index",
        "k1",
        "k1p1",
        "lens",
        "low",
        "mask",
        "omb",
        "one",
        "shift",
        "values",
        "weight",
    )

    def __init__(self, index: IndexReader, span: Span) -> None:
        weight, _share, field_no, idf, first, count = span
        self.index, self.weight, self.idf, self.first, self.count = index, weight, idf, first, count
        self.field_no = field_no
        field = index.fields[field_no]
        self.k1, self.b, self.delta = index.bm25_params[0], index.bm25_params[1], field.delta
        self.k1p1, self.omb = self.k1 + 1, 1 - self.b
        self.avgdl = field.total / len(index)
        self.base = idf * field.delta
        self.lens = index.lengths(field_no)
        self.shift = index.doc_bits
        self.one = 1 << self.shift
        self.mask = self.one - 1
        values = self.values = index.values(first, count)
        # Any tf that did not fit (written 0), then the tfs of 1, then the rest: each by entry.
        self.low = low = bisect_left(values, self.one)
        self.high = high = bisect_left(values, self.one << 1, low)
        self._map: dict[int, int] | None = None
        # An entry holding the term has at least one token in the field (length >= 1);
        # the contribution grows with tf and falls with the length.
        bound = self.contribution(1, 1) if high > low else 0.0
        if high < count:
            bound = max(bound, self.contribution(max(values[high:]) >> self.shift, 1))
        if low:
            bound = weight * idf * self.k1p1  # tf unbounded: the limit of tf / (c + tf) is 1
        self.bound = bound

    def contribution(self, tf: int, length: int) -> float:
        """What a posting adds to its entry's score: ``IndexReader.postings``'s expression."""
        idf, k1 = self.idf, self.k1
        return self.weight * (
            idf
            * (self.delta + tf * self.k1p1 / (k1 * (self.omb + self.b * length / self.avgdl) + tf))
            - self.base
        )

    def tf(self, doc: int) -> int:
        """The term's frequency in the entry (0: the entry is not in the list)."""
        if self._map is not None:
            return self._map.get(doc, 0)
        values, high = self.values, self.high
        key = self.one + doc
        at = bisect_left(values, key, self.low, high)
        if at < high and values[at] == key:
            return 1
        count = self.count
        if high < count:
            mask = self.mask
            at = bisect_left(values, doc, high, count, key=mask.__and__)
            if at < count and values[at] & mask == doc:
                return values[at] >> self.shift
        if self.low:
            return self.tf_map().get(doc, 0)
        return 0

    def score(self, doc: int) -> float:
        """The list's contribution to the entry (0.0 if it is not in the list)."""
        tf = self.tf(doc)
        return self.contribution(tf, self.lens[doc]) if tf else 0.0

    def tf_map(self) -> dict[int, int]:
        """Each entry's tf, as a dict (built once, with C loops: ~0.1 µs a posting)."""
        if self._map is None:
            values, low, high, count = self.values, self.low, self.high, self.count
            found = dict.fromkeys(map(self.one.__rsub__, values[low:high]), 1)
            if high < count:
                region = values[high:count]
                docs = map(self.mask.__and__, region)
                found.update(zip(docs, map(self.shift.__rrshift__, region), strict=True))
            if low:
                found.update(zip(*self.index.packed(self.first, low), strict=True))
            self._map = found
        return self._map


class Pruned:
    """The exact best ``TOP_K`` entries of a question, and any entry's exact sums."""

    def __init__(self, index: IndexReader, plan: Plan) -> None:
        self.index = index
        made: dict[tuple[int, int, float], PostingList] = {}
        # Per query token (repeats included): its weight and (coverage share, list) per field.
        self.terms: list[tuple[float, list[tuple[float, PostingList]]]] = []
        for _term, weight, spans in plan:
            lists = []
            for span in spans:
                key = (span[4], span[5], span[0])
                found = made.get(key)
                if found is None:
                    found = made[key] = PostingList(index, span)
                lists.append((span[1], found))
            self.terms.append((weight, lists))
        self._sums: dict[int, tuple[float, float]] = {}

    def sums(self, doc: int) -> tuple[float, float]:
        """The entry's score above the base and its covered weight, added in the full sum's
        order: token by token, field by field (the same floats)."""
        found = self._sums.get(doc)
        if found is None:
            extra = covered = 0.0
            for weight, lists in self.terms:
                best = -1.0
                for share, plist in lists:
                    tf = plist.tf(doc)
                    if tf:
                        extra += plist.contribution(tf, plist.lens[doc])
                        best = max(best, share)
                if best >= 0.0:
                    covered += weight * best
            found = self._sums[doc] = (extra, covered)
        return found

    def top(self) -> list[int]:
        """At least the ``TOP_K`` best entries (ties at the last place included), best first,
        ordered by (-score, number); fewer only if fewer entries hold any query term."""
        lists = [plist for _weight, lists in self.terms for _share, plist in lists]
        if not lists:
            return []
        # Most bound per posting first: the k-th best rises fastest for the least work.
        lists.sort(key=lambda p: -p.bound / p.count)
        partial = [0.0] * len(self.index)
        rank = partial.__getitem__
        candidates: set[int] = set()
        best: list[int] = []  # the TOP_K best partial scores' entries
        remaining = sum(p.bound for p in lists)
        theta = done = 0.0
        read = 0
        for plist in lists:
            if remaining < theta * (1 - _SLACK):
                break
            docs, extras = self.index.postings(
                plist.field_no, plist.idf, plist.first, plist.count, plist.weight
            )
            for doc, x in zip(docs, extras, strict=True):
                partial[doc] += x
            candidates.update(docs)
            remaining -= plist.bound
            done += plist.bound
            read += 1
            # The k-th best partial score (a lower bound of the k-th best score) is at most
            # the bound of the lists read: worth finding only once it may pass the rest.
            if remaining < done:
                # Only this list's entries moved: the best of them and of the best so far.
                best = heapq.nlargest(TOP_K, {*best, *docs} if best else candidates, key=rank)
                if len(best) == TOP_K:
                    theta = partial[best[-1]]
        alive: Collection[int] = candidates
        for plist in sorted(lists[read:], key=lambda p: -p.bound):
            cut = theta * (1 - _SLACK) - remaining
            alive = [d for d in alive if partial[d] >= cut]
            remaining -= plist.bound
            if len(alive) * _PROBE_COST < plist.count:
                moved = []
                for doc in alive:
                    tf = plist.tf(doc)
                    if tf:
                        partial[doc] += plist.contribution(tf, plist.lens[doc])
                        moved.append(doc)
            else:
                tfs = plist.tf_map()
                moved = list(tfs.keys() & alive)
                lens = plist.lens
                for doc in moved:
                    partial[doc] += plist.contribution(tfs[doc], lens[doc])
            best = heapq.nlargest(TOP_K, {*best, *moved}, key=rank)
            theta = max(theta, partial[best[-1]]) if len(best) == TOP_K else theta
        if len(best) == TOP_K:
            floor = theta * (1 - _SLACK)
            alive = [d for d in alive if partial[d] >= floor]
        exact = {d: self.sums(d)[0] for d in alive}
        order = sorted(alive, key=lambda d: (-exact[d], d))
        if len(order) > TOP_K:
            last = exact[order[TOP_K - 1]]
            order = [d for d in order if exact[d] >= last]
        return order
