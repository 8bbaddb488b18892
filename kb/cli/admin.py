"""``faq-kb`` subcommands: build, check, list, show, watch (and eval, feedback)."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from kb.cli.parsers import positive
from kb.cli.progress import Progress
from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.render.printable import json_text, printable
from kb.render.results import answer_lines, terminal_width, write
from kb.spec import SourceSpec

AddSourceOptions = Callable[..., None]


def add_commands(commands: Any, add_source_options: AddSourceOptions) -> None:
    """Register the subcommands that live outside the core: feedback."""
    # kb.learn.feedback (sqlite3 and the database layer, ~10 ms) is imported only to run.
    feedback = commands.add_parser(
        "feedback", help="what Slack readers thought: votes per entry, questions to look at"
    )
    feedback.add_argument(
        "--db",
        metavar="PATH",
        help="the bot's database: a SQLite file or postgresql:// URL (default: env "
        "FAQ_DATABASE_URL, FAQ_FEEDBACK_DB or a per-user data dir)",
    )
    feedback.add_argument("--json", action="store_true", help="machine-readable output")
    feedback.add_argument(
        "--export-eval",
        metavar="FILE",
        help="write the 👎 and unanswered questions as an eval file (JSON lines) to label",
    )
    feedback.add_argument(
        "--suggest-aliases",
        action="store_true",
        help="propose alias lines per entry from the questions readers matched to it",
    )
    feedback.add_argument(
        "--min-votes",
        type=positive,
        default=1,
        metavar="N",
        help="with --suggest-aliases: only questions chosen at least N times (default 1)",
    )
    # The sources matter only to --suggest-aliases (does the FAQ already answer it?).
    add_source_options(feedback)
    aliases = commands.add_parser("aliases", help="review and accept learned alias lines")
    steps = aliases.add_subparsers(dest="aliases_command", metavar="STEP", required=True)
    accept = steps.add_parser(
        "accept", help="write the proposed aliases into the sources' NAME.aliases.toml"
    )
    accept.add_argument("--db", metavar="PATH", help="the feedback database (env FAQ_FEEDBACK_DB)")
    accept.add_argument(
        "--min-votes", type=positive, default=1, metavar="N", help="only questions chosen N+ times"
    )
    accept.add_argument("--entry", metavar="ID", help="only this entry (as `faq-kb list` shows)")
    accept.add_argument("--dry-run", action="store_true", help="show what would be written")
    add_source_options(accept)
    evaluation = commands.add_parser(
        "eval", help="retrieval quality on labelled questions (Recall@1/@3, MRR, declines)"
    )
    evaluation.add_argument("file", metavar="FILE.jsonl", help="one labelled question a line")
    evaluation.add_argument("--json", action="store_true", help="machine-readable report")
    evaluation.add_argument("--split", metavar="NAME", help="only questions of this split")
    evaluation.add_argument(
        "--min-recall-at-1",
        type=float,
        metavar="X",
        help="exit 1 if overall Recall@1 falls below X (a regression guard)",
    )
    from kb.cli.parsers import add_semantic_option

    add_semantic_option(evaluation)
    add_source_options(evaluation)

    def feedback_or_suggest(args: argparse.Namespace, spec: SourceSpec) -> int:
        from kb.learn.feedback import feedback_command

        if args.suggest_aliases:
            return _suggest_aliases(args, spec)
        status = feedback_command(args)
        if status == 0 and not args.json:
            _print_reasons(args)
        return status

    verify = commands.add_parser(
        "verify",
        help="recompute the index's scores with rank-bm25 and report any difference",
        description="Rebuild rank-bm25's BM25Plus per field from the entries the index stores "
        "and compare its scores with the index's, for a sample of terms or all of them. "
        "Exit status: 0 all match (within 1e-9), 1 a difference, 2 no usable index.",
    )
    size = verify.add_mutually_exclusive_group()
    size.add_argument(
        "--sample",
        type=positive,
        default=300,
        metavar="N",
        help="compare N terms (every entry having them) and N other entries (default 300)",
    )
    size.add_argument("--all", action="store_true", help="compare every term on every entry")
    verify.add_argument("--json", action="store_true", help="machine-readable report")
    add_source_options(verify)
    _COMMANDS.setdefault("feedback", feedback_or_suggest)
    _COMMANDS.setdefault("aliases", _aliases)
    _add_diff(commands, add_source_options)


def _print_reasons(args: argparse.Namespace) -> None:
    """After the report: what readers said was wrong with the answers they voted 👎."""
    from kb.learn.feedback import FeedbackStore, default_db_path

    reasons = FeedbackStore(args.db or default_db_path()).reasons()
    if reasons:
        labels = {"wrong": "wrong answer", "outdated": "outdated", "unanswered": "not answered"}
        counts = ", ".join(f"{labels.get(r, r)} {n}" for r, n in sorted(reasons.items()))
        write(sys.stdout, f"\nWhat was wrong (👎): {counts}\n")


def _proposals(args: argparse.Namespace, spec: SourceSpec, entry: str | None = None) -> Any:
    import os

    from kb.learn.aliases import propose_aliases
    from kb.learn.feedback import FeedbackStore, default_db_path

    path = args.db or default_db_path()
    if not os.path.exists(path):
        raise FaqError(f"no feedback database at {path}; the bot creates it when it first answers")
    kb = _open(args, spec)
    return path, kb, propose_aliases(FeedbackStore(path), kb, min_votes=args.min_votes, entry=entry)


def _suggest_aliases(args: argparse.Namespace, spec: SourceSpec) -> int:
    path, _kb, proposals = _proposals(args, spec)
    if args.json:
        data = {"db": path, "proposals": [p.as_json() for p in proposals]}
        write(sys.stdout, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not proposals:
        write(sys.stdout, f"no alias to propose (min votes {args.min_votes}; {path})\n")
        return 0
    out = [f"Proposed aliases ({path}): questions readers matched to an entry"]
    for proposal in proposals:
        out += ["", f"{proposal.entry_id}  {proposal.title}  ({proposal.votes} votes)"]
        out += [f"  + {json.dumps(q, ensure_ascii=False)}  ({n}×)" for q, n in proposal.questions]
    out += ["", f"Write them with: faq-kb aliases accept --min-votes {args.min_votes}"]
    write(sys.stdout, "\n".join(out) + "\n")
    return 0


def _aliases(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb.learn.aliases import accept

    _path, kb, proposals = _proposals(args, spec, args.entry)
    plan = accept(proposals, kb, dry_run=args.dry_run)
    verb = "would add" if args.dry_run else "added"
    if not plan:
        write(sys.stdout, "nothing to accept\n")
        return 0
    for file, keys in plan.items():
        count = sum(len(lines) for lines in keys.values())
        write(sys.stdout, f"{verb} {count} alias line(s) for {len(keys)} entr(ies) in {file}\n")
        for key, lines in keys.items():
            for line in lines:
                write(sys.stdout, f"  {key}: {json.dumps(line, ensure_ascii=False)}\n")
    if not args.dry_run:
        write(sys.stdout, "the index rebuilds by itself on its next use\n")
    return 0


def _add_diff(commands: Any, add_source_options: Callable[..., None]) -> None:
    from kb.cli.diff import add_diff_command

    add_diff_command(commands, add_source_options)


def _eval(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb.cli.main import semantic_requested
    from kb.maintain import evaluate

    semantic = semantic_requested(args)
    questions = evaluate.load_questions(args.file)
    if args.split:
        questions = [q for q in questions if q.split == args.split]
    if not questions:
        raise FaqError(
            f"{args.file}: no questions" + (f" in split {args.split!r}" if args.split else "")
        )
    report = evaluate.evaluate(questions, spec, args.index, notify=_note, semantic=semantic)
    if args.json:
        write(sys.stdout, json.dumps(evaluate.report_json(report), indent=2) + "\n")
    else:
        split = f" (split {args.split})" if args.split else ""
        ranking = " with semantic ranking" if semantic else ""
        title = f"faq-kb eval {args.file}{split}: {len(questions)} questions{ranking}"
        write(sys.stdout, evaluate.format_report(report, title))
    if args.min_recall_at_1 is not None and report.overall.recall_at_1 < args.min_recall_at_1:
        print(
            f"error: Recall@1 {report.overall.recall_at_1:.3f} is below {args.min_recall_at_1}",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace, spec: SourceSpec) -> int:
    """Run one ``faq-kb`` subcommand; returns the exit status."""
    handler = _COMMANDS[args.command]
    return handler(args, spec)


def _note(message: str) -> None:
    print(printable(message), file=sys.stderr, flush=True)


def _build(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb.cli.main import semantic_requested
    from kb.index.build import build
    from kb.index.reader import default_index_dir

    semantic = semantic_requested(args)
    index_dir = args.index or default_index_dir(spec.key)
    from kb.index.lock import build_lock, wait_seconds

    def waiting() -> None:
        _note("note: another process is rebuilding this index; waiting for it…")

    try:
        with build_lock(index_dir, wait_seconds(), waiting) as state:
            if state == "timeout":
                raise FaqError(f"another process is still rebuilding the index in {index_dir}")
            # Remote sources are always asked again here (a conditional request each).
            report = build(spec, index_dir, progress=Progress(verbose=args.verbose), fetch=True)
    except OSError as exc:
        raise FaqError(f"cannot write the index in {index_dir}: {exc.strerror or exc}") from None
    ready = None
    if semantic:
        from kb.index.reader import IndexReader
        from kb.search.semantic import SemanticRanker, sidecar_path

        assert report.path is not None
        reader = IndexReader.open(report.path)
        model = SemanticRanker.for_index(reader, _note).model
        ready = f"semantic vectors ready ({model}) → {sidecar_path(reader)}"
    if args.json:
        write(sys.stdout, json.dumps(dataclasses.asdict(report), indent=2) + "\n")
        return 0
    for warning in report.warnings:
        print(printable(f"warning: {warning}"), file=sys.stderr)
    noun = "source" if report.sources == 1 else "sources"
    reused = f" ({report.reused} unchanged, not parsed again)" if report.reused else ""
    print(
        printable(
            f"built {report.entries} entries from {report.sources} {noun}{reused} "
            f"in {report.seconds:.2f} s, {len(report.warnings)} warnings → {report.path}"
        )
    )
    if ready:
        print(ready)
    return 0


def _check(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb.ingest.sources import resolve_sources
    from kb.maintain.checks import check_sources, with_dead_links

    sources = resolve_sources(spec)
    report, links = check_sources(sources)
    if args.external:
        report = with_dead_links(report, links)
    if args.json:
        write(sys.stdout, report.model_dump_json(indent=2) + "\n")
        return 0 if report.ok else 1
    lines = list(sources.warnings)
    lines += [str(f) for f in sorted(report.errors + report.warnings, key=_where)]
    if report.unchecked:
        print(
            f"note: {len(report.unchecked)} :ref:/:doc: target(s) outside the sources not"
            " checked (give the source an `inventory` to check them; --json lists them)",
            file=sys.stderr,
        )
    if report.errors:
        lines.append(f"{len(report.errors)} error(s) in {len(sources)} source(s)")
    else:
        lines.append(
            f"ok: {report.entries} entries in {len(sources)} source(s),"
            f" {len(report.warnings)} warning(s)"
        )
    if args.external:
        lines.append(f"checked {report.links_checked} outbound link(s)")
    write(sys.stdout, "\n".join(printable(line) for line in lines) + "\n")
    return 0 if report.ok else 1


def _where(finding: Any) -> tuple[str, int]:
    return finding.path, finding.line or 0


def _open(args: argparse.Namespace, spec: SourceSpec) -> KnowledgeBase:
    kb = KnowledgeBase(spec, args.index, notify=_note)
    kb.progress = Progress(verbose=args.verbose)
    kb.open()
    return kb


def _list(args: argparse.Namespace, spec: SourceSpec) -> int:
    kb = _open(args, spec)
    lines = []
    for entry in kb.entries():
        if args.json:
            lines.append(json_text({k: entry[k] for k in ("id", "title", "url", "breadcrumb")}))
        else:
            indent = "  " if entry.get("parent") else ""
            lines.append(printable(f"{indent}{entry['id']}\t{entry['title']}"))
    write(sys.stdout, "\n".join(lines) + ("\n" if lines else ""))
    return 0


def _show(args: argparse.Namespace, spec: SourceSpec) -> int:
    kb = _open(args, spec)
    entries = {e["id"]: e for e in kb.entries()}
    entry = entries.get(args.id)
    if entry is None:
        close = difflib.get_close_matches(args.id, list(entries), n=3, cutoff=0.8)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `faq-kb list` shows them"
        raise FaqError(f"no entry {args.id!r}{hint}")
    if args.json:
        write(sys.stdout, json_text(entry, indent=2) + "\n")
        return 0
    width = terminal_width(sys.stdout)
    out = [entry["title"]]
    if entry["breadcrumb"]:
        out.append(" › ".join(entry["breadcrumb"]))
    out += ["", *answer_lines(entry["blocks"], width - 2), "", f"  → {entry['url']}"]
    out += [f"  • {link['text']}: {link['url']}" for link in entry["links"]]
    out.append(f"  source: {entry['source']['path']}:{entry['source']['line']}")
    if entry["aliases"]:
        out.append(f"  also asked as: {'; '.join(entry['aliases'])}")
    write(sys.stdout, printable("\n".join(out)) + "\n")
    return 0


def _watch(args: argparse.Namespace, spec: SourceSpec) -> int:
    if args.json:
        from kb.cli.watch import watch_json

        return watch_json(args, spec)
    kb = KnowledgeBase(spec, args.index, notify=_note)
    kb.progress = Progress(verbose=args.verbose)
    kb.open()
    print(
        f"watching {len(kb.reader.fingerprint.get('files', []))} file(s); Ctrl-C to stop",
        flush=True,
    )
    while True:
        time.sleep(max(args.interval, 0.1))
        try:
            if kb.refresh():
                print(f"rebuilt: {len(kb.reader)} entries", flush=True)
        except FaqError as error:
            for line in str(error).splitlines():
                print(
                    printable(f"error: {line} (keeping the previous index)"),
                    file=sys.stderr,
                    flush=True,
                )


def _verify(args: argparse.Namespace, spec: SourceSpec) -> int:
    """``faq-kb verify``: the index as it is (never rebuilt first) against rank-bm25."""
    import os

    from kb.index.reader import INDEX_FILE, IndexReader, default_index_dir
    from kb.maintain.verify import TOLERANCE, verify_index

    path = os.path.join(args.index or default_index_dir(spec.key), INDEX_FILE)
    reader = IndexReader.open(path)  # missing, damaged, other schema: FaqError, exit 2
    progress = _note if args.verbose else (lambda message: None)
    report = verify_index(reader, sample=None if args.all else args.sample, progress=progress)
    if args.json:
        data = dataclasses.asdict(report) | {"ok": report.ok, "index": path}
        write(sys.stdout, json.dumps(data, indent=2) + "\n")
        return 0 if report.ok else 1
    scope = f"{report.checked_terms} of {report.terms} terms"
    summary = (
        f"{path}: {scope} on {report.entries} entries, {report.scores} scores compared "
        "with rank-bm25's BM25Plus"
    )
    if report.ok:
        write(sys.stdout, f"ok: {summary}: all match (within {TOLERANCE:g})\n")
        return 0
    lines = [f"differs: {line}" for line in report.differences]
    more = report.difference_count - len(report.differences)
    if more:
        lines.append(f"… and {more} more")
    lines.append(
        f"FAILED: {summary}: {report.difference_count} differ by more than {TOLERANCE:g}; "
        "rebuild the index (`faq-kb build`) and report it if a fresh build differs too"
    )
    write(sys.stdout, printable("\n".join(lines)) + "\n")
    return 1


_COMMANDS: dict[str, Callable[[argparse.Namespace, SourceSpec], int]] = {
    "verify": _verify,
    "build": _build,
    "check": _check,
    "list": _list,
    "show": _show,
    "watch": _watch,
    "eval": _eval,
    # "feedback" is added by add_commands (kb.learn.feedback)
}
