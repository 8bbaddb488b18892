"""The index file: its format, a cheap reader for the query path, and its freshness check.

One file, written atomically: a JSON header line, then binary sections (``SECTIONS``): a
sorted term table looked up by binary search where it lies (memory-mapped, never parsed
whole), the postings (each entry's number and term frequency, packed in a few bytes),
the entries' field lengths and parents, and the entries (compact JSON lines, compressed
a block of neighbours at a time). A posting's BM25Plus contribution is computed when a
question reads it, by rank-bm25's own expression, so answering a question needs neither
numpy nor rank-bm25: only ``memoryview`` casts, a few probes of the term table, the postings the
question's terms name, their fields' lengths and the blocks of the entries shown. Data
only, never pickle.
"""

from __future__ import annotations

import itertools
import math
import mmap
import os
import sys
from bisect import bisect_left, bisect_right

from kb.errors import IndexFileError
from kb.files import open_regular, page_names, read_regular
from kb.index.json_scan import loads

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, BinaryIO

FORMAT = "faq-kb-index"
# Bump whenever the file layout, the tokenizer or the ingest changes what an index holds:
# an index with another version is rebuilt, never misread.
# 11: both; 12: binary sorted vocabulary; 13: compressed entries; 14: tf postings, blocks
SCHEMA_VERSION = 14
INDEX_FILE = "index.faqkb"
# The build's ``array`` typecode for 4-byte ints: a C int, 4 bytes wherever CPython runs
# (``tests/test_index.py`` checks it).
_INT = "i"
# Postings and entries are checksummed (CRC-32) in chunks of this many bytes, each chunk
# checked the first time a question reads from it; the header and vocabulary on open.
CHECK_CHUNK = 1 << 16
HEADER_CRC_KEY = b'"header_crc":"'
HEADER_CRC_ZERO = b"00000000"


class Chunker:
    """CRC-32 of every ``CHECK_CHUNK`` bytes of a stream fed piece by piece."""

    def __init__(self) -> None:
        import zlib

        self._crc32 = zlib.crc32
        self.crcs: list[int] = []
        self._crc = 0
        self._filled = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Add the next bytes of the stream."""
        view = memoryview(data).cast("B")
        while len(view):
            take = min(len(view), CHECK_CHUNK - self._filled)
            self._crc = self._crc32(view[:take], self._crc)
            self._filled += take
            view = view[take:]
            if self._filled == CHECK_CHUNK:
                self.crcs.append(self._crc)
                self._crc = self._filled = 0

    def done(self) -> list[int]:
        """The chunks' CRCs (the last chunk may be short)."""
        if self._filled:
            self.crcs.append(self._crc)
            self._crc = self._filled = 0
        return self.crcs


class DamagedIndex(IndexFileError):
    """A checksum of the index does not match: the file was damaged after it was written."""


def default_index_dir(spec_key: str) -> str:
    """The per-user cache folder for one set of sources (``$FAQ_INDEX`` overrides it)."""
    env = os.environ.get("FAQ_INDEX")
    if env:
        return os.path.expanduser(env)
    return os.path.join(cache_home(), short_name(spec_key))


def cache_home() -> str:
    """faq-kb's per-user cache: ``$XDG_CACHE_HOME/faq-kb`` (default ``~/.cache/faq-kb``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "faq-kb")


def short_name(key: str) -> str:
    """16 hex digits naming ``key`` in the cache (a set of sources, a model): two checksums,
    not sha256, because hashlib (OpenSSL) costs a cold query ~5 ms to import and a cache
    name needs no crypto."""
    import zlib  # already loaded by the stemmer

    data = key.encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data[::-1]):08x}"


def _sha256(data: bytes) -> str:
    import hashlib  # only when a file's stat changed or at build time

    return hashlib.sha256(data).hexdigest()


def file_fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Size, times, inode and content hash of a file: what a rebuild decision compares."""
    path = os.fspath(path)
    stat = os.stat(path)
    return {
        "path": path,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino,
        "sha256": _sha256(read_regular(path)),  # never blocks on a FIFO nor reads a device
    }


def stat_key(stat: os.stat_result) -> list[object]:
    """What of a file's stat must not have moved for its content to be taken as known.

    Size and mtime alone miss a same-size edit whose mtime was restored (``cp -p``,
    ``rsync -t``); the change time (which no one can set back) and the inode catch it.
    """
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _same_stat(stat: os.stat_result, item: dict[str, Any]) -> bool:
    """Whether a file's stat is the one fingerprinted: nothing can have changed it."""
    return stat_key(stat) == [
        item["size"],
        item["mtime_ns"],
        item.get("ctime_ns"),
        item.get("inode"),
    ]


