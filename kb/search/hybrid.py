"""Rank candidates on lexical and meaning evidence together, and decide how sure to be.

Two small models over the evidence rows of ``kb.search.features``, both fitted leave-one-FAQ-out
by ``eval/cross_faq.py`` (see docs/quality.md), so that their figures hold on FAQs they
were not fitted on:

* the **ranking**: a conditional logit, score = w · evidence; a candidate's share of the
  softmax over all candidates says how much of the choice it holds;
* the **confidence**: a logistic model of whether the best candidate is right, from its
  share, its lead over the runner-up and its own evidence; *answer* at or above
  ``answer_at`` (set so that answers were right ``TARGET_PRECISION`` of the time on the FAQs
  fitted on),
  *none* below ``none_below``, *suggest* between.

One model serves the lexical-only install (coverage, BM25 score, title coverage) and one
the semantic extra (the same plus similarity to the entry's wordings and to its answer).
The scoring runs in plain Python: a cold lexical ``faq-search`` never imports numpy. The
fitting functions (numpy) are used by eval/cross_faq.py and its tests only.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

# An alternative is shown after the best answer when it holds at least this share of the
# choice (the ranking's softmax), or is that close to the best one's share: a display
# choice, not fitted; below it an alternative is noise.
ALTERNATIVE_SHARE = 0.08
ALTERNATIVE_RATIO = 0.25
# The bar the confidence threshold is set to meet on the FAQs it is fitted on, a margin
# above the 0.90 users are promised: per model, the lowest of 0.90, 0.92 and 0.94 whose
# answers stayed right >= 91% of the time on every held-out check (docs/quality.md,
# session 8). With meaning, 0.94 was right 0.94-0.98 of the time for one question in ten
# answered; 0.92 answers half as many again at 0.92. The lexical model at 0.92 fell to
# 0.90 on the old split's FAQs with aliases, so it keeps 0.94.
TARGET_PRECISION = {"lexical": 0.94, "semantic": 0.92}
# "none" below this confidence: a best candidate this unlikely was almost never right.
NONE_RIGHT_SHARE = 0.03  # share of right best answers given up to say "none"

# Columns of an expanded row (``expand``): kb.search.features.COLUMNS, then each candidate's
# reciprocal rank in BM25's order and in the order of closeness in meaning.
LEXICAL_COLUMNS = (0, 1, 2)  # coverage, lexical, title
# … similarities, how far they stand out, how central the entry is, and the two ranks
SEMANTIC_COLUMNS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
_BASE = 9  # columns of kb.search.features.COLUMNS; expand() adds two


def expand(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """The rows with two more columns: reciprocal rank by BM25 and by meaning."""
    lexical = sorted((n for n, r in enumerate(rows) if r[1] > 0), key=lambda n: (-rows[n][1], n))
    meaning = sorted(range(len(rows)), key=lambda n: (-max(rows[n][3], rows[n][4]), n))
    out = [[*r, 0.0, 0.0] for r in rows]
    for rank, n in enumerate(lexical):
        out[n][_BASE] = 1.0 / (1 + rank)
    for rank, n in enumerate(meaning):
        out[n][_BASE + 1] = 1.0 / (1 + rank)
    return out


def _ranks(rows: Sequence[Sequence[float]], n: int) -> tuple[float, float]:
    """Row ``n``'s two added columns of ``expand(rows)`` (its reciprocal ranks by BM25 and
    by meaning), without ranking every row: the rows that sort before it are counted."""
    lexical = rows[n][1]
    lexical_rank = 0.0
    if lexical > 0:
        ahead = sum(1 for m, r in enumerate(rows) if r[1] > 0 and (-r[1], m) < (-lexical, n))
        lexical_rank = 1.0 / (1 + ahead)
    meaning = -max(rows[n][3], rows[n][4])
    ahead = sum(1 for m, r in enumerate(rows) if (-max(r[3], r[4]), m) < (meaning, n))
    return lexical_rank, 1.0 / (1 + ahead)


class Model:
    """Fitted weights of the ranking and of the confidence, and the two band thresholds."""

    def __init__(
        self,
        columns: Sequence[int],
        rank: Sequence[float],
        confidence: Sequence[float],
        answer_at: float,
        none_below: float,
    ) -> None:
        self.columns = tuple(columns)
        self.rank = tuple(rank)
        self.confidence = tuple(confidence)
        self.answer_at = answer_at
        self.none_below = none_below

    def to_json(self) -> dict[str, Any]:
        """The constants, as kb/hybrid.py stores them."""
        return {
            "columns": list(self.columns),
            "rank": [round(w, 4) for w in self.rank],
            "confidence": [round(w, 4) for w in self.confidence],
            "answer_at": round(self.answer_at, 4),
            "none_below": round(self.none_below, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        """The model of ``to_json`` output."""
        return cls(
            data["columns"], data["rank"], data["confidence"], data["answer_at"], data["none_below"]
        )

    def scores(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Each candidate's ranking score."""
        if len(self.columns) > _BASE:
            rows = expand(rows)
        pairs = list(zip(self.rank, self.columns, strict=True))
        return [sum([w * row[c] for w, c in pairs]) for row in rows]

    def order(self, rows: Sequence[Sequence[float]]) -> tuple[list[int], list[float]]:
        """Candidate positions best first, and each one's share of the choice (softmax)."""
        scores = self.scores(rows)
        if not scores:
            return [], []
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        total = sum(weights)
        shares = [w / total for w in weights]
        # Ties keep the candidates' own order (BM25's, then the similarity's): a stable sort.
        order = sorted(range(len(rows)), key=[-s for s in scores].__getitem__)
        return order, shares

    def sureness(
        self, rows: Sequence[Sequence[float]], order: list[int], shares: list[float]
    ) -> float:
        """How likely the best candidate is right (0 when there is none)."""
        if not order:
            return 0.0
        x = confidence_inputs(rows, order, shares, self.columns)
        z = sum(w * v for w, v in zip(self.confidence, x, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def band(self, sureness: float) -> str:
        """ "answer", "suggest" or "none"."""
        if sureness >= self.answer_at:
            return "answer"
        return "suggest" if sureness >= self.none_below else "none"


def confidence_inputs(
    rows: Sequence[Sequence[float]], order: list[int], shares: list[float], columns: Sequence[int]
) -> list[float]:
    """What the confidence model reads about the best candidate: a bias, its share of the
    choice and lead over the runner-up, its evidence and ranks, and (with meaning) whether
    both signals put it first."""
    best = order[0]
    runner = shares[order[1]] if len(order) > 1 else 0.0
    row = rows[best]
    lexical_rank, meaning_rank = _ranks(rows, best)
    inputs = [1.0, shares[best], shares[best] - runner, row[0], row[1], row[2], lexical_rank]
    if len(columns) > 3:
        agree = 1.0 if lexical_rank == 1.0 and meaning_rank == 1.0 else 0.0
        inputs += [row[3], row[4], row[5], row[6], meaning_rank, agree, row[0] * row[4]]
    return inputs


# A confident answer is ambiguous when the runner-up holds at least this share of the
# choice relative to the best (``faq-kb diff`` flags questions that become so).
AMBIGUOUS_RATIO = 0.5


def ambiguous(result: Any) -> bool:
    """Whether ``result`` (a ``kb.search.query.SearchResult``) is confident but has a runner-up
    nearly as likely: two entries claim the question."""
    hits = result.hits
    return bool(
        result.answered and len(hits) > 1 and hits[1].share >= AMBIGUOUS_RATIO * hits[0].share
    )


def listing(
    order: list[int],
    shares: list[float],
    k: int,
    descends: Callable[[int, int], bool],
    *,
    every: bool = False,
    parts: bool = False,
) -> list[int]:
    """The candidates a user is shown, best first, at most ``k``: those ``shown`` keeps (or,
    with ``every``, all of ``order``), except a question after one of its own sub-parts (that
    links into it already) and, unless ``parts``, the best one's sub-parts after it (its
    answer shows them). ``descends(a, b)``: whether candidate ``a`` lies inside ``b``."""
    taken: list[int] = []
    for n in order if every else shown(order, shares, len(order)):
        if len(taken) >= k:
            break
        if any(descends(t, n) for t in taken):
            continue
        if taken and not parts and descends(n, taken[0]):
            continue
        taken.append(n)
    return taken


def shown(order: list[int], shares: list[float], k: int) -> list[int]:
    """The best candidate, then alternatives that hold enough of the choice (at most ``k``)."""
    if not order:
        return []
    best = shares[order[0]]
    keep = [order[0]]
    for n in order[1:]:
        if len(keep) >= k:
            break
        if shares[n] >= ALTERNATIVE_SHARE or shares[n] >= ALTERNATIVE_RATIO * best:
            keep.append(n)
    return keep


# --- fitting (numpy; eval/cross_faq.py and its tests only) -------------------------------


def _columns(records: list[dict[str, Any]], semantic: bool) -> tuple[int, ...]:
    return SEMANTIC_COLUMNS if semantic else LEXICAL_COLUMNS


def _kept(record: dict[str, Any], semantic: bool) -> list[int]:
    """Which of a record's candidates the product ranks: BM25's ``LEXICAL_CANDIDATES`` best,
    then (with meaning) the ``SEMANTIC_CANDIDATES`` closest not among them, in that order.

    A record holds more of each (eval/cross_faq.py's ``POOL``); the closest in meaning over
    the whole FAQ are among its rows, ties broken by entry number as ``candidates`` does.
    """
    from kb.search.features import LEXICAL_CANDIDATES, SEMANTIC_CANDIDATES

    rows = record["rows"]
    keep = list(range(min(record["lexical"], LEXICAL_CANDIDATES)))
    if semantic:
        numbers = record["numbers"]
        closest = sorted(range(len(rows)), key=lambda n: (-max(rows[n][3], rows[n][4]), numbers[n]))
        taken = set(keep)
        keep += [n for n in closest[:SEMANTIC_CANDIDATES] if n not in taken]
    return keep


def _rows(record: dict[str, Any], semantic: bool) -> tuple[list[list[float]], list[bool]]:
    """A record's candidates as the model sees them (``_kept``), and whether each is right."""
    keep = _kept(record, semantic)
    return [record["rows"][n] for n in keep], [record["right"][n] for n in keep]


def _better_ranking(
    records: list[dict[str, Any]], columns: Sequence[int], fitted: list[float], semantic: bool
) -> list[float]:
    """The fitted weights, or BM25's own order if that put more right answers first (its
    scale fitted alone, so that shares of the choice still mean something)."""
    scale = fit_rank(records, [1], semantic)[0]
    plain = [scale if c == 1 else 0.0 for c in columns]

    def firsts(weights: list[float]) -> int:
        model = Model(columns, weights, [], 1.0, 0.0)
        return sum(_right_first(model, r, semantic) for r in records)

    return fitted if firsts(fitted) > firsts(plain) else plain


def fit_rank(records: list[dict[str, Any]], columns: Sequence[int], semantic: bool) -> list[float]:
    """Conditional-logit weights maximising the chance of the right candidates (L2, GD)."""
    import numpy as np

    groups = []
    for r in records:
        rows, right = _rows(r, semantic)
        if any(right):
            X = np.array(expand(rows) if len(columns) > _BASE else rows, dtype=float)
            groups.append((X[:, list(columns)], np.array(right, dtype=bool)))
    if not groups:
        return [1.0 if c == 1 else 0.0 for c in columns]
    # Padded into one array, the candidates of every question at once.
    width = max(len(y) for _, y in groups)
    X = np.zeros((len(groups), width, len(columns)))
    valid = np.zeros((len(groups), width), dtype=bool)
    chosen = np.zeros((len(groups), width), dtype=bool)
    for g, (x, y) in enumerate(groups):
        X[g, : len(y)], valid[g, : len(y)], chosen[g, : len(y)] = x, True, y
    w = np.ones(len(columns))
    step, l2 = 0.5, 1e-3
    for _ in range(1500):
        s = np.where(valid, X @ w, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        q = np.where(chosen, p, 0.0)
        q /= q.sum(axis=1, keepdims=True)
        grad = np.einsum("gc,gcf->f", p - q, X) / len(groups) + l2 * w
        w -= step * grad
    return [float(v) for v in w]


def fit(records: list[dict[str, Any]], *, semantic: bool) -> Model:
    """Both models and the thresholds, fitted on ``records`` (eval/cross_faq.py's rows)."""
    import numpy as np

    columns = _columns(records, semantic)
    if semantic:
        rank = _better_ranking(records, columns, fit_rank(records, columns, semantic), semantic)
    else:
        # The lexical install keeps BM25's own order (the engine of record; a fitted blend
        # of its evidence did no better on left-out FAQs), its scale fitted for the shares.
        scale = fit_rank(records, [1], semantic)[0]
        rank = [scale if c == 1 else 0.0 for c in columns]
    base = Model(columns, rank, [], 1.0, 0.0)
    inputs, labels = [], []
    projects = []
    for r in records:
        rows, right = _rows(r, semantic)
        order, shares = base.order(rows)
        if not order:
            continue
        inputs.append(confidence_inputs(rows, order, shares, columns))
        labels.append(bool(right[order[0]]))
        projects.append(r["project"])
    X, y, where = np.array(inputs), np.array(labels, dtype=bool), np.array(projects)
    model = Model(columns, rank, _fit_confidence(X, y), 1.0, 0.0)
    # The thresholds are set on how sure a model fitted *without* each FAQ was of that
    # FAQ's questions (inner leave-one-FAQ-out), not on the questions it was fitted on,
    # which it would be too sure of.
    sure = np.zeros(len(y))
    for project in sorted(set(projects)):
        out = where == project
        weights = model.confidence if out.all() else _fit_confidence(X[~out], y[~out])
        sure[out] = 1.0 / (1.0 + np.exp(-np.clip(X[out] @ np.array(weights), -40, 40)))
    target = TARGET_PRECISION["semantic" if semantic else "lexical"]
    model.answer_at = _answer_threshold(sure, y, target)
    lowest = float(np.quantile(sure[y], NONE_RIGHT_SHARE)) if y.any() else 0.0
    model.none_below = min(lowest, model.answer_at)
    return model


def _fit_confidence(X: Any, y: Any) -> list[float]:
    """Logistic-regression weights (on standardised inputs, folded back onto raw ones)."""
    import numpy as np

    target = y.astype(float)
    mean, spread = X[:, 1:].mean(axis=0), X[:, 1:].std(axis=0) + 1e-9
    Z = np.hstack([X[:, :1], (X[:, 1:] - mean) / spread])
    w = np.zeros(Z.shape[1])
    for _ in range(4000):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        w -= 0.5 * (Z.T @ (p - target) / len(target) + 1e-3 * np.r_[0.0, w[1:]])
    raw = np.r_[w[0] - float(np.sum(w[1:] * mean / spread)), w[1:] / spread]
    return [float(v) for v in raw]


def _ordered(
    model: Model, record: dict[str, Any], semantic: bool
) -> tuple[Any, list[int], list[float]]:
    rows, _ = _rows(record, semantic)
    order, shares = model.order(rows)
    return rows, order, shares


def _right_first(model: Model, record: dict[str, Any], semantic: bool) -> bool:
    rows, right = _rows(record, semantic)
    order, _ = model.order(rows)
    return bool(order) and bool(right[order[0]])


def _answer_threshold(sure: Any, right_first: Any, target: float) -> float:
    """The lowest confidence at which answers were right at least ``target`` of the time."""
    import numpy as np

    best = 1.0
    for t in sorted(set(np.round(sure, 4).tolist()), reverse=True):
        picked = sure >= t
        if picked.sum() and right_first[picked].mean() >= target:
            best = t
    return float(best)


# --- leave-one-FAQ-out -------------------------------------------------------------------


class Figures:
    """What a user sees, over a set of questions."""

    def __init__(self) -> None:
        self.answerable = self.off_topic = 0
        self.first = self.listed = self.answered = self.answered_right = self.declined = 0

    def add(self, answerable: bool, right_first: bool, listed: bool, band: str) -> None:
        """Count one question."""
        if answerable:
            self.answerable += 1
            self.first += right_first
            self.listed += listed
            if band == "answer":
                self.answered += 1
                self.answered_right += right_first
        else:
            self.off_topic += 1
            self.declined += band != "answer"
            self.answered += band == "answer"

    def row(self) -> dict[str, float | int]:
        """The figures as shares."""

        def share(a: int, b: int) -> float:
            return a / b if b else float("nan")

        return {
            "answerable": self.answerable,
            "off_topic": self.off_topic,
            "recall_at_1": share(self.first, self.answerable),
            "shown_list": share(self.listed, self.answerable),
            "confident": share(self.answered - (self.off_topic - self.declined), self.answerable),
            "precision": share(self.answered_right, self.answered),
            "declined": share(self.declined, self.off_topic),
        }


SHOWN = 3  # faq-search's default -k: the best answer and two alternatives


def outcome(model: Model, record: dict[str, Any], semantic: bool) -> tuple[list[int], str]:
    """What a search shows for one question under ``model``: the entry numbers listed (the
    best first; ``listing``, with the FAQ's nesting from the candidates' ``ancestors``) and
    the band."""
    keep = _kept(record, semantic)
    rows = [record["rows"][n] for n in keep]
    order, shares = model.order(rows)
    band = model.band(model.sureness(rows, order, shares)) if order else "none"
    numbers = [record["numbers"][n] for n in keep]
    above = [set(record["ancestors"][n]) for n in keep] if "ancestors" in record else None

    def descends(a: int, b: int) -> bool:
        return above is not None and numbers[b] in above[a]

    return [numbers[n] for n in listing(order, shares, SHOWN, descends)], band


def judge(model: Model, record: dict[str, Any], semantic: bool, figures: Figures) -> None:
    """Add one question's outcome under ``model``."""
    listed, band = outcome(model, record, semantic)
    right = {n for n, ok in zip(record["numbers"], record["right"], strict=True) if ok}
    figures.add(
        record["answerable"], bool(listed) and listed[0] in right, bool(right & set(listed)), band
    )


def training(plain: list[dict[str, Any]], aliased: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a model is fitted on: every question without aliases, and again with them where
    its FAQ has any (so that the confidence holds both on a first day and after)."""
    same = {(r["project"], r["line"]): r["rows"] for r in plain}
    return plain + [r for r in aliased if same.get((r["project"], r["line"])) != r["rows"]]


def fit_without(
    plain: list[dict[str, Any]], aliased: list[dict[str, Any]], project: str, *, semantic: bool
) -> Model:
    """The models fitted on every FAQ but ``project`` (with and without their aliases)."""
    return fit(
        training(
            [r for r in plain if r["project"] != project],
            [r for r in aliased if r["project"] != project],
        ),
        semantic=semantic,
    )


def cross_validate(
    plain: list[dict[str, Any]],
    aliased: list[dict[str, Any]],
    *,
    semantic: bool,
    scored: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, dict[str, Figures]]:
    """Per left-out FAQ: fitted on the others (with and without their aliases), scored on it
    without and with its aliases, or on each condition of ``scored`` (name → records)."""
    scored = scored or {"plain": plain, "aliases": aliased}
    projects = sorted({r["project"] for records in scored.values() for r in records})
    result: dict[str, dict[str, Figures]] = {}
    total = {tag: Figures() for tag in scored}
    for project in projects:
        model = fit_without(plain, aliased, project, semantic=semantic)
        result[project] = {tag: Figures() for tag in scored}
        for tag, records in scored.items():
            for r in records:
                if r["project"] == project:
                    judge(model, r, semantic, result[project][tag])
                    judge(model, r, semantic, total[tag])
    result["overall"] = total
    return result


CONDITIONS = (("plain", "left-out FAQ without aliases"), ("aliases", "with its aliases"))


def format_cross(
    report: dict[str, dict[str, Figures]],
    *,
    markdown: bool = False,
    conditions: Sequence[tuple[str, str]] = CONDITIONS,
) -> str:
    """The report as a table per condition (``conditions``: its key and title)."""
    lines = []
    for tag, title in conditions:
        lines.append(f"{title}:")
        head = ["FAQ", "n", "R@1", "shown", "confident", "precision", "declined"]
        rows = []
        for project, figures in report.items():
            f = figures[tag].row()
            rows.append(
                [
                    project,
                    f"{f['answerable']}+{f['off_topic']}",
                    *(
                        "—" if math.isnan(float(f[k])) else f"{float(f[k]):.3f}"
                        for k in ("recall_at_1", "shown_list", "confident", "precision", "declined")
                    ),
                ]
            )
        if markdown:
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            lines += ["| " + " | ".join(r) + " |" for r in rows]
        else:
            lines.append("".join(f"{h:>11}" if i else f"{h:<12}" for i, h in enumerate(head)))
            lines += [
                "".join(f"{c:>11}" if i else f"{c:<12}" for i, c in enumerate(r)) for r in rows
            ]
        lines.append("")
    return "\n".join(lines)


# Fitted on all fourteen FAQs of eval/questions.jsonl without aliases by
# `eval/cross_faq.py fit --write`; the same procedure's leave-one-FAQ-out figures are
# in docs/quality.md.
LEXICAL_MODEL = Model.from_json(
    {
        "columns": [0, 1, 2],
        "rank": [0.0, 6.2373, 0.0],
        "confidence": [-2.0078, -0.4723, 1.5618, 4.0369, 0.0, 0.6894, 0.0],
        "answer_at": 0.9259,
        "none_below": 0.2716,
    }
)
SEMANTIC_MODEL = Model.from_json(
    {
        "columns": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "rank": [
            3.2879,
            0.9442,
            0.7255,
            -0.4288,
            0.9679,
            0.2104,
            0.7676,
            -0.9626,
            -1.9792,
            0.93,
            1.0008,
        ],
        "confidence": [
            -4.5289,
            2.939,
            -0.1925,
            3.8239,
            0.7525,
            -0.5987,
            -0.0447,
            0.1172,
            3.1987,
            0.0413,
            -0.027,
            0.1536,
            -0.2282,
            -2.2434,
        ],
        "answer_at": 0.8874,
        "none_below": 0.2625,
    }
)
