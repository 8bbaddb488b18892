"""Ingest: real docutils over the real FAQ corpora and the shipped seed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.errors import SourceError
from kb.ingest.parse import parse_source
from kb.ingest.sources import Source
from tests.conftest import CORPORA, SEED_URL, needs_corpora

# Questions per file: sections with an answer of their own (plus Sphinx's definition-list
# Q&As); categories that only group questions are not counted.
ENTRY_COUNTS = {
    "cpython/design.rst": 28,
    "cpython/extending.rst": 17,
    "cpython/general.rst": 23,
    "cpython/gui.rst": 4,
    "cpython/index.rst": 0,
    "cpython/installed.rst": 3,
    "cpython/library.rst": 28,
    "cpython/programming.rst": 67,
    "cpython/windows.rst": 9,
    "dask/faq.rst": 22,  # with the question its introduction asks and answers
    "distributed/faq.rst": 6,
    "distributed/killed.rst": 6,
    "docutils/FAQ.rst": 42,
    "matplotlib/faq.rst": 16,
    "pandas/gotchas.rst": 12,
    "sklearn/faq.rst": 28,
    "sphinx/faq.rst": 21,
    "seaborn/faq.rst": 23,
    "cython/faq.rst": 43,  # its "How do I ...?" heading groups questions: not one
    "pylint/faq.rst": 15,  # with its two include-only answers
    "aiohttp/faq.rst": 15,
    "optuna/faq.rst": 27,
    "borgbackup/faq.rst": 74,
}
# The warnings each known FAQ is expected to give: includes of files faq-kb never reads.
_SKIPPED = '"include" of {} skipped: faq-kb never reads files named by a source.'
EXPECTED_WARNINGS = {
    "docutils/FAQ.rst": [f"FAQ.rst:1: warning: {_SKIPPED.format('docs/header0.rst')}"],
    "pylint/faq.rst": [
        f"faq.rst:10: warning: {_SKIPPED.format('short_text_installation.rst')}",
        f"faq.rst:15: warning: {_SKIPPED.format('short_text_contribute.rst')}",
    ],
    "borgbackup/faq.rst": [f"faq.rst:1: warning: {_SKIPPED.format('global.rst.inc')}"],
}
# What docutils writes when it cannot handle markup, and raw rst that should have been read.
ERROR_TEXT = re.compile(
    r"System Message|\((ERROR|WARNING|SEVERE)/\d\)|Unknown (interpreted text role|directive)"
    r"|No (role|directive) entry|Docutils System Messages"
)
ROLE_LEFTOVER = re.compile(r"(?<![`\w]):(func|meth|class|mod|ref|doc|exc|data|attr|term):`")


@needs_corpora
def test_every_corpus_file_builds_with_the_expected_entries(parsed_corpora: dict) -> None:
    """Known FAQs keep their entry counts; a file added to the corpora later only has to
    ingest without errors (the parse itself raising would fail the fixture)."""
    counts = {name: len(parsed.entries) for name, parsed in parsed_corpora.items()}
    missing = set(ENTRY_COUNTS) - set(counts)
    assert not missing, f"corpus files gone: {sorted(missing)}"
    assert {n: c for n, c in counts.items() if n in ENTRY_COUNTS} == ENTRY_COUNTS
    for name, parsed in parsed_corpora.items():
        assert parsed.errors == [], name
        if name not in ENTRY_COUNTS and not name.endswith("/index.rst"):
            assert parsed.entries, f"{name}: a new corpus file gives no entries"


@needs_corpora
def test_no_docutils_error_text_or_raw_roles_in_any_answer(parsed_corpora: dict) -> None:
    for name, parsed in parsed_corpora.items():
        for entry in parsed.entries:
            for block in entry.blocks:
                assert not ERROR_TEXT.search(block.text), (name, entry.id, block.text)
                assert not ERROR_TEXT.search(block.mrkdwn), (name, entry.id)
                if block.kind != "code":
                    assert not ROLE_LEFTOVER.search(block.text), (name, entry.id, block.text)


@needs_corpora
def test_known_faqs_warn_only_about_their_skipped_includes(parsed_corpora: dict) -> None:
    for name, parsed in parsed_corpora.items():
        if name not in ENTRY_COUNTS:
            continue  # a new file may warn (about an unknown directive, say)
        got = [str(p) for p in parsed.problems]
        wanted = EXPECTED_WARNINGS.get(name, [])
        assert len(got) == len(wanted), (name, got)
        for line, tail in zip(got, wanted, strict=True):
            assert line.endswith(tail), (name, line)


def _by_title(parsed_corpora: dict, name: str) -> dict:
    return {e.title: e for e in parsed_corpora[name].entries}


@needs_corpora
@pytest.mark.parametrize(
    ("name", "title", "url", "breadcrumb"),
    [
        (
            "cpython/programming.rst",
            "Why does -22 // 10 return -3?",
            "https://docs.python.org/3/faq/programming.html#why-does-22-10-return-3",
            ["Programming FAQ", "Numbers and strings"],
        ),
        (
            "cpython/programming.rst",
            "Why am I getting an UnboundLocalError when the variable has a value?",
            "https://docs.python.org/3/faq/programming.html"
            "#why-am-i-getting-an-unboundlocalerror-when-the-variable-has-a-value",
            ["Programming FAQ", "Core Language"],
        ),
        (
            "cpython/gui.rst",
            "What GUI toolkits exist for Python?",
            "https://docs.python.org/3/faq/gui.html#what-gui-toolkits-exist-for-python",
            ["Graphic User Interface FAQ"],
        ),
        (
            "sklearn/faq.rst",
            "Why does my job use more cores than specified with n_jobs?",
            "https://scikit-learn.org/stable/faq.html"
            "#why-does-my-job-use-more-cores-than-specified-with-n-jobs",
            ["Frequently Asked Questions", "Using scikit-learn"],
        ),
        (
            "distributed/killed.rst",
            "Why did my worker die?",
            "https://distributed.dask.org/en/stable/killed.html#why-did-my-worker-die",
            [],
        ),
        (
            "distributed/killed.rst",
            "Killed by Nanny",
            "https://distributed.dask.org/en/stable/killed.html#killed-by-nanny",
            ["Why did my worker die?", "Scenarios"],
        ),
        (
            "docutils/FAQ.rst",
            "Is nested inline markup possible?",
            "https://docutils.sourceforge.io/FAQ.html#is-nested-inline-markup-possible",
            ["Docutils FAQ (Frequently Asked Questions)", "reStructuredText"],
        ),
        (
            "sphinx/faq.rst",
            "How do I create PDF files without LaTeX?",
            "https://www.sphinx-doc.org/en/master/faq.html#how-do-i",
            ["Sphinx FAQ", "How do I…"],  # "..." as Sphinx renders it
        ),
        (
            "pandas/gotchas.rst",
            "Support for integer NA",
            "https://pandas.pydata.org/docs/user_guide/gotchas.html#support-for-integer-na",
            ["Frequently Asked Questions (FAQ)", "NaN, Integer NA values and NA type promotions"],
        ),
    ],
)
def test_titles_deep_links_and_breadcrumbs(
    parsed_corpora: dict, name: str, title: str, url: str, breadcrumb: list[str]
) -> None:
    entry = _by_title(parsed_corpora, name)[title]
    assert entry.url == url
    assert entry.breadcrumb == breadcrumb


@needs_corpora
def test_sectnum_numbers_never_reach_titles(parsed_corpora: dict) -> None:
    titles = [e.title for e in parsed_corpora["docutils/FAQ.rst"].entries]
    assert titles[0] == "What is Docutils?"
    assert not any(re.match(r"^\d", t) for t in titles)


@needs_corpora
def test_sphinx_definition_list_questions_become_entries(parsed_corpora: dict) -> None:
    titles = [e.title for e in parsed_corpora["sphinx/faq.rst"].entries]
    assert titles[:3] == [
        "How do I create PDF files without LaTeX?",
        "How do I get section numbers?",
        "How do I customize the look of the built HTML files?",
    ]
    assert "Using Sphinx with Read the Docs" in titles
    pdf = _by_title(parsed_corpora, "sphinx/faq.rst")["How do I create PDF files without LaTeX?"]
    assert pdf.source_title == "... create PDF files without LaTeX?"
    assert pdf.links[0].url == "https://github.com/brechtm/rinohtype"


@needs_corpora
def test_ipython_blocks_keep_the_pandas_example_code(parsed_corpora: dict) -> None:
    entry = _by_title(parsed_corpora, "pandas/gotchas.rst")["DataFrame memory usage"]
    code = [b.text for b in entry.blocks if b.kind == "code"]
    assert any("df.info()" in c for c in code)
    assert not any("@savefig" in c for c in code)


@needs_corpora
def test_sphinx_roles_render_as_text_and_links(parsed_corpora: dict) -> None:
    general = _by_title(parsed_corpora, "cpython/general.rst")
    numbering = general["How does the Python version numbering scheme work?"]
    assert "https://peps.python.org/pep-0006" in [link.url for link in numbering.links]
    programming = _by_title(parsed_corpora, "cpython/programming.rst")
    lambdas = programming[
        "Why do lambdas defined in a loop with different values all return the same result?"
    ]
    assert "lambda" in lambdas.answer
    killed = _by_title(parsed_corpora, "distributed/faq.rst")["KilledWorker, CommsClosed, etc."]
    assert [link.url for link in killed.links] == [
        "https://distributed.dask.org/en/stable/killed.html"
    ]


@needs_corpora
def test_relative_links_resolve_against_the_published_page(parsed_corpora: dict) -> None:
    what = _by_title(parsed_corpora, "docutils/FAQ.rst")[
        "How can I get a new feature into Docutils?"
    ]
    urls = [link.url for link in what.links]
    assert "https://docutils.sourceforge.io/docs/user/mailing-lists.html#docutils-develop" in urls
    assert all(u.startswith(("http://", "https://", "mailto:")) for u in urls)


def test_seed_entries_subparts_and_deep_links(seed_entries: dict) -> None:
    assert list(seed_entries) == [
        "how-do-i-use-external-modules",
        "maintain-consistent-environments",
        "temporary-installations",
        "send-source",
        "too-many-open-file-descriptors",
        "error-when-running-dask-worker-about-omp-num-threads",
        "does-dask-handle-data-locality",
        "permissionerror-errno-13-permission-denied-root-dask",
        "killedworker-commsclosed-etc",
    ]
    parent = seed_entries["how-do-i-use-external-modules"]
    send = seed_entries["send-source"]
    assert send.parent == parent.id == "distributed/how-do-i-use-external-modules"
    assert send.url == SEED_URL + "#send-source"
    assert send.breadcrumb == ["Frequently Asked Questions", "How do I use external modules?"]
    assert [b.text for b in parent.blocks if b.kind == "heading"] == [
        "Maintain consistent environments",
        "Temporary installations",
        "Send Source",
    ]
    omp = seed_entries["error-when-running-dask-worker-about-omp-num-threads"]
    assert omp.title == "Error when running dask-worker about OMP_NUM_THREADS"
    assert omp.source_title == "Error when running dask-worker about ``OMP_NUM_THREADS``"
    assert omp.source.path == "faq_source/distributed/faq.rst"
    assert omp.source.line == 86
    perm = seed_entries["permissionerror-errno-13-permission-denied-root-dask"]
    assert perm.title == "PermissionError [Errno 13] Permission Denied: `/root/.dask`"


def test_seed_links_resolve_to_real_urls(seed_entries: dict) -> None:
    consistent = seed_entries["maintain-consistent-environments"]
    assert [(link.text, link.url) for link in consistent.links] == [
        ("conda-pack", "https://conda.github.io/conda-pack/")
    ]
    send = seed_entries["send-source"]
    assert [link.url for link in send.links] == [
        "https://distributed.readthedocs.io/en/latest/api.html"
        "#distributed.executor.Executor.upload_file",
        "http://stackoverflow.com/questions/39295200/"
        "can-i-use-functions-imported-from-py-files-in-dask-distributed",
    ]
    perm = seed_entries["permissionerror-errno-13-permission-denied-root-dask"]
    assert perm.links[0].url == "http://supervisord.org/subprocess.html#subprocess-environment"
    fds = seed_entries["too-many-open-file-descriptors"]
    assert fds.links[0].url == (
        "http://www.cyberciti.biz/faq/linux-increase-the-maximum-number-of-open-files/"
    )
    assert "<https://conda.github.io/conda-pack/|conda-pack>" in "".join(
        b.mrkdwn for b in consistent.blocks
    )


def test_code_and_lists_are_kept_as_structure(seed_entries: dict) -> None:
    consistent = seed_entries["maintain-consistent-environments"]
    items = [b for b in consistent.blocks if b.kind == "item"]
    assert len(items) == 4
    assert items[1].text.startswith("conda-pack is a tool")
    locality = seed_entries["does-dask-handle-data-locality"]
    assert "`dask.dataframe.read_csv('hdfs:///path/to/files.*.csv')`" in "".join(
        b.mrkdwn for b in locality.blocks
    )


def _write(tmp_path: Path, text: str | bytes, name: str = "faq.rst") -> Source:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return Source("t", path, "https://example.org/faq.html")


def test_includes_and_raw_never_read_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    source = _write(
        tmp_path,
        "FAQ\n===\n\nQ?\n--\n\nA.\n\n.. include:: secret.txt\n\n"
        ".. raw:: html\n   :file: secret.txt\n\n.. raw:: html\n\n   <b>hi</b>\n",
    )
    parsed = parse_source(source)
    assert "SECRET" not in parsed.entries[0].answer
    assert "<b>" not in parsed.entries[0].answer
    assert [p.message for p in parsed.problems] == [
        '"include" of secret.txt skipped: faq-kb never reads files named by a source.'
    ]


def test_broken_rst_reports_file_and_line(tmp_path: Path) -> None:
    source = _write(tmp_path, "FAQ\n===\n\nQ?\n--\n\n* a list\nnot indented\n\n`open\n")
    parsed = parse_source(source)
    assert parsed.errors == []  # warnings only: docutils recovers
    bad = _write(
        tmp_path, "FAQ\n===\n\nQ?\n--\n\n.. list-table::\n\n   * not a list table\n", "bad.rst"
    )
    errors = parse_source(bad).errors
    assert errors and errors[0].line == 7
    assert "list-table" in errors[0].message


def test_unreadable_sources_raise_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="source file not found"):
        parse_source(Source("t", tmp_path / "missing.rst", "https://example.org/x.html"))
    latin = _write(tmp_path, "FAQ\n===\n\nCaf\xe9?\n----\n\nYes.\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"faq.rst:4: not UTF-8 text \(byte 0xe9\)"):
        parse_source(latin)
    junk = _write(tmp_path, b"\x00\x01\x02binary", "junk.rst")
    with pytest.raises(SourceError, match="binary data"):
        parse_source(junk)


def test_unknown_project_roles_and_directives_are_handled(tmp_path: Path) -> None:
    source = _write(
        tmp_path,
        "FAQ\n===\n\nQ?\n--\n\nUse :myrole:`thing` and :py:func:`~pkg.mod.run`.\n\n"
        ".. mydirective:: arg\n   :opt: 1\n\n   Body text.\n",
    )
    parsed = parse_source(source)
    (entry,) = parsed.entries
    assert entry.answer == "Use thing and run().\n\nBody text."
    assert [p.message for p in parsed.problems] == [
        'unknown directive "mydirective": its content is shown as text'
    ]


EMPTY_DIRECTIVES = """\
FAQ
===

