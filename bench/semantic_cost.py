"""What the meaning signal costs: a cold ``faq-search --semantic`` and a warm bot question.

Stand-alone, with the python of an environment where ``faq-kb[semantic]`` is installed::

    python bench/semantic_cost.py [--runs 9]

Builds the shipped FAQ's index and its vectors once in a temporary folder, then prints:

* cold: the median wall time of ``faq-search --semantic QUESTION`` (a fresh process each),
  of ``faq-search QUESTION`` and of ``python -c pass``, run interleaved, pair by pair;
  target: ``--semantic`` cold ≤ 0.5 s;
* warm: the CPU time per question of a preloaded knowledge base (the bot's case), with
  the meaning signal, with it from the packaged model used as it is (before it was
  converted to int8 activations, kb/search/fast_model.py), and without it; target ≤ 5 ms
  with it.

The first run converts the packaged model into the user's cache (once, a few seconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

QUESTIONS = [
    "workers keep dying",
    "too many open files",
    "how do I install packages on my workers",
    "my scheduler runs out of file descriptors",
    "KilledWorker error after a while",
]


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from kb.search.embedding import encoder, model_files
    from kb.search.semantic import check_available

    check_available()
    search = os.path.join(os.path.dirname(sys.executable), "faq-search")
    with tempfile.TemporaryDirectory() as folder:
        env = dict(os.environ, FAQ_INDEX=folder)
        env.pop("FAQ_SEMANTIC", None)
        subprocess.run([search, "--semantic", QUESTIONS[0]], env=env, capture_output=True)
        cold: dict[str, list[float]] = {"semantic": [], "lexical": [], "pass": []}
        for _ in range(args.runs):
            cold["semantic"].append(_wall([search, "--semantic", QUESTIONS[0]], env))
            cold["lexical"].append(_wall([search, QUESTIONS[0]], env))
            cold["pass"].append(_wall([sys.executable, "-c", "pass"], env))
        medians = {name: statistics.median(times) for name, times in cold.items()}
        print(f"cold, median of {args.runs} (interleaved):")
        for name, value in medians.items():
            ratio = value / medians["pass"]
            print(f"  {name:<9} {value * 1000:7.1f} ms  ({ratio:.1f}x python -c pass)")
        verdict = "PASS" if medians["semantic"] <= 0.5 else "FAIL"
        print(f"  target: faq-search --semantic cold <= 0.5 s: {verdict}")
        print(f"model: {encoder().name}")
        # The same in this run with the packaged model used as it is (int8 weights that
        # ONNX Runtime dequantizes), the baseline of kb/search/fast_model.py.
        packaged = os.path.join(folder, "packaged-model")
        os.mkdir(packaged)
        for name, path in zip(("model.onnx", "vocab.txt"), model_files(), strict=True):
            os.symlink(path, os.path.join(packaged, name))
        warm = {
            "semantic": _warm(folder, semantic=True),
            "packaged": _warm(folder, semantic=True, model=packaged),
            "lexical": _warm(folder, semantic=False),
        }
        print("warm (a preloaded index, CPU time per question):")
        for name, value in warm.items():
            ratio = value / warm["semantic"]
            print(f"  {name:<9} {value * 1000:6.2f} ms  ({ratio:.2f}x semantic)")
        verdict = "PASS" if warm["semantic"] <= 0.005 else "FAIL"
        print(f"  target: warm question with the meaning signal <= 5 ms: {verdict}")
    return 0


def _warm(folder: str, *, semantic: bool, model: str = "") -> float:
    """CPU seconds per question of a preloaded knowledge base (``model``: FAQ_SEMANTIC_MODEL)."""
    from kb import KnowledgeBase

    os.environ["FAQ_SEMANTIC_MODEL"] = model
    try:
        kb = KnowledgeBase(index_dir=folder, preload=True, semantic=semantic)
        kb.open()
        for question in QUESTIONS:
            kb.search(question)
        started, count = time.process_time(), 0
        for _ in range(40):
            for question in QUESTIONS:
                kb.search(question)
                count += 1
        return (time.process_time() - started) / count
    finally:
        os.environ.pop("FAQ_SEMANTIC_MODEL", None)


if __name__ == "__main__":
    sys.exit(main())
