"""Content hashes of sources whose stat moved but whose text did not.

A checkout, a reinstall or a ``touch`` gives a source a new stat with the same text. The
index is still right, but its fingerprint no longer vouches for the file, so every later
question would read and hash it again until the next rebuild. ``changed_files`` keeps
what it learns in ``index.faqkb.hashes`` (``kb.index.reader.HASHES``), beside the index,
and reads it back next time.

One line a file: ``size mtime_ns ctime_ns inode sha256 path`` (``kb.index.reader.stat_key``
and the hash), plain text so that a cold question reads it without importing json. An
entry counts only for a file whose whole stat is still the one recorded, and only against
a fingerprint that holds the same hash. So it never vouches for a file that changed (the
change time cannot be set back), nor for another index's idea of the file.
"""

from __future__ import annotations

from kb.files import read_regular

_LIMIT = 4_000_000  # ~20k sources' lines
_HEAD = "# faq-kb content hashes 1\n"

Known = dict[str, list[object]]


def read_hashes(path: str) -> Known:
    """The recorded [size, mtime_ns, ctime_ns, inode, sha256] of each path; none if the
    file is missing, too large or not one of ours (a damaged line is skipped)."""
    try:
        text = read_regular(path, _LIMIT).decode()
    except (OSError, ValueError):
        return {}
    if not text.startswith(_HEAD):
        return {}
    known: Known = {}
    for line in text[len(_HEAD) :].split("\n"):
        parts = line.split(" ", 5)
        if len(parts) == 6 and all(p.isdigit() for p in parts[:4]):
            known[parts[5]] = [*map(int, parts[:4]), parts[4]]
    return known


def write_hashes(path: str, known: Known) -> None:
    """Record ``known`` (readers see the old file or the new); a folder that cannot be
    written is left alone: the next question hashes again."""
    import contextlib

    from kb.index.reader import write_atomically

    lines = [
        " ".join([*map(str, value), name])
        for name, value in sorted(known.items())
        if "\n" not in name and "\r" not in name
    ]
    with contextlib.suppress(OSError):
        write_atomically(path, (_HEAD + "\n".join(lines) + "\n").encode())
