"""``faq-kb watch --json``: rebuild whenever a source changes, one JSON event a line.

Events (each with ``event`` and ``time``, UTC): ``watching`` (files, entries, index),
``rebuilt`` (entries, seconds, files), ``failed`` (errors; the previous index stays in
use), ``unchanged`` (files touched whose content is what the index holds), ``stopped``.
Notes and warnings from a rebuild ride along as ``notes``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from kb.cli.progress import Progress
from kb.errors import FaqError
from kb.knowledge import KnowledgeBase
from kb.spec import SourceSpec

_State = dict[str, tuple[int, int]]


def _state(kb: KnowledgeBase) -> _State:
    """Size and mtime of every file and folder the index in use was built from."""
    fingerprint = kb.reader.fingerprint
    paths = [item["path"] for item in fingerprint.get("files", [])]
    paths += [folder["path"] for folder in fingerprint.get("folders", [])]
    paths += fingerprint.get("absent", [])
    state = {}
    for path in paths:
        try:
            stat = os.stat(path)
            state[path] = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            state[path] = (-1, -1)
    return state


def _changed(before: _State, after: _State) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class _Events:
    """Writes one JSON object a line, flushed, with the notes gathered since the last."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def emit(self, event: str, **fields: Any) -> None:
        record: dict[str, Any] = {
            "event": event,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        record.update(fields)
        if self.notes:
            record["notes"], self.notes = self.notes, []
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()


def watch_json(args: argparse.Namespace, spec: SourceSpec, out: TextIO = sys.stdout) -> int:
    """Watch the sources of ``spec``, reporting each look that found something as JSON.

    Raises:
        FaqError: the index cannot be opened at the start (later failures are events).
    """
    events = _Events(out)
    kb = KnowledgeBase(spec, args.index, notify=events.note)
    kb.progress = Progress(verbose=args.verbose)
    kb.open()
    state = _state(kb)
    files = len(kb.reader.fingerprint.get("files", []))  # as the text output counts them
    events.emit("watching", files=files, entries=len(kb.reader), index=kb.path)
    try:
        while True:
            time.sleep(max(args.interval, 0.1))
            now = _state(kb)
            started = time.perf_counter()
            try:
                swapped = kb.refresh()
            except FaqError as error:
                events.emit("failed", errors=str(error).splitlines(), files=_changed(state, now))
                state = now
                continue
            if swapped:
                seconds = round(time.perf_counter() - started, 3)
                changed = _changed(state, now)
                events.emit("rebuilt", entries=len(kb.reader), seconds=seconds, files=changed)
                now = _state(kb)
            elif now != state:
                events.emit("unchanged", files=_changed(state, now))
            state = now
    except KeyboardInterrupt:
        events.emit("stopped")
        raise