How do I call it?
-----------------

Use the function:

.. autofunction:: mypkg.call

.. automodule:: mypkg

.. todo::

.. cpp:var:: int answer

.. note::

What else?
----------

Nothing.

.. only:: html
"""


def test_directives_with_no_body_are_text_or_nothing_never_a_crash(tmp_path: Path) -> None:
    """An empty ``only::`` at the end of a file, autodoc and domain directives with no
    content, an empty ``todo::``: once an IndexError that made whole real FAQs unusable."""
    path = tmp_path / "faq.rst"
    path.write_text(EMPTY_DIRECTIVES, encoding="utf-8")
    parsed = parse_source(Source("faq", path, "https://example.com/faq.html"))
    assert [e.title for e in parsed.entries] == ["How do I call it?", "What else?"]
    code = [b.text for b in parsed.entries[0].blocks if b.kind == "code"]
    assert code == ["mypkg.call", "mypkg", "int answer"]  # the signatures the page shows
    assert all(p.line for p in parsed.problems)


QUESTION_HEADINGS = """\
FAQ
===

Installing
----------

**How do I install the widget?**

Run ``pip install widget``.

*Which Python does it need?*

Python 3.9 or later.

Running
-------

.. rubric:: Why does the widget crash on start?

Check ``WIDGET_HOME``.

