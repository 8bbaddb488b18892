"""Slack's rate limits without parking the listener threads.

A 429 whose ``Retry-After`` is short (≤ ``MAX_INLINE_WAIT``) is retried in the listener's
thread, as slack_sdk's own handler does. A longer one would hold that thread (and, in a
burst, all of them) for the whole wait, so the call is handed to ``DeferredSends``: one
background thread that sends it again, once, when Slack said; the listener moves on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from slack_sdk.http_retry import RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

logger = logging.getLogger(__name__)

# The longest a listener thread sleeps for Slack (seconds).
MAX_INLINE_WAIT = 3.0
# Calls Slack wants delayed longer than this are dropped (with a log line) instead.
MAX_DEFERRED_WAIT = 600.0
# Calls waiting at most; more are dropped with a log line.
MAX_PENDING = 1000


class DeferredSends:
    """Web API calls to send again later, each once, from one daemon thread."""

    def __init__(self) -> None:
        self.sent = 0
        self._queue: list[tuple[float, int, HttpRequest]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, request: HttpRequest, delay: float) -> bool:
        """Send ``request`` again in ``delay`` seconds; False (logged) if it cannot wait."""
        where = request.url.rsplit("/", 1)[-1]
        if delay > MAX_DEFERRED_WAIT:
            logger.warning("Slack asks to wait %.0f s before %s; dropping the call", delay, where)
            return False
        with self._wake:
            if len(self._queue) >= MAX_PENDING:
                logger.warning("%d Slack calls already wait; dropping %s", MAX_PENDING, where)
                return False
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), request))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="faq-later", daemon=True)
                self._thread.start()
            self._wake.notify()
        logger.warning("Slack rate-limited %s; sending it again in %.0f s", where, delay)
        return True

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    self._wake.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                _, _, request = heapq.heappop(self._queue)
            self._send(request)

    def _send(self, request: HttpRequest) -> None:
        headers = {k: v[-1] for k, v in request.headers.items()}
        call = urllib.request.Request(
            request.url, data=request.data, headers=headers, method=request.method
        )
        where = request.url.rsplit("/", 1)[-1]
        try:
            with urllib.request.urlopen(call, timeout=30) as reply:
                body = reply.read(200)
            self.sent += 1
            if b'"ok":false' in body.replace(b" ", b""):
                logger.error("a delayed %s failed: %s", where, body.decode(errors="replace"))
        except (urllib.error.URLError, OSError) as error:
            logger.error("a delayed %s failed: %s", where, error)


class CappedRateLimitRetryHandler(RetryHandler):
    """Retries a 429 in the calling thread only for a short wait; defers longer ones."""

    def __init__(self, later: DeferredSends, max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.later = later

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response)
        if wait <= MAX_INLINE_WAIT:
            return True
        self.later.add(request, wait)
        return False

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = retry_after(response) if response is not None else 1.0
        time.sleep(min(MAX_INLINE_WAIT, wait + random.random() / 4))
        state.increment_current_attempt()


def retry_after(response: HttpResponse) -> float:
    """Slack's ``Retry-After`` in seconds (1 if absent or unreadable)."""
    headers: dict[str, Any] = response.headers
    for key, value in headers.items():
        if key.lower() == "retry-after":
            text = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(text))
            except (TypeError, ValueError):
                return 1.0
    return 1.0
