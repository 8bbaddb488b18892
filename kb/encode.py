"""Write the index file: prepared sources → BM25Plus contributions (numpy) → one file.

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

from kb.index import _INT, FORMAT, SCHEMA_VERSION
from kb.params import DELTA, FIELD_WEIGHTS, K1, UNKNOWN_SHARE, B, params
from kb.prepare import FIELDS, Prepared

# The items of an ``array.array(_INT)`` as numpy sees them: native 4-byte ints.
_NP_INT = "=i4"


class Corpus:
    """Prepared sources gathered for one index, in order.

    Holds only what the postings need, as int arrays (each source's term numbers mapped to
    one numbering), and the entry ids; the entries' JSON lines go straight to ``spool``, to
    be copied into the index file last.
    """

    def __init__(self, spool: BinaryIO) -> None:
        self.spool = spool
        self.numbering: dict[str, int] = {}
        self.terms = [array.array(_INT) for _ in FIELDS]
        self.lengths = [array.array(_INT) for _ in FIELDS]
        self.sizes: list[int] = []
        self.ids: list[str] = []
        self.parents: list[str] = []
        self.source_counts: list[int] = []  # entries of each source, in order
        self.tokenize_seconds = 0.0

    def __len__(self) -> int:
        return len(self.sizes)

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
        self.sizes.extend(prepared.sizes)
        self.ids.extend(prepared.ids)
        self.parents.extend(prepared.parents)
        self.source_counts.append(len(prepared))
        self.tokenize_seconds += prepared.tokenize_seconds


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

    terms: dict[str, list[float]] = {}
    fields = []
    postings_size = 0
    # Per field: its postings' docs (int32) and contributions (float64), term by term, and
    # each term's rank and number of postings. Big arrays are updated in place.
    blocks: list[tuple[Any, Any, list[int], list[int]]] = []
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
        keys = rank[term_nums]
        del term_nums
        keys *= n_docs
        keys += np.repeat(np.arange(n_docs, dtype=np.int64), doc_lens)
        keys, tfs = _unique_counts(keys)
        term_of = keys // n_docs
        starts = _firsts(term_of)
        ranks = term_of[starts].tolist()
        counts = np.diff(np.append(starts, len(keys))).tolist()
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
        idfs = [math.log((n_docs + 1) / df) for df in counts]
        avgdl = total / n_docs
        norms = K1 * (1 - B + B * doc_lens.astype(np.float64) / avgdl)
        del doc_lens
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
        at = postings_size
        for term_rank, count, term_idf in zip(ranks, counts, idfs, strict=True):
            terms.setdefault(by_rank[term_rank], [0.0]).extend([field_no, term_idf, at, count])
            at += 12 * count
        postings_size = at
        blocks.append((docs, extras.astype("<f8", copy=False), ranks, counts))
        del docs, extras
    # A term's overall document frequency counts the entries having it in any field.
    if blocks:
        pairs = np.empty(sum(len(block[0]) for block in blocks), dtype=np.int64)
        at = 0
        for docs, _, ranks, counts in blocks:
            pair = pairs[at : at + len(docs)]
            pair[:] = np.repeat(np.array(ranks, dtype=np.int64), counts)
            pair *= n_docs
            pair += docs
            at += len(docs)
        pairs.sort(kind="stable")
        every = pairs[_firsts(pairs)]
        del pairs
        every //= n_docs
        document_freq = np.bincount(every, minlength=len(by_rank)).tolist()
        del every
        for term_rank, term in enumerate(by_rank):
            terms[term][0] = math.log((n_docs + 1) / document_freq[term_rank])
    vocab = json.dumps(
        {"fields": fields, "terms": terms, "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1)},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    del terms
    offsets = [0]
    for size in corpus.sizes:
        offsets.append(offsets[-1] + size)
    numbers = {id_: n for n, id_ in enumerate(corpus.ids)}
    parents = [numbers.get(p, -1) if p else -1 for p in corpus.parents]
    del numbers
    header: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fingerprint": fingerprint,
        "entry_count": n_docs,
        "parents": parents,
        "entry_offsets": offsets,
        "source_counts": corpus.source_counts,
    }
    # Section offsets depend on the header's own length: lay out, then fix the point.
    sizes = {"vocab": len(vocab), "postings": postings_size, "entries": offsets[-1]}
    header["sections"] = {"vocab": [0, 0], "postings": [0, 0], "entries": [0, 0]}
    while True:
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        at = len(head)
        sections = {}
        for section, size in sizes.items():
            sections[section] = [at, size]
            at += size
        if sections == header["sections"]:
            break
        header["sections"] = sections
    del header, offsets, parents
    out.write(head)
    out.write(vocab)
    del vocab
    while blocks:
        docs, extras, _, counts = blocks.pop(0)
        docs_view, extras_view = memoryview(docs.view(np.uint8)), memoryview(extras.view(np.uint8))
        start = 0
        for count in counts:
            end = start + count
            out.write(docs_view[4 * start : 4 * end])
            out.write(extras_view[8 * start : 8 * end])
            start = end
        del docs_view, extras_view, docs, extras
    spool = corpus.spool
    spool.seek(0)
    if isinstance(spool, io.BytesIO):
        out.write(spool.getbuffer())
    else:
        shutil.copyfileobj(spool, out, 1 << 20)


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