# The file beside an index that ``changed_files`` keeps content hashes in: index + HASHES.
HASHES = ".hashes"


def changed_files(fingerprint: dict[str, Any], hashes: str | None = None) -> list[str]:
    """Return the files (or folders) that changed since ``fingerprint`` was taken.

    A file whose size, mtime, ctime and inode match is taken as unchanged without reading
    it; one whose stat moved but whose content hash matches is unchanged too (a ``touch``,
    a checkout). With ``hashes`` (a path, see ``kb.index.hashes``) such a file's hash is
    recorded there, when nothing changed, and trusted next time while its stat holds.
    """
    changed = []
    known: dict[str, list[object]] | None = None
    learned = False
    for item in fingerprint.get("files", []):
        path = item["path"]
        try:
            stat = os.stat(path)
        except OSError:
            changed.append(path)
            continue
        if _same_stat(stat, item):
            continue
        key: list[object] = []
        if hashes is not None:
            from kb.index.hashes import read_hashes

            known = read_hashes(hashes) if known is None else known
            key = [*stat_key(stat), item["sha256"]]
            if known.get(path) == key:
                continue
        try:
            digest = _sha256(read_regular(path))
        except OSError:
            digest = ""
        if digest != item["sha256"]:
            changed.append(path)
        elif known is not None and _unmoved(path, key[:-1]):
            known[path], learned = key, True
    listed: dict[str, set[str]] = {}  # each source folder's names, case-folded
    moved = []
    for folder in fingerprint.get("folders", []):
        try:
            names = os.listdir(folder["path"])
        except OSError:
            names = []
        listed[folder["path"]] = {name.casefold() for name in names}
        if page_names(names) != folder["names"]:
            moved.append(folder["path"])
    # A missing aliases file is looked for only if its folder's listing may hold it: at
    # 1000 sources, 1000 stat calls (~3 ms) a cold query would make for nothing. Only a
    # file counts, as for the build (a folder of that name would rebuild every time).
    absent = fingerprint.get("absent", [])
    changed.extend(p for p in absent if _may_be_listed(p, listed) and os.path.isfile(p))
    if learned and known is not None and hashes is not None and not changed and not moved:
        from kb.index.hashes import write_hashes

        paths = {item["path"] for item in fingerprint.get("files", [])}
        write_hashes(hashes, {p: v for p, v in known.items() if p in paths})
    return changed + moved


def _unmoved(path: str, key: list[object]) -> bool:
    """Whether ``path``'s ``stat_key`` is still ``key``: the text just hashed is the file's."""
    try:
        return stat_key(os.stat(path)) == key
    except OSError:
        return False


def _may_be_listed(path: str, listed: dict[str, set[str]]) -> bool:
    """False only if ``path``'s folder was listed and holds no such name (in any case)."""
    folder, name = os.path.split(path)
    names = listed.get(folder)
    return names is None or not name.isascii() or name.casefold() in names


class Field:
    """One BM25 field of the index and its weight in the combined score."""

    __slots__ = ("delta", "longest", "name", "total", "weight")

    def __init__(
        self, name: str, weight: float, delta: float, total: int = 0, longest: int = 0
    ) -> None:
        self.name, self.weight, self.delta = name, weight, delta
        self.total = total  # tokens in the field over all entries (avgdl: total / entries)
        self.longest = longest  # the most tokens one entry has in the field


# A term's entry in the vocabulary: its weight (idf over all fields), then per field it
# occurs in: field number, that field's idf, its first posting's number and their count.
TermInfo = list[float]