.. _slow:

.. rubric:: Why is it slow?

It is not.

More
----

.. topic:: Can I run it twice?

   Yes.

.. admonition:: Is it free?

   Yes, BSD.

Where are the logs?
-------------------

**Linux?**

In ``/var/log``.

**Windows?**

In the event log.

Other
-----

Some text, then a question in bold inside it: **why?** It is not a heading.

**What does it cost?**

Nothing.
"""


def test_questions_set_as_headings_become_entries(tmp_path: Path) -> None:
    """Some FAQs ask their questions as bold paragraphs, rubrics, topics or admonitions,
    not as section titles: two or more in a section make one entry each, with the answer
    that follows; a question section's own bold lines stay part of its answer."""
    parsed = parse_source(_write(tmp_path, QUESTION_HEADINGS))
    assert not [p for p in parsed.problems if p.level >= 2]
    got = {e.title: (e.url.split("#")[1], e.answer, e.breadcrumb) for e in parsed.entries}
    assert got["How do I install the widget?"] == (
        "installing",
        "Run pip install widget.",
        ["FAQ", "Installing"],
    )
    assert got["Which Python does it need?"][1] == "Python 3.9 or later."
    assert got["Why does the widget crash on start?"][:2] == ("running", "Check WIDGET_HOME.")
    assert got["Why is it slow?"][:2] == ("slow", "It is not.")  # its label is its deep link
    assert got["Can I run it twice?"][1] == "Yes."
    assert got["Is it free?"][1] == "Yes, BSD."
    assert "Linux?" not in got and "In the event log." in got["Where are the logs?"][1]
    assert "Other" in got and "What does it cost?" not in got  # one asked heading: an answer
    ids = [e.id for e in parsed.entries]
    assert len(ids) == len(set(ids)) == 8
    lines = {e.title: e.source.line for e in parsed.entries}
    assert lines["How do I install the widget?"] == 7
    assert lines["Why does the widget crash on start?"] == 18


