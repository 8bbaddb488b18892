"""Write the index file: prepared sources → postings and lengths (numpy) → one file.

The layout is ``kb.index.reader``'s (``SECTIONS``). The postings hold each entry's term
frequency; the reader computes BM25Plus from them and the entries' field lengths as
rank-bm25 does (tests/test_build_speed.py keeps rank-bm25 as the reference), counted
with numpy over term numbers instead of per-document dicts.
"""

from __future__ import annotations

import array
import functools
import io
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from kb.index.params import DELTA, FIELD_WEIGHTS, UNKNOWN_SHARE, params
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
    ``spool`` (compressed in blocks), to be copied into the index file last.
    """

    def __init__(self, spool: BinaryIO) -> None:
        self.spool = spool
        self.numbering: dict[str, int] = {}
        self.terms = [array.array(_INT) for _ in FIELDS]
        self.lengths = [array.array(_INT) for _ in FIELDS]
        self.count = 0  # entries
        self.block_sizes: list[int] = []  # stored bytes of each block of entries
        self.block_counts: list[int] = []  # entries in each block
        self.parents: list[int] = []  # each entry's parent's number, -1 for none
        self.source_counts: list[int] = []  # entries of each source, in order
        self.source_warnings: list[list[str]] = []  # each source's warnings, in order
        self.tokenize_seconds = 0.0
        self.numbering_seconds = 0.0

    def __len__(self) -> int:
        return self.count

    def add(self, prepared: Prepared) -> None:
        """Append one source's entries."""
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
        self.spool.write(prepared.lines)
        base = self.count
        self.parents.extend(base + p if p >= 0 else -1 for p in prepared.local_parents())
        self.count += len(prepared)
        self.block_sizes.extend(prepared.block_sizes)
        self.block_counts.extend(prepared.block_counts)
        self.source_counts.append(len(prepared))
        self.source_warnings.append(list(prepared.warnings))
        self.tokenize_seconds += prepared.tokenize_seconds
        self.numbering_seconds += prepared.numbering_seconds


def posting_layout(n_docs: int) -> tuple[int, int]:
    """How many low bits of a posting hold its entry's number, and its width in bytes.

    A posting is ``doc | tf << doc_bits``, little-endian, in the fewest bytes that leave
    at least 7 bits to the tf; a larger tf is written 0 and kept in ``big_tfs``.
    """
    doc_bits = max(1, (n_docs - 1).bit_length())
    return doc_bits, (doc_bits + 7 + 7) // 8


def pack_postings(values: Any, width: int) -> bytes:
    """Postings (ints below ``1 << 8 * width``) as written: ``width`` bytes each, little-endian."""
    import numpy as np

    if width in (1, 2, 4, 8):
        return bytes(values.astype(f"<u{width}", copy=False).tobytes())  # one copy, not two
    if width == 3:  # up to 2**17 entries: two fields of a record, not a copy byte by byte
        laid = np.empty(len(values), dtype=[("low", "<u2"), ("high", "u1")])
        laid["low"] = values & 0xFFFF
        laid["high"] = values >> 16
        return bytes(laid.tobytes())
    return bytes(values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].tobytes())


