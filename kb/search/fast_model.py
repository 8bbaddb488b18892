"""The packaged MiniLM with int8 activations, converted once into the user's cache.

The packaged model stores int8 weights, but ONNX Runtime dequantizes them when it
optimises the graph, so every question runs 42 fp32 matrix products (~6.7 ms, and a
~0.3 s session). Quantizing the optimised graph dynamically (activations too, weights per
channel) runs a question in ~2.5 ms and loads in ~0.05 s; its embeddings agree with the
packaged model's to a cosine of 0.99 (docs/quality.md).

The conversion needs the ``onnx`` package (in the ``semantic`` extra) and ~5 s, once per
model file and ONNX Runtime version. Its result is checked against the packaged model
before it is kept, and written atomically to ``$XDG_CACHE_HOME/faq-kb/models/``. Whatever
goes wrong, the packaged model is used as before: a missing ``onnx`` quietly, anything
else with a warning, once (a failed conversion leaves a ``.failed`` note saying why, and
is tried again only when the model or ONNX Runtime changes).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

# Bump when the conversion changes: the old file is then converted again, and the vectors
# made with it (which record NAME) embedded again.
RECIPE = 1
NAME = f"all-MiniLM-L6-v2-onnx-int8+dynamic-int8-r{RECIPE}"
PREFIX = "minilm-dynamic-int8-"
FAILED = ".failed"  # beside the file a conversion failed to write, with its reason
# Embeddings of the converted model must agree with the packaged one's at least this well
# (measured: 0.992-0.995 on real questions).
MIN_COSINE = 0.98
# A conversion's work folder older than this was left by a killed process; a younger one
# may be another process's conversion under way (two bot workers starting together).
STALE_WORK_SECONDS = 3600
STALE_MODEL_SECONDS = 30 * 86400
# What the converted model is checked on before it is kept.
PROBES = ["how do I install packages on my workers", "KilledWorker error: too many open files"]


def models_dir() -> str:
    """Where converted models are kept: ``$XDG_CACHE_HOME/faq-kb/models``."""
    from kb.index.reader import cache_home

    return os.path.join(cache_home(), "models")


def cached_path(ort: Any, source: str) -> str:
    """The converted file of ``source`` under this ONNX Runtime (a stat, no hashing)."""
    from kb.index.reader import short_name

    stat = os.stat(source)
    key = f"{RECIPE}|{ort.__version__}|{os.path.abspath(source)}|{stat.st_size}|{stat.st_mtime_ns}"
    return os.path.join(models_dir(), f"{PREFIX}{short_name(key)}.onnx")


def fast_model(ort: Any, source: str, vocab: str, notify: Callable[[str], None]) -> str | None:
    """The converted model of ``source`` (whose vocabulary is ``vocab``), converting it now
    if need be; None when it cannot be had (the caller then uses ``source``)."""
    from importlib.util import find_spec

    try:
        target = cached_path(ort, source)
    except OSError:
        return None
    if os.path.isfile(target):
        return target
    if find_spec("onnx") is None or os.path.isfile(target + FAILED):
        return None  # the packaged model, as before (a failed conversion is not retried)
    notify("note: preparing the meaning model for fast questions (once, a few seconds)")
    try:
        convert(ort, source, vocab, target)
    except Exception as exc:  # noqa: BLE001 - onnx and onnxruntime raise untyped errors
        notify(f"warning: cannot prepare the fast model ({exc}); using the packaged one")
        with contextlib.suppress(OSError), open(target + FAILED, "w", encoding="utf-8") as out:
            out.write(f"{exc}\n")  # until the model or ONNX Runtime changes
        return None
    forget_others(target)
    return target


def convert(ort: Any, source: str, vocab: str, target: str) -> None:
    """Optimise ``source``'s graph, quantize it dynamically, check it, and move it to
    ``target`` in one step (an interrupted conversion leaves nothing behind).

    Raises:
        ValueError: the converted model's embeddings disagree with the source's.
        OSError: the cache folder cannot be written.
    """
    import logging
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from kb.search.embedding import session_options

    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".convert-") as work:
        fused, quantized = os.path.join(work, "fused.onnx"), os.path.join(work, "model.onnx")
        options = session_options(ort, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
        options.optimized_model_filepath = fused
        ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        # The quantizer logs advice on the root logger: dropped while it runs.
        root, quiet = logging.getLogger(), _not_from_onnxruntime()
        root.addFilter(quiet)
        try:
            quantize_dynamic(fused, quantized, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.removeFilter(quiet)
        agreement = similarity(source, quantized, vocab)
        if agreement < MIN_COSINE:
            raise ValueError(f"its embeddings agree to a cosine of {agreement:.3f} only")
        os.replace(quantized, target)


def similarity(source: str, converted: str, vocab: str) -> float:
    """The lowest cosine between the two models' embeddings of PROBES, each made as it
    will be used (``kb.search.embedding.Encoder``).

    Raises:
        SemanticUnavailable: either model does not load.
    """
    import numpy as np

    from kb.search.embedding import Encoder

    before = Encoder(source, vocab)(PROBES)
    after = Encoder(converted, vocab, staged=False, batch=1)(PROBES)
    return float(np.min(np.sum(before * after, axis=1)))


def forget_others(keep: str) -> None:
    """Remove other conversions (23 MB each) made more than STALE_MODEL_SECONDS ago: those
    of an upgraded model or runtime go in time, while two environments that share the
    cache (two venvs, tox) do not convert again and again, each removing the other's."""
    folder = os.path.dirname(keep)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if (
            name.startswith(PREFIX)
            and name.endswith((".onnx", ".onnx" + FAILED))
            and path != keep
            and _older_than(path, STALE_MODEL_SECONDS)
        ):
            with contextlib.suppress(OSError):
                os.remove(path)
        elif name.startswith(".convert-") and _older_than(path, STALE_WORK_SECONDS):
            import shutil  # left by a conversion that was killed

            shutil.rmtree(path, ignore_errors=True)


def _older_than(path: str, seconds: float) -> bool:
    import time

    try:
        return os.stat(path).st_mtime < time.time() - seconds
    except OSError:
        return False


def forget(path: str) -> None:
    """Remove a converted file that did not load (it is converted again next time)."""
    with contextlib.suppress(OSError):
        os.remove(path)


def _not_from_onnxruntime() -> Callable[[Any], bool]:
    """A logging filter that drops onnxruntime's records."""
    inside = f"{os.sep}onnxruntime{os.sep}"
    return lambda record: inside not in record.pathname
