"""Rebuild an index by splicing: the previous index's postings, less the entries of the
sources that changed, merged with those sources' new postings.

Nothing stored depends on the entry count or the average lengths (BM25Plus is computed on
reading), so an unchanged source's postings, lengths and stored entries carry over as
they are, renumbered: a rebuild after an edit parses and tokenizes only the edited source,
and never turns the old postings back into tokens. The file written is the one a full
build writes (``kb.index.encode.write_parts``), byte for byte (tests/test_rebuild.py).

The postings of a field lie term by term (sorted), and within a term by tf class (a tf
too large to pack, a tf of 1, the others), each class by entry. A posting's place is
thus given by one integer key, ``(term rank * 3 + class) * entries + entry``: the old
postings keep their order under a renumbering that keeps the sources' order (and the
same tf classes), so the new ones are merged in by binary search; otherwise the old
keys are sorted once.
"""

from __future__ import annotations

import array
import bisect
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from kb.index.encode import (
    _NP_INT,
    Corpus,
    Parts,
    _firsts,
    _postings_keys,
    pack_postings,
    posting_layout,
    unpack_postings,
    write_parts,
)
from kb.index.params import DELTA, FIELD_WEIGHTS
from kb.index.reader import _INT, Chunker, IndexReader


@dataclass
class Layout:
    """The new index's entries in order: runs of the old index's entries, kept as they
    are, and the entries of the sources prepared anew (``Corpus``), in turns."""

    # (first, stop): old entries first to stop - 1; an int: that many fresh entries next.
    pieces: list[tuple[int, int] | int] = field(default_factory=list)
    source_counts: list[int] = field(default_factory=list)  # every source's, in order
    source_warnings: list[list[str]] = field(default_factory=list)

    def keep(self, first: int, stop: int) -> None:
        """Old entries ``first`` to ``stop - 1`` come next (joined to a run just before)."""
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, tuple) and last[1] == first:
            self.pieces[-1] = (last[0], stop)
        elif stop > first:
            self.pieces.append((first, stop))

    def add(self, count: int) -> None:
        """The next ``count`` fresh entries come next."""
        if count:
            self.pieces.append(count)


class _Terms:
    """The old term table as a sequence of UTF-8 bytes, for ``bisect``."""

    def __init__(self, blob: bytes, ends: Any) -> None:
        self._blob, self._ends = blob, ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, number: int) -> bytes:
        return self._blob[self._ends[number - 1] if number else 0 : self._ends[number]]


