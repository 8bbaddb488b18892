"""Render docutils body nodes into answer blocks: plain text and Slack mrkdwn, links resolved."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin

from docutils import nodes

from kb.index.records import answer_text, derived_mrkdwn, escape_mrkdwn
from kb.models import Block, Link

if TYPE_CHECKING:
    from kb.ingest.inventory import Inventory, Target

# Nodes that never show on the published page (or only in a build tool's eyes).
_INVISIBLE = (
    nodes.comment,
    nodes.target,
    nodes.substitution_definition,
    nodes.system_message,
    nodes.pending,
    nodes.raw,
    nodes.docinfo,
    nodes.meta,
    nodes.transition,
    nodes.generated,
)
_ADMONITION_LABELS = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "tip": "Tip",
    "warning": "Warning",
}
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _mrkdwn_url(url: str) -> str:
    return quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_")


class StrictRenderError(Exception):
    """A node type the renderer does not know (raised only when ``strict`` is set)."""


@dataclass
class RenderContext:
    """What rendering needs to know about the page, and what it collects."""

    page_url: str
    labels: dict[str, str] = field(default_factory=dict)  # explicit label -> section id
    strict: bool = False
    links: list[Link] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # label -> its section's title
    inventory: Inventory | None = None  # the project's other pages (``kb.ingest.inventory``)
    site: dict[str, Target] = field(default_factory=dict)  # other sources' labels
    doc_root: str | None = None  # the published docs' root, for ``:doc:`/name``` targets

    def external(self, node: nodes.Element) -> Target | None:
        """The title and URL the inventory gives a ``:ref:`` or ``:doc:`` target."""
        if self.inventory is None:
            return None
        if node.get("reflabel"):
            return self.inventory.labels.get(str(node["reflabel"]))
        doc = str(node.get("refdoc", ""))
        if not doc:
            return None
        if doc.startswith("/"):
            return self.inventory.docs.get(doc.lstrip("/"))
        here = self.inventory.doc_at(self.page_url)
        folder = here.rsplit("/", 1)[0] + "/" if here and "/" in here else ""
        return self.inventory.docs.get(posixpath.normpath(folder + doc))

    def resolve(self, node: nodes.Element) -> str | None:
        """Return the absolute URL a reference points to, or None if it has none."""
        if node.get("refuri"):
            uri = str(node["refuri"])
            return uri if _SCHEME_RE.match(uri) else urljoin(self.page_url, uri)
        if node.get("refid"):
            return f"{self.page_url.split('#')[0]}#{node['refid']}"
        if node.get("refdoc"):
            doc = str(node["refdoc"])
            if doc.startswith("/"):  # relative to the documentation's root, where known
                return urljoin(self.doc_root, doc.lstrip("/") + ".html") if self.doc_root else None
            return urljoin(self.page_url, doc + ".html")
        return None

    def add_link(self, text: str, url: str) -> None:
        if all(link.url != url for link in self.links):
            self.links.append(Link(text=text or url, url=url))


def render_inline(node: nodes.Node, ctx: RenderContext) -> tuple[str, str]:
    """Return (plain text, mrkdwn) of an inline node and its children."""
    if isinstance(node, nodes.Text):
        text = str(node)
        return text, escape_mrkdwn(text)
    if isinstance(node, (_INVISIBLE, nodes.footnote_reference)):
        return "", ""
    assert isinstance(node, nodes.Element)
    text, md = _inline_children(node, ctx)
    if isinstance(node, nodes.literal):
        return text, f"`{text.replace('`', 'ˋ')}`" if text.strip() else text
    if isinstance(node, (nodes.emphasis, nodes.title_reference)):
        return text, _wrap(md, "_")
    if isinstance(node, nodes.strong):
        return text, _wrap(md, "*")
    if isinstance(node, nodes.image):
        alt = str(node.get("alt", ""))
        return alt, escape_mrkdwn(alt)
    if isinstance(node, nodes.inline) and node.get("reflabel"):
        label = str(node["reflabel"])
        section_id = ctx.labels.get(label)
        if section_id:
            page = ctx.page_url.split("#")[0]
            return _xref(node, text, (ctx.titles.get(label, text), f"{page}#{section_id}"), ctx)
        outside = ctx.site.get(label) or ctx.external(node)
        if outside:
            return _xref(node, text, outside, ctx)
    if isinstance(node, nodes.reference) and node.get("refdoc"):
        outside = ctx.external(node)
        if outside:
            return _xref(node, text, outside, ctx)
    if isinstance(node, nodes.reference):
        target = ctx.resolve(node)
        if target:
            url = target
            ctx.add_link(text, url)
            if text == node.get("refuri"):
                return text, f"<{_mrkdwn_url(url)}>"
            return text, f"<{_mrkdwn_url(url)}|{escape_mrkdwn(text)}>"
    return text, md


def _xref(node: nodes.Element, text: str, target: Target, ctx: RenderContext) -> tuple[str, str]:
    """A resolved ``:ref:``/``:doc:``: its own title if it has one, else the target's."""
    title, url = target
    shown = text if node.get("refexplicit", True) else title
    ctx.add_link(shown, url)
    return shown, f"<{_mrkdwn_url(url)}|{escape_mrkdwn(shown)}>"


