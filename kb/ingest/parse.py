"""Parse reStructuredText FAQ sources with docutils into entries, one per question."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import docutils
import docutils.core
from docutils import nodes
from docutils.parsers.rst import Directive, directives

from kb.analysis.typography import plain_typography
from kb.errors import SourceError
from kb.files import NotReadable, max_source_bytes, read_regular
from kb.ingest import sphinx as rst_sphinx
from kb.ingest.blocks import RenderContext, blocks_to_text, render_blocks
from kb.ingest.guard import Checked, check_text
from kb.ingest.sources import Source
from kb.models import Block, Entry, SourceRef

if TYPE_CHECKING:
    from kb.ingest.inventory import Inventory

# docutils' security advice plus what FAQ pages need: no file is ever inserted and no raw
# markup passed through; section titles stay sections (``doctitle_xform``) and unnumbered
# (``sectnum_xform``); ids are made the way Sphinx makes them (``auto_id_prefix``).
# Every message is kept in the tree (report_level 1) so that it can be reported with its
# line and then removed; nothing halts the parse.
SETTINGS: dict[str, Any] = {
    "_disable_config": True,
    "doctitle_xform": False,
    "sectnum_xform": False,
    "docinfo_xform": False,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "report_level": 1,
    "halt_level": 5,
    "input_encoding": "utf-8",
    "auto_id_prefix": "id",
    "syntax_highlight": "none",
    "language_code": "en",
    # Typography as Sphinx renders it: "quotes" curly, -- an en dash, --- an em dash, ... …
    "smart_quotes": True,
}
_WARNING, _ERROR = 2, 3
_STANDARD_INCLUDES = Path(docutils.__file__).parent / "parsers" / "rst" / "include"


@dataclass
class Problem:
    """A docutils message about a source: warnings are reported, errors fail the build."""

    path: str
    line: int | None
    level: int
    message: str

    @property
    def is_error(self) -> bool:
        return self.level >= _ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        kind = "error" if self.is_error else "warning"
        return f"{where}: {kind}: {self.message}"


@dataclass
class ParsedSource:
    """The entries of one source and every problem found in it."""

    source: Source
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    document: nodes.document | None = None  # the doctree, for ``faq-kb check``

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


INCLUDED_TEXT = "This answer is included from another file; read it on the published page."


class _Include(Directive):
    """``include``: docutils' own standard sets (``<isonum.txt>``) only; never a source file."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = rst_sphinx._AnyOptions()

    def run(self) -> list[nodes.Node]:
        target = self.arguments[0].strip()
        name = target[1:-1] if target.startswith("<") and target.endswith(">") else None
        standard = _STANDARD_INCLUDES / name if name else None
        if standard and standard.parent == _STANDARD_INCLUDES and standard.is_file():
            lines = standard.read_text(encoding="utf-8").splitlines()
            self.state_machine.insert_input(lines, str(standard))
            return []
        message = self.reporter.warning(
            f'"include" of {target} skipped: faq-kb never reads files named by a source.',
            line=self.lineno,
        )
        # A question whose answer is only an include still is one: it points to the page.
        note = nodes.paragraph(INCLUDED_TEXT, INCLUDED_TEXT, classes=["included"])
        return [note, message]


class _Raw(Directive):
    """``raw``: kept out of answers (its output format is not text); never reads a file."""

    optional_arguments = 99
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict[str, Any]] = rst_sphinx._AnyOptions()

    def run(self) -> list[nodes.Node]:
        return [nodes.raw("", "\n".join(self.content), format=" ".join(self.arguments))]


rst_sphinx.register()
directives.register_directive("include", _Include)
directives.register_directive("raw", _Raw)


