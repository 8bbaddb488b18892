"""Learning from use: questions readers matched to an entry become proposed aliases.

The bot records (question → entry) when someone picks a suggested question or votes an
answer 👍 (``FeedbackStore.record_choice``). ``propose_aliases`` groups those records per
entry, leaving out questions the FAQ already answers with that entry confidently;
``accept`` writes them into the source's ``NAME.aliases.toml`` after a maintainer's
review, keeping the file's content and comments. The index then rebuilds by itself: the
aliases file is part of its fingerprint.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import FaqError
from kb.ingest.sources import Source, resolve_sources
from kb.knowledge import KnowledgeBase
from kb.learn.feedback import FeedbackStore
from kb.search.lookup import entry_by_id

# Longer than this is a pasted log or a paragraph, not another wording of a question.
MAX_ALIAS_CHARS = 200


@dataclass(frozen=True)
class Proposal:
    """Alias lines proposed for one entry: each question and how many times it was chosen."""

    entry_id: str
    title: str
    questions: list[tuple[str, int]] = field(default_factory=list)

    @property
    def votes(self) -> int:
        """How many choices back the proposal."""
        return sum(n for _, n in self.questions)

    def as_json(self) -> dict[str, object]:
        """The proposal as plain JSON data."""
        return {
            "entry_id": self.entry_id,
            "title": self.title,
            "votes": self.votes,
            "questions": [{"question": q, "votes": n} for q, n in self.questions],
        }


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" ?!.")


def propose_aliases(
    store: FeedbackStore, kb: KnowledgeBase, *, min_votes: int = 1, entry: str | None = None
) -> list[Proposal]:
    """Questions chosen for an entry at least ``min_votes`` times, per entry, most first.

    Left out: questions that already rank that entry first with a confident answer, that
    already are its title or an alias, too long ones, and entries no longer in the FAQ.
    """
    counts: dict[tuple[str, str], int] = defaultdict(int)
    wording: dict[tuple[str, str], str] = {}
    for question, entry_id, _how in store.choices():
        key = (entry_id, _norm(question))
        counts[key] += 1
        wording.setdefault(key, " ".join(question.split()))
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    titles: dict[str, str] = {}
    for (entry_id, norm), n in counts.items():
        if n < min_votes or not norm or len(wording[(entry_id, norm)]) > MAX_ALIAS_CHARS:
            continue
        if entry is not None and entry_id != entry:
            continue
        record = entry_by_id(kb.reader, entry_id)
        if record is None:
            continue
        if norm in {_norm(w) for w in [record["title"], *record.get("aliases", [])]}:
            continue
        question = wording[(entry_id, norm)]
        result = kb.search(question, k=1)
        if result.answered and result.hits[0].entry["id"] == entry_id:
            continue
        titles[entry_id] = record["title"]
        found[entry_id].append((question, n))
    proposals = [
        Proposal(e, titles[e], sorted(qs, key=lambda item: (-item[1], item[0])))
        for e, qs in found.items()
    ]
    return sorted(proposals, key=lambda p: (-p.votes, p.entry_id))


def aliases_file(source: Source) -> Path:
    """Where a source's aliases live: the manifest's ``aliases``, else ``NAME.aliases.toml``."""
    return source.aliases or source.path.with_suffix(".aliases.toml")


def accept(
    proposals: list[Proposal], kb: KnowledgeBase, *, dry_run: bool = False
) -> dict[Path, dict[str, list[str]]]:
    """Write the proposals into their sources' aliases files (unless ``dry_run``).

    Returns what was (or would be) added: file → section key → new alias lines.

    Raises:
        FaqError: an aliases file is not valid TOML, or the edit would not read back.
    """
    sources = {s.name: s for s in resolve_sources(kb.spec)}
    plan: dict[Path, dict[str, list[str]]] = defaultdict(dict)
    for proposal in proposals:
        name, _, key = proposal.entry_id.partition("/")
        source = sources.get(name)
        if source is None or not key:
            continue
        plan[aliases_file(source)][key] = [q for q, _ in proposal.questions]
    if not dry_run:
        for path, additions in plan.items():
            add_aliases(path, additions, title=sources_title(path, sources))
    return dict(plan)


def sources_title(path: Path, sources: dict[str, Source]) -> str:
    """The comment heading a new aliases file: which page it is for."""
    urls = [s.url for s in sources.values() if aliases_file(s) == path]
    return f"# Alternate questions for {urls[0] if urls else path.stem}: ways users ask each entry."


def add_aliases(path: Path, additions: dict[str, list[str]], *, title: str = "") -> None:
    """Add alias lines to the ``[aliases]`` table of ``path``, keeping everything else as
    written (comments, order, layout); create the file if it is missing.

    Raises:
        FaqError: the file is not valid TOML, or the edited file would not read back.
    """
    import tomllib

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        before = tomllib.loads(text).get("aliases", {}) if text else {}
    except tomllib.TOMLDecodeError as exc:
        raise FaqError(f"{path}: not valid TOML ({exc}); fix it before accepting") from None
    expected = {k: list(v) for k, v in before.items()}
    todo: dict[str, list[str]] = {}
    for key, lines in additions.items():
        have = {_norm(a) for a in expected.get(key, [])}
        new = [q for q in dict.fromkeys(lines) if _norm(q) not in have]
        if new:
            todo[key] = new
            expected[key] = [*expected.get(key, []), *new]
    if not todo:
        return
    if not text:
        text = (title + "\n" if title else "") + "[aliases]\n"
    for key, new in todo.items():
        text = _extend(text, key, new) if key in before else _insert(text, key, new)
    if tomllib.loads(text).get("aliases", {}) != expected:
        raise FaqError(f"{path}: could not add the aliases safely; add them by hand")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_TABLE_RE = re.compile(r"^[ \t]*\[[^\n]*$", re.M)
_ALIASES_RE = re.compile(r"^[ \t]*\[[ \t]*aliases[ \t]*\][ \t]*(#[^\n]*)?$", re.M)


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _insert(text: str, key: str, lines: list[str]) -> str:
    """A new ``"key" = [...]`` at the end of the ``[aliases]`` table (created if absent)."""
    entry = f"{_toml(key)} = [\n" + "".join(f"    {_toml(q)},\n" for q in lines) + "]\n"
    header = _ALIASES_RE.search(text)
    if header is None:
        sep = "" if text.endswith("\n") or not text else "\n"
        return f"{text}{sep}\n[aliases]\n{entry}"
    following = _TABLE_RE.search(text, header.end() + 1)
    end = following.start() if following else len(text)
    body = text[:end].rstrip("\n") + "\n"
    rest = text[end:]
    return body + entry + ("\n" + rest if rest else "")


def _extend(text: str, key: str, lines: list[str]) -> str:
    """Append to the existing array of ``key`` in the ``[aliases]`` table."""
    header = _ALIASES_RE.search(text)
    start = header.end() if header else 0
    quoted = "|".join(re.escape(k) for k in (_toml(key), f"'{key}'", key))
    match = re.compile(rf"^[ \t]*(?:{quoted})[ \t]*=[ \t]*\[", re.M).search(text, start)
    if match is None:
        raise FaqError(f"cannot find the aliases of {key!r} to extend; add them by hand")
    close, last_end, comma = _array_end(text, match.end() - 1)
    if "\n" in text[match.end() : close]:
        line_start = text.rfind("\n", 0, close) + 1
        indent = "    "
        new = "".join(f"{indent}{_toml(q)},\n" for q in lines)
        if text[line_start:close].strip():  # "]" shares its line with the last value
            new = "\n" + new
            line_start = close
        out = text[:line_start] + new + text[line_start:]
    else:
        joined = ", ".join(_toml(q) for q in lines)
        lead = "" if last_end is None else (" " if comma else ", ")
        out = text[:close].rstrip() + lead + joined + text[close:]
        return out
    if last_end is not None and not comma:
        out = out[:last_end] + "," + out[last_end:]
    return out


def _array_end(text: str, start: int) -> tuple[int, int | None, bool]:
    """For the array opening at ``text[start]``: where its ``]`` is, where its last value
    ends, and whether a comma follows that value. Strings and comments are skipped."""
    depth, i, last_end, comma = 0, start, None, False
    while i < len(text):
        c = text[i]
        if c == "#":
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < len(text) and not text.startswith(quote, j):
                j += 2 if c == '"' and text[j] == "\\" else 1
            i = j + len(quote)
            if depth == 1:
                last_end, comma = i, False
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i, last_end, comma
            if depth == 1:
                last_end, comma = i + 1, False
        elif c == "," and depth == 1:
            comma = True
        i += 1
    raise FaqError("an aliases array is not closed; fix the file first")
