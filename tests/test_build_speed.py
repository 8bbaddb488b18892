"""The fast build (issue 5) writes exactly what the rank-bm25 build wrote, byte for byte.

``_reference_index`` is the previous ``kb.index.build.encode_index``: rank-bm25 models per field
and a per-posting Python loop. ``_reference_tokenize`` is the tokenizer before its per-run
cache. Equality tests only; the timings are bench/'s business.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import struct
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import pytest
from rank_bm25 import BM25Plus

import kb.analysis.tokens
import kb.index.encode
from kb.analysis.stopwords import ENGLISH_STOPWORDS
from kb.analysis.tokens import QUESTION_FILLERS, tokenize
from kb.index.build import (
    build,
    encode_index,
    field_texts,
    fingerprint,
    load_entries,
    write_streaming,
)
from kb.index.params import DELTA, FIELD_WEIGHTS, K1, UNKNOWN_SHARE, B, params
from kb.index.reader import CHECK_CHUNK, FORMAT, INDEX_FILE, SCHEMA_VERSION, IndexReader
from kb.index.records import BLOCK_BYTES, ZDICT, compact
from kb.ingest.sources import resolve_sources
from kb.models import Entry
from kb.spec import SourceSpec
from tests.conftest import CORPORA, SEED, needs_corpora


def _collection(entry: Entry) -> str:
    return entry.collection


def _reference_index(entries: list[Entry], fingerprint_: dict[str, Any]) -> bytes:
    """The index file from rank-bm25's own models (the build before issue 5, in the v14 layout)."""
    n_docs = len(entries)
    doc_bits = max(1, (n_docs - 1).bit_length())
    width = (doc_bits + 14) // 8  # at least 7 bits for the tf
    tokenized = {name: [tokenize(field_texts(e)[name]) for e in entries] for name in FIELD_WEIGHTS}
    spans: dict[str, list[tuple[int, int, int]]] = {}  # term → (field, count, first posting)
    postings = bytearray()
    big_tfs: list[int] = []
    numbered = 0
    fields = []
    lengths: list[int] = []
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        docs_tokens = tokenized[name]
        total = sum(len(tokens) for tokens in docs_tokens)
        longest = max((len(tokens) for tokens in docs_tokens), default=0)
        fields.append(
            {"name": name, "weight": weight, "delta": DELTA, "total": total, "longest": longest}
        )
        lengths += [len(tokens) for tokens in docs_tokens]
        if n_docs == 0 or not any(docs_tokens):
            continue
        model = BM25Plus(docs_tokens, k1=K1, b=B, delta=DELTA)
        assert model.avgdl == total / n_docs
        by_term: dict[str, list[tuple[int, int]]] = {}
        for doc, freqs in enumerate(model.doc_freqs):
            for term, tf in freqs.items():
                by_term.setdefault(term, []).append((doc, tf))
        for term in sorted(by_term):
            pairs = by_term[term]
            # The reader takes the idf from the count, by rank-bm25's own expression.
            assert math.log((n_docs + 1) / len(pairs)) == model.idf[term]
            spans.setdefault(term, []).append((field_no, len(pairs), numbered))
            # A tf written 0 (it does not fit), then 1, then the rest, each by entry.
            limit = 1 << (8 * width - doc_bits)
            for doc, tf in sorted(pairs, key=lambda p: (min(p[1] if p[1] < limit else 0, 2), p[0])):
                if tf >= limit:
                    big_tfs += [numbered, tf]
                    tf = 0
                postings += (doc | tf << doc_bits).to_bytes(width, "little")
                numbered += 1
    document_freq: dict[str, int] = {}
    for doc in range(n_docs):
        for term in {t for name in FIELD_WEIGHTS for t in tokenized[name][doc]}:
            document_freq[term] = document_freq.get(term, 0) + 1
    terms = sorted(spans)
    ends, starts, table = [], [0], []
    at = 0
    for term in terms:
        at += len(term.encode())
        ends.append(at)
        table += [x for span in spans[term] for x in span]
        starts.append(len(table) // 3)
    blocks = []
    firsts = [0]
    for _, group in itertools.groupby(entries, _collection):
        lines: list[bytes] = []
        filled = 0
        for entry in group:
            lines.append(_stored(entry))
            filled += len(lines[-1]) + 1
            if filled >= BLOCK_BYTES:
                blocks.append(_block(lines))
                firsts.append(firsts[-1] + len(lines))
                lines, filled = [], 0
        if lines:
            blocks.append(_block(lines))
            firsts.append(firsts[-1] + len(lines))
    ids = {e.id: n for n, e in enumerate(entries)}
    parents = [ids.get(e.parent, -1) if e.parent else -1 for e in entries]
    length_code = "H" if max(lengths, default=0) < 1 << 16 else "I"
    body = {
        "terms": "".join(terms).encode(),
        "term_ends": struct.pack(f"<{len(ends)}I", *ends),
        "term_df": struct.pack(f"<{len(terms)}I", *(document_freq[t] for t in terms)),
        "term_spans": struct.pack(f"<{len(starts)}I", *(starts if terms else [0])),
        "spans": struct.pack(f"<{len(table)}I", *table),
        "postings": bytes(postings),
        "big_tfs": struct.pack(f"<{len(big_tfs)}I", *big_tfs),
        "lengths": struct.pack(f"<{len(lengths)}{length_code}", *lengths),
        "parents": struct.pack(f"<{len(parents)}i", *parents),
        "block_firsts": struct.pack(f"<{len(firsts)}I", *firsts),
        "block_ends": struct.pack(
            f"<{len(blocks)}Q", *itertools.accumulate(len(block) for block in blocks)
        ),
        "entries": b"".join(blocks),
    }
    header: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fields": fields,
        "doc_bits": doc_bits,
        "posting_width": width,
        "length_width": 2 if length_code == "H" else 4,
        "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1),
        "term_count": len(terms),
        "fingerprint": fingerprint_,
        "entry_count": n_docs,
        # Entries of each source in turn (the sources in fingerprint order), for reuse.
        "source_counts": [len(list(g)) for _, g in itertools.groupby(entries, _collection)],
        "source_warnings": [[] for _ in itertools.groupby(entries, _collection)],
    }
    header["checksums"] = {
        name: [zlib.crc32(blob[i : i + CHECK_CHUNK]) for i in range(0, len(blob), CHECK_CHUNK)]
        for name, blob in body.items()
    }
    header["header_crc"] = "00000000"
    header["sections"] = {name: [0, 0] for name in body}
    while True:
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        at = len(head)
        sections = {}
        for name, blob in body.items():
            at += -at % 8
            sections[name] = [at, len(blob)]
            at += len(blob)
        if sections == header["sections"]:
            sealed = head.replace(
                b'"header_crc":"00000000"', b'"header_crc":"%08x"' % zlib.crc32(head)
            )
            out = bytearray(sealed)
            for name, blob in body.items():
                out += bytes(sections[name][0] - len(out)) + blob
            return bytes(out)
        header["sections"] = sections


