"""Where faq-kb's time goes, with cProfile: warm queries, the build, or a cold faq-search.

    .venv/bin/python -m bench.profiling query --size 100000      # the warm query path
    .venv/bin/python -m bench.profiling build --size 10000       # faq-kb build
    .venv/bin/python -m bench.profiling cold  --size 10000       # one cold faq-search
    .venv/bin/python -m bench.profiling importtime               # -X importtime of faq-search

Uses the corpora and indexes ``bench.run`` leaves in bench/out (it makes them if missing).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import subprocess
import sys
import time
from pathlib import Path

from bench.corpus import BASE_URL, OUT, load_queries, write_corpus
from bench.run import CHILD_ENV

BIN = Path(sys.executable).parent


def _prepare(size: int) -> tuple[str, Path]:
    corpus = OUT / f"corpus-{size}"
    write_corpus(size, corpus)
    index = OUT / f"index-{size}"
    source = f"{corpus}={BASE_URL}"
    if not index.exists():
        subprocess.run(
            [str(BIN / "faq-kb"), "build", "--source", source, "--index", str(index)],
            check=True,
            capture_output=True,
        )
    return source, index


def _print(profiler: cProfile.Profile, sort: str, limit: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    print(out.getvalue())


def profile_query(size: int, limit: int) -> None:
    from kb.knowledge import KnowledgeBase
    from kb.spec import SourceSpec

    source, index = _prepare(size)
    queries = load_queries()
    kb = KnowledgeBase(SourceSpec(paths=(source,)), index, preload=True)
    kb.open(rebuild=False)
    for question in queries:
        kb.search(question, k=10)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for question in queries:
        kb.search(question, k=10)
    profiler.disable()
    print(
        f"{len(queries)} warm questions at {size:,} entries: "
        f"{(time.perf_counter() - started) / len(queries) * 1e3:.2f} ms each under the profiler"
    )
    _print(profiler, "tottime", limit)


def profile_build(size: int, limit: int) -> None:
    from kb.cli.main import kb_main

    corpus = OUT / f"corpus-{size}"
    write_corpus(size, corpus)
    index = OUT / f"profile-index-{size}"
    profiler = cProfile.Profile()
    profiler.enable()
    kb_main(["build", "--source", f"{corpus}={BASE_URL}", "--index", str(index)])
    profiler.disable()
    _print(profiler, "cumulative", limit)
    _print(profiler, "tottime", limit)


def profile_cold(size: int, limit: int) -> None:
    source, index = _prepare(size)
    script = (
        "import cProfile, pstats, sys\n"
        "from kb.cli.main import search_main\n"
        "p = cProfile.Profile(); p.enable()\n"
        f"try:\n    search_main(['--no-rebuild', '--source', {source!r}, '--index', "
        f"{str(index)!r}, 'too many open files'])\n"
        "finally:\n    p.disable()\n"
        f"pstats.Stats(p, stream=sys.stderr).strip_dirs().sort_stats('cumulative')"
        f".print_stats({limit})\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=CHILD_ENV, capture_output=True, text=True, check=False
    )
    print(proc.stderr)


def profile_importtime(limit: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as index:
        subprocess.run(
            [str(BIN / "faq-kb"), "build", "--index", index], check=True, capture_output=True
        )
        # The user's command (a plain question); FAQ_INDEX names the index.
        env = {**CHILD_ENV, "FAQ_INDEX": index}
        cmd = [str(BIN / "faq-search"), "too many open files"]
        subprocess.run(cmd, env=env, capture_output=True, check=False)  # writes the .pyc
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *cmd],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    rows = []
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if line.startswith("import time:") and len(parts) == 3 and parts[0].isdigit():
            rows.append((int(parts[1]), int(parts[0]), parts[2]))
    total = sum(s for _, s, _ in rows)
    print(f"imports of a cold faq-search: {total / 1e3:.1f} ms in all (self times summed)")
    for cumulative, own, name in sorted(rows, reverse=True)[:limit]:
        print(f"{cumulative / 1e3:8.1f} ms cumulative {own / 1e3:7.1f} ms self  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profiling", description=__doc__.split("\n")[0]
    )
    parser.add_argument("what", choices=("query", "build", "cold", "importtime"))
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--limit", type=int, default=25, help="rows to print")
    args = parser.parse_args()
    if args.what == "query":
        profile_query(args.size, args.limit)
    elif args.what == "build":
        profile_build(args.size, args.limit)
    elif args.what == "cold":
        profile_cold(args.size, args.limit)
    else:
        profile_importtime(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