def test_a_definition_list_of_whole_questions_keeps_them_as_they_are(tmp_path: Path) -> None:
    """Only a "How do I..." section's terms continue its title; under "FAQ" a term that is
    a whole question is the entry's title as it stands."""
    text = "FAQ\n===\n\nCan I run it twice?\n   Yes.\n\nIs it free?\n   Yes, BSD.\n"
    parsed = parse_source(_write(tmp_path, text))
    assert [e.title for e in parsed.entries] == ["Can I run it twice?", "Is it free?"]
    assert [e.answer for e in parsed.entries] == ["Yes.", "Yes, BSD."]


def test_questions_marked_q_and_lists_of_questions_become_entries(tmp_path: Path) -> None:
    """Paragraphs marked "**Q:** …?" (their "A:" dropped from the answer) and lists whose
    every item opens with a bold question; a list with one plain item stays an answer."""
    text = """\
FAQ
===

Marked
------

**Q:** How do I install the widget?

**A:** Run ``pip install widget``.

Q: Does it run on Windows?

A: Yes, and on macOS.

Listed
------

1. **Can I run it twice?**

   Yes.

2. **Is it free?**

   Yes, BSD.

Mixed
-----

* **Is this a question?**

  Yes.

* Just a point.

* **And this?**
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.url.split("#")[1]) for e in parsed.entries}
    assert got["How do I install the widget?"] == ("Run pip install widget.", "marked")
    assert got["Does it run on Windows?"] == ("Yes, and on macOS.", "marked")
    assert got["Can I run it twice?"] == ("Yes.", "listed")
    assert got["Is it free?"] == ("Yes, BSD.", "listed")
    assert set(got) == {
        "How do I install the widget?",
        "Does it run on Windows?",
        "Can I run it twice?",
        "Is it free?",
        "Mixed",
    }
    assert "Just a point." in got["Mixed"][0]
    assert len({e.id for e in parsed.entries}) == 5


def test_questions_set_as_dropdowns_tabs_and_other_titled_blocks_become_entries(
    tmp_path: Path,
) -> None:
    """sphinx-design's ``dropdown`` (with its options and ``:name:``), ``details``,
    ``collapse`` and any directive whose title asks: one entry each, the title the
    question; one such block alone in a section is its question too. A section titled
    "Q: …" loses the mark, and its answer a leading "**Answer:**"."""
    text = """\
