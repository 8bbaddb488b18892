"""``faq-kb diff``: how the answers change between two states of the sources.

Both states are built into temporary indexes and asked the same questions (every entry's
own title and alternate wordings, plus an eval file's and the bot's logged questions);
the report lists the questions whose best answer or deep link changed, that lost their
confident answer or became ambiguous, and the entries added, removed or retitled — a
changed anchor loudly, since it breaks every link people pasted.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.maintain.change_kinds import CATEGORIES, DEFAULT_FAIL_ON  # what --fail-on picks from
from kb.search.query import SearchResult
from kb.spec import SourceSpec

# An entry of the base and one of the head are the same question reworded when their
# answers are this alike (difflib's ratio) and nothing closer pairs them.
SAME_ANSWER_RATIO = 0.8


class EntryRef(BaseModel):
    """An entry as the report names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    url: str


class Retitled(BaseModel):
    """One entry whose question was reworded (and maybe its anchor changed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    before: EntryRef
    after: EntryRef
    anchor_changed: bool


class Changed(BaseModel):
    """An entry kept under its anchor whose answer or links changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry: EntryRef
    answer_changed: bool
    links_added: list[str]
    links_removed: list[str]


class QuestionChange(BaseModel):
    """A question answered differently by the head."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    change: str  # lost-answer, changed-answer, link-change, ambiguous, gained-answer
    before: EntryRef | None
    after: EntryRef | None


class DiffReport(BaseModel):
    """``faq-kb diff --json``."""

    model_config = ConfigDict(extra="forbid")

    base: str
    head: str
    questions_asked: int
    added: list[EntryRef]
    removed: list[EntryRef]
    retitled: list[Retitled]
    changed: list[Changed]
    questions: list[QuestionChange]
    regressions: dict[str, int]
    fail_on: list[str]
    failed: bool


def base_from_rev(spec: SourceSpec, rev: str, workdir: str) -> SourceSpec:
    """The sources of ``spec`` as they were at git revision ``rev`` (no checkout).

    Each source file (and its aliases file) is read with ``git show REV:PATH`` into
    ``workdir``, under the same source names and URLs; a source new since ``rev`` is left
    out (its entries then count as added).

    Raises:
        FaqError: a source is not in a git checkout, or ``rev`` is unknown.
    """
    from kb.ingest.sources import resolve_sources

    lines = []
    for source in resolve_sources(spec):
        if source.origin:
            raise FaqError(f"{source.origin}: a remote source has no git history (--base-rev)")
        text = _git_show(source.path, rev)
        if text is None:
            continue
        folder = Path(workdir, source.name)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / source.path.name
        path.write_bytes(text)
        lines += ["[[source]]", f"name = {_toml(source.name)}", f"path = {_toml(str(path))}"]
        lines.append(f"url = {_toml(source.url)}")
        if source.aliases is not None:
            aliases = _git_show(source.aliases, rev)
            if aliases is not None:
                (folder / source.aliases.name).write_bytes(aliases)
                lines.append(f"aliases = {_toml(str(folder / source.aliases.name))}")
        if source.inventory:
            lines.append(f"inventory = {_toml(source.inventory)}")
    if not lines:
        raise FaqError(f"no source existed at {rev}: nothing to compare with")
    manifest = Path(workdir, "sources.toml")
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SourceSpec(manifest=manifest)


def _toml(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a valid TOML basic string


def _git_show(path: Path, rev: str) -> bytes | None:
    """The file at ``rev``, or None if it did not exist then."""
    folder = str(path.parent)
    top = _git(["rev-parse", "--show-toplevel"], folder)
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(top.decode().strip()))
    try:
        return _git(["show", f"{rev}:{Path(rel).as_posix()}"], folder)
    except FaqError as exc:
        if "does not exist" in str(exc) or "exists on disk, but not in" in str(exc):
            return None
        raise


def _git(args: list[str], cwd: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as exc:
        raise FaqError(f"cannot run git: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise FaqError(f"git {' '.join(args)} in {cwd}: {message[-1] if message else 'failed'}")
    return done.stdout


def questions_of(
    base: KnowledgeBase, head: KnowledgeBase, *, titles: bool = True, extra: Iterable[str] = ()
) -> list[str]:
    """The questions to ask both states: given ones first, then every title and alias."""
    asked = [q.strip() for q in extra if q.strip()]
    if titles:
        for kb in (base, head):
            for entry in kb.reader.entries():
                asked.append(entry["title"])
                asked.extend(entry.get("aliases") or [])
    return list(dict.fromkeys(asked))


def feedback_questions(db: str) -> list[str]:
    """Every question the bot logged in a feedback database.

    Raises:
        FaqError: the file is not a readable feedback database.
    """
    import sqlite3

    if not os.path.isfile(db):
        raise FaqError(f"{db}: no feedback database here")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT DISTINCT question FROM answers ORDER BY question")
            return [str(q) for (q,) in rows]
    except sqlite3.Error as exc:
        raise FaqError(f"{db}: not a feedback database ({exc})") from None


def compare(
    base: KnowledgeBase,
    head: KnowledgeBase,
    questions: list[str],
    *,
    names: tuple[str, str] = ("base", "head"),
    fail_on: Iterable[str] = DEFAULT_FAIL_ON,
) -> DiffReport:
    """What changed from ``base`` to ``head``: entries, and the answers to ``questions``."""
    before = {e["id"]: e for e in base.reader.entries()}
    after = {e["id"]: e for e in head.reader.entries()}
    pairs = _pair(before, after)
    retitled = [
        Retitled(
            before=_ref(before[b]),
            after=_ref(after[a]),
            anchor_changed=before[b]["url"] != after[a]["url"],
        )
        for b, a in sorted(pairs.items())
        if before[b]["url"] != after[a]["url"] or before[b]["title"] != after[a]["title"]
    ]
    paired_after = set(pairs.values())
    added = [_ref(after[i]) for i in sorted(after) if i not in paired_after]
    removed = [_ref(before[i]) for i in sorted(before) if i not in pairs]
    changed = [_changed(before[b], after[a]) for b, a in sorted(pairs.items())]
    changes = [c for c in changed if c is not None]
    asked = []
    for question in questions:
        change = _question(question, base.search(question, k=3), head.search(question, k=3), pairs)
        if change is not None:
            asked.append(change)
    counts = {
        "anchor-change": sum(r.anchor_changed for r in retitled),
        "removed": len(removed),
        "lost-answer": sum(q.change == "lost-answer" for q in asked),
        "changed-answer": sum(q.change == "changed-answer" for q in asked),
        "link-change": sum(q.change == "link-change" for q in asked),
        "ambiguous": sum(q.change == "ambiguous" for q in asked),
        "retitled": len(retitled),
        "added": len(added),
    }
    chosen = sorted(set(fail_on), key=CATEGORIES.index)
    return DiffReport(
        base=names[0],
        head=names[1],
        questions_asked=len(questions),
        added=added,
        removed=removed,
        retitled=retitled,
        changed=changes,
        questions=asked,
        regressions={k: v for k, v in counts.items() if k in chosen and v},
        fail_on=chosen,
        failed=any(counts[k] for k in chosen),
    )


def _ref(entry: dict[str, Any]) -> EntryRef:
    return EntryRef(id=entry["id"], title=entry["title"], url=entry["url"])


def _pair(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Base id → head id: the same deep link, else the most alike answer on the same page.

    Deep links, not ids, say which entries are the same: a base read from other files
    (``--base PATH``) names its sources after them.
    """
    by_url = {entry["url"]: id_ for id_, entry in after.items()}
    pairs = {b: by_url[e["url"]] for b, e in before.items() if e["url"] in by_url}
    paired = set(pairs.values())
    gone = [i for i in before if i not in pairs]
    new = [i for i in after if i not in paired]
    scored = []
    for b in gone:
        for a in new:
            if _page(before[b]) != _page(after[a]):
                continue
            ratio = difflib.SequenceMatcher(
                None, before[b]["answer"], after[a]["answer"], autojunk=False
            ).ratio()
            if ratio >= SAME_ANSWER_RATIO:
                scored.append((-ratio, b, a))
    for _, b, a in sorted(scored):
        if b not in pairs and a not in paired:
            pairs[b] = a
            paired.add(a)
    return pairs


