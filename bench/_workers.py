"""The measurements ``bench.run`` makes, each in a fresh process of its own.

A fresh process per measurement keeps one engine's memory and caches out of another's
figures; the parent's launcher reads each child's peak RSS (and its process tree's). Every
task writes one JSON object to the path it is given::

    python -m bench._workers TASK OUT.json ARGS...

faq-kb is reached through its public entry points (``kb.KnowledgeBase``, the CLI's
``kb_main``); what more a figure needs is imported from ``bench._internals`` only.
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

from bench import _internals

# Two scores "are equal" when they differ by at most this (the bar).
TOLERANCE = 1e-9
TOP_K = 10
# What the one-line edit appends to a line (faq-kb's corpus file, tantivy's document).
EDIT = " Edited by the benchmark."


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


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """n, p50 (median), p99 (nearest rank), max and mean, in milliseconds."""
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


def _spec(source_arg: str) -> Any:
    """The sources of a corpus folder (``PATH=URL``), or the shipped FAQ for ''."""
    from kb import SourceSpec

    return SourceSpec(paths=(source_arg,)) if source_arg else SourceSpec()


def _load_rows(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _read_queries(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [ln.rstrip("\n") for ln in handle if ln.strip() and not ln.startswith("#")]


# ---------------------------------------------------------------------------- faq-kb


def task_build(out: str, source_arg: str, index_dir: str) -> dict[str, Any]:
    """``faq-kb build`` as the CLI runs it, with its two phases timed from inside.

    ``parse_s``: rst → entries → tokens and term numbers (in worker processes when the
    corpus is large); ``index_s``: those → contributions → the index file, the step that
    corresponds to rank-bm25's model construction on tokens it is given. The phases are
    found by name (``bench._internals.BUILD_PHASES``); if they are renamed the build still
    runs, only without its breakdown.
    """
    import importlib

    from kb.cli.main import kb_main

    build_module = importlib.import_module(_internals.BUILD_MODULE)
    phases: dict[str, float] = {}

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = func(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started
            corpus = result[0] if isinstance(result, tuple) and result else None
            for attr in ("tokenize_seconds", "numbering_seconds"):
                if hasattr(corpus, attr):
                    phases[attr.replace("_seconds", "_cpu_s")] = getattr(corpus, attr)
            return result

        return wrapper

    for name, label in _internals.BUILD_PHASES:
        if hasattr(build_module, name):
            setattr(build_module, name, timed(label, getattr(build_module, name)))
    started = time.perf_counter()
    status = kb_main(["build", "--source", source_arg, "--index", index_dir])
    return {
        "status": status,
        "seconds": time.perf_counter() - started,
        "main_peak_mb": _peak_mb(),
        **phases,
    }


def task_export(out: str, source_arg: str, index_dir: str, rows_path: str) -> dict[str, Any]:
    """Each stored entry's BM25 field texts and its title, url and answer, a JSON line each."""
    from kb import KnowledgeBase

    names, _, _ = _internals.field_weights()
    kb = KnowledgeBase(_spec(source_arg), index_dir)
    kb.open(rebuild=False)
    count = 0
    with open(rows_path, "w", encoding="utf-8") as handle:
        for record in kb.entries():
            texts = _internals.record_fields(record)
            row = {
                "fields": [texts[n] for n in names],
                "stored": [record["title"], record["url"], record["answer"]],
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return {"entries": count}


def task_faqkb(
    out: str, source_arg: str, index_dir: str, queries_path: str, rankings: str
) -> dict[str, Any]:
    """One round of warm queries (the bot's case): load, a warm-up pass, one timed pass.

    Each question's CPU time (``time.process_time_ns``) and wall time are taken. With
    ``rankings``, faq-kb's top 10 of every entry and its hits are written for the exactness
    check against rank-bm25.
    """
    from kb import KnowledgeBase

    queries = _read_queries(queries_path)
    rss0 = _rss_mb()
    started = time.perf_counter()
    kb = KnowledgeBase(_spec(source_arg), index_dir, preload=True)
    kb.open(rebuild=False)
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    cpu, wall = _time_queries(lambda q: len(kb.search(q, k=TOP_K).hits), queries)
    result: dict[str, Any] = {
        "load_s": load_s,
        "rss_loaded_mb": rss_loaded - rss0,
        "cpu_ns": cpu,
        "wall_ns": wall,
    }
    if rankings:
        ranks = []
        for question in queries:
            hits = kb.search(question, k=TOP_K).hits
            ranks.append(
                {
                    "top": _faqkb_top(kb.reader, _internals.query_tokens(question), TOP_K),
                    "hits": [[h.number, h.score] for h in hits],
                }
            )
        with open(rankings, "w", encoding="utf-8") as handle:
            json.dump(ranks, handle)
    return result


def _faqkb_top(reader: Any, tokens: list[str], k: int) -> list[list[float]]:
    """faq-kb's own ranking of every entry, best ``k`` first.

    Entries sharing no term with the question all score the base; rank-bm25 orders ties
    by index, and so does this.
    """
    scored = _internals.score_all(reader, tokens)
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
    taken = {doc for doc, _ in top}
    doc = 0
    while len(top) < min(k, len(reader)):
        if doc not in taken:
            top.append([doc, base])
        doc += 1
    return top


# ---------------------------------------------------------------------------- rank-bm25


def task_rank_bm25(
    out: str, rows_path: str, queries_path: str, max_queries: str, rankings: str
) -> dict[str, Any]:
    """rank-bm25 itself: construct BM25Plus per field on faq-kb's tokens, time get_scores."""
    import numpy as np
    from rank_bm25 import BM25Plus

    names, weights, (k1, b, delta) = _internals.field_weights()
    queries = _read_queries(queries_path)
    rows = [row["fields"] for row in _load_rows(rows_path)]
    started = time.perf_counter()
    tokens = {name: [_internals.tokenize(row[f]) for row in rows] for f, name in enumerate(names)}
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
        query = _internals.query_tokens(question)
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
    clock = time.process_time_ns
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
        "get_scores_cpu": percentiles(samples),
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


# ---------------------------------------------------------------------------- tantivy

# The one-query peer of a cold faq-search: a fresh python that opens an existing tantivy
# index, runs one query over the same fields with the same weights, and prints the best
# hit's stored title and url. Run as ``python -c TANTIVY_QUERY INDEX_DIR QUESTION``.
TANTIVY_QUERY = """
import re, sys, tantivy
index = tantivy.Index.open(sys.argv[1])
fields = [f for f in sys.argv[3].split(",")]
boosts = dict(zip(fields, map(float, sys.argv[4].split(","))))
text = " ".join(re.findall(r"\\w+", sys.argv[2].lower()))
searcher = index.searcher()
hits = searcher.search(index.parse_query(text, fields, field_boosts=boosts), 3).hits
if hits:
    doc = searcher.doc(hits[0][1])
    print(doc["title"][0], bytes(doc["url"][0]).decode())
"""


def tantivy_schema() -> Any:
    """The searched fields indexed (en_stem), title, url and answer stored, an id to update by.

    The searched fields keep tantivy's default index option (positions too). ``url`` is
    stored only (a bytes field: no term is indexed for it). ``id`` is the entry's number,
    indexed so that one document can be deleted and added again.
    """
    import tantivy

    names, _, _ = _internals.field_weights()
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("id", indexed=True)
    for name in names:
        # en_stem: lower-case, split on non-alphanumerics, English Snowball stemmer.
        builder.add_text_field(name, stored=name in ("title", "answer"), tokenizer_name="en_stem")
    builder.add_bytes_field("url", stored=True)
    return builder.build()


def _tantivy_doc(number: int, row: dict[str, Any], answer_suffix: str = "") -> Any:
    import tantivy

    names, _, _ = _internals.field_weights()
    doc = tantivy.Document()
    doc.add_unsigned("id", number)
    for name, text in zip(names, row["fields"], strict=True):
        doc.add_text(name, text + answer_suffix if name == "answer" else text)
    doc.add_bytes("url", row["stored"][1].encode())
    return doc


def task_tantivy_build(out: str, rows_path: str, index_dir: str) -> dict[str, Any]:
    """tantivy's index of the same entries: add every document, commit, wait for merges."""
    import shutil

    import tantivy

    rows = _load_rows(rows_path)
    shutil.rmtree(index_dir, ignore_errors=True)
    os.makedirs(index_dir)
    started = time.perf_counter()
    index = tantivy.Index(tantivy_schema(), path=index_dir)
    writer = index.writer(heap_size=256 * 2**20)
    for number, row in enumerate(rows):
        writer.add_document(_tantivy_doc(number, row))
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - started
    return {
        "build_s": build_s,
        "size_bytes": du(Path(index_dir)),
        "version": getattr(tantivy, "__version__", "?"),
    }


def task_tantivy(out: str, index_dir: str, queries_path: str) -> dict[str, Any]:
    """One round of tantivy's warm queries: open, a warm-up pass, one timed pass."""
    import re

    import tantivy

    names, weights, _ = _internals.field_weights()
    queries = _read_queries(queries_path)
    index = tantivy.Index.open(index_dir)
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

    cpu, wall = _time_queries(run, queries)
    return {"cpu_ns": cpu, "wall_ns": wall}


def task_tantivy_update(
    out: str, index_dir: str, rows_path: str, number: str, edited: str
) -> dict[str, Any]:
    """Replace one document: delete it by id, add it (answer edited or as it was), commit."""
    import tantivy

    n = int(number)
    with open(rows_path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i == n:
                row = json.loads(line)
                break
    started = time.perf_counter()
    index = tantivy.Index.open(index_dir)
    writer = index.writer()
    writer.delete_documents_by_term("id", n)
    writer.add_document(_tantivy_doc(n, row, EDIT if edited == "1" else ""))
    writer.commit()
    writer.wait_merging_threads()
    return {"update_s": time.perf_counter() - started}


# ---------------------------------------------------------------------------- common


def _time_queries(run: Callable[[str], int], queries: list[str]) -> tuple[list[int], list[int]]:
    """A warm-up pass, then each question's CPU and wall nanoseconds in one timed pass."""
    for question in queries:
        run(question)
    cpu: list[int] = []
    wall: list[int] = []
    cpu_clock, wall_clock = time.process_time_ns, time.perf_counter_ns
    for question in queries:
        c0, w0 = cpu_clock(), wall_clock()
        run(question)
        w1, c1 = wall_clock(), cpu_clock()
        cpu.append(c1 - c0)
        wall.append(w1 - w0)
    return cpu, wall


def du(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


TASKS = {
    "build": task_build,
    "export": task_export,
    "faqkb": task_faqkb,
    "rank_bm25": task_rank_bm25,
    "tantivy_build": task_tantivy_build,
    "tantivy": task_tantivy,
    "tantivy_update": task_tantivy_update,
}


def main() -> None:
    task, out, *args = sys.argv[1:]
    result = TASKS[task](out, *args)
    result["rss_end_mb"] = _rss_mb()
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
