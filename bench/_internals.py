"""Every faq-kb name the benchmark uses beyond the public entry points, in one place.

The bench measures faq-kb through its commands (``faq-kb build``, ``faq-search``),
``kb.KnowledgeBase``, ``kb.index.build.build`` and the index folder's size on disk. A few
figures need more: the build's two phases, the field texts rank-bm25 and tantivy are given,
and faq-kb's own ranking of every entry for the exactness check. Those names are imported
here only, so that when the index format or a module changes, a rename is a one-line fix.
"""

from __future__ import annotations

from typing import Any

# kb.index.build's two phases, patched by name (``build()`` looks them up there) to time
# them: rst → prepared entries and tokens, then tokens → the index file.
BUILD_MODULE = "kb.index.build"
BUILD_PHASES = (("gather", "parse_s"), ("write_index", "index_s"))


def field_weights() -> tuple[list[str], dict[str, float], tuple[float, float, float]]:
    """The BM25 fields, their weights and (k1, b, delta)."""
    from kb.index import params

    names = list(params.FIELD_WEIGHTS)
    return names, dict(params.FIELD_WEIGHTS), (params.K1, params.B, params.DELTA)


def record_fields(record: dict[str, Any]) -> dict[str, str]:
    """The text of each BM25 field of a stored entry (a ``KnowledgeBase.entries()`` dict)."""
    from kb.index.build import field_texts
    from kb.models import Entry

    return field_texts(Entry.model_validate(record))


def query_tokens(question: str) -> list[str]:
    """The tokens faq-kb searches for a question (its own query normaliser if it has one)."""
    try:
        from kb.search.query import _query_tokens
    except ImportError:
        from kb.analysis.tokens import tokenize

        return tokenize(question)
    return _query_tokens(question)


def tokenize(text: str) -> list[str]:
    """faq-kb's index tokenizer (what rank-bm25 is given)."""
    from kb.analysis.tokens import tokenize as kb_tokenize

    return kb_tokenize(text)


def score_all(reader: Any, tokens: list[str]) -> Any:
    """faq-kb's BM25Plus score of every entry (``kb.search.query.score_all``)."""
    from kb.search.query import score_all as kb_score_all

    return kb_score_all(reader, tokens)
