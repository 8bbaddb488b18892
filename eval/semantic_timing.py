"""Model load time and per-question latency of the semantic extra (for semantic_report.md).

    .venv/bin/python eval/semantic_timing.py

Builds each FAQ's index in memory with and without vectors, then asks every question of
the development set (both splits: timing only, no scores) with semantic off and on.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from kb import semantic
from kb.build import build_bytes
from kb.evaluate import load_questions
from kb.index import IndexReader
from kb.search import search
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent


def main() -> None:
    questions = load_questions(str(HERE / "questions.jsonl"))
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    started = time.perf_counter()
    semantic.encoder()
    load = time.perf_counter() - started
    readers: dict[str | None, tuple[IndexReader, IndexReader]] = {}
    lexical_build = semantic_build = 0.0
    for group in dict.fromkeys(q.source for q in questions):
        sub = spec.restricted(group) if group else spec
        t0 = time.perf_counter()
        plain, _ = build_bytes(sub, semantic=False)
        t1 = time.perf_counter()
        vectors, _ = build_bytes(sub, semantic=True)
        t2 = time.perf_counter()
        lexical_build += t1 - t0
        semantic_build += t2 - t1
        readers[group] = (IndexReader(plain, "<lexical>"), IndexReader(vectors, "<semantic>"))
    for q in questions[:5]:  # warm both paths (vectors parsed, first-call costs)
        search(readers[q.source][1], q.text, semantic=True)
    times: dict[str, list[float]] = {"lexical": [], "semantic": []}
    for q in questions:
        lexical, with_vectors = readers[q.source]
        t0 = time.perf_counter()
        search(lexical, q.text, semantic=False)
        t1 = time.perf_counter()
        search(with_vectors, q.text, semantic=True)
        t2 = time.perf_counter()
        times["lexical"].append(t1 - t0)
        times["semantic"].append(t2 - t1)
    print(f"model load (import torch + sentence-transformers, load weights): {load:.2f} s")
    print(
        f"index builds, all FAQs: lexical {lexical_build:.2f} s, "
        f"with vectors {semantic_build:.2f} s"
    )
    for name, values in times.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{name:<9} per question: median {statistics.median(values) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms, max {values[-1] * 1000:.1f} ms ({len(values)} questions)"
        )


if __name__ == "__main__":
    main()
