"""Choose how semantic ranking orders the answers, on the TUNE split only.

    .venv/bin/pip install -e ".[semantic]"     # once (see docs/quality.md)
    .venv/bin/python eval/fit_semantic.py       # ~1 minute after the first embedding

Tries BM25 alone, the similarity order alone, and reciprocal rank fusion of the two
(similarity weighing 0.3, 0.5 or 1.0), each with none, one or two of BM25's best kept
first. The objective is eval/tune.py's: Recall@1 + MRR/2, then Recall@3. The held-out
split is never read here. The chosen constants are copied into kb/search/semantic.py by hand.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import kb.search.semantic as semantic
from kb.maintain.evaluate import evaluate, load_questions
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent
ONLY_SIMILARITY = 1e6  # a fusion weight at which BM25's ranks only break ties


def main() -> None:
    questions = [q for q in load_questions(str(HERE / "questions.jsonl")) if q.split == "tune"]
    questions = [q for q in questions if q.answers]
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    rows = []
    lexical = evaluate(questions, spec).overall
    rows.append((lexical.recall_at_1, lexical.mrr, lexical.recall_at_3, "BM25 alone (no semantic)"))
    for keep, weight in itertools.product([0, 1, 2], [0.3, 0.5, 1.0, ONLY_SIMILARITY]):
        semantic.KEEP_LEXICAL, semantic.FUSION_WEIGHT = keep, weight
        s = evaluate(questions, spec, semantic=True).overall
        how = "similarity order" if weight == ONLY_SIMILARITY else f"fusion weight {weight}"
        rows.append((s.recall_at_1, s.mrr, s.recall_at_3, f"keep {keep} of BM25's first, {how}"))
        print(f"{rows[-1][3]}: R@1 {s.recall_at_1:.3f} R@3 {s.recall_at_3:.3f}", file=sys.stderr)
    rows.sort(key=lambda r: (r[0] + 0.5 * r[1], r[2]), reverse=True)
    for r1, mrr, r3, name in rows:
        print(f"R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}  {name}")


if __name__ == "__main__":
    main()
