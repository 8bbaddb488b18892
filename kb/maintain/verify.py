"""``faq-kb verify``: the index's scores recomputed by rank-bm25, the engine of record.

The index stores BM25Plus contributions computed at build time (``kb.index.encode``). This
rebuilds ``rank_bm25.BM25Plus`` for every field from the entries the index itself stores,
re-tokenized with ``kb.analysis``, and compares, for a sample of terms (or all of them),
every stored score with rank-bm25's, and each term's overall weight with its document
frequency; any difference over ``TOLERANCE`` is reported. rank-bm25 (and numpy, which it
uses) is imported here only.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.index.prepare import record_texts
from kb.index.reader import IndexReader

TOLERANCE = 1e-9
# Sampled terms and entries by default: enough to catch a wrong formula or damaged postings
# in seconds, at any size; --all compares everything.
DEFAULT_SAMPLE = 300
_SHOWN = 10  # differences listed in full; the rest are counted


@dataclass
class Verification:
    """What ``verify_index`` compared and what differed."""

    entries: int = 0
    terms: int = 0  # terms in the index
    checked_terms: int = 0
    checked_entries: int = 0  # entries whose every sampled score was compared
    scores: int = 0  # scores compared
    differences: list[str] = field(default_factory=list)
    difference_count: int = 0

    @property
    def ok(self) -> bool:
        """Whether every compared score matched."""
        return self.difference_count == 0

    def differ(self, message: str) -> None:
        """Record one difference (kept in full for the first few)."""
        self.difference_count += 1
        if len(self.differences) < _SHOWN:
            self.differences.append(message)


def verify_index(
    reader: IndexReader,
    *,
    sample: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> Verification:
    """Compare the index's scores with rank-bm25's ``BM25Plus`` on its own entries.

    ``sample`` terms (and as many entries, besides those having each term) are compared;
    None compares every term on every entry.

    Raises:
        DamagedIndex: a checksum of the index does not match.
    """
    from rank_bm25 import BM25Plus

    from kb.analysis.tokens import tokenize

    report = Verification(entries=len(reader), terms=len(reader.terms))
    params = reader.header["params"]
    k1, b, delta = params["k1"], params["b"], params["delta"]
    progress(f"reading and tokenizing {len(reader)} entries…")
    names = [f.name for f in reader.fields]
    tokenized: dict[str, list[list[str]]] = {name: [] for name in names}
    for number in range(len(reader)):
        texts = record_texts(reader.load_entry(number))
        for name in names:
            tokenized[name].append(tokenize(texts[name]))
    progress("building rank-bm25 models…")
    models: dict[int, Any] = {}
    for field_no, name in enumerate(names):
        # rank-bm25 cannot model a field with no token at all (avgdl 0); nor does the index.
        if len(reader) and any(tokenized[name]):
            models[field_no] = BM25Plus(tokenized[name], k1=k1, b=b, delta=delta)
    everything = sorted({t for model in models.values() for t in model.idf})
    rng = random.Random(seed)
    if sample is None or sample >= len(everything):
        terms = everything
    else:
        terms = sorted(rng.sample(everything, sample))
    # Every term an entry has is in the index's vocabulary, and no other.
    if len(everything) != len(reader.terms):
        report.differ(
            f"vocabulary: rank-bm25 has {len(everything)} terms, the index {len(reader.terms)}"
        )
    elif sample is None and list(reader.terms) != everything:
        report.differ("vocabulary: the index's terms are not the entries' terms")
    # In how many entries each compared term occurs, in any field (its overall weight).
    wanted = set(terms)
    having = dict.fromkeys(terms, 0)
    for doc in range(len(reader)):
        for term in wanted.intersection(itertools.chain(*(tokenized[n][doc] for n in names))):
            having[term] += 1
    entries = list(range(len(reader)))
    sampled = entries if sample is None else sorted(rng.sample(entries, min(sample, len(entries))))
    report.checked_entries = len(sampled)
    progress(f"comparing the scores of {len(terms)} terms…")
    n1 = len(reader) + 1
    for term in terms:
        report.checked_terms += 1
        info = reader.terms.get(term)
        if info is None:
            report.differ(f"{term!r}: in the entries but not in the index")
            continue
        weight = math.log(n1 / having[term])
        if not _same(info[0], weight):
            report.differ(
                f"{term!r}: weight {info[0]!r}, rank-bm25's idf over all fields {weight!r}"
            )
        stored = {int(info[at]): at for at in range(1, len(info), 4)}
        for field_no, model in models.items():
            at = stored.get(field_no)
            _compare_field(reader, report, (term, names[field_no]), model, info, at, sampled)
        for field_no in set(stored) - set(models):
            report.differ(f"{term!r}: postings in {names[field_no]}, a field with no words")
    return report


def _compare_field(
    reader: IndexReader,
    report: Verification,
    where: tuple[str, str],
    model: Any,
    info: list[float],
    at: int | None,
    sampled: list[int],
) -> None:
    """One term's scores in one field: the stored ones against ``model.get_batch_scores``."""
    docs: Sequence[int] = ()
    extras: Sequence[float] = ()
    idf = 0.0
    if at is not None:
        idf = info[at + 1]
        docs, extras = reader.postings(int(info[at]), idf, int(info[at + 2]), int(info[at + 3]))
    term, name = where
    delta = model.delta
    stored = {int(doc): idf * delta + x for doc, x in zip(docs, extras, strict=True)}
    base = idf * delta  # every entry's score for a term the field has
    numbers = sorted(set(stored) | set(sampled))
    expected = model.get_batch_scores([term], numbers) if numbers else []
    for doc, want in zip(numbers, expected, strict=True):
        got = stored.get(doc, base)
        report.scores += 1
        if not _same(got, float(want)):
            report.differ(
                f"{term!r} in {name} of entry {doc}: index {got!r}, rank-bm25 {float(want)!r}"
            )


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE
