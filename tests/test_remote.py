"""Remote sources against a real HTTP server on loopback: fetch, 304, change, outage, limits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.cli.main import kb_main, search_main
from kb.errors import SourceError
from kb.ingest import remote
from kb.knowledge import KnowledgeBase
from kb.spec import SourceSpec
from tests.conftest import SEED, SEED_URL
from tests.http_fixture import Page, Site, site

__all__ = ["site"]

NEW_ANSWER = """
How do I reach the upstream FAQ?
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

Through the zanzibar gateway, which serves the published copy.
"""


def _manifest(tmp_path: Path, site: Site, **extra: str) -> Path:
    lines = [
        "[[source]]",
        'name = "distributed"',
        f'path = "{site.url("/faq.rst")}"',
        f'url = "{SEED_URL}"',
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    manifest = tmp_path / "sources.toml"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _kb(tmp_path: Path, site: Site, notes: list[str] | None = None) -> KnowledgeBase:
    spec = SourceSpec(manifest=_manifest(tmp_path, site))
    sink = notes if notes is not None else []
    return KnowledgeBase(spec, tmp_path / "index", notify=sink.append)


def test_first_fetch_builds_from_the_cached_copy(tmp_path: Path, site: Site) -> None:
    """The file is fetched once, cached beside the index, and entries point at the URL."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    kb = _kb(tmp_path, site)
    kb.open()
    assert len(kb.reader) > 5
    body, meta = remote.cache_paths(str(tmp_path / "index"), site.url("/faq.rst"))
    assert Path(body).read_bytes() == SEED.read_bytes()
    assert Path(meta).is_file()
    assert [r[:2] for r in site.requests] == [("GET", "/faq.rst")]
    best = kb.search("too many open files").hits[0].entry
    assert best["url"] == SEED_URL + "#too-many-open-file-descriptors"
    assert best["source"]["path"] == site.url("/faq.rst")


