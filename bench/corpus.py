"""Generate rst FAQ corpora of any size from real text, and the benchmark's fixed questions.

Nothing here is invented: every sentence, title, code block and URL is taken from real
text found offline on this machine, then recombined by paragraph and sentence:

* the FAQ sources in ``../shared/corpora`` (parsed with faq-kb's own ingest), included
  whole as real entries among the first thousand of every corpus;
* the docstrings and function sources of Python's standard library (read with ``ast``,
  nothing is imported);
* CMake's rst manual, the text, Markdown and rst files under ``/usr/share/doc`` and the
  licence texts under ``/usr/share/common-licenses`` (whatever of these is installed).

Entry ``i`` depends only on ``i`` and the pool, so the corpus of 1,000 entries is the first
tenth of the one of 10,000: questions drawn from the first thousand find answers at every
size. Usage::

    python -m bench.corpus --size 10000 --out bench/out/corpus-10000
    python -m bench.corpus --write-queries        # regenerate bench/queries.txt
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import os
import random
import re
import sys
import sysconfig
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
QUERIES_FILE = HERE / "queries.txt"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
EVAL_QUESTIONS = REPO / "eval" / "questions.jsonl"
BASE_URL = "https://faq.example.org/bench/"

# Bump when the extraction changes what the pool holds, or the generator what it writes:
# a cached pool or corpus of another version is rebuilt.
POOL_VERSION = 5
GENERATOR_VERSION = 3
ENTRIES_PER_FILE = 100
# Real FAQ entries go at every REAL_EVERY-th position until they are used up (~330 of
# them, so all within the first thousand entries).
REAL_EVERY = 3
# Shares of synthetic entries that get a code block / a hyperlink (the real FAQs in
# ../shared/corpora: about a quarter show code, a third link somewhere).
CODE_SHARE = 0.25
LINK_SHARE = 0.3
# Cap on what one file may contribute, so that one huge NEWS file does not dominate.
MAX_PARAGRAPHS_PER_FILE = 1500

_DOC_ROOTS = ("/usr/share/doc",)
_RST_ROOTS = ("/usr/share/cmake-*/Help",)
_LICENSES = "/usr/share/common-licenses"
_TEXT_NAME_RE = re.compile(r"(?i)^(readme|news|faq|history|usage|intro|overview)|\.(txt|md|rst)$")


# ---------------------------------------------------------------------------- cleaning

_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_ROLE_RE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`([^`]*)`")
_LITERAL_RE = re.compile(r"``([^`]+)``")
_REF_RE = re.compile(r"`([^`<]*?)\s*(?:<[^>`]*>)?`_{1,2}")
_INTERPRETED_RE = re.compile(r"`([^`]+)`")
_STRONG_RE = re.compile(r"\*\*([^*]+)\*\*")
_EMPH_RE = re.compile(r"(?<!\w)\*([^*\s][^*]*)\*(?!\w)")
_MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_REFLINK_RE = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_HTML_TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")
_URL_RE = re.compile(r"https?://[A-Za-z0-9][A-Za-z0-9\-._~/?#=&%+:@!$,;]*")
_BAD_CHARS_RE = re.compile(r"[`*|\\{}\x00-\x08\x0b-\x1f\x7f]")
# A word ending in "_" is an rst reference ("name_", "[1]_"); dunder names are fine.
_TRAILING_UNDERSCORE_RE = re.compile(r"(?<!\S)(?!__\w+__(?![\w]))\S*[^\s_]_{1,2}(?!\w)")
_PUNCT_RUN_RE = re.compile(r"(?<!\S)[^\w\s]{3,}(?!\S)")
_START_RE = re.compile(r"^[A-Z][a-z]+[\s,']")
_IDENT_RE = re.compile(
    r"(?<!\S)((?:[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+|[A-Za-z_]\w*_\w+)(?:\(\))?|[A-Za-z_]\w+\(\))"
    r"(?=[\s,;:)]|\.(?:\s|$)|$)"
)
_PLAIN_WORD_RE = re.compile(r"^[A-Za-z][a-z0-9]*$")
_IMPERATIVE = frozenset(
    "add apply build call change check close compare compute convert copy create decode "  # noqa: SIM905
    "delete encode find format get handle load make open parse print read register remove "
    "replace reset return run send set split start stop test update use wait write".split()
)


def strip_markup(text: str) -> str:
    """Plain text of a paragraph of rst or Markdown (roles, literals, links, emphasis)."""

    def role(match: re.Match[str]) -> str:
        inner = match.group(1)
        if "<" in inner:
            inner = inner.split("<", 1)[0]
        return inner.strip().lstrip("~!")

    text = _ROLE_RE.sub(role, text)
    text = _LITERAL_RE.sub(r"\1", text)
    text = _REF_RE.sub(r"\1", text)
    text = _INTERPRETED_RE.sub(r"\1", text)
    text = _STRONG_RE.sub(r"\1", text)
    text = _EMPH_RE.sub(r"\1", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_REFLINK_RE.sub(r"\1", text)
    text = _HTML_TAG_RE.sub("", text)
    text = text.replace("::", ":")
    return " ".join(text.split())


def clean_sentences(text: str) -> list[str]:
    """The sentences of a plain paragraph that are prose and safe to write back as rst."""
    out = []
    for sentence in _SENTENCE_SPLIT_RE.split(text):
        sentence = sentence.strip()
        words = sentence.split()
        if not 4 <= len(words) <= 60 or max(len(w) for w in words) > 60:
            continue
        if _BAD_CHARS_RE.search(sentence) or _TRAILING_UNDERSCORE_RE.search(sentence):
            continue
        if _PUNCT_RUN_RE.search(sentence) or sentence.startswith((":", "..", "_", "#")):
            continue
        letters = sum(c.isalpha() for c in sentence)
        if letters < 0.6 * len(sentence) or sentence.isupper():
            continue
        if sentence[-1] not in ".!?:;)\"'":
            continue  # a fragment (cut list item, table cell, heading)
        out.append(sentence)
    return out


def clean_paragraph(text: str) -> list[str]:
    """Sentences of a paragraph (markup stripped); it must open like prose, not like a list."""
    sentences = clean_sentences(strip_markup(text))
    while sentences and not _START_RE.match(sentences[0]):
        sentences.pop(0)
    return sentences


def clean_title(text: str) -> str | None:
    """A section title usable as an entry's question (ASCII, one line, starts with a word)."""
    text = strip_markup(text).strip().rstrip(".:")
    words = text.split()
    if not 1 <= len(words) <= 16 or len(text) > 110 or not text.isascii():
        return None
    if _BAD_CHARS_RE.search(text) or _TRAILING_UNDERSCORE_RE.search(text):
        return None
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]*[\s,'?]|^[A-Za-z][\w.-]*\w$", text + " "):
        return None
    if re.match(r"^[A-Za-z]{1,2}[.)]\s", text) or _PUNCT_RUN_RE.search(text):
        return None
    return text


def as_question(title: str) -> str:
    """Shape a docstring summary or a heading like a question, as FAQ titles are."""
    words = title.split()
    if len(words) == 1:
        return f"What is {title}?"
    first = words[0].lower()
    if first in _IMPERATIVE and words[0][0].isupper():
        return f"How do I {first} {' '.join(words[1:])}?"
    if first in {
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "can",
        "does",
        "do",
        "is",
        "are",
        "should",
        "will",
        "i",
        "my",
    } and not title.endswith("?"):
        return title + "?"
    return title


def clean_code(text: str) -> str | None:
    """A code block as it can be written back (tabs expanded, dedented, at most 15 lines)."""
    lines = [line.rstrip() for line in text.expandtabs(4).splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or len(lines) > 15:
        return None
    code = textwrap.dedent("\n".join(lines))
    if any(ord(c) < 32 and c != "\n" for c in code) or len(code) < 12:
        return None
    return code


def _urls(text: str) -> list[str]:
    found = []
    for url in _URL_RE.findall(text):
        url = url.rstrip(".,;:!?)'\"")
        if 12 <= len(url) <= 100 and not url.endswith("_") and "://" in url:
            found.append(url)
    return found


# ---------------------------------------------------------------------------- the pool


@dataclass
class Doc:
    """One section of real text: its heading (if any), prose paragraphs and code."""

    source: str
    title: str | None
    paras: list[list[str]] = field(default_factory=list)
    code: list[tuple[str, str]] = field(default_factory=list)  # (language, code)


@dataclass
class Pool:
    """All the real text a corpus is recombined from."""

    real: list[dict[str, object]]
    docs: list[Doc]
    code: list[tuple[str, str]]
    urls: list[str]
    categories: list[str]
    counts: dict[str, int]

    def digest(self) -> str:
        blob = json.dumps(
            [self.real, [d.__dict__ for d in self.docs], self.code, self.urls, self.categories],
            sort_keys=True,
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


_UNDERLINE_RE = re.compile(r"^([=\-~^\"'`#*+_.:<>])\1{2,}\s*$")
_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#\.)\s+")
_DIRECTIVE_RE = re.compile(r"^\.\.\s+(?:code-block|code|sourcecode)::\s*(\S*)")


def split_markup_doc(text: str, source: str, *, markdown: bool) -> list[Doc]:
    """Split rst, Markdown or plain text into sections of prose paragraphs and code."""
    docs = [Doc(source, None)]
    lines = text.replace("\r\n", "\n").split("\n")
    n = len(lines)
    i = 0
    block: list[str] = []
    expect_code = False  # the previous paragraph ended with '::' (rst literal block)
    code_lang = ""

    def flush() -> None:
        nonlocal block
        if block:
            _add_block(docs[-1], block)
        block = []

    while i < n:
        line = lines[i]
        stripped = line.strip()
        # Fenced code (Markdown).
        if markdown and stripped.startswith("```"):
            flush()
            lang = stripped.strip("`").strip() or "text"
            body = []
            i += 1
            while i < n and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            code = clean_code("\n".join(body))
            if code:
                docs[-1].code.append(("python" if lang.startswith("py") else "text", code))
            i += 1
            continue
        # Headings: Markdown '#', or a line with an underline (rst, setext, many READMEs).
        if markdown and re.match(r"^#{1,6}\s", line):
            flush()
            docs.append(Doc(source, clean_title(line.lstrip("#").strip())))
            i += 1
            continue
        if (
            stripped
            and i + 1 < n
            and _UNDERLINE_RE.match(lines[i + 1])
            and not line[0].isspace()
            and len(lines[i + 1].strip()) >= len(stripped) - 1
            and not _UNDERLINE_RE.match(line)
        ):
            flush()
            docs.append(Doc(source, clean_title(stripped)))
            i += 2
            continue
        if _UNDERLINE_RE.match(line):
            flush()
            i += 1
            continue
        directive = _DIRECTIVE_RE.match(stripped)
        if not line[:1].isspace() and (directive or stripped.startswith("..")):
            flush()
            expect_code = bool(directive)
            code_lang = (directive.group(1) if directive else "") or "text"
            i += 1
            # Skip the directive's options and, for non-code directives, its whole body.
            while i < n and (not lines[i].strip() or lines[i][:1].isspace()):
                if expect_code and lines[i].strip() and not lines[i].strip().startswith(":"):
                    break
                i += 1
            continue
        if stripped and line[:1].isspace() and not block:
            # An indented block: code after '::' (rst) or 4-space indent (Markdown).
            body = []
            while i < n and (not lines[i].strip() or lines[i][:1].isspace()):
                body.append(lines[i])
                i += 1
            if expect_code or (markdown and line.startswith("    ")):
                code = clean_code("\n".join(body))
                if code:
                    lang = "python" if code_lang.startswith("py") or ">>>" in code else "text"
                    docs[-1].code.append((lang, code))
            expect_code = False
            code_lang = ""
            continue
        if not stripped:
            flush()
            i += 1
            continue
        if _BULLET_RE.match(line) and block:
            flush()
        if block and line[:1].isspace() and not _BULLET_RE.match(block[0]):
            flush()  # a definition or an indented continuation of something else
            i += 1
            continue
        block.append(_BULLET_RE.sub("", line, count=1) if not block else line)
        if stripped.endswith("::"):
            expect_code, code_lang = True, "text"
        i += 1
    flush()
    return [d for d in docs if d.paras or d.code or d.title]


def _add_block(doc: Doc, block: list[str]) -> None:
    if len(doc.paras) >= MAX_PARAGRAPHS_PER_FILE:
        return
    sentences = clean_paragraph(" ".join(line.strip() for line in block))
    if sentences:
        doc.paras.append(sentences)


def _stdlib_docs() -> tuple[list[Doc], list[tuple[str, str]], list[str]]:
    """Docstrings (as titled sections) and small real functions of the standard library."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "site-packages",
        "dist-packages",
        "turtledemo",
        "ensurepip",
        "__phello__",
        "pydoc_data",
        "config-3",
    }
    docs: list[Doc] = []
    code: list[tuple[str, str]] = []
    categories: list[str] = []
    files = sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts[:-1]))
    for path in files:
        if any(part.startswith(("test", "config-")) for part in path.relative_to(root).parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            continue
        lines = source.splitlines()
        name = str(path.relative_to(root))
        module_doc = ast.get_docstring(tree)
        if module_doc:
            summary = clean_title(module_doc.strip().splitlines()[0])
            if summary and len(summary.split()) >= 2:
                categories.append(summary)
        for node in ast.walk(tree):
            if not isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                continue
            docstring = ast.get_docstring(node)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                snippet = clean_code("\n".join(lines[node.lineno - 1 : node.end_lineno]))
                if snippet and not node.name.startswith("_") and snippet.count("\n") >= 2:
                    code.append(("python", snippet))
            if not docstring:
                continue
            parts = docstring.strip().split("\n\n")
            head = parts[0].strip()
            title = clean_title(head) if "\n" not in head else None
            if title is None and isinstance(node, ast.ClassDef | ast.FunctionDef):
                title = clean_title(node.name) if len(node.name) > 3 else None
                body_parts = parts
            else:
                body_parts = parts[1:] if title else parts
            doc = Doc(name, as_question(title) if title else None)
            for part in body_parts:
                if ">>>" in part:
                    example = clean_code(part)
                    if example:
                        doc.code.append(("python", example))
                    continue
                indented = [ln for ln in part.splitlines()[1:] if ln[:1].isspace()]
                if indented or re.match(r"^\s*\w+\s*(--|:)\s", part):
                    continue  # argument lists and option tables, not prose
                _add_block(doc, part.splitlines())
            if doc.paras or doc.title:
                docs.append(doc)
    return docs, code, categories


_MAN_ESCAPES = [
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),
    (re.compile(r"\\\((?:aq|cq|oq)"), "'"),
    (re.compile(r"\\\((?:dq|lq|rq|Lq|Rq)"), '"'),
    (re.compile(r"\\\((?:em|en|mi|hy)"), "-"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]|\\\*(?:\(..|\[[^\]]*\]|.)|\\n(?:\(..|\[[^\]]*\]|.)"), ""),
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\[&|^,/c%]"), ""),
]
_MAN_SKIP_SECTIONS = {
    "NAME",
    "SYNOPSIS",
    "SEE ALSO",
    "AUTHOR",
    "AUTHORS",
    "COPYRIGHT",
    "REPORTING BUGS",
    "COLOPHON",
    "BUGS",
    "HISTORY",
    "LICENSE",
}
_MAN_BREAKS = {"PP", "P", "LP", "TP", "IP", "HP", "sp", "br", "in", "ti", "TQ", "RS", "RE"}
_MAN_FONTS = {"B", "I", "BI", "IB", "BR", "RB", "IR", "RI", "SM", "SB"}


def _man_unescape(line: str) -> str:
    for pattern, replacement in _MAN_ESCAPES:
        line = pattern.sub(replacement, line)
    return line


def man_doc(text: str, source: str) -> Doc | None:
    """One man page (``man`` macros, not ``mdoc``): NAME as the title, prose and examples."""
    if text.startswith(".so ") or "\n.Dd " in text or text.startswith(".Dd"):
        return None
    doc = Doc(source, None)
    section = ""
    para: list[str] = []
    code: list[str] = []
    nofill = False
    name_line = ""

    def flush() -> None:
        nonlocal para, name_line
        if para:
            if section == "NAME" and not name_line:
                name_line = " ".join(para)
            elif section not in _MAN_SKIP_SECTIONS:
                _add_block(doc, para)
        para = []

    def flush_code() -> None:
        nonlocal code
        snippet = clean_code("\n".join(code))
        if snippet and section not in _MAN_SKIP_SECTIONS:
            doc.code.append(("text", snippet))
        code = []

    for raw in text.splitlines():
        if raw.startswith(('.\\"', "'\\\"", '.\\"')):
            continue
        if raw[:1] in ".'":
            macro, _, arg = raw[1:].strip().partition(" ")
            if macro in ("SH", "SS"):
                flush()
                flush_code()
                section = arg.strip().strip('"').upper()
            elif macro in ("nf", "EX"):
                flush()
                nofill = True
            elif macro in ("fi", "EE"):
                flush_code()
                nofill = False
            elif macro in _MAN_BREAKS:
                flush()
            elif macro in _MAN_FONTS and arg:
                pieces = re.findall(r'"[^"]*"|\S+', arg)
                joiner = "" if len(macro) == 2 and macro not in ("SM", "SB") else " "
                para.append(_man_unescape(joiner.join(p.strip('"') for p in pieces)))
            continue
        line = _man_unescape(raw)
        if nofill:
            code.append(line)
        elif line.strip():
            para.append(line)
        else:
            flush()
    flush()
    flush_code()
    if " - " in name_line:
        summary = name_line.split(" - ", 1)[1].strip()
        title = clean_title(summary[:1].upper() + summary[1:])
        doc.title = as_question(title) if title else None
    return doc if doc.paras or doc.code else None


def _man_docs() -> list[Doc]:
    docs = []
    for folder in sorted(Path("/usr/share/man").glob("man[1-8]")):
        for path in sorted(folder.iterdir()):
            text = _read_text(path) if path.is_file() else None
            doc = man_doc(text, str(path)) if text else None
            if doc:
                docs.append(doc)
    return docs


def _dedupe(docs: list[Doc]) -> None:
    """Keep each sentence once (many packages ship the same NEWS, many pages the same help)."""
    seen: set[str] = set()
    for doc in docs:
        kept = []
        for para in doc.paras:
            fresh = [s for s in para if s not in seen]
            seen.update(fresh)
            while fresh and not _START_RE.match(fresh[0]):
                fresh.pop(0)
            if fresh:
                kept.append(fresh)
        doc.paras = kept


def _real_entries(corpora: Path) -> list[dict[str, object]]:
    """The entries of the real FAQs, as faq-kb's ingest reads them."""
    from kb.index.build import load_entries
    from kb.ingest.sources import resolve_sources
    from kb.spec import SourceSpec

    folders = sorted(str(p) for p in corpora.iterdir() if p.is_dir())
    entries, _ = load_entries(resolve_sources(SourceSpec(paths=tuple(folders))))
    real = []
    for entry in entries:
        title = clean_title(entry.title)
        if title is None:
            continue
        blocks: list[list[str]] = []
        for block in entry.blocks:
            if block.kind == "code":
                code = clean_code(block.text)
                if code:
                    blocks.append(["code", code])
            else:
                sentences = clean_paragraph(block.text)
                if sentences:
                    blocks.append(["item" if block.kind == "item" else "para", " ".join(sentences)])
        if blocks:
            links = [[ln.text, ln.url] for ln in entry.links if ln.url.startswith("http")]
            real.append(
                {"title": title, "blocks": blocks, "links": links, "breadcrumb": entry.breadcrumb}
            )
    return real


def collect_pool(corpora: Path = SHARED_CORPORA) -> Pool:
    """Read every source of real text on this machine into a pool (slow: use ``load_pool``)."""
    import glob

    counts: dict[str, int] = {}
    real = _real_entries(corpora)
    counts["shared/corpora FAQ entries"] = len(real)
    docs, code, categories = _stdlib_docs()
    counts["python stdlib docstring sections"] = len(docs)
    counts["python stdlib functions (code)"] = len(code)
    urls: list[str] = []
    for entry in real:
        urls.extend(url for _, url in entry["links"])  # type: ignore[attr-defined]
        categories.extend(entry["breadcrumb"])  # type: ignore[arg-type]
    text_files: list[tuple[Path, bool]] = []
    for pattern in _RST_ROOTS:
        for root in sorted(glob.glob(pattern)):
            text_files += [(p, False) for p in sorted(Path(root).rglob("*.rst"))]
    for root in _DOC_ROOTS:
        for p in sorted(Path(root).rglob("*")):
            name = p.name.removesuffix(".gz")
            if p.is_file() and _TEXT_NAME_RE.search(name) and "changelog" not in name.lower():
                text_files.append((p, name.endswith(".md")))
    if os.path.isdir(_LICENSES):
        text_files += [(p, False) for p in sorted(Path(_LICENSES).iterdir()) if p.is_file()]
    system_docs = 0
    for path, markdown in text_files:
        text = _read_text(path)
        if not text:
            continue
        urls.extend(_urls(text))
        for doc in split_markup_doc(text, str(path), markdown=markdown):
            if doc.title and len(doc.title.split()) >= 2 and not doc.paras:
                categories.append(doc.title)
            if doc.title:
                doc.title = as_question(doc.title)
            docs.append(doc)
            system_docs += 1
    counts["system docs sections (/usr/share/doc, cmake, licenses)"] = system_docs
    man = _man_docs()
    docs.extend(man)
    counts["man pages"] = len(man)
    _dedupe(docs)
    for doc in docs:
        code.extend(doc.code)
    urls = sorted(set(urls))
    categories = sorted({c for c in categories if clean_title(c) and len(c.split()) <= 10})
    counts["paragraphs"] = sum(len(d.paras) for d in docs)
    counts["sentences"] = sum(len(p) for d in docs for p in d.paras)
    counts["words"] = sum(len(s.split()) for d in docs for p in d.paras for s in p)
    counts["code blocks"] = len(code)
    counts["urls"] = len(urls)
    counts["categories"] = len(categories)
    return Pool(real, docs, code, urls, categories, counts)


def load_pool(*, quiet: bool = False) -> Pool:
    """The pool, read from its cache in bench/out when it is there."""
    cache = OUT / f"pool-v{POOL_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}.json"
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        docs = [
            Doc(d["source"], d["title"], d["paras"], [tuple(c) for c in d["code"]])
            for d in data["docs"]
        ]
        return Pool(
            data["real"],
            docs,
            [tuple(c) for c in data["code"]],
            data["urls"],
            data["categories"],
            data["counts"],
        )
    started = time.perf_counter()
    if not quiet:
        print("collecting real text (once; cached in bench/out)…", file=sys.stderr, flush=True)
    pool = collect_pool()
    OUT.mkdir(parents=True, exist_ok=True)
    blob = {
        "docs": [d.__dict__ for d in pool.docs],
        "real": pool.real,
        "code": pool.code,
        "urls": pool.urls,
        "categories": pool.categories,
        "counts": pool.counts,
    }
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(blob), encoding="utf-8")
    tmp.replace(cache)
    if not quiet:
        print(f"  pool ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return pool


# ---------------------------------------------------------------------------- generation


@dataclass
class GenEntry:
    """One generated FAQ entry, ready to be written as an rst section."""

    title: str
    blocks: list[tuple[str, str]]  # ("para" | "item" | "code:LANG", text)
    real: bool = False


class Generator:
    """Entry ``i`` of the infinite corpus; deterministic in ``i`` and the pool."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.bodies = [d for d in pool.docs if d.paras]
        self.titled = [d for d in self.bodies if d.title]
        self.order = list(range(len(self.titled)))
        random.Random("faq-kb bench order").shuffle(self.order)
        self.real_slots = len(pool.real) * REAL_EVERY

    def entry(self, i: int) -> GenEntry:
        if i < self.real_slots and i % REAL_EVERY == 0:
            return self._real(self.pool.real[i // REAL_EVERY])
        real_before = min(len(self.pool.real), -(-i // REAL_EVERY))
        return self._synthetic(i, i - real_before)

    def _real(self, item: dict[str, object]) -> GenEntry:
        blocks: list[tuple[str, str]] = []
        links = list(item["links"])  # type: ignore[call-overload]
        for kind, text in item["blocks"]:  # type: ignore[attr-defined]
            if kind == "code":
                blocks.append(
                    ("code:python" if ">>>" in text or "import " in text else "code:text", text)
                )
                continue
            for link_text, url in links:
                linked = _link(text, link_text, url)
                if linked != text:
                    text = linked
                    links.remove([link_text, url])
                    break
            blocks.append((kind, _literals(text)))
        return GenEntry(str(item["title"]), blocks, real=True)

    def _synthetic(self, i: int, j: int) -> GenEntry:
        rng = random.Random(f"faq-kb bench entry {i}")
        doc = self.titled[self.order[j % len(self.titled)]]
        cycle = j // len(self.titled)
        title = str(doc.title) if cycle == 0 else self._sentence_title(rng)
        paras: list[str] = []
        n_paras = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
        start = 0 if cycle == 0 else rng.randrange(len(doc.paras))
        for k in range(n_paras):
            if start + k >= len(doc.paras):
                break
            paras.append(self._window(rng, doc.paras[start + k], from_start=cycle == 0))
        if cycle > 0 or rng.random() < 0.35 or len(" ".join(paras).split()) < 25:
            other = rng.choice(self.bodies)
            paras.append(self._window(rng, rng.choice(other.paras), from_start=False))
        blocks: list[tuple[str, str]] = [("para", p) for p in paras]
        if rng.random() < LINK_SHARE and self.pool.urls:
            url = rng.choice(self.pool.urls)
            at = rng.randrange(len(blocks))
            blocks[at] = ("para", _link_somewhere(rng, blocks[at][1], url))
        blocks = [(kind, _literals(text)) for kind, text in blocks]
        if rng.random() < CODE_SHARE:
            lang, code = rng.choice(doc.code) if doc.code else rng.choice(self.pool.code)
            blocks.insert(rng.randrange(1, len(blocks) + 1), (f"code:{lang}", code))
        return GenEntry(title, blocks)

    @staticmethod
    def _window(rng: random.Random, sentences: list[str], *, from_start: bool) -> str:
        size = rng.randint(2, 6)
        start = (
            0 if from_start or len(sentences) <= size else rng.randrange(len(sentences) - size + 1)
        )
        chosen = sentences[start : start + size]
        if not _START_RE.match(chosen[0]):
            chosen = sentences[:size]
        return " ".join(chosen)

    def _sentence_title(self, rng: random.Random) -> str:
        for _ in range(50):
            doc = rng.choice(self.bodies)
            sentence = rng.choice(rng.choice(doc.paras))
            clause = re.split(r"[,;:(]", sentence)[0].strip().rstrip(".!?")
            words = clause.split()
            if 3 <= len(words) <= 14:
                title = clean_title(clause)
                if title:
                    return as_question(title)
        return "How do I " + " ".join(rng.choice(self.bodies).paras[0][0].split()[:6]).lower() + "?"

    def category(self, rng: random.Random) -> str:
        return rng.choice(self.pool.categories)


def _literals(text: str) -> str:
    """Mark identifiers (``os.path.join``, ``max_workers``) as inline code, as FAQs do."""
    return _IDENT_RE.sub(r"``\1``", text) if "`" not in text else text


def _link(text: str, link_text: str, url: str) -> str:
    """Turn the first plain occurrence of ``link_text`` into an anonymous hyperlink."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]{1,60}[A-Za-z0-9]", link_text) or "`" in text:
        return text
    match = re.search(rf"(?<=\s){re.escape(link_text)}(?=[\s,;.])", text)
    if not match or "<" in url or ">" in url or url.endswith("_"):
        return text
    return f"{text[: match.start()]}`{link_text} <{url}>`__{text[match.end() :]}"


def _link_somewhere(rng: random.Random, text: str, url: str) -> str:
    words = text.split(" ")
    spans = [
        k
        for k in range(1, len(words) - 3)
        if all(_PLAIN_WORD_RE.match(w) for w in words[k : k + 3])
    ]
    if not spans:
        return text
    k = rng.choice(spans)
    size = rng.choice((2, 3))
    link = f"`{' '.join(words[k : k + size])} <{url}>`__"
    return " ".join([*words[:k], link, *words[k + size :]])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _heading(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n\n"


def _fill(text: str) -> str:
    return textwrap.fill(text, width=79, break_long_words=False, break_on_hyphens=False)


def render_file(gen: Generator, file_no: int, first: int, last: int) -> str:
    """The rst text of one corpus file holding entries ``first`` .. ``last - 1``."""
    rng = random.Random(f"faq-kb bench file {file_no}")
    used: set[str] = set()

    def unique(title: str) -> str | None:
        slug = _slug(title)
        if not slug or slug in used or slug.isdigit():
            return None
        used.add(slug)
        return title

    file_title = None
    while file_title is None:
        file_title = unique(gen.category(rng))
    out = [_heading(file_title, "=")]
    next_category = first
    for i in range(first, last):
        if i >= next_category:
            category = None
            while category is None:
                category = unique(gen.category(rng))
            out.append(_heading(category, "-"))
            next_category = i + rng.randint(8, 25)
        entry = gen.entry(i)
        title = unique(entry.title)
        attempt = 0
        while title is None:
            attempt += 1
            title = unique(gen._sentence_title(random.Random(f"{i} retitle {attempt}")))
        out.append(_heading(title, "~"))
        for kind, text in entry.blocks:
            if kind.startswith("code:"):
                lang = kind.split(":", 1)[1]
                head = ".. code-block:: python\n\n" if lang == "python" else "::\n\n"
                out.append(head + textwrap.indent(text, "   ", lambda _: True) + "\n\n")
            elif kind == "item":
                out.append(
                    textwrap.fill(
                        text,
                        width=79,
                        initial_indent="- ",
                        subsequent_indent="  ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                    + "\n\n"
                )
            else:
                out.append(_fill(text) + "\n\n")
    return "".join(out)


def write_corpus(size: int, folder: Path, pool: Pool | None = None) -> dict[str, object]:
    """Write the first ``size`` entries as rst files into ``folder`` (reused if up to date).

    Returns the corpus stamp: size, files, bytes, versions and the pool digest.
    """
    pool = pool or load_pool()
    digest = pool.digest()
    stamp_path = folder / "corpus.json"
    if stamp_path.exists():
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        if (
            stamp.get("generator") == GENERATOR_VERSION
            and stamp.get("pool") == digest
            and stamp.get("size") == size
        ):
            return stamp
    gen = Generator(pool)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.rst"):
        old.unlink()
    total = 0
    sha = hashlib.sha256()
    files = 0
    for file_no, first in enumerate(range(0, size, ENTRIES_PER_FILE)):
        text = render_file(gen, file_no, first, min(first + ENTRIES_PER_FILE, size))
        data = text.encode("utf-8")
        (folder / f"faq{file_no:04d}.rst").write_bytes(data)
        sha.update(data)
        total += len(data)
        files += 1
    stamp = {
        "size": size,
        "files": files,
        "bytes": total,
        "generator": GENERATOR_VERSION,
        "pool": digest,
        "sha256": sha.hexdigest()[:16],
        "base_url": BASE_URL,
    }
    stamp_path.write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    return stamp


# ---------------------------------------------------------------------------- questions


def make_queries(pool: Pool, count_from_corpus: int = 78) -> list[str]:
    """The fixed questions: real users' questions (eval/), then titles and fragments.

    The eval set holds GitHub issue titles that real people asked about the FAQs of
    ../shared/corpora (all of which are entries of every corpus); the rest are titles and
    sentence fragments of the first thousand generated entries.
    """
    queries: list[str] = []
    if EVAL_QUESTIONS.exists():
        for line in EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                question = " ".join(json.loads(line)["question"].split())
                if question and question not in queries:
                    queries.append(question)
    from kb.analysis.tokens import tokenize

    gen = Generator(pool)
    rng = random.Random("faq-kb bench queries")
    synthetic = [e for e in (gen.entry(i) for i in range(1000)) if not e.real]

    def usable(query: str) -> bool:
        return (
            len(tokenize(query)) >= 2
            and query not in queries
            and not query.startswith(("#", "-", "["))
        )

    wanted = len(queries) + count_from_corpus // 2
    for entry in rng.sample(synthetic, len(synthetic)):
        if len(queries) >= wanted:
            break
        query = entry.title.rstrip("?")
        if usable(query):
            queries.append(query)
    wanted = len(queries) + count_from_corpus - count_from_corpus // 2
    for _ in range(100 * count_from_corpus):
        if len(queries) >= wanted:
            break
        entry = rng.choice(synthetic)
        paras = [t for k, t in entry.blocks if k == "para"]
        if not paras:
            continue
        sentence = rng.choice(_SENTENCE_SPLIT_RE.split(rng.choice(paras)))
        words = strip_markup(sentence).replace("`", "").split()
        if len(words) < 6:
            continue
        size = rng.randint(4, 9)
        start = rng.randrange(max(1, len(words) - size))
        query = " ".join(words[start : start + size]).strip(".,;:()")
        if len(tokenize(query)) >= 3 and usable(query):
            queries.append(query)
    return queries


def load_queries(path: Path = QUERIES_FILE) -> list[str]:
    """The benchmark's questions, one a line (``#`` lines are comments)."""
    return [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.corpus", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=int, help="entries to generate")
    parser.add_argument("--out", type=Path, help="folder to write (default bench/out/corpus-SIZE)")
    parser.add_argument("--write-queries", action="store_true", help=f"rewrite {QUERIES_FILE.name}")
    parser.add_argument("--stats", action="store_true", help="print what the pool holds")
    args = parser.parse_args(argv)
    pool = load_pool()
    if args.stats:
        for name, value in pool.counts.items():
            print(f"{name:>55}: {value:,}")
        print(f"{'pool digest':>55}: {pool.digest()}")
    if args.write_queries:
        queries = make_queries(pool)
        header = (
            "# faq-kb benchmark questions: one a line. Generated by `python -m bench.corpus"
            " --write-queries`\n# (real users' questions from eval/questions.jsonl, then"
            " titles and sentence fragments of the\n# first 1,000 generated entries)."
            " Kept fixed so that runs compare.\n"
        )
        QUERIES_FILE.write_text(header + "\n".join(queries) + "\n", encoding="utf-8")
        print(f"wrote {len(queries)} questions to {QUERIES_FILE}")
    if args.size:
        folder = args.out or OUT / f"corpus-{args.size}"
        started = time.perf_counter()
        stamp = write_corpus(args.size, folder, pool)
        print(
            f"{folder}: {stamp['size']:,} entries in {stamp['files']} files, "
            f"{int(stamp['bytes']) / 1e6:.1f} MB ({time.perf_counter() - started:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
