"""What a parsed source defines and points to: anchors, labels, references, outbound links.

Read from the doctree ``kb.ingest.parse.parse_source`` keeps, for ``faq-kb check``; each use
carries the line it is written on, so a broken one is reported as FILE:LINE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from docutils import nodes

# How far around a node's nearest known line its text is looked for (docutils gives
# inline nodes no line of their own; a paragraph's is where it starts).
_WINDOW = 60
_UNDERLINE = re.compile(r"^([=~\-^\"'`#*+<>:._])\1{3,}\s*$")


@dataclass(frozen=True)
class Use:
    """One reference written in a source: ``kind`` is ref, doc, anchor or link."""

    kind: str
    target: str
    line: int | None
    text: str


@dataclass
class Refs:
    """What one source defines (anchors, labels) and what it refers to."""

    anchors: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    uses: list[Use] = field(default_factory=list)
    empty_questions: list[tuple[str, int | None]] = field(default_factory=list)


def collect_refs(document: nodes.document, lines: list[str]) -> Refs:
    """The anchors, labels and references of a parsed source."""
    refs = Refs()
    for node in document.findall(nodes.Element):
        ids: list[str] = node.get("ids", [])
        refs.anchors.update(str(i) for i in ids)
    refs.labels.update(str(name) for name in document.nameids)
    taken: set[tuple[str, int]] = set()
    for node in document.findall(nodes.Element):
        use = _use(node, lines, taken)
        if use is not None:
            refs.uses.append(use)
    for section in document.findall(nodes.section):
        title = " ".join(section[0].astext().split())
        body = [
            c
            for c in section.children[1:]
            if not isinstance(c, (nodes.comment, nodes.target, nodes.system_message))
        ]
        heading = section[0]
        if title.endswith("?") and not body and isinstance(heading, nodes.Element):
            line = _line(heading, lines, title[:30])
            if not _includes_below(lines, line):
                refs.empty_questions.append((title, line))
    return refs


def _includes_below(lines: list[str], line: int | None) -> bool:
    """Whether the section under the title at ``line`` is an ``include`` (never read here).

    Its answer is on the published page; the skipped include is reported as a warning.
    """
    if line is None:
        return False
    for text in lines[line + 1 : line + 12]:
        if _UNDERLINE.match(text):
            return False
        if ".. include::" in text:
            return True
    return False


def _use(node: nodes.Element, lines: list[str], taken: set[tuple[str, int]]) -> Use | None:
    text = " ".join(node.astext().split())
    if isinstance(node, nodes.inline) and node.get("reflabel"):
        return Use("ref", str(node["reflabel"]), _line(node, lines, None, taken), text)
    if not isinstance(node, nodes.reference):
        return None
    if node.get("refdoc"):
        return Use("doc", str(node["refdoc"]), _line(node, lines, None, taken), text)
    uri = str(node.get("refuri", ""))
    if uri.startswith("#") and len(uri) > 1:
        return Use("anchor", uri[1:], _line(node, lines, None, taken), text)
    if uri.startswith(("http://", "https://")):
        return Use("link", uri, _line(node, lines, uri, taken), text)
    return None


def _line(
    node: nodes.Element,
    lines: list[str],
    needle: str | None = None,
    taken: set[tuple[str, int]] | None = None,
) -> int | None:
    """The line a node is written on: its nearest known line, refined by its raw text.

    A paragraph's line is where it starts, so the first occurrence from there on not
    ``taken`` by an earlier use is it; a title's line is its underline, so for a title the
    closest occurrence before.
    """
    at: nodes.Node | None = node
    while at is not None and getattr(at, "line", None) is None:
        at = at.parent
    base = getattr(at, "line", None)
    wanted = needle or node.rawsource.split("\n")[0].strip() or node.astext()[:30]
    if not wanted:
        return base
    start = max(0, (base or 1) - _WINDOW)
    stop = min(len(lines), (base or 1) + _WINDOW)
    candidates = [n + 1 for n in range(start, stop) if wanted in lines[n]]
    if not candidates:
        return base
    before = [n for n in candidates if base is not None and n <= base]
    after = [n for n in candidates if n not in before]
    heading = isinstance(node, nodes.title)
    order = before[::-1] + after if heading else after + before[::-1]
    free = [n for n in order if taken is None or (wanted, n) not in taken]
    line = (free or order)[0]
    if taken is not None:
        taken.add((wanted, line))
    return line
