"""Command line: ``faq-search`` for asking, ``faq-kb`` for maintaining the knowledge base.

The parsers live in ``kb.cli.parsers``; a plain ``faq-search "question"`` (no option) is
answered without them (see ``SearchOptions``).
"""

from __future__ import annotations

import os
import sys

from kb import config
from kb.errors import BuildError, FaqError
from kb.knowledge import KnowledgeBase
from kb.render.printable import from_argv, json_text, printable
from kb.render.results import format_result, result_json, write
from kb.spec import SourceSpec

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

EXIT_ANSWERED, EXIT_UNANSWERED, EXIT_USAGE = 0, 1, 2


class SearchOptions:
    """What ``search_parser()`` makes of a command line without any option: the defaults.

    ``faq-search too many open files`` (and a few options, see ``plain_search``) is
    answered with these, without importing argparse nor building the parser.
    """

    def __init__(self, question: list[str]) -> None:
        self.question = question
        self.top = 3
        self.json = self.explain = self.no_rebuild = self.verbose = False
        self.semantic: bool | None = None
        self.manifest: str | None = None
        self.source: list[str] = []
        self.only: list[str] = []
        self.sources_root: str | None = None
        self.index: str | None = None


if TYPE_CHECKING:
    # What a command's handlers read: argparse's namespace, or the plain question's options.
    Args = argparse.Namespace | SearchOptions


# The options a cold query may carry without argparse: each spelled in full, with its
# value after "=" or as the next argument (value options), or alone (flags).
_LIGHT_VALUES = {"--index": "index", "--manifest": "manifest", "--source": "source"}
_LIGHT_FLAGS = {"--no-rebuild": "no_rebuild"}


def plain_search(argv: Sequence[str]) -> SearchOptions | None:
    """``argv``'s options if argparse would parse them just so, else None.

    That is a question with no option, or after some of ``--index``, ``--manifest``,
    ``--source`` (repeatable) and ``--no-rebuild`` spelled in full (how a large FAQ's
    index is named): argparse and its parser cost a cold query ~15 ms (it imports ``re``).
    Anything else (another option, an abbreviation, an option after the question, a value
    starting with "-", ``--manifest`` with ``--source``) goes through argparse.
    """
    options = SearchOptions([])
    at = 0
    while at < len(argv) and argv[at].startswith("-"):
        name, equals, value = argv[at].partition("=")
        if name in _LIGHT_FLAGS and not equals:
            setattr(options, _LIGHT_FLAGS[name], True)
            at += 1
            continue
        if name not in _LIGHT_VALUES:
            return None
        if not equals:
            at += 1
            if at == len(argv):
                return None
            value = argv[at]
        if not value or value.startswith("-"):
            return None
        if name == "--source":
            options.source.append(value)
        else:
            setattr(options, _LIGHT_VALUES[name], value)
        at += 1
    question = list(argv[at:])
    if any(arg.startswith("-") for arg in question) or (options.manifest and options.source):
        return None
    options.question = question
    return options


def _spec(args: Args) -> SourceSpec:
    root = getattr(args, "sources_root", None)
    if args.source:
        return SourceSpec(paths=tuple(args.source), only=tuple(args.only), sources_root=root)
    return SourceSpec(manifest=args.manifest, only=tuple(args.only), sources_root=root)


def semantic_requested(args: Args) -> bool:
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


def _progress(*, verbose: bool) -> Callable[[int, int, int], None]:
    """A rebuild's ``kb.cli.progress.Progress``, made on its first report: a query that
    rebuilds nothing never imports it."""
    made: list[Callable[[int, int, int], None]] = []

    def report(done: int, total: int, entries: int) -> None:
        if not made:
            from kb.cli.progress import Progress

            made.append(Progress(verbose=verbose))
        made[0](done, total, entries)

    return report


def _note(message: str) -> None:
    print(printable(message), file=sys.stderr, flush=True)


def _fail(error: FaqError) -> int:
    problems = error.problems if isinstance(error, BuildError) else [error]
    for problem in problems:
        print(printable(f"error: {problem}"), file=sys.stderr)
    return EXIT_USAGE


def search_main(argv: Sequence[str] | None = None) -> int:
    """``faq-search``: print the best answer to a question."""
    args: Args | None = plain_search(sys.argv[1:] if argv is None else argv)
    if args is None:
        from kb.cli.parsers import search_parser

        args = search_parser().parse_args(argv)
    from_stdin = args.question == ["-"]
    question = " ".join(from_argv(word) for word in args.question)
    if not from_stdin and not question.strip():
        from kb.cli.parsers import search_parser

        search_parser().print_usage(sys.stderr)
        print(
            'faq-search: error: ask a question, e.g. faq-search "too many open files"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        config.apply(args)
        kb = KnowledgeBase(_spec(args), args.index, notify=_note, semantic=semantic_requested(args))
        kb.progress = _progress(verbose=args.verbose)
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


def _answer(kb: KnowledgeBase, question: str, args: Args) -> int:
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


def _answer_stream(kb: KnowledgeBase, args: Args) -> int:
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


def kb_main(argv: Sequence[str] | None = None) -> int:
    """``faq-kb``: maintainers' commands."""
    from kb.cli import admin as cli_admin
    from kb.cli import setup as cli_setup
    from kb.cli.parsers import kb_parser

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
    import gc

    # What the imports made lives until the exit: frozen, no collection walks it again
    # (one did, mid-query: ~1 ms of a cold one). The launcher imports with collection off.
    gc.freeze()
    gc.enable()
    code = search_main()
    # Nor does the interpreter's last collection, at exit (it walked every object: ~2 ms,
    # for memory the exit frees anyway); the exit still flushes and closes as before.
    gc.freeze()
    sys.exit(code)


def kb_entry() -> None:
    """Entry point of ``faq-kb``."""
    sys.exit(kb_main())
