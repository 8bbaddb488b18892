"""Cold start of ``faq-search`` on the shipped FAQ vs ``python -c pass``.

Stand-alone: run it with the python of any environment where faq-kb is installed::

    python bench/cold_start.py [--runs 15] [--question "too many open files"]

It builds the shipped FAQ's index once into a temporary folder, then runs both commands
in turn, each a fresh process (interleaved, so that a busy moment hurts both alike), and
prints the medians and the median of the rounds' ratios. The target is at most 2.0.

``python -c pass`` is the floor: the interpreter's own start-up. (``import rank_bm25``,
the earlier baseline, swings by half with the machine's load: numpy's start-up.) The
commands run without PYTHONDONTWRITEBYTECODE, so that an editable install's modules are
read from their .pyc as a user's are. In a venv with faq-kb installed editable, setuptools'
editable finder is imported at every start-up of its python (~15-25 ms): it pads ``python
-c pass`` more than faq-search, so the ratio there comes out lower than a user's (bench.run
measures a fresh ``pip install .`` for that reason).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _script(name: str) -> str:
    """The console script ``name`` of this python's environment (else the one on PATH)."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(here):
        return here
    found = shutil.which(name)
    if not found:
        sys.exit(f"error: {name} not found next to {sys.executable} or on PATH; install faq-kb")
    return found


TARGET = 2.0
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(cmd: list[str], **env: str) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        cmd,
        env={**ENV, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"error: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr.decode()}")
    return seconds, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh runs of each (default 15)")
    parser.add_argument("--question", default="too many open files")
    args = parser.parse_args()
    faq_kb, faq_search = _script("faq-kb"), _script("faq-search")
    with tempfile.TemporaryDirectory(prefix="faq-cold-") as index:
        build = subprocess.run(
            [faq_kb, "build", "--index", index], capture_output=True, text=True, check=False
        )
        if build.returncode != 0:
            sys.exit(f"error: faq-kb build failed:\n{build.stderr}")
        ours_cmd = [faq_search, args.question]  # the user's command; FAQ_INDEX names the index
        theirs_cmd = [sys.executable, "-c", "pass"]
        _wall(ours_cmd, FAQ_INDEX=index)  # once each first: the page cache as a user's finds it
        _wall(theirs_cmd)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(_wall(ours_cmd, FAQ_INDEX=index)[0])
            theirs.append(_wall(theirs_cmd)[0])
    a, b = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    ratio = statistics.median(x / y for x, y in zip(ours, theirs, strict=True))
    print(
        f"python: {sys.executable} ({sys.version.split()[0]}), {args.runs} runs each, interleaved"
    )
    rows = [
        (f'faq-search "{args.question}" (shipped FAQ, prebuilt index)', ours, a),
        ("python -c pass", theirs, b),
    ]
    width = max(len(label) for label, _, _ in rows)
    for label, runs, median in rows:
        print(
            f"{label.ljust(width)}  median {median:7.1f} ms  "
            f"(min {min(runs) * 1e3:.1f}, max {max(runs) * 1e3:.1f})"
        )
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(
        f"target cold faq-search, shipped FAQ <= {TARGET:g}x python -c pass: "
        f"measured {ratio:.2f}x (<= {TARGET:g}x) {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
