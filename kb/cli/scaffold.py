"""``faq-kb init``: a starter ``faq-kb.toml`` for a docs folder, its FAQ pages found.

Sphinx's ``conf.py`` is read once, as text, for ``html_baseurl`` and ``source_suffix``;
it is never executed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from kb.config import CONFIG_NAME
from kb.errors import FaqError

_TITLE_WORDS_RE = re.compile(r"frequently asked questions|\bfaqs?\b", re.IGNORECASE)
_UNDERLINE_RE = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")  # rst section adornment
_SKIP_DIRS = {"node_modules", "site-packages", "venv", "build"}
# Sphinx source suffixes that are not reStructuredText (MyST, notebooks): never pages here.
_NOT_RST = {".md", ".markdown", ".myst", ".ipynb", ".mdx"}
PLACEHOLDER_BASE = "https://docs.example.invalid/"


@dataclass(frozen=True)
class Page:
    """An FAQ page found in the docs: its manifest name, path and published URL."""

    name: str
    path: Path
    url: str
    why: str  # "file name" or "title"


@dataclass(frozen=True)
class Plan:
    """What ``init`` writes, and where its guesses came from."""

    docs: Path
    root: Path  # the Sphinx source folder (where conf.py is), else ``docs``
    conf: Path | None
    base: str | None  # the published base URL, None when unknown
    base_from: str  # "--url", "conf.py html_baseurl" or ""
    pages: list[Page]
    hubs: list[Path]  # FAQ index pages left out: they only list the FAQ's pages


def default_docs_dir(cwd: Path) -> Path:
    """``docs``, ``doc`` or ``Doc`` under ``cwd`` if one exists, else ``cwd`` itself."""
    for name in ("docs", "doc", "Doc"):
        if (cwd / name).is_dir():
            return cwd / name
    return cwd


def plan(docs: Path, url: str | None = None) -> Plan:
    """Find the FAQ pages under ``docs`` and their published URLs.

    Raises:
        FaqError: ``docs`` is not a folder, ``url`` is not http(s), or no FAQ page is found.
    """
    if not docs.is_dir():
        raise FaqError(f"{docs}: not a folder; give the docs folder, e.g. faq-kb init docs")
    if url is not None and not url.startswith(("http://", "https://")):
        raise FaqError(f"--url {url}: expected the http(s) address the docs are published at")
    conf = next((c for c in (docs / "conf.py", docs / "source" / "conf.py") if c.is_file()), None)
    root = conf.parent if conf else docs
    settings = _read_conf(conf) if conf is not None else ""
    base, base_from = url, "--url" if url else ""
    if base is None and settings:
        base = _conf_value(settings, "html_baseurl")
        base_from = "conf.py html_baseurl" if base else ""
    if base is not None and not base.startswith(("http://", "https://")):
        base, base_from = None, ""
    suffixes = _suffixes(settings)
    found = {path: why for path in _rst_files(root, suffixes) if (why := _why_faq(path, root))}
    listed = list(found)  # the pages an FAQ page's toctree lists are FAQ pages too
    with_toctree = []
    while listed:
        page = listed.pop(0)
        names = _toctree_names(page)
        if names is None:
            continue
        with_toctree.append(page)
        for path in _pages(names, page, root, suffixes):
            if path not in found:
                found[path] = f"toctree of {page.relative_to(root).as_posix()}"
                listed.append(path)
    hubs = [page for page in with_toctree if _asks_nothing(page)]
    pages = []
    for path, why in found.items():
        if path not in hubs:
            docname = path.relative_to(root).with_suffix("").as_posix()
            page_url = _join(base or PLACEHOLDER_BASE, docname + ".html")
            pages.append(Page(_name(docname), path, page_url, why))
    if not pages:
        raise FaqError(
            f"{docs}: no FAQ page found (an .rst file named *faq*, in a folder named *faq* or "
            "titled 'Frequently Asked Questions' / 'FAQ'); name one with faq-search --source "
            "FILE=URL"
        )
    return Plan(docs, root, conf, base, base_from, pages, hubs)


_TOCTREE_RE = re.compile(r"^([ \t]*)\.\.\s+toctree::.*\n((?:\1[ \t]+.*\n|[ \t]*\n)*)", re.MULTILINE)


def _toctree_names(page: Path) -> list[str] | None:
    """The page names a page's ``toctree``s list (read as text: ``Title <name>`` or
    ``name``; ``:glob:`` patterns, ``self`` and external links left out); None if it has
    no toctree."""
    try:
        text = page.read_text(encoding="utf-8", errors="replace") + "\n"
    except OSError:
        return None
    trees = list(_TOCTREE_RE.finditer(text))
    if not trees:
        return None
    names = []
    for match in trees:
        for line in match.group(2).splitlines():
            entry = line.strip()
            if not entry or entry.startswith(":") or entry.startswith(".."):
                continue
            named = re.fullmatch(r".*<([^<>]+)>", entry)
            name = named.group(1).strip() if named else entry
            if name != "self" and "://" not in name and not any(c in name for c in "*?["):
                names.append(name)
    return names


def _pages(names: list[str], page: Path, root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The existing pages of the docs that ``page`` names: relative to its folder or, with
    a leading ``/``, to the docs' root."""
    pages = []
    for name in names:
        # ``../other/page`` is normalised, so that a page has one path and one name.
        where = root / name.lstrip("/") if name.startswith("/") else page.parent / name
        base = Path(os.path.normpath(where))
        if not base.is_relative_to(root):
            continue  # outside the docs: no page of theirs
        for candidate in [base, *(base.with_name(base.name + s) for s in suffixes)]:
            if candidate.is_file() and candidate.name.endswith(suffixes):
                pages.append(candidate)
                break
    return pages