def splice_index(
    old: IndexReader,
    buf: Any,
    handle: BinaryIO,
    layout: Layout,
    fresh: Corpus,
    fingerprint: dict[str, Any],
    out: BinaryIO,
    read: OldPostings | None = None,
) -> None:
    """Write the index of ``layout`` into ``out``: ``old`` (its file's bytes ``buf``, read
    from ``handle``; every checksum verified) for the entries kept, ``fresh`` for the
    others. ``read``: the kept entries' old postings, if read already (``read_ahead``)."""
    import numpy as np

    n_old, n_fresh = len(old), len(fresh)
    # Each old entry's new number (-1: its source changed or went), each fresh entry's.
    remap = np.full(n_old, -1, dtype=np.int64)
    fresh_at = np.empty(n_fresh, dtype=np.int64)
    at = taken = 0
    for piece in layout.pieces:
        if isinstance(piece, tuple):
            first, stop = piece
            remap[first:stop] = np.arange(at, at + stop - first)
            at += stop - first
        else:
            fresh_at[taken : taken + piece] = np.arange(at, at + piece)
            taken += piece
            at += piece
    n_docs = at
    kept = np.flatnonzero(remap >= 0)
    # The old postings keep their order when the kept entries keep theirs (and tf classes).
    in_order = bool(np.all(np.diff(remap[kept]) > 0))

    # Each field's lengths; the header's totals and longest follow from them.
    old_lengths = old.numpy_section("lengths", f"<u{old.header['length_width']}")
    old_lengths = old_lengths.reshape(len(FIELD_WEIGHTS), n_old)
    lengths, fields, fresh_lengths = [], [], []
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        ours = np.frombuffer(fresh.lengths[field_no], dtype=_NP_INT)
        mine = np.zeros(n_docs, dtype=np.int64)
        mine[remap[kept]] = old_lengths[field_no, kept]
        mine[fresh_at] = ours
        total = int(mine.sum())
        longest = int(mine.max()) if n_docs else 0
        fields.append(
            {"name": name, "weight": weight, "delta": DELTA, "total": total, "longest": longest}
        )
        lengths.append(mine)
        fresh_lengths.append(ours)
    del old_lengths

    doc_bits, width = posting_layout(n_docs)
    tf_limit = 1 << (8 * width - doc_bits)
    if read is not None and np.array_equal(read.kept, remap >= 0):
        old_postings = read
    else:
        old_postings = OldPostings(old, buf, remap >= 0)
    # Kept in order and packed alike, the old postings are kept as written, each entry
    # number moved by its source's shift; otherwise they are laid out anew.
    shifted = old_postings.renumber(remap[kept], in_order, doc_bits, width)
    vocabulary = _Vocabulary(old, old_postings.removed_df(), list(fresh.numbering))
    fresh.numbering = {}
    fresh_pairs = []  # (term rank, fresh entry) keys of the fresh postings, for the dfs
    span_parts: list[tuple[Any, Any, Any, Any]] = []
    laid_out: list[Any] = []
    big_tfs: list[Any] = []
    postings_size = 0
    for field_no in range(len(FIELD_WEIGHTS)):
        if n_docs == 0 or fields[field_no]["total"] == 0:
            old_postings.fields[field_no] = None
            continue  # no postings (as a full build: rank-bm25 cannot score such a field)
        tokens = np.frombuffer(fresh.terms[field_no], dtype=_NP_INT)
        new = _Fresh(tokens, fresh_lengths[field_no], vocabulary.fresh_ranks, fresh_at, tf_limit)
        del tokens
        if new.pairs is not None:
            fresh_pairs.append(new.pairs)
            new.pairs = None
        merge = old_postings.shifted if shifted else old_postings.keyed
        ranks, counts, packed, big = merge(field_no, vocabulary, new, n_docs, doc_bits, tf_limit)
        del new
        span_parts.append(
            (
                ranks,
                np.full(len(ranks), field_no, dtype=np.int64),
                counts,
                np.cumsum(counts) - counts + postings_size,
            )
        )
        if len(big):
            big[:, 0] += postings_size
            big_tfs.append(big)
        postings_size += len(packed)
        laid_out.append(pack_postings(packed, width))
        del packed
    for field_no in range(len(FIELD_WEIGHTS)):
        fresh.terms[field_no] = fresh.lengths[field_no] = array.array(_INT)
    del fresh_lengths
    document_freq = vocabulary.document_freqs(fresh_pairs, n_fresh)
    del fresh_pairs

    old_parents = old.numpy_section("parents", "<i4").astype(np.int64)[kept]
    parents = np.full(n_docs, -1, dtype=np.int64)
    parents[remap[kept]] = np.where(old_parents >= 0, remap[np.maximum(old_parents, 0)], -1)
    ours = np.array(fresh.parents, dtype=np.int64)
    parents[fresh_at] = np.where(ours >= 0, fresh_at[np.maximum(ours, 0)], -1)
    del old_parents, ours, remap, kept
    old.forget_pages()

    blocks = _Blocks(old, handle, fresh)
    for piece in layout.pieces:
        blocks.add(piece)
    parts = Parts(
        n_docs=n_docs,
        doc_bits=doc_bits,
        width=width,
        fields=fields,
        term_bytes=vocabulary.term_bytes(),
        term_ends=vocabulary.term_ends(),
        document_freq=document_freq,
        span_parts=span_parts,
        laid_out=laid_out,
        big_tfs=big_tfs,
        lengths=lengths,
        parents=parents,
        block_sizes=blocks.sizes,
        block_counts=blocks.counts,
        entry_crcs=blocks.crcs(),
        write_entries=blocks.write,
        source_counts=layout.source_counts,
        source_warnings=layout.source_warnings,
    )
    del span_parts, laid_out, big_tfs, lengths, parents, vocabulary
    write_parts(parts, fingerprint, out)


