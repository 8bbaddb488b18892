"""Keep a running bot's index in step with its sources, rebuilding in the background."""

from __future__ import annotations

import logging
import threading

from kb.errors import FaqError
from kb.knowledge import KnowledgeBase

logger = logging.getLogger(__name__)

# A source is rebuilt only once its size and mtime held still this long (seconds), so a
# file still being saved is never indexed half-written.
QUIET_SECONDS = 1.0
# An index that would lose over half its entries waits this many more looks at unchanged
# sources before it is swapped in (a warning is logged both times): a half-saved file is
# finished by then, a deliberate cut stays.
SHRINK_LOOKS = 3


class Refresher:
    """A daemon thread that calls ``kb.refresh()`` every ``interval`` seconds.

    ``refresh()`` builds the new index aside and swaps it in with one reference
    assignment, so questions keep being answered from the old index meanwhile. A rebuild
    that fails, for whatever reason, leaves the old index in place and the thread looking;
    each distinct failure is logged once, not on every look.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        interval: float,
        *,
        quiet_seconds: float = QUIET_SECONDS,
        shrink_looks: int = SHRINK_LOOKS,
    ) -> None:
        self.kb = kb
        self.interval = interval
        self.quiet_seconds = quiet_seconds
        self.shrink_looks = shrink_looks
        self.swaps = 0
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faq-refresh", daemon=True)

    def start(self) -> Refresher:
        """Start looking for changes (no-op if ``interval`` is 0 or less)."""
        if self.interval > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop looking; waits for a rebuild under way to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def alive(self) -> bool:
        """Whether the thread is still looking."""
        return self._thread.is_alive()

    def check(self) -> bool:
        """Look once: rebuild and swap if a source changed. Returns True if it swapped."""
        try:
            swapped = self.kb.refresh(
                quiet_seconds=self.quiet_seconds,
                shrink_polls=self.shrink_looks,
                warn=logger.warning,
            )
        except (FaqError, OSError) as error:
            self._failed(str(error), "the FAQ no longer builds")
            return False
        except Exception as error:  # noqa: BLE001  # the thread must outlive any failure
            self._failed(f"{type(error).__name__}: {error}", "rebuilding the FAQ failed", error)
            return False
        if swapped:
            self.swaps += 1
            self.last_error = None
            logger.info("FAQ index rebuilt: %d entries", len(self.kb.reader))
        return swapped

    def _failed(self, message: str, what: str, error: Exception | None = None) -> None:
        self.failures += 1
        if message != self.last_error:
            logger.error(
                "%s; still answering from the old index:\n%s",
                what,
                message,
                exc_info=error,  # an unexpected failure: its traceback, once
            )
        self.last_error = message

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
