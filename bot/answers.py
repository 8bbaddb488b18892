"""One question in, one Slack message out: kb's search, the Block Kit builders, the log."""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from typing import Any

from bot.blocks import (
    MAX_ALTERNATIVES,
    Message,
    answer_message,
    error_message,
    no_answer_message,
    small_talk_message,
)
from bot.buttons import Feedback
from bot.escalate import Escalation
from bot.library import Library
from bot.question import searchable
from bot.state import Shown
from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.learn.feedback import FeedbackStore
from kb.maintain.overview import focused_alternatives
from kb.search.lookup import result_of
from kb.search.query import SearchResult
from kb.search.smalltalk import small_talk

logger = logging.getLogger(__name__)
# Hits asked of kb: the best, its alternatives, and spares for when several FAQs compete.
_SEARCH_K = 3 * (1 + MAX_ALTERNATIVES)


class Answers:
    """Answers questions from the knowledge bases and records each answer for feedback."""

    def __init__(
        self,
        kb: KnowledgeBase | Library,
        store: FeedbackStore | None,
        *,
        escalation: Escalation | None = None,
        command: str = "/faq",
    ) -> None:
        self.library = kb if isinstance(kb, Library) else Library(kb)
        self.kb = self.library.default
        self.store = store
        self.escalation = escalation
        self.command = command
        self._failing = False
        self._failing_lock = threading.Lock()

    def reply(
        self,
        question: str,
        *,
        surface: str,
        asked: tuple[str, str] | None = None,
        shareable: bool = False,
        channel: str | None = None,
    ) -> Message:
        """The message answering ``question``: the best entry, or a polite "no answer".

        Small talk ("hi", "thanks", "?") gets a short reply, not a search. A kb failure
        (no usable index) gives an apology message and is logged.
        """
        kind = small_talk(question)
        if kind is not None:
            return small_talk_message(kind, self.command)
        kb = self.library.for_channel(channel)
        try:
            result = kb.search(searchable(question), k=_SEARCH_K)
            result.query = question  # shown back as the asker wrote it (escaped)
        except FaqError:
            logger.exception("cannot search the FAQ")
            return error_message()
        answer_id = uuid.uuid4().hex
        best = result.hits[0].entry if result.answered else None
        self._record(answer_id, question, surface, result.band, best)
        hits = focused_alternatives(result.hits, 1 + MAX_ALTERNATIVES)
        band = result.band if result.band in ("answer", "suggest") else "none"
        shown = Shown(
            answer_id,
            question,
            tuple(h.entry["id"] for h in hits) if band != "none" else (),
            "answer" if band == "answer" else "suggest" if band == "suggest" else "none",
            surface,
        )
        result = SearchResult(result.query, result.tokens, hits, result.band)
        return self.render(shown, result=result, asked=asked, shareable=shareable, kb=kb)

    def render(
        self,
        shown: Shown,
        *,
        result: SearchResult | None = None,
        asked: tuple[str, str] | None = None,
        shareable: bool = False,
        feedback: Feedback | None = None,
        shared_by: str | None = None,
        channel: str | None = None,
        kb: KnowledgeBase | None = None,
    ) -> Message:
        """The message for ``shown``: drawn again from the entries it names (no search)."""
        kb = kb or self.library.for_channel(channel)
        if result is None:
            band = "answer" if shown.kind == "answer" else shown.kind
            result = result_of(kb.reader, shown.question, list(shown.ids), band)
        label = self.escalation.label if self.escalation else None
        several = len(kb.reader.fingerprint.get("sources", [])) > 1
        if shown.kind != "answer" or not result.hits:
            return no_answer_message(
                result,
                faq_pages=kb.reader.pages(),
                shown=shown,
                escalate_label=label,
                name_sources=several,
            )
        return answer_message(
            result,
            shown=shown,
            asked=asked,
            shareable=shareable,
            feedback=feedback,
            escalate_label=label,
            name_sources=several,
            shared_by=shared_by,
        )

    def faq_pages(self) -> list[str]:
        """The published pages of the FAQ (for "browse the whole FAQ")."""
        return self.kb.reader.pages()

    def _record(
        self, answer_id: str, question: str, surface: str, band: str, best: dict[str, Any] | None
    ) -> None:
        if self.store is None:
            return
        try:
            self.store.record_answer(
                answer_id,
                question,
                surface=surface,
                band=band,
                entry_id=best["id"] if best else None,
                entry_title=best["title"] if best else None,
            )
        except sqlite3.Error as error:
            # Losing a log line must not lose the asker's answer, nor flood the log: the
            # first failure of a run is logged, then nothing until an answer is recorded.
            # Answers are recorded from several threads at once, hence the lock.
            if self._now_failing(True):
                logger.error("cannot record answers in %s: %s", self.store.path, error)
            return
        if self._now_failing(False):
            logger.warning("answers are recorded in %s again", self.store.path)

    def _now_failing(self, failing: bool) -> bool:
        """Set whether recording fails; True if that changed it (only one thread sees True)."""
        with self._failing_lock:
            changed = self._failing != failing
            self._failing = failing
        return changed