def unpack_postings(buf: Any, at: int, count: int, width: int) -> Any:
    """``count`` postings as written from byte ``at`` of ``buf``: a numpy array of uint32
    (``width`` up to 4) or uint64 (the inverse of ``pack_postings``)."""
    import numpy as np

    word = 4 if width <= 4 else 8
    if width == word or not count:
        values = np.frombuffer(buf, dtype=f"<u{width}", count=count, offset=at)
        return values.astype(f"=u{word}")
    if at + width * (count - 1) + word <= len(buf):
        # Each posting's bytes and the next one's first: a word read every ``width`` bytes.
        words = np.ndarray((count,), dtype=f"<u{word}", buffer=buf, offset=at, strides=(width,))
        return np.bitwise_and(words, (1 << 8 * width) - 1, dtype=f"=u{word}")
    wide = np.zeros((count, word), dtype=np.uint8)
    wide[:, :width] = np.frombuffer(buf, dtype=np.uint8, count=count * width, offset=at).reshape(
        count, width
    )
    return wide.view(f"<u{word}").ravel().astype(f"=u{word}")


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

    doc_bits, width = posting_layout(n_docs)
    tf_limit = 1 << (8 * width - doc_bits)
    fields = []
    postings_size = 0  # in postings
    # Per field: its postings' docs, term by term, and each term's rank and postings count.
    blocks: list[tuple[Any, Any, list[int], list[int]]] = []
    # Per field: (term ranks, field numbers, counts, first posting numbers) of its spans.
    span_parts: list[tuple[Any, Any, Any, Any]] = []
    laid_out: list[Any] = []  # per field: its postings as written
    big_tfs: list[Any] = []  # per field: (posting number, tf) of each tf too large to pack
    lengths: list[Any] = []  # per field: each entry's length in tokens
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        term_nums = np.frombuffer(corpus.terms[field_no], dtype=_NP_INT)
        doc_lens = np.frombuffer(corpus.lengths[field_no], dtype=_NP_INT)
        corpus.terms[field_no] = corpus.lengths[field_no] = array.array(_INT)
        total = int(doc_lens.sum(dtype=np.int64))
        # The reader's avgdl is total / entry_count, as rank-bm25's.
        longest = int(doc_lens.max()) if n_docs else 0
        fields.append(
            {"name": name, "weight": weight, "delta": DELTA, "total": total, "longest": longest}
        )
        lengths.append(doc_lens.astype(np.int64))
        if n_docs == 0 or total == 0:
            continue  # rank-bm25 cannot score a field with no token at all (avgdl 0)
        # One (term rank, doc) key per token; their distinct values are the postings (term
        # by term, sorted; docs ascending), and their counts the tfs.
        keys, tfs = _postings_keys(rank, term_nums, doc_lens)
        del term_nums, doc_lens
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
        del starts
        term_of *= n_docs
        keys -= term_of  # now the docs
        del term_of
        # Within a term: postings whose tf did not fit (written 0), then those of tf 1 (the
        # reader takes them at once), then the rest, each by entry.
        tfs = tfs.astype(np.int64)
        packed = np.where(tfs < tf_limit, tfs, 0)
        packed <<= doc_bits
        packed |= keys
        del keys
        _partition_by_tf(packed, tfs, counts, doc_bits)
        big = np.flatnonzero(tfs >= tf_limit)
        if len(big):
            big_tfs.append(np.stack((big + postings_size, tfs[big]), axis=1))
        del tfs
        postings_size += len(packed)
        laid_out.append(pack_postings(packed, width))
        packed &= (1 << doc_bits) - 1  # now the docs
        blocks.append((packed.astype("<i4"), None, ranks, counts))
        del packed
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
    spool = corpus.spool
    parts = Parts(
        n_docs=n_docs,
        doc_bits=doc_bits,
        width=width,
        fields=fields,
        term_bytes=term_bytes,
        term_ends=term_ends,
        document_freq=document_freq,
        span_parts=span_parts,
        laid_out=laid_out,
        big_tfs=big_tfs,
        lengths=lengths,
        parents=corpus.parents,
        block_sizes=corpus.block_sizes,
        block_counts=corpus.block_counts,
        entry_crcs=_spool_crcs(spool),
        write_entries=functools.partial(_copy_spool, spool),
        source_counts=corpus.source_counts,
        source_warnings=corpus.source_warnings,
    )
    del term_bytes, term_ends, span_parts, laid_out, big_tfs, lengths
    write_parts(parts, fingerprint, out)


@dataclass
class Parts:
    """Everything an index file holds, but laid out: what ``write_parts`` writes.

    Made by ``write_index`` from prepared sources, or by ``kb.index.splice`` from a
    previous index and the sources that changed since; either way the same file.
    """

    n_docs: int
    doc_bits: int
    width: int  # bytes a posting
    fields: list[dict[str, Any]]  # the header's: name, weight, delta, total, longest
    term_bytes: bytes  # the terms' UTF-8 bytes, sorted, back to back
    term_ends: Any  # where each term's bytes end (numpy ints)
    document_freq: Any  # in how many entries each term occurs (a sequence of ints)
    # Per field with postings: its spans' term ranks, field numbers, postings counts and
    # first posting numbers (numpy arrays, in term order).
    span_parts: list[tuple[Any, Any, Any, Any]]
    laid_out: list[Any]  # per field with postings: its postings as written (bytes)
    big_tfs: list[Any]  # per field: (posting number, tf) pairs of tfs too large to pack
    lengths: list[Any]  # per field: each entry's length in tokens (numpy ints)
    parents: Any  # each entry's parent's number, -1 for none (a sequence of ints)
    block_sizes: list[int]  # stored bytes of each block of entries
    block_counts: list[int]  # entries in each block
    entry_crcs: list[int]  # the entries section's chunk checksums
    write_entries: Callable[[BinaryIO], None]  # writes the entry blocks, in order
    source_counts: list[int]
    source_warnings: list[list[str]]