def display_path(path: Path) -> str:
    """Show a path relative to the working directory when it lies under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_source(source: Source) -> str:
    """Read a source file as UTF-8 text.

    Raises:
        SourceError: the file is missing, unreadable, binary or not UTF-8.
    """
    shown = source.shown or display_path(source.path)
    limit = max_source_bytes()
    try:
        data = read_regular(source.path, limit, " (FAQ_MAX_SOURCE_BYTES sets the limit)")
    except FileNotFoundError:
        raise SourceError(shown, None, "source file not found") from None
    except IsADirectoryError:
        raise SourceError(shown, None, "is a folder, not an rst file") from None
    except NotReadable as exc:
        raise SourceError(shown, None, str(exc)) from None
    except OSError as exc:
        raise SourceError(shown, None, f"cannot read source: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(shown, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SourceError(shown, line, "binary data (NUL byte), not an rst file")
    return text.removeprefix("\ufeff")


def parse_source(source: Source, *, strict: bool = False) -> ParsedSource:
    """Parse one source into entries and problems (``strict``: unknown nodes raise).

    Raises:
        SourceError: the file cannot be read as UTF-8 text (parse problems are returned).
    """
    original = read_source(source)
    shown = source.shown or display_path(source.path)
    checked = check_text(original, shown)
    text = checked.text
    parsed = ParsedSource(source)
    for name in rst_sphinx.register_unknown(text):
        parsed.problems.append(
            Problem(
                shown,
                _first_line(original, f".. {name}::"),
                _WARNING,
                f'unknown directive "{name}": its content is shown as text',
            )
        )
    settings = dict(SETTINGS, warning_stream=io.StringIO())
    try:
        document = _publish(text, source, settings, shown)
        problems = _take_messages(document, shown)
        _default_role_marks(document)
        for problem in problems:
            problem.line = checked.original_line(_locate(problem, text))
        parsed.problems.extend(problems)
        inventory = None
        if source.inventory:
            from kb.ingest.inventory import InventoryError, load_inventory

            try:
                inventory = load_inventory(source.inventory, source.url)
            except InventoryError as exc:
                parsed.problems.append(Problem(shown, None, _WARNING, f"inventory not used: {exc}"))
        parsed.entries = list(
            _entries(document, source, text.splitlines(), strict, checked, inventory)
        )
        parsed.document = document
    except RecursionError:  # a backstop: check_text refuses what nests this deep
        raise SourceError(shown, None, "nested too deeply to parse; flatten it") from None
    return parsed


def warm_up(text: str) -> None:
    """Parse ``text`` and drop it: docutils compiles its patterns on first use (~0.1 s),
    which a worker can pay before it is given a source (``kb.index.early``)."""
    settings = dict(SETTINGS, warning_stream=io.StringIO())
    docutils.core.publish_doctree(text, settings_overrides=settings)


def _publish(text: str, source: Source, settings: dict[str, Any], shown: str) -> nodes.document:
    """docutils' doctree of ``text``; its own crashes on odd markup become a SourceError.

    (Fuzzing found one: ``|00|`` defined as ``|0|`` next to a ``0_`` reference is a
    KeyError in docutils 0.23's Substitutions transform.)
    """
    try:
        return docutils.core.publish_doctree(
            text, source_path=str(source.path), settings_overrides=settings
        )
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001 - a docutils bug, never a traceback for a user
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise SourceError(
            shown, None, f"docutils cannot parse this file ({detail}); simplify its markup"
        ) from None


_QUOTED = re.compile(r'"([^"\n]{1,200})"')
_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)\b", re.IGNORECASE)


def _locate(problem: Problem, text: str) -> int:
    """The line a message is about: where docutils gives none (or a wrong one, as in a
    ``csv-table`` cell), the line of the reference it quotes, else the line it mentions,
    else 1. Every message carries a line."""
    line = problem.line
    quoted = _QUOTED.search(problem.message)
    pattern = _reference_pattern(problem.message, quoted.group(1)) if quoted else None
    if pattern is not None:
        lines = text.split("\n")
        if line and 0 < line <= len(lines) and pattern.search(lines[line - 1]):
            return int(line)
        found = pattern.search(text)
        if found:
            return text.count("\n", 0, found.start()) + 1
    if line:
        return int(line)
    mentioned = _LINE_IN_MESSAGE.search(problem.message)
    return int(mentioned.group(1)) if mentioned else 1


def _reference_pattern(message: str, name: str) -> re.Pattern[str] | None:
    """How a reference to ``name`` is written, for the messages that quote one."""
    words = r"\s+".join(re.escape(w) for w in name.split())
    if not words:
        return None
    if "substitution" in message:
        return re.compile(rf"\|{words}\|", re.IGNORECASE)
    if message.startswith(("Unknown target name", "Duplicate target name")):
        return re.compile(
            rf"(?<![\w`]){words}__?(?!\w)|`{words}(?:\s*<[^<>]*>)?`__?", re.IGNORECASE
        )
    return None


def _first_line(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return text[:index].count("\n") + 1 if index >= 0 else None


def _default_role_marks(document: nodes.document) -> None:
    """Text in Sphinx's default role (conf.py's ``default_role``, often ``obj``) is a
    cross-reference, so its marks read as Sphinx shows them: ```!name``` as ``name`` (no
    link), ```~pkg.mod.name``` as ``name`` (the last part)."""
    for node in list(document.findall(nodes.title_reference)):
        text = node.astext()
        if text.startswith("!"):
            shown = text[1:]
        elif text.startswith("~"):
            shown = text[1:].rsplit(".", 1)[-1]
        else:
            continue
        if shown:
            node.children = []
            node += nodes.Text(shown)


_UNDEFINED_SUBSTITUTION = re.compile(r'Undefined substitution referenced: "(.+)"\.')
_UNKNOWN_TARGET = re.compile(r'Unknown target name: "(.+)"\.', re.DOTALL)


def _reference_text(raw: str) -> str:
    """What a reference reads as on the page, from its markup: ``python_`` → ``python``,
    ```the docs <docs_>`_`` → ``the docs``, ``[Li.2009]_`` → ``[Li.2009]``."""
    text = raw.rstrip("_")
    if text.startswith("[") and text.endswith("]"):
        return text
    text = text.strip("`")
    if text.endswith(">") and "<" in text:
        text = text[: text.rindex("<")].rstrip() or text
    return text


def _citation(message: nodes.system_message, document: nodes.document) -> str | None:
    """The citation reference (``[Li.2009]``) a message about an unknown target is about;
    None if it is about a link."""
    backrefs: list[str] = message.get("backrefs", [])
    for backref in backrefs:
        node = document.ids.get(backref)
        if isinstance(node, nodes.Element) and node.rawsource.startswith("["):
            return _reference_text(node.rawsource)
    return None


def _take_messages(document: nodes.document, shown: str) -> list[Problem]:
    """Collect docutils' messages (INFO dropped) and remove them from the tree."""
    problems = []
    # Messages from transforms (an unknown link target …) are kept aside, not in the tree.
    in_tree = list(document.findall(nodes.system_message))
    aside = [m for m in document.transform_messages if m not in in_tree]
    undefined: dict[str, str] = {}  # message id -> the substitution it could not find
    unknown: set[str] = set()  # ids of messages about a link target not found
    for message in in_tree + aside:
        level = int(message["level"])
        text = " ".join((message[0].astext() if len(message) else message.astext()).split())
        key = str(message["ids"][0]) if message["ids"] else ""
        if key and _UNKNOWN_TARGET.fullmatch(text):
            unknown.add(key)
            citation = _citation(message, document)
            if citation:  # Sphinx finds citations on other pages (a bibliography)
                level = _WARNING
                text = f"citation {citation} is not defined in this file (Sphinx finds "
                text += "citations on other pages)"
        elif key and (missing := _UNDEFINED_SUBSTITUTION.fullmatch(text)):
            # Sphinx defines it (``|version|``, conf.py's rst_epilog) or an include does:
            # shown as its name, said once.
            name = missing.group(1)
            level = 0 if name in undefined.values() else _WARNING
            text = (
                f"substitution |{name}| is not defined in this file (Sphinx's rst_epilog or "
                f'an include may define it): shown as "{name}"'
            )
            undefined[key] = name
        if level >= _WARNING:
            problems.append(Problem(shown, message.get("line"), level, text))
        if message.parent is not None:
            message.parent.remove(message)
    for section in list(document.findall(nodes.section)):
        if "system-messages" in section["classes"] and section.parent is not None:
            section.parent.remove(section)
    for problematic in list(document.findall(nodes.problematic)):
        # The raw source text of markup docutils could not read: shown as text, not an error.
        if problematic.parent is not None:
            refid = problematic.get("refid", "")
            shown_as = undefined.get(refid) or problematic.astext()
            if refid in unknown:  # ``python_``, ```a link`_``, ``[Li.2009]_``: their text
                shown_as = _reference_text(shown_as)
            problematic.parent.replace(problematic, nodes.Text(shown_as))
    problems.sort(key=lambda p: (p.line or 0, -p.level))
    return problems


