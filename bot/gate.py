"""The bot's WSGI front door: cheap checks on the raw bytes before Bolt sees a request.

In order: the path (404) and method (405); the size (over ``MAX_BODY_BYTES`` → 413, never
read); Slack's signature over the exact bytes, with a numeric timestamp at most five
minutes off (401); a body that parses as Slack sends it (400). None of these logs a
traceback: anyone can send them, so they are counted and summed up in at most one log line
a minute. Events API requests are then acked at once (200, whether a listener wants them
or not) and handed to Bolt on a background thread, so nothing the listeners, their
database or Slack do can delay the ack; everything else (slash commands, buttons,
url_verification) goes to Bolt within the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest, BoltResponse

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

# Slack's payloads are a few kB; a megabyte is far beyond any real one.
MAX_BODY_BYTES = 1 << 20
# Slack's own rule: a timestamp more than five minutes off is a replay.
MAX_CLOCK_SKEW = 300
# Threads that hand acked events to Bolt (each only runs middleware and queues a listener).
DISPATCH_THREADS = 8
# Rejected requests are summed up in one log line at most this often (seconds).
REJECT_LOG_SECONDS = 60.0

_Headers = dict[str, str]


class SlackGate:
    """A WSGI application serving ``app`` at ``path``; see the module docstring."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        path: str = "/slack/events",
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.path = path
        self._secret = signing_secret.encode()
        self._executor = executor or ThreadPoolExecutor(
            DISPATCH_THREADS, thread_name_prefix="faq-dispatch"
        )
        self._clock = clock
        self._rejected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._logged_at = 0.0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = self._handle(environ)
        if status >= 400:
            self._count_rejection(status)
        data = body.encode()
        head = [(k, v) for k, v in headers.items()]
        head.append(("Content-Length", str(len(data))))
        start_response(f"{status} {HTTPStatus(status).phrase}", head)
        return [data]

    def _handle(self, environ: WSGIEnvironment) -> tuple[int, _Headers, str]:
        if environ.get("PATH_INFO", "") != self.path:
            return _plain(404, "Not Found")
        if environ.get("REQUEST_METHOD") != "POST":
            return _plain(405, "Method Not Allowed")
        raw = _read_body(environ)
        if raw is None:
            return _plain(413, "Payload Too Large")
        headers = _headers(environ)
        if not self._signed(raw, headers):
            return _json(401, {"error": "invalid request"})
        try:
            text = raw.decode("utf-8")
            body = _parse(text, headers.get("content-type", ""))
        except ValueError:
            return _json(400, {"error": "malformed body"})
        request = BoltRequest(body=text, headers=dict(headers))
        is_json = headers.get("content-type", "").startswith("application/json")
        if is_json and body.get("type") != "url_verification":  # Events API: ack first
            self._executor.submit(self._dispatch_quietly, request)
            return 200, {}, ""
        return _from_bolt(self.app.dispatch(request))

    def _dispatch_quietly(self, request: BoltRequest) -> None:
        try:
            response = self.app.dispatch(request)
        except Exception:
            logger.exception("dispatching an acked event failed")
            return
        if response.status >= 400 and response.status != 404:
            logger.warning("an acked event got %d from Bolt: %s", response.status, response.body)

    def _signed(self, raw: bytes, headers: _Headers) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not (timestamp.isascii() and timestamp.isdigit()) or not signature:
            return False
        if abs(self._clock() - int(timestamp)) > MAX_CLOCK_SKEW:
            return False
        base = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def _count_rejection(self, status: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._rejected[str(status)] += 1
            if now - self._logged_at < REJECT_LOG_SECONDS:
                return
            counts, self._rejected, self._logged_at = self._rejected, Counter(), now
        summary = ", ".join(f"{n}× {code}" for code, n in sorted(counts.items()))
        logger.warning(
            "rejected requests at %s (unsigned, oversized or malformed): %s", self.path, summary
        )


def _read_body(environ: WSGIEnvironment) -> bytes | None:
    """The body, or None if it is over ``MAX_BODY_BYTES`` (then unread, or read no further)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        if not declared.isdigit():
            return None
        if int(declared) > MAX_BODY_BYTES:
            return None
        return bytes(stream.read(int(declared)))
    data = bytes(stream.read(MAX_BODY_BYTES + 1))  # no length (chunked): read to the cap
    return None if len(data) > MAX_BODY_BYTES else data


def _headers(environ: WSGIEnvironment) -> _Headers:
    headers = {}
    for key, value in environ.items():
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers[key.lower().replace("_", "-")] = str(value)
        elif key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = str(value)
    return headers


def _parse(text: str, content_type: str) -> dict[str, Any]:
    """The body as Slack sends it: JSON (events) or a form (commands, ``payload=`` JSON).

    Raises:
        ValueError: it is neither.
    """
    if content_type.startswith("application/json"):
        data = json.loads(text)
    else:
        form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
        data = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(data, dict) or not data:
        raise ValueError("not an object")
    return data


def _plain(status: int, text: str) -> tuple[int, _Headers, str]:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text


def _json(status: int, data: dict[str, Any]) -> tuple[int, _Headers, str]:
    return status, {"Content-Type": "application/json"}, json.dumps(data)


def _from_bolt(response: BoltResponse) -> tuple[int, _Headers, str]:
    headers = {
        key: value
        for key, values in response.headers.items()
        if key.lower() != "content-length"
        for value in values[-1:]
    }
    return response.status, headers, response.body