def _classes(tfs: Any, tf_limit: int) -> Any:
    """Each posting's tf class: 0 a tf too large to pack, 1 a tf of 1, 2 the others."""
    import numpy as np

    return np.where(tfs >= tf_limit, 0, np.where(tfs == 1, 1, 2))


class _Fresh:
    """The postings of the fresh entries in one field, in the order of the file: by term
    rank, tf class and entry; each with its new entry number and tf."""

    def __init__(
        self, tokens: Any, lengths: Any, fresh_ranks: Any, fresh_at: Any, tf_limit: int
    ) -> None:
        import numpy as np

        self.pairs: Any = None  # (rank, fresh entry) keys, for the dfs
        if not len(tokens):
            self.ranks = self.entries = self.tfs = np.zeros(0, dtype=np.int64)
            return
        self.pairs, tfs = _postings_keys(fresh_ranks, tokens, lengths)
        ranks, entries = np.divmod(self.pairs, len(lengths))
        entries = fresh_at[entries]
        order = np.lexsort((entries, _classes(tfs, tf_limit), ranks))
        self.ranks, self.entries, self.tfs = ranks[order], entries[order], tfs[order]

    def __len__(self) -> int:
        return len(self.ranks)


_FEW_RUNS = 8  # dropped runs of entries up to which postings are compared, not looked up


def _runs(mask: Any) -> list[tuple[int, int]]:
    """The runs of True in a bool array, as (first, stop) pairs."""
    import numpy as np

    edges = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=0, append=0))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _drop(values: Any, docs: Any, kept: Any, moves: Any, dropped: list[tuple[int, int]]) -> Any:
    """The places of the postings of dropped entries; every posting's entry number (in
    ``values``, in place) moved to its place among the entries kept.

    The entries dropped are a few runs (a changed source's entries lie together): each
    run is then two comparisons of the packed entry numbers and a subtraction where they
    lie above it, with no index array as long as the postings (at 100k entries, ~6 M).
    """
    import numpy as np

    if len(dropped) > _FEW_RUNS:
        at = docs.astype(np.intp)
        values += moves.astype(values.dtype)[at]  # modulo 2**32 (or 2**64): exact
        return np.flatnonzero(~kept[at])
    lost = np.zeros(len(docs), dtype=bool)
    above = np.empty(len(docs), dtype=bool)
    for first, stop in dropped:
        np.greater_equal(docs, first, out=above)
        np.logical_and(above, docs < stop, out=above)
        lost |= above
    for first, stop in reversed(dropped):  # entries above a run move down by its length
        np.greater_equal(docs, stop, out=above)
        np.subtract(values, values.dtype.type(stop - first), out=values, where=above)
    return np.flatnonzero(lost)


def _move(values: Any, docs: Any, moves: Any) -> None:
    """Add ``moves[doc]`` to each posting of ``values`` (its entry number ``doc``), in place.

    ``moves`` only grows (entries keep their order), by steps where fresh entries come in
    between: for a few steps, one comparison of the packed entry numbers and one addition
    each, with no index array as long as the postings.
    """
    import numpy as np

    steps = np.flatnonzero(np.diff(moves)) + 1
    if len(steps) > _FEW_RUNS or (len(moves) and int(moves[0]) < 0):
        values += moves.astype(values.dtype)[docs.astype(np.intp)]  # modulo 2**k: exact
        return
    kind = values.dtype.type
    if int(moves[0]):
        values += kind(int(moves[0]))
    above = np.empty(len(values), dtype=bool)
    for at in steps.tolist():
        step = int(moves[at]) - int(moves[at - 1])
        np.greater_equal(docs, at, out=above)
        if step > 0:
            np.add(values, kind(step), out=values, where=above)
        else:
            np.subtract(values, kind(-step), out=values, where=above)