def _asks_nothing(page: Path) -> bool:
    """Whether a page gives no entry (an FAQ's index page, which only lists its pages)."""
    from kb.errors import SourceError
    from kb.ingest.parse import parse_source
    from kb.ingest.sources import Source

    try:
        return not parse_source(Source(page.stem, page, PLACEHOLDER_BASE)).entries
    except SourceError:
        return False


def _rst_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")) and d not in _SKIP_DIRS)
        found += [Path(folder, f) for f in sorted(files) if f.endswith(suffixes)]
    return found


def _suffixes(text: str) -> tuple[str, ...]:
    """The reStructuredText suffixes of conf.py's ``source_suffix`` (a string, list or
    dict, read as text), ``.rst`` when it sets none: Django's docs, for one, are ``.txt``."""
    match = re.search(r"^source_suffix\s*=\s*(\{[^}]*\}|\[[^\]]*\]|[^\n]+)", text, re.MULTILINE)
    if match is None:
        return (".rst",)
    value = match.group(1)
    if value.startswith("{"):  # {".rst": "restructuredtext", ".md": "markdown"}
        pairs = re.findall(r"(['\"])(\.[\w.-]+)\1\s*:\s*(['\"])([^'\"]*)\3", value)
        found = [s for _, s, _, kind in pairs if kind == "restructuredtext"]
    else:
        found = [s for _, s in re.findall(r"(['\"])(\.[\w.-]+)\1", value)]
    kept = tuple(dict.fromkeys(s for s in found if s.lower() not in _NOT_RST))
    return kept or (".rst",)


def _why_faq(path: Path, root: Path) -> str:
    if "faq" in path.stem.lower():
        return "file name"
    if any("faq" in folder.lower() for folder in path.relative_to(root).parts[:-1]):
        return "folder"
    title = page_title(path)
    return "title" if title and _TITLE_WORDS_RE.search(title) else ""


