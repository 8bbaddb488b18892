"""Retrieval quality on labelled questions: ``faq-kb eval FILE.jsonl``.

Each line: ``{"question": "...", "answers": ["<entry title>", ...]}``; an empty ``answers``
list means no entry answers it (the right result is ``answered: false``). Optional keys:
``anchors`` (section ids, matched like titles), ``source`` (which FAQ it is asked of: the
sources named SOURCE or SOURCE.* in the manifest), ``split`` (e.g. tune / heldout).
A result is right when a labelled title is its title or is in its breadcrumb.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.analysis.typography import plain_typography
from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.search.query import SearchResult
from kb.spec import SourceSpec

RANK_DEPTH = 10  # MRR counts a right answer down to this rank


@dataclass(frozen=True)
class Question:
    """One labelled question of an eval file."""

    text: str
    answers: tuple[str, ...]
    anchors: tuple[str, ...] = ()
    source: str | None = None
    split: str | None = None
    line: int = 0


@dataclass
class Outcome:
    """How the knowledge base did on one question."""

    question: Question
    rank: int | None  # 1-based rank of the first right result, None if none in the top 10
    answered: bool
    band: str
    first: str | None  # title of the first result
    shown: bool = False  # the list faq-search prints by default (-k 3) holds a right entry


@dataclass
class Scores:
    """The figures for a group of outcomes."""

    questions: int = 0
    answerable: int = 0
    off_topic: int = 0
    recall_at_1: float = 0.0
    recall_at_3: float = 0.0
    mrr: float = 0.0
    shown_list: float = 0.0  # share of answerable questions whose shown list holds the answer
    confident: float = 0.0  # share of answerable questions answered (the "answer" band)
    answered: int = 0
    answered_precision: float = 0.0
    answered_recall: float = 0.0
    off_topic_declined: float = 0.0


@dataclass
class Report:
    """Scores overall and per source, and the misses."""

    overall: Scores
    by_source: dict[str, Scores]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def misses(self) -> list[Outcome]:
        """Answerable questions not right at rank 1, and off-topic ones answered anyway."""
        return [
            o
            for o in self.outcomes
            if (o.question.answers and o.rank != 1) or (not o.question.answers and o.answered)
        ]


def _norm(title: str) -> str:
    """Compare titles as text: rst markup, escapes, case, spacing and typography do not matter."""
    title = plain_typography(title)
    return " ".join(re.sub(r"[`*\\]|:[\w:.-]+:(?=`)", "", title).casefold().split())


def load_questions(path: str) -> list[Question]:
    """Read an eval file.

    Raises:
        FaqError: unreadable, or a line that is not a labelled question (FILE:LINE given).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"{path}: cannot read the eval file: {exc}") from None
    questions = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError as exc:
            raise FaqError(f"{path}:{number}: not JSON ({exc})") from None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("question"), str)
            or not isinstance(item.get("answers"), list)
            or not all(isinstance(a, str) for a in item["answers"])
        ):
            raise FaqError(f'{path}:{number}: expected {{"question": "...", "answers": [...]}}')
        questions.append(
            Question(
                text=item["question"],
                answers=tuple(item["answers"]),
                anchors=tuple(item.get("anchors") or ()),
                source=item.get("source"),
                split=item.get("split"),
                line=number,
            )
        )
    return questions


def is_right(question: Question, entry: dict[str, Any]) -> bool:
    """Whether a result answers a labelled question (its title, an ancestor's, or anchor)."""
    wanted = {_norm(a) for a in question.answers}
    if {_norm(entry["title"]), _norm(entry["source_title"])} & wanted:
        return True
    if any(_norm(crumb) in wanted for crumb in entry["breadcrumb"]):
        return True
    return (
        bool(question.anchors)
        and entry["anchor"] in question.anchors
        and "/" not in (entry["id"].split("/", 1)[1])
    )


def outcome(
    question: Question, result: SearchResult, shown: Sequence[dict[str, Any]] = ()
) -> Outcome:
    """Judge one search result (ranked deep) against its label; ``shown``: the entries a
    user is shown for the same question (faq-search's default list), if known. A sub-part
    shown only inside the best answer's text does not count: the list must hold it."""
    rank = None
    if question.answers:
        for position, hit in enumerate(result.hits, 1):
            if is_right(question, hit.entry):
                rank = position
                break
    first = result.hits[0].entry["title"] if result.hits else None
    listed = bool(question.answers) and any(is_right(question, entry) for entry in shown)
    return Outcome(question, rank, result.answered, result.band, first, listed)