def read_ahead(old: IndexReader, buf: Any, kept: list[tuple[int, int]]) -> OldPostings:
    """The old postings of the entries in the ``kept`` spans (old entry numbers), read as
    ``splice_index`` would read them: its first step, taken while the changed sources
    are still being parsed."""
    import numpy as np

    mask = np.zeros(len(old), dtype=bool)
    for first, stop in kept:
        mask[first:stop] = True
    return OldPostings(old, buf, mask)


class OldPostings:
    """The previous index's postings of the entries kept, field by field, and what the
    entries dropped took of each term.

    Read in two steps: knowing only which entries are kept (``kept``, by old number),
    each field's postings less those of the entries dropped, numbered among the kept
    ones; then, knowing the new numbers, ``renumber``.
    """

    def __init__(self, old: IndexReader, buf: Any, kept: Any) -> None:
        import numpy as np

        header = old.header
        self.bits = bits = int(header["doc_bits"])
        self.width = width = int(header["posting_width"])
        self.n_old = len(old)
        self.n_terms = int(header["term_count"])
        postings_at = int(header["sections"]["postings"][0])
        spans = old.numpy_section("spans", "<u4").reshape(-1, 3).astype(np.int64)
        term_spans = old.numpy_section("term_spans", "<u4").astype(np.int64)
        span_terms = np.repeat(np.arange(self.n_terms, dtype=np.int64), np.diff(term_spans))
        big = old.numpy_section("big_tfs", "<u4").reshape(-1, 2).astype(np.int64)
        self.kept = kept
        # A kept entry's place among the kept ones, less its old number.
        moves = np.cumsum(kept) - 1 - np.arange(self.n_old)
        dropped = _runs(~kept)
        # Per field: its spans' terms (old ranks) and postings counts kept, in the file's
        # order (term order); its postings kept as written but for their entry numbers
        # (among the kept); the tfs too large to pack (place among these, tf).
        self.fields: list[Any] = []
        gone: list[Any] = []  # (old term rank, old entry) keys of the postings dropped
        for field_no in range(len(FIELD_WEIGHTS)):
            mine = spans[:, 0] == field_no
            terms, counts, firsts = span_terms[mine], spans[mine, 1], spans[mine, 2]
            if not len(terms):
                self.fields.append(None)
                continue
            # The field's postings lie together, term after term.
            low, high = int(firsts[0]), int(firsts[0] + counts.sum())
            values = unpack_postings(buf, postings_at + low * width, high - low, width)
            docs = values & values.dtype.type((1 << bits) - 1)
            lost = _drop(values, docs, kept, moves, dropped)  # the postings dropped, by place
            if len(lost):
                span_of = np.searchsorted(np.cumsum(counts), lost, side="right")
                gone.append(terms[span_of] * self.n_old + docs[lost].astype(np.int64))
                counts = counts - np.bincount(span_of, minlength=len(counts))
            del docs
            large = big[(big[:, 0] >= low) & (big[:, 0] < high)]
            large[:, 0] -= low
            if len(lost):
                values = np.delete(values, lost)
                before = np.searchsorted(lost, large[:, 0])
                still = before == len(lost)
                still |= lost[np.minimum(before, len(lost) - 1)] != large[:, 0]
                large = large[still]
                large[:, 0] -= before[still]
            self.fields.append((terms, counts, values, large))
            del values, lost
        self._gone = gone
        old.forget_pages()

    def renumber(self, numbers: Any, in_order: bool, bits: int, width: int) -> bool:
        """Give the kept entries their new ``numbers`` (by place among the kept).

        Returns whether the postings keep their layout (``shifted``); else they are
        decoded (each one's new entry number and tf) to be laid out anew (``keyed``).
        """
        import numpy as np

        mask = (1 << self.bits) - 1
        shifted = in_order and (bits, width) == (self.bits, self.width)
        moves = numbers - np.arange(len(numbers))
        for field_no, found in enumerate(self.fields):
            if found is None:
                continue
            terms, counts, values, large = found
            if shifted:
                if moves.any():
                    _move(values, values & values.dtype.type(mask), moves)
                continue
            tfs = (values >> self.bits).astype(np.int64)
            tfs[large[:, 0]] = large[:, 1]
            entries = numbers[(values & mask).astype(np.intp)]
            self.fields[field_no] = (terms, counts, entries, tfs)
            del values, tfs, entries
        return shifted

    def removed_df(self) -> Any:
        """Per old term: how many of the entries dropped have it (in any field)."""
        import numpy as np

        if not self._gone:
            return np.zeros(self.n_terms, dtype=np.int64)
        pairs = _distinct(np.concatenate(self._gone))
        self._gone = []
        return np.bincount(pairs // self.n_old, minlength=self.n_terms)

    def shifted(
        self,
        field_no: int,
        vocabulary: _Vocabulary,
        new: _Fresh,
        n_docs: int,
        bits: int,
        tf_limit: int,
    ) -> tuple[Any, Any, Any, Any]:
        """A field's postings, the fresh ones put in place among the old ones kept: the
        spans' term ranks and postings counts, the postings packed, and the large tfs."""
        import numpy as np

        found = self.fields[field_no]
        self.fields[field_no] = None
        dtype = "<u4" if tf_limit << bits <= 1 << 32 else "<u8"
        if found is None:
            found = (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0, dtype=dtype),)
            found += (np.zeros((0, 2), dtype=np.int64),)
        terms, kept_counts, stream, large = found
        having = kept_counts > 0
        span_ranks = vocabulary.old_ranks[terms[having]]
        span_counts = kept_counts[having]
        starts = np.zeros(len(span_ranks) + 1, dtype=np.int64)
        np.cumsum(span_counts, out=starts[1:])
        # Each fresh posting's place: among the old postings of its term (if any), by
        # tf class and entry (a binary search over all of them at once).
        mask = (1 << bits) - 1
        wanted = _classes(new.tfs, tf_limit) * n_docs + new.entries
        at = np.searchsorted(span_ranks, new.ranks)
        same = at < len(span_ranks)
        same[same] = span_ranks[at[same]] == new.ranks[same]
        low = starts[at]
        high = np.where(same, starts[np.minimum(at + 1, len(span_ranks))], low)
        while True:
            open_ = low < high
            if not open_.any():
                break
            middle = (low + high) // 2
            value = stream[np.minimum(middle, len(stream) - 1)].astype(np.int64)
            here = np.minimum(value >> bits, 2) * n_docs + (value & mask)
            below = open_ & (here < wanted)
            low = np.where(below, middle + 1, low)
            high = np.where(open_ & ~below, middle, high)
        places = low
        packed = np.where(new.tfs < tf_limit, new.tfs, 0) << bits | new.entries
        merged = np.insert(stream, places, packed.astype(dtype))
        del stream, packed
        counts = np.zeros(vocabulary.size, dtype=np.int64)
        counts[span_ranks] = span_counts
        counts += np.bincount(new.ranks, minlength=vocabulary.size)
        ranks = np.flatnonzero(counts)
        # The large tfs: the old ones kept, and the fresh ones, by their new places.
        large[:, 0] += np.searchsorted(places, large[:, 0], side="right")
        fresh_big = np.flatnonzero(new.tfs >= tf_limit)
        big = np.concatenate(
            (large, np.stack((places[fresh_big] + fresh_big, new.tfs[fresh_big]), axis=1))
        )
        big = big[np.argsort(big[:, 0])]
        return ranks, counts[ranks], merged, big

    def keyed(
        self,
        field_no: int,
        vocabulary: _Vocabulary,
        new: _Fresh,
        n_docs: int,
        bits: int,
        tf_limit: int,
    ) -> tuple[Any, Any, Any, Any]:
        """As ``shifted`` when the old postings must be laid out anew: each posting's place
        as one key, ``(term rank * 3 + tf class) * n_docs + entry``, sorted."""
        import numpy as np

        found = self.fields[field_no]
        self.fields[field_no] = None
        if found is None:
            keys = tfs = np.zeros(0, dtype=np.int64)
        else:
            terms, counts, entries, tfs = found
            keys = np.repeat(vocabulary.old_ranks[terms], counts)
            keys = _key(keys, tfs, entries, n_docs, tf_limit)
            del terms, counts, entries
            order = np.argsort(keys, kind="stable")
            keys, tfs = keys[order], tfs[order]
            del order
        if len(new):
            new_keys = _key(new.ranks, new.tfs, new.entries, n_docs, tf_limit)
            # The fresh entries' numbers are no old one's: no key is in both.
            places = np.searchsorted(keys, new_keys)
            keys = np.insert(keys, places, new_keys)
            tfs = np.insert(tfs, places, new.tfs)
            del places, new_keys
        term_of = keys // (3 * n_docs)
        starts = _firsts(term_of)
        ranks = term_of[starts]
        counts = np.diff(np.append(starts, len(keys)))
        del term_of
        keys %= n_docs  # now the entries
        packed = np.where(tfs < tf_limit, tfs, 0)
        packed <<= bits
        packed |= keys
        del keys
        big = np.flatnonzero(tfs >= tf_limit)
        big = np.stack((big, tfs[big]), axis=1)
        return ranks, counts, packed.astype("<u8"), big