FAQ
===

Installing
----------

.. dropdown:: How do I install the widget?
   :open:
   :name: install-widget

   Run ``pip install widget``.

.. details:: Can I use conda?

   Yes: ``conda install widget``.

.. collapse:: How do I upgrade?

   Run ``pip install -U widget``.

.. faq-entry:: Does it work offline?
   :icon: plug

   Yes.

Usage
-----

.. dropdown:: How do I change the colour?

   Set ``widget.colour``.

Q: How do I reset the settings?
-------------------------------

**Answer:** delete ``~/.widgetrc``.

Notes
-----

.. tab:: Linux

   Logs are in ``/var/log``.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.url.split("#")[1], e.source.line) for e in parsed.entries}
    assert got["How do I install the widget?"] == ("Run pip install widget.", "install-widget", 7)
    assert got["Can I use conda?"] == ("Yes: conda install widget.", "installing", 13)
    assert got["How do I upgrade?"][:2] == ("Run pip install -U widget.", "installing")
    assert got["Does it work offline?"][:2] == ("Yes.", "installing")
    assert got["How do I change the colour?"][:2] == ("Set widget.colour.", "usage")
    assert got["How do I reset the settings?"][:2] == (
        "delete ~/.widgetrc.",
        "q-how-do-i-reset-the-settings",
    )
    # A titled block that does not ask keeps its title in the answer, options left out.
    assert "Linux" in got["Notes"][0] and "/var/log" in got["Notes"][0]
    assert len(got) == 7
    assert [p.message for p in parsed.problems if "faq-entry" in p.message]  # still unknown


def test_options_of_directives_shown_as_text_are_read_as_options(tmp_path: Path) -> None:
    """``:suppress:`` hides an ipython block's setup code, as on the published page; an
    option is never shown as part of an argument or a title."""
    text = """\
How do I add a column?
======================

.. ipython:: python
   :suppress:

   import setup_module

.. ipython:: python

   df["b"] = 1

.. testcode::
   :hide:

   assert hidden_check()

.. only:: html
   :class: x

   Shown in HTML.
"""
    (entry,) = parse_source(_write(tmp_path, text)).entries
    assert "setup_module" not in entry.answer and "hidden_check" not in entry.answer
    assert 'df["b"] = 1' in entry.answer and "Shown in HTML." in entry.answer
    assert ":class:" not in entry.answer


