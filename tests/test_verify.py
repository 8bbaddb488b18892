"""``faq-kb verify``: the index's scores recomputed by rank-bm25, and what it reports."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from kb.cli.main import kb_main
from kb.index.build import build
from kb.index.reader import CHECK_CHUNK, INDEX_FILE, IndexReader, seal_header
from kb.maintain.verify import verify_index
from kb.spec import SourceSpec
from tests.conftest import CORPORA, SEED, needs_corpora


def _verify(capsys: pytest.CaptureFixture[str], index: Path, *more: str) -> tuple[int, str, str]:
    status = kb_main(["verify", "--index", str(index), "--source", str(SEED), *more])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(name="seed_index")
def _seed_index(tmp_path: Path) -> Path:
    build(SourceSpec(paths=(str(SEED),)), str(tmp_path / "idx"))
    return tmp_path / "idx"


def test_verify_passes_on_the_seed_index(
    capsys: pytest.CaptureFixture[str], seed_index: Path
) -> None:
    status, out, _ = _verify(capsys, seed_index)
    assert status == 0
    assert out.startswith("ok: ") and "all match (within 1e-09)" in out
    status, out, _ = _verify(capsys, seed_index, "--all", "--json")
    report = json.loads(out)
    assert status == 0 and report["ok"] and report["difference_count"] == 0
    assert report["checked_terms"] == report["terms"] > 300
    assert report["checked_entries"] == report["entries"] == 9


@needs_corpora
def test_verify_passes_on_real_corpora(tmp_path: Path) -> None:
    assert CORPORA is not None
    projects = sorted(p for p in CORPORA.iterdir() if p.is_dir() and any(p.glob("*.rst")))
    build(SourceSpec(paths=tuple(str(p) for p in projects)), str(tmp_path / "idx"))
    reader = IndexReader.open(str(tmp_path / "idx" / INDEX_FILE))
    assert len(reader) > 200
    report = verify_index(reader, sample=None)
    assert report.ok, report.differences
    assert report.checked_terms == report.terms
    assert report.scores >= report.terms * len(reader)  # every term, every entry, each field


def _tamper(path: Path, term: str) -> None:
    """Add one to a stored term frequency of ``term`` and fix the checksums to match."""
    data = path.read_bytes()
    reader = IndexReader(data, str(path))
    info = reader.terms[term]
    first = int(info[3])  # the term's first posting in its first field
    width, bits = reader.header["posting_width"], reader.header["doc_bits"]
    p_at, p_len = reader.header["sections"]["postings"]
    where = first * width
    chunk = where // CHECK_CHUNK
    old = reader.header["checksums"]["postings"][chunk]
    value = int.from_bytes(data[p_at + where : p_at + where + width], "little")
    head_end = data.index(b"\n") + 1
    for step in range(1, 10_000):  # a checksum as long as the old: the header keeps its size
        tampered = bytearray(data)
        tf = (value >> bits) + step
        if tf >= 1 << (8 * width - bits):
            continue
        packed = (value & ((1 << bits) - 1)) | tf << bits
        tampered[p_at + where : p_at + where + width] = packed.to_bytes(width, "little")
        low = p_at + chunk * CHECK_CHUNK
        crc = zlib.crc32(tampered[low : min(low + CHECK_CHUNK, p_at + p_len)])
        if len(str(crc)) == len(str(old)):
            break
    header = json.loads(data[:head_end])
    header["checksums"]["postings"][chunk] = crc
    header["header_crc"] = "00000000"
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    assert len(head) == head_end
    path.write_bytes(seal_header(head) + tampered[head_end:])


def test_verify_reports_a_tampered_score_the_checksums_accept(
    capsys: pytest.CaptureFixture[str], seed_index: Path
) -> None:
    path = seed_index / INDEX_FILE
    _tamper(path, "file")
    IndexReader.open(str(path)).check_all()  # the checksums match: only verify can tell
    status, out, _ = _verify(capsys, seed_index, "--all")
    assert status == 1
    assert "differs: 'file' in title of entry " in out
    assert out.splitlines()[-1].startswith("FAILED: ")
    assert "1 differ by more than 1e-09" in out


def test_verify_on_a_missing_or_damaged_index_exits_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str], seed_index: Path, tmp_path: Path
) -> None:
    status, out, err = _verify(capsys, tmp_path / "nothing")
    assert (status, out) == (2, "")
    assert err.startswith("error: ") and "no index here yet; run `faq-kb build`" in err
    path = seed_index / INDEX_FILE
    data = bytearray(path.read_bytes())
    at, length = IndexReader.open(str(path)).header["sections"]["entries"]
    data[at + length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    status, out, err = _verify(capsys, seed_index)
    assert (status, out) == (2, "")
    assert "the index is damaged (entries checksum)" in err and "Traceback" not in err
