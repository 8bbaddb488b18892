"""Sphinx roles and directives for a plain docutils parse: each one handled on purpose.

Plain docutils reports every Sphinx role and directive as unknown and drops the block.
Here each is registered with a meaning close to what the published page shows: code roles
render as inline code, cross-references as their text (``:doc:`` as a link to the sibling
page), version notes and ``seealso`` as text, ``ipython``/``doctest`` blocks as code, and
build-only directives (``index``, ``toctree``, ``highlight`` …) as nothing. Nothing here
reads a file or runs code.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.directives import admonitions, body, tables
from docutils.parsers.rst.states import Inliner
from docutils.statemachine import StringList

# Roles whose text Sphinx renders as code (``:func:`len``` shows ``len()``).
CODE_ROLES = frozenset(
    [
        "attr",
        "class",
        "const",
        "data",
        "exc",
        "func",
        "meth",
        "mod",
        "obj",
        "keyword",
        "envvar",
        "file",
        "program",
        "option",
        "command",
        "samp",
        "kbd",
        "makevar",
        "mailheader",
        "mimetype",
        "regexp",
        "rc",
        "confval",
        "setting",
        "py:attr",
        "py:class",
        "py:const",
        "py:data",
        "py:exc",
        "py:func",
        "py:meth",
        "py:mod",
        "py:obj",
        "py:attribute",
        "py:method",
        "py:function",
        "py:module",
        "py:exception",
        "py:property",
        "c:func",
        "c:data",
        "c:macro",
        "c:type",
        "c:member",
        "c:var",
        "c:struct",
        "c:union",
        "c:enum",
        "c:enumerator",
        "c:expr",
        "c:texpr",
        "cpp:func",
        "cpp:class",
        "cpp:any",
        "cpp:type",
        "cpp:member",
        "cpp:expr",
        "rst:dir",
        "rst:role",
        "rst:directive",
        "rst:directive:option",
        "js:func",
        "js:class",
        "js:data",
    ]
)
# Roles whose text Sphinx renders as prose (a reference to a label, a term, a menu …).
TEXT_ROLES = frozenset(
    [
        "ref",
        "doc",
        "term",
        "any",
        "numref",
        "download",
        "abbr",
        "dfn",
        "guilabel",
        "menuselection",
        "manpage",
        "newsgroup",
        "source",
        "issue",
        "pull",
        "user",
        "commit",
        "gh",
        "bpo",
        "cve",
        "cwe",
        "token",
        "productionlist",
        "eq",
        "footcite",
        "cite",
    ]
)
_CALLABLE_ROLES = frozenset({"func", "meth", "py:func", "py:meth", "c:func", "cpp:func"})
_EXPLICIT_RE = re.compile(r"^(.*?)\s*<([^<>]*)>$", re.DOTALL)


def _split_role_text(text: str) -> tuple[str, str, bool]:
    """Return (shown text, target, had an explicit title) for Sphinx role text."""
    text = nodes.unescape(text)
    match = _EXPLICIT_RE.match(text)
    if match and match.group(1):
        return match.group(1), match.group(2), True
    target = text.lstrip("!")
    shown = target
    if shown.startswith("~"):
        target = shown[1:]
        shown = target.rsplit(".", 1)[-1]
    return shown, target, False


def _code_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    options: dict[str, Any] | None = None,
    content: Sequence[str] = (),
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    shown, _target, explicit = _split_role_text(text)
    if name.lower() in _CALLABLE_ROLES and not explicit and not shown.endswith(")"):
        shown += "()"
    return [nodes.literal(rawtext, shown, classes=["xref", name])], []


def _text_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    options: dict[str, Any] | None = None,
    content: Sequence[str] = (),
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    shown, target, explicit = _split_role_text(text)
    role = name.lower()
    if role == "menuselection":
        shown = shown.replace("-->", "›")
    if role == "doc":
        # Resolved to the sibling page's URL by the ingest, which knows the page URL; shown
        # as the page's title where an inventory gives it (kb.ingest.blocks).
        shown = shown if explicit else readable_target(target.rsplit("/", 1)[-1])
        node = nodes.reference(rawtext, shown, refdoc=target, classes=["doc"])
        node["refexplicit"] = explicit
        return [node], []
    if role == "ref":
        # Without a title of its own, the label as words until the render finds the
        # section's title (in the FAQ, or in the project's inventory).
        shown = shown if explicit else readable_target(target)
        inline = nodes.inline(rawtext, shown, reflabel=target.lower(), classes=["ref"])
        inline["refexplicit"] = explicit
        return [inline], []
    if role in {"issue", "pull", "gh", "bpo"} and shown.isdigit():
        shown = "#" + shown
    return [nodes.inline(rawtext, shown, classes=[role])], []


def readable_target(label: str) -> str:
    """A label or document name as words: ``integer_na`` → "integer na"."""
    return " ".join(label.replace("_", " ").replace("-", " ").split()) or label


class _CsvTable(tables.CSVTable):
    """``csv-table`` whose ``:header:`` is comma-separated even with another ``:delim:``.

    Older docutils read the header that way and FAQs rely on it (pandas' gotchas page has
    ``:header: "Typeclass","Dtypes"`` with ``:delim: |``); docutils 0.22+ rejects it.
    """

    def run(self) -> Sequence[nodes.table | nodes.system_message]:
        header, delim = self.options.get("header"), self.options.get("delim")
        if header and delim and delim != "," and delim not in header:
            cells = next(csv.reader([header], skipinitialspace=True), [])
            self.options["header"] = delim.join(f'"{c}"' for c in cells)
        return super().run()


class _AnyOptions(dict[str, Callable[[str | None], Any]]):
    """An option spec that accepts any option, for directives we render without options."""

    def __missing__(self, key: str) -> Callable[[str | None], Any]:
        return directives.unchanged

    def __bool__(self) -> bool:
        # docutils reads options only where the spec is truthy: empty, ``:suppress:`` and
        # ``:open:`` were read as more of the argument.
        return True


class _Lenient(Directive):
    """A directive that takes any arguments, options and content, as Sphinx's and its
    extensions' do; subclasses say what the page shows of them."""

    has_content = True
    optional_arguments = 99
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = _AnyOptions()


