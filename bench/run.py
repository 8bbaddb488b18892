"""Benchmark faq-kb against tantivy, rank-bm25 and ``python -c pass``, 1k to 100k entries.

    .venv/bin/python -m bench.run          # all sizes (~10 min with the corpora generated)
    .venv/bin/python -m bench.run --quick  # 1k and 10k only (~2 min)

For the shipped FAQ and each size it generates a corpus from real text (``bench.corpus``)
and measures, each in a fresh process, every target of the performance issue as a ratio
taken in the same run, pair by pair (each faq-kb run interleaved with its baseline's):

* cold ``faq-search`` (a fresh process answering one question from a prebuilt index)
  against ``python -c pass`` and against a one-query tantivy script on the same corpus;
* the index folder's size on disk against tantivy's (title, url and answer stored);
* a rebuild after a one-line edit of one source file, by ``faq-kb build`` and by a cold
  ``faq-search`` that finds the source changed: wall time and peak RSS of the whole process
  tree, against tantivy's delete + add + commit of one document;
* warm queries (``KnowledgeBase.search``, k=10) in CPU time per question, against tantivy's.

It also keeps faq-kb's build figures against rank-bm25's model construction on the same
tokens, and checks that faq-kb's scores are rank-bm25's to 1e-9. Every target is printed
as ``target …: measured R (<= limit) PASS/FAIL``; a run of all three default sizes
rewrites docs/performance.md.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _internals
from bench._workers import EDIT, TANTIVY_QUERY, du, percentiles
from bench.corpus import BASE_URL, OUT, QUERIES_FILE, REPO, load_pool, load_queries, write_corpus

DOCS_FILE = REPO / "docs" / "performance.md"
DEFAULT_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000, 10000)
SHIPPED_QUESTION = "too many open files"
# rank-bm25 spends about a second per question at 100k entries (all fields): above this
# size it is timed on an evenly spread subset of the questions.
RANK_BM25_FULL_UP_TO = 20000
BIN = Path(sys.executable).parent  # the venv's console scripts sit next to its python
USER_VENV = OUT / "venv-installed"


class Commands:
    """Where the measured commands (faq-search, faq-kb, python) come from.

    By default a venv of their own with faq-kb installed from this checkout as a user's
    pip installs it (``user_install``), not this venv's editable install: setuptools'
    editable finder is imported by ``site`` at every start-up of this venv's python
    (pathlib, re, fnmatch: ~10 ms), which no installed user pays and which would pad the
    ``python -c pass`` floor more than faq-search (which imports most of them anyway).
    """

    bin: Path = BIN

    def __call__(self, name: str) -> str:
        return str(self.bin / name)


CMD = Commands()


def user_install() -> Path:
    """A fresh venv with faq-kb installed (not editable) from this checkout.

    Its site-packages holds faq-kb only (pip compiles its .pyc at install time, as for a
    user); a path line in a .pth file puts this venv's site-packages after it for the
    dependencies (docutils, numpy, tantivy …) without running that folder's .pth files,
    so without the editable finder.
    """
    shutil.rmtree(USER_VENV, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(USER_VENV)],
        check=True,
        env=CHILD_ENV,
    )
    py = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages")
    (USER_VENV / "lib" / py / "site-packages" / "_bench_deps.pth").write_text(f"{ours}\n")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(USER_VENV / "bin" / "python")),
            *("install", "--quiet", "--no-deps", str(REPO)),
        ],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        check=False,
    )
    if proc.returncode != 0 or not (USER_VENV / "bin" / "faq-search").exists():
        raise RuntimeError(f"pip install of faq-kb into {USER_VENV} failed:\n{proc.stderr}")
    return USER_VENV / "bin"


# The targets of the issue (#13), and what it measured on the old index ("before").
LIMITS = {
    "cold_shipped": 2.0,
    "cold_10000": 2.5,
    "cold_100000": 4.0,
    "size": 1.0,
    "rebuild_s": 1.0,
    "rebuild_mb": 300.0,
    "warm_p50": 0.6,
    "warm_spread": 4.0,
}
BEFORE = {
    "cold_shipped": "2.5–3.3x",
    "cold_10000": "4.4–4.6x",
    "cold_100000": "14.6x (73 MB)",
    "size_10000": "—",
    "size_100000": "2.53x (240 MB vs 95 MB)",
    "rebuild_s": "11 s (faq-search)",
    "rebuild_mb": "545 MB (faq-search)",
    "warm_p50": "0.56–0.74x",
    "warm_spread": "—",
}

# Measured commands get the environment a user's shell has, minus PYTHONDONTWRITEBYTECODE:
# with it set (as in some CI and sandbox shells), an editable install's kb/ is compiled
# again on every cold start, because no .pyc is ever written (site-packages was compiled
# by pip at install time, so only the project's own modules pay).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# Linux hands a child its parent's peak RSS when it forks: the pre-exec copy of the address
# space counts towards the child's ru_maxrss. So each command is started by this tiny
# launcher (python -S: a few MB), which times it and reads its peak from wait4; this
# process, which holds corpora and results, never forks a measured command itself.
# With "tree" it also follows the command's descendants (faq-kb's parse workers) every
# 10 ms: the largest sum of the tree's RSS seen at one time (the tree's peak, what the
# machine must hold at once: the figure the targets use), and each process's own peak
# (VmHWM, its last reading), whose sum is an upper bound (as if every process peaked at
# once; shown next to it). wait4's ru_maxrss is only the largest single process's.
_LAUNCHER = """
import os, sys, time
out, tree, cmd = sys.argv[1], sys.argv[2] == "tree", sys.argv[3:]
started = time.perf_counter()
pid = os.posix_spawnp(cmd[0], cmd, os.environ)
hwm, parent_of, family, together = {}, {}, {pid}, 0
def status(p):
    fields = {}
    with open(f"/proc/{p}/status") as handle:
        for line in handle:
            if line.startswith(("VmHWM:", "VmRSS:")):
                fields[line[:5]] = int(line.split()[1])
    return fields
