"""One rebuild at a time per index folder: an advisory ``flock`` on a lock file beside it.

Ten cold ``faq-search`` processes used to rebuild the same index ten times over. Now the
first takes the lock and builds; the others wait for it (bounded), then use its result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LOCK_FILE = ".index.faqkb.lock"
# How long to wait for another process's rebuild (env FAQ_BUILD_WAIT_SECONDS).
DEFAULT_WAIT_SECONDS = 60.0


def wait_seconds() -> float:
    """How long to wait for another rebuild: env ``FAQ_BUILD_WAIT_SECONDS``, else 60."""
    try:
        return max(0.0, float(os.environ.get("FAQ_BUILD_WAIT_SECONDS", DEFAULT_WAIT_SECONDS)))
    except ValueError:
        return DEFAULT_WAIT_SECONDS


@contextmanager
def build_lock(
    index_dir: str, wait: float, on_wait: Callable[[], None] = lambda: None
) -> Iterator[str]:
    """Hold the index folder's build lock; yields how it went.

    ``"free"``: taken at once; ``"waited"``: taken after another process let it go (its
    index is probably fresh now); ``"timeout"``: still held after ``wait`` seconds (not
    taken); ``"none"``: no lock possible here (a read-only folder): build without one.
    ``on_wait`` is called once, when waiting starts.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield "none"
        return
    try:
        os.makedirs(index_dir, exist_ok=True)
        fd = os.open(
            os.path.join(index_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
    except OSError:
        yield "none"
        return
    state = "free"
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if state == "free":
                    state = "waited"
                    on_wait()
                if time.monotonic() >= deadline:
                    state = "timeout"
                    break
                time.sleep(0.05)
        yield state
    finally:
        os.close(fd)  # also releases the lock
