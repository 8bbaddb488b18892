"""Optional semantic ranking with a local sentence-embedding model (``faq-kb[semantic]``).

On when asked for (``FAQ_SEMANTIC=1``, ``--semantic``; the bot turns it on by itself where
the extra is installed). The model is all-MiniLM-L6-v2 as an int8 ONNX file, run by ONNX
Runtime (``kb.search.embedding``); models are only ever loaded from disk.

Each entry's question, its maintainer aliases and its answer (in passages) are embedded
once per index and kept in a sidecar file next to it (``index.faqkb.semantic``: a JSON
header line, then int32 owners, uint64 text digests and float32 vectors; data, never
code). When the index changes, only the texts the old sidecar does not hold are embedded
again. A question is embedded once; an entry's similarities are the best cosine over its
wordings and over its answer's passages, which ``kb.search.features`` and ``kb.search.hybrid`` weigh
together with the lexical evidence.

Nothing heavy is imported at import time: numpy and onnxruntime load only once semantic
ranking is used.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kb.search.embedding import SemanticUnavailable, encoder, model_files

if TYPE_CHECKING:
    from kb.index.reader import IndexReader

ENV_ENABLE = "FAQ_SEMANTIC"
SUFFIX = ".semantic"
FORMAT = "faq-kb-semantic"
# Bump when what is embedded per entry changes: older sidecars are then recomputed.
VERSION = 4
# What a row of the vectors embeds: one of the entry's wordings (its question, an alias),
# or its question followed by its answer (cut at the model's 256 tokens).
WORDING, ANSWER = 0, 1
# Alternatives sharing few words with the question are shown when at least this close in
# meaning. (A display choice, like kb.search.query.ALTERNATIVE_COVERAGE: the eval ranks without it.)
ALTERNATIVE_SIMILARITY = 0.5


def requested(flag: bool | None = None) -> bool:
    """Whether semantic ranking is asked for: ``flag`` if given, else ``FAQ_SEMANTIC``."""
    if flag is not None:
        return flag
    return os.environ.get(ENV_ENABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def check_available() -> None:
    """Fail fast, before any work, if semantic ranking cannot run here.

    Cheap: nothing heavy is imported and no model is loaded.

    Raises:
        SemanticUnavailable: the runtime or the model is missing.
    """
    model_files()


Encode = Callable[[list[str]], Any]  # texts → normalised float32 rows (numpy)


# --- the vectors of an index ---------------------------------------------------------------


# An answer is embedded in passages of about this many characters (~150 tokens, well
# inside the model's 256), each after the question, at most ANSWER_PASSAGES of them.
PASSAGE_CHARS = 600
ANSWER_PASSAGES = 6


def entry_texts(entry: dict[str, Any]) -> list[tuple[int, str]]:
    """What is embedded for an entry: its question, each alias, and its answer in passages,
    each passage after the question (the first also after its category)."""
    texts = [(WORDING, entry["title"]), *((WORDING, a) for a in entry.get("aliases", []))]
    context = "".join(f" ({crumb})" for crumb in entry.get("breadcrumb", [])[-1:])
    for n, passage in enumerate(passages(entry.get("answer", ""))):
        head = entry["title"] + (context if n == 0 else "")
        texts.append((ANSWER, f"{head} {passage}"))
    if len(texts) == 1 + len(entry.get("aliases", [])):
        texts.append((ANSWER, entry["title"] + context))  # an entry with no answer text
    return texts


def passages(answer: str) -> list[str]:
    """The answer's paragraphs packed into passages of about PASSAGE_CHARS."""
    out: list[str] = []
    current = ""
    for paragraph in answer.split("\n\n"):
        text = " ".join(paragraph.split())
        if not text:
            continue
        if current and len(current) + len(text) > PASSAGE_CHARS:
            out.append(current)
            current = ""
        current = f"{current} {text}".strip()
        while len(current) > 2 * PASSAGE_CHARS:  # one huge paragraph: cut it
            out.append(current[:PASSAGE_CHARS])
            current = current[PASSAGE_CHARS:]
    if current:
        out.append(current)
    return out[:ANSWER_PASSAGES]


def index_identity(index: IndexReader) -> str:
    """A digest of the index's header line: vectors are only used with the index they embed."""
    return hashlib.sha256(json.dumps(index.header, sort_keys=True).encode()).hexdigest()