while tree:
    done, code, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    grown = False
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in parent_of:
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parent_of[int(name)] = int(handle.read().rsplit(")", 1)[1].split()[1])
                grown = True
            except (OSError, IndexError, ValueError):
                parent_of[int(name)] = -1  # gone already
    while grown:
        grown = False
        for p, q in parent_of.items():
            if q in family and p not in family:
                family.add(p)
                grown = True
    now = 0
    for p in family:
        try:
            fields = status(p)
        except OSError:
            continue
        hwm[p] = max(hwm.get(p, 0), fields.get("VmHWM", 0))
        now += fields.get("VmRSS", 0)
    together = max(together, now)
    time.sleep(0.01)
else:
    done, code, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
tree_kb = max(sum(hwm.values()), usage.ru_maxrss)
with open(out, "w") as handle:
    peaks = ",".join(map(str, sorted(hwm.values(), reverse=True))) or "-"
    handle.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(code)} "
                 f"{tree_kb} {together} {len(hwm) or 1} {peaks}")
"""


class Child:
    """A finished child process: wall time, peak RSS (MB), exit status and its output.

    ``tree``: also the peak RSS of its whole process tree (``together_mb``: the largest
    sum seen at one time, every 10 ms; ``tree_mb``: the sum of each process's own peak, an
    upper bound; ``peaks_mb``: those peaks, largest first).
    """

    def __init__(
        self,
        cmd: list[str],
        *,
        tree: bool = False,
        cwd: Path = REPO,
        env: dict[str, str] | None = None,
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="faq-bench-run-") as tmp:
            result = os.path.join(tmp, "result")
            proc = subprocess.run(
                [sys.executable, "-S", "-c", _LAUNCHER, result, "tree" if tree else "-", *cmd],
                cwd=cwd,
                env={**CHILD_ENV, **(env or {})},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if proc.returncode != 0 or not os.path.exists(result):
                raise RuntimeError(f"could not run {cmd}: {proc.stderr.decode(errors='replace')}")
            seconds, maxrss_kb, status, tree_kb, together_kb, procs, peaks = (
                Path(result).read_text().split()
            )
        self.seconds = float(seconds)
        self.maxrss_mb = int(maxrss_kb) / 1024  # Linux reports kilobytes
        self.tree_mb = int(tree_kb) / 1024
        self.together_mb = int(together_kb) / 1024
        self.processes = int(procs)
        self.peaks_mb = [int(kb) / 1024 for kb in peaks.split(",") if kb != "-"]
        self.returncode = int(status)
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")


def _worker(task: str, *args: str, tree: bool = False) -> tuple[dict[str, Any], Child]:
    with tempfile.NamedTemporaryFile(suffix=".json", dir=OUT, delete=False) as handle:
        out = handle.name
    child = Child([sys.executable, "-m", "bench._workers", task, out, *args], tree=tree)
    try:
        if child.returncode != 0:
            raise RuntimeError(f"bench worker {task} failed ({child.returncode}):\n{child.stderr}")
        return json.loads(Path(out).read_text()), child
    finally:
        os.unlink(out)


def _median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------------------- cold start


def tantivy_query_cmd(index_dir: Path, question: str, python: str) -> list[str]:
    """The one-query tantivy script: a fresh python that opens the index and asks once."""
    names, weights, _ = _internals.field_weights()
    return [
        python,
        "-c",
        TANTIVY_QUERY,
        str(index_dir),
        question,
        ",".join(names),
        ",".join(str(weights[n]) for n in names),
    ]


def measure_cold(
    faqkb_cmd: list[str],
    tantivy_index: Path | None,
    rounds: int,
    bin_dir: Path | None = None,
    faqkb_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Fresh runs of faq-search, ``python -c pass`` and the tantivy script, interleaved.

    Each round runs all three (the order rotates from round to round, so none always
    follows another); a ratio is taken within each round and the median of the rounds'
    ratios is reported, so that a busy moment on the machine weighs on both sides of it.
    ``faqkb_env``: environment variables for faq-search only (``FAQ_INDEX``).
    """
    python = str((bin_dir or CMD.bin) / "python")
    cmds = {"faqkb": faqkb_cmd, "pass": [python, "-c", "pass"]}
    if tantivy_index is not None:
        cmds["tantivy"] = tantivy_query_cmd(tantivy_index, SHIPPED_QUESTION, python)
    envs = {"faqkb": faqkb_env}
    for name, cmd in cmds.items():  # warm the page cache, as a user's second run would find it
        Child(cmd, env=envs.get(name))
    runs: dict[str, list[Child]] = {name: [] for name in cmds}
    names = list(cmds)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(Child(cmds[name], env=envs.get(name)))
    bad = [c for c in runs["faqkb"] if c.returncode not in (0, 1) or "rebuild" in c.stderr]
    if bad:
        raise RuntimeError(f"{' '.join(faqkb_cmd)} failed or rebuilt:\n{bad[0].stderr}")
    if "tantivy" in runs and not all(c.returncode == 0 and c.stdout for c in runs["tantivy"]):
        raise RuntimeError(f"the tantivy query failed:\n{runs['tantivy'][0].stderr}")

    def ratio(a: str, b: str) -> float | None:
        if a not in runs or b not in runs:
            return None
        return _median([x.seconds / y.seconds for x, y in zip(runs[a], runs[b], strict=True)])

    return {
        "ms": {name: _median([c.seconds for c in cs]) * 1e3 for name, cs in runs.items()},
        "faqkb_pass": ratio("faqkb", "pass"),
        "tantivy_pass": ratio("tantivy", "pass"),
        "faqkb_tantivy": ratio("faqkb", "tantivy"),
        "faqkb_maxrss_mb": _median([c.maxrss_mb for c in runs["faqkb"]]),
        "rounds": rounds,
        "all_ms": {name: [round(c.seconds * 1e3, 1) for c in cs] for name, cs in runs.items()},
    }


