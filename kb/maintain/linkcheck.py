"""``faq-kb check --external``: is every outbound link of the sources still alive?

Each distinct URL is asked once (HEAD, then GET where HEAD is refused), a few at a time,
each with a timeout and a bounded number of redirects (``kb.ingest.remote``'s limits).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

from kb.ingest.remote import USER_AGENT, FetchError, _Redirects, timeout

# Enough to check a few hundred links in seconds without hammering one server.
WORKERS = 8


def probe(url: str, timeout_s: float) -> str | None:
    """Why ``url`` is dead (a few words), or None if it answers below 400."""
    opener = urllib.request.build_opener(_Redirects())
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(
            url.split("#")[0], method=method, headers={"User-Agent": USER_AGENT}
        )
        try:
            with opener.open(request, timeout=timeout_s) as response:
                if method == "GET":
                    response.read(1)
                return None
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue  # some servers refuse HEAD only
            return f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            return "timed out" if isinstance(exc.reason, TimeoutError) else str(exc.reason)
        except (TimeoutError, OSError) as exc:
            return "timed out" if isinstance(exc, TimeoutError) else str(exc)
        except (FetchError, ValueError, HTTPException) as exc:  # a refused redirect, a bad URL
            return str(exc) or type(exc).__name__
    return None


def dead_links(
    urls: list[str], *, workers: int = WORKERS, timeout_s: float | None = None
) -> dict[str, str]:
    """The dead ones among ``urls`` (each asked once), with why."""
    wait = timeout() if timeout_s is None else timeout_s
    distinct = sorted(set(urls))
    with ThreadPoolExecutor(max(1, min(workers, len(distinct) or 1))) as pool:
        reasons = list(pool.map(lambda url: probe(url, wait), distinct))
    return {url: reason for url, reason in zip(distinct, reasons, strict=True) if reason}
