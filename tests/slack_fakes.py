"""Local stand-ins for Slack: its Web API, its request signing, and its Socket Mode server.

Everything binds 127.0.0.1 on port 0 and records what it receives, so tests assert on the
exact calls the bot made (channel, thread_ts, text, blocks, unfurl flags, token).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-1111-2222-testtoken"
APP_TOKEN = "xapp-1-A111-222-testapptoken"


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@dataclass
class Call:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class Reply:
    """A scripted reply: status, JSON body and headers."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    # socketserver's backlog of 5 resets connections in a burst (bench/bench_replicas.py).
    request_queue_size = 128


class FakeSlack:
    """Slack's Web API (under ``/api/``) and ``response_url`` targets (under ``/response/``)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: dict[str, list[Reply]] = {}
        self.ws_url = ""
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.api_url = self.url + "/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def response_url(self, name: str = "r1") -> str:
        """A ``response_url`` that lands here (recorded under ``/response/<name>``)."""
        return f"{self.url}/response/{name}"

    def push(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order."""
        with self._lock:
            self.script.setdefault(path, []).extend(replies)

    def calls_to(self, path: str) -> list[Call]:
        """The recorded calls to ``path`` (e.g. ``/api/chat.postMessage``), oldest first."""
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``path`` received at least ``n`` calls; return them."""
        return wait_until(
            lambda: (lambda calls: calls if len(calls) >= n else None)(self.calls_to(path)),
            timeout,
            f"{n} call(s) to {path}",
        )

    def assert_stays(self, path: str, n: int, window: float = 0.3) -> None:
        """Check for ``window`` seconds that ``path`` keeps exactly ``n`` calls."""
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            count = len(self.calls_to(path))
            assert count == n, f"{path}: expected {n} call(s), got {count}"
            time.sleep(0.01)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode("utf-8") if length else ""
        path = request.path.split("?", 1)[0]
        call = Call(
            path, {k.lower(): v for k, v in request.headers.items()}, _parse(raw), time.time()
        )
        with self._lock:
            self.calls.append(call)
            scripted = self.script.get(path)
            reply = scripted.pop(0) if scripted else None
        if reply is None:
            reply = self._default(path, call)
        data = json.dumps(reply.body).encode()
        request.send_response(reply.status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    def _default(self, path: str, call: Call) -> Reply:
        if path.startswith("/response/"):
            return Reply(200, {"ok": True})
        auth = call.headers.get("authorization", "")
        if not auth.startswith(("Bearer xoxb-", "Bearer xapp-")):
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if auth.startswith("Bearer xoxb-invalid"):
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if path == "/api/auth.test":
            return Reply(
                200,
                {
                    "ok": True,
                    "url": "https://example.slack.com/",
                    "team": "Example",
                    "team_id": TEAM_ID,
                    "user": "faqbot",
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                },
            )
        if path == "/api/apps.connections.open":
            return Reply(200, {"ok": True, "url": self.ws_url})
        if path == "/api/chat.getPermalink":
            channel, ts = call.body.get("channel", ""), str(call.body.get("message_ts", ""))
            link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return Reply(200, {"ok": True, "channel": channel, "permalink": link})
        if path == "/api/chat.postMessage":
            ts = f"1700000100.{next(self._ts):06d}"
            return Reply(200, {"ok": True, "channel": call.body.get("channel"), "ts": ts})
        return Reply(200, {"ok": True})


def _parse(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        for key in ("blocks", "attachments"):
            if isinstance(form.get(key), str):
                form[key] = json.loads(form[key])
        return form
    return data if isinstance(data, dict) else {"_": data}


# --- signed requests -----------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Response:
    """What the bot answered to one POST."""

    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def post_signed(
    url: str,
    body: str,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    sign_with: str | None = None,
    timeout: float = 10.0,
) -> Response:
    """POST ``body`` signed exactly as Slack signs it (optionally with a wrong secret)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    all_headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(sign_with or secret, ts, body),
        **(headers or {}),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=all_headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Response(reply.status, reply.read().decode(), time.perf_counter() - started)
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode(), time.perf_counter() - started)


def event_body(event: dict[str, Any], event_id: str = "Ev0001") -> str:
    """An Events API ``event_callback`` body."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
    )


def mention(
    text: str, *, ts: str = "1700000000.000100", channel: str = "C0001", **extra: Any
) -> dict[str, Any]:
    """An ``app_mention`` event from a person."""
    return {
        "type": "app_mention",
        "user": "U0HUMAN",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def dm(
    text: str, *, ts: str = "1700000000.000200", channel: str = "D0001", **extra: Any
) -> dict[str, Any]:
    """A ``message.im`` event from a person."""
    return {
        "type": "message",
        "channel_type": "im",
        "user": "U0HUMAN",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def command_body(text: str, response_url: str, command: str = "/faq") -> str:
    """A slash command body, form-encoded as Slack sends it."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "example",
            "channel_id": "C0001",
            "channel_name": "general",
            "user_id": "U0HUMAN",
            "user_name": "human",
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    )


def action_body(
    action: dict[str, Any],
    response_url: str,
    *,
    user: str = "U0HUMAN",
    ephemeral: bool = False,
    message: dict[str, Any] | None = None,
    block_id: str = "faq_actions",
) -> str:
    """A ``block_actions`` body (a button click), form-encoded as ``payload=``."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": "1700000100.000001",
        "channel_id": "C0001",
        "is_ephemeral": ephemeral,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "human", "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "123.456.abc",
        "team": {"id": TEAM_ID, "domain": "example"},
        "channel": {"id": "C0001", "name": "general"},
        "response_url": response_url,
        "actions": [
            {**action, "block_id": block_id, "type": "button", "action_ts": "1700000200.1"}
        ],
    }
    if not ephemeral:
        payload["message"] = {
            "type": "message",
            "ts": "1700000100.000001",
            "text": "answer",
            **(message or {}),
        }
    return "payload=" + quote(json.dumps(payload))


# --- Socket Mode ----------------------------------------------------------------------------


class FakeSocketMode:
    """A WebSocket server standing in for Slack's Socket Mode endpoint.

    Sends ``hello`` on connect, then each queued envelope; records what the client sends
    back (the envelope acks).
    """

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self._outbox: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = serve(self._session, "127.0.0.1", 0)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def send(self, envelope: dict[str, Any]) -> None:
        """Queue an envelope for the connected client."""
        with self._lock:
            self._outbox.append(envelope)

    def acks(self) -> list[dict[str, Any]]:
        """The messages the client sent (acks carry ``envelope_id``)."""
        with self._lock:
            return [m for m in self.received if "envelope_id" in m]

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _session(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            self.connections += 1
        websocket.send(
            json.dumps(
                {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}
            )
        )
        try:
            while True:
                with self._lock:
                    outgoing, self._outbox = self._outbox, []
                for envelope in outgoing:
                    websocket.send(json.dumps(envelope))
                try:
                    message = websocket.recv(timeout=0.02)
                except TimeoutError:
                    continue
                if isinstance(message, bytes):
                    message = message.decode()
                with self._lock:
                    self.received.append(json.loads(message))
        except ConnectionClosed:
            return
