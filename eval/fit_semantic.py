"""Fit the semantic re-ranking and its bands on the TUNE split only; prints the chosen values.

    .venv/bin/pip install -e '.[semantic]'
    .venv/bin/python eval/fit_semantic.py          # ~1 minute (builds in memory)

Step 1, ranking: grid over the blend weight and the candidate counts of kb/semantic.py,
scored by Recall@1 + 0.5 * MRR on the answerable tune questions (as eval/tune.py does).
Step 2, bands: with that ranking, each tune question's best hit's features (coverage, the
lexical rule, similarity) are recorded; a band setting is scored by how many questions it
answers correctly, subject to answered precision >= 0.9 and off-topic declines >= 0.9 on
the tune split. The held-out split is never read. The chosen values are copied into
kb/semantic.py by hand.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

import kb.semantic as sem
from kb.build import build_bytes
from kb.evaluate import Question, is_right, load_questions, outcome, score
from kb.index import IndexReader
from kb.search import NONE_COVERAGE, _confident, search
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent


class _Memo(sem.Encoder):
    """The configured encoder, remembering each question's embedding across grid points."""

    def __init__(self, inner: sem.Encoder) -> None:  # no super().__init__: wraps a loaded one
        self.inner, self.name, self.path, self.dim = inner, inner.name, inner.path, inner.dim
        self.memo: dict[tuple[str, ...], Any] = {}

    def encode(self, texts: list[str]) -> Any:
        key = tuple(texts)
        if key not in self.memo:
            self.memo[key] = self.inner.encode(texts)
        return self.memo[key]


def main() -> None:
    os.environ["FAQ_SEMANTIC"] = "1"
    questions = [q for q in load_questions(str(HERE / "questions.jsonl")) if q.split == "tune"]
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    sem._ENCODERS[sem.model_id()] = _Memo(sem.encoder())
    readers: dict[str | None, IndexReader] = {}
    for group in dict.fromkeys(q.source for q in questions):
        data, _ = build_bytes(spec.restricted(group) if group else spec, semantic=True)
        readers[group] = IndexReader(data, f"<memory:{group}>")

    def ask(q: Question, k: int = 10) -> Any:
        return search(readers[q.source], q.text, k=k, alternative_floor=0.0, semantic=True)

    answerable = [q for q in questions if q.answers]
    lexical = score(
        [
            outcome(
                q, search(readers[q.source], q.text, k=10, alternative_floor=0.0, semantic=False)
            )
            for q in answerable
        ]
    )
    print(
        f"lexical (tune): R@1 {lexical.recall_at_1:.3f} R@3 {lexical.recall_at_3:.3f} "
        f"MRR {lexical.mrr:.3f}",
        file=sys.stderr,
    )
    results = []
    weights = [x / 20 for x in range(0, 21)]
    for weight, n_lex, n_sem in itertools.product(weights, [10, 20, 50], [0, 3, 10]):
        sem.WEIGHT, sem.LEXICAL_CANDIDATES, sem.SEMANTIC_CANDIDATES = weight, n_lex, n_sem
        s = score([outcome(q, ask(q)) for q in answerable])
        # Ties: the smaller weight, the fewer candidates (the milder change).
        key = (round(s.recall_at_1 + 0.5 * s.mrr, 9), -weight, -n_lex, -n_sem)
        results.append((key, s.recall_at_1, s.recall_at_3, s.mrr, weight, n_lex, n_sem))
    for _, r1, r3, mrr, weight, n_lex, n_sem in sorted(results, key=lambda r: r[5:] + r[4:5]):
        print(
            f"  weight={weight} lex={n_lex} sem={n_sem}: R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}",
            file=sys.stderr,
        )
    results.sort(reverse=True)
    for _, r1, r3, mrr, weight, n_lex, n_sem in results[:10]:
        print(f"R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}  weight={weight} lex={n_lex} sem={n_sem}")
    _, r1, r3, mrr, weight, n_lex, n_sem = results[0]
    sem.WEIGHT, sem.LEXICAL_CANDIDATES, sem.SEMANTIC_CANDIDATES = weight, n_lex, n_sem

    rows = []  # (coverage, lexical rule, similarity, answerable, right at 1)
    for q in questions:
        result = ask(q, k=1)
        hit = result.hits[0]
        right = bool(q.answers) and is_right(q, hit.entry)
        rows.append((hit.coverage, _confident(hit), hit.similarity or 0.0, bool(q.answers), right))
    off_topic = sum(not r[3] for r in rows)
    sim_steps = [x / 40 for x in range(0, 41)]
    best = None
    for s_answer, min_cov, min_sim, s_none in itertools.product(
        sim_steps, [0.0, 0.1, 0.2, 0.3], [0.0, 0.2, 0.3, 0.4, 0.5], [0.3, 0.4, 0.5, 0.6]
    ):

        def answers(r: tuple[float, bool, float, bool, bool]) -> bool:
            cov, lex, sim = r[0], r[1], r[2]
            if cov < NONE_COVERAGE and sim < s_none:  # noqa: B023 - evaluated in the loop
                return False
            return (lex and sim >= min_sim) or (sim >= s_answer and cov >= min_cov)  # noqa: B023

        answered = [r for r in rows if answers(r)]
        right = sum(r[4] for r in answered)
        precision = right / len(answered) if answered else 1.0
        declined = sum(1 for r in rows if not r[3] and not answers(r)) / max(off_topic, 1)
        if precision >= 0.9 and declined >= 0.9:
            # Ties: the mildest change to the lexical bands (a high similarity needed to
            # answer or to escape "none", no veto on the lexical rule).
            key = (right, precision, declined, s_answer, -min_sim, -min_cov, s_none)
            if best is None or key > best[0]:
                best = (key, s_answer, min_cov, min_sim, s_none, precision, declined, answered)
    assert best is not None
    _, s_answer, min_cov, min_sim, s_none, precision, declined, answered = best
    print(
        f"WEIGHT = {weight}\nLEXICAL_CANDIDATES = {n_lex}\nSEMANTIC_CANDIDATES = {n_sem}\n"
        f"ANSWER_SIMILARITY = {s_answer}\nANSWER_MIN_COVERAGE = {min_cov}\n"
        f"ANSWER_MIN_SIMILARITY = {min_sim}\nNONE_SIMILARITY = {s_none}"
    )
    print(
        f"tune: R@1 {r1:.3f} R@3 {r3:.3f} MRR {mrr:.3f}; answers {len(answered)} questions, "
        f"{best[0][0]} right (precision {precision:.3f}), off-topic declined {declined:.3f}"
    )


if __name__ == "__main__":
    main()