@dataclass
class _Walk:
    source: Source
    lines: list[str]
    labels: dict[str, str]
    shown: str
    strict: bool
    checked: Checked
    ids: set[str] = field(default_factory=set)
    titles: dict[str, str] = field(default_factory=dict)  # label -> section title
    inventory: Inventory | None = None  # the project's other pages
    site: dict[str, tuple[str, str]] = field(default_factory=dict)  # other sources' labels
    doc_root: str | None = None  # the published docs' root (``_doc_root``)


def _entries(
    document: nodes.document,
    source: Source,
    lines: list[str],
    strict: bool,
    checked: Checked,
    inventory: Inventory | None = None,
) -> list[Entry]:
    labels: dict[str, str] = {}
    titles: dict[str, str] = {}
    for section in document.findall(nodes.section):
        for name in section["names"]:
            labels.setdefault(str(name), str(section["ids"][0]))
            titles.setdefault(str(name), _title(section))
    walk = _Walk(source, lines, labels, _source_display(source), strict, checked, titles=titles)
    walk.inventory = inventory
    walk.doc_root = _doc_root(source)
    walk.site = {label: (title, url) for label, title, url in source.xrefs}
    top = [child for child in document.children if isinstance(child, nodes.section)]
    entries: list[Entry] = []
    for section in top:
        entries.extend(_section(walk, section, [], None, is_page_title=len(top) == 1))
    return entries