class _Hidden(_Lenient):
    """Build-only directives (``index``, ``toctree``, ``highlight`` …): nothing to show."""

    def run(self) -> list[nodes.Node]:
        return []


# Extensions' containers whose argument is the title a reader clicks or reads (sphinx-design's
# ``dropdown``, ``tab-item`` and cards, sphinx-tabs' ``tab``, sphinx-toolbox's ``collapse``,
# ``details`` of sphinxcontrib-details and others). FAQs set questions as such titles.
TITLED_CONTAINERS = frozenset(
    ["dropdown", "details", "collapse", "tab", "tab-item", "card", "grid-item-card"]
)


# … and those shown as what they hold (Sphinx's ``glossary`` is a definition list; what
# ``ifconfig`` holds is shown, its condition on conf.py unread).
LAYOUT_CONTAINERS = frozenset(["tab-set", "tabs", "grid", "glossary", "hlist", "ifconfig", "acks"])


def _titled(directive: Directive) -> list[nodes.Node]:
    """A container shown with its title: an admonition titled with the argument, its
    ``:name:`` a link target (as sphinx-design's), its content parsed inside."""
    title = " ".join(" ".join(directive.arguments).split())
    node = nodes.admonition(classes=["sphinx-" + directive.name])
    inline, messages = directive.state.inline_text(title, directive.lineno)
    node += nodes.title(title, "", *inline)
    node += messages
    node.source, node.line = directive.state_machine.get_source_and_line(directive.lineno)
    node[0].source, node[0].line = node.source, node.line
    name = directive.options.get("name")
    if isinstance(name, str) and name.strip():
        node["names"].append(nodes.fully_normalize_name(name))
        directive.state.document.note_explicit_target(node, node)
    directive.state.nested_parse(directive.content, directive.content_offset, node)
    return [node]


class _Body(_Lenient):
    """Containers whose content is shown as ordinary text (``only::``, unknown ones), or
    under their title: a known titled container's, or any whose argument asks a question
    (``.. faq-item:: How do I …?``)."""

    def run(self) -> list[nodes.Node]:
        if self.name == "only" and _not_for_html(" ".join(self.arguments)):
            return []
        asks = " ".join(self.arguments).rstrip().endswith("?")
        if self.arguments and self.content and (self.name in TITLED_CONTAINERS or asks):
            return _titled(self)
        shown: list[nodes.Node] = []
        if self.name != "only" and self.arguments and _describes_object(self.name):
            # ``.. autofunction:: name``, ``.. py:function:: f(x)``: the page shows the
            # object's signature (and its docstring, which a plain parse cannot read).
            signature = " ".join(" ".join(self.arguments).split())
            shown.append(nodes.literal_block(signature, signature, classes=["code", "signature"]))
        if not self.content:  # ``.. todo::``, ``.. autofunction:: x``: nothing more to parse
            return shown
        # Parsed in place, as if the block were not there: ``.. only:: html`` wraps
        # ``.. contents::`` in the CPython FAQ, which is only valid at section level.
        self.state_machine.insert_input(list(self.content), self.content.source(0) or "")
        return shown


