"""Command line: ``faq-search`` for asking, ``faq-kb`` for maintaining the knowledge base."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kb import config
from kb.cli.progress import Progress
from kb.cli.version import add_version_option
from kb.errors import BuildError, FaqError
from kb.knowledge import KnowledgeBase
from kb.render.printable import from_argv, json_text, printable
from kb.render.results import format_result, result_json, write
from kb.spec import SourceSpec

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any, NoReturn

EXIT_ANSWERED, EXIT_UNANSWERED, EXIT_USAGE = 0, 1, 2


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout at the terminal's width, found without importing ``shutil``."""

    def __init__(self, prog: str) -> None:
        # argparse's own default asks shutil.get_terminal_size (shutil imports bz2 and
        # lzma: ~3 ms of every cold faq-search, which builds its parser before any help).
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (OSError, ValueError):
            columns = 80
        super().__init__(prog, width=columns - 2)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a short usage message (its default), never a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, printable(f"{self.prog}: error: {message}") + "\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _add_source_options(parser: argparse.ArgumentParser, *, index: bool = True) -> None:
    group = parser.add_argument_group("sources")
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "--manifest",
        metavar="FILE",
        help="a sources.toml manifest (default: env FAQ_MANIFEST, else faq-kb.toml's, "
        "else the shipped FAQ)",
    )
    which.add_argument(
        "--source",
        action="append",
        metavar="PATH[=URL]",
        default=[],
        help="an rst file or a folder of them, with its published URL; repeatable",
    )
    group.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        default=[],
        help="only the sources named NAME (or NAME.*); repeatable",
    )
    group.add_argument(
        "--sources-root",
        metavar="DIR",
        help="refuse any source file outside DIR, symlinks resolved (env FAQ_SOURCES_ROOT)",
    )
    if index:
        group.add_argument(
            "--index",
            metavar="DIR",
            help="where the index lives (default: env FAQ_INDEX, faq-kb.toml's, else a "
            "per-user cache)",
        )
        group.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="show a (re)build's progress on stderr (shown anyway on a terminal after 1 s)",
        )


def _spec(args: argparse.Namespace) -> SourceSpec:
    root = getattr(args, "sources_root", None)
    if args.source:
        return SourceSpec(paths=tuple(args.source), only=tuple(args.only), sources_root=root)
    return SourceSpec(manifest=args.manifest, only=tuple(args.only), sources_root=root)


def add_semantic_option(parser: argparse.ArgumentParser) -> None:
    """``--semantic`` / ``--no-semantic`` (default: env FAQ_SEMANTIC)."""
    parser.add_argument(
        "--semantic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rank with a local sentence-embedding model too (needs faq-kb[semantic]; "
        "default: env FAQ_SEMANTIC=1)",
    )


def semantic_requested(args: argparse.Namespace) -> bool:
    """Whether semantic ranking is on; checked to be possible here first.

    Raises:
        SemanticUnavailable: it is asked for, but the extra or the model is missing.
    """
    flag = getattr(args, "semantic", None)
    if flag is False or (flag is None and not os.environ.get("FAQ_SEMANTIC")):
        return False  # the usual case: kb.search.semantic is not even imported
    from kb.search import semantic

    if not semantic.requested(flag):
        return False
    semantic.check_available()
    return True


def _note(message: str) -> None:
    print(printable(message), file=sys.stderr, flush=True)


def _fail(error: FaqError) -> int:
    problems = error.problems if isinstance(error, BuildError) else [error]
    for problem in problems:
        print(printable(f"error: {problem}"), file=sys.stderr)
    return EXIT_USAGE


def search_parser() -> argparse.ArgumentParser:
    """The ``faq-search`` argument parser."""
    parser = _Parser(
        prog="faq-search",
        description="Answer a question from the FAQ: best entry, its links, close alternatives.",
        epilog="Exit status: 0 a confident answer, 1 no confident answer, 2 usage or input error. "
        "QUESTION '-' reads one question a line from standard input.",
    )
    parser.add_argument("question", nargs="*", metavar="QUESTION", help="the question (or -)")
    add_version_option(parser)
    parser.add_argument(
        "-k", "--top", type=_positive, default=3, metavar="N", help="how many results (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--explain", action="store_true", help="show why each result ranked")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="use the index as it is even if a source changed"
    )
    add_semantic_option(parser)
    _add_source_options(parser)
    return parser


