"""The measurements ``bench.run`` makes, each in a fresh process of its own.

A fresh process per measurement keeps one engine's memory and caches out of another's
figures; the parent reads each child's peak RSS from ``os.wait4``. Every task writes one
JSON object to the path it is given::

    python -m bench._workers TASK OUT.json ARGS...
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Two scores "are equal" when they differ by at most this (the bar).
TOLERANCE = 1e-9
TOP_K = 10


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """This process's peak RSS so far (VmHWM)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        # Nearest rank: the smallest sample with at least q of them at or below it.
        return ordered[min(n - 1, max(0, int(-(-q * n // 1)) - 1))] / 1e6

    return {
        "n": n,
        "p50_ms": statistics.median(ordered) / 1e6,
        "p99_ms": at(0.99),
        "max_ms": ordered[-1] / 1e6,
        "mean_ms": statistics.fmean(ordered) / 1e6,
    }


def _query_tokens(question: str) -> list[str]:
    """The tokens faq-kb searches for a question (its own query normaliser if it has one)."""
    try:
        from kb.search.query import _query_tokens as query_tokens  # the product's own cut/normalise
    except ImportError:
        from kb.analysis.tokens import tokenize

        return tokenize(question)
    return query_tokens(question)


def _fields() -> tuple[list[str], dict[str, float], tuple[float, float, float]]:
    from kb.index import params

    names = list(params.FIELD_WEIGHTS)
    return names, dict(params.FIELD_WEIGHTS), (params.K1, params.B, params.DELTA)


def _load_fields(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# ---------------------------------------------------------------------------- tasks


def task_build(out: str, source_arg: str, index_dir: str) -> dict[str, Any]:
    """``faq-kb build`` as the CLI runs it, with its two phases timed from inside.

    ``parse_s``: rst → entries → JSON lines and term numbers (``kb.index.build.gather``; in
    worker processes when the corpus is large, which also tokenize); ``index_s``: those
    term numbers → contributions → the index file (``kb.index.build.write_index``), the step
    that corresponds to rank-bm25's model construction on tokens it is given.
    """
    import resource

    from kb.cli.main import kb_main
    from kb.index import build as kb_build

    phases: dict[str, float] = {}

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started
                # Memory after the phase: still held (RSS) and the peak so far (VmHWM).
                phases[name.replace("_s", "_rss_mb")] = _rss_mb()
                phases[name.replace("_s", "_peak_mb")] = _peak_mb()
            if name == "parse_s":  # (corpus, warnings)
                phases["tokenize_cpu_s"] = result[0].tokenize_seconds
                phases["numbering_cpu_s"] = result[0].numbering_seconds
            return result

        return wrapper

    # Patched by name in kb.index.build, where build() looks them up; if the lead renames them
    # the build still runs, only without its breakdown.
    for name, label in (("gather", "parse_s"), ("write_index", "index_s")):
        if hasattr(kb_build, name):
            setattr(kb_build, name, timed(label, getattr(kb_build, name)))
    started = time.perf_counter()
    status = kb_main(["build", "--source", source_arg, "--index", index_dir])
    seconds = time.perf_counter() - started
    # The parse workers, if any: their largest peak (Linux reports kilobytes).
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "status": status,
        "seconds": seconds,
        "main_peak_mb": _peak_mb(),
        "workers": (os.cpu_count() or 1) if workers_peak else 0,
        "worker_peak_mb": workers_peak,
        **phases,
    }


def task_export(out: str, index_path: str, fields_path: str) -> dict[str, Any]:
    """Write each entry's field texts (kb.index.build.field_texts), one JSON list a line."""
    from kb.index.build import field_texts
    from kb.index.reader import IndexReader
    from kb.models import Entry

    names, _, _ = _fields()
    reader = IndexReader.open(index_path)
    count = 0
    with open(fields_path, "w", encoding="utf-8") as handle:
        for record in reader.entries():
            texts = field_texts(Entry.model_validate(record))
            handle.write(json.dumps([texts[n] for n in names], ensure_ascii=False) + "\n")
            count += 1
    return {"entries": count}


def task_faqkb(
    out: str, source_arg: str, index_dir: str, queries_path: str, passes: str, rankings: str
) -> dict[str, Any]:
    """Warm queries in one process (the bot's case), then the rankings for the exactness check."""
    from kb.knowledge import KnowledgeBase
    from kb.spec import SourceSpec

    queries = _read_queries(queries_path)
    rss0 = _rss_mb()
    started = time.perf_counter()
    kb = KnowledgeBase(SourceSpec(paths=(source_arg,)), index_dir, preload=True)
    reader = kb.open(rebuild=False)
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    for question in queries:  # warm-up: caches, stemmer memo, branch predictors
        kb.search(question, k=TOP_K)
    samples: list[int] = []
    per_query: list[list[int]] = [[] for _ in queries]
    clock = time.perf_counter_ns
    for _ in range(int(passes)):
        for n, question in enumerate(queries):
            t0 = clock()
            kb.search(question, k=TOP_K)
            dt = clock() - t0
            samples.append(dt)
            per_query[n].append(dt)
    slowest = sorted(range(len(queries)), key=lambda n: -min(per_query[n]))[:5]
    # The ranking core alone: tokens, score_all and the best k (no bands, no coverage filter).
    scoring: list[int] = []
    for _ in range(int(passes)):
        for question in queries:
            t0 = clock()
            _faqkb_top(reader, _query_tokens(question), TOP_K, fill=False)
            scoring.append(clock() - t0)
    result: dict[str, Any] = {
        "load_s": load_s,
        "rss_loaded_mb": rss_loaded - rss0,
        "search": _percentiles(samples),
        "scoring": _percentiles(scoring),
        "slowest": [[queries[n], min(per_query[n]) / 1e6] for n in slowest],
    }
    if rankings:
        ranks = []
        for question in queries:
            tokens = _query_tokens(question)
            hits = kb.search(question, k=TOP_K).hits
            ranks.append(
                {
                    "top": _faqkb_top(reader, tokens, TOP_K),
                    "hits": [[h.number, h.score] for h in hits],
                }
            )
        with open(rankings, "w", encoding="utf-8") as handle:
            json.dump(ranks, handle)
    return result


def _faqkb_top(reader: Any, tokens: list[str], k: int, *, fill: bool = True) -> list[list[float]]:
    """faq-kb's own ranking of every entry (``kb.search.query.score_all``), best ``k`` first.

    Entries sharing no term with the question all score the base; rank-bm25 orders ties
    by index, and so does this.
    """
    from kb.search.query import score_all

    scored = score_all(reader, tokens)
    if hasattr(scored, "ranked"):  # a Scored object: ranked() best first, score(doc)
        top = []
        for doc in scored.ranked():
            if len(top) == k:
                break
            top.append([int(doc), scored.score(doc)])
        base = scored.base
    else:  # the older tuple (base, extra per candidate, ...)
        base, extra = scored[0], scored[1]
        top = [[doc, base + extra[doc]] for doc in sorted(extra, key=lambda d: (-extra[d], d))[:k]]
    if not fill:
        return top
    taken = {doc for doc, _ in top}
    doc = 0
    while len(top) < min(k, len(reader)):
        if doc not in taken:
            top.append([doc, base])
        doc += 1
    return top


def task_rank_bm25(
    out: str, fields_path: str, queries_path: str, max_queries: str, rankings: str
) -> dict[str, Any]:
    """rank-bm25 itself: construct BM25Plus per field on faq-kb's tokens, time get_scores."""
    import numpy as np
    from rank_bm25 import BM25Plus

    from kb.analysis.tokens import tokenize

    names, weights, (k1, b, delta) = _fields()
    queries = _read_queries(queries_path)
    rows = _load_fields(fields_path)
    started = time.perf_counter()
    tokens = {name: [tokenize(row[f]) for row in rows] for f, name in enumerate(names)}
    tokenize_s = time.perf_counter() - started
    del rows
    rss0 = _rss_mb()
    started = time.perf_counter()
    models = {
        name: BM25Plus(tokens[name], k1=k1, b=b, delta=delta)
        for name in names
        if any(tokens[name])  # rank-bm25 cannot score a field with no token (avgdl 0)
    }
    construct_s = time.perf_counter() - started
    model_mb = _rss_mb() - rss0
    n_docs = len(tokens[names[0]])
    del tokens

    def scores_of(question: str) -> Any:
        query = _query_tokens(question)
        total = np.zeros(n_docs)
        for name, model in models.items():
            total += weights[name] * model.get_scores(query)
        return total

    limit = int(max_queries)
    chosen = list(range(len(queries)))
    if 0 < limit < len(queries):
        step = len(queries) / limit
        chosen = [int(i * step) for i in range(limit)]
    scores_of(queries[chosen[0]])  # warm-up
    samples: list[int] = []
    clock = time.perf_counter_ns
    exact: dict[str, Any] = {
        "checked": 0,
        "top_mismatches": 0,
        "hit_mismatches": 0,
        "max_abs_diff": 0.0,
        "examples": [],
    }
    faqkb_ranks = json.loads(Path(rankings).read_text()) if rankings else None
    for n in chosen:
        t0 = clock()
        scores = scores_of(queries[n])
        samples.append(clock() - t0)
        if faqkb_ranks is not None:
            _compare(exact, queries[n], scores, faqkb_ranks[n])
    return {
        "tokenize_s": tokenize_s,
        "construct_s": construct_s,
        "model_mb": model_mb,
        "get_scores": _percentiles(samples),
        "queries_timed": len(chosen),
        "fields": list(models),
        "exactness": exact if faqkb_ranks is not None else None,
    }


def _compare(exact: dict[str, Any], question: str, scores: Any, faqkb: dict[str, Any]) -> None:
    """Count where faq-kb's top k or its hits' scores differ from rank-bm25's by > 1e-9."""
    import numpy as np

    exact["checked"] += 1
    order = np.lexsort((np.arange(len(scores)), -scores))[: len(faqkb["top"])]
    mismatch = False
    for position, (doc, score) in enumerate(faqkb["top"]):
        doc = int(doc)
        theirs = int(order[position])
        diff = abs(float(scores[doc]) - score)
        exact["max_abs_diff"] = max(exact["max_abs_diff"], diff)
        # Same entry, or a tie within the tolerance (ids may then differ in order).
        if diff > TOLERANCE or (doc != theirs and abs(float(scores[theirs]) - score) > TOLERANCE):
            mismatch = True
    if mismatch:
        exact["top_mismatches"] += 1
        if len(exact["examples"]) < 3:
            exact["examples"].append(
                {
                    "question": question,
                    "faq_kb": faqkb["top"][:3],
                    "rank_bm25": [[int(d), float(scores[d])] for d in order[:3]],
                }
            )
    for doc, score in faqkb["hits"]:
        if abs(float(scores[int(doc)]) - score) > TOLERANCE:
            exact["hit_mismatches"] += 1
            break


def task_tantivy(
    out: str, fields_path: str, queries_path: str, index_dir: str, passes: str
) -> dict[str, Any]:
    """tantivy as the reference engine: same texts, same field weights, top 10."""
    import re
    import shutil

    import tantivy

    names, weights, _ = _fields()
    queries = _read_queries(queries_path)
    rows = _load_fields(fields_path)
    shutil.rmtree(index_dir, ignore_errors=True)
    os.makedirs(index_dir)
    started = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    for name in names:
        # en_stem: lower-case, split on non-alphanumerics, English Snowball stemmer.
        builder.add_text_field(name, stored=False, tokenizer_name="en_stem")
    schema = builder.build()
    index = tantivy.Index(schema, path=index_dir)
    writer = index.writer(heap_size=256 * 2**20)
    for row in rows:
        writer.add_document(tantivy.Document(**dict(zip(names, row, strict=True))))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    build_s = time.perf_counter() - started
    del rows
    size = sum(p.stat().st_size for p in Path(index_dir).rglob("*") if p.is_file())
    searcher = index.searcher()
    boosts = {n: w for n, w in weights.items() if w != 1.0}
    word = re.compile(r"\w+")

    def run(question: str) -> int:
        # The query language has operators (:, -, ", AND …); ask for the words only.
        text = " ".join(word.findall(question.lower()))
        if not text:
            return 0
        query = index.parse_query(text, names, field_boosts=boosts)
        return len(searcher.search(query, TOP_K).hits)

    samples = _time_queries(run, queries, int(passes))
    return {
        "build_s": build_s,
        "size_bytes": size,
        "search": _percentiles(samples),
        "version": getattr(tantivy, "__version__", "?"),
    }


def task_bm25s(
    out: str, fields_path: str, queries_path: str, index_dir: str, passes: str
) -> dict[str, Any]:
    """bm25s as the reference engine (when tantivy is unavailable): one combined field."""
    import shutil

    import bm25s
    import numpy as np

    from kb.analysis.tokens import tokenize

    names, weights, (k1, b, delta) = _fields()
    queries = _read_queries(queries_path)
    rows = _load_fields(fields_path)
    started = time.perf_counter()
    # bm25s has no fields: repeat each field's text by its (rounded) weight in faq-kb.
    corpus = [
        " ".join(
            " ".join([text] * max(1, round(weights[n]))) for n, text in zip(names, row, strict=True)
        )
        for row in rows
    ]
    corpus_tokens = [tokenize(text) for text in corpus]
    retriever = bm25s.BM25(method="bm25+", k1=k1, b=b, delta=delta)
    retriever.index(corpus_tokens, show_progress=False)
    build_s = time.perf_counter() - started
    shutil.rmtree(index_dir, ignore_errors=True)
    retriever.save(index_dir)
    size = sum(p.stat().st_size for p in Path(index_dir).rglob("*") if p.is_file())

    def run(question: str) -> int:
        tokens = _query_tokens(question)
        if not tokens:
            return 0
        scores = retriever.get_scores(tokens)
        k = min(TOP_K, len(scores) - 1)
        return len(np.argpartition(-scores, k)[:k])

    samples = _time_queries(run, queries, int(passes))
    return {
        "build_s": build_s,
        "size_bytes": size,
        "search": _percentiles(samples),
        "version": getattr(bm25s, "__version__", "?"),
    }


def _time_queries(run: Callable[[str], int], queries: list[str], passes: int) -> list[int]:
    """One warm-up pass, then ``passes`` timed passes over the questions (nanoseconds)."""
    for question in queries:
        run(question)
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(passes):
        for question in queries:
            t0 = clock()
            run(question)
            samples.append(clock() - t0)
    return samples


def _read_queries(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [ln.rstrip("\n") for ln in handle if ln.strip() and not ln.startswith("#")]


TASKS = {
    "build": task_build,
    "export": task_export,
    "faqkb": task_faqkb,
    "rank_bm25": task_rank_bm25,
    "tantivy": task_tantivy,
    "bm25s": task_bm25s,
}


def main() -> None:
    task, out, *args = sys.argv[1:]
    result = TASKS[task](out, *args)
    result["rss_end_mb"] = _rss_mb()
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
