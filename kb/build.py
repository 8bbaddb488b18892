"""Build the index: sources → entries (docutils) → BM25 contributions (rank-bm25) → one file."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import BuildError, SourceError
from kb.index import (
    _INT,
    FORMAT,
    INDEX_FILE,
    SCHEMA_VERSION,
    file_fingerprint,
    rst_names,
    write_atomically,
)
from kb.models import Entry
from kb.params import DELTA, FIELD_WEIGHTS, K1, UNKNOWN_SHARE, B, params
from kb.sources import Source
from kb.spec import SourceSpec, split_source_arg
from kb.text import tokenize


@dataclass
class BuildReport:
    """What a build did: counts, warnings and time, for ``faq-kb build`` to print."""

    entries: int = 0
    sources: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: str | None = None


def load_entries(sources: list[Source]) -> tuple[list[Entry], list[str]]:
    """Parse every source; return all entries and the warnings.

    Raises:
        BuildError: any source is unreadable or has rst errors; lists every problem of
            every source, so one broken file never hides another.
    """
    from kb.aliases import apply_aliases
    from kb.ingest import parse_source

    entries: list[Entry] = []
    warnings: list[str] = []
    problems: list[SourceError] = []
    for source in sources:
        try:
            parsed = parse_source(source)
        except SourceError as exc:
            problems.append(exc)
            continue
        for problem in parsed.problems:
            if problem.is_error:
                problems.append(SourceError(problem.path, problem.line, problem.message))
            else:
                warnings.append(str(problem))
        if not parsed.entries and not parsed.errors:
            warnings.append(f"{source.path}: no FAQ entries found (no section with an answer)")
        try:
            source_entries, alias_warnings = apply_aliases(source, parsed.entries)
        except SourceError as exc:
            problems.append(exc)
            continue
        warnings.extend(alias_warnings)
        entries.extend(source_entries)
    if problems:
        raise BuildError(problems)
    return entries, warnings


def field_texts(entry: Entry) -> dict[str, str]:
    """The text of each BM25 field of an entry."""
    # The title as written keeps its inline literals (``in``, ``//``), which the tokenizer
    # keeps even when they are stopwords; a Sphinx "... term?" title is shown whole instead.
    written = entry.source_title if _same_text(entry.source_title, entry.title) else entry.title
    return {
        "title": written,
        # A field of their own: folded into the title they would make every aliased title
        # long, and BM25's length normalisation would then discount the title's own words.
        "aliases": "\n".join(entry.aliases),
        "context": "\n".join(entry.breadcrumb),
        "answer": entry.answer,
    }


def _same_text(raw: str, plain: str) -> bool:
    return re.sub(r"[`*\\]", "", raw).split() == plain.split()


def fingerprint(spec: SourceSpec, sources: list[Source]) -> dict[str, Any]:
    """What the index was built from, to tell later whether it is still fresh."""
    files = [file_fingerprint(s.path) for s in sources]
    files += [file_fingerprint(s.aliases) for s in sources if s.aliases]
    absent = [str(s.path.with_suffix(".aliases.toml")) for s in sources if not s.aliases]
    folders = []
    if spec.paths:
        for arg in spec.paths:
            folder = Path(split_source_arg(arg)[0]).expanduser().resolve()
            if folder.is_dir():
                folders.append({"path": str(folder), "names": rst_names(str(folder))})
    else:
        files.append(file_fingerprint(spec.manifest_path))
    return {"spec": spec.key, "files": files, "absent": absent, "folders": folders}


def encode_index(entries: list[Entry], fingerprint_: dict[str, Any]) -> bytes:
    """Serialise entries and their BM25 contributions into the index file's bytes."""
    import array

    from rank_bm25 import BM25Plus  # build time only: the query path never imports numpy

    n_docs = len(entries)
    tokenized = {name: [tokenize(field_texts(e)[name]) for e in entries] for name in FIELD_WEIGHTS}
    terms: dict[str, list[float]] = {}
    postings = bytearray()
    fields = []
    for field_no, (name, weight) in enumerate(FIELD_WEIGHTS.items()):
        docs_tokens = tokenized[name]
        fields.append({"name": name, "weight": weight, "delta": DELTA})
        if n_docs == 0 or not any(docs_tokens):
            continue  # rank-bm25 cannot score a field with no token at all (avgdl 0)
        model = BM25Plus(docs_tokens, k1=K1, b=B, delta=DELTA)
        by_term: dict[str, tuple[array.array[int], array.array[float]]] = {}
        for doc, freqs in enumerate(model.doc_freqs):
            norm = K1 * (1 - B + B * model.doc_len[doc] / model.avgdl)
            for term, tf in freqs.items():
                idf = model.idf[term]
                # rank-bm25's own expression, term by term, minus the idf*delta every
                # document gets for the term (added back once per query term at search).
                contribution = idf * (DELTA + (tf * (K1 + 1)) / (norm + tf)) - idf * DELTA
                docs, extras = by_term.setdefault(term, (array.array(_INT), array.array("d")))
                docs.append(doc)
                extras.append(contribution)
        for term in sorted(by_term):
            docs, extras = by_term[term]
            if sys.byteorder != "little":
                docs.byteswap()
                extras.byteswap()
            terms.setdefault(term, [0.0]).extend(
                [field_no, model.idf[term], len(postings), len(docs)]
            )
            postings += docs.tobytes() + extras.tobytes()
    document_freq: dict[str, int] = {}
    for doc in range(n_docs):
        for term in {t for name in FIELD_WEIGHTS for t in tokenized[name][doc]}:
            document_freq[term] = document_freq.get(term, 0) + 1
    for term, info in terms.items():
        info[0] = math.log((n_docs + 1) / document_freq[term])
    vocab = json.dumps(
        {"fields": fields, "terms": terms, "unknown_weight": UNKNOWN_SHARE * math.log(n_docs + 1)},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    entry_lines = []
    offsets = [0]
    for entry in entries:
        line = entry.model_dump_json().encode() + b"\n"
        entry_lines.append(line)
        offsets.append(offsets[-1] + len(line))
    ids = {e.id: n for n, e in enumerate(entries)}
    parents = [ids.get(e.parent, -1) if e.parent else -1 for e in entries]
    header: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "byteorder": "little",
        "params": params(),
        "fingerprint": fingerprint_,
        "entry_count": n_docs,
        "parents": parents,
        "entry_offsets": offsets,
    }
    # Section offsets depend on the header's own length: lay out, then fix the point.
    body = [vocab, bytes(postings), b"".join(entry_lines)]
    header["sections"] = {"vocab": [0, 0], "postings": [0, 0], "entries": [0, 0]}
    while True:
        head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        at = len(head)
        sections = {}
        for name, blob in zip(("vocab", "postings", "entries"), body, strict=True):
            sections[name] = [at, len(blob)]
            at += len(blob)
        if sections == header["sections"]:
            return head + b"".join(body)
        header["sections"] = sections


def build_bytes(spec: SourceSpec) -> tuple[bytes, BuildReport]:
    """Build the index of ``spec`` in memory: the file's bytes and what the build did.

    Raises:
        ManifestError: the sources cannot be resolved.
        BuildError: a source is broken (every problem listed).
    """
    from kb.sources import resolve_sources

    started = time.perf_counter()
    sources = resolve_sources(spec)
    entries, warnings = load_entries(sources)
    data = encode_index(entries, fingerprint(spec, sources))
    return data, BuildReport(len(entries), len(sources), warnings, time.perf_counter() - started)


def build(spec: SourceSpec, index_dir: str) -> BuildReport:
    """(Re)build the index of ``spec`` into ``index_dir``; the old index stays until done.

    Raises:
        ManifestError, BuildError: as ``build_bytes``.
        OSError: the index folder cannot be written.
    """
    data, report = build_bytes(spec)
    report.path = os.path.join(index_dir, INDEX_FILE)
    write_atomically(report.path, data)
    return report