_CONF_LEVELS = 6  # how far above a source its Sphinx project's conf.py is looked for


def _doc_root(source: Source) -> str | None:
    """Where the published docs of a local source's Sphinx project begin: its page URL less
    the page's name under the folder holding ``conf.py`` (``…/en/latest/`` for
    ``docs/faq/general.rst`` published at ``…/en/latest/faq/general.html``). None when
    there is no conf.py above it, or the URL does not end with that name."""
    if source.origin:
        return None
    page = source.url.split("#")[0]
    try:
        path = source.path.resolve()
        for folder in list(path.parents)[:_CONF_LEVELS]:
            if (folder / "conf.py").is_file():
                tail = "/" + path.relative_to(folder).with_suffix(".html").as_posix()
                return page[: -len(tail) + 1] if page.endswith(tail) else None
    except (OSError, ValueError):
        return None
    return None


def _source_display(source: Source) -> str:
    if source.shown:
        return source.shown
    manifest_dir = source.path.parent
    for parent in source.path.parents:
        if (parent / "sources.toml").is_file():
            manifest_dir = parent
            break
    else:
        return display_path(source.path)
    return f"{manifest_dir.name}/{source.path.relative_to(manifest_dir).as_posix()}"


def _title(section: nodes.Element) -> str:
    return " ".join(section[0].astext().split())


def _is_question(title: str) -> bool:
    return title.rstrip().endswith("?")


def _own_content(section: nodes.Element) -> list[nodes.Node]:
    return [c for c in section.children[1:] if not isinstance(c, nodes.section)]


def _has_content(children: list[nodes.Node]) -> bool:
    invisible = (
        nodes.comment,
        nodes.target,
        nodes.substitution_definition,
        nodes.raw,
        nodes.pending,
        nodes.system_message,
        nodes.transition,  # a rule between questions (docutils moves it up to their section)
    )
    for child in children:
        if isinstance(child, invisible):
            continue
        if isinstance(child, nodes.topic) and "contents" in child["classes"]:
            continue
        if isinstance(child, nodes.container) and not _has_content(list(child.children)):
            continue
        return True
    return False


