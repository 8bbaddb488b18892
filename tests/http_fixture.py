"""A real HTTP server on 127.0.0.1 whose pages a test sets: remote sources, dead links."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Page:
    """What the server answers at one path."""

    body: bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow server)
    location: str | None = None  # a redirect's target
    etag: bool = True  # send an ETag and honour If-None-Match
    length: bool = True  # send Content-Length (else the body ends when the connection does)
    content_type: str = "text/plain; charset=utf-8"
    cut: bool = False  # promise the whole body, send half of it and hang up


@dataclass
class Site:
    """The pages and what was asked of them."""

    base: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, INM
    server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def shut_down(self) -> None:
        """Stop listening: every request now fails with 'connection refused'."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            inm = self.headers.get("If-None-Match")
            site.requests.append((self.command, self.path, inm))
            page = site.pages.get(self.path)
            if page is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if page.delay:
                time.sleep(page.delay)
            etag = '"' + hashlib.sha256(page.body).hexdigest()[:12] + '"'
            if page.etag and page.status == 200 and inm == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(page.status)
            if page.location:
                self.send_header("Location", page.location)
            if page.etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Type", page.content_type)
            if page.length:
                self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            if not head:
                # The client may give up early (size cap, timeout).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(page.body[: len(page.body) // 2] if page.cut else page.body)

    return Handler


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A live server on a free loopback port; stopped after the test."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    state = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.shut_down()
