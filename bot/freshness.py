"""Keep a running bot's index in step with its sources, rebuilding in the background."""

from __future__ import annotations

import logging
import threading

from kb.errors import FaqError
from kb.knowledge import KnowledgeBase

logger = logging.getLogger(__name__)


class Refresher:
    """A daemon thread that calls ``kb.refresh()`` every ``interval`` seconds.

    ``refresh()`` builds the new index aside and swaps it in with one reference
    assignment, so questions keep being answered from the old index meanwhile. A source
    that no longer builds leaves the old index in place; the error is logged once per
    distinct problem, not on every look.
    """

    def __init__(self, kb: KnowledgeBase, interval: float) -> None:
        self.kb = kb
        self.interval = interval
        self.swaps = 0
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

    def check(self) -> bool:
        """Look once: rebuild and swap if a source changed. Returns True if it swapped."""
        try:
            swapped = self.kb.refresh()
        except (FaqError, OSError) as error:
            message = str(error)
            if message != self.last_error:
                logger.error(
                    "the FAQ no longer builds; still answering from the old index:\n%s", message
                )
            self.last_error = message
            return False
        if swapped:
            self.swaps += 1
            self.last_error = None
            logger.info("FAQ index rebuilt: %d entries", len(self.kb.reader))
        return swapped

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