def _section(
    walk: _Walk,
    section: nodes.section,
    crumbs: list[str],
    parent: str | None,
    *,
    is_page_title: bool = False,
) -> list[Entry]:
    title = _unmarked(_title(section))  # "Q: How do I …?" as "How do I …?"
    own = _own_content(section)
    subs = [c for c in section.children if isinstance(c, nodes.section)]
    has_own = _has_content(own)
    question = _is_question(title)
    if parent is None:
        qa_lists = _definition_qas(section, own)
        if qa_lists:
            return _definition_entries(walk, section, qa_lists, [*crumbs, title])
        flat = own if question else _open_question_lists(own)
        marks = [] if question else _heading_questions(flat)
        if marks:
            asked = _heading_entries(walk, section, flat, marks, [*crumbs, title])
            for sub in subs:
                asked.extend(_section(walk, sub, [*crumbs, title], None))
            return asked
        is_category = not has_own or (
            subs and not question and (is_page_title or any(_is_question(_title(s)) for s in subs))
        )
        if is_category:
            entries: list[Entry] = []
            for sub in subs:
                entries.extend(_section(walk, sub, [*crumbs, title], None))
            return entries
    if not has_own and not subs:
        return []
    # Sub-sections most of which ask are questions of their own, set a level too deep
    # (PyTables' FAQ), not parts of this answer; parts are named ("Xvfb", "OSMesa"), or few
    # of them ask (BorgBackup's "How to avoid that it happens again?" among three).
    asks = sum(_is_question(_unmarked(_title(s))) for s in subs)
    asking = asks >= 2 and asks > len(subs) / 2
    body = _drop_answer_mark(own if asking else section.children[1:])  # "**Answer:** Run …"
    entry = _make_entry(walk, section, title, crumbs, parent, body)
    entries = [entry]
    for sub in subs:
        entries.extend(_section(walk, sub, [*crumbs, title], None if asking else entry.id))
    return entries


def _make_entry(
    walk: _Walk,
    node: nodes.Element,
    title: str,
    crumbs: list[str],
    parent: str | None,
    body: list[nodes.Node],
    *,
    anchor: str | None = None,
    title_node: nodes.Element | None = None,
    suffix: str = "",
) -> Entry:
    anchor = anchor or str(node["ids"][0])
    page = walk.source.url.split("#")[0]
    ctx = RenderContext(
        page_url=page,
        labels=walk.labels,
        strict=walk.strict,
        titles=walk.titles,
        inventory=walk.inventory,
        doc_root=walk.doc_root,
        site=walk.site,
    )
    blocks: list[Block] = render_blocks(body, ctx)
    heading = title_node if title_node is not None else node[0]
    assert isinstance(heading, nodes.Element)
    line = _title_line(heading, walk.lines)
    entry_id = _unique_id(walk, f"{walk.source.name}/{anchor}{suffix}")
    return Entry(
        id=entry_id,
        collection=walk.source.name,
        title=title,
        source_title=walk.lines[line - 1].strip() if 0 < line <= len(walk.lines) else title,
        breadcrumb=crumbs,
        url=f"{page}#{anchor}",
        anchor=anchor,
        answer=blocks_to_text(blocks),
        blocks=blocks,
        links=ctx.links,
        source=SourceRef(path=walk.shown, line=walk.checked.original_line(line) or line),
        parent=parent,
    )


def _title_line(title: nodes.Element, lines: list[str]) -> int:
    """The 1-based line of a title's text (docutils points at the underline)."""
    line = title.line or 0
    text = plain_typography(" ".join(title.astext().split()))[:20]  # smart quotes undone
    for candidate in (line - 1, line, line - 2):
        if 0 < candidate <= len(lines) and text[:8] in _plain(lines[candidate - 1]):
            return candidate
    return max(line - 1, 1)


def _plain(raw: str) -> str:
    return re.sub(r"[`*\\]|:\w+:", "", plain_typography(raw))


