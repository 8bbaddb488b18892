"""``faq-kb`` subcommands: build, check, list, show, watch (and eval, feedback)."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from kb.errors import BuildError, FaqError
from kb.knowledge import KnowledgeBase
from kb.printable import json_text, printable
from kb.render import answer_lines, terminal_width, write
from kb.spec import SourceSpec

AddSourceOptions = Callable[..., None]


def add_commands(commands: Any, add_source_options: AddSourceOptions) -> None:
    """Register the subcommands that live outside the core: feedback."""
    # kb.feedback owns its parser and handler; both are plugged in here.
    from kb.feedback import add_feedback_command, feedback_command

    feedback = add_feedback_command(commands)
    # faq-kb builds a SourceSpec for every command: feedback reads no sources, so it takes
    # the source options' defaults without offering the options.
    probe = argparse.ArgumentParser(add_help=False)
    add_source_options(probe)
    feedback.set_defaults(**vars(probe.parse_args([])))
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
    from kb.cli import add_semantic_option

    add_semantic_option(evaluation)
    add_source_options(evaluation)

    _COMMANDS.setdefault("feedback", lambda args, spec: feedback_command(args))


def _eval(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb import evaluate
    from kb.cli import semantic_requested

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
    from kb.build import build
    from kb.cli import semantic_requested
    from kb.index import default_index_dir

    semantic = semantic_requested(args)
    index_dir = args.index or default_index_dir(spec.key)
    from kb.lock import build_lock, wait_seconds

    def waiting() -> None:
        _note("note: another process is rebuilding this index; waiting for it…")

    try:
        with build_lock(index_dir, wait_seconds(), waiting) as state:
            if state == "timeout":
                raise FaqError(f"another process is still rebuilding the index in {index_dir}")
            report = build(spec, index_dir)
    except OSError as exc:
        raise FaqError(f"cannot write the index in {index_dir}: {exc.strerror or exc}") from None
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
    if semantic:
        from kb.index import IndexReader
        from kb.semantic import SemanticRanker, sidecar_path

        assert report.path is not None
        reader = IndexReader.open(report.path)
        SemanticRanker.for_index(reader, _note)
        print(f"semantic vectors ready → {sidecar_path(reader)}")
    return 0


def _check(args: argparse.Namespace, spec: SourceSpec) -> int:
    from kb.build import load_entries
    from kb.sources import resolve_sources

    sources = resolve_sources(spec)
    for warning in sources.warnings:
        print(printable(warning))
    try:
        entries, warnings = load_entries(sources)
    except BuildError as error:
        for problem in error.problems:
            print(printable(str(problem)), file=sys.stdout)
        print(f"{len(error.problems)} error(s) in {len(sources)} source(s)")
        return 1
    for warning in warnings:
        print(printable(warning))
    print(f"ok: {len(entries)} entries in {len(sources)} source(s), {len(warnings)} warning(s)")
    return 0


def _open(args: argparse.Namespace, spec: SourceSpec) -> KnowledgeBase:
    kb = KnowledgeBase(spec, args.index, notify=_note)
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
    kb = KnowledgeBase(spec, args.index, notify=_note)
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


_COMMANDS: dict[str, Callable[[argparse.Namespace, SourceSpec], int]] = {
    "build": _build,
    "check": _check,
    "list": _list,
    "show": _show,
    "watch": _watch,
    "eval": _eval,
    # "feedback" is added by add_commands (kb.feedback)
}