class EntryVectors:
    """An index's vectors: one matrix of rows, whose entry and kind each row embeds (as
    ``2 * entry + kind``), and a digest of each row's text (so that a later index re-embeds
    only what is new)."""

    def __init__(self, owners: Any, digests: Any, vectors: Any, entries: int) -> None:
        self.owners = owners
        self.digests = digests
        self.vectors = vectors
        self.entries = entries
        self._central: tuple[Any, Any] | None = None

    def similarities(self, query: Any) -> tuple[Any, Any, Any, Any]:
        """Every entry's similarity to the normalised ``query``: the best over its wordings,
        and that of its question with its answer; then how central its wordings and its
        answer are in the FAQ (``centrality``)."""
        import numpy as np

        both = np.full(2 * self.entries, -1.0, dtype=np.float64)
        if len(self.owners):
            np.maximum.at(both, self.owners, self.vectors @ query.astype(np.float32))
        return (both[WORDING::2], both[ANSWER::2], *self.centrality())

    def centrality(self) -> tuple[Any, Any]:
        """How generic each entry is within its FAQ: the cosine of its wordings' mean
        vector, and of its answer's, to the mean of all entries' (e.g. a "Get help"
        entry is near the middle, and close to many a bug report's title). Learnt from
        nothing but the FAQ itself; computed once, a block of entries at a time."""
        if self._central is None:
            self._central = _centrality(self.owners, self.vectors, self.entries)
        return self._central


def _centrality(owners: Any, vectors: Any, entries: int, block: int = 8192) -> tuple[Any, Any]:
    import numpy as np

    order = np.argsort(owners, kind="stable")
    owners = owners[order]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else owners
    kinds = owners[starts] % 2

    def means(first: int) -> Any:
        """The normalised mean vectors of owner groups ``first`` to ``first + block``."""
        stop = min(first + block, len(starts))
        low = int(starts[first])
        high = int(starts[stop]) if stop < len(starts) else len(owners)
        rows = vectors[order[low:high]]
        sums = np.add.reduceat(rows, starts[first:stop] - low, axis=0).astype(np.float64)
        return sums / np.maximum(np.linalg.norm(sums, axis=1), 1e-12)[:, None]

    middle = np.zeros((2, vectors.shape[1]), dtype=np.float64)
    for first in range(0, len(starts), block):
        chunk = means(first)
        np.add.at(middle, kinds[first : first + block], chunk)
    middle /= np.maximum(np.linalg.norm(middle, axis=1), 1e-12)[:, None]
    central = np.zeros(2 * entries, dtype=np.float64)
    for first in range(0, len(starts), block):
        chunk = means(first)
        groups = owners[starts[first : first + block]]
        central[groups] = np.einsum("ij,ij->i", chunk, middle[groups % 2])
    return central[WORDING::2], central[ANSWER::2]