def _unique_id(walk: _Walk, wanted: str) -> str:
    candidate, n = wanted, 2
    while candidate in walk.ids:
        candidate, n = f"{wanted}-{n}", n + 1
    walk.ids.add(candidate)
    return candidate


def _definition_qas(section: nodes.Element, own: list[nodes.Node]) -> list[nodes.definition_list]:
    """Definition lists that hold one Q&A per item (the Sphinx FAQ's "How do I..." part)."""
    lists = [c for c in own if isinstance(c, nodes.definition_list)]
    if not lists:
        return []
    title = _title(section)
    terms = [item[0].astext().strip() for dl in lists for item in dl.children]  # type: ignore[index]
    asks = sum(t.startswith(("...", "…")) or _is_question(t) for t in terms)
    if title.endswith(("...", "…")) or asks * 2 > len(terms):
        return lists
    return []


def _definition_entries(
    walk: _Walk, section: nodes.Element, lists: list[nodes.definition_list], crumbs: list[str]
) -> list[Entry]:
    own_title = _title(section)
    # "How do I..." (smart quotes: "…") and its "... create PDF files?" read as one question;
    # a list of whole questions under "FAQ" keeps them as they are.
    stem = own_title.rstrip(".…").strip() if own_title.endswith(("...", "…")) else ""
    entries: list[Entry] = []
    for dl in lists:
        for item in dl.children:
            assert isinstance(item, nodes.Element)
            term = " ".join(item[0].astext().split())
            title = f"{stem} {term.lstrip('. …')}" if stem else term
            body = [c for c in item.children if isinstance(c, nodes.definition)]
            answer = [child for d in body for child in d.children]
            heading = item[0]
            assert isinstance(heading, nodes.Element)
            entries.append(
                _inner_entry(walk, section, title, crumbs, answer, heading, nodes.make_id(term))
            )
    return entries


def _inner_entry(
    walk: _Walk,
    section: nodes.Element,
    title: str,
    crumbs: list[str],
    body: list[nodes.Node],
    heading: nodes.Element,
    slug: str,
    label: str | None = None,
) -> Entry:
    """An entry asked inside a section (a definition list's item, an asked heading): its
    deep link is its own label if it has one, else its section's, its id then made unique
    by ``slug``."""
    anchor = label or str(section["ids"][0])
    suffix = "" if label else f"/{slug}"
    return _make_entry(
        walk, section, title, crumbs, None, body, anchor=anchor, title_node=heading, suffix=suffix
    )


# "Q: How do I …?" / "Question: …" (maybe numbered: "Q1.", "Question 2:") and "A: …" /
# "Answer: …", as some FAQs mark them. A numbered answer mark stays: "Answer 1:" and
# "Answer 2:" tell two answers apart (CPython's design FAQ).
_Q_MARK = re.compile(r"^(?:Q|Question)\s*\d*\s*[:.)]\s*")
_A_MARK = re.compile(r"^(?:A|Answer)\s*[:.)]\s*$")  # a bold "A:" on its own
_A_LEAD = re.compile(r"^(?:A|Answer)\s*[:.)]\s+")  # "A: " typed before the answer
_A_WORD = re.compile(r"^(?:A|Answer)$")  # a bold "Answer" followed by a plain ":"


def _unmarked(question: str) -> str:
    """A question without a leading "Q:" mark."""
    return _Q_MARK.sub("", question) or question


def _asked_heading(node: nodes.Node) -> nodes.Element | None:
    """The heading of a block that asks a question the way some FAQs set them instead of
    section titles: a rubric, a paragraph all in bold (or italics) or marked "Q:", a topic
    or an admonition whose title ends with "?"."""
    heading: nodes.Element | None = None
    if isinstance(node, nodes.rubric):
        heading = node
    elif isinstance(node, nodes.paragraph):
        kids = [c for c in node.children if not (isinstance(c, nodes.Text) and not c.strip())]
        # All in bold (or italics), maybe broken by code: "**Why use** ``verify()`` **?**"
        styled = bool(kids) and isinstance(kids[0], (nodes.strong, nodes.emphasis))
        styled = styled and all(
            isinstance(k, (nodes.strong, nodes.emphasis, nodes.literal)) for k in kids
        )
        if styled or _Q_MARK.match(node.astext()):
            heading = node
    elif (
        isinstance(node, (nodes.topic, nodes.admonition))
        and "contents" not in node["classes"]
        and node.children
        and isinstance(node[0], nodes.title)
    ):
        heading = node[0]
    if heading is not None and _is_question(" ".join(heading.astext().split())):
        return heading
    return None