class Vocabulary:
    """The sorted term table of an index, looked up by binary search where it lies.

    Nothing of it is parsed on open: a lookup reads ~log2(terms) entries of the table
    (checksummed chunk by chunk as they are first read) and keeps its answer, and the
    entries of the search's first levels. A small table (each section one chunk) is read
    whole on the first lookup.
    """

    def __init__(self, reader: IndexReader) -> None:
        self._reader = reader
        self._found: dict[str, TermInfo | None] = {}
        # The terms at the first levels of the binary search, which every lookup reads.
        self._probes: dict[int, bytes] = {}
        self.size = int(reader.header["term_count"])
        # A small vocabulary (each section one checksummed chunk: checking a part of one
        # checks it all) is read whole on the first lookup: then a probe is one slice.
        self._small: tuple[memoryview, bytes, memoryview, memoryview, memoryview] | None = None
        self._is_small: bool | None = None

    def __len__(self) -> int:
        return self.size

    def get(self, term: str) -> TermInfo | None:
        """The term's ``TermInfo``, or None if no entry has it."""
        try:
            return self._found[term]
        except KeyError:
            pass
        at = self._find(term.encode())
        info = None if at < 0 else self.info(at)
        if len(self._found) < _LOOKUPS_KEPT:
            self._found[term] = info
        return info

    def __getitem__(self, term: str) -> TermInfo:
        info = self.get(term)
        if info is None:
            raise KeyError(term)
        return info

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __iter__(self) -> Iterator[str]:
        """Every term, in sorted order."""
        for number in range(self.size):
            yield self.term(number)

    def term(self, number: int) -> str:
        """The term at this place in sorted order."""
        return bytes(self._bytes(number)).decode()

    def _whole(self) -> tuple[memoryview, bytes, memoryview, memoryview, memoryview] | None:
        """The vocabulary's sections whole if each is one checksummed chunk, else None."""
        if self._is_small is None:
            reader = self._reader
            size = reader.section_size
            self._is_small = all(size(name) <= _SMALL_SECTION for name in _VOCABULARY_SECTIONS)
            if self._is_small:
                self._small = (
                    reader.whole("term_ends"),
                    reader.span("terms", 0, size("terms")),
                    reader.whole("term_df"),
                    reader.whole("term_spans"),
                    reader.whole("spans"),
                )
        return self._small

    def _bytes(self, number: int) -> bytes:
        small = self._whole()
        if small is not None:
            ends, terms = small[0], small[1]
            start = ends[number - 1] if number else 0
            if not start <= ends[number] <= len(terms):
                raise DamagedIndex(f"{self._reader.path}: the index is damaged (terms bounds)")
            return terms[start : ends[number]]
        reader = self._reader
        if number:
            start, end = reader.ints("term_ends", number - 1, number + 1)
        else:
            start, end = 0, reader.ints("term_ends", 0, 1)[0]
        return reader.span("terms", start, end)

    def _find(self, key: bytes) -> int:
        low, high = 0, self.size
        probes = self._probes
        depth = 0
        while low < high:
            middle = (low + high) // 2
            probe = probes.get(middle)
            if probe is None:
                probe = self._bytes(middle)
                if depth < _PROBES_KEPT_DEPTH:
                    probes[middle] = probe
            depth += 1
            if probe < key:
                low = middle + 1
            elif probe > key:
                high = middle
            else:
                return middle
        return -1

    def info(self, number: int) -> TermInfo:
        """The ``TermInfo`` of the term at this place in sorted order."""
        reader = self._reader
        n_docs1 = len(reader) + 1
        small = self._whole()
        if small is not None:
            _, _, dfs, term_spans, all_spans = small
            df, first, stop = dfs[number], term_spans[number], term_spans[number + 1]
            if not first <= stop <= len(all_spans) // 3:
                raise DamagedIndex(f"{reader.path}: the index is damaged (spans bounds)")
            spans = all_spans[3 * first : 3 * stop]
        else:
            df = reader.ints("term_df", number, number + 1)[0]
            first, stop = reader.ints("term_spans", number, number + 2)
            spans = reader.ints("spans", 3 * first, 3 * stop)
        info: TermInfo = [math.log(n_docs1 / df)]
        for at in range(0, len(spans), 3):
            field, count, posting = spans[at], spans[at + 1], spans[at + 2]
            # rank-bm25's idf, by its own expression: the very float the build used.
            info.extend((field, math.log(n_docs1 / count), posting, count))
        return info