def test_questions_inside_containers_and_tab_sets_become_entries(tmp_path: Path) -> None:
    """A ``container`` or sphinx-design's ``tab-set`` holding the questions is looked into,
    not taken for the section's introduction; layout-only directives raise no warning."""
    text = """\
FAQ
===

General
-------

.. container:: faq

   **How do I install it?**

   Run the installer.

   **Does it need admin rights?**

   No.

.. tab-set::

   .. tab-item:: Why is it slow on Windows?

      Antivirus scanning.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: e.answer for e in parsed.entries}
    assert got == {
        "How do I install it?": "Run the installer.",
        "Does it need admin rights?": "No.",
        "Why is it slow on Windows?": "Antivirus scanning.",
    }
    assert not parsed.problems


def test_absolute_doc_targets_link_into_the_sphinx_project_the_faq_belongs_to(
    tmp_path: Path,
) -> None:
    """``:doc:`/install``` names a page from the docs' root: the FAQ's place under the
    folder holding conf.py, and its published URL, say where that root is published."""
    text = "FAQ\n===\n\nHow do I install it?\n--------------------\n\nSee :doc:`/install` and\n"
    text += ":doc:`the setup guide </setup/index>`.\n"
    docs = tmp_path / "docs"
    (docs / "faq").mkdir(parents=True)
    (docs / "faq" / "general.rst").write_text(text, encoding="utf-8")
    page = "https://example.org/en/latest/faq/general.html"
    without = parse_source(Source("t", docs / "faq" / "general.rst", page)).entries[0]
    assert without.links == []  # no conf.py: where the root is published is unknown
    (docs / "conf.py").write_text("project = 'x'\n", encoding="utf-8")
    (entry,) = parse_source(Source("t", docs / "faq" / "general.rst", page)).entries
    assert [(link.text, link.url) for link in entry.links] == [
        ("install", "https://example.org/en/latest/install.html"),
        ("the setup guide", "https://example.org/en/latest/setup/index.html"),
    ]
    elsewhere = Source("t", docs / "faq" / "general.rst", "https://example.org/faq.html")
    assert parse_source(elsewhere).entries[0].links == []  # the URL does not end faq/general


def test_code_in_tabs_and_prompts_is_code(tmp_path: Path) -> None:
    """sphinx-tabs' ``code-tab`` and sphinx-prompt's ``prompt`` hold code: shown as code
    blocks, a tab's title kept above its content."""
    text = """\
How do I connect?
=================

.. tabs::

   .. code-tab:: python

      client = Client("tcp://host:8786")

   .. tab:: Shell

      .. prompt:: bash $

         dask-scheduler --port 8786
"""
    parsed = parse_source(_write(tmp_path, text))
    (entry,) = parsed.entries
    assert [b.kind for b in entry.blocks] == ["code", "paragraph", "code"]
    assert entry.answer.startswith('    client = Client("tcp://host:8786")')
    assert "Shell:" in entry.answer and not parsed.problems


def test_numbered_question_marks_and_glossaries(tmp_path: Path) -> None:
    """Numbered marks ("Q1.", "Question 2:") leave the title; a numbered "Answer 1:" stays,
    since it tells answers apart; Sphinx's ``glossary`` is read as its definition list,
    without a warning."""
    text = """\
FAQ
===

Q1. How do I install it?
------------------------

Answer 1: run pip.

Answer 2: use conda.

Question 2: Does it run on Windows?
-----------------------------------

Yes.

Terms
-----

.. glossary::

   What is a widget?
      A small thing.

   What is a gadget?
      A bigger thing.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.url.split("#")[1]) for e in parsed.entries}
    assert got["How do I install it?"] == (
        "Answer 1: run pip.\n\nAnswer 2: use conda.",
        "q1-how-do-i-install-it",
    )
    assert got["Does it run on Windows?"][0] == "Yes."
    assert got["What is a widget?"] == ("A small thing.", "terms")
    assert len(got) == 4 and not parsed.problems


def test_a_question_titled_group_of_questions_is_no_entry_and_bold_answer_marks_go(
    tmp_path: Path,
) -> None:
    """A section titled like a question ("How do I ...?") holding only questions, with
    rules between them (which docutils moves up into it), groups them: it is no entry of
    its own. A bold "**Answer**:" leaves the answer as "**Answer:**" does."""
    text = """\
FAQ
===

How do I ...?
-------------

How do I install it?
~~~~~~~~~~~~~~~~~~~~

**Answer**: run pip.

----------

How do I upgrade it?
~~~~~~~~~~~~~~~~~~~~

**A**: run ``pip install -U``.

----------

Why is it slow?
---------------

**Answer**: it is not.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.breadcrumb, e.parent) for e in parsed.entries}
    assert got == {
        "How do I install it?": ("run pip.", ["FAQ", "How do I …?"], None),
        "How do I upgrade it?": ("run pip install -U.", ["FAQ", "How do I …?"], None),
        "Why is it slow?": ("it is not.", ["FAQ"], None),
    }


