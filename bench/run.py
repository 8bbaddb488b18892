"""Benchmark faq-kb against rank-bm25 and tantivy on 1k, 10k and 100k-entry FAQs, side by side.

    .venv/bin/python -m bench.run          # all sizes, a few minutes; rewrites docs/performance.md
    .venv/bin/python -m bench.run --quick    # 1k and 10k only (under a minute)

For each size it generates a corpus from real text (``bench.corpus``), then measures, each
in a fresh process: faq-kb's build (``faq-kb build``), index size, peak memory, cold
``faq-search --no-rebuild`` and warm queries (``KnowledgeBase.search``, k=10); rank-bm25's
own ``BM25Plus`` on the same tokens (construction, ``get_scores`` per query, field-weighted
as faq-kb weighs them); and tantivy on the same texts. It checks that faq-kb's scores are
rank-bm25's to 1e-9, and prints every target of the performance issue as PASS or FAIL.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import BASE_URL, OUT, QUERIES_FILE, REPO, load_pool, load_queries, write_corpus

DOCS_FILE = REPO / "docs" / "performance.md"
DEFAULT_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000, 10000)
SHIPPED_QUESTION = "too many open files"
# rank-bm25 spends about a second per question at 100k entries (three fields): above
# this size it is timed on an evenly spread subset of the questions.
RANK_BM25_FULL_UP_TO = 20000
BIN = Path(sys.executable).parent  # the venv's console scripts sit next to its python


# Linux hands a child its parent's peak RSS when it forks: the pre-exec copy of the address
# space counts towards the child's ru_maxrss. So each command is started by this tiny
# launcher (python -S: a few MB), which times it and reads its peak from wait4; this
# process, which holds corpora and results, never forks a measured command itself.
_LAUNCHER = """
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(out, "w") as handle:
    handle.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