_VOCABULARY_SECTIONS = ("terms", "term_ends", "term_df", "term_spans", "spans")
_SMALL_SECTION = CHECK_CHUNK  # bytes: a vocabulary whose sections are no larger is read whole
# Term lookups a reader keeps (the bot's process asks many questions of one index).
_LOOKUPS_KEPT = 200_000
# The levels of the vocabulary's binary search whose terms a reader keeps (at most 2047):
# a cold query's 30-odd lookups share them (~0.3 ms).
_PROBES_KEPT_DEPTH = 11
# The binary sections, in file order; each starts at a multiple of 8 bytes. The vocabulary:
# the terms' UTF-8 bytes back to back, sorted (UTF-8 sorts as code points do), where each
# ends (u32), in how many entries each occurs (u32), where each one's spans start (u32,
# one more); a span (three u32): field number, postings count, first posting's number.
# Postings: per span, each entry's number in the low ``doc_bits`` bits and its term
# frequency above them, little-endian, in ``posting_width`` bytes: first any whose tf did
# not fit (written 0; ``big_tfs`` holds it: u32 pairs, posting number and tf, ascending),
# then those of tf 1, then the others, each by entry. Each
# field's lengths of every entry (``length_width`` bytes each, field after field), each
# entry's parent (i32, -1 for none); the entries in blocks (``kb.index.records.pack``):
# each block's first entry (u32, and one more: the entry count), where each block's
# stored bytes end (u64), and the blocks.
SECTIONS = (
    "terms",
    "term_ends",
    "term_df",
    "term_spans",
    "spans",
    "postings",
    "big_tfs",
    "lengths",
    "parents",
    "block_firsts",
    "block_ends",
    "entries",
)
_TYPECODES = {"term_ends": "I", "term_df": "I", "term_spans": "I", "spans": "I", "big_tfs": "I"}
_TYPECODES.update(parents="i", block_firsts="I", block_ends="Q")
_SIZES = {"H": 2, "I": 4, "i": 4, "Q": 8}
# Postings whose contributions a preloaded reader keeps (16 bytes each).
_POSTINGS_KEPT = 4_000_000
# The entry blocks a memory-mapped reader keeps decompressed (a question shows a few).
_BLOCKS_KEPT = 8