@needs_corpora
def test_cython_questions_stand_alone_without_answer_marks() -> None:
    """Cython's FAQ: its "How do I ...?" group is no entry, and no answer starts "Answer:"."""
    assert CORPORA is not None
    path = CORPORA / "cython" / "faq.rst"
    entries = parse_source(Source("cython", path, "https://example.org/faq.html")).entries
    assert "How do I …?" not in {e.title for e in entries}
    pickle = next(e for e in entries if e.title == "How do I pickle cdef classes?")
    assert pickle.parent is None and pickle.answer.startswith("See ")
    assert not [e.title for e in entries if e.answer.startswith("Answer")]


def test_one_question_in_an_introduction_counts_when_both_marks_say_so(tmp_path: Path) -> None:
    """A page's introduction that asks one question marked "Question:" and answers it
    marked "Answer:" (Dask's FAQ) gives that entry; a marked question without a marked
    answer stays part of the introduction."""
    text = """\
FAQ
===

**Question**: *Is it ready for production?*

**Answer**: *Yes.* Banks use it.

Basics
------

How do I start?
~~~~~~~~~~~~~~~

Run it.

Usage
-----

Q: Is this page complete?

Not yet.

How do I stop?
~~~~~~~~~~~~~~

Press q.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.breadcrumb) for e in parsed.entries}
    assert got == {
        "Is it ready for production?": ("Yes. Banks use it.", ["FAQ"]),
        "How do I start?": ("Run it.", ["FAQ", "Basics"]),
        "How do I stop?": ("Press q.", ["FAQ", "Usage"]),
    }


def test_questions_in_q_and_a_fields_and_in_tables_become_entries(tmp_path: Path) -> None:
    """``:Q:``/``:A:`` field lists, a list-table headed "Question | Answer" and a grid
    table whose rows ask: one entry each, at the question's line, linked to the section
    (one marked pair alone in its section too); a table of anything else stays part of its
    section's answer."""
    text = """\
FAQ
===

General
-------

:Q: How do I install it?
:A: Run ``pip install widget``.

:Question: Does it work on Windows?
:Answer: Yes, since 2.0.

Tables
------

.. list-table::
   :header-rows: 1

   * - Question
     - Answer
   * - How do I upgrade?
     - Run ``pip install -U widget``.
   * - Where are the logs?
     - In ``~/.widget/log``.

+------------------+----------------------+
| Can I stop it?   | Yes: ``widget stop``.|
+------------------+----------------------+
| Is it fast?      | Fast enough.         |
+------------------+----------------------+

Options
-------

======  =======
Option  Default
======  =======
colour  red
======  =======

Support
-------

Write to us.

:Q: Is there paid support?
:A: Not yet.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.url.split("#")[1], e.source.line) for e in parsed.entries}
    assert got == {
        "How do I install it?": ("Run pip install widget.", "general", 7),
        "Does it work on Windows?": ("Yes, since 2.0.", "general", 10),
        "How do I upgrade?": ("Run pip install -U widget.", "tables", 21),
        "Where are the logs?": ("In ~/.widget/log.", "tables", 23),
        "Can I stop it?": ("Yes: widget stop.", "tables", 27),
        "Is it fast?": ("Fast enough.", "tables", 29),
        "Options": (got["Options"][0], "options", 32),
        "Is there paid support?": ("Not yet.", "support", 46),  # marked: one alone counts
    }
    assert "colour" in got["Options"][0] and not parsed.problems


def test_substitutions_defined_outside_the_page_read_as_their_names(tmp_path: Path) -> None:
    """``|igraph|`` defined by an include or Sphinx's rst_epilog (which faq-kb never reads)
    reads as "igraph", with one warning per name rather than an error per use."""
    text = """\
FAQ
===

.. |here| replace:: this page

I installed |project|. What now?
--------------------------------

Read |here| and the |project| docs for |version|.

Does |project| run on Windows?
------------------------------

Yes.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: e.answer for e in parsed.entries}
    assert got == {
        "I installed project. What now?": "Read this page and the project docs for version.",
        "Does project run on Windows?": "Yes.",
    }
    assert [(p.line, p.is_error) for p in parsed.problems] == [(6, False), (9, False)]
    assert "|project| is not defined in this file" in parsed.problems[0].message
    assert parsed.problems[0].message.endswith('shown as "project"')


