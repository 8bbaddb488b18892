"""``faq-kb diff`` as Markdown for a pull-request comment: regressions first, loudly."""

from __future__ import annotations

from kb.maintain.diff import DiffReport, EntryRef

_CHANGE_WORDS = {
    "lost-answer": "lost its confident answer",
    "changed-answer": "answered by another entry",
    "link-change": "deep link changed",
    "ambiguous": "now ambiguous",
    "gained-answer": "newly answered",
}
_ORDER = list(_CHANGE_WORDS)
# A GitHub comment holds at most 65,536 characters: the longest table is cut here.
MAX_ROWS = 150


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _link(entry: EntryRef | None) -> str:
    return "—" if entry is None else f"[{_cell(entry.title)}]({entry.url})"


def _anchor(url: str, other: str) -> str:
    """``#anchor`` when both links are on one page, else the whole URL."""
    page, _, anchor = url.partition("#")
    return f"#{anchor}" if page == other.partition("#")[0] else url


def format_markdown(report: DiffReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    out = [f"## FAQ answers: `{report.base}` → `{report.head}`", ""]
    if report.failed:
        listed = ", ".join(f"{n} {k}" for k, n in report.regressions.items())
        out.append(f"**❌ Regressions** ({listed}; failing on {', '.join(report.fail_on)})")
    else:
        out.append("**✅ No regression** (checked: " + ", ".join(report.fail_on) + ")")
    changed = len(report.questions)
    out += [
        "",
        f"{len(report.added)} added · {len(report.removed)} removed · "
        f"{len(report.retitled)} retitled · {len(report.changed)} changed · "
        f"{changed} of {report.questions_asked} questions answered differently",
    ]
    moved = [r for r in report.retitled if r.anchor_changed]
    if moved:
        out += [
            "",
            "### ⚠️ Anchors changed: every link people pasted to these breaks",
            "",
            "| entry | old link | new link |",
            "|---|---|---|",
        ]
        for r in moved:
            old, new = _anchor(r.before.url, r.after.url), _anchor(r.after.url, r.before.url)
            out.append(f"| {_cell(r.before.title)} → {_link(r.after)} | `{old}` | `{new}` |")
    if report.removed:
        out += ["", "### Removed entries", ""]
        out += [f"- {_link(e)} (`{e.id}`)" for e in report.removed]
    if report.added:
        out += ["", "### Added entries", ""]
        out += [f"- {_link(e)} (`{e.id}`)" for e in report.added]
    kept = [r for r in report.retitled if not r.anchor_changed]
    if kept:
        out += ["", "### Retitled, link kept", ""]
        out += [f"- {_cell(r.before.title)} → {_link(r.after)}" for r in kept]
    if report.changed:
        out += ["", "### Changed answers", ""]
        for change in report.changed:
            parts = ["answer text"] if change.answer_changed else []
            parts += [f"link removed: {_cell(link)}" for link in change.links_removed]
            parts += [f"link added: {_cell(link)}" for link in change.links_added]
            out.append(f"- {_link(change.entry)}: " + "; ".join(parts))
    if report.questions:
        out += ["", "### Questions answered differently", ""]
        out += ["| question | before | after | change |", "|---|---|---|---|"]
        ordered = sorted(report.questions, key=lambda q: (_ORDER.index(q.change), q.question))
        for q in ordered[:MAX_ROWS]:
            out.append(
                f"| {_cell(q.question)} | {_link(q.before)} | {_link(q.after)} | "
                f"{_CHANGE_WORDS[q.change]} |"
            )
        if len(ordered) > MAX_ROWS:
            out += ["", f"… and {len(ordered) - MAX_ROWS} more (`faq-kb diff --json` lists all)"]
    return "\n".join(out) + "\n"
