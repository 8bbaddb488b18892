"""Fit the answer/suggest/none bands on the TUNE split only; prints the chosen thresholds.

    .venv/bin/python eval/fit_bands.py

For each tune question the best hit's two confidence features are recorded (how much of
the question's weight it holds, and how much of its own title the question holds). A
threshold set is scored by how many questions it answers correctly, subject to answered
precision >= 0.9 and off-topic declines >= 0.9 on the tune split. The chosen values are
copied into kb/search/query.py by hand.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from kb.knowledge import KnowledgeBase
from kb.maintain.evaluate import is_right, load_questions
from kb.search.query import search
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent
STEPS = [x / 20 for x in range(0, 21)]


def main() -> None:
    questions = [q for q in load_questions(str(HERE / "questions.jsonl")) if q.split == "tune"]
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    rows = []  # (coverage, title_coverage, answerable, right_at_1)
    kbs: dict[str, KnowledgeBase] = {}
    for q in questions:
        kb = kbs.get(q.source) or kbs.setdefault(
            q.source, KnowledgeBase(spec.restricted(q.source), f"/tmp/fit-bands/{q.source}")
        )
        result = search(kb.reader, q.text, k=1)
        if not result.hits:
            rows.append((0.0, 0.0, bool(q.answers), False))
            continue
        hit = result.hits[0]
        rows.append(
            (
                hit.coverage,
                hit.title_coverage,
                bool(q.answers),
                bool(q.answers) and is_right(q, hit.entry),
            )
        )
    off_topic = sum(not r[2] for r in rows)
    best = None
    for cov, tcov, mincov in itertools.product(STEPS, STEPS, STEPS):
        if mincov > cov:
            continue
        answered = [r for r in rows if r[0] >= cov or (r[1] >= tcov and r[0] >= mincov)]
        right = sum(r[3] for r in answered)
        precision = right / len(answered) if answered else 1.0
        declined = sum(
            1 for r in rows if not r[2] and not (r[0] >= cov or (r[1] >= tcov and r[0] >= mincov))
        ) / max(off_topic, 1)
        if precision >= 0.9 and declined >= 0.9:
            key = (right, -abs(cov - 0.5), precision)
            if best is None or key > best[0]:
                best = (key, cov, tcov, mincov, precision, declined, len(answered))
    assert best is not None
    _, cov, tcov, mincov, precision, declined, n = best
    print(
        f"ANSWER_COVERAGE = {cov}\nANSWER_TITLE_COVERAGE = {tcov}\nANSWER_MIN_COVERAGE = {mincov}"
    )
    print(
        f"tune: answers {n} questions, {best[0][0]} right (precision {precision:.3f}), "
        f"off-topic declined {declined:.3f}; {sum(r[2] for r in rows)} answerable"
    )
    # The "none" band: below this coverage the best hit was never right on the tune split.
    wrong_floor = max((r[0] for r in rows if r[3]), default=0.0)
    right_min = min((r[0] for r in rows if r[3]), default=0.0)
    print(
        f"lowest coverage of a right first hit: {right_min:.3f} (highest overall {wrong_floor:.3f})"
    )


if __name__ == "__main__":
    main()