def _open_question_lists(own: list[nodes.Node]) -> list[nodes.Node]:
    """A section's own content with each ``container`` opened into its blocks, each list
    whose every item starts with an asked heading (``* **How do I …?**`` then its answer)
    opened into its items' blocks, and questions set in ``:Q:``/``:A:`` fields or in a
    table's rows opened into asked headings and their answers."""
    out: list[nodes.Node] = []
    for child in own:
        if isinstance(child, nodes.container):
            out += _open_question_lists(list(child.children))
            continue
        asked = _question_fields(child) or _question_table(child)
        if asked:
            out += asked
            continue
        items = (
            child.children if isinstance(child, (nodes.bullet_list, nodes.enumerated_list)) else []
        )
        if len(items) >= 2 and all(
            isinstance(item, nodes.Element) and item.children and _asked_heading(item[0])
            for item in items
        ):
            out += [block for item in items for block in item.children]
        else:
            out.append(child)
    return out


# Field names that mark a question and its answer (``:Q: How do I …?`` then ``:A: …``), and
# the header cells of a table of questions.
_Q_NAME = re.compile(r"^(?:Q|Question)\s*\d*$", re.IGNORECASE)
_A_NAME = re.compile(r"^(?:A|Answer)\s*\d*$", re.IGNORECASE)
_MARKED = "faq-kb-asked"  # the class of a heading made of a field or cell named a question


def _question_fields(node: nodes.Node) -> list[nodes.Node]:
    """A field list of questions and answers (``:Q:`` then ``:A:`` fields) as asked headings,
    each followed by its answer's blocks; empty if the list is anything else."""
    if not isinstance(node, nodes.field_list) or not node.children:
        return []
    out: list[nodes.Node] = []
    for item in node.children:
        if not (isinstance(item, nodes.field) and len(item) == 2):
            return []
        name, body = " ".join(item[0].astext().split()), item[1]
        assert isinstance(body, nodes.field_body)
        if _Q_NAME.match(name):
            out.append(_asking(body, item, marked=True))
        elif _A_NAME.match(name) and out:
            out += list(body.children)
        else:
            return []
    return out


def _question_table(node: nodes.Node) -> list[nodes.Node]:
    """A two-column table of questions and their answers (a "Question | Answer" header, or
    a question in the first cell of every row) as asked headings, each followed by its
    answer's blocks; empty if the table is anything else."""
    groups = (
        [g for g in node.children if isinstance(g, nodes.tgroup)]
        if isinstance(node, nodes.table)
        else []
    )
    if len(groups) != 1 or groups[0].get("cols") != 2:
        return []
    rows = [
        row for part in groups[0].children for row in part.children if isinstance(row, nodes.row)
    ]
    cells = [[c for c in row.children if isinstance(c, nodes.entry)] for row in rows]
    if any(len(pair) != 2 for pair in cells):
        return []
    named = [" ".join(c.astext().split()) for c in cells[0]] if cells else []
    marked = len(named) == 2 and bool(_Q_NAME.match(named[0]) and _A_NAME.match(named[1]))
    if marked:
        rows, cells = rows[1:], cells[1:]
    elif not all(_is_question(" ".join(q.astext().split())) for q, _ in cells):
        return []
    if not cells:
        return []
    out: list[nodes.Node] = []
    for row, (question, answer) in zip(rows, cells, strict=True):
        out += [_asking(question, row, marked=marked), *answer.children]
    return out


