"""``faq-kb`` setup commands that read no sources: init, completion."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

COMMANDS = ("init", "completion")


def add_setup_commands(commands: Any) -> None:
    """Register ``init`` and ``completion`` on faq-kb's subparsers."""
    init = commands.add_parser(
        "init",
        help="write a starter faq-kb.toml for a docs folder's FAQ pages",
        description="Find the FAQ pages of a docs folder (files named *faq*.rst, or with "
        "conf.py's source_suffix, in a folder named *faq*, titled 'Frequently Asked "
        "Questions' / 'FAQ', or listed by such a page's toctree) and write faq-kb.toml "
        "here, so that faq-search, faq-kb and faq-bot answer from them with no flags.",
    )
    init.add_argument(
        "docs", nargs="?", metavar="DOCS_DIR", help="the docs folder (default: docs, doc or .)"
    )
    init.add_argument(
        "--url",
        metavar="BASE",
        help="where the docs are published (default: conf.py html_baseurl)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing faq-kb.toml")
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script of faq-search, faq-kb and faq-bot for SHELL.",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"), metavar="SHELL")


def run(args: argparse.Namespace) -> int:
    """Run a setup command; returns the exit status.

    Raises:
        FaqError: ``init`` cannot write a useful faq-kb.toml.
    """
    if args.command == "completion":
        from kb.cli.completion import script

        sys.stdout.write(script(args.shell))
        return 0
    from kb.cli import scaffold

    cwd = Path.cwd()
    docs = Path(args.docs) if args.docs else scaffold.default_docs_dir(cwd)
    target, plan = scaffold.write(cwd, docs.resolve(), args.url, force=args.force)
    sys.stdout.write(scaffold.report(target, plan, cwd))
    return 0