def _page(entry: dict[str, Any]) -> str:
    return str(entry["url"]).split("#")[0]


def _changed(old: dict[str, Any], new: dict[str, Any]) -> Changed | None:
    old_links = {f"{link['text']} <{link['url']}>" for link in old["links"]}
    new_links = {f"{link['text']} <{link['url']}>" for link in new["links"]}
    answer_changed = old["answer"] != new["answer"]
    if not answer_changed and old_links == new_links:
        return None
    return Changed(
        entry=_ref(new),
        answer_changed=answer_changed,
        links_added=sorted(new_links - old_links),
        links_removed=sorted(old_links - new_links),
    )


def _question(
    question: str, old: SearchResult, new: SearchResult, pairs: dict[str, str]
) -> QuestionChange | None:
    was = _ref(old.hits[0].entry) if old.answered else None
    now = _ref(new.hits[0].entry) if new.answered else None
    if was is None and now is None:
        return None
    if was is None:
        change = "gained-answer"
    elif now is None:
        change = "lost-answer"
    elif pairs.get(was.id) != now.id:
        change = "changed-answer"
    elif was.url != now.url:
        change = "link-change"
    elif _ambiguous(new) and not _ambiguous(old):
        change = "ambiguous"
    else:
        return None
    return QuestionChange(question=question, change=change, before=was, after=now)


def _ambiguous(result: SearchResult) -> bool:
    """Whether a confident answer has a runner-up nearly as likely (two entries claim it)."""
    from kb.search.hybrid import ambiguous

    return ambiguous(result)


def build_state(spec: SourceSpec, folder: str) -> KnowledgeBase:
    """A knowledge base of ``spec`` built into ``folder`` (a temporary one).

    Raises:
        FaqError: the sources do not build.
    """
    kb = KnowledgeBase(spec, folder)
    kb.open()
    return kb


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    """A folder for a state's index and sources, removed afterwards."""
    return tempfile.TemporaryDirectory(prefix="faq-kb-diff-")
