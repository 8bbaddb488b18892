"""Leave-one-FAQ-out evaluation: every constant fitted on the other FAQs, scored on the one out.

    .venv/bin/python eval/cross_faq.py collect [--semantic]   # candidates' evidence, cached
    .venv/bin/python eval/cross_faq.py report  [--semantic] [--markdown]
    .venv/bin/python eval/cross_faq.py learn   [--semantic] [--aliases]   # learning from use

``collect`` asks every question of eval/questions.jsonl of its own FAQ, twice: with the
FAQ's alternate wordings (eval/aliases/, where they exist) and without any (a
maintainer's first day), and keeps each candidate's evidence (``kb.search.features``) and whether
it is right. ``report`` then, for each FAQ in turn, fits the ranking weights and the
confidence model of ``kb.search.hybrid`` on the *other* FAQs' questions (with and without their
aliases) and
scores the left-out FAQ, without and with its aliases; it prints per-FAQ and overall
figures of what a user sees: Recall@1, whether the shown list holds the answer, the share
of answerable questions answered confidently, their precision, off-topic declined.
``fit`` prints the constants fitted on every FAQ (the ones kb/search/hybrid.py ships).
``ceiling`` asks how far any confidence threshold could go: with each left-out FAQ's
held-out confidence, the most answerable questions answered at precision ≥ 0.90 by the
best threshold chosen *after the fact*, and how well the confidence ranks right first
answers above the rest (AUC).
``learn`` simulates learning from use with the product's own loop (feedback store,
``propose_aliases``, ``accept``): each fifth of a FAQ's questions is asked after the
other askers' choices became aliases, and scored against the same FAQ's first day.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(HERE.parent))

from kb.knowledge import KnowledgeBase  # noqa: E402
from kb.maintain.evaluate import Question, is_right, load_questions  # noqa: E402
from kb.search.features import candidates  # noqa: E402
from kb.search.query import _query_tokens, ancestors, score_all  # noqa: E402
from kb.spec import SourceSpec  # noqa: E402

# Candidates kept per signal: more than a search ranks (kb.search.features), so that a
# record can be cut to other pools; hybrid._kept keeps exactly the product's.
POOL = 40


def _source_lines(item: dict[str, Any], path: Path, aliases: Path | bool) -> list[str]:
    """A manifest's ``[[source]]`` table for one of eval/corpora.toml's sources."""
    return [
        "[[source]]",
        f"name = {json.dumps(item['name'])}",
        f"path = {json.dumps(str(path))}",
        f"url = {json.dumps(item['url'])}",
        f"aliases = {json.dumps(aliases if isinstance(aliases, bool) else str(aliases))}",
        "",
    ]


def _manifest(with_aliases: bool) -> Path:
    """eval/corpora.toml as is, or a copy whose sources have no aliases at all."""
    original = HERE / "corpora.toml"
    if with_aliases:
        return original
    data = tomllib.loads(original.read_text(encoding="utf-8"))
    CACHE.mkdir(exist_ok=True)
    lines = []
    for item in data["source"]:
        path = (original.parent / item["path"]).resolve()
        lines += _source_lines(item, path, False)
    target = CACHE / "corpora-no-aliases.toml"
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


def collect(
    with_aliases: bool, semantic: bool, index_root: Path = CACHE / "index"
) -> list[dict[str, Any]]:
    """Every question's candidates with their evidence and rightness."""
    questions = load_questions(str(HERE / "questions.jsonl"))
    spec = SourceSpec(manifest=_manifest(with_aliases))
    records = []
    groups: dict[str, list[Any]] = {}
    for q in questions:
        groups.setdefault(q.source or "", []).append(q)
    tag = "aliases" if with_aliases else "plain"
    for project, members in sorted(groups.items()):
        kb = KnowledgeBase(spec.restricted(project), index_root / tag / project, semantic=semantic)
        records += _records(kb, project, members)
        print(f"{project}: {len(members)} questions", file=sys.stderr)
    return records


def _records(kb: KnowledgeBase, project: str, questions: list[Question]) -> list[dict[str, Any]]:
    """Each question's candidates, their evidence and whether each is right."""
    reader = kb.open()
    ranker = kb.ranker()
    records = []
    for q in questions:
        tokens = _query_tokens(q.text)
        scored = score_all(reader, tokens)
        sims = ranker.similarities(q.text) if ranker is not None else None
        found = candidates(reader, scored, tokens, sims, lexical=POOL, semantic=POOL)
        records.append(
            {
                "line": q.line,
                "question": q.text,
                "project": project,
                "split": q.split,
                "answerable": bool(q.answers),
                "rows": [c.row() for c in found],
                # the first ones are BM25's order (the lexical-only candidates)
                "lexical": len(list(itertools.islice(scored.ranked(), POOL))),
                "right": [bool(q.answers) and is_right(q, reader.entry(c.number)) for c in found],
                "numbers": [c.number for c in found],
                # the entries each candidate lies inside (its question, for a sub-part)
                "ancestors": [list(ancestors(reader, c.number)) for c in found],
            }
        )
    return records


