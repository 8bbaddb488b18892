"""What ``faq-kb check`` finds in the sources: rst problems, broken references, empty FAQs.

Errors (exit 1): rst errors, a source that is not rst or has no entry, an empty entry, two
entries sharing an anchor, a ``#anchor`` the page lacks, and — where the source has an
inventory to check against — a ``:ref:``/``:doc:`` target that exists nowhere. Without an
inventory, targets outside the sources are listed as unchecked, never as errors.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kb.errors import SourceError
from kb.ingest.refs import Refs, Use, collect_refs
from kb.ingest.sources import Source

# What an rst source file may be called (Sphinx's published sources end ``.rst.txt``).
RST_SUFFIXES = (".rst", ".rest", ".txt")


class Finding(BaseModel):
    """One problem (or unchecked reference) at FILE:LINE."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int | None
    level: str  # "error", "warning" or "unchecked"
    code: (
        str  # rst, not-rst, no-entries, empty-entry, duplicate-anchor, anchor, ref, doc, dead-link
    )
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        kind = "" if self.level == "error" else f"{self.level}: "
        return f"{where}: {kind}{self.message}"


class CheckReport(BaseModel):
    """Everything ``faq-kb check`` found (its ``--json`` output)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool = True
    sources: int = 0
    entries: int = 0
    errors: list[Finding] = []
    warnings: list[Finding] = []
    unchecked: list[Finding] = []
    links_checked: int = 0


class _Checked:
    """One source as the checks see it."""

    def __init__(self, source: Source, shown: str, refs: Refs | None) -> None:
        self.source, self.shown, self.refs = source, shown, refs
        self.inventory_docs: set[str] | None = None
        self.inventory_labels: set[str] | None = None


def check_sources(sources: list[Source]) -> tuple[CheckReport, list[tuple[str, Use]]]:
    """Check every source; return the report and every outbound link (file, use)."""
    report = CheckReport(sources=len(sources))
    # Deep links of every page: two entries (of one source or two) at one URL collide.
    anchors: dict[str, list[tuple[str, int]]] = defaultdict(list)
    checked = [c for c in (_check_source(s, report, anchors) for s in sources) if c]
    for url, places in sorted(anchors.items()):
        first = "{}:{}".format(*places[0])
        for shown, line in places[1:]:
            message = f"{url} is also the deep link of the entry at {first}: links go to the first"
            _error(report, shown, line, "duplicate-anchor", message)
    links = _check_references(checked, report)
    report.ok = not report.errors
    return report, links


def _check_source(
    source: Source, report: CheckReport, anchors: dict[str, list[tuple[str, int]]]
) -> _Checked | None:
    """Parse one source and report its own problems; None if it cannot be parsed."""
    from kb.ingest.aliases import apply_aliases
    from kb.ingest.parse import display_path, parse_source

    shown = source.shown or display_path(source.path)
    name = (source.origin or source.path.name).split("?")[0]
    if not name.lower().endswith(RST_SUFFIXES):
        message = "not an rst file: faq-kb reads reStructuredText (.rst) only"
        _error(report, shown, None, "not-rst", message)
        return None
    try:
        parsed = parse_source(source)
    except SourceError as exc:
        _error(report, exc.path, exc.line, "rst", exc.message)
        return None
    for problem in parsed.problems:
        level = "error" if problem.is_error else "warning"
        found = _finding(problem.path, problem.line, level, "rst", problem.message)
        (report.errors if problem.is_error else report.warnings).append(found)
    try:
        entries, alias_warnings = apply_aliases(source, parsed.entries)
    except SourceError as exc:
        _error(report, exc.path, exc.line, "rst", exc.message)
        entries, alias_warnings = parsed.entries, []
    for warning in alias_warnings:  # "ALIASES FILE: message"
        alias_file, _, message = warning.partition(": ")
        report.warnings.append(_finding(alias_file, None, "warning", "aliases", message))
    report.entries += len(entries)
    if not entries:
        _error(
            report, shown, None, "no-entries", "no FAQ entries found (no section with an answer)"
        )
    parents = {e.parent for e in entries if e.parent}
    for entry in entries:
        if not entry.answer.strip() and entry.id not in parents:
            message = f"empty entry {entry.title!r}: no answer"
            _error(report, shown, entry.source.line, "empty-entry", message)
        if "/" not in entry.id.split("/", 1)[1]:  # items of a Q&A list share their section's
            anchors[entry.url].append((shown, entry.source.line))
    refs = None
    if parsed.document is not None:
        text = source.path.read_text(encoding="utf-8", errors="replace")
        refs = collect_refs(parsed.document, text.splitlines())
        for title, line in refs.empty_questions:
            message = f"empty entry {title!r}: a question with no answer"
            _error(report, shown, line, "empty-entry", message)
    item = _Checked(source, shown, refs)
    if source.inventory:
        from kb.ingest.inventory import InventoryError, load_inventory

        try:
            inventory = load_inventory(source.inventory, source.url)
        except InventoryError as exc:
            message = f"inventory not used: {exc}"
            report.warnings.append(_finding(shown, None, "warning", "inventory", message))
        else:
            item.inventory_docs = set(inventory.docs)
            item.inventory_labels = set(inventory.labels)
    return item


def _finding(path: str, line: int | None, level: str, code: str, message: str) -> Finding:
    return Finding(path=path, line=line, level=level, code=code, message=message)


def _error(report: CheckReport, path: str, line: int | None, code: str, message: str) -> None:
    report.errors.append(_finding(path, line, "error", code, message))


def _check_references(checked: list[_Checked], report: CheckReport) -> list[tuple[str, Use]]:
    labels = set().union(*(c.refs.labels for c in checked if c.refs))
    paths = {os.path.realpath(c.source.path) for c in checked if not c.source.origin}
    links: list[tuple[str, Use]] = []
    for item in checked:
        if item.refs is None:
            continue
        for use in item.refs.uses:
            if use.kind == "link":
                links.append((item.shown, use))
            elif use.kind == "anchor" and use.target not in item.refs.anchors:
                report.errors.append(
                    _finding(
                        item.shown,
                        use.line,
                        "error",
                        "anchor",
                        f"no anchor #{use.target} on this page ({use.text!r})",
                    )
                )
            elif use.kind == "ref" and use.target not in labels:
                _outside(item, use, item.inventory_labels, "label", report)
            elif use.kind == "doc" and not _doc_here(item.source, use.target, paths):
                _outside(item, use, item.inventory_docs, "document", report)
    return links


def _doc_here(source: Source, target: str, paths: set[str]) -> bool:
    """Whether a ``:doc:`` target is a file beside the source (or another source)."""
    if source.origin or target.startswith("/"):
        return False
    base = Path(source.path).parent / target
    return any(
        os.path.realpath(f"{base}{suffix}") in paths or Path(f"{base}{suffix}").is_file()
        for suffix in (".rst", ".txt")
    )


def _outside(
    item: _Checked, use: Use, known: set[str] | None, what: str, report: CheckReport
) -> None:
    role = "ref" if what == "label" else "doc"
    if known is None:
        report.unchecked.append(
            _finding(
                item.shown,
                use.line,
                "unchecked",
                role,
                f":{role}:`{use.target}` is not in the sources (no inventory to check it)",
            )
        )
        return
    name = use.target.lstrip("/") if role == "doc" else use.target
    if name in known or (role == "doc" and any(k.endswith("/" + name) for k in known)):
        return
    report.errors.append(
        _finding(
            item.shown,
            use.line,
            "error",
            role,
            f"unknown {what} :{role}:`{use.target}`: not in the sources nor in the inventory",
        )
    )


def with_dead_links(report: CheckReport, links: list[tuple[str, Use]]) -> CheckReport:
    """The report with every dead outbound link added as an error (FILE:LINE)."""
    from kb.maintain.linkcheck import dead_links

    dead = dead_links([use.target for _, use in links])
    for shown, use in links:
        if use.target in dead:
            report.errors.append(
                _finding(
                    shown,
                    use.line,
                    "error",
                    "dead-link",
                    f"dead link {use.target} ({dead[use.target]})",
                )
            )
    report.links_checked = len({use.target for _, use in links})
    report.ok = not report.errors
    return report