def page_title(path: Path) -> str | None:
    """The first section title of an rst file, read from its first lines (no docutils)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [next(handle, "").rstrip() for _ in range(80)]
    except OSError:
        return None
    for number, line in enumerate(lines[:-1]):
        text = line.strip()
        if not text or text.startswith("..") or _UNDERLINE_RE.match(line):
            continue
        if _UNDERLINE_RE.match(lines[number + 1]) and len(lines[number + 1]) >= len(text):
            return text
    return None


def _read_conf(conf: Path) -> str:
    """conf.py's text (never run); empty if it cannot be read."""
    try:
        return conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _conf_value(text: str, name: str) -> str | None:
    """A plain string assignment in conf.py's ``text`` (``name = "..."``)."""
    match = re.search(rf"^{name}\s*=\s*(['\"])([^'\"\n]+)\1", text, re.MULTILINE)
    return match.group(2).strip() if match else None


def _join(base: str, page: str) -> str:
    return (base if base.endswith("/") else base + "/") + page


def _name(docname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", docname.replace("/", ".")).strip(".-") or "faq"


def render(plan_: Plan, cwd: Path) -> str:
    """The text of ``faq-kb.toml`` for a plan, its paths relative to ``cwd``."""
    lines = [
        "# faq-kb configuration (written by `faq-kb init`). faq-search, faq-kb and faq-bot",
        "# read it in this folder and every folder below it; flags and FAQ_MANIFEST win.",
        '# Optional: index = "PATH" (where the index lives), semantic = true.',
        "#",
        "# Each [[source]] is one FAQ page: a short name, its rst file (relative to this",
        "# file) and the page it is published as (deep links add #section-id to it).",
    ]
    if plan_.base is None:
        lines.append(f"# TODO: the urls below are placeholders ({PLACEHOLDER_BASE}): fix them.")
    for page in plan_.pages:
        lines += [
            "",
            "[[source]]",
            f"name = {_toml(page.name)}",
            f"path = {_toml(os.path.relpath(page.path, cwd).replace(os.sep, '/'))}",
            f"url = {_toml(page.url)}",
        ]
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def write(cwd: Path, docs: Path, url: str | None, *, force: bool) -> tuple[Path, Plan]:
    """Write ``cwd/faq-kb.toml`` for the FAQ pages under ``docs``.

    Raises:
        FaqError: the file exists (without ``force``), or as ``plan``.
    """
    target = cwd / CONFIG_NAME
    if target.exists() and not force:
        raise FaqError(f"{target} already exists; --force overwrites it")
    plan_ = plan(docs, url)
    target.write_text(render(plan_, cwd), encoding="utf-8")
    return target, plan_


def report(target: Path, plan_: Plan, cwd: Path) -> str:
    """What ``init`` wrote, and what to check before relying on it."""
    shown = os.path.relpath(plan_.docs, cwd)
    noun = "page" if len(plan_.pages) == 1 else "pages"
    out = [f"wrote {target.name}: {len(plan_.pages)} FAQ {noun} under {shown}/", ""]
    width = max(len(p.name) for p in plan_.pages)
    for page in plan_.pages:
        path = os.path.relpath(page.path, cwd)
        out.append(f"  {page.name:<{width}}  {path}  →  {page.url}   (by {page.why})")
    for hub in plan_.hubs:
        out.append(f"  (left out {os.path.relpath(hub, cwd)}: it only lists FAQ pages)")
    out += ["", "check:"]
    if plan_.base is None:
        out.append(
            "  - the urls are placeholders: run again with --url https://… (the address your "
            "docs are published at) and --force, or edit them"
        )
    else:
        out.append(
            f"  - base URL {plan_.base} (from {plan_.base_from}): open one url; a dirhtml "
            "build publishes NAME/ instead of NAME.html"
        )
    out += [
        "  - every [[source]] is an FAQ (delete the others); add any FAQ page not found",
        "  - faq-kb check          rst problems, as FILE:LINE",
        '  - faq-search "…"        ask it something the FAQ answers',
    ]
    return "\n".join(out) + "\n"