FOLDS = 5  # learning from use: each FAQ's questions in five parts, one scored at a time


def fold_of(text: str) -> int:
    """A question's part, fixed by its text (as the tune/held-out split is)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % FOLDS


def learned(
    with_aliases: bool, semantic: bool, root: Path = CACHE / "learned", only: str | None = None
) -> list[dict[str, Any]]:
    """Learning from use, simulated with the product's own loop: for each FAQ and each fifth
    of its questions, every *other* answerable question is recorded as its asker's choice
    (the best-ranked right entry among the 20 a first-day search returns, as a click on a
    suggestion or a 👍 would record it), ``propose_aliases`` and ``accept`` write them into
    the aliases files, and the fifth left out is asked of the rebuilt index."""
    from kb.learn.aliases import accept, propose_aliases
    from kb.learn.feedback import FeedbackStore

    questions = load_questions(str(HERE / "questions.jsonl"))
    groups: dict[str, list[Question]] = {}
    for q in questions:
        if only is None or q.source == only:
            groups.setdefault(q.source or "", []).append(q)
    records = []
    for project, members in sorted(groups.items()):
        for part in range(FOLDS):
            folder = root / ("aliases" if with_aliases else "plain") / project / str(part)
            spec = SourceSpec(manifest=_fold_manifest(folder, project, with_aliases))
            spec = spec.restricted(project)
            first_day = KnowledgeBase(spec, folder / "index", semantic=semantic)
            store = FeedbackStore(folder / "feedback.sqlite3")
            for q in members:
                if fold_of(q.text) == part or not q.answers:
                    continue
                hits = first_day.search(q.text, k=20).hits
                chosen = next((h.entry for h in hits if is_right(q, h.entry)), None)
                if chosen is not None:
                    store.record_choice(f"q{q.line}", f"u{q.line}", q.text, chosen["id"], "picked")
            accept(propose_aliases(store, first_day), first_day)
            later = KnowledgeBase(spec, folder / "index", semantic=semantic)
            records += _records(later, project, [q for q in members if fold_of(q.text) == part])
        print(f"{project}: {len(members)} questions, learned", file=sys.stderr)
    return records


def _fold_manifest(folder: Path, project: str, with_aliases: bool) -> Path:
    """A fresh ``folder`` with a manifest of ``project``'s sources whose aliases files are
    copies there (of its own aliases if ``with_aliases``, else empty), for ``accept``."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    original = HERE / "corpora.toml"
    lines = []
    for item in tomllib.loads(original.read_text(encoding="utf-8"))["source"]:
        if item["name"].split(".")[0] != project:
            continue
        path = (original.parent / item["path"]).resolve()
        given = item.get("aliases")
        own = (
            original.parent / given if isinstance(given, str) else path.with_suffix(".aliases.toml")
        )
        start = "[aliases]\n"
        if with_aliases and given is not False and own.exists():
            start = own.read_text(encoding="utf-8")
        target = folder / f"{item['name']}.aliases.toml"
        target.write_text(start, encoding="utf-8")
        lines += _source_lines(item, path, target)
    manifest = folder / "faqs.toml"
    manifest.write_text("\n".join(lines), encoding="utf-8")
    return manifest


def _cache_path(with_aliases: bool, semantic: bool) -> Path:
    return (
        CACHE
        / f"cross-{'aliases' if with_aliases else 'plain'}-{'sem' if semantic else 'lex'}.json"
    )


def load(with_aliases: bool, semantic: bool) -> list[dict[str, Any]]:
    """The collected records (run ``collect`` first)."""
    path = _cache_path(with_aliases, semantic)
    if not semantic and not path.exists():
        path = _cache_path(with_aliases, True)  # a superset: the lexical model reads less
    if not path.exists():
        sys.exit(f"{path} is missing: run `eval/cross_faq.py collect{' --semantic' * semantic}`")
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


MODELS_MARK = "# Fitted on all fourteen FAQs of eval/questions.jsonl"