def _stored(entry: Entry) -> bytes:
    """An entry as the index stores it: one line of compact JSON."""
    line = json.dumps(compact(entry.model_dump()), ensure_ascii=False, separators=(",", ":"))
    return line.encode()


def _block(lines: list[bytes]) -> bytes:
    """Entries' lines as the index stores them: compressed together, with the dictionary."""
    packer = zlib.compressobj(6, zdict=ZDICT)
    return packer.compress(b"\n".join(lines)) + packer.flush()


def _entries(spec: SourceSpec) -> tuple[list[Entry], dict[str, Any]]:
    sources = resolve_sources(spec)
    entries, _ = load_entries(sources)
    return entries, fingerprint(spec, sources)


def _assert_same_index(entries: list[Entry], fingerprint_: dict[str, Any]) -> bytes:
    expected = _reference_index(entries, fingerprint_)
    assert encode_index(entries, fingerprint_) == expected
    streamed = io.BytesIO()
    assert encode_index(entries, fingerprint_, streamed) is None
    assert streamed.getvalue() == expected
    return expected


def test_the_seed_index_is_byte_identical_to_the_rank_bm25_build(tmp_path: Path) -> None:
    spec = SourceSpec()
    entries, fingerprint_ = _entries(spec)
    expected = _assert_same_index(entries, fingerprint_)
    report = build(spec, str(tmp_path / "idx"))
    assert report.path == str(tmp_path / "idx" / INDEX_FILE)
    assert Path(report.path).read_bytes() == expected
    assert [p.name for p in (tmp_path / "idx").iterdir()] == [INDEX_FILE]  # no temp left


