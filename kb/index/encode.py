"""Write the index file: prepared sources → BM25Plus contributions (numpy) → one file.

The layout is ``kb.index.reader``'s (``SECTIONS``).

BM25Plus as rank-bm25 computes it (tests/test_build_speed.py keeps rank-bm25 as the
reference), counted with numpy over term numbers instead of per-document dicts and a
per-posting loop.
"""

from __future__ import annotations

import array
import io
import json
import math
import shutil
from typing import Any, BinaryIO

from kb.index.params import DELTA, FIELD_WEIGHTS, K1, UNKNOWN_SHARE, B, params
from kb.index.prepare import FIELDS, Prepared
from kb.index.reader import (
    _INT,
    CHECK_CHUNK,
    FORMAT,
    HEADER_CRC_ZERO,
    SCHEMA_VERSION,
    SECTIONS,
    Chunker,
    seal_header,
)

# The items of an ``array.array(_INT)`` as numpy sees them: native 4-byte ints.
_NP_INT = "=i4"


class Corpus:
    """Prepared sources gathered for one index, in order.

    Holds only what the postings need, as int arrays (each source's term numbers mapped to
    one numbering), and the entries' parents; the entries' stored bytes go straight to
    ``spool``, to be copied into the index file last.
    """

    def __init__(self, spool: BinaryIO) -> None:
        self.spool = spool
        self.numbering: dict[str, int] = {}
        self.terms = [array.array(_INT) for _ in FIELDS]
        self.lengths = [array.array(_INT) for _ in FIELDS]
        self.sizes: list[int] = []
        self.parents: list[int] = []  # each entry's parent's number, -1 for none
        self.source_counts: list[int] = []  # entries of each source, in order
        self.source_warnings: list[list[str]] = []  # each source's warnings, in order
        self.tokenize_seconds = 0.0
        self.numbering_seconds = 0.0

    def __len__(self) -> int:
        return len(self.sizes)

    def add(self, prepared: Prepared) -> None:
        """Append one source's entries (or a run of unchanged ones: ``prepared.runs``)."""
        import numpy as np  # build time only: the query path never imports numpy

        numbering = self.numbering
        mapping = np.fromiter(
            (numbering.setdefault(term, len(numbering)) for term in prepared.vocab),
            dtype=_NP_INT,
            count=len(prepared.vocab),
        )
        for number in range(len(FIELDS)):
            local = np.frombuffer(prepared.terms[number], dtype=_NP_INT)
            self.terms[number].frombytes(mapping[local].tobytes())
            self.lengths[number].extend(prepared.lengths[number])
        if prepared.copy_lines is not None:
            prepared.copy_lines(self.spool)
        else:
            self.spool.write(prepared.lines)
        base = len(self.sizes)
        self.parents.extend(base + p if p >= 0 else -1 for p in prepared.local_parents())
        self.sizes.extend(prepared.sizes)
        if prepared.runs is None:
            self.source_counts.append(len(prepared))
            self.source_warnings.append(list(prepared.warnings))
        else:
            for count, warnings in prepared.runs:
                self.source_counts.append(count)
                self.source_warnings.append(list(warnings))
        self.tokenize_seconds += prepared.tokenize_seconds
        self.numbering_seconds += prepared.numbering_seconds


