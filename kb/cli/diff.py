"""``faq-kb diff``: its options and how it runs (the work is in ``kb.maintain.diff``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from kb.errors import FaqError
from kb.render.results import write
from kb.spec import SourceSpec


def add_diff_command(commands: Any, add_source_options: Callable[..., None]) -> None:
    """Register ``faq-kb diff`` (its handler goes into ``kb.cli.admin``'s table)."""
    from kb.cli import admin as cli_admin
    from kb.maintain.change_kinds import CATEGORIES, DEFAULT_FAIL_ON

    diff = commands.add_parser(
        "diff",
        help="how the answers change against a base state of the sources (Markdown for a PR)",
    )
    base = diff.add_argument_group("the base to compare with (one of)")
    which = base.add_mutually_exclusive_group(required=True)
    which.add_argument("--base-manifest", metavar="FILE", help="the base's manifest")
    which.add_argument(
        "--base",
        action="append",
        metavar="PATH[=URL]",
        help="a base rst file or folder, with its published URL; repeatable",
    )
    which.add_argument(
        "--base-rev",
        metavar="REV",
        help="the same sources at a git revision, e.g. origin/main (read with git show)",
    )
    diff.add_argument(
        "--questions", metavar="FILE.jsonl", help="questions to ask too (the eval format)"
    )
    diff.add_argument(
        "--feedback-db", metavar="PATH", help="ask every question the Slack bot logged too"
    )
    diff.add_argument(
        "--no-titles",
        action="store_true",
        help="do not ask every entry's own title and alternate wordings",
    )
    diff.add_argument("--json", action="store_true", help="machine-readable report")
    diff.add_argument(
        "--fail-on",
        metavar="LIST",
        default=",".join(DEFAULT_FAIL_ON),
        help=f"exit 1 if any of these (comma-separated; of {', '.join(CATEGORIES)}; "
        f"'none' for never) (default {','.join(DEFAULT_FAIL_ON)})",
    )
    add_source_options(diff, index=False)
    cli_admin._COMMANDS["diff"] = run_diff


def run_diff(args: argparse.Namespace, spec: SourceSpec) -> int:
    """Compare the base with the sources of ``spec``; print the report; 1 on regressions."""
    from kb.maintain import diff
    from kb.maintain.change_kinds import CATEGORIES
    from kb.render.diff_markdown import format_markdown

    fail_on = (
        []
        if args.fail_on.strip() == "none"
        else [c.strip() for c in args.fail_on.split(",") if c.strip()]
    )
    unknown = [c for c in fail_on if c not in CATEGORIES]
    if unknown:
        raise FaqError(
            f"--fail-on: unknown {', '.join(unknown)} (choose from {', '.join(CATEGORIES)})"
        )
    extra: list[str] = []
    if args.questions:
        from kb.maintain.evaluate import load_questions

        extra += [q.text for q in load_questions(args.questions)]
    if args.feedback_db:
        extra += diff.feedback_questions(args.feedback_db)
    with diff.temporary_folder() as base_dir, diff.temporary_folder() as head_dir:
        if args.base_rev:
            base_spec = diff.base_from_rev(spec, args.base_rev, base_dir)
            name = args.base_rev
        elif args.base_manifest:
            base_spec = SourceSpec(manifest=args.base_manifest, only=spec.only)
            name = args.base_manifest
        else:
            base_spec = SourceSpec(paths=tuple(args.base), only=spec.only)
            name = " ".join(args.base)
        base = diff.build_state(base_spec, f"{base_dir}/index")
        head = diff.build_state(spec, head_dir)
        questions = diff.questions_of(base, head, titles=not args.no_titles, extra=extra)
        report = diff.compare(base, head, questions, names=(name, "working tree"), fail_on=fail_on)
    if args.json:
        write(sys.stdout, report.model_dump_json(indent=2) + "\n")
    else:
        write(sys.stdout, format_markdown(report))
    return 1 if report.failed else 0
