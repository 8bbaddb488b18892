"""Long fuzz run of the ingest: any exception but ``SourceError``, or a slow parse, is a crash.

With atheris (coverage-guided, libFuzzer)::

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_ingest.py -max_total_time=600 -timeout=20 -rss_limit_mb=2048

It seeds itself from the real FAQs (``$FAQ_CORPORA`` or ``../shared/corpora``) and keeps
what it finds in ``fuzz/out/`` (crashes as ``crash-*`` files there, to replay with
``python fuzz/fuzz_ingest.py fuzz/out/crash-…``). Without atheris, or with ``--hypothesis``::

    .venv/bin/python fuzz/fuzz_ingest.py --hypothesis --examples 5000

runs the strategies of ``fuzz/strategies.py`` (generated and mutated rst) that many times.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLOW_SECONDS = 10.0  # CPU seconds: wall time is noise on a loaded machine
_TMP = Path(tempfile.mkdtemp(prefix="faq-fuzz-"))


def one_input(data: bytes) -> None:
    """Parse ``data`` as a source; raise if it crashes the ingest or is too slow."""
    from kb.errors import SourceError
    from kb.index.prepare import prepare_source
    from kb.ingest.parse import parse_source
    from kb.ingest.sources import Source

    path = _TMP / "fuzz.rst"
    path.write_bytes(data)
    source = Source("fuzz", path, "https://example.org/faq.html")
    started = time.process_time()
    with contextlib.suppress(SourceError):
        parse_source(source)
    prepared = prepare_source(source)
    del prepared
    seconds = time.process_time() - started
    if seconds > SLOW_SECONDS:
        raise RuntimeError(f"slow input: {seconds:.1f} CPU s for {len(data)} bytes")


def _seed_dir() -> str:
    from fuzz.strategies import corpus_files

    seeds = Path(__file__).resolve().parent / "out" / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    for path in corpus_files():
        data = path.read_bytes()
        for n, start in enumerate(range(0, len(data), 8_000)):
            (seeds / f"{path.parent.name}-{path.stem}-{n}.rst").write_bytes(
                data[start : start + 8_000]
            )
    return str(seeds)


def run_atheris(argv: list[str]) -> None:
    """Coverage-guided fuzzing with atheris (libFuzzer options in ``argv``)."""
    import atheris

    with atheris.instrument_imports():
        import docutils.parsers.rst  # noqa: F401

        import kb.ingest.blocks
        import kb.ingest.guard
        import kb.ingest.parse
        import kb.ingest.sphinx  # noqa: F401
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    replay = [a for a in argv[1:] if not a.startswith("-")]
    args = list(argv)
    if not replay:
        args += [str(out / "corpus"), _seed_dir(), f"-artifact_prefix={out}/"]
        (out / "corpus").mkdir(exist_ok=True)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def run_hypothesis(examples: int) -> None:
    """Many examples of the property-test strategies."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fuzz.strategies import corpus_files, generated_rst, mutated

    files = corpus_files()
    inputs = st.one_of(
        generated_rst().map(lambda t: t.encode("utf-8", "surrogatepass")),
        *([mutated(files)] if files else []),
    )
    count = 0
    started = time.perf_counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=inputs)
    def fuzz(data: bytes) -> None:
        nonlocal count
        count += 1
        if count % 250 == 0:
            print(f"{count} inputs, {time.perf_counter() - started:.0f} s", flush=True)
        one_input(data)

    fuzz()
    print(f"{count} inputs in {time.perf_counter() - started:.0f} s: no crash")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=False)
    parser.add_argument("--hypothesis", action="store_true")
    parser.add_argument("--examples", type=int, default=5000)
    known, rest = parser.parse_known_args()
    os.environ.setdefault("FAQ_MAX_SOURCE_BYTES", "2000000")
    try:
        import atheris  # noqa: F401
    except ImportError:
        known.hypothesis = True
    if known.hypothesis:
        run_hypothesis(known.examples)
    else:
        run_atheris([sys.argv[0], *rest])


if __name__ == "__main__":
    main()