@needs_corpora
def test_real_corpora_indexes_are_byte_identical_to_the_rank_bm25_build() -> None:
    assert CORPORA is not None
    projects = sorted(p for p in CORPORA.iterdir() if p.is_dir() and any(p.glob("*.rst")))
    entries, fingerprint_ = _entries(SourceSpec(paths=tuple(str(p) for p in projects)))
    assert len(entries) > 200
    expected = _assert_same_index(entries, fingerprint_)
    # The scores rank-bm25 gives are in the file: spot-check one term per field.
    reader = IndexReader(expected, "<memory>")
    for field_no, name in enumerate(FIELD_WEIGHTS):
        docs_tokens = [tokenize(field_texts(e)[name]) for e in entries]
        if not any(docs_tokens):
            continue
        model = BM25Plus(docs_tokens, k1=K1, b=B, delta=DELTA)
        term = min(model.idf, key=lambda t: (model.idf[t], t))  # in the most entries
        info = reader.terms[term]
        idf, offset, count = next(
            (info[k + 1], int(info[k + 2]), int(info[k + 3]))
            for k in range(1, len(info), 4)
            if info[k] == field_no
        )
        assert count == sum(term in freqs for freqs in model.doc_freqs)
        docs, extras = reader.postings(field_no, idf, offset, count)
        scores = model.get_scores([term])
        base = model.idf[term] * DELTA
        for doc, extra in zip(docs, extras, strict=True):
            assert extra + base == pytest.approx(scores[doc], abs=1e-12, rel=0)


def test_subsets_and_empty_fields_are_byte_identical() -> None:
    entries, fingerprint_ = _entries(SourceSpec())
    bare = [e.model_copy(update={"aliases": [], "breadcrumb": []}) for e in entries]
    some = [
        e.model_copy(update={"answer": "", "aliases": []}) if n % 2 else e
        for n, e in enumerate(entries)
    ]
    for subset in ([], entries[:1], entries[:2], entries[::2], entries[::-1], bare, some):
        _assert_same_index(subset, fingerprint_)


def test_a_tf_too_large_to_pack_scores_as_rank_bm25() -> None:
    """A tf past the posting's spare bits is kept aside (big_tfs) and read back."""
    entries, fingerprint_ = _entries(SourceSpec())
    entries = [entries[0].model_copy(update={"answer": "ulimit " * 5000}), *entries[1:]]
    reader = IndexReader(_assert_same_index(entries, fingerprint_), "<memory>")
    assert reader.section_size("big_tfs") == 8
    field_no = list(FIELD_WEIGHTS).index("answer")
    model = BM25Plus([tokenize(field_texts(e)["answer"]) for e in entries], k1=K1, b=B, delta=DELTA)
    (term,) = tokenize("ulimit")
    info = reader.terms[term]
    at = next(k for k in range(1, len(info), 4) if info[k] == field_no)
    span = (field_no, info[at + 1], int(info[at + 2]), int(info[at + 3]))
    docs, extras = reader.postings(*span)
    numpy_docs, numpy_extras = reader.postings_array(*span)
    assert sorted(docs) == sorted(numpy_docs.tolist()) and 0 in docs
    assert dict(zip(docs, extras, strict=True)) == dict(
        zip(numpy_docs.tolist(), numpy_extras.tolist(), strict=True)
    )
    scores = model.get_scores([term])
    for doc, extra in zip(docs, extras, strict=True):
        assert extra + info[at + 1] * DELTA == pytest.approx(scores[doc], abs=1e-12, rel=0)


@pytest.mark.parametrize("pack", [True, False])
def test_postings_counted_in_small_passes_are_byte_identical(
    monkeypatch: pytest.MonkeyPatch, pack: bool
) -> None:
    entries, fingerprint_ = _entries(SourceSpec())
    expected = _reference_index(entries, fingerprint_)
    monkeypatch.setattr(kb.index.encode, "PACK_TFS", pack)
    for tokens in (1, 7, 500):
        monkeypatch.setattr(kb.index.encode, "PASS_TOKENS", tokens)
        assert encode_index(entries, fingerprint_) == expected


