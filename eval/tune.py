"""Grid-search the ranking constants on the TUNE split only; prints the best settings.

    .venv/bin/python eval/tune.py            # ~1-2 minutes

The held-out split is never read here. Constants found are copied by hand into
kb/index/params.py (field weights, k1, b) with a comment saying where they came from.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import kb.index.build as build_mod
import kb.index.encode as encode_mod
import kb.index.params as params_mod
from kb.index.reader import IndexReader
from kb.maintain.evaluate import load_questions, outcome, score
from kb.search.query import search
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent


def run(questions: list, spec: SourceSpec) -> tuple[float, float, float]:
    outcomes = []
    groups: dict[str, list] = {}
    for q in questions:
        groups.setdefault(q.source, []).append(q)
    for group, members in groups.items():
        data, _ = build_mod.build_bytes(spec.restricted(group))
        reader = IndexReader(data, "<memory>")
        outcomes += [
            outcome(q, search(reader, q.text, k=10, alternative_floor=0.0)) for q in members
        ]
    s = score(outcomes)
    return s.recall_at_1, s.recall_at_3, s.mrr


def main() -> None:
    questions = [q for q in load_questions(str(HERE / "questions.jsonl")) if q.split == "tune"]
    questions = [q for q in questions if q.answers]
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    grid = itertools.product([2.0, 3.0, 4.0], [0.5, 1.0, 2.0], [0.5, 1.0], [1.2, 1.5], [0.5, 0.75])
    results = []
    for title, aliases, context, k1, b in grid:
        weights = {"title": title, "aliases": aliases, "context": context, "answer": 1.0}
        # kb.index.encode took its own references to the constants when it was imported.
        for module in (encode_mod, params_mod):
            module.FIELD_WEIGHTS, module.K1, module.B = weights, k1, b
        r1, r3, mrr = run(questions, spec)
        settings = f"title={title} aliases={aliases} context={context} k1={k1} b={b}"
        results.append((r1 + 0.5 * mrr, r1, r3, mrr, settings))
        print(f"{settings}: R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}", file=sys.stderr)
    results.sort(reverse=True)
    for _, r1, r3, mrr, settings in results[:10]:
        print(f"R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}  {settings}")


if __name__ == "__main__":
    main()