def write_models(lexical: Any, semantic: Any) -> None:
    """Replace the fitted constants at the end of kb/search/hybrid.py."""
    path = HERE.parent / "kb" / "search" / "hybrid.py"
    text = path.read_text(encoding="utf-8")
    head = text[: text.index(MODELS_MARK)]

    def literal(model: Any) -> str:
        items = "".join(f'        "{k}": {json.dumps(v)},\n' for k, v in model.to_json().items())
        return "Model.from_json(\n    {\n" + items + "    }\n)\n"

    path.write_text(
        head
        + MODELS_MARK
        + " without aliases by\n"
        + "# `eval/cross_faq.py fit --write`; the same procedure's leave-one-FAQ-out figures are\n"
        + "# in docs/quality.md.\n"
        + "LEXICAL_MODEL = "
        + literal(lexical)
        + "SEMANTIC_MODEL = "
        + literal(semantic),
        encoding="utf-8",
    )


def ceiling(plain: list[dict[str, Any]], aliased: list[dict[str, Any]], semantic: bool) -> str:
    """The confidence's held-out ranking quality and the best any threshold could do."""
    from kb.search import hybrid

    sure, right, answerable = [], [], []
    for project in sorted({r["project"] for r in plain}):
        model = hybrid.fit_without(plain, aliased, project, semantic=semantic)
        for r in plain:
            if r["project"] == project:
                rows, good = hybrid._rows(r, semantic)
                order, shares = model.order(rows)
                sure.append(model.sureness(rows, order, shares) if order else 0.0)
                right.append(bool(order) and bool(good[order[0]]))
                answerable.append(bool(r["answerable"]))
    pairs = [(s, ok) for s, ok in zip(sure, right, strict=True)]
    positives = [s for s, ok in pairs if ok]
    negatives = [s for s, ok in pairs if not ok]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    auc = wins / (len(positives) * len(negatives)) if positives and negatives else float("nan")
    best, at = 0.0, 1.0
    for t in sorted(set(sure), reverse=True):
        picked = [n for n, s in enumerate(sure) if s >= t]
        if sum(right[n] for n in picked) >= 0.90 * len(picked):
            share = sum(answerable[n] and right[n] for n in picked) / max(1, sum(answerable))
            best, at = max((best, at), (share, t))
    return (
        f"held-out confidence: AUC {auc:.3f} (right first answers against the rest, "
        f"{len(positives)} against {len(negatives)}); best threshold after the fact: "
        f"{best:.1%} of answerable questions answered at precision >= 0.90 (at {at:.3f})"
    )


def learning_report(
    plain: list[dict[str, Any]],
    aliased: list[dict[str, Any]],
    learnt: list[dict[str, Any]],
    semantic: bool,
    with_aliases: bool = False,
) -> dict[str, dict[str, Any]]:
    """Per left-out FAQ, with the models fitted on the other FAQs (as ``report``): its
    figures before (``plain``; with its aliases if ``with_aliases``) and after learning
    from its other askers (``learned``)."""
    from kb.search import hybrid

    projects = {r["project"] for r in learnt}
    before = [r for r in (aliased if with_aliases else plain) if r["project"] in projects]
    scored = {"plain": before, "learned": learnt}
    return hybrid.cross_validate(plain, aliased, semantic=semantic, scored=scored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["collect", "report", "fit", "ceiling", "learn"])
    parser.add_argument("--semantic", action="store_true", help="with the meaning signal")
    parser.add_argument(
        "--aliases", action="store_true", help="learn: on top of the FAQs' own aliases"
    )
    parser.add_argument("--markdown", action="store_true", help="report as Markdown tables")
    parser.add_argument(
        "--write", action="store_true", help="fit: store both models in kb/search/hybrid.py"
    )
    args = parser.parse_args(argv)
    if args.step == "collect":
        for with_aliases in (False, True):
            records = collect(with_aliases, args.semantic)
            _cache_path(with_aliases, args.semantic).write_text(json.dumps(records))
        return 0
    from kb.search import hybrid

    plain = load(False, args.semantic)
    if args.step == "fit":
        if args.write:
            write_models(
                hybrid.fit(hybrid.training(load(False, False), load(True, False)), semantic=False),
                hybrid.fit(hybrid.training(load(False, True), load(True, True)), semantic=True),
            )
            return 0
        model = hybrid.fit(
            hybrid.training(plain, load(True, args.semantic)), semantic=args.semantic
        )
        print(json.dumps(model.to_json(), indent=1))
        return 0
    aliased = load(True, args.semantic)
    if args.step == "learn":
        learnt = learned(args.aliases, args.semantic)
        first = "with its aliases" if args.aliases else "left-out FAQ without aliases"
        conditions = (("plain", first), ("learned", "after learning from its other askers"))
        report = learning_report(plain, aliased, learnt, args.semantic, args.aliases)
        print(hybrid.format_cross(report, markdown=args.markdown, conditions=conditions))
        return 0
    if args.step == "ceiling":
        print(ceiling(plain, aliased, args.semantic))
        return 0
    report = hybrid.cross_validate(plain, aliased, semantic=args.semantic)
    print(hybrid.format_cross(report, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
