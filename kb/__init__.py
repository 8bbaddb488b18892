"""faq-kb: answer questions from reStructuredText FAQs, with deep links to each answer.

The library in five lines::

    from kb import KnowledgeBase
    kb = KnowledgeBase()                       # the shipped FAQ; or KnowledgeBase(SourceSpec(...))
    result = kb.search("too many open files")
    best = result.hits[0].entry                # dict: title, url, answer, links …
    print(result.answered, best["title"], best["url"])
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from typing import Any

    from kb.errors import FaqError
    from kb.knowledge import KnowledgeBase
    from kb.search.query import Hit, SearchResult
    from kb.spec import SourceSpec

__all__ = ["FaqError", "Hit", "KnowledgeBase", "SearchResult", "SourceSpec"]

_HOMES = {
    "FaqError": "kb.errors",
    "KnowledgeBase": "kb.knowledge",
    "Hit": "kb.search.query",
    "SearchResult": "kb.search.query",
    "SourceSpec": "kb.spec",
}


def __getattr__(name: str) -> Any:
    # Lazy: `faq-search` imports this package first and must not pay for what it won't use.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