def test_a_failed_streaming_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "idx" / INDEX_FILE
    write_streaming(str(path), lambda handle: handle.write(b"old"))
    assert path.read_bytes() == b"old"

    def half(handle: Any) -> None:
        handle.write(b"new, half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_streaming(str(path), half)
    assert path.read_bytes() == b"old"
    assert os.listdir(path.parent) == [INDEX_FILE]
    write_streaming(str(path), lambda handle: handle.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.listdir(path.parent) == [INDEX_FILE]


# ------------------------------------------------------------------ the tokenizer cache

_OPS = "-+*/%=<>!&|^~@:"
_OLD_OPERATOR_RE = re.compile(
    rf"(?<![\w)\]}}{re.escape(_OPS)}])([{re.escape(_OPS)}]{{2,3}}|[/%@^~|&*])(?![\w(\[{{{re.escape(_OPS)}])"
)
_OLD_QUOTED_RE = re.compile(r"""(?:``|[`"'‘“])([^\s`"'’”]{1,4})(?:``|[`"'’”])""")
_CONTRACTION_TAILS = frozenset({"s", "t", "d", "ll", "ve", "re", "m", "don", "doesn", "isn"})


def _reference_tokenize(text: str) -> list[str]:
    """``kb.analysis.tokens.tokenize`` before the per-run cache, spelled out."""
    text = unicodedata.normalize("NFKC", text)
    tokens: list[str] = [
        op
        for op in _OLD_OPERATOR_RE.findall(text)
        if op not in kb.analysis.tokens._NOT_OPERATORS and (len(op) <= 2 or op.endswith("="))
    ]
    for quoted in _OLD_QUOTED_RE.findall(text):
        word = quoted.lower()
        if word in ENGLISH_STOPWORDS:
            tokens.append(word)
    for match in re.finditer(kb.analysis.tokens._RUN, text):
        run = match.group().replace("’", "'")
        parts = re.split(r"[.\-:]", run)
        if len(parts) > 1:
            tokens.append(run.lower())
        for part in parts:
            words = kb.analysis.tokens._words(part)
            if len(words) > 1 and "_" in part:
                tokens.append(part.lower())
            for word in words:
                if (
                    word in ENGLISH_STOPWORDS
                    or word in _CONTRACTION_TAILS
                    or word in QUESTION_FILLERS
                ):
                    continue
                tokens.append(kb.analysis.tokens._STEMMER.stemWord(word.removesuffix("'s")))
    return tokens


_TRICKY = [
    "",
    "Too many open files",
    "Error when running dask-worker about OMP_NUM_THREADS",
    "You should use client.upload_file, not Client.upload_file!",
    "Why don't my threads run? It’s the GIL’s fault; don't, won’t, can't.",
    "why does -22 // 10 return -3? x += [1]; a ** b; def f(a, /): ...; a->b <= c != d",
    "Behaviour of \"in\" on a Series, ``is``, `//`, '+=', “not”",
    "HMMs, GPUs and KilledWorker on XMLHttpRequest with HTTPServer2 and np.float64",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ ﬁle ligatures ① ½ and café naïve Ångström",
    "C++ and C# and F#: https://example.org/a-b/c_d?e=f&g=h#frag ~/path/to file.tar.gz",
    "a:b:c x.y.z 1.2.3 v2.0-rc1 __init__ _private trailing_ snake_case_Name 3D 2nd",
    "\x00\x01\ufffd ?!? ... --- /// ==== ::: ** *** & |",
    "line one\nline two\n\n    code = 'indented' # comment\n\ttab",
]


def test_the_cached_tokenizer_equals_the_uncached_one_on_varied_text() -> None:
    texts = list(_TRICKY)
    entries, _ = _entries(SourceSpec())
    texts += [t for e in entries for t in field_texts(e).values()]
    texts += [SEED.read_text()]
    if CORPORA is not None:
        texts += [p.read_text() for p in sorted(CORPORA.glob("*/*.rst"))]
    kb.analysis.tokens.RUN_CACHE.clear()
    first = [tokenize(text) for text in texts]  # mostly misses
    cached = len(kb.analysis.tokens.RUN_CACHE)
    second = [tokenize(text) for text in texts]  # mostly hits
    assert first == second == [_reference_tokenize(text) for text in texts]
    assert 0 < cached == len(kb.analysis.tokens.RUN_CACHE)  # the second pass added none


def test_the_run_cache_is_bounded_and_its_tokens_cannot_be_changed() -> None:
    runs = kb.analysis.tokens.RUN_CACHE
    runs.clear()
    for number in range(kb.analysis.tokens.RUN_CACHE_SIZE + 10):
        tokenize(f"w{number}")
    assert 0 < len(runs) <= kb.analysis.tokens.RUN_CACHE_SIZE
    tokens = tokenize("client.upload_file")
    tokens.append("mutated")  # the caller's list is its own
    assert tokenize("client.upload_file") == [
        "client.upload_file",
        "client",
        "upload_file",
        "upload",
        "file",
    ]