# Sphinx directives that document one object (autodoc's ``auto*``, and the domains'
# ``function``, ``class``, ``var`` … with or without a ``py:``/``cpp:`` prefix).
_OBJECT_DIRECTIVES = frozenset(
    [
        "function",
        "class",
        "method",
        "attribute",
        "data",
        "exception",
        "module",
        "property",
        "decorator",
        "var",
        "type",
        "member",
        "macro",
        "struct",
        "union",
        "enum",
        "enumerator",
        "concept",
        "option",
        "envvar",
        "describe",
        "object",
        "classmethod",
        "staticmethod",
        "decoratormethod",
        "confval",
    ]
)


def _describes_object(name: str) -> bool:
    local = name.rsplit(":", 1)[-1].lower()
    return local.startswith("auto") or local in _OBJECT_DIRECTIVES


def _not_for_html(expression: str) -> bool:
    words = set(re.findall(r"[\w-]+", expression))
    return bool(words) and "html" not in words and "not" not in words


class _Labelled(_Lenient):
    """``seealso``, ``versionchanged`` and friends: a label, then the content as text."""

    optional_arguments = 1
    _LABELS: ClassVar[dict[str, str]] = {
        "seealso": "See also",
        "versionadded": "Added in version {}",
        "versionchanged": "Changed in version {}",
        "deprecated": "Deprecated since version {}",
        "versionremoved": "Removed in version {}",
    }

    def run(self) -> list[nodes.Node]:
        version, _, rest = (self.arguments[0] if self.arguments else "").partition("\n")
        label = self._LABELS[self.name].format(version.strip())
        node = nodes.admonition(classes=["sphinx-" + self.name])
        node += nodes.title(label, label)
        if self.name == "seealso" and self.arguments:
            rest = self.arguments[0]
        if rest.strip():
            inline, messages = self.state.inline_text(rest.strip(), self.lineno)
            node += nodes.paragraph(rest, "", *inline)
            node += messages
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


# Options that keep a code block off the published page: ipython's ``:suppress:``, the
# doctest blocks' ``:hide:``, jupyter-execute's ``:hide-code:``.
_HIDDEN_CODE = frozenset(["suppress", "hide", "hide-code"])


class _Code(_Lenient):
    """Blocks holding code the answer shows (``ipython``, ``doctest``, ``testcode``, ``plot``)."""

    def run(self) -> list[nodes.Node]:
        if not self.content or _HIDDEN_CODE.intersection(self.options):
            return []
        # IPython's ``@savefig`` and ``@doctest`` lines are directives to the runner.
        lines = [line for line in self.content if not line.lstrip().startswith("@")]
        code = "\n".join(lines).strip("\n")
        return [nodes.literal_block(code, code, classes=["code", self.name])] if code else []


