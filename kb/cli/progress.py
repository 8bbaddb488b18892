"""Build progress on stderr: on a terminal once a build passes a second, or ``--verbose``.

Silent otherwise, so scripts and logs see only the usual one-line notes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import TextIO

# A build shorter than this shows nothing on a terminal: a flash of text is noise.
DELAY_SECONDS = 1.0
# How often the line is redrawn on a terminal, and written at most with --verbose.
TERMINAL_EVERY, VERBOSE_EVERY = 0.1, 1.0


class Progress:
    """A build's progress callback: ``progress(done, total, entries)`` after each source."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        verbose: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.terminal = self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or unusual stream
            self.terminal = False
        self.verbose = verbose
        self.clock = clock
        self.started: float | None = None
        self.last = float("-inf")
        self.drawn = False

    @property
    def enabled(self) -> bool:
        """Whether anything may be shown at all."""
        return self.verbose or self.terminal

    def __call__(self, done: int, total: int, entries: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self.started is None:
            self.started = now
        finished = done >= total
        text = f"reading sources: {done}/{total}, {entries} entries"
        if self.terminal and not self.verbose:
            if now - self.started < DELAY_SECONDS:
                return
            if finished:
                if self.drawn:  # the build's own summary or note follows: leave a clean line
                    self._write("\r\x1b[K")
                return
            if now - self.last >= TERMINAL_EVERY:
                self._write(f"\r\x1b[K{text}")
                self.drawn, self.last = True, now
            return
        if finished or now - self.last >= VERBOSE_EVERY:
            seconds = f" ({now - self.started:.1f} s)" if finished else ""
            self._write(f"{text}{seconds}\n")
            self.last = now

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