def write_parts(parts: Parts, fingerprint: dict[str, Any], out: BinaryIO) -> None:
    """The index file of ``parts`` into ``out``: the header, then every section."""
    import numpy as np

    n_docs = parts.n_docs
    term_ends = parts.term_ends
    # Spans in term order, a term's fields in field order: a stable sort by term rank of
    # the fields' spans concatenated in field order.
    if parts.span_parts:
        span_ranks, span_fields, span_counts, span_first = (
            np.concatenate(column) for column in zip(*parts.span_parts, strict=True)
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
    parts.span_parts = []
    lengths = parts.lengths
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    length_width = 2 if not len(all_lengths) or int(all_lengths.max()) < 1 << 16 else 4
    block_ends = np.cumsum(np.array(parts.block_sizes, dtype=np.int64))
    block_firsts = np.cumsum([0, *parts.block_counts], dtype=np.int64)
    laid_out = parts.laid_out
    postings_bytes = sum(len(part) for part in laid_out)
    if postings_bytes // parts.width >= 1 << 32 or len(parts.term_bytes) >= 1 << 32:
        raise ValueError("an index this large needs 64-bit vocabulary offsets")
    binary: dict[str, bytes] = {
        "terms": parts.term_bytes,
        "term_ends": term_ends.astype("<u4").tobytes(),
        "term_df": np.asarray(parts.document_freq, dtype="<u4").tobytes(),
        "term_spans": term_spans.astype("<u4").tobytes(),
        "spans": span_table.tobytes(),
        "big_tfs": b"".join(part.astype("<u4").tobytes() for part in parts.big_tfs),
        "lengths": all_lengths.astype(f"<u{length_width}").tobytes(),
        "parents": np.asarray(parts.parents, dtype="<i4").tobytes(),
        "block_ends": block_ends.astype("<u8").tobytes(),
        "block_firsts": block_firsts.astype("<u4").tobytes(),
    }
    parts.term_bytes = b""
    parts.lengths = parts.big_tfs = parts.laid_out = []
    del term_spans, span_table, lengths, all_lengths
    checksums = {name: _crcs(data) for name, data in binary.items()}
    chunker = Chunker()
    for part in laid_out:
        chunker.feed(part)
    checksums["postings"] = chunker.done()
    checksums["entries"] = parts.entry_crcs
    header: dict[str, Any] = {
        "checksums": checksums,
        "header_crc": HEADER_CRC_ZERO.decode(),
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fields": parts.fields,
        "doc_bits": parts.doc_bits,
        "posting_width": parts.width,
        "length_width": length_width,
        "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1),
        "term_count": len(parts.document_freq),
        "fingerprint": fingerprint,
        "entry_count": n_docs,
        "source_counts": parts.source_counts,
        # An unchanged source is not parsed again: its warnings are kept to report again.
        "source_warnings": parts.source_warnings,
    }
    sizes = {name: len(binary[name]) if name in binary else 0 for name in SECTIONS}
    sizes["postings"] = postings_bytes
    sizes["entries"] = int(block_ends[-1]) if len(block_ends) else 0
    # Section offsets depend on the header's own length: lay out, then fix the point.
    header["sections"] = {name: [0, 0] for name in SECTIONS}
    # The header as json.dumps(header, sort_keys=True) writes it, its values encoded once:
    # only the sections change from one round to the next (the fingerprint is ~0.5 MB).
    values = {key: _dumps(value) for key, value in header.items() if key != "sections"}
    while True:
        values["sections"] = _dumps(header["sections"])
        pairs = ",".join(f"{_dumps(key)}:{values[key]}" for key in sorted(values))
        head = ("{" + pairs + "}").encode() + b"\n"
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
                out.write(laid_out.pop(0))
        elif name == "entries":
            parts.write_entries(out)
        else:
            out.write(binary.pop(name))


def _dumps(value: Any) -> str:
    """``value`` as compact JSON, keys sorted."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _copy_spool(spool: BinaryIO, out: BinaryIO) -> None:
    """Copy the spooled entry blocks to ``out``."""
    spool.seek(0)
    if isinstance(spool, io.BytesIO):
        out.write(spool.getbuffer())
    else:
        shutil.copyfileobj(spool, out, 1 << 20)


def _partition_by_tf(packed: Any, tfs: Any, counts: list[int], doc_bits: int) -> None:
    """Lay each span's postings out by tf class (``_by_tf_class``), in place, a range of
    spans (about PASS_TOKENS postings) at a time: the arrays counting where each posting
    goes stay small."""
    import numpy as np

    sizes = np.array(counts, dtype=np.int64)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    first = 0
    while first < len(sizes):
        stop = max(first + 1, int(np.searchsorted(starts, starts[first] + PASS_TOKENS)))
        low, high = int(starts[first]), int(ends[stop - 1])
        where = _by_tf_class(np.minimum(packed[low:high] >> doc_bits, 2), counts[first:stop])
        packed[low:high][where] = packed[low:high].copy()
        tfs[low:high][where] = tfs[low:high].copy()
        first = stop


def _by_tf_class(classes: Any, counts: list[int]) -> Any:
    """Where each posting goes so that within its span those of class 0 come first, then
    1, then 2, each kept in order: a stable partition, counted instead of sorted."""
    import numpy as np

    sizes = np.array(counts, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    span_of = np.repeat(np.arange(len(sizes)), sizes)
    where = np.empty(len(classes), dtype=np.int64)
    free = starts.copy()  # per span: where its next class starts
    for kind in range(3):
        mine = classes == kind
        seen = np.zeros(len(mine) + 1, dtype=np.int64)
        np.cumsum(mine, out=seen[1:])  # how many of the class come before each posting
        at = np.flatnonzero(mine)
        spans = span_of[at]
        where[at] = free[spans] + seen[at] - seen[starts][spans]
        free += seen[starts + sizes] - seen[starts]
    return where


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