def _tantivy_index(rows: Path, index_dir: Path, engine: bool) -> dict[str, Any] | None:
    if not engine:
        return None
    built, child = _worker("tantivy_build", str(rows), str(index_dir), tree=True)
    return {**built, "wall_s": child.seconds, "tree_mb": child.tree_mb}


def measure_shipped(rounds: int, engine: bool) -> dict[str, Any]:
    """Cold ``faq-search "too many open files"`` on the shipped FAQ, as users run it."""
    with tempfile.TemporaryDirectory(prefix="faq-bench-") as tmp:
        colds = {}
        for label, bin_dir in (("user", CMD.bin), ("editable", BIN)):
            if label == "editable" and bin_dir == CMD.bin:
                continue
            # The shipped FAQ's path is part of the index's sources: one index per install.
            index = Path(tmp) / f"index-{label}"
            built = Child([str(bin_dir / "faq-kb"), "build", "--index", str(index)])
            if built.returncode != 0:
                raise RuntimeError(f"faq-kb build of the shipped FAQ failed:\n{built.stderr}")
            if label == "user":
                rows = Path(tmp) / "rows.jsonl"
                exported, _ = _worker("export", "", str(index), str(rows))
                tantivy = _tantivy_index(rows, Path(tmp) / "tantivy", engine)
            # The user's very command: the index is named by FAQ_INDEX, not an option.
            colds[label] = measure_cold(
                [str(bin_dir / "faq-search"), SHIPPED_QUESTION],
                Path(tmp) / "tantivy" if tantivy else None,
                rounds,
                bin_dir,
                faqkb_env={"FAQ_INDEX": str(index)},
            )
        return {
            **colds["user"],
            "editable": colds.get("editable"),
            "entries": exported["entries"],
            "tantivy_size_bytes": tantivy and tantivy["size_bytes"],
        }


# ---------------------------------------------------------------------------- rebuild


def edit_point(text: str) -> int:
    """The end of the first plain prose line after the middle of an rst file.

    A paragraph's last line (unindented, ends with a full stop, a blank line after it):
    appending a sentence there keeps the rst valid and every title as it was.
    """
    lines = text.split("\n")
    offset = 0
    for number, line in enumerate(lines[:-1]):
        end = offset + len(line)
        offset = end + 1
        if (
            number > len(lines) // 2
            and line.endswith(".")
            and not line.endswith("::")
            and line[:1].isalpha()
            and lines[number + 1] == ""
        ):
            return end
    raise ValueError("no plain prose line to edit")


