"""Typography as Sphinx renders it (curly quotes, dashes), and questions typed straight."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kb.analysis.typography import plain_typography
from kb.knowledge import KnowledgeBase

FAQ = """\
FAQ
===

Why don't my workers start?
---------------------------

Check the "scheduler address" -- it must be reachable --- from every worker...

Run ``dask-worker "tcp://host:8786"`` as written.

How do I...
-----------

... restart a worker?
    Call ``client.restart()``.

... add a worker?
    Start another ``dask-worker``.
"""


def test_answers_read_as_sphinx_renders_them_and_code_is_untouched(
    tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    source = tmp_path / "faq.rst"
    source.write_text(FAQ)
    kb = make_kb(str(source))
    entry = kb.search("don't workers start", k=1).hits[0].entry
    assert entry["title"] == "Why don’t my workers start?"
    assert entry["source_title"] == "Why don't my workers start?"
    assert entry["answer"].startswith(
        "Check the “scheduler address” – it must be reachable — from every worker…"
    )
    assert 'dask-worker "tcp://host:8786"' in entry["answer"]  # literals stay as typed
    assert entry["url"].endswith("#why-don-t-my-workers-start")  # anchors as before


def test_straight_apostrophes_find_curly_titles(
    tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    source = tmp_path / "faq.rst"
    source.write_text(FAQ)
    kb = make_kb(str(source))
    for question in ("why don't my workers start", "why don’t workers start"):
        result = kb.search(question, k=1)
        assert result.hits[0].entry["title"] == "Why don’t my workers start?", question


def test_sphinx_style_how_do_i_lists_still_make_one_entry_each(
    tmp_path: Path, make_kb: Callable[..., KnowledgeBase]
) -> None:
    source = tmp_path / "faq.rst"
    source.write_text(FAQ)
    titles = [e["title"] for e in make_kb(str(source)).reader.entries()]
    assert titles[-2:] == ["How do I restart a worker?", "How do I add a worker?"]


def test_plain_typography_undoes_smart_quotes() -> None:
    assert plain_typography("“a” ‘b’ don’t – — …") == "\"a\" 'b' don't -- --- ..."