class Child:
    """A finished child process: wall time, peak RSS (MB), exit status and its output."""

    def __init__(self, cmd: list[str], *, cwd: Path = REPO) -> None:
        with tempfile.TemporaryDirectory(prefix="faq-bench-run-") as tmp:
            result = os.path.join(tmp, "result")
            proc = subprocess.run(
                [sys.executable, "-S", "-c", _LAUNCHER, result, *cmd],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if proc.returncode != 0 or not os.path.exists(result):
                raise RuntimeError(f"could not run {cmd}: {proc.stderr.decode(errors='replace')}")
            seconds, maxrss_kb, status = Path(result).read_text().split()
        self.seconds = float(seconds)
        self.maxrss_mb = int(maxrss_kb) / 1024  # Linux reports kilobytes
        self.returncode = int(status)
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")


def _worker(task: str, *args: str) -> tuple[dict[str, Any], Child]:
    with tempfile.NamedTemporaryFile(suffix=".json", dir=OUT, delete=False) as handle:
        out = handle.name
    child = Child([sys.executable, "-m", "bench._workers", task, out, *args])
    try:
        if child.returncode != 0:
            raise RuntimeError(f"bench worker {task} failed ({child.returncode}):\n{child.stderr}")
        return json.loads(Path(out).read_text()), child
    finally:
        os.unlink(out)


def _cold_pair(cmd: list[str], runs: int) -> dict[str, Any]:
    """Interleave fresh ``cmd`` runs with fresh ``python -c "import rank_bm25"`` runs."""
    baseline = [sys.executable, "-c", "import rank_bm25"]
    ours: list[Child] = []
    theirs: list[Child] = []
    Child(cmd)  # warm the page cache for both, as a user's second run would find it
    Child(baseline)
    for _ in range(runs):
        ours.append(Child(cmd))
        theirs.append(Child(baseline))
    bad = [c for c in ours if c.returncode not in (0, 1) or "rebuild" in c.stderr]
    if bad:
        raise RuntimeError(f"{' '.join(cmd)} failed or rebuilt:\n{bad[0].stderr}")
    ms = statistics.median(c.seconds for c in ours) * 1e3
    base_ms = statistics.median(c.seconds for c in theirs) * 1e3
    return {
        "ms": ms,
        "import_rank_bm25_ms": base_ms,
        "ratio": ms / base_ms,
        "maxrss_mb": statistics.median(c.maxrss_mb for c in ours),
        "runs": runs,
        "all_ms": [round(c.seconds * 1e3, 1) for c in ours],
        "baseline_all_ms": [round(c.seconds * 1e3, 1) for c in theirs],
    }


def measure_shipped(runs: int) -> dict[str, Any]:
    """Cold ``faq-search "too many open files"`` on the shipped FAQ, prebuilt index."""
    with tempfile.TemporaryDirectory(prefix="faq-bench-") as index:
        built = Child([str(BIN / "faq-kb"), "build", "--index", index])
        if built.returncode != 0:
            raise RuntimeError(f"faq-kb build of the shipped FAQ failed:\n{built.stderr}")
        return _cold_pair([str(BIN / "faq-search"), "--index", index, SHIPPED_QUESTION], runs)


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_size(size: int, engine: str | None, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement for one corpus size."""
    note = lambda text: print(f"  [{size:,}] {text}", file=sys.stderr, flush=True)  # noqa: E731
    corpus = OUT / f"corpus-{size}"
    started = time.perf_counter()
    stamp = write_corpus(size, corpus)
    note(
        f"corpus: {stamp['files']} files, {int(stamp['bytes']) / 1e6:.1f} MB "
        f"({time.perf_counter() - started:.1f} s)"
    )
    source_arg = f"{corpus}={BASE_URL}"
    index_dir = OUT / f"index-{size}"
    shutil.rmtree(index_dir, ignore_errors=True)
    r: dict[str, Any] = {"size": size, "corpus": stamp}

    note("faq-kb build …")
    build, child = _worker("build", source_arg, str(index_dir))
    if build["status"] != 0:
        raise RuntimeError(f"faq-kb build failed:\n{child.stderr}")
    index_files = list(index_dir.iterdir())
    r["faqkb_build"] = {
        **build,
        "wall_s": child.seconds,
        "maxrss_mb": child.maxrss_mb,
        "size_bytes": _du(index_dir),
        "files": [p.name for p in index_files],
    }

    fields = OUT / f"fields-{size}.jsonl"
    index_file = max(index_files, key=lambda p: p.stat().st_size)
    _worker("export", str(index_file), str(fields))

    note("faq-kb warm queries …")
    rankings = OUT / f"rankings-{size}.json"
    passes = args.passes if args.passes else (3 if size <= RANK_BM25_FULL_UP_TO else 1)
    warm, child = _worker(
        "faqkb", source_arg, str(index_dir), str(QUERIES_FILE), str(passes), str(rankings)
    )
    r["faqkb_warm"] = {**warm, "maxrss_mb": child.maxrss_mb, "passes": passes}

    note("rank-bm25 …")
    limit = 0 if size <= RANK_BM25_FULL_UP_TO else args.rank_bm25_queries
    rb, child = _worker("rank_bm25", str(fields), str(QUERIES_FILE), str(limit), str(rankings))
    r["rank_bm25"] = {**rb, "maxrss_mb": child.maxrss_mb, "wall_s": child.seconds}

    if engine:
        note(f"{engine} …")
        ref, child = _worker(
            engine, str(fields), str(QUERIES_FILE), str(OUT / f"{engine}-{size}"), str(passes)
        )
        r["reference"] = {**ref, "engine": engine, "maxrss_mb": child.maxrss_mb}

    note("cold faq-search …")
    cmd = [
        str(BIN / "faq-search"),
        "--no-rebuild",
        "--source",
        source_arg,
        "--index",
        str(index_dir),
        SHIPPED_QUESTION,
    ]
    r["cold"] = _cold_pair(cmd, args.cold_runs)
    if not args.keep:
        fields.unlink(missing_ok=True)
        rankings.unlink(missing_ok=True)
    return r


# ---------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _x(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "—"
    return f"{a / b:.2f}x" if a / b < 100 else f"{a / b:,.0f}x"


def build_peak_mb(b: dict[str, Any]) -> float:
    """The build's memory: its main process and every parse worker, each at its peak."""
    if "main_peak_mb" not in b:
        return float(b["maxrss_mb"])
    return float(b["main_peak_mb"] + b["workers"] * b["worker_peak_mb"])


def size_table(r: dict[str, Any]) -> str:
    """The side-by-side table of one size, as Markdown (readable as plain text too)."""
    b, w, rb, cold = r["faqkb_build"], r["faqkb_warm"], r["rank_bm25"], r["cold"]
    ref = r.get("reference")
    eng = ref["engine"] if ref else "reference"
    mb = 2**20
    parse, index_s = b.get("parse_s"), b.get("index_s")
    rows = [
        (
            "index build from rst, whole `faq-kb build` (s)",
            _f(b["wall_s"])
            + (
                f" (parse + tokenize {_f(parse)}, {b.get('workers') or 1} process(es))"
                if parse is not None
                else ""
            ),
            "— (is given tokens)",
            _f(ref["build_s"]) if ref else "—",
            "—",
            _x(b["wall_s"], ref and ref["build_s"]),
        ),
        (
            "index construction from tokens (s)",
            _f(index_s) if index_s is not None else "—",
            _f(rb["construct_s"]),
            "—",
            _x(index_s, rb["construct_s"]),
            "—",
        ),
        (
            "tokenize (CPU s)",
            (
                f"{_f(b['tokenize_cpu_s'])} (+ numbering {_f(b['numbering_cpu_s'])})"
                if "numbering_cpu_s" in b
                else "—"
            ),
            _f(rb["tokenize_s"]),
            "—",
            _x(b.get("tokenize_cpu_s"), rb["tokenize_s"]),
            "—",
        ),
        (
            "index size on disk (MB)",
            _f(b["size_bytes"] / mb, 1),
            "— (memory only)",
            _f(ref["size_bytes"] / mb, 1) if ref else "—",
            "—",
            _x(b["size_bytes"], ref and ref["size_bytes"]),
        ),
        (
            "peak memory, build (MB)",
            _f(build_peak_mb(b), 0)
            + (
                f" (main {_f(b['main_peak_mb'], 0)} + {b['workers']} parse workers "
                f"≤ {_f(b['worker_peak_mb'], 0)} each)"
                if b.get("workers")
                else ""
            ),
            f"{_f(rb['maxrss_mb'], 0)} (model {_f(rb['model_mb'], 0)})",
            _f(ref["maxrss_mb"], 0) if ref else "—",
            _x(build_peak_mb(b), rb["maxrss_mb"]),
            _x(build_peak_mb(b), ref and ref["maxrss_mb"]),
        ),
        (
            "peak memory, warm query process (MB)",
            _f(w["maxrss_mb"], 0),
            "(same process)",
            "(same process)",
            _x(w["maxrss_mb"], rb["maxrss_mb"]),
            _x(w["maxrss_mb"], ref and ref["maxrss_mb"]),
        ),
        ("index load, warm process (s)", _f(w["load_s"], 3), "—", "—", "—", "—"),
        (
            "cold `faq-search --no-rebuild` (ms)",
            _f(cold["ms"], 1),
            f"import rank_bm25: {_f(cold['import_rank_bm25_ms'], 1)}",
            "—",
            _x(cold["ms"], cold["import_rank_bm25_ms"]),
            "—",
        ),
        ("peak memory, cold faq-search (MB)", _f(cold["maxrss_mb"], 0), "—", "—", "—", "—"),
        (
            "warm query p50 (ms)",
            _f(w["search"]["p50_ms"], 3),
            _f(rb["get_scores"]["p50_ms"], 3),
            _f(ref["search"]["p50_ms"], 3) if ref else "—",
            _x(w["search"]["p50_ms"], rb["get_scores"]["p50_ms"]),
            _x(w["search"]["p50_ms"], ref and ref["search"]["p50_ms"]),
        ),
        (
            "warm query p99 (ms)",
            _f(w["search"]["p99_ms"], 3),
            _f(rb["get_scores"]["p99_ms"], 3),
            _f(ref["search"]["p99_ms"], 3) if ref else "—",
            _x(w["search"]["p99_ms"], rb["get_scores"]["p99_ms"]),
            _x(w["search"]["p99_ms"], ref and ref["search"]["p99_ms"]),
        ),
        (
            "scoring only p50 / p99 (ms)",
            f"{_f(w['scoring']['p50_ms'], 3)} / {_f(w['scoring']['p99_ms'], 3)}",
            "—",
            "—",
            "—",
            _x(w["scoring"]["p50_ms"], ref and ref["search"]["p50_ms"]),
        ),
        (
            "p99 / p50",
            _x(w["search"]["p99_ms"], w["search"]["p50_ms"]),
            _x(rb["get_scores"]["p99_ms"], rb["get_scores"]["p50_ms"]),
            _x(ref["search"]["p99_ms"], ref["search"]["p50_ms"]) if ref else "—",
            "—",
            "—",
        ),
    ]
    head = ("", "faq-kb", "rank-bm25", eng, "faq-kb / rank-bm25", f"faq-kb / {eng}")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(cells)) + " |"

    c = r["corpus"]
    out = [
        f"### {r['size']:,} entries ({c['files']} rst files, {int(c['bytes']) / 1e6:.1f} MB, "
        f"corpus {c['sha256']})",
        "",
        line(head),
        "|" + "|".join("-" * (wd + 2) for wd in widths) + "|",
        *[line(row) for row in rows],
        "",
        f"Warm queries: {w['search']['n']} timed ({w['passes']} pass"
        f"{'es' if w['passes'] > 1 else ''} over the questions, k=10); rank-bm25 get_scores over "
        f"{rb['queries_timed']} questions (fields {', '.join(rb.get('fields', ['?']))}, weighted)"
        + (f"; {eng} ({ref.get('version', '?')}) top 10." if ref else "."),
    ]
    ex = rb.get("exactness")
    if ex:
        out.append(
            f"Exactness vs rank-bm25 ({ex['checked']} questions, top 10, tolerance 1e-9): "
            f"{ex['top_mismatches']} ranking mismatches, {ex['hit_mismatches']} hit-score "
            f"mismatches, max |diff| {ex['max_abs_diff']:.1e}."
        )
    out.append(
        "Slowest faq-kb questions: "
        + "; ".join(f"{q[:50]!r} {ms:.2f} ms" for q, ms in w["slowest"][:3])
    )
    return "\n".join(out)


def targets(results: dict[int, dict[str, Any]], shipped: dict[str, Any] | None) -> list[str]:
    """Every target of the issue as "target …: measured … PASS/FAIL" (or not measured)."""
    lines = []

    def check(name: str, value: float | None, limit: float, unit: str = "x") -> None:
        if value is None:
            lines.append(f"target {name}: not measured in this run")
            return
        verdict = "PASS" if value <= limit else "FAIL"
        lines.append(f"target {name}: measured {value:.2f}{unit} (<= {limit}{unit}) {verdict}")

    def ratio_p50(size: int) -> float | None:
        r = results.get(size)
        if not r or "reference" not in r:
            return None
        return r["faqkb_warm"]["search"]["p50_ms"] / r["reference"]["search"]["p50_ms"]

    eng = next((r["reference"]["engine"] for r in results.values() if "reference" in r), "ref")
    check(f"warm query p50 at 100k <= 1.5x {eng}", ratio_p50(100000), 1.5)
    check(f"warm query p50 at 10k <= 2x {eng}", ratio_p50(10000), 2.0)
    for size, r in sorted(results.items()):
        s = r["faqkb_warm"]["search"]
        check(f"warm query p99 <= 5x p50 at {size // 1000}k", s["p99_ms"] / s["p50_ms"], 5.0)
    r100 = results.get(100000)
    fb = r100 and r100["faqkb_build"]
    rb = r100 and r100["rank_bm25"]
    check(
        "index build at 100k <= 2x rank-bm25 model construction (same tokens)",
        fb and fb.get("index_s") is not None and fb["index_s"] / rb["construct_s"],
        2.0,
    )
    check(
        "  … counting also the numbering of the tokens (done while tokenizing, CPU s)",
        fb
        and fb.get("numbering_cpu_s") is not None
        and (fb["index_s"] + fb["numbering_cpu_s"]) / rb["construct_s"],
        2.0,
    )
    if fb and fb.get("parse_s") is not None:
        lines.append(
            f"  (faq-kb's construction from tokens {fb['index_s']:.2f} s vs rank-bm25's "
            f"{rb['construct_s']:.2f} s; before it, the rst parse and tokenizing take "
            f"{fb['parse_s']:.1f} s in {fb.get('workers') or 1} process(es), which rank-bm25 "
            f"never does: the whole `faq-kb build` is {fb['wall_s']:.1f} s, against "
            f"{rb['tokenize_s'] + rb['construct_s']:.1f} s for rank-bm25's tokenize + construct)"
        )
    check(
        "peak memory of the build at 100k <= rank-bm25's own model process + 50%",
        fb and build_peak_mb(fb) / rb["maxrss_mb"],
        1.5,
    )
    if fb and fb.get("workers"):
        lines.append(
            f"  (all build processes counted at their peaks at once: main "
            f"{fb['main_peak_mb']:.0f} MB + {fb['workers']} parse workers ≤ "
            f"{fb['worker_peak_mb']:.0f} MB each, vs rank-bm25's process "
            f"{rb['maxrss_mb']:.0f} MB)"
        )
    if r100:
        lines.append(
            f"  (warm query process at 100k: {r100['faqkb_warm']['maxrss_mb']:.0f} MB vs "
            f"rank-bm25 process {r100['rank_bm25']['maxrss_mb']:.0f} MB = "
            f"{r100['faqkb_warm']['maxrss_mb'] / r100['rank_bm25']['maxrss_mb']:.2f}x)"
        )
    check(
        'cold faq-search on the shipped FAQ <= 1.0x python -c "import rank_bm25"',
        shipped and shipped["ratio"],
        1.0,
    )
    r10 = results.get(10000)
    check(
        'cold faq-search at 10k <= 1.5x python -c "import rank_bm25"',
        r10 and r10["cold"]["ratio"],
        1.5,
    )
    for size, r in sorted(results.items()):
        ex = r["rank_bm25"].get("exactness")
        if ex:
            bad = ex["top_mismatches"] + ex["hit_mismatches"]
            lines.append(
                f"target exact scores at {size // 1000}k ({ex['checked']} questions): "
                f"{bad} mismatches {'PASS' if bad == 0 else 'FAIL'}"
            )
    return lines


def machine_info() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    except OSError:
        free = "?"
    versions = {}
    for dist in ("rank-bm25", "numpy", "tantivy", "bm25s", "docutils", "PyStemmer", "faq-kb"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - PackageNotFoundError and broken metadata alike
            continue
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "kb"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "free -h": free.rstrip(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "faq-kb commit": commit + (" + uncommitted changes in kb/" if dirty else ""),
    }


def report(
    machine: dict[str, str],
    shipped: dict[str, Any] | None,
    results: dict[int, dict[str, Any]],
    engine_note: str,
    argv: list[str],
    total_s: float,
) -> str:
    lines = ["## Machine", ""]
    for key, value in machine.items():
        if key == "free -h":
            lines += ["```", "$ free -h", value, "```"]
        else:
            lines.append(f"- {key}: {value}")
    lines += [
        "",
        f"Command: `{' '.join(['python -m bench.run', *argv])}` "
        f"(whole run {total_s / 60:.1f} min). {engine_note}",
        "",
    ]
    if shipped:
        lines += [
            "## Cold start, shipped FAQ",
            "",
            f'`faq-search "{SHIPPED_QUESTION}"` (prebuilt index, freshness check included): '
            f'median {shipped["ms"]:.1f} ms vs `python -c "import rank_bm25"` '
            f"{shipped['import_rank_bm25_ms']:.1f} ms = **{shipped['ratio']:.2f}x** "
            f"({shipped['runs']} interleaved fresh runs each; faq-search peak "
            f"{shipped['maxrss_mb']:.0f} MB).",
            "",
        ]
    lines += ["## Per size", ""]
    for size in sorted(results):
        lines += [size_table(results[size]), ""]
    lines += ["## Targets", "", "```", *targets(results, shipped), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated entry counts (default 1000,10000,100000)",
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument("--cold-runs", type=int, default=9, help="fresh processes per cold figure")
    parser.add_argument(
        "--passes",
        type=int,
        default=0,
        help="timed passes over the questions (default 3; 1 above 20k entries)",
    )
    parser.add_argument(
        "--rank-bm25-queries",
        type=int,
        default=60,
        help="questions rank-bm25 is timed on above 20k entries (default 60)",
    )
    parser.add_argument(
        "--engine",
        choices=("tantivy", "bm25s"),
        help="reference engine (default tantivy, else bm25s if installed)",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="do not rewrite docs/performance.md after a full run"
    )
    parser.add_argument("--keep", action="store_true", help="keep fields/rankings in bench/out")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)

    engine = args.engine
    if engine is None:
        engine = next((e for e in ("tantivy", "bm25s") if importlib.util.find_spec(e)), None)
    if engine == "tantivy":
        engine_note = "Reference engine: tantivy (Rust; en_stem tokenizer, same field weights)."
    elif engine == "bm25s":
        engine_note = (
            "Reference engine: bm25s — tantivy is NOT installed "
            "(`.venv/bin/pip install tantivy`), so bm25s stands in for it."
        )
    else:
        engine_note = (
            "NO reference engine: neither tantivy nor bm25s is installed "
            "(`.venv/bin/pip install tantivy`); tantivy targets are not measured."
        )
    machine = machine_info()
    print(
        "faq-kb benchmark —",
        machine["date"],
        "—",
        machine["cpu"],
        f"×{machine['nproc']}",
        "—",
        machine["python"],
        flush=True,
    )
    print(engine_note, flush=True)
    queries = load_queries()
    print(f"{len(queries)} questions from {QUERIES_FILE.relative_to(REPO)}", flush=True)
    load_pool()

    print("cold start on the shipped FAQ …", file=sys.stderr, flush=True)
    shipped = measure_shipped(args.cold_runs)
    print(
        f'cold faq-search "{SHIPPED_QUESTION}" (shipped FAQ): {shipped["ms"]:.1f} ms vs '
        f"import rank_bm25 {shipped['import_rank_bm25_ms']:.1f} ms = {shipped['ratio']:.2f}x",
        flush=True,
    )
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        results[size] = run_size(size, engine, args)
        print("\n" + size_table(results[size]) + "\n", flush=True)
    total = time.perf_counter() - started
    print("\n".join(targets(results, shipped)))
    print(f"\nwhole run: {total / 60:.1f} min")

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = {"machine": machine, "shipped": shipped, "results": results, "argv": argv}
    (OUT / f"results-{stamp}.json").write_text(json.dumps(raw, indent=1))
    text = report(machine, shipped, results, engine_note, argv, total)
    (OUT / "latest.md").write_text(text)
    if set(sizes) >= set(DEFAULT_SIZES) and not args.no_docs:
        DOCS_FILE.parent.mkdir(exist_ok=True)
        DOCS_FILE.write_text(_DOCS_HEAD + text)
        print(f"wrote {DOCS_FILE.relative_to(REPO)}")
    return 0


_DOCS_HEAD = """# Performance

The latest output of the benchmark suite (`bench/`; see bench/README.md for what each figure
means and how the corpora are made). Regenerate with:

```
.venv/bin/python -m bench.run          # 1k, 10k and 100k entries; rewrites this file
```

"""


if __name__ == "__main__":
    sys.exit(main())