def _wrap(md: str, mark: str) -> str:
    stripped = md.strip()
    if not stripped:
        return md
    lead, trail = md[: len(md) - len(md.lstrip())], md[len(md.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"


def _inline_children(node: nodes.Element, ctx: RenderContext) -> tuple[str, str]:
    texts, mds = [], []
    for child in node.children:
        text, md = render_inline(child, ctx)
        texts.append(text)
        mds.append(md)
    return "".join(texts), "".join(mds)


def _clean(text: str) -> str:
    """Collapse the source's line breaks inside a paragraph into single spaces."""
    return re.sub(r"\s+", " ", text).strip()


def render_blocks(
    children: Iterable[nodes.Node], ctx: RenderContext, depth: int = 0
) -> list[Block]:
    """Render body nodes (paragraphs, lists, code, tables, sub-sections …) into blocks."""
    blocks: list[Block] = []
    for child in children:
        blocks.extend(_render_block(child, ctx, depth))
    return blocks


def _render_block(node: nodes.Node, ctx: RenderContext, depth: int) -> list[Block]:
    if isinstance(node, (_INVISIBLE, nodes.Text)):
        return []
    if isinstance(node, (nodes.paragraph, nodes.rubric, nodes.caption, nodes.attribution)):
        text, md = _inline_children(node, ctx)
        text, md = _clean(text), _clean(md)
        if not text:
            return []
        if isinstance(node, nodes.rubric):
            return [Block(kind="heading", text=text, mrkdwn=f"*{md}*", depth=depth)]
        return [Block(kind="paragraph", text=text, mrkdwn=md, depth=depth)]
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        code = node.astext().rstrip()
        fence = derived_mrkdwn("code", code)
        return [Block(kind="code", text=code, mrkdwn=fence, depth=depth)] if code else []
    if isinstance(node, nodes.line_block):
        lines = [_inline_children(line, ctx) for line in node.findall(nodes.line)]
        text = "\n".join(t for t, _ in lines).strip()
        md = "\n".join(m for _, m in lines).strip()
        return [Block(kind="paragraph", text=text, mrkdwn=md, depth=depth)] if text else []
    if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
        return _render_list(node, ctx, depth)
    if isinstance(node, nodes.definition_list):
        blocks = []
        for item in node.children:
            assert isinstance(item, nodes.Element)
            for part in item.children:
                if isinstance(part, nodes.term):
                    text, md = _inline_children(part, ctx)
                    blocks.append(
                        Block(
                            kind="paragraph",
                            text=_clean(text),
                            mrkdwn=_wrap(_clean(md), "*"),
                            depth=depth,
                        )
                    )
                elif isinstance(part, nodes.definition):
                    blocks.extend(render_blocks(part.children, ctx, depth + 1))
        return blocks
    if isinstance(node, nodes.field_list):
        blocks = []
        for item in node.children:
            assert isinstance(item, nodes.Element)
            name_text, name_md = _inline_children(item[0], ctx)  # type: ignore[arg-type]
            body = render_blocks(item[1].children, ctx, depth + 1)
            blocks.append(
                Block(kind="paragraph", text=f"{name_text}:", mrkdwn=f"*{name_md}:*", depth=depth)
            )
            blocks.extend(body)
        return blocks
    if isinstance(node, nodes.option_list):
        blocks = []
        for item in node.children:
            assert isinstance(item, nodes.Element)
            opts = item[0].astext()
            blocks.append(
                Block(kind="code", text=opts, mrkdwn=f"`{escape_mrkdwn(opts)}`", depth=depth)
            )
            blocks.extend(render_blocks(item[1].children, ctx, depth + 1))
        return blocks
    if isinstance(node, nodes.block_quote):
        inner = render_blocks(node.children, ctx, depth + 1)
        return [
            b.model_copy(update={"kind": "quote", "mrkdwn": "> " + b.mrkdwn})
            if b.kind == "paragraph"
            else b
            for b in inner
        ]
    if isinstance(node, (nodes.Admonition, nodes.admonition)) and isinstance(node, nodes.Element):
        return _render_admonition(node, ctx, depth)
    if isinstance(node, nodes.table):
        return _render_table(node, ctx, depth)
    if isinstance(node, nodes.topic):
        if "contents" in node["classes"]:
            return []  # the page's table of contents, not part of any answer
        return _render_titled(node, ctx, depth)
    if isinstance(node, (nodes.sidebar, nodes.section)):
        return _render_titled(node, ctx, depth)
    if isinstance(node, (nodes.footnote, nodes.citation)):
        label = node[0].astext() if len(node) and isinstance(node[0], nodes.label) else ""
        blocks = render_blocks(node.children[1:] if label else node.children, ctx, depth)
        if blocks and label:
            first = blocks[0]
            blocks[0] = first.model_copy(
                update={"text": f"[{label}] {first.text}", "mrkdwn": f"[{label}] {first.mrkdwn}"}
            )
        return blocks
    if isinstance(node, nodes.image):
        return []
    if isinstance(node, (nodes.container, nodes.compound, nodes.figure, nodes.legend)):
        return render_blocks(node.children, ctx, depth)
    if isinstance(node, (nodes.math_block,)):
        code = node.astext()
        return [Block(kind="code", text=code, mrkdwn=derived_mrkdwn("code", code), depth=depth)]
    if ctx.strict:
        raise StrictRenderError(f"no renderer for <{type(node).__name__}>")
    if isinstance(node, nodes.Element):
        return render_blocks(node.children, ctx, depth)
    return []


def _render_titled(node: nodes.Element, ctx: RenderContext, depth: int) -> list[Block]:
    blocks: list[Block] = []
    rest = node.children
    if rest and isinstance(rest[0], nodes.title):
        text, md = _inline_children(rest[0], ctx)
        blocks.append(
            Block(kind="heading", text=_clean(text), mrkdwn=f"*{_clean(md)}*", depth=depth)
        )
        rest = rest[1:]
    blocks.extend(render_blocks(rest, ctx, depth))
    return blocks


def _render_admonition(node: nodes.Element, ctx: RenderContext, depth: int) -> list[Block]:
    children = list(node.children)
    if children and isinstance(children[0], nodes.title):
        label = _clean(children[0].astext())
        children = children[1:]
    else:
        label = _ADMONITION_LABELS.get(node.tagname, node.tagname.capitalize())
    blocks = render_blocks(children, ctx, depth)
    if blocks and blocks[0].kind == "paragraph":
        first = blocks[0]
        blocks[0] = first.model_copy(
            update={
                "text": f"{label}: {first.text}",
                "mrkdwn": f"*{escape_mrkdwn(label)}:* {first.mrkdwn}",
            }
        )
    else:
        blocks.insert(
            0,
            Block(
                kind="paragraph", text=f"{label}:", mrkdwn=f"*{escape_mrkdwn(label)}:*", depth=depth
            ),
        )
    return blocks


def _render_list(node: nodes.Element, ctx: RenderContext, depth: int) -> list[Block]:
    blocks: list[Block] = []
    enumerated = isinstance(node, nodes.enumerated_list)
    start = int(node.get("start", 1))
    for number, item in enumerate(node.children, start):
        marker = _enum_marker(node, number) if enumerated else "•"
        assert isinstance(item, nodes.Element)
        inner = render_blocks(item.children, ctx, depth + 1)
        if inner and inner[0].kind == "paragraph":
            first = inner.pop(0)
            blocks.append(
                Block(kind="item", text=first.text, mrkdwn=first.mrkdwn, depth=depth, marker=marker)
            )
        else:
            blocks.append(Block(kind="item", text="", mrkdwn="", depth=depth, marker=marker))
        blocks.extend(inner)
    return blocks


def _enum_marker(node: nodes.Element, number: int) -> str:
    kind = node.get("enumtype", "arabic")
    if kind == "loweralpha":
        label = chr(ord("a") + number - 1)
    elif kind == "upperalpha":
        label = chr(ord("A") + number - 1)
    elif kind in ("lowerroman", "upperroman"):
        label = _roman(number)
        label = label.lower() if kind == "lowerroman" else label
    else:
        label = str(number)
    return f"{node.get('prefix', '')}{label}{node.get('suffix', '.')}"


def _roman(number: int) -> str:
    numerals = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for value, letters in numerals:
        while number >= value:
            out, number = out + letters, number - value
    return out


def _render_table(node: nodes.Element, ctx: RenderContext, depth: int) -> list[Block]:
    rows = []
    for row in node.findall(nodes.row):
        rows.append([_clean(_cell_text(entry, ctx)) for entry in row.children])
    if not rows:
        return []
    width = max(len(r) for r in rows)
    sizes = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(width)]
    lines = [" | ".join(cell.ljust(sizes[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    text = "\n".join(lines)
    blocks = [Block(kind="code", text=text, mrkdwn=derived_mrkdwn("code", text), depth=depth)]
    for title in node.findall(nodes.title):
        blocks.insert(
            0,
            Block(
                kind="paragraph",
                text=_clean(title.astext()),
                mrkdwn=escape_mrkdwn(_clean(title.astext())),
                depth=depth,
            ),
        )
        break
    return blocks


def _cell_text(entry: nodes.Node, ctx: RenderContext) -> str:
    if not isinstance(entry, nodes.Element):
        return ""
    return " ".join(b.text for b in render_blocks(entry.children, ctx))


def blocks_to_text(blocks: list[Block]) -> str:
    """Join blocks into the plain text of an answer (the form the index derives again)."""
    return answer_text([block.model_dump() for block in blocks])
