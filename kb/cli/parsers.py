"""The argument parsers of ``faq-search`` and ``faq-kb`` (argparse).

Kept apart from ``kb.cli.main``: the plain ``faq-search "question"`` is answered without
them, because importing argparse and building the parser costs a cold query ~5 ms.
"""

from __future__ import annotations

import argparse
import os
import sys

from kb.cli.main import EXIT_USAGE
from kb.cli.version import add_version_option
from kb.render.printable import printable

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any, NoReturn


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


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def add_source_options(parser: argparse.ArgumentParser, *, index: bool = True) -> None:
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


def add_semantic_option(parser: argparse.ArgumentParser) -> None:
    """``--semantic`` / ``--no-semantic`` (default: env FAQ_SEMANTIC)."""
    parser.add_argument(
        "--semantic",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rank with a local sentence-embedding model too (needs faq-kb[semantic]; "
        "default: env FAQ_SEMANTIC=1)",
    )


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
        "-k", "--top", type=positive, default=3, metavar="N", help="how many results (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--explain", action="store_true", help="show why each result ranked")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="use the index as it is even if a source changed"
    )
    add_semantic_option(parser)
    add_source_options(parser)
    return parser


def kb_parser() -> argparse.ArgumentParser:
    """The ``faq-kb`` argument parser."""
    parser = _Parser(prog="faq-kb", description="Build, check and inspect the FAQ knowledge base.")
    add_version_option(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    build = commands.add_parser("build", help="(re)build the index")
    build.add_argument("--json", action="store_true", help="what the build did, as JSON")
    add_semantic_option(build)
    add_source_options(build)
    check = commands.add_parser(
        "check", help="lint the sources: rst problems and broken references as FILE:LINE"
    )
    check.add_argument("--json", action="store_true", help="machine-readable report")
    check.add_argument(
        "--external", action="store_true", help="also check outbound links over HTTP"
    )
    add_source_options(check, index=False)
    listing = commands.add_parser("list", help="list the entries")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    add_source_options(listing)
    show = commands.add_parser("show", help="show one entry in full")
    show.add_argument("id", metavar="ID", help="an entry id, as `faq-kb list` prints it")
    show.add_argument("--json", action="store_true", help="the stored entry as JSON")
    add_source_options(show)
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
    add_source_options(watch)
    from kb.cli.admin import add_commands

    add_commands(commands, add_source_options)
    from kb.cli.setup import add_setup_commands

    add_setup_commands(commands)
    return parser
