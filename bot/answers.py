"""One question in, one Slack message out: kb's search, the Block Kit builders, the log."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any

from bot.blocks import MAX_ALTERNATIVES, Message, answer_message, error_message, no_answer_message
from kb.errors import FaqError
from kb.feedback import FeedbackStore
from kb.knowledge import KnowledgeBase

logger = logging.getLogger(__name__)


class Answers:
    """Answers questions from a knowledge base and records each answer for feedback."""

    def __init__(self, kb: KnowledgeBase, store: FeedbackStore | None) -> None:
        self.kb = kb
        self.store = store
        self._failing = False

    def reply(
        self,
        question: str,
        *,
        surface: str,
        asked: tuple[str, str] | None = None,
        shareable: bool = False,
    ) -> Message:
        """The message answering ``question``: the best entry, or a polite "no answer".

        A kb failure (no usable index) gives an apology message and is logged.
        """
        try:
            result = self.kb.search(question, k=1 + MAX_ALTERNATIVES)
        except FaqError:
            logger.exception("cannot search the FAQ")
            return error_message()
        answer_id = uuid.uuid4().hex
        best = result.hits[0].entry if result.answered else None
        self._record(answer_id, question, surface, result.band, best)
        if best is None:
            return no_answer_message(result, faq_pages=self.faq_pages())
        return answer_message(result, answer_id=answer_id, asked=asked, shareable=shareable)

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
            if not self._failing:
                logger.error("cannot record answers in %s: %s", self.store.path, error)
            self._failing = True
            return
        if self._failing:
            logger.warning("answers are recorded in %s again", self.store.path)
        self._failing = False