def test_build_asks_again_conditionally_and_gets_304(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """`faq-kb build` always revalidates: If-None-Match, a 304, the copy kept."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    args = ["--manifest", str(_manifest(tmp_path, site)), "--index", str(tmp_path / "index")]
    assert kb_main(["build", *args]) == 0
    assert kb_main(["build", *args]) == 0
    (method, path, first_inm), (_, _, second_inm) = site.requests
    assert (method, path, first_inm) == ("GET", "/faq.rst", None)
    assert second_inm is not None and second_inm.startswith('"')
    assert "warning" not in capsys.readouterr().err


def test_build_with_the_server_down_warns_once_and_builds_from_the_copy(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """The build asks the server itself (one request), warns once, keeps the copy."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    args = ["--manifest", str(_manifest(tmp_path, site)), "--index", str(tmp_path / "index")]
    assert kb_main(["build", *args]) == 0
    site.shut_down()
    capsys.readouterr()
    assert kb_main(["build", *args]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "cannot refresh" in err


def test_changed_content_reaches_a_refresh(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the copy is due, a refresh fetches the new text and swaps in the new answer."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    kb = _kb(tmp_path, site)
    kb.open()
    assert not kb.search("zanzibar gateway").answered
    assert kb.refresh() is False  # not due yet (default max age: an hour)
    assert len(site.requests) == 1
    site.pages["/faq.rst"] = Page(SEED.read_bytes() + NEW_ANSWER.encode())
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    assert kb.refresh() is True
    assert kb.search("zanzibar gateway").hits[0].entry["title"] == (
        "How do I reach the upstream FAQ?"
    )
    assert kb.refresh() is False  # asked again (due at once): 304, nothing to rebuild
    assert site.requests[-1][2] is not None


def test_server_down_keeps_the_cached_copy_with_one_warning(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage: answers keep coming from the copy; one warning, however often it looks."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    notes: list[str] = []
    kb = _kb(tmp_path, site, notes)
    kb.open()
    site.shut_down()
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    assert kb.refresh() is False
    assert kb.refresh() is False
    warnings = [n for n in notes if n.startswith("warning:")]
    assert len(warnings) == 1, notes
    assert "cannot refresh" in warnings[0] and "using the copy fetched" in warnings[0]
    assert kb.search("too many open files").answered


def test_a_server_error_keeps_the_cached_copy(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 is an outage too: the copy serves, one warning naming the status."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    notes: list[str] = []
    kb = _kb(tmp_path, site, notes)
    kb.open()
    notes.clear()  # the first build's note
    site.pages["/faq.rst"] = Page(b"down for maintenance", status=503)
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    assert kb.refresh() is False
    assert notes == [
        f"warning: {site.url('/faq.rst')}: cannot refresh (HTTP 503 Service Unavailable);"
        f" using the copy fetched {notes[0].rsplit('fetched ', 1)[1]}"
    ]
    assert notes[0].endswith(" UTC")
    assert kb.search("too many open files").answered


def test_no_rebuild_asks_nothing(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--no-rebuild uses the index as it is: not even a conditional request."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    args = ["--manifest", str(_manifest(tmp_path, site)), "--index", str(tmp_path / "index")]
    assert kb_main(["build", *args]) == 0
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    assert search_main(["too many open files", "--no-rebuild", *args]) == 0
    assert len(site.requests) == 1


def test_faq_search_uses_the_copy_when_the_server_is_down(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """faq-search with a due copy and no server: the answer, and one warning on stderr."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    args = ["--manifest", str(_manifest(tmp_path, site)), "--index", str(tmp_path / "index")]
    assert kb_main(["build", *args]) == 0
    site.shut_down()
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    capsys.readouterr()
    assert search_main(["too many open files", *args]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "cannot refresh" in err


def test_no_copy_and_no_server_is_a_clear_error(
    tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """Never fetched and unreachable: exit 2, the URL and what is missing, no traceback."""
    manifest = _manifest(tmp_path, site)
    url = site.url("/faq.rst")
    site.shut_down()
    status = search_main(["x", "--manifest", str(manifest), "--index", str(tmp_path / "i")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {url}: cannot fetch (")
    assert "no cached copy yet" in err


def test_a_slow_server_times_out(site: Site) -> None:
    """A server slower than the timeout: a FetchError well before the server answers."""
    site.pages["/slow.rst"] = Page(b"Late?\n=====\n\nYes.\n", delay=3)
    started = time.monotonic()
    with pytest.raises(remote.FetchError, match="timed out"):
        remote.fetch(site.url("/slow.rst"), timeout_s=0.3)
    assert time.monotonic() - started < 2


def test_a_huge_response_is_capped(site: Site, tmp_path: Path) -> None:
    """Bigger than the cap, by Content-Length or by what is read: refused, nothing cached."""
    site.pages["/huge.rst"] = Page(b"x" * 50_000)
    with pytest.raises(remote.FetchError, match="larger than 10000 bytes"):
        remote.fetch(site.url("/huge.rst"), max_bytes=10_000)
    site.pages["/endless.rst"] = Page(b"x" * 50_000, length=False)  # no length to refuse by
    with pytest.raises(remote.FetchError, match="larger than 10000 bytes"):
        remote.fetch(site.url("/endless.rst"), max_bytes=10_000)
    site.pages["/huge.rst"] = Page(b"x" * (remote.MAX_BYTES + 1))
    with pytest.raises(SourceError, match="larger than"):
        remote.update(site.url("/huge.rst"), str(tmp_path))
    assert not (tmp_path / "remote").exists() or not list((tmp_path / "remote").glob("*.rst"))


def test_redirects_are_bounded_and_stay_on_http(site: Site) -> None:
    """A redirect loop fails; a redirect to another scheme is refused; a plain one works."""
    site.pages["/a"] = Page(status=302, location=site.url("/b"), etag=False)
    site.pages["/b"] = Page(status=302, location=site.url("/a"), etag=False)
    with pytest.raises(remote.FetchError, match="redirect"):
        remote.fetch(site.url("/a"))
    assert len(site.requests) <= 2 * remote.MAX_REDIRECTS
    site.pages["/file"] = Page(status=302, location="file:///etc/passwd", etag=False)
    with pytest.raises(remote.FetchError, match="not http"):
        remote.fetch(site.url("/file"))
    site.pages["/moved"] = Page(status=301, location=site.url("/faq.rst"), etag=False)
    site.pages["/faq.rst"] = Page(b"Q?\n==\n\nA.\n")
    assert remote.fetch(site.url("/moved")).body == b"Q?\n==\n\nA.\n"


def test_an_html_page_is_not_taken_for_the_rst_file(site: Site) -> None:
    """A repository's page of the file (not its raw URL) is refused, saying why."""
    site.pages["/blob/faq.rst"] = Page(b"<html>...</html>", content_type="text/html")
    with pytest.raises(remote.FetchError, match=r"HTML page .* raw file's URL"):
        remote.fetch(site.url("/blob/faq.rst"))


def test_a_body_cut_short_or_a_bad_url_is_a_fetch_error(site: Site) -> None:
    """Never a traceback: a connection dropped mid-body, a URL that does not parse."""
    site.pages["/cut.rst"] = Page(b"Q?\n==\n\nA long answer.\n" * 100, cut=True)
    with pytest.raises(remote.FetchError, match="cut short"):
        remote.fetch(site.url("/cut.rst"))
    with pytest.raises(remote.FetchError, match="not a valid URL"):
        remote.fetch("http://[::1/faq.rst")


def test_only_http_is_fetched() -> None:
    """file:, ftp: and the like are never opened."""
    with pytest.raises(remote.FetchError, match="only http"):
        remote.fetch("file:///etc/passwd")


def test_a_source_argument_may_be_a_url(tmp_path: Path, site: Site) -> None:
    """`--source URL=PAGE` works like a manifest entry."""
    site.pages["/docs/faq.rst"] = Page(SEED.read_bytes())
    status = search_main(
        [
            "too many open files",
            "--source",
            f"{site.url('/docs/faq.rst')}={SEED_URL}",
            "--index",
            str(tmp_path / "i"),
        ]
    )
    assert status == 0


def test_the_query_path_does_not_import_urllib_when_nothing_is_due(
    tmp_path: Path, site: Site
) -> None:
    """A fresh remote copy costs faq-search nothing: no urllib, no kb.ingest.remote."""
    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    manifest = _manifest(tmp_path, site)
    env = dict(os.environ, FAQ_INDEX=str(tmp_path / "i"))
    subprocess.run(
        [sys.executable, "-m", "kb", "build", "--manifest", str(manifest)],
        env=env,
        check=True,
        capture_output=True,
    )
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['faq-search', 'too many open files', '--manifest', {str(manifest)!r}]\n"
        "try:\n    runpy.run_module('kb', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({'kb.ingest.remote', 'urllib.request', 'http.client'} & set(sys.modules)),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert "#too-many-open-file-descriptors" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_bots_refresher_swaps_in_an_upstream_change(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's refresher look: a changed remote file is rebuilt and swapped in."""
    from bot.freshness import Refresher

    site.pages["/faq.rst"] = Page(SEED.read_bytes())
    kb = _kb(tmp_path, site)
    kb.open()
    refresher = Refresher(kb, interval=0, quiet_seconds=0)  # the quiet period: test_bot_*
    assert refresher.check() is False
    monkeypatch.setenv("FAQ_REMOTE_MAX_AGE", "0")
    site.pages["/faq.rst"] = Page(SEED.read_bytes() + NEW_ANSWER.encode())
    assert refresher.check() is True and refresher.swaps == 1
    assert (
        kb.search("zanzibar gateway").hits[0].entry["title"] == "How do I reach the upstream FAQ?"
    )
    site.shut_down()
    assert refresher.check() is False and refresher.last_error is None  # the copy serves
