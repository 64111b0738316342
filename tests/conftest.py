"""Shared fixtures: paths to the bundled fixtures and the external corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def corpus() -> Path:
    """``../shared/corpus``; tests using it skip (with the reason) when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"external corpus not found at {CORPUS} (clone the project beside shared/ to run these)")
    return CORPUS


def write_bomb_png(path, width: int = 20_000, height: int = 20_000) -> Path:
    """A valid-looking grey PNG whose header declares ``width x height`` but whose data is one row.

    A reader that decodes before checking the pixel limit fails on truncated
    data (or allocates ``width * height`` bytes); one that checks the header
    first refuses it with the pixel-limit message.
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))
    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def write_sa1b(out: Path, shards: int, images: int) -> Path:
    """SA-1B-like tar shards in ``out`` (``benchmarks/gen_sa1b.py``): small images of 96 x 64, 6 masks each."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_sa1b.py"), str(out), "--shards", str(shards),
                    "--images", str(images), "--masks", "6", "--width", "96", "--height", "64"], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="session")
def sa1b_tars():
    """:func:`write_sa1b`: ``sa1b_tars(out, shards, images)``."""
    return write_sa1b


@pytest.fixture(scope="session")
def bomb_png():
    """:func:`write_bomb_png`: ``bomb_png(path, width=20_000, height=20_000)``."""
    return write_bomb_png


#: Long tests left out of the quick loop (``pytest -m "not slow"``); the full run and CI still run them.
#: Whole folders (the real clients, the mutation fuzzers) and the heaviest single tests, by node id prefix.
SLOW_PREFIXES = (
    "tests/interop/",
    "tests/fuzz/test_fuzz_",
    "tests/test_rle_oracle.py::test_polygons_equal_pycocotools",
    "tests/test_rle_oracle.py::test_merge_equals_pycocotools",
    "tests/test_masks.py::test_instances_beyond_65535",
    "tests/test_coco_read_columns.py::test_one_odd_value_in_a_slice",
    "tests/test_gate_e2e.py",
    "tests/test_gate_integrations.py",
    "tests/test_detect_own_output.py",
    "tests/test_cross_format.py::test_convert_matrix_gives_the_expected_outcome",
    "tests/test_roundtrip_pairs.py::test_pair_changes_only_what_the_losses_name",  # every pair: 27 s
    "tests/fuzz/test_regression_corpus.py::test_a_real_process_gives_the_same_exit",  # a process per format
)


def pytest_collection_modifyitems(config, items):
    root = Path(__file__).resolve().parent.parent
    for item in items:
        try:
            nodeid = Path(item.fspath).resolve().relative_to(root).as_posix() + item.nodeid[item.nodeid.find("::"):]
        except ValueError:
            continue
        if nodeid.startswith(SLOW_PREFIXES):
            item.add_marker(pytest.mark.slow)