class _Grammar(_Lenient):
    """Sphinx's ``productionlist``: the grammar (its argument, line by line) as code."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        code = "\n".join([*self.arguments, *self.content]).strip("\n")
        return [nodes.literal_block(code, code, classes=["code", "grammar"])] if code else []


class _SphinxCode(body.CodeBlock):
    """``code-block``/``sourcecode``/``code`` with Sphinx's options; the caption is shown."""

    option_spec: ClassVar[dict[str, Any]] = {
        **body.CodeBlock.option_spec,
        "caption": directives.unchanged,
        "dedent": directives.unchanged,
        "emphasize-lines": directives.unchanged,
        "force": directives.flag,
        "lineno-start": directives.unchanged,
        "linenos": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        if not self.content:  # no code: nothing to show (Sphinx warns, never fails)
            return []
        dedent = self.options.pop("dedent", False)
        if dedent is not False:
            lines = list(self.content)
            width = (
                int(dedent)
                if str(dedent).strip().isdigit()
                else min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
            )
            self.content = StringList(
                [x[width:] if not x[:width].strip() else x.lstrip() for x in lines],
                self.content.source(0) or "",
            )
        caption = str(self.options.pop("caption", "") or "").strip()
        for name in ("emphasize-lines", "force", "lineno-start", "linenos"):
            self.options.pop(name, None)
        shown: list[nodes.Node] = []
        if caption:
            inline, messages = self.state.inline_text(caption, self.lineno)
            shown += [nodes.paragraph(caption, "", *inline, classes=["caption"]), *messages]
        code: Any = super().run
        return shown + list(code())


def _with_options(base: type[Directive], **extra: Callable[[str | None], Any]) -> type[Directive]:
    """``base`` accepting the options Sphinx adds to it (their values are not shown)."""
    return type(base.__name__, (base,), {"option_spec": {**(base.option_spec or {}), **extra}})


_ADMONITIONS = (
    "attention",
    "caution",
    "danger",
    "error",
    "hint",
    "important",
    "note",
    "tip",
    "warning",
)


def _register_sphinx_options() -> None:
    for name in ("code-block", "sourcecode", "code"):
        directives.register_directive(name, _SphinxCode)
    directives.register_directive(
        "rubric", _with_options(body.Rubric, **{"heading-level": directives.unchanged})
    )
    directives.register_directive(
        "math", _with_options(body.MathBlock, label=directives.unchanged, nowrap=directives.flag)
    )
    collapsible = {"collapsible": directives.unchanged}
    for name in _ADMONITIONS:
        base = getattr(admonitions, name.capitalize())
        directives.register_directive(name, _with_options(base, **collapsible))
    directives.register_directive(
        "admonition", _with_options(admonitions.Admonition, **collapsible)
    )


HIDDEN_DIRECTIVES = [
    "index",
    "highlight",
    "currentmodule",
    "module",
    "redirect-from",
    "testsetup",
    "testcleanup",
    "toctree",
    "sectionauthor",
    "codeauthor",
    "tabularcolumns",
    "autosummary",
    "literalinclude",
    "py:currentmodule",
    "py:module",
    # Sphinx's own, which show nothing on a page: todos (todo_include_todos is off by
    # default), a class for the next block, the domain in force, authors, the program an
    # option belongs to, and diagrams drawn from code (their source is not the answer).
    "todo",
    "todolist",
    "cssclass",
    "default-domain",
    "moduleauthor",
    "program",
    "graphviz",
    "graph",
    "digraph",
    "inheritance-diagram",
]
CODE_DIRECTIVES = (
    "ipython",
    "doctest",
    "testcode",
    "testoutput",
    "plot",
    "jupyter-execute",
    "code-tab",  # sphinx-tabs
    "prompt",  # sphinx-prompt
    "code-cell",  # MyST-NB
)


# docutils' stubs type a role as returning references only; any inline node is valid.
_CODE_ROLE: Any = _code_role
_TEXT_ROLE: Any = _text_role


def _known(registry: str, key: str) -> bool:
    """Whether docutils already knows a role or directive (its registries are private)."""
    module: Any = roles if registry == "role" else directives
    names = (
        ("_roles", "_role_registry")
        if registry == "role"
        else ("_directives", "_directive_registry")
    )
    return any(key in getattr(module, attr, {}) for attr in names)


def register() -> None:
    """Register the roles and directives above with docutils (idempotent)."""
    for name in CODE_ROLES:
        roles.register_local_role(name, _CODE_ROLE)
    for name in TEXT_ROLES:
        roles.register_local_role(name, _TEXT_ROLE)
    for name in HIDDEN_DIRECTIVES:
        directives.register_directive(name, _Hidden)
    for name in CODE_DIRECTIVES:
        directives.register_directive(name, _Code)
    for name in _Labelled._LABELS:
        directives.register_directive(name, _Labelled)
    for name in ("only", *LAYOUT_CONTAINERS, *TITLED_CONTAINERS):
        directives.register_directive(name, _Body)
    directives.register_directive("csv-table", _CsvTable)
    directives.register_directive("productionlist", _Grammar)
    _register_sphinx_options()


# Linear on any input: a name's parts are bounded (a role is tried from every ':', so an
# unbounded name made a long ':a.:a.…' line quadratic), and a directive is looked for on
# its own line only ('^\s*' crossed newlines, so blank lines were rescanned from each one).
_ROLE_USE_RE = re.compile(r"(?<![\w`]):([A-Za-z][\w.+-]{0,63}(?::[A-Za-z][\w.+-]{0,63}){0,3}):`")
_DIRECTIVE_USE_RE = re.compile(r"^[ \t]*\.\.[ \t]+([A-Za-z][\w.+:-]{0,127})::", re.MULTILINE)


def register_unknown(text: str) -> list[str]:
    """Register stand-ins for project-specific roles and directives used in ``text``.

    Unknown roles render as their text, unknown directives as their content. Returns the
    names of unknown directives, which the ingest reports as warnings.
    """
    from docutils.parsers.rst.languages import en

    unknown_directives = []
    for name in set(_ROLE_USE_RE.findall(text)):
        key = name.lower()
        if not _known("role", key) and key not in en.roles:
            roles.register_local_role(key, _TEXT_ROLE)
    for name in set(_DIRECTIVE_USE_RE.findall(text)):
        key = name.lower()
        if not _known("directive", key) and key not in en.directives:
            directives.register_directive(key, _Body)
            if not _describes_object(key):  # Sphinx's own: its signature is shown
                unknown_directives.append(name)
    return sorted(unknown_directives)