def text_digest(text: str) -> int:
    """A 64-bit digest of one embedded text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def compute_vectors(
    index: IndexReader,
    encode: Encode,
    known: dict[int, Any] | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> EntryVectors:
    """Embed every entry of ``index``; texts with a vector in ``known`` are not embedded again."""
    import numpy as np

    known = known or {}
    texts: list[str] = []
    owners: list[int] = []
    for number in range(len(index)):
        # Parsed here, not through index.entry(), which would keep every entry cached.
        for kind, text in entry_texts(index.load_entry(number)):
            texts.append(text)
            owners.append(2 * number + kind)
    digests = [text_digest(t) for t in texts]
    new = [n for n, d in enumerate(digests) if d not in known]
    fresh = None
    if new:
        notify(f"note: embedding {len(new)} wordings of {len(index)} entries for semantic ranking…")
        fresh = encode([texts[n] for n in new])
    dim = fresh.shape[1] if fresh is not None else len(next(iter(known.values()), [0.0]))
    vectors = np.empty((len(texts), dim), dtype=np.float32)
    for n, d in enumerate(digests):
        if d in known:
            vectors[n] = known[d]
    if fresh is not None:
        vectors[new] = fresh
    return EntryVectors(
        np.array(owners, dtype=np.intp), np.array(digests, dtype=np.uint64), vectors, len(index)
    )


def sidecar_path(index: IndexReader) -> str:
    """Where the vectors of ``index`` are kept."""
    return index.path + SUFFIX


def write_sidecar(path: str, index: IndexReader, vectors: EntryVectors, model: str) -> None:
    """Store ``vectors`` atomically (readers see the old file or the new).

    Layout: a JSON header line, then int32 owners, uint64 text digests and float32 rows.

    Raises:
        OSError: the folder cannot be written.
    """
    from kb.index.reader import write_streaming

    rows, dim = vectors.vectors.shape
    head = {
        "format": FORMAT,
        "version": VERSION,
        "model": model,
        "index": index_identity(index),
        "rows": int(rows),
        "dim": int(dim),
        "byteorder": "little",
    }

    def write(handle: Any) -> None:
        handle.write(json.dumps(head, sort_keys=True).encode() + b"\n")
        handle.write(vectors.owners.astype("<i4").tobytes())
        handle.write(vectors.digests.astype("<u8").tobytes())
        handle.write(vectors.vectors.astype("<f4").tobytes())

    write_streaming(path, write)


_Stored = tuple[str, Any, Any, Any]  # the index it embeds, owners, digests, vectors


def _read(path: str, model: str) -> _Stored | None:
    """A sidecar's contents for ``model``, whichever index it embeds; None if unusable."""
    import numpy as np

    try:
        with open(path, "rb") as handle:
            # Mapped, not read: the vectors of a large index stay on disk until used.
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None
    end = data.find(b"\n")
    if end < 0 or data[:1] != b"{":
        return None
    try:
        head = json.loads(data[:end])
        rows, dim = int(head["rows"]), int(head["dim"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    expected = {"format": FORMAT, "version": VERSION, "model": model}
    if any(head.get(key) != value for key, value in expected.items()):
        return None
    if len(data) != end + 1 + rows * (4 + 8 + 4 * dim):
        return None
    at = end + 1
    owners = np.frombuffer(data, dtype="<i4", count=rows, offset=at).astype(np.intp)
    digests = np.frombuffer(data, dtype="<u8", count=rows, offset=at + 4 * rows)
    vectors = np.frombuffer(data, dtype="<f4", offset=at + 12 * rows).reshape(rows, dim)
    return str(head.get("index")), owners, digests, vectors


def _of_index(stored: _Stored | None, index: IndexReader) -> EntryVectors | None:
    """The stored vectors, if they embed ``index`` itself."""
    if stored is None or stored[0] != index_identity(index):
        return None
    _, owners, digests, vectors = stored
    if len(owners) and (owners.min() < 0 or owners.max() >= 2 * len(index)):
        return None
    return EntryVectors(owners, digests, vectors, len(index))


def read_sidecar(path: str, index: IndexReader, model: str) -> EntryVectors | None:
    """The stored vectors of ``index`` for ``model``; None if missing, stale or damaged."""
    return _of_index(_read(path, model), index)


def load_vectors(
    index: IndexReader,
    encode: Encode,
    model: str,
    notify: Callable[[str], None],
) -> EntryVectors:
    """The vectors of ``index``: from its sidecar, or made now and stored there.

    When the sidecar embeds an earlier index (a source was edited), only the wordings it
    does not hold are embedded.
    """
    path = sidecar_path(index)
    stored = _read(path, model)
    found = _of_index(stored, index)
    if found is not None:
        return found
    known = dict(zip(stored[2].tolist(), stored[3], strict=True)) if stored else {}
    vectors = compute_vectors(index, encode, known, notify)
    try:
        write_sidecar(path, index, vectors, model)
    except OSError as exc:
        notify(f"warning: cannot write {path} ({exc.strerror}); keeping the vectors in memory")
    return vectors


class SemanticRanker:
    """Semantic ranking for one index: its vectors and the model that embeds questions."""

    def __init__(self, vectors: EntryVectors, encode: Encode, model: str = "") -> None:
        self.vectors = vectors
        self.encode = encode
        self.model = model  # the name recorded with the vectors

    @classmethod
    def for_index(
        cls,
        index: IndexReader,
        notify: Callable[[str], None] = lambda message: None,
        *,
        long_running: bool = False,
    ) -> SemanticRanker:
        """The ranker of ``index`` with the configured model (vectors made if need be).

        ``long_running`` (the bot) makes the model's optimised session at once, rather than
        after a few questions (see ``kb.search.embedding.QUICK_RUNS``).

        Raises:
            SemanticUnavailable: the extra or the model is missing.
        """
        model = encoder(notify)
        if long_running:
            model.optimize()
        return cls(load_vectors(index, model, model.name, notify), model, model.name)

    def similarities(self, question: str) -> tuple[Any, Any, Any, Any]:
        """Every entry's similarity to ``question`` by entry number (numpy arrays): the best
        over its wordings, and the best over its answer's passages; then each entry's
        centrality (``EntryVectors.centrality``)."""
        from kb.analysis.normalize import normalize_question

        asked = normalize_question(question[:16000])[:4000] or question[:4000]
        return self.vectors.similarities(self.encode([asked])[0])


__all__ = [
    "SemanticRanker",
    "SemanticUnavailable",
    "check_available",
    "requested",
]
