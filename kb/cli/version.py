"""``--version`` for every command, looked up only when asked (the query path stays light)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any

DISTRIBUTION = "faq-kb"


def version() -> str:
    """The installed distribution's version ("unknown" when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """Like argparse's ``version`` action, but importlib.metadata is imported only if used."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"{DISTRIBUTION} {version()}\n")
        parser.exit(0)


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: print ``faq-kb X.Y.Z`` and exit 0."""
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