def _asking(cell: nodes.Element, where: nodes.Element, *, marked: bool) -> nodes.rubric:
    """A field's or a cell's question as a heading (``_asked_heading`` reads a rubric);
    ``marked``: named a question (a ``:Q:`` field, a "Question" column), so that one alone
    counts."""
    first = cell.children[0] if cell.children else None
    classes = [_MARKED] if marked else []
    if isinstance(first, nodes.paragraph):
        heading = nodes.rubric("", "", *(c.deepcopy() for c in first.children), classes=classes)
    else:
        heading = nodes.rubric("", cell.astext(), classes=classes)
    for node in (first, cell, where):
        if isinstance(node, nodes.Element) and node.line:
            heading.source, heading.line = node.source, node.line
            break
    return heading


def _drop_answer_mark(body: list[nodes.Node]) -> list[nodes.Node]:
    """The answer without a leading "A:" / "Answer:" mark (``**A:** Run …``,
    ``**Answer**: Run …``)."""
    first = body[0] if body else None
    rest = _after_answer_mark(first)
    if rest is None:
        return body
    assert isinstance(first, nodes.paragraph)
    paragraph = first.copy()
    paragraph.extend(rest)
    return [paragraph, *body[1:]]


def _after_answer_mark(first: nodes.Node | None) -> list[nodes.Node] | None:
    """What a paragraph says after its leading answer mark; None if it has none."""
    if not isinstance(first, nodes.paragraph) or not first.children:
        return None
    lead = first[0]
    after = first[1] if len(first.children) > 1 else None
    if isinstance(lead, (nodes.strong, nodes.emphasis)) and _A_MARK.match(lead.astext()):
        rest = first.children[1:]
    elif (
        isinstance(lead, (nodes.strong, nodes.emphasis))
        and _A_WORD.match(lead.astext())
        and isinstance(after, nodes.Text)
        and str(after).startswith(":")
    ):
        rest = [nodes.Text(str(after)[1:]), *first.children[2:]]
    elif isinstance(lead, nodes.Text) and _A_LEAD.match(str(lead)):
        rest = [nodes.Text(_A_LEAD.sub("", str(lead))), *first.children[1:]]
    else:
        return None
    if rest and isinstance(rest[0], nodes.Text):
        rest = [nodes.Text(str(rest[0]).lstrip()), *rest[1:]]
    return rest


def _heading_questions(own: list[nodes.Node]) -> list[tuple[int, nodes.Element]]:
    """Where a section's own content asks its questions as headings, and each heading
    (``_asked_heading``): two or more make one entry each. One alone is part of an answer,
    unless it is a titled block (a dropdown, a topic) holding all the section says, or
    marked as a question and answered with a mark ("**Q:** …?" then "**A:** …")."""
    marks = [(n, h) for n, child in enumerate(own) if (h := _asked_heading(child)) is not None]
    if len(marks) == 1:
        at, heading = marks[0]
        alone = heading is not own[at] and not _has_content([*own[:at], *own[at + 1 :]])
        answered = _MARKED in heading["classes"] or (
            heading is own[at]
            and _Q_MARK.match(heading.astext()) is not None
            and _after_answer_mark(own[at + 1] if at + 1 < len(own) else None) is not None
        )
        return marks if alone or answered else []
    return marks


def _heading_entries(
    walk: _Walk,
    section: nodes.Element,
    own: list[nodes.Node],
    marks: list[tuple[int, nodes.Element]],
    crumbs: list[str],
) -> list[Entry]:
    """One entry per asked heading: its answer is what follows it, up to the next one (and
    a topic's or an admonition's own body); what comes before the first is the section's
    introduction. The deep link is the heading's own id where it has one (a label before
    it), else its section's."""
    entries = []
    ends = [start for start, _ in marks[1:]] + [len(own)]
    for (start, heading), end in zip(marks, ends, strict=True):
        block = own[start]
        assert isinstance(block, nodes.Element)
        body = [] if heading is block else list(block.children[1:])
        body += own[start + 1 : end]
        body = _drop_answer_mark(body)
        title = _unmarked(" ".join(heading.astext().split()))
        ids = block["ids"]
        label = str(ids[0]) if ids else None
        slug = nodes.make_id(title)
        entries.append(_inner_entry(walk, section, title, crumbs, body, heading, slug, label))
    return entries
