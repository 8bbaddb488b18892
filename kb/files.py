"""Reading the files faq-kb is pointed at: regular files only, never more than a limit.

A FIFO would block every command, ``/dev/zero`` would fill memory and a 5 MB source
would take a minute to parse: each is refused with a clear reason instead.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without its import on the cold path
if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_MAX_SOURCE_BYTES = 2_000_000  # the largest real FAQ is ~100 KB
MAX_CONFIG_BYTES = 1_000_000  # a manifest or aliases file


def page_names(names: Iterable[str]) -> list[str]:
    """The pages of a source folder, given its file names, sorted: its ``*.rst`` files, or
    where it holds none its ``*.txt`` ones (reStructuredText too in Sphinx projects that
    set ``source_suffix = ".txt"``, as Django does). The build and the freshness check
    both use this rule, so a page added or removed means a rebuild."""
    rst = sorted(name for name in names if name.endswith(".rst"))
    return rst or sorted(name for name in names if name.endswith(".txt"))


class NotReadable(OSError):
    """The file is not a regular file, or is larger than allowed; ``str()`` says which."""


def max_source_bytes() -> int:
    """The size limit of one source: env ``FAQ_MAX_SOURCE_BYTES``, else 2 MB."""
    raw = os.environ.get("FAQ_MAX_SOURCE_BYTES", "").strip().replace("_", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_SOURCE_BYTES


def regular_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as a regular file (None if it can); never blocks."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "not found"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return f"is not a regular file ({_kind(mode)})"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def open_regular(path: str | os.PathLike[str]) -> int:
    """Open a regular file for reading, without blocking on a FIFO; returns the fd.

    Raises:
        NotReadable: it is not a regular file.
        OSError: it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotReadable(f"is not a regular file ({_kind(mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int | None = None, hint: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises:
        NotReadable: it is not a regular file, or it is larger than ``limit``.
        OSError: it cannot be read.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        if limit is None:
            return handle.read()
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotReadable(f"is larger than {limit:,} bytes{hint}")
    return data
