"""Content hashes of sources whose stat moved but whose text did not.

A checkout, a reinstall or a ``touch`` gives a source a new stat with the same text. The
index is still right, but its fingerprint no longer vouches for the file, so every later
question would read and hash it again until the next rebuild. ``changed_files`` keeps
what it learns in ``index.faqkb.hashes`` (``kb.index.reader.HASHES``), beside the index,
and reads it back next time.

The file is one JSON object: path → [size, mtime_ns, ctime_ns, inode, sha256]. An entry
counts only for a file whose whole stat is still the one recorded, and only against a
fingerprint that holds the same hash. So it never vouches for a file that changed (the
change time cannot be set back), nor for another index's idea of the file.
"""

from __future__ import annotations

import contextlib
import os

from kb.files import read_regular
from kb.index.json_scan import loads

_LIMIT = 4_000_000  # ~40k sources' entries

Known = dict[str, list[object]]


def stat_key(stat: os.stat_result) -> list[object]:
    """What must not have moved for a recorded hash to still hold."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def read_hashes(path: str) -> Known:
    """The recorded hashes, or none if the file is missing, too large or damaged."""
    try:
        found = loads(read_regular(path, _LIMIT))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def write_hashes(path: str, known: Known) -> None:
    """Record ``known`` (readers see the old file or the new); a folder that cannot be
    written is left alone: the next question hashes again."""
    import json

    from kb.index.reader import write_atomically

    data = json.dumps(known, sort_keys=True, separators=(",", ":")).encode()
    with contextlib.suppress(OSError):
        write_atomically(path, data)
