#!/usr/bin/env python3
"""Validate eval/questions.jsonl against the FAQ corpora.

Checks (stdlib + docutils only):
  * every line is a JSON object with exactly the required keys and sane types;
  * ``source`` is one of the known projects, ``split`` is tune/heldout,
    ``url`` is an http(s) URL, questions are unique;
  * every title in ``answers`` occurs as a section-title line (or, for the
    Sphinx FAQ, a definition-list term) of that project's corpus file(s),
    and is an entry, not a category (a section that only groups sub-sections);
  * ``anchors`` holds docutils.nodes.make_id(<plain text of the title>) for
    every section-title answer (definition-list terms may have no anchor);
  * off-topic questions have ``answers == []`` and ``anchors == []``;
  * ``split`` follows the deterministic rule.  Batch 1 (lines without a
    ``batch`` key): within each (source, answerable/off-topic) group of batch-1
    lines, order the questions by the SHA-1 hex digest of their UTF-8 text;
    even positions (0, 2, ...) are "tune", odd are "heldout".  Batch 2 (lines
    with ``"batch": 2``): "tune" if int(sha1(question), 16) is even, else
    "heldout" (independent of the other lines).  Batch 3 (``"batch": 3``,
    the seaborn, cython, pylint, aiohttp, optuna and borgbackup FAQs): the
    batch-1 stratified alternation, computed over batch-3 lines only;
  * questions and URLs are unique across the whole file; batches appear in
    order (batch-1 lines first, then batch 2, then batch 3).

Usage: python3 eval/check_labels.py [questions.jsonl]
Exit status 0 when everything passes; the problems are printed otherwise.
"""
import hashlib
import json
import os
import sys
from collections import Counter

import docutils.core
import docutils.nodes as nodes
from docutils.parsers.rst import roles

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = "/work/shared/corpora"
SEED = "/work/shared/seed/faq.rst"

# Files whose titles may be used per source.  distributed is labelled against
# the shipped seed (older faq.rst revision) plus killed.rst.
SOURCES = {
    "distributed": [SEED, f"{CORPORA}/distributed/killed.rst"],
    "cpython": [f"{CORPORA}/cpython/{n}.rst" for n in
                ("general", "programming", "design", "library", "extending",
                 "windows", "gui", "installed")],
    "sphinx": [f"{CORPORA}/sphinx/faq.rst"],
    "docutils": [f"{CORPORA}/docutils/FAQ.rst"],
    "sklearn": [f"{CORPORA}/sklearn/faq.rst"],
    "dask": [f"{CORPORA}/dask/faq.rst"],
    "matplotlib": [f"{CORPORA}/matplotlib/faq.rst"],
    "pandas": [f"{CORPORA}/pandas/gotchas.rst"],
    # batch 3: six more FAQs, labelled against the corpus copies
    "seaborn": [f"{CORPORA}/seaborn/faq.rst"],
    "cython": [f"{CORPORA}/cython/faq.rst"],
    "pylint": [f"{CORPORA}/pylint/faq.rst"],
    "aiohttp": [f"{CORPORA}/aiohttp/faq.rst"],
    "optuna": [f"{CORPORA}/optuna/faq.rst"],
    "borgbackup": [f"{CORPORA}/borgbackup/faq.rst"],
}
REQUIRED = ("question", "answers", "anchors", "source", "url", "split")
OPTIONAL = ("batch",)
BATCHES = (2, 3)


def _generic_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """Render any Sphinx-only role as its text (strip `<target>`, ~ and !)."""
    if text.endswith(">") and "<" in text:
        text = text[: text.rindex("<")].rstrip() or text
    text = text.lstrip("~!")
    return [nodes.literal(rawtext, text)], []


_SPHINX_ROLES = ("doc ref func meth mod class term keyword exc data attr file envvar "
                 "program kbd menuselection confval rst:dir py:mod c:func c:data "
                 "newsgroup source issue rc abbr obj").split()


def _register_roles():
    for r in _SPHINX_ROLES:
        roles.register_local_role(r, _generic_role)


def parse(path):
    """Return {raw title text: (plain text, id or None, is_category)}."""
    _register_roles()
    with open(path, encoding="utf-8") as f:
        src = f.read()
    doctree = docutils.core.publish_doctree(
        src, source_path=path,
        settings_overrides={
            "report_level": 5, "halt_level": 5, "warning_stream": False,
            "file_insertion_enabled": False, "doctitle_xform": False,
            "sectsubtitle_xform": False, "raw_enabled": False,
        })
    out = {}
    for sec in doctree.findall(nodes.section):
        title = sec[0]
        if not isinstance(title, nodes.title):
            continue
        # drop section numbers added by ``.. sectnum::``
        plain = "".join(t.astext() for t in title.findall(nodes.Text)
                        if not any(isinstance(p, nodes.generated)
                                   for p in _ancestors(t, title)))
        plain = plain.strip()
        body = [c for c in sec.children[1:]
                if not isinstance(c, (nodes.section, nodes.target, nodes.comment,
                                      nodes.system_message, nodes.substitution_definition))]
        out[title.rawsource.strip()] = (plain, nodes.make_id(plain), not body)
    for term in doctree.findall(nodes.term):
        out.setdefault(term.rawsource.strip(), (term.astext().strip(), None, False))
    return out