def score(outcomes: list[Outcome]) -> Scores:
    """Recall@1/@3, MRR, answered precision/recall and off-topic decline rate."""
    answerable = [o for o in outcomes if o.question.answers]
    off_topic = [o for o in outcomes if not o.question.answers]
    answered = [o for o in outcomes if o.answered]
    right_answered = [o for o in answered if o.question.answers and o.rank == 1]

    def share(part: float, whole: int) -> float:
        return part / whole if whole else 0.0

    return Scores(
        questions=len(outcomes),
        answerable=len(answerable),
        off_topic=len(off_topic),
        recall_at_1=share(sum(o.rank == 1 for o in answerable), len(answerable)),
        recall_at_3=share(
            sum(o.rank is not None and o.rank <= 3 for o in answerable), len(answerable)
        ),
        mrr=share(sum(1 / o.rank for o in answerable if o.rank), len(answerable)),
        shown_list=share(sum(o.shown for o in answerable), len(answerable)),
        confident=share(sum(o.answered for o in answerable), len(answerable)),
        answered=len(answered),
        answered_precision=share(len(right_answered), len(answered)),
        answered_recall=share(len(right_answered), len(answerable)),
        off_topic_declined=share(sum(not o.answered for o in off_topic), len(off_topic)),
    )


SearchFn = Callable[[KnowledgeBase, str], SearchResult]


def _default_search(kb: KnowledgeBase, text: str) -> SearchResult:
    from kb.search.query import search

    reader = kb.reader
    return search(
        reader,
        text,
        k=RANK_DEPTH,
        alternative_floor=0.0,
        shown_parts=True,
        semantic=kb.ranker(),
    )


def evaluate(
    questions: list[Question],
    spec: SourceSpec,
    index_root: str | None = None,
    *,
    search_fn: SearchFn = _default_search,
    notify: Callable[[str], None] | None = None,
    semantic: bool = False,
) -> Report:
    """Ask every question of the FAQ its ``source`` names (or of all sources) and score.

    Raises:
        FaqError: a source cannot be built, or a question's source matches no source.
    """
    groups: dict[str | None, list[Question]] = {}
    for question in questions:
        groups.setdefault(question.source, []).append(question)
    outcomes: list[Outcome] = []
    for group, members in groups.items():
        sub = spec.restricted(group) if group else spec
        index_dir = os.path.join(index_root, group or "all") if index_root else None
        kb = KnowledgeBase(
            sub, index_dir, notify=notify or (lambda message: None), semantic=semantic
        )
        kb.open()
        outcomes.extend(
            # and what faq-search lists by default (the best answer, close alternatives)
            outcome(q, search_fn(kb, q.text), [h.entry for h in kb.search(q.text).hits])
            for q in members
        )
    order = {id(q): n for n, q in enumerate(questions)}
    outcomes.sort(key=lambda o: order[id(o.question)])
    by_source: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_source.setdefault(o.question.source or "(all)", []).append(o)
    return Report(
        overall=score(outcomes),
        by_source={name: score(group) for name, group in sorted(by_source.items())},
        outcomes=outcomes,
    )


def report_json(report: Report) -> dict[str, Any]:
    """The ``--json`` form of a report."""
    from dataclasses import asdict

    return {
        "overall": asdict(report.overall),
        "by_source": {name: asdict(s) for name, s in report.by_source.items()},
        "misses": [
            {
                "line": o.question.line,
                "question": o.question.text,
                "source": o.question.source,
                "expected": list(o.question.answers),
                "first": o.first,
                "rank": o.rank,
                "answered": o.answered,
                "band": o.band,
            }
            for o in report.misses
        ],
    }


def format_report(report: Report, title: str) -> str:
    """The human-readable report: a table per source, then every miss."""
    header = (
        f"{'source':<14}{'n':>5}{'R@1':>7}{'R@3':>7}{'MRR':>7}{'shown':>7}{'answered':>10}"
        f"{'confident':>11}{'precision':>11}{'off-topic':>11}{'declined':>10}"
    )
    lines = [title, "", header, "-" * len(header)]

    def row(name: str, s: Scores) -> str:
        def cell(value: float, width: int, present: int) -> str:
            return f"{value:>{width}.3f}" if present else f"{'—':>{width}}"

        return (
            f"{name:<14}{s.questions:>5}{cell(s.recall_at_1, 7, s.answerable)}"
            f"{cell(s.recall_at_3, 7, s.answerable)}{cell(s.mrr, 7, s.answerable)}"
            f"{cell(s.shown_list, 7, s.answerable)}{s.answered:>10}"
            f"{cell(s.confident, 11, s.answerable)}{cell(s.answered_precision, 11, s.answered)}"
            f"{s.off_topic:>11}{cell(s.off_topic_declined, 10, s.off_topic)}"
        )

    for name, s in report.by_source.items():
        lines.append(row(name, s))
    lines.append("-" * len(header))
    lines.append(row("overall", report.overall))
    misses = report.misses
    lines += ["", f"misses ({len(misses)}):"]
    for o in misses:
        q = o.question
        label = " | ".join(q.answers) if q.answers else "(no answer: should decline)"
        got = o.first or "(nothing)"
        rank = f"right answer at rank {o.rank}" if o.rank else "right answer not in top 10"
        if not q.answers:
            rank = f"answered ({o.band})"
        lines.append(f"  [{q.source or '-'}] line {q.line}: {q.text!r}")
        lines.append(f"      expected: {label}")
        lines.append(f"      first:    {got}  — {rank}")
    return "\n".join(lines) + "\n"