class IndexReader:
    """A loaded index: the header in memory, everything else read where it lies, on demand.

    With ``preload`` the whole file is read into memory at once (the bot: no file I/O per
    question); otherwise it is memory-mapped, so a question touches only what it needs:
    a few vocabulary probes, its terms' postings and the entries it shows.
    """

    def __init__(self, buf: bytes | mmap.mmap, path: str) -> None:
        self.path = path
        self._buf = buf
        self.header = _parse_header(self._buf, path)
        try:
            self._sections: dict[str, tuple[int, int]] = {
                name: (int(self.header["sections"][name][0]), int(self.header["sections"][name][1]))
                for name in SECTIONS
            }
            self._crcs: dict[str, list[int]] = {
                name: list(self.header["checksums"][name]) for name in SECTIONS
            }
            self.fields = [
                Field(f["name"], f["weight"], f["delta"], int(f["total"]), int(f["longest"]))
                for f in self.header["fields"]
            ]
            self.unknown_weight: float = self.header["unknown_weight"]
            self._count = int(self.header["entry_count"])
            self._k1 = float(self.header["params"]["k1"])
            self._b = float(self.header["params"]["b"])
            self._doc_bits = int(self.header["doc_bits"])
            self._width = int(self.header["posting_width"])
            self._length_width = int(self.header["length_width"])
            if not 0 < self._width <= 8 or self._length_width not in (2, 4):
                raise ValueError("posting or length width")
            end = buf.find(b"\n") + 1
            for name in SECTIONS:  # in file order, each after the last and its zero padding
                at, length = self._sections[name]
                if not 0 <= at - end < 8 or buf[end:at] != bytes(at - end) or length < 0:
                    raise ValueError(f"section {name} at {at}")
                end = at + length
            if end != len(buf):
                raise ValueError(f"{len(buf)} bytes where the header promises {end}")
            if self._sections["parents"][1] != 4 * self._count:
                raise ValueError("parents")
            lengths = self._sections["lengths"][1]
            if lengths != self._length_width * self._count * len(self.fields):
                raise ValueError("lengths")
            if self._sections["block_firsts"][1] != self._sections["block_ends"][1] // 2 + 4:
                raise ValueError("entry blocks")
            self.terms = Vocabulary(self)
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFileError(f"{path}: the index is damaged ({exc!r}); rebuild it") from None
        self._postings_at = self._sections["postings"][0]
        self._entries_at = self._sections["entries"][0]
        self._checked: dict[str, set[int]] = {name: set() for name in SECTIONS}
        self._entry_cache: dict[int, dict[str, Any]] = {}
        self._blocks: dict[int, list[bytes]] = {}
        self._arrays: dict[str, Any] = {}
        # In memory (the bot): per-term arrays worth keeping between questions.
        self.preloaded = isinstance(buf, bytes)
        self.cache: dict[Any, Any] = {}
        self._kept_postings = 0  # postings whose contributions ``cache`` holds
        self._swap = sys.byteorder != self.header.get("byteorder", "little")
        # Read by few questions (sub-parts), small (4 bytes an entry): checked now, so that
        # no damage in it goes unnoticed until the question that reads it.
        self.check("parents", 0, self._sections["parents"][1])

    @classmethod
    def open(cls, path: str, *, preload: bool = False) -> IndexReader:
        """Open the index file at ``path``.

        Raises:
            IndexFileError: it is missing, unreadable, corrupt or of another schema.
        """
        try:
            with os.fdopen(open_regular(path), "rb") as handle:
                if preload:
                    buf: bytes | mmap.mmap = handle.read()
                else:
                    buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise IndexFileError(f"{path}: no index here yet; run `faq-kb build`") from None
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"{path}: cannot read the index: {exc}") from None
        return cls(buf, path)

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What the index was built from (see ``kb.index.build.fingerprint``)."""
        return dict(self.header.get("fingerprint") or {})

    def __len__(self) -> int:
        return self._count

    def section_size(self, section: str) -> int:
        """How many bytes a section holds."""
        return self._sections[section][1]

    def numpy_section(self, section: str, dtype: str) -> Any:
        """A whole section as a numpy array viewing the file (checksums verified first)."""
        import numpy as np

        at, length = self._sections[section]
        self.check(section, 0, length)
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self._buf, dtype=dtype, count=length // size, offset=at)

    def forget_pages(self) -> None:
        """Let the kernel drop the mapped pages read so far (a rebuild reading the old index
        whole need not keep all of it resident)."""
        if isinstance(self._buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            self._buf.madvise(mmap.MADV_DONTNEED)

    def check(self, section: str, start: int, end: int) -> None:
        """Verify the checksums of the chunks holding bytes ``start:end`` of a section.

        Raises:
            DamagedIndex: one does not match.
        """
        if end <= start:
            return
        done = self._checked[section]
        first, last = start // CHECK_CHUNK, max(start, end - 1) // CHECK_CHUNK
        if first in done and last in done and last - first < 2:
            return
        at, length = self._sections[section]
        crcs = self._crcs[section]
        for chunk in range(first, last + 1):
            if chunk in done:
                continue
            low = chunk * CHECK_CHUNK
            data = self._buf[at + low : at + min(low + CHECK_CHUNK, length)]
            if chunk >= len(crcs) or _crc32(data) != crcs[chunk]:
                raise DamagedIndex(
                    f"{self.path}: the index is damaged ({section} checksum); rebuild it"
                )
            done.add(chunk)

    def check_all(self) -> None:
        """Verify every checksum of the file (a build does, before reusing stored lines)."""
        for section in SECTIONS:
            self.check(section, 0, self._sections[section][1])

    def span(self, section: str, start: int, end: int) -> bytes:
        """Bytes ``start:end`` of a section, their checksums verified."""
        at, length = self._sections[section]
        if not 0 <= start <= end <= length:
            raise DamagedIndex(f"{self.path}: the index is damaged ({section} bounds)")
        self.check(section, start, end)
        return self._buf[at + start : at + end]

    def ints(self, section: str, first: int, stop: int) -> memoryview:
        """Items ``first:stop`` of one of the integer sections."""
        code = _TYPECODES[section]
        size = _SIZES[code]
        return self._cast(self.span(section, first * size, stop * size), code)

    def _cast(self, data: bytes | bytearray, code: str) -> memoryview:
        """``data`` as native integers of type ``code`` (``memoryview.cast``: ``array``'s
        import costs a cold query ~4 ms), byte-swapped if the index came from a machine of
        the other byte order."""
        if code == "Q":
            code = "q"
        if self._swap:
            import array

            values = array.array(code, data)
            values.byteswap()
            return memoryview(values)
        view: memoryview = memoryview(data).cast(code)  # type: ignore[call-overload]
        return view

    def whole(self, section: str) -> memoryview:
        """One integer section whole (parents, entry offsets), read and checked once."""
        values = self._arrays.get(section)
        if values is None:
            size = _SIZES[_TYPECODES[section]]
            values = self._arrays[section] = self.ints(
                section, 0, self._sections[section][1] // size
            )
        return values

    @property
    def parents(self) -> memoryview:
        """Each entry's parent's number (-1: a top-level entry)."""
        return self.whole("parents")

    @property
    def bm25_params(self) -> tuple[float, float]:
        """BM25's ``k1`` and ``b``."""
        return self._k1, self._b

    @property
    def doc_bits(self) -> int:
        """How many low bits of a packed posting hold its entry's number (the tf above)."""
        return self._doc_bits

    def values(self, first: int, count: int) -> Sequence[int]:
        """Postings ``first`` to ``first + count - 1`` as packed: the entry's number in the
        low ``doc_bits`` bits, the tf above (0: see ``packed``); per list, the tfs that did
        not fit, then the tfs of 1, then the rest, each by entry."""
        return self._values(first, count)

    def packed(self, first: int, count: int) -> tuple[list[int], list[int]]:
        """Entry numbers and term frequencies of postings ``first`` to ``first + count - 1``."""
        values = self._values(first, count)
        bits = self._doc_bits
        mask = (1 << bits) - 1
        docs = [v & mask for v in values]
        tfs = [v >> bits for v in values]
        if docs and max(docs) >= self._count:
            raise IndexFileError(f"{self.path}: posting {first} out of range; rebuild it")
        if 0 in tfs:
            self._big_tfs(first, tfs)
        return docs, tfs

    def _values(self, first: int, count: int) -> memoryview:
        """Postings ``first`` to ``first + count - 1`` as written (tf and entry number)."""
        width = self._width
        raw = self.span("postings", first * width, (first + count) * width)
        if width in (2, 4):
            return self._cast(raw, "H" if width == 2 else "I")
        size = 4 if width < 4 else 8  # each posting widened to 4 (or 8) bytes, a byte column
        wide = bytearray(size * count)  # at a time
        for at in range(width):
            wide[at::size] = raw[at::width]
        return self._cast(wide, "I" if size == 4 else "Q")

    def _big_tfs(self, first: int, tfs: list[int]) -> None:
        """Put the tfs too large to pack (written 0) in their places."""
        big = self._arrays.get("big_numbers")
        if big is None:
            pairs = self.whole("big_tfs")
            big = self._arrays["big_numbers"] = (pairs[0::2], pairs[1::2])
        numbers, values = big
        for at, tf in enumerate(tfs):
            if tf == 0:
                found = bisect_left(numbers, first + at)
                if found == len(numbers) or numbers[found] != first + at:
                    raise IndexFileError(f"{self.path}: posting {first + at} has no tf; rebuild")
                tfs[at] = values[found]

    def lengths(self, field_no: int) -> memoryview:
        """Each entry's length in tokens in one field (read once)."""
        key = f"lengths{field_no}"
        values = self._arrays.get(key)
        if values is None:
            size = self._length_width * self._count
            raw = self.span("lengths", field_no * size, (field_no + 1) * size)
            values = self._arrays[key] = self._cast(raw, "H" if self._length_width == 2 else "I")
        return values

    def postings(
        self, field_no: int, idf: float, first: int, count: int, weight: float = 1.0
    ) -> tuple[list[int], list[float]]:
        """Document numbers and their score contributions for one (term, field).

        A contribution is rank-bm25's BM25Plus term score less ``idf * delta`` (which
        every entry gets), by rank-bm25's own expression (the very float it computes),
        times ``weight`` (the field's weight in a question's score; 1.0 changes nothing).
        """
        lens = self.lengths(field_no)
        field = self.fields[field_no]
        k1, b = self._k1, self._b
        k1p1, omb, delta = k1 + 1, 1 - b, field.delta
        avgdl = field.total / self._count
        base = idf * delta
        values = self._values(first, count)
        one = 1 << self._doc_bits
        # A span's postings: any whose tf did not fit (below ``one``), then those with a tf
        # of 1 (their entry numbers plus ``one``), then the rest: bisect finds the bounds.
        low, high = bisect_left(values, one), bisect_left(values, one << 1)
        ones = list(map(one.__rsub__, values[low:high]))
        docs, tfs = self.packed(first + high, count - high) if high < count else ([], [])
        if low:
            big_docs, big_tfs = self.packed(first, low)
            docs, tfs = big_docs + docs, big_tfs + tfs
        if ones and ones[-1] >= self._count:  # ascending: the last is the largest
            raise IndexFileError(f"{self.path}: posting {first} out of range; rebuild it")
        extras = [
            weight * (idf * (delta + tf * k1p1 / (k1 * (omb + b * lens[d] / avgdl) + tf)) - base)
            for d, tf in zip(docs, tfs, strict=True)
        ]
        longest = field.longest
        if len(ones) > longest:
            # A tf of 1: the contribution depends on the entry's length only.
            by_length = [
                weight * (idf * (delta + k1p1 / (k1 * (omb + b * n / avgdl) + 1)) - base)
                for n in range(longest + 1)
            ]
            firsts = list(map(by_length.__getitem__, map(lens.__getitem__, ones)))
        else:
            firsts = [
                weight * (idf * (delta + k1p1 / (k1 * (omb + b * lens[d] / avgdl) + 1)) - base)
                for d in ones
            ]
        if low:
            return docs[:low] + ones + docs[low:], extras[:low] + firsts + extras[low:]
        return ones + docs, firsts + extras

    def packed_array(self, first: int, count: int) -> tuple[Any, Any]:
        """The same as ``packed`` as numpy arrays."""
        import numpy as np

        width = self._width
        self.check("postings", first * width, (first + count) * width)
        raw = np.frombuffer(
            self._buf, dtype=np.uint8, count=width * count, offset=self._postings_at + first * width
        )
        wide = np.zeros((count, 8), dtype=np.uint8)
        wide[:, :width] = raw.reshape(count, width)
        values = wide.view("<u8").ravel()
        docs = (values & ((1 << self._doc_bits) - 1)).astype(np.intp)
        tfs = values >> self._doc_bits
        if not tfs.all():
            fixed = tfs.tolist()
            self._big_tfs(first, fixed)
            tfs = np.array(fixed, dtype=np.uint64)
        return docs, tfs

    def postings_array(
        self, field_no: int, idf: float, first: int, count: int, weight: float = 1.0
    ) -> tuple[Any, Any]:
        """The same as ``postings`` as numpy arrays (the same floats, times ``weight``).

        A preloaded index (the bot) keeps them, up to ``_POSTINGS_KEPT`` postings in all:
        a warm process asked about a term again reads its contributions, as it did when
        the file held them.
        """
        key = ("postings", first, weight)
        if self.preloaded:
            kept = self.cache.get(key)
            if kept is not None:
                return kept  # type: ignore[no-any-return]
        docs, values = self._postings_array(field_no, idf, first, count)
        if weight != 1.0:
            values *= weight  # ``weight * x``: the same product as ``postings`` makes
        found = (docs, values)
        if self.preloaded and self._kept_postings + count <= _POSTINGS_KEPT:
            self.cache[key] = found
            self._kept_postings += count
        return found

    def _postings_array(self, field_no: int, idf: float, first: int, count: int) -> tuple[Any, Any]:
        import numpy as np

        docs, tfs = self.packed_array(first, count)
        lens = self._arrays.get(f"np_lengths{field_no}")
        if lens is None:
            lens = self._arrays[f"np_lengths{field_no}"] = np.array(
                self.lengths(field_no), dtype=np.float64
            )
        field = self.fields[field_no]
        k1, b = self._k1, self._b
        avgdl = field.total / self._count
        norms = b * lens[docs]
        norms /= avgdl
        norms += 1 - b  # (1 - b) + b * len / avgdl: the same sum, commuted
        norms *= k1
        tf = tfs.astype(np.float64)
        norms += tf
        tf *= k1 + 1
        tf /= norms
        tf += field.delta
        tf *= idf
        tf -= idf * field.delta
        return docs, tf

    def entry(self, number: int) -> dict[str, Any]:
        """The stored entry (as a dict shaped like ``kb.models.Entry``) with that number."""
        cached = self._entry_cache.get(number)
        if cached is None:
            cached = self._entry_cache[number] = self.load_entry(number)
        return cached

    def load_entry(self, number: int) -> dict[str, Any]:
        """``entry(number)`` read afresh, not kept (for a pass over every entry)."""
        from kb.index.records import decode

        if not 0 <= number < self._count:
            raise IndexError(number)
        firsts = self.block_firsts()
        block = bisect_right(firsts, number) - 1
        try:
            return decode(self.block(block)[number - firsts[block]])
        except (ValueError, IndexError) as exc:  # checksummed: written so by a faulty build
            raise IndexFileError(f"{self.path}: entry {number} is unreadable ({exc})") from None

    def block_firsts(self) -> memoryview:
        """Each entry block's first entry's number, and then the entry count."""
        firsts = self.whole("block_firsts")
        if "firsts_checked" not in self._arrays:
            ordered = all(a <= b for a, b in itertools.pairwise(firsts))
            if firsts[0] != 0 or firsts[-1] != self._count or not ordered:
                raise IndexFileError(f"{self.path}: the index is damaged (entry blocks); rebuild")
            self._arrays["firsts_checked"] = True
        return firsts

    def block(self, number: int) -> list[bytes]:
        """The stored lines of the entries of one block."""
        from kb.index.records import unpack

        lines = self._blocks.get(number)
        if lines is None:
            start, end = self.block_span(number, number + 1)
            try:
                at = self._entries_at
                lines = unpack(self.span("entries", start - at, end - at))
            except ValueError as exc:
                raise IndexFileError(f"{self.path}: block {number} is unreadable ({exc})") from None
            if len(self._blocks) >= _BLOCKS_KEPT:
                del self._blocks[next(iter(self._blocks))]
            self._blocks[number] = lines
        return lines

    def blocks_of(self, first: int, stop: int) -> tuple[int, int]:
        """The blocks holding exactly entries ``first`` to ``stop - 1`` (a run of sources)."""
        firsts = self.block_firsts()
        low, high = bisect_left(firsts, first), bisect_left(firsts, stop)
        if high == len(firsts) or firsts[low] != first or firsts[high] != stop:
            raise IndexFileError(f"{self.path}: entries {first}-{stop} are not whole blocks")
        return low, high

    def block_span(self, first: int, stop: int) -> tuple[int, int]:
        """Where blocks ``first`` to ``stop - 1`` are stored: file offsets, start and end."""
        ends = self.whole("block_ends")
        if not 0 <= first <= stop <= len(ends):
            raise IndexError(first if first < 0 or first > len(ends) else stop)
        return (
            self._entries_at + (ends[first - 1] if first else 0),
            self._entries_at + (ends[stop - 1] if stop else 0),
        )

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, in index order."""
        return [self.entry(n) for n in range(len(self))]

    def pages(self) -> list[str]:
        """The published pages of the sources, in manifest order (from the header)."""
        urls = (str(s["url"]).split("#")[0] for s in self.fingerprint.get("sources", []))
        return list(dict.fromkeys(url for url in urls if url))


def _crc32(data: bytes | mmap.mmap) -> int:
    import zlib

    return zlib.crc32(data)


def seal_header(head: bytes) -> bytes:
    """Put the header line's own CRC-32 into its ``header_crc`` (written as zeros)."""
    at = head.index(HEADER_CRC_KEY + HEADER_CRC_ZERO) + len(HEADER_CRC_KEY)
    return head[:at] + b"%08x" % _crc32(head) + head[at + len(HEADER_CRC_ZERO) :]


