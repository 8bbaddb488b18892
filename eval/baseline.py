"""The plain rank-bm25 baseline on the development set, scored exactly as ``faq-kb eval``.

    .venv/bin/python eval/baseline.py --split tune
    .venv/bin/python eval/baseline.py --split heldout

Each FAQ entry faq-kb's ingest finds (the same entries, so the same titles are judged) is
one document: its title and answer, lower-cased and split on whitespace, ranked by
``rank_bm25.BM25Okapi`` with its defaults. A plain search has no notion of confidence: it
"answers" whenever its best entry scores above zero. Outcomes and scores come from
``kb.maintain.evaluate.outcome`` and ``kb.maintain.evaluate.score``, as for faq-kb itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rank_bm25 import BM25Okapi

from kb.index.build import load_entries
from kb.ingest.sources import resolve_sources
from kb.maintain.evaluate import RANK_DEPTH, Outcome, format_report, load_questions, outcome, score
from kb.maintain.evaluate import Report as EvalReport
from kb.search.query import Hit, SearchResult
from kb.spec import SourceSpec

HERE = Path(__file__).resolve().parent


def tokens(text: str) -> list[str]:
    return text.lower().split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", help="only questions of this split (tune / heldout)")
    args = parser.parse_args()
    questions = load_questions(str(HERE / "questions.jsonl"))
    if args.split:
        questions = [q for q in questions if q.split == args.split]
    spec = SourceSpec(manifest=HERE / "corpora.toml")
    outcomes: list[Outcome] = []
    for group in dict.fromkeys(q.source for q in questions):
        entries, _ = load_entries(resolve_sources(spec.restricted(group) if group else spec))
        records = [e.model_dump() for e in entries]
        bm25 = BM25Okapi([tokens(f"{e.title}\n{e.answer}") for e in entries])
        for q in (q for q in questions if q.source == group):
            scores = bm25.get_scores(tokens(q.text))
            order = sorted(range(len(entries)), key=lambda d: (-scores[d], d))[:RANK_DEPTH]
            hits = [Hit(d, records[d], float(scores[d]), 0.0, 0.0) for d in order]
            band = "answer" if hits and hits[0].score > 0 else "none"
            outcomes.append(outcome(q, SearchResult(q.text, tokens(q.text), hits, band)))
    order_of = {id(q): n for n, q in enumerate(questions)}
    outcomes.sort(key=lambda o: order_of[id(o.question)])
    by_source: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_source.setdefault(o.question.source or "(all)", []).append(o)
    report = EvalReport(
        overall=score(outcomes),
        by_source={name: score(group) for name, group in sorted(by_source.items())},
        outcomes=outcomes,
    )
    split = f" (split {args.split})" if args.split else ""
    title = f"plain rank-bm25 BM25Okapi baseline{split}: {len(questions)} questions"
    print(format_report(report, title), end="")


if __name__ == "__main__":
    main()