def _key(ranks: Any, tfs: Any, entries: Any, n_docs: int, tf_limit: int) -> Any:
    """Postings' places in a field's layout: ``(rank * 3 + tf class) * n_docs + entry``."""
    keys = ranks * 3
    keys += _classes(tfs, tf_limit)
    keys *= n_docs
    keys += entries
    return keys


class _Vocabulary:
    """The new term table: the old one less the terms no entry has any more, with the
    fresh entries' new terms put in their places; each term's new rank."""

    def __init__(self, old: IndexReader, removed_df: Any, fresh_terms: list[str]) -> None:
        import numpy as np

        n_terms = int(old.header["term_count"])
        self._blob = old.span("terms", 0, old.section_size("terms"))
        self._ends = old.whole("term_ends")
        table = _Terms(self._blob, self._ends)
        encoded = [term.encode() for term in fresh_terms]
        found = np.full(len(encoded), -1, dtype=np.int64)
        places = np.zeros(len(encoded), dtype=np.int64)  # where a new term goes in the old
        # An edited source's terms are mostly those its old entries had, whose ranks the
        # postings dropped name: looked up by those, a binary search only for the others.
        dropped = {table[rank]: rank for rank in np.flatnonzero(removed_df).tolist()}
        for number, term in enumerate(encoded):
            place = dropped.get(term)
            if place is None:
                place = bisect.bisect_left(table, term)
            if place < n_terms and table[place] == term:
                found[number] = place
            places[number] = place
        known = found >= 0
        self._left = old.numpy_section("term_df", "<u4").astype(np.int64) - removed_df
        survives = self._left > 0
        survives[found[known]] = True
        new = sorted(np.flatnonzero(~known).tolist(), key=encoded.__getitem__)
        self._new = [encoded[number] for number in new]
        new_places = places[new]
        removed_before = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(~survives, out=removed_before[1:])
        self.old_ranks = np.arange(n_terms, dtype=np.int64) - removed_before[:-1]
        self.old_ranks += np.searchsorted(new_places, np.arange(n_terms), side="right")
        new_ranks = new_places - removed_before[new_places] + np.arange(len(new))
        self.fresh_ranks = np.empty(len(encoded), dtype=np.int64)
        self.fresh_ranks[known] = self.old_ranks[found[known]]
        self.fresh_ranks[new] = new_ranks
        self.size = int(survives.sum()) + len(new)
        self._survives = survives
        self._new_ranks = new_ranks
        self._new_places = new_places.tolist()

    def document_freqs(self, fresh_pairs: list[Any], n_fresh: int) -> Any:
        """Each term's document frequency: the old one, less the entries gone, plus the
        fresh entries having it (``fresh_pairs``: their (rank, fresh entry) keys)."""
        import numpy as np

        freqs = np.zeros(self.size, dtype=np.int64)
        survives = self._survives
        freqs[self.old_ranks[survives]] = self._left[survives]
        if fresh_pairs:
            ranks = _distinct(np.concatenate(fresh_pairs)) // n_fresh
            freqs += np.bincount(ranks, minlength=self.size)
        return freqs

    def term_bytes(self) -> bytes:
        """The new term table's bytes: the old one's, cut and filled in."""
        blob, ends = self._blob, self._ends

        def start(number: int) -> int:
            return ends[number - 1] if number else 0

        # Each new term goes before the old term at its place; that one may be dropped.
        events = [(place, 0, term) for place, term in zip(self._new_places, self._new, strict=True)]
        events += [(number, 1, b"") for number in (~self._survives).nonzero()[0].tolist()]
        events.sort()
        pieces = []
        cursor = 0  # the first old term not yet copied
        for place, kind, term in events:
            pieces.append(blob[start(cursor) : start(place)])
            if kind == 0:
                pieces.append(term)
                cursor = place
            else:
                cursor = place + 1
        pieces.append(blob[start(cursor) :])
        return b"".join(pieces)

    def term_ends(self) -> Any:
        """Where each term of the new table ends in ``term_bytes``."""
        import numpy as np

        ends = np.frombuffer(self._ends, dtype=np.uint32).astype(np.int64)
        sizes = np.diff(ends, prepend=0)
        new_sizes = np.zeros(self.size, dtype=np.int64)
        survives = self._survives
        new_sizes[self.old_ranks[survives]] = sizes[survives]
        new_sizes[self._new_ranks] = [len(term) for term in self._new]
        return np.cumsum(new_sizes)