def write_index(corpus: Corpus, fingerprint: dict[str, Any], out: BinaryIO) -> None:
    """The index of ``corpus`` into ``out``: header line, vocab, postings, entries."""
    import numpy as np

    n_docs = len(corpus)
    by_number = list(corpus.numbering)
    corpus.numbering = {}
    # Each term's rank in sorted order: postings are laid out term by term, sorted.
    rank = np.empty(len(by_number), dtype=np.int64)
    rank[sorted(range(len(by_number)), key=by_number.__getitem__)] = np.arange(len(rank))
    by_rank = sorted(by_number)
    del by_number

    fields = []
    postings_size = 0  # in postings (12 bytes each)
    # Per field: its postings' docs (int32) and contributions (float64), term by term, and
    # each term's rank and number of postings. Big arrays are updated in place.
    blocks: list[tuple[Any, Any, list[int], list[int]]] = []
    # Per field: (term ranks, field numbers, counts, first posting numbers) of its spans.
    span_parts: list[tuple[Any, Any, Any, Any]] = []
    tf_parts: list[Any] = []  # per field: its postings' term frequencies
    laid_out: list[Any] = []  # per field: its postings as written (see _interleave)
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        fields.append({"name": name, "weight": weight, "delta": DELTA})
        term_nums = np.frombuffer(corpus.terms[field_no], dtype=_NP_INT)
        doc_lens = np.frombuffer(corpus.lengths[field_no], dtype=_NP_INT)
        corpus.terms[field_no] = corpus.lengths[field_no] = array.array(_INT)
        total = int(doc_lens.sum(dtype=np.int64))
        if n_docs == 0 or total == 0:
            continue  # rank-bm25 cannot score a field with no token at all (avgdl 0)
        # One (term rank, doc) key per token; their distinct values are the postings, in
        # file order (term by term, sorted; docs ascending), and their counts the tfs.
        keys, tfs = _postings_keys(rank, term_nums, doc_lens)
        del term_nums
        term_of = keys // n_docs
        starts = _firsts(term_of)
        ranks = term_of[starts].tolist()
        counts = np.diff(np.append(starts, len(keys))).tolist()
        span_parts.append(
            (
                np.array(ranks, dtype=np.int64),
                np.full(len(ranks), field_no, dtype=np.int64),
                np.array(counts, dtype=np.int64),
                starts + postings_size,
            )
        )
        postings_size += len(keys)
        del starts
        term_of *= n_docs
        keys -= term_of  # now the docs
        del term_of
        docs = keys.astype("<i4")
        del keys
        # rank-bm25's idf and its own expression, term by term, minus the idf*delta every
        # document gets for the term (added back once per query term at search):
        #   idf * (DELTA + (tf * (K1 + 1)) / (norm + tf)) - idf * DELTA
        # in place, in the same order (IEEE + and * are commutative, so exactly the same).
        # The reader computes each idf again from the postings count, by the same expression.
        idfs = [math.log((n_docs + 1) / df) for df in counts]
        avgdl = total / n_docs
        norms = K1 * (1 - B + B * doc_lens.astype(np.float64) / avgdl)
        del doc_lens
        tf_parts.append(tfs.astype("<u4"))
        extras = tfs.astype(np.float64)
        del tfs
        denominators = norms[docs]
        del norms
        denominators += extras
        extras *= K1 + 1
        extras /= denominators
        del denominators
        extras += DELTA
        idf = np.repeat(np.array(idfs, dtype=np.float64), counts)
        extras *= idf
        idf *= DELTA
        extras -= idf
        del idf
        laid_out.append(_interleave(docs, extras.astype("<f8", copy=False), counts))
        blocks.append((docs, None, ranks, counts))
        del docs, extras
    # A term's overall document frequency counts the entries having it in any field.
    document_freq = _document_freqs(blocks, len(by_rank), n_docs) if blocks else []
    del blocks
    # The term table: the terms' UTF-8 bytes, sorted, and where each ends; every term of
    # the corpus has postings in some field (an empty field numbers no term).
    encoded = [term.encode() for term in by_rank]
    del by_rank
    term_ends = np.cumsum([len(t) for t in encoded], dtype=np.int64)
    term_bytes = b"".join(encoded)
    del encoded
    # Spans in term order, a term's fields in field order: a stable sort by term rank of
    # the fields' spans concatenated in field order.
    if span_parts:
        span_ranks, span_fields, span_counts, span_first = (
            np.concatenate(column) for column in zip(*span_parts, strict=True)
        )
        order = np.argsort(span_ranks, kind="stable")
        span_table = np.stack(
            (span_fields[order], span_counts[order], span_first[order]), axis=1
        ).astype("<u4")
        term_spans = np.searchsorted(span_ranks[order], np.arange(len(term_ends) + 1))
        del order, span_ranks, span_fields, span_counts, span_first
    else:
        span_table = np.zeros((0, 3), dtype="<u4")
        term_spans = np.zeros(len(term_ends) + 1, dtype=np.int64)
    del span_parts
    offsets = np.cumsum(np.array(corpus.sizes, dtype=np.int64))
    parents = corpus.parents
    if postings_size >= 1 << 32 or len(term_bytes) >= 1 << 32:
        raise ValueError("an index this large needs 64-bit vocabulary offsets")
    binary: dict[str, bytes] = {
        "terms": term_bytes,
        "term_ends": term_ends.astype("<u4").tobytes(),
        "term_df": np.array(document_freq, dtype="<u4").tobytes(),
        "term_spans": term_spans.astype("<u4").tobytes(),
        "spans": span_table.tobytes(),
        "tfs": b"".join(part.tobytes() for part in tf_parts),
        "parents": np.array(parents, dtype="<i4").tobytes(),
        "entry_ends": offsets.astype("<u8").tobytes(),
    }
    del term_bytes, term_ends, term_spans, span_table, parents, tf_parts
    spool = corpus.spool
    checksums = {name: _crcs(data) for name, data in binary.items()}
    chunker = Chunker()
    for words in laid_out:
        chunker.feed(memoryview(words).cast("B"))
    checksums["postings"] = chunker.done()
    checksums["entries"] = _spool_crcs(spool)
    header: dict[str, Any] = {
        "checksums": checksums,
        "header_crc": HEADER_CRC_ZERO.decode(),
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fields": fields,
        "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1),
        "term_count": len(document_freq),
        "fingerprint": fingerprint,
        "entry_count": n_docs,
        "source_counts": corpus.source_counts,
        # An unchanged source is not parsed again: its warnings are kept to report again.
        "source_warnings": corpus.source_warnings,
    }
    sizes = {name: len(binary[name]) if name in binary else 0 for name in SECTIONS}
    sizes["postings"] = 12 * postings_size
    sizes["entries"] = int(offsets[-1]) if len(offsets) else 0
    # Section offsets depend on the header's own length: lay out, then fix the point.
    header["sections"] = {name: [0, 0] for name in SECTIONS}
    while True:
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        at = len(head)
        sections = {}
        for name in SECTIONS:
            at += -at % 8  # each section 8-byte aligned
            sections[name] = [at, sizes[name]]
            at += sizes[name]
        if sections == header["sections"]:
            break
        header["sections"] = sections
    written = len(head)
    out.write(seal_header(head))
    for name in SECTIONS:
        at = sections[name][0]
        out.write(bytes(at - written))
        written = at + sizes[name]
        if name == "postings":
            while laid_out:
                out.write(memoryview(laid_out.pop(0)).cast("B"))
        elif name == "entries":
            spool.seek(0)
            if isinstance(spool, io.BytesIO):
                out.write(spool.getbuffer())
            else:
                shutil.copyfileobj(spool, out, 1 << 20)
        else:
            out.write(binary.pop(name))


