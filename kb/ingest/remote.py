"""Remote sources: an rst file at an http(s) URL, fetched conditionally and cached on disk.

The copy lives beside the index, ``<index dir>/remote/<hash>.rst``, with its validators
(ETag, Last-Modified) in ``<hash>.json``; the JSON file's mtime is when the URL was last
asked, so deciding whether a copy is due costs one ``stat``. Imported only when a remote
copy is due or a build resolves its sources: urllib is not on the cold query path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException, HTTPMessage
from typing import IO, TYPE_CHECKING, Any

from kb.errors import SourceError
from kb.index.reader import write_atomically
from kb.spec import is_url

if TYPE_CHECKING:
    from kb.ingest.sources import Source

# Every request has a deadline (per socket operation and for the whole body), a size cap
# and a bounded number of redirects; only http(s) is ever followed.
TIMEOUT_SECONDS = 10.0
MAX_BYTES = 5_000_000  # the largest real FAQ of the corpora is ~200 kB
MAX_REDIRECTS = 5
DEFAULT_MAX_AGE = 3600.0  # seconds a copy serves before faq-search asks again
USER_AGENT = "faq-kb (FAQ sources and link checks)"
REMOTE_DIR = "remote"


def cache_paths(index_dir: str, url: str) -> tuple[str, str]:
    """Where the copy of ``url`` and its metadata live under ``index_dir``."""
    stem = hashlib.sha256(url.encode()).hexdigest()[:20]
    folder = os.path.join(index_dir, REMOTE_DIR)
    return os.path.join(folder, stem + ".rst"), os.path.join(folder, stem + ".json")


def timeout() -> float:
    """The request timeout in seconds (env ``FAQ_REMOTE_TIMEOUT``)."""
    return max(0.1, _env_seconds("FAQ_REMOTE_TIMEOUT", TIMEOUT_SECONDS))  # 0 would never wait


def max_age(configured: float | None = None) -> float:
    """How old a copy may get before it is asked for again (env ``FAQ_REMOTE_MAX_AGE``)."""
    default = DEFAULT_MAX_AGE if configured is None else configured
    return _env_seconds("FAQ_REMOTE_MAX_AGE", default)


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        return default


def is_due(meta_path: str, age: float) -> bool:
    """Whether the copy whose metadata is at ``meta_path`` should be asked for again."""
    try:
        asked = os.stat(meta_path).st_mtime
    except OSError:
        return True
    return time.time() - asked >= age


class FetchError(Exception):
    """A fetch failed (network, DNS, HTTP status, timeout, size, redirects)."""


@dataclass
class Fetched:
    """What one conditional request returned."""

    status: int  # 200, or 304 (not modified)
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most MAX_REDIRECTS redirects, and only to http(s)."""

    max_redirections = MAX_REDIRECTS
    max_repeats = 2

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not is_url(newurl):
            raise FetchError(f"redirected to {newurl!r}, not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout_s: float | None = None,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """GET ``url``, conditionally when validators are given.

    Raises:
        FetchError: anything but a 200 within the limits or a 304, said in a few words.
    """
    if not is_url(url):
        raise FetchError("only http(s) URLs are fetched")
    wait = timeout() if timeout_s is None else timeout_s
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    except ValueError as exc:
        raise FetchError(f"not a valid URL ({exc})") from None
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    opener = urllib.request.build_opener(_Redirects())
    deadline = time.monotonic() + wait
    try:
        with opener.open(request, timeout=wait) as response:
            kind = response.headers.get_content_type()
            if kind in ("text/html", "application/xhtml+xml"):
                # A repository's page of the file (a "blob" URL), not the file itself.
                raise FetchError(f"got an HTML page ({kind}), not rst: give the raw file's URL")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"larger than {max_bytes} bytes ({length})")
            body = _read_capped(response, max_bytes, deadline)
            if length and length.isdigit() and len(body) < int(length):
                # A half file would be cached and served as if it were the FAQ.
                raise FetchError(f"the body was cut short ({len(body)} of {length} bytes)")
            return Fetched(
                response.status,
                body,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(304, etag=etag, last_modified=last_modified)
        reason = str(exc.reason)
        if "is not allowed" in reason:  # urllib refuses file:, ftp: … before asking us
            raise FetchError(f"redirected to {exc.filename}, not http(s)") from None
        if 300 <= exc.code < 400:
            reason = "too many redirects (a redirect loop?)"
        raise FetchError(f"HTTP {exc.code} {reason}") from None
    except urllib.error.URLError as exc:
        timed_out = isinstance(exc.reason, TimeoutError)
        raise FetchError(f"timed out after {wait:g} s" if timed_out else str(exc.reason)) from None
    except TimeoutError:
        raise FetchError(f"timed out after {wait:g} s") from None
    except OSError as exc:
        raise FetchError(exc.strerror or str(exc)) from None
    except (HTTPException, ValueError) as exc:  # a body cut short, a malformed URL
        raise FetchError(f"{type(exc).__name__}: {exc}") from None


def _read_capped(response: Any, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError("timed out while reading the body")
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"larger than {max_bytes} bytes")
        chunks.append(chunk)


def _read_meta(meta_path: str) -> dict[str, Any]:
    try:
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def update(
    url: str, index_dir: str, *, force: bool = False, age: float | None = None
) -> str | None:
    """Make the copy of ``url`` under ``index_dir`` current; return a warning or None.

    Asks the server only when ``force`` or when the copy is older than ``age`` (see
    ``max_age``). A failure with a copy on disk leaves that copy in use and is returned as
    a warning.

    Raises:
        SourceError: the fetch failed and there is no copy yet.
    """
    body_path, meta_path = cache_paths(index_dir, url)
    have_copy = os.path.exists(body_path)
    if have_copy and not force and not is_due(meta_path, max_age(age)):
        return None
    meta = _read_meta(meta_path) if have_copy else {}
    try:
        got = fetch(url, etag=meta.get("etag"), last_modified=meta.get("last_modified"))
    except FetchError as exc:
        if not have_copy:
            message = f"cannot fetch ({exc}) and there is no cached copy yet"
            raise SourceError(url, None, message) from None
        meta["error"] = str(exc)
        with contextlib.suppress(OSError):  # a read-only cache: asked again next time
            _write_meta(meta_path, meta)  # asked: not again before it is due
        fetched = meta.get("fetched_at")
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(fetched)) if fetched else "earlier"
        return f"{url}: cannot refresh ({exc}); using the copy fetched {when}"
    now = time.time()
    try:
        if got.status != 304:
            write_atomically(body_path, got.body)
            meta = {
                "url": url,
                "etag": got.etag,
                "last_modified": got.last_modified,
                "fetched_at": now,
            }
        meta.pop("error", None)
        meta["checked_at"] = now
        _write_meta(meta_path, meta)
    except OSError as exc:
        if not os.path.exists(body_path):
            message = f"cannot save a copy in {os.path.dirname(body_path)}: {exc.strerror or exc}"
            raise SourceError(url, None, message) from None
        return f"{url}: cannot save the new copy ({exc.strerror or exc}); using the old one"
    return None


def _write_meta(meta_path: str, meta: dict[str, Any]) -> None:
    write_atomically(meta_path, json.dumps(meta, sort_keys=True).encode())


def localize(sources: list[Source], index_dir: str, *, force: bool = False) -> list[Source]:
    """The sources with each remote one's ``path`` set to its up-to-date cached copy.

    Raises:
        SourceError: a remote source cannot be fetched and has no cached copy.
    """
    from dataclasses import replace
    from pathlib import Path

    out = []
    for source in sources:
        if source.origin:
            warning = update(source.origin, index_dir, force=force, age=source.max_age)
            body = Path(cache_paths(index_dir, source.origin)[0])
            source = replace(source, path=body, fetch_warning=warning)
        out.append(source)
    return out