def measure_rebuild(
    source_arg: str,
    corpus: Path,
    index_dir: Path,
    rows: Path,
    size: int,
    rounds: int,
    engine: bool,
) -> dict[str, Any]:
    """A one-line edit of one source file, then the rebuild, by either command; and tantivy's.

    Every measured rebuild follows one toggle of the same line (edited, then as it was),
    so each one rebuilds after a one-line edit and the rounds end with the file restored
    and the index built from it. Within a round, ``faq-kb build`` and a cold ``faq-search``
    (without --no-rebuild) take turns going first; tantivy's delete + add + commit of one
    document (the same edit of its answer) follows each.
    """
    files = sorted(corpus.glob("*.rst"))
    path = files[len(files) // 2]
    original = path.read_text(encoding="utf-8")
    at = edit_point(original)
    edited = original[:at] + EDIT + original[at:]
    commands = {
        "build": [CMD("faq-kb"), "build", "--source", source_arg, "--index", str(index_dir)],
        "search": [
            CMD("faq-search"),
            "--source",
            source_arg,
            "--index",
            str(index_dir),
            SHIPPED_QUESTION,
        ],
    }
    runs: dict[str, list[Child]] = {"build": [], "search": [], "tantivy": []}
    tantivy_ops: list[float] = []
    state = False  # the file is as it was
    try:
        for r in range(rounds):
            for how in ("build", "search") if r % 2 == 0 else ("search", "build"):
                state = not state
                path.write_text(edited if state else original, encoding="utf-8")
                child = Child(commands[how], tree=True)
                if child.returncode not in (0, 1) or (
                    how == "search" and "rebuilding" not in child.stderr
                ):
                    cmd = " ".join(commands[how])
                    raise RuntimeError(f"{cmd} did not rebuild:\n{child.stderr}")
                runs[how].append(child)
                if engine:
                    update, child = _worker(
                        "tantivy_update",
                        str(OUT / f"tantivy-{size}"),
                        str(rows),
                        str(size // 2),
                        "1" if state else "0",
                        tree=True,
                    )
                    runs["tantivy"].append(child)
                    tantivy_ops.append(update["update_s"])
    finally:
        if path.read_text(encoding="utf-8") != original:
            path.write_text(original, encoding="utf-8")  # the index is then stale: rebuilt
    out: dict[str, Any] = {"file": path.name, "rounds": rounds}
    for how, children in runs.items():
        if children:
            out[how] = {
                "s": _median([c.seconds for c in children]),
                "max_s": max(c.seconds for c in children),
                "tree_mb": _median([c.tree_mb for c in children]),
                "max_tree_mb": max(c.tree_mb for c in children),
                "together_mb": _median([c.together_mb for c in children]),
                "max_together_mb": max(c.together_mb for c in children),
                "processes": max(c.processes for c in children),
                "peaks_mb": [[round(p) for p in c.peaks_mb] for c in children],
                "all_s": [round(c.seconds, 3) for c in children],
            }
    if tantivy_ops:
        out["tantivy"]["op_s"] = _median(tantivy_ops)
    return out


# ---------------------------------------------------------------------------- one size


def run_size(size: int, engine: bool, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement for one corpus size."""
    note: Callable[[str], None] = lambda text: print(  # noqa: E731
        f"  [{size:,}] {text}", file=sys.stderr, flush=True
    )
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
    build, child = _worker("build", source_arg, str(index_dir), tree=True)
    if build["status"] != 0:
        raise RuntimeError(f"faq-kb build failed:\n{child.stderr}")
    r["faqkb_build"] = {
        **build,
        "wall_s": child.seconds,
        "tree_mb": child.tree_mb,
        "together_mb": child.together_mb,
        "processes": child.processes,
        "peaks_mb": [round(p) for p in child.peaks_mb],
        "size_bytes": du(index_dir),
        "files": sorted(p.name for p in index_dir.iterdir()),
    }
    rows = OUT / f"rows-{size}.jsonl"
    _worker("export", source_arg, str(index_dir), str(rows))

    tantivy_dir = OUT / f"tantivy-{size}"
    if engine:
        note("tantivy build …")
        r["tantivy_build"] = _tantivy_index(rows, tantivy_dir, engine)

    note(f"warm queries, {args.rounds} rounds each …")
    rankings = OUT / f"rankings-{size}.json"
    cpu: dict[str, list[int]] = {"faqkb": [], "tantivy": []}
    wall: dict[str, list[int]] = {"faqkb": [], "tantivy": []}
    loads, warm_rss = [], []
    for n in range(args.rounds):
        warm, child = _worker(
            "faqkb", source_arg, str(index_dir), str(QUERIES_FILE), str(rankings) if n == 0 else ""
        )
        cpu["faqkb"] += warm["cpu_ns"]
        wall["faqkb"] += warm["wall_ns"]
        loads.append(warm["load_s"])
        warm_rss.append(child.maxrss_mb)
        if engine:
            theirs, _ = _worker("tantivy", str(tantivy_dir), str(QUERIES_FILE))
            cpu["tantivy"] += theirs["cpu_ns"]
            wall["tantivy"] += theirs["wall_ns"]
    r["warm"] = {
        name: {"cpu": percentiles(cpu[name]), "wall": percentiles(wall[name])}
        for name in cpu
        if cpu[name]
    }
    r["warm"]["faqkb"].update(
        load_s=_median(loads), maxrss_mb=_median(warm_rss), rounds=args.rounds
    )

    note("rank-bm25 …")
    limit = 0 if size <= RANK_BM25_FULL_UP_TO else args.rank_bm25_queries
    rb, child = _worker("rank_bm25", str(rows), str(QUERIES_FILE), str(limit), str(rankings))
    r["rank_bm25"] = {**rb, "maxrss_mb": child.maxrss_mb, "wall_s": child.seconds}

    note("cold faq-search …")
    cmd = [
        CMD("faq-search"),
        "--no-rebuild",
        "--source",
        source_arg,
        "--index",
        str(index_dir),
        SHIPPED_QUESTION,
    ]
    r["cold"] = measure_cold(cmd, tantivy_dir if engine else None, args.cold_runs)
    if CMD.bin != BIN:  # the same in the dev venv, as the "before" was measured
        editable = [str(BIN / "faq-search"), *cmd[1:]]
        r["cold"]["editable"] = measure_cold(
            editable, tantivy_dir if engine else None, args.cold_runs, BIN
        )

    if args.rebuild_rounds:
        note(f"rebuild after a one-line edit, {args.rebuild_rounds} rounds …")
        r["rebuild"] = measure_rebuild(
            source_arg, corpus, index_dir, rows, size, args.rebuild_rounds, engine
        )
    if not args.keep:
        rows.unlink(missing_ok=True)
        rankings.unlink(missing_ok=True)
    return r


# ---------------------------------------------------------------------------- report


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _x(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}x" if value < 100 else f"{value:,.0f}x"


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(cells)) + " |"

    return [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


MB = 2**20


def _label(size: int | str) -> str:
    return "shipped FAQ" if size == "shipped" else f"{int(size) // 1000}k"


def cold_table(
    shipped: dict[str, Any] | None, results: dict[int, dict[str, Any]], *, editable: bool = False
) -> list[str]:
    rows = []
    colds = ([("shipped", shipped)] if shipped else []) + [
        (size, r["cold"]) for size, r in sorted(results.items())
    ]
    for size, c in colds:
        if editable:
            c = c.get("editable")
            if not c:
                continue
        ms = c["ms"]
        rows.append(
            (
                _label(size),
                _f(ms["faqkb"], 1),
                _f(ms.get("tantivy"), 1),
                _f(ms["pass"], 1),
                _x(c["faqkb_pass"]),
                _x(c["tantivy_pass"]),
                _x(c["faqkb_tantivy"]),
                _f(c["faqkb_maxrss_mb"], 0),
            )
        )
    head = (
        "corpus",
        "faq-search (ms)",
        "tantivy script (ms)",
        "python -c pass (ms)",
        "faq-kb / pass",
        "tantivy / pass",
        "faq-kb / tantivy",
        "faq-search peak (MB)",
    )
    return _table(head, rows)


def size_table(results: dict[int, dict[str, Any]]) -> list[str]:
    rows = []
    for size, r in sorted(results.items()):
        ours = r["faqkb_build"]["size_bytes"]
        theirs = r.get("tantivy_build", {}).get("size_bytes")
        rows.append(
            (
                _label(size),
                _f(int(r["corpus"]["bytes"]) / MB, 1),
                _f(ours / MB, 1),
                _f(theirs and theirs / MB, 1),
                _x(_div(ours, theirs)),
            )
        )
    head = ("corpus", "rst (MB)", "faq-kb index (MB)", "tantivy index (MB)", "faq-kb / tantivy")
    return _table(head, rows)


def rebuild_table(results: dict[int, dict[str, Any]]) -> list[str]:
    rows = []

    def cell(m: dict[str, Any] | None) -> str:
        if not m:
            return "—"
        return (
            f"{_f(m['s'])} s (max {_f(m['max_s'])}), {_f(m['max_together_mb'], 0)} MB "
            f"(≤ {_f(m['max_tree_mb'], 0)})"
        )

    for size, r in sorted(results.items()):
        rb = r.get("rebuild")
        if not rb:
            continue
        t = rb.get("tantivy")
        rows.append(
            (
                _label(size),
                cell(rb.get("build")),
                cell(rb.get("search")),
                cell(t) + (f" (update {_f(t['op_s'], 3)} s)" if t else ""),
            )
        )
    head = (
        "corpus",
        "`faq-kb build`",
        "cold `faq-search` that rebuilds",
        "tantivy delete + add + commit (process)",
    )
    return _table(head, rows)


def warm_table(results: dict[int, dict[str, Any]]) -> list[str]:
    rows = []
    for size, r in sorted(results.items()):
        ours = r["warm"]["faqkb"]
        theirs = r["warm"].get("tantivy")
        rb = r["rank_bm25"]["get_scores_cpu"]

        def pair(m: dict[str, Any] | None) -> str:
            if not m:
                return "—"
            return f"{_f(m['cpu']['p50_ms'], 3)} / {_f(m['cpu']['p99_ms'], 3)}"

        rows.append(
            (
                _label(size),
                pair(ours),
                pair(theirs),
                _x(_div(ours["cpu"]["p50_ms"], theirs and theirs["cpu"]["p50_ms"])),
                _x(ours["cpu"]["p99_ms"] / ours["cpu"]["p50_ms"]),
                _x(theirs and theirs["cpu"]["p99_ms"] / theirs["cpu"]["p50_ms"]),
                f"{_f(ours['wall']['p50_ms'], 3)} / "
                + (_f(theirs["wall"]["p50_ms"], 3) if theirs else "—"),
                _f(rb["p50_ms"], 1),
            )
        )
    head = (
        "corpus",
        "faq-kb p50 / p99 (CPU ms)",
        "tantivy p50 / p99 (CPU ms)",
        "p50 faq-kb / tantivy",
        "faq-kb p99 / p50",
        "tantivy p99 / p50",
        "wall p50 faq-kb / tantivy (ms)",
        "rank-bm25 p50 (CPU ms)",
    )
    return _table(head, rows)


def build_table(results: dict[int, dict[str, Any]]) -> list[str]:
    rows = []
    for size, r in sorted(results.items()):
        b, rb, t = r["faqkb_build"], r["rank_bm25"], r.get("tantivy_build")
        parse, index_s = b.get("parse_s"), b.get("index_s")
        rows.append(
            (
                _label(size),
                _f(b["wall_s"]) + (f" (parse {_f(parse)})" if parse is not None else ""),
                _f(t and t["build_s"]),
                f"{_f(index_s)} / {_f(rb['construct_s'])} = {_x(_div(index_s, rb['construct_s']))}",
                f"{_f(b.get('tokenize_cpu_s'))} / {_f(rb['tokenize_s'])}",
                f"{_f(b['together_mb'], 0)} (≤ {_f(b['tree_mb'], 0)}, {b['processes']} proc.)",
                f"{_f(rb['maxrss_mb'], 0)} (model {_f(rb['model_mb'], 0)})",
                _f(t and t["tree_mb"], 0),
                f"{_f(r['warm']['faqkb']['maxrss_mb'], 0)} (load "
                f"{_f(r['warm']['faqkb']['load_s'], 3)} s)",
            )
        )
    head = (
        "corpus",
        "`faq-kb build` (s)",
        "tantivy build (s)",
        "construction from tokens, faq-kb / rank-bm25 (s)",
        "tokenize CPU s, faq-kb / rank-bm25",
        "build peak, tree (MB)",
        "rank-bm25 process (MB)",
        "tantivy build (MB)",
        "warm query process (MB)",
    )
    return _table(head, rows)


def _exactness(results: dict[int, dict[str, Any]]) -> list[str]:
    lines = []
    for size, r in sorted(results.items()):
        ex = r["rank_bm25"].get("exactness")
        if ex:
            bad = ex["top_mismatches"] + ex["hit_mismatches"]
            lines.append(
                f"target exact scores vs rank-bm25 at {_label(size)} ({ex['checked']} questions, "
                f"top 10 and every hit, 1e-9; max |diff| {ex['max_abs_diff']:.1e}): "
                f"{bad} mismatches {'PASS' if bad == 0 else 'FAIL'}"
            )
    return lines


def measured(
    results: dict[int, dict[str, Any]], shipped: dict[str, Any] | None
) -> dict[str, tuple[float | None, str]]:
    """Each target's measured value (None: not measured) and a note on what it is."""
    out: dict[str, tuple[float | None, str]] = {}

    def cold_note(c: dict[str, Any] | None, mb: bool) -> str:
        notes = [f"{c['faqkb_maxrss_mb']:.0f} MB"] if c and mb else []
        if c and c.get("editable"):
            notes.append(f"editable venv: {c['editable']['faqkb_pass']:.2f}x")
        return ", ".join(notes)

    out["cold_shipped"] = (shipped and shipped["faqkb_pass"], cold_note(shipped, False))
    for size in (10000, 100000):
        c = results.get(size, {}).get("cold")
        out[f"cold_{size}"] = (c and c["faqkb_pass"], cold_note(c, True))
        r = results.get(size)
        t = r and r.get("tantivy_build")
        out[f"size_{size}"] = (
            t and r["faqkb_build"]["size_bytes"] / t["size_bytes"],
            f"{r['faqkb_build']['size_bytes'] / MB:.0f} MB vs {t['size_bytes'] / MB:.0f} MB"
            if t
            else "",
        )
    rb = results.get(100000, {}).get("rebuild")
    for how in ("build", "search"):
        m = rb and rb.get(how)
        out[f"rebuild_s_{how}"] = (m and m["max_s"], "")
        out[f"rebuild_mb_{how}"] = (
            m and m["max_together_mb"],
            f"each process's own peak added up: ≤ {m['max_tree_mb']:.0f} MB" if m else "",
        )
    w = results.get(100000, {}).get("warm")
    ours, theirs = (w or {}).get("faqkb"), (w or {}).get("tantivy")
    out["warm_p50"] = (
        theirs and ours["cpu"]["p50_ms"] / theirs["cpu"]["p50_ms"],
        f"{ours['cpu']['p50_ms']:.3f} vs {theirs['cpu']['p50_ms']:.3f} ms" if theirs else "",
    )
    out["warm_spread"] = (ours and ours["cpu"]["p99_ms"] / ours["cpu"]["p50_ms"], "")
    return out


_TARGETS = (
    # key, limit key, line, unit
    ("cold_shipped", "cold_shipped", "cold faq-search, shipped FAQ <= 2x python -c pass", "x"),
    ("cold_10000", "cold_10000", "cold faq-search at 10k <= 2.5x python -c pass", "x"),
    ("cold_100000", "cold_100000", "cold faq-search at 100k <= 4x python -c pass", "x"),
    ("size_10000", "size", "index on disk at 10k <= 1.0x tantivy (title, url, answer stored)", "x"),
    ("size_100000", "size", "index on disk at 100k <= 1.0x tantivy (same)", "x"),
    ("rebuild_s_build", "rebuild_s", "one-line edit at 100k, faq-kb build rebuilds <= 1 s", " s"),
    ("rebuild_mb_build", "rebuild_mb", "  … its peak RSS, whole process tree <= 300 MB", " MB"),
    ("rebuild_s_search", "rebuild_s", "one-line edit at 100k, faq-search rebuilds <= 1 s", " s"),
    ("rebuild_mb_search", "rebuild_mb", "  … its peak RSS, whole process tree <= 300 MB", " MB"),
    ("warm_p50", "warm_p50", "warm query p50 at 100k, CPU time <= 0.6x tantivy", "x"),
    ("warm_spread", "warm_spread", "warm query p99 / p50 at 100k, CPU time <= 4x", "x"),
)  # fmt: skip


def targets(results: dict[int, dict[str, Any]], shipped: dict[str, Any] | None) -> list[str]:
    """Every target of the issue as "target …: measured … PASS/FAIL" (or not measured)."""
    values = measured(results, shipped)
    lines = []
    for key, limit_key, name, unit in _TARGETS:
        value, note = values[key]
        limit = LIMITS[limit_key]
        if value is None:
            lines.append(f"target {name}: not measured in this run")
            continue
        verdict = "PASS" if value <= limit else "FAIL"
        shown = f"{value:.2f}{unit}" if unit != " MB" else f"{value:.0f}{unit}"
        extra = f" [{note}]" if note else ""
        lines.append(f"target {name}: measured {shown} (<= {limit:g}{unit}) {verdict}{extra}")
    return lines + _exactness(results)


def before_after(results: dict[int, dict[str, Any]], shipped: dict[str, Any] | None) -> list[str]:
    """The issue's figures for the old index next to this run's, target by target."""
    v = measured(results, shipped)

    def x(key: str) -> str:
        value, note = v[key]
        return _x(value) + (f" ({note})" if note and value is not None else "")

    def verdict(*keys: str, limit: str) -> str:
        values = [v[k][0] for k in keys]
        if any(value is None for value in values):
            return "not measured"
        return "PASS" if all(value <= LIMITS[limit] for value in values) else "FAIL"

    def rebuild(unit: str) -> str:
        parts = []
        for how, label in (("build", "faq-kb build"), ("search", "faq-search")):
            value, note = v[f"rebuild_{unit}_{how}"]
            if value is None:
                continue
            if unit == "s":
                parts.append(f"{label} {value:.2f} s")
            else:
                parts.append(f"{label} {value:.0f} MB ({note.rsplit(': ', 1)[-1]})")
        return ", ".join(parts) or "—"

    rows = [
        ("cold faq-search, shipped FAQ / python -c pass", "≤ 2x", BEFORE["cold_shipped"],
         x("cold_shipped"), verdict("cold_shipped", limit="cold_shipped")),
        ("cold faq-search at 10k / python -c pass", "≤ 2.5x", BEFORE["cold_10000"],
         x("cold_10000"), verdict("cold_10000", limit="cold_10000")),
        ("cold faq-search at 100k / python -c pass", "≤ 4x", BEFORE["cold_100000"],
         x("cold_100000"), verdict("cold_100000", limit="cold_100000")),
        ("index on disk at 10k / tantivy (stored fields)", "≤ 1.0x", BEFORE["size_10000"],
         x("size_10000"), verdict("size_10000", limit="size")),
        ("index on disk at 100k / tantivy (stored fields)", "≤ 1.0x", BEFORE["size_100000"],
         x("size_100000"), verdict("size_100000", limit="size")),
        ("rebuild after a one-line edit at 100k, wall (slowest)", "≤ 1 s", BEFORE["rebuild_s"],
         rebuild("s"), verdict("rebuild_s_build", "rebuild_s_search", limit="rebuild_s")),
        ("  … peak RSS, whole process tree (largest)", "≤ 300 MB", BEFORE["rebuild_mb"],
         rebuild("mb"), verdict("rebuild_mb_build", "rebuild_mb_search", limit="rebuild_mb")),
        ("warm query p50 at 100k / tantivy's", "≤ 0.6x (CPU)", BEFORE["warm_p50"] + " (wall)",
         x("warm_p50"), verdict("warm_p50", limit="warm_p50")),
        ("warm query p99 / p50 at 100k", "≤ 4x (CPU)", BEFORE["warm_spread"],
         x("warm_spread"), verdict("warm_spread", limit="warm_spread")),
    ]  # fmt: skip
    return _table(("target", "limit", "before (issue #13, old index)", "this run", ""), rows)


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
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for dist in ("tantivy", "rank-bm25", "numpy", "docutils", "PyStemmer", "faq-kb"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            continue

    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no", "kb")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "faq-kb commit": git("rev-parse", "--short", "HEAD")
        + (" + uncommitted changes in kb/" if dirty else ""),
    }


def report(
    machine: dict[str, str],
    shipped: dict[str, Any] | None,
    results: dict[int, dict[str, Any]],
    engine_note: str,
    argv: list[str],
    total_s: float,
) -> str:
    lines = ["## Targets: before and after", ""]
    lines += before_after(results, shipped)
    lines += [
        "",
        "Before: the issue's figures for the old index. This run: the ratios below, each "
        "taken pair by pair in this run.",
        "",
        "```",
        *targets(results, shipped),
        "```",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += [
        "",
        f"Command: `{' '.join(['python -m bench.run', *argv])}` "
        f"(whole run {total_s / 60:.1f} min). {engine_note}",
        "",
        "## Cold start",
        "",
        f'A fresh process answering `"{SHIPPED_QUESTION}"` from a prebuilt index, with '
        "faq-kb installed as a user's pip installs it: `faq-search` (the shipped FAQ as "
        f'users run it, `faq-search "{SHIPPED_QUESTION}"` with its index named by '
        "FAQ_INDEX, freshness check included; `--no-rebuild --source … --index …` for "
        "the generated corpora), a one-query tantivy script (opens the "
        "tantivy index of the same entries, runs one query, prints the best hit's stored "
        "title and url) and `python -c pass`, interleaved, "
        f"{(shipped or next(iter(results.values()))['cold'])['rounds']} rounds after a "
        "warm-up run of each. Times are medians; ratios are the medians of each round's ratio.",
        "",
        *cold_table(shipped, results),
        "",
    ]
    if any(c and c.get("editable") for c in [shipped, *(r["cold"] for r in results.values())]):
        lines += [
            "The same in the dev venv (faq-kb installed editable: what the bench measured "
            "before, and likely the issue's figures too): setuptools' editable finder, "
            "imported at every start-up there, pads `python -c pass` (and the tantivy "
            "script) more than faq-search, so its ratios come out lower.",
            "",
            *cold_table(shipped, results, editable=True),
            "",
        ]
    lines += [
        "## Index on disk",
        "",
        "Every file of the index folder. tantivy: the searched fields indexed (`en_stem`, "
        "its default index option, positions included), title and answer stored, url stored "
        "only, and the entry number indexed to update by; after its merges.",
        "",
        *size_table(results),
        "",
        "## Rebuild after a one-line edit",
        "",
        "One sentence appended to one line of the middle source file (then taken off "
        "again: each measured rebuild follows one such edit). Median (slowest) wall time "
        "of the whole command, and the peak RSS of its whole process tree, parse workers "
        "included: the largest sum of their RSS seen at one time (sampled every 10 ms; "
        "the largest of the runs), and in brackets the upper bound, every process's own "
        "peak added up. "
        "faq-kb's rebuild is two processes: a worker forked as it starts gets the parser "
        "ready (docutils, pydantic) and parses the edited source, while the command "
        "resolves the sources, checks the old index and reads its postings; then the old "
        "index is spliced (`kb/index/early.py`, `kb/index/splice.py`). Both are in the "
        "tree's RSS. "
        "tantivy: a fresh process deleting the document by id, adding it with the edit, "
        "committing and waiting for merges; in brackets the update itself.",
        "",
        *rebuild_table(results),
        "",
        "## Warm queries",
        "",
        "`KnowledgeBase.search(q, k=10)` in a process with the index loaded, against "
        "tantivy's `parse_query` (same fields and weights) + `search(query, 10)`: each "
        "question's CPU time (`time.process_time_ns`), one warm-up pass then one timed pass "
        "per round, rounds alternating between fresh faq-kb and tantivy processes; "
        "p50 = median, p99 = nearest rank over all rounds. rank-bm25: weighted `get_scores` "
        f"over the fields (every question up to {RANK_BM25_FULL_UP_TO // 1000}k entries, an "
        "evenly spread subset above).",
        "",
        *warm_table(results),
        "",
        "## Build (against rank-bm25's model construction on the same tokens)",
        "",
        *build_table(results),
        "",
    ]
    for size, r in sorted(results.items()):
        c = r["corpus"]
        lines.append(
            f"- {_label(size)}: {c['files']} rst files, {int(c['bytes']) / 1e6:.1f} MB, "
            f"corpus {c['sha256']}; index files: {', '.join(r['faqkb_build']['files'])}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated entry counts (default 1000,10000,100000)",
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument(
        "--cold-runs", type=int, default=15, help="interleaved rounds of cold runs (default 15)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="warm query rounds per engine (default 3)"
    )
    parser.add_argument(
        "--rebuild-rounds",
        type=int,
        default=2,
        help="rounds of one-line edits, two rebuilds each (default 2; 0 skips)",
    )
    parser.add_argument(
        "--rank-bm25-queries",
        type=int,
        default=60,
        help="questions rank-bm25 is timed on above 20k entries (default 60)",
    )
    parser.add_argument(
        "--no-docs", action="store_true", help="do not rewrite docs/performance.md after a full run"
    )
    parser.add_argument("--keep", action="store_true", help="keep rows/rankings in bench/out")
    parser.add_argument(
        "--editable",
        action="store_true",
        help="measure this venv's commands (its editable install) instead of a fresh "
        "`pip install .` in bench/out/venv-installed",
    )
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)

    engine = importlib.util.find_spec("tantivy") is not None
    if engine:
        engine_note = "Reference engine: tantivy (Rust; en_stem tokenizer, same field weights)."
    else:
        engine_note = (
            "tantivy is NOT installed (`.venv/bin/pip install tantivy`): its figures and "
            "the targets against it are not measured."
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

    if args.editable:
        install_note = f"Commands measured: this venv's ({BIN.parent}, faq-kb editable)."
    else:
        print("installing faq-kb as a user would …", file=sys.stderr, flush=True)
        CMD.bin = user_install()
        install_note = (
            "Commands measured: faq-kb installed from this checkout (`pip install .`, "
            f"not editable) in {USER_VENV.relative_to(REPO)}."
        )
    engine_note += " " + install_note
    print(install_note, flush=True)
    print("cold start on the shipped FAQ …", file=sys.stderr, flush=True)
    shipped = measure_shipped(args.cold_runs, engine)
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        results[size] = run_size(size, engine, args)
    total = time.perf_counter() - started
    # Other jobs share the machine: the load before and after says how busy it was.
    machine["load average"] += " at the start; " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    machine["load average"] += " at the end (1, 5, 15 min)"
    text = report(machine, shipped, results, engine_note, argv, total)
    print("\n" + text)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw = {"machine": machine, "shipped": shipped, "results": results, "argv": argv}
    (OUT / f"results-{stamp}.json").write_text(json.dumps(raw, indent=1))
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
.venv/bin/python -m bench.run          # shipped FAQ, 1k, 10k and 100k entries; rewrites this file
```

Every figure comes from a fresh process started through a small launcher that reads its
peak RSS from `wait4` (and, for builds, its whole process tree's). Ratios are faq-kb
divided by the baseline, taken pair by pair in the same run; below 1 is faq-kb faster or
smaller.

"""


if __name__ == "__main__":
    sys.exit(main())