def _parse_header(buf: bytes | mmap.mmap, path: str) -> dict[str, Any]:
    end = buf.find(b"\n")
    line = buf[: end if end >= 0 else len(buf)]
    try:
        header = loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise IndexFileError(f"{path}: not a faq-kb index (corrupt or foreign file)")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise StaleSchema(path, header.get("schema_version"))
    at = line.find(HEADER_CRC_KEY) + len(HEADER_CRC_KEY)
    sealed = line[at : at + 8]
    zeroed = line[:at] + HEADER_CRC_ZERO + line[at + 8 :] + b"\n"
    if at < len(HEADER_CRC_KEY) or sealed != b"%08x" % _crc32(zeroed):
        raise DamagedIndex(f"{path}: the index is damaged (header checksum); rebuild it")
    return header


class StaleSchema(IndexFileError):
    """The index was written by another version of faq-kb."""

    def __init__(self, path: str, version: object) -> None:
        super().__init__(
            f"{path}: index schema {version}, this faq-kb reads {SCHEMA_VERSION}; rebuild it"
        )


def sweep_leftovers(folder: str) -> list[str]:
    """Remove the temp files (``.NAME.PID….tmp``/``.new``) of builds whose process died.

    A build killed outright (SIGKILL, power loss) cannot remove its own temp file; the
    next build in the folder does, for every process no longer alive. Returns what went.
    """
    gone: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return gone
    for name in names:
        parts = name.split(".")
        if not name.startswith(".") or parts[-1] not in {"tmp", "new"}:
            continue
        pid = next((int(p) for p in parts if p.isdigit()), None)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            gone.append(name)
        except OSError:
            pass  # another build swept it first, or it is not ours to remove
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def write_streaming(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through ``write(handle)`` so that readers see the old file or the new.

    Readers see the old file or the new, never half: a temp file in the same folder,
    fsync'd, then renamed over ``path``; the temp file is removed if anything fails.

    Raises:
        OSError: the folder cannot be created or written.
    """
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb", buffering=1 << 20) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    Raises:
        OSError: the folder cannot be created or written.
    """
    write_streaming(path, lambda handle: handle.write(data))