class _Blocks:
    """The new index's entry blocks: runs of the old file's, and the fresh sources' from
    their spool, copied as they are."""

    def __init__(self, old: IndexReader, handle: BinaryIO, fresh: Corpus) -> None:
        self._old, self._handle, self._fresh = old, handle, fresh
        self.sizes: list[int] = []
        self.counts: list[int] = []
        self._copies: list[tuple[BinaryIO, int, int]] = []  # (file, start, end) in order
        self._fresh_block = 0  # the next fresh block
        self._fresh_at = 0  # where it starts in the spool

    def add(self, piece: tuple[int, int] | int) -> None:
        """The blocks of the next piece of ``Layout.pieces``."""
        if isinstance(piece, tuple):
            old = self._old
            low, high = old.blocks_of(*piece)
            start, end = old.block_span(low, high)
            ends, firsts = old.whole("block_ends"), old.block_firsts()
            self.sizes += [ends[n] - (ends[n - 1] if n else 0) for n in range(low, high)]
            self.counts += [firsts[n + 1] - firsts[n] for n in range(low, high)]
            self._copy(self._handle, start, end)
            return
        fresh, left, size = self._fresh, piece, 0
        while left > 0:
            count = fresh.block_counts[self._fresh_block]
            self.counts.append(count)
            self.sizes.append(fresh.block_sizes[self._fresh_block])
            size += fresh.block_sizes[self._fresh_block]
            left -= count
            self._fresh_block += 1
        self._copy(fresh.spool, self._fresh_at, self._fresh_at + size)
        self._fresh_at += size

    def _copy(self, source: BinaryIO, start: int, end: int) -> None:
        last = self._copies[-1] if self._copies else None
        if last is not None and last[0] is source and last[2] == start:
            self._copies[-1] = (source, last[1], end)
        elif end > start:
            self._copies.append((source, start, end))

    def _pieces(self) -> Any:
        """The entries section's bytes, a piece at a time."""
        for source, start, end in self._copies:
            source.seek(start)
            left = end - start
            while left > 0:
                piece = source.read(min(left, 1 << 20))
                if not piece:
                    raise OSError(f"{getattr(source, 'name', 'spool')}: shorter than expected")
                yield piece
                left -= len(piece)

    def crcs(self) -> list[int]:
        """The entries section's chunk checksums."""
        chunker = Chunker()
        for piece in self._pieces():
            chunker.feed(piece)
        return chunker.done()

    def write(self, out: BinaryIO) -> None:
        """Write the entries section to ``out``."""
        for piece in self._pieces():
            out.write(piece)


def _distinct(values: Any) -> Any:
    """The distinct ``values``, sorted: ``np.unique`` without its import of ``numpy.ma``
    (~10 ms of a rebuild's start-up)."""
    import numpy as np

    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