def search_main(argv: Sequence[str] | None = None) -> int:
    """``faq-search``: print the best answer to a question."""
    parser = search_parser()
    args = parser.parse_args(argv)
    from_stdin = args.question == ["-"]
    question = " ".join(from_argv(word) for word in args.question)
    if not from_stdin and not question.strip():
        parser.print_usage(sys.stderr)
        print(
            'faq-search: error: ask a question, e.g. faq-search "too many open files"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        config.apply(args)
        kb = KnowledgeBase(_spec(args), args.index, notify=_note, semantic=semantic_requested(args))
        kb.progress = Progress(verbose=args.verbose)
        kb.open(rebuild=not args.no_rebuild)
        if from_stdin:
            return _answer_stream(kb, args)
        return _answer(kb, question, args)
    except FaqError as error:
        return _fail(error)
    except KeyboardInterrupt:  # Ctrl-C while reading stdin or rebuilding: the index is intact
        return 130


# What small talk gets instead of a search (the bot has its own, longer replies).
SMALL_TALK = {
    "greeting": 'Hello! Ask me a question about the FAQ, e.g. faq-search "too many open files".',
    "help": 'Ask a question about the FAQ, e.g. faq-search "too many open files" (--help).',
    "thanks": "You're welcome!",
    "bye": "Bye!",
}


def _answer(kb: KnowledgeBase, question: str, args: argparse.Namespace) -> int:
    from kb.search.smalltalk import small_talk

    kind = small_talk(question)
    if kind is not None:  # "hi", "thanks", "?": a short reply, not a search
        if args.json:
            write(sys.stdout, json_text({"query": question, "answered": False, "results": []}))
            write(sys.stdout, "\n")
        else:
            write(sys.stdout, SMALL_TALK[kind] + "\n")
        return EXIT_UNANSWERED
    result = kb.search(question, k=args.top, explain=args.explain)
    if args.json:
        write(sys.stdout, json_text(result_json(result, explain=args.explain)) + "\n")
    else:
        write(sys.stdout, format_result(result, sys.stdout, explain=args.explain))
    return EXIT_ANSWERED if result.answered else EXIT_UNANSWERED


def _answer_stream(kb: KnowledgeBase, args: argparse.Namespace) -> int:
    status = EXIT_ANSWERED
    first = True
    for raw in sys.stdin.buffer:
        question = raw.decode("utf-8", errors="replace").strip()
        if not question:
            continue
        if not args.json and not first:
            write(sys.stdout, "\n" + "─" * 40 + "\n\n")
        first = False
        if _answer(kb, question, args) != EXIT_ANSWERED:
            status = EXIT_UNANSWERED
    return status


def kb_parser() -> argparse.ArgumentParser:
    """The ``faq-kb`` argument parser."""
    parser = _Parser(prog="faq-kb", description="Build, check and inspect the FAQ knowledge base.")
    add_version_option(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    build = commands.add_parser("build", help="(re)build the index")
    build.add_argument("--json", action="store_true", help="what the build did, as JSON")
    add_semantic_option(build)
    _add_source_options(build)
    check = commands.add_parser(
        "check", help="lint the sources: rst problems and broken references as FILE:LINE"
    )
    check.add_argument("--json", action="store_true", help="machine-readable report")
    check.add_argument(
        "--external", action="store_true", help="also check outbound links over HTTP"
    )
    _add_source_options(check, index=False)
    listing = commands.add_parser("list", help="list the entries")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    _add_source_options(listing)
    show = commands.add_parser("show", help="show one entry in full")
    show.add_argument("id", metavar="ID", help="an entry id, as `faq-kb list` prints it")
    show.add_argument("--json", action="store_true", help="the stored entry as JSON")
    _add_source_options(show)
    watch = commands.add_parser("watch", help="rebuild whenever a source changes")
    watch.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often to look (default 1)",
    )
    watch.add_argument(
        "--json",
        action="store_true",
        help="one JSON event a line: watching, rebuilt, failed, unchanged, stopped",
    )
    _add_source_options(watch)
    from kb.cli.admin import add_commands

    add_commands(commands, _add_source_options)
    from kb.cli.setup import add_setup_commands

    add_setup_commands(commands)
    return parser


def kb_main(argv: Sequence[str] | None = None) -> int:
    """``faq-kb``: maintainers' commands."""
    from kb.cli import admin as cli_admin
    from kb.cli import setup as cli_setup

    args = kb_parser().parse_args(argv)
    try:
        if args.command in cli_setup.COMMANDS:  # they read no sources and no config
            return cli_setup.run(args)
        config.apply(args)
        return cli_admin.run(args, _spec(args))
    except FaqError as error:
        return _fail(error)
    except KeyboardInterrupt:
        return 130


def main() -> None:
    """Entry point of ``faq-search``."""
    sys.exit(search_main())


def kb_entry() -> None:
    """Entry point of ``faq-kb``."""
    sys.exit(kb_main())