def test_sphinx_built_in_directives_are_known(tmp_path: Path) -> None:
    """Sphinx's own directives warn of nothing: todos, classes, domains, authors and
    diagrams show nothing (as on the published page), object descriptions (``envvar``,
    ``option``) their signature and body, ``ifconfig`` and ``acks`` what they hold, a
    grammar as code."""
    text = """\
FAQ
===

Where does it keep its files?
-----------------------------

In its home.

.. envvar:: WIDGET_HOME

   Where it lives.

.. todo:: explain more

.. todolist::

.. cssclass:: big

.. default-domain:: py

.. moduleauthor:: Jane Author

.. program:: widget

.. option:: --home DIR

   Another home.

.. graphviz::

   digraph { home -> widget }

.. inheritance-diagram:: widget.Home

.. ifconfig:: release > '2'

   Since 2.0, also ``~/.config/widget``.

.. productionlist::
   home: "~" path
"""
    parsed = parse_source(_write(tmp_path, text))
    (entry,) = parsed.entries
    assert not parsed.problems
    assert [b.text for b in entry.blocks if b.kind == "code"] == [
        "WIDGET_HOME",
        "--home DIR",
        'home: "~" path',
    ]
    for shown in ("Where it lives.", "Another home.", "Since 2.0, also ~/.config/widget."):
        assert shown in entry.answer
    for hidden in ("explain more", "digraph", "Jane", "widget.Home", "big"):
        assert hidden not in entry.answer


def test_default_role_cross_reference_marks_read_as_sphinx_shows_them(tmp_path: Path) -> None:
    """Text in the default role is a cross-reference under Sphinx (``default_role = "obj"``):
    ```!psycopg2``` reads "psycopg2", ```~.axes.Axes``` reads "Axes" (psycopg2's and
    Matplotlib's FAQs)."""
    text = """\
FAQ
===

Why does `!psycopg2` leave sessions idle?
-----------------------------------------

Because `~.axes.Axes` and `~pkg.run()` say so, and `plain` stays.
"""
    (entry,) = parse_source(_write(tmp_path, text)).entries
    assert entry.title == "Why does psycopg2 leave sessions idle?"
    assert entry.answer == "Because Axes and run() say so, and plain stays."


def test_questions_set_a_level_too_deep_stand_alone(tmp_path: Path) -> None:
    """Sub-sections of a question most of which ask are questions of their own (PyTables'
    FAQ sets a dozen under "Where can PyTables be applied?"): each answers alone and the
    question above answers with its own text. Few asking parts stay parts of the answer."""
    text = """\
FAQ
===

Where can it be applied?
========================

Anywhere.

Is it safe?
-----------

Yes.

Is it fast?
-----------

Very.

Cool! Show me examples.
-----------------------

See the gallery.

The disk is full. What now?
===========================

Free some space.

Deleting archives
-----------------

Delete the old ones.

How to avoid it next time?
--------------------------

Watch the disk.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: (e.answer, e.parent) for e in parsed.entries}
    assert got["Where can it be applied?"] == ("Anywhere.", None)
    assert got["Is it safe?"] == ("Yes.", None)
    assert got["Cool! Show me examples."] == ("See the gallery.", None)
    full = got["The disk is full. What now?"][0]
    assert "Delete the old ones." in full and "Watch the disk." in full
    parent = next(e.id for e in parsed.entries if e.title == "The disk is full. What now?")
    assert got["How to avoid it next time?"][1] == parent


def test_bold_questions_broken_by_code_are_headings(tmp_path: Path) -> None:
    """A question set in bold around inline code (``**Why use** :meth:`verify` **?**``,
    Passlib's FAQ), as the first paragraph of each list item, is one entry each."""
    text = """\
Frequently Asked Questions
==========================

Some words first.

* **Calling** :meth:`Hash.hash` **twice gives two results! What's going on?**

  Each call makes a new salt.

* **How do I decrypt the hashes?**

  You can't.

* **Why use** ``verify()`` **instead of comparing hashes?**

  It is safe against timing attacks.
"""
    parsed = parse_source(_write(tmp_path, text))
    got = {e.title: e.answer for e in parsed.entries}
    assert got == {
        "Calling Hash.hash() twice gives two results! What’s going on?": (
            "Each call makes a new salt."
        ),
        "How do I decrypt the hashes?": "You can’t.",
        "Why use verify() instead of comparing hashes?": "It is safe against timing attacks.",
    }


def test_references_to_targets_defined_elsewhere_read_as_their_text(tmp_path: Path) -> None:
    """A link whose target this file lacks reads as its text, still an error (a typo, or
    rst_epilog's); a citation of a bibliography on another page (pysam's FAQ) reads as
    "[Li.2009]" with a warning, as Sphinx finds citations on every page."""
    text = """\
FAQ
===

How should I cite it?
---------------------

Cite [Li.2009]_ and use the latest python_ or `the docs`_.
"""
    parsed = parse_source(_write(tmp_path, text))
    (entry,) = parsed.entries
    assert entry.answer == "Cite [Li.2009] and use the latest python or the docs."
    assert [(p.line, p.is_error, p.message) for p in parsed.problems] == [
        (7, True, 'Unknown target name: "python".'),
        (7, True, 'Unknown target name: "the docs".'),
        (
            7,
            False,
            "citation [Li.2009] is not defined in this file (Sphinx finds citations on "
            "other pages)",
        ),
    ]