def _interleave(docs: Any, extras: Any, counts: list[int]) -> Any:
    """A field's postings as the file holds them, as 4-byte words: term after term, the
    term's documents (i32), then their contributions (f64, two words each).

    Laid out a range of terms at a time, so that the index arrays stay small.
    """
    import numpy as np

    words = np.empty(3 * len(docs), dtype="<i4")
    halves = extras.view("<i4").reshape(-1, 2)  # each f64 as its two words, in order
    sizes = np.array(counts, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    first = 0
    while first < len(sizes):
        # Whole terms, about PASS_TOKENS postings (at least one term).
        stop = max(first + 1, int(np.searchsorted(starts, starts[first] + PASS_TOKENS)))
        low = int(starts[first])
        high = int(starts[stop - 1] + sizes[stop - 1])
        span_start = np.repeat(starts[first:stop], sizes[first:stop])
        within = np.arange(low, high, dtype=np.int64) - span_start
        span_start *= 3
        span_start += within  # where each document goes
        words[span_start] = docs[low:high]
        span_start += within
        span_start += np.repeat(sizes[first:stop], sizes[first:stop])  # its contribution
        words[span_start] = halves[low:high, 0]
        span_start += 1
        words[span_start] = halves[low:high, 1]
        first = stop
    return words


def _crcs(data: bytes) -> list[int]:
    chunker = Chunker()
    chunker.feed(data)
    return chunker.done()


def _spool_crcs(spool: BinaryIO) -> list[int]:
    """The entries' chunk checksums: the spooled entries, read once more."""
    chunker = Chunker()
    spool.seek(0)
    while piece := spool.read(CHECK_CHUNK):
        chunker.feed(piece)
    spool.seek(0, io.SEEK_END)
    return chunker.done()


# Tokens taken per pass when counting a field's postings: the (term, doc) key of every
# token of a large field at once would be the build's largest allocation (8 bytes a
# token, several times over); a pass's keys are made distinct before the next pass.
PASS_TOKENS = 1 << 20
# Whether the passes' tfs may ride in their keys' spare low bits while sorting.
PACK_TFS = True


def _postings_keys(rank: Any, term_nums: Any, doc_lens: Any) -> tuple[Any, Any]:
    """A field's distinct (term rank, doc) keys, ``rank * n_docs + doc``, sorted, and tfs."""
    import numpy as np

    n_docs = len(doc_lens)
    ends = np.cumsum(doc_lens, dtype=np.int64)  # where each doc's tokens end
    parts: list[tuple[Any, Any]] = []
    doc = 0
    while doc < n_docs:
        first = int(ends[doc - 1]) if doc else 0
        stop = max(doc + 1, int(np.searchsorted(ends, first + PASS_TOKENS, side="right")))
        keys = rank[term_nums[first : int(ends[stop - 1])]]
        if len(keys):
            keys *= n_docs
            keys += np.repeat(np.arange(doc, stop, dtype=np.int64), doc_lens[doc:stop])
            parts.append(_unique_counts(keys))
        doc = stop
    if len(parts) == 1:
        return parts[0]
    keys = np.concatenate([k for k, _ in parts])
    tfs = np.concatenate([t for _, t in parts])
    del parts
    # Each pass is sorted; all of them together are sorted once (timsort: merging the
    # passes' runs), with each tf packed into the low bits of its key when they fit (no
    # argsort's index array then).
    shift = 63 - int(keys.max()).bit_length()
    if PACK_TFS and shift > 0 and int(tfs.max()).bit_length() <= shift:
        keys <<= shift
        keys |= tfs
        del tfs
        keys.sort(kind="stable")
        tfs = keys & ((1 << shift) - 1)
        keys >>= shift
        return keys, tfs
    order = np.argsort(keys, kind="stable")
    return keys[order], tfs[order]


def _document_freqs(
    blocks: list[tuple[Any, Any, list[int], list[int]]], n_terms: int, n_docs: int
) -> list[int]:
    """How many entries have each term (by rank) in any field, from the fields' postings.

    Counted a range of terms at a time: the (term, doc) pairs of every field at once would
    be as large as all the postings again.
    """
    import numpy as np

    # Per field: its terms' ranks, and where each term's postings start and end.
    spans = []
    for docs, _, field_ranks, counts in blocks:
        ends = np.cumsum(counts, dtype=np.int64)
        spans.append((docs, np.array(field_ranks, dtype=np.int64), ends - counts, ends))
    freqs = np.zeros(n_terms, dtype=np.int64)
    step = max(1, n_terms * PASS_TOKENS // max(1, sum(len(b[0]) for b in blocks)))
    for low in range(0, n_terms, step):
        pieces = []
        for docs, ranks, starts, ends in spans:
            first, stop = np.searchsorted(ranks, [low, low + step])
            if first == stop:
                continue
            piece = np.repeat(ranks[first:stop], ends[first:stop] - starts[first:stop])
            piece *= n_docs
            piece += docs[starts[first] : ends[stop - 1]]
            pieces.append(piece)
        if pieces:
            pairs = np.concatenate(pieces)
            pairs.sort(kind="stable")  # timsort: merges the fields' sorted runs
            distinct = pairs[_firsts(pairs)] // n_docs - low
            counted = np.bincount(distinct)
            freqs[low : low + len(counted)] += counted
    result: list[int] = freqs.tolist()
    return result


def _firsts(values: Any) -> Any:
    """Where each run of equal values starts in a non-empty sorted array."""
    import numpy as np

    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return np.flatnonzero(first)


def _unique_counts(keys: Any) -> tuple[Any, Any]:
    """The distinct values of a non-empty int64 array, sorted, and how often each occurs.

    ``np.unique(keys, return_counts=True)``, several times faster here: a stable sort in
    place (timsort: the keys come in long sorted runs) instead of numpy's hashing.
    """
    import numpy as np

    keys.sort(kind="stable")
    at = _firsts(keys)
    return keys[at], np.diff(np.append(at, len(keys)))
