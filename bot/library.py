"""Which knowledge base answers in which channel: all the FAQs, or the sources bound to it."""

from __future__ import annotations

import os
from collections.abc import Iterable

from kb.errors import FaqError
from kb.knowledge import KnowledgeBase


class Library:
    """The bot's knowledge bases: the default one, and one per distinct channel binding.

    ``bindings`` maps channel ids to source names (``FAQ_CHANNEL_SOURCES``); questions in
    such a channel search only those sources (kb's ``--only``), from an index of their own
    kept in a folder inside the default one.
    """

    def __init__(
        self, kb: KnowledgeBase, bindings: Iterable[tuple[str, tuple[str, ...]]] = ()
    ) -> None:
        self.default = kb
        self._by_names: dict[tuple[str, ...], KnowledgeBase] = {}
        self._by_channel: dict[str, KnowledgeBase] = {}
        for channel, names in bindings:
            if names not in self._by_names:
                self._by_names[names] = KnowledgeBase(
                    kb.spec.restricted(*names),
                    os.path.join(kb.index_dir, "only-" + "+".join(names)),
                    preload=kb.preload,
                    notify=kb.notify,
                    semantic=kb.semantic,
                )
            self._by_channel[channel] = self._by_names[names]

    def open(self) -> None:
        """Open (building if needed) every bound knowledge base.

        Raises:
            FaqError: a binding names no source of the FAQ, or its index cannot be built.
        """
        for names, kb in self._by_names.items():
            try:
                kb.open()
            except FaqError as error:
                raise FaqError(f"FAQ_CHANNEL_SOURCES ({'+'.join(names)}): {error}") from None

    def for_channel(self, channel: str | None) -> KnowledgeBase:
        """The knowledge base questions asked in ``channel`` are answered from."""
        return self._by_channel.get(channel or "", self.default)

    def bound(self) -> list[KnowledgeBase]:
        """The knowledge bases of channel bindings (not the default one)."""
        return list(self._by_names.values())