def _ancestors(node, stop):
    p = node.parent
    while p is not None and p is not stop:
        yield p
        p = p.parent


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(HERE, "questions.jsonl")
    titles = {}
    for src, files in SOURCES.items():
        merged = {}
        for f in files:
            merged.update(parse(f))
        titles[src] = merged

    errors = []
    seen = Counter()
    seen_url = Counter()
    last_new = None
    last_batch = 1
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                errors.append(f"line {n}: empty line")
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: invalid JSON ({e})")
                continue
            if not isinstance(rec, dict) or not (
                    set(REQUIRED) <= set(rec) <= set(REQUIRED) | set(OPTIONAL)):
                errors.append(f"line {n}: keys must be {REQUIRED} plus optional {OPTIONAL}")
                continue
            if "batch" in rec and (rec["batch"] not in BATCHES or isinstance(rec["batch"], bool)):
                errors.append(f"line {n}: bad batch {rec['batch']!r} (allowed {BATCHES})")
                continue
            rec["_line"] = n
            if "batch" in rec:
                last_new = n if last_new is None else last_new
                if rec["batch"] < last_batch:
                    errors.append(f"line {n}: batch-{rec['batch']} line after a batch-{last_batch} line "
                                  "(append new lines at the end)")
                last_batch = max(last_batch, rec["batch"])
            elif last_new is not None:
                errors.append(f"line {n}: batch-1 line after a later-batch line (append new lines at the end)")
            seen_url[rec.get("url")] += 1
            q, ans, anc, src = rec["question"], rec["answers"], rec["anchors"], rec["source"]
            if not isinstance(q, str) or not q.strip():
                errors.append(f"line {n}: empty question")
            seen[q] += 1
            if src not in SOURCES:
                errors.append(f"line {n}: unknown source {src!r}")
                continue
            if rec["split"] not in ("tune", "heldout"):
                errors.append(f"line {n}: bad split {rec['split']!r}")
            if not (isinstance(rec["url"], str) and rec["url"].startswith(("http://", "https://"))):
                errors.append(f"line {n}: bad url")
            if not (isinstance(ans, list) and isinstance(anc, list)
                    and all(isinstance(a, str) for a in ans + anc)):
                errors.append(f"line {n}: answers/anchors must be lists of strings")
                continue
            if len(set(ans)) != len(ans):
                errors.append(f"line {n}: duplicate answer titles")
            expected = []
            for a in ans:
                hit = titles[src].get(a)
                if hit is None:
                    errors.append(f"line {n}: {a!r} is not a title/term in the {src} corpus")
                    continue
                plain, ident, is_cat = hit
                if is_cat:
                    errors.append(f"line {n}: {a!r} is a category, not an entry")
                if ident:
                    expected.append(ident)
            if not ans and anc:
                errors.append(f"line {n}: off-topic question must have no anchors")
            if ans and sorted(anc) != sorted(expected):
                errors.append(f"line {n}: anchors {anc} != expected {expected}")
            rows.append(rec)
    for q, c in seen.items():
        if c > 1:
            errors.append(f"duplicate question ({c}x): {q!r}")
    for u, c in seen_url.items():
        if c > 1:
            errors.append(f"duplicate url ({c}x): {u!r}")

    # batch 2: split from the question's own hash (parity of the SHA-1 integer)
    for r in rows:
        if r.get("batch") == 2:
            h = int(hashlib.sha1(r["question"].encode("utf-8")).hexdigest(), 16)
            want = "tune" if h % 2 == 0 else "heldout"
            if r["split"] != want:
                errors.append(f"line {r['_line']}: split of batch-2 question {r['question']!r} "
                              f"is {r['split']}, rule says {want}")

    # batch 1 (no "batch" key) and batch 3: stratified alternation, each batch
    # computed over its own lines only (batch 1 unchanged)
    for batch in (None, 3):
        groups = {}
        for r in rows:
            if r.get("batch") != batch:
                continue
            groups.setdefault((r["source"], bool(r["answers"])), []).append(r)
        for g in groups.values():
            g.sort(key=lambda r: hashlib.sha1(r["question"].encode("utf-8")).hexdigest())
            for i, r in enumerate(g):
                want = "tune" if i % 2 == 0 else "heldout"
                if r["split"] != want:
                    errors.append(f"split of {r['question']!r} is {r['split']}, rule says {want}")

    # summary
    print(f"{len(rows)} questions checked")
    for label, sel in (("all", lambda r: True),
                       ("batch 1", lambda r: "batch" not in r),
                       ("batch 2", lambda r: r.get("batch") == 2),
                       ("batch 3", lambda r: r.get("batch") == 3)):
        sub = [r for r in rows if sel(r)]
        tab = Counter((r["source"], "answerable" if r["answers"] else "off-topic", r["split"])
                      for r in sub)
        print(f"{label}: {len(sub)}")
        for src in SOURCES:
            parts = [f"{kind}/{split}={tab[(src, kind, split)]}"
                     for kind in ("answerable", "off-topic") for split in ("tune", "heldout")
                     if tab[(src, kind, split)]]
            if parts:
                print(f"  {src:11s} " + "  ".join(parts))
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
