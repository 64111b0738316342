"""Structured fuzzing of the NIfTI and NRRD volume readers and writers.

Each example copies an uncompressed seed volume (``fixtures/nifti/raw``,
``fixtures/nrrd/raw``) with its label table into a fresh folder and mutates
it: NIfTI header fields overwritten with hostile numbers at their offsets
(dims, datatype, bitpix, vox_offset, pixdim, scaling, quaternion, srow,
codes, magic), NRRD header lines given hostile values or dropped, bytes
flipped, the file truncated, the label table replaced. The property
(``tests/fuzz/conftest.py``): the reader returns a dataset or refuses with a
one-line SegmillError, in every ``errors`` mode, and a dataset it returns is
written back as its own format and as COCO, or refused just as cleanly.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")
pytest.importorskip("nrrd", reason="the medical extra (pynrrd) is not installed")
pytest.importorskip("cc3d", reason="the medical extra (connected-components-3d) is not installed")

pytestmark = pytest.mark.usefixtures("small_pixel_limit")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150"))

#: NIfTI-1 header fields: (offset, struct format).
NIFTI_FIELDS = [
    (0, "<i"), (40, "<h"), (42, "<h"), (44, "<h"), (46, "<h"), (48, "<h"), (70, "<h"), (72, "<h"),
    (76, "<f"), (80, "<f"), (84, "<f"), (88, "<f"), (108, "<f"), (112, "<f"), (116, "<f"), (252, "<h"),
    (254, "<h"), (256, "<f"), (260, "<f"), (264, "<f"), (268, "<f"), (272, "<f"), (276, "<f"), (280, "<f"),
    (296, "<f"), (312, "<f"), (123, "<B"),
]
HOSTILE_INTS = [0, 1, -1, 2, 3, 4, 7, 8, 16, 64, 255, 256, 511, 512, 768, 1024, 2304, 32767, -32768]
HOSTILE_FLOATS = [0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, 3.4e38, float("nan"), float("inf"), float("-inf"), 352.0,
                  348.0, 1e9]
NRRD_KEYS = ["type", "dimension", "sizes", "encoding", "space", "space directions", "space origin", "spacings",
             "kinds", "endian", "data file", "line skip", "byte skip"]
NRRD_VALUES = ["", "uint8", "int8", "float", "double", "int64", "block", "0", "3", "4", "-1", "2 2", "2 2 2",
               "99999 99999 99999", "0 5 5", "raw", "gzip", "bzip2", "ascii", "hex", "RAS", "bogus", "big",
               "(1,0,0) (0,1,0) (0,0,1)", "(nan,0,0) (0,1,0) (0,0,1)", "none (0,1,0) (0,0,1)", "(1,0)",
               "(1e308,0,0)", "inf inf inf", "1 1", "../../etc/passwd", "LIST", "domain domain", "x" * 300]
TABLES = [b"", b"1: [", b'{"1": "a"', b"1 2 3\n", b"- a\n- b\n", b"1: a\n1: b\n", b"99999999: big\n",
          b'    1 0 0 0 1 1 1 "x\n', b"[" * 300, b"\xff\xfe", b"1: {a: b}\n", b"1: null\n"]


def _nifti_mutation(data: bytes, draw) -> bytes:
    raw = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        off, fmt = draw(st.sampled_from(NIFTI_FIELDS))
        if fmt[-1] == "f":
            value = draw(st.sampled_from(HOSTILE_FLOATS))
        elif fmt[-1] == "B":
            value = draw(st.integers(0, 255))
        else:
            value = draw(st.sampled_from(HOSTILE_INTS))
        raw[off:off + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(raw)


def _nrrd_mutation(data: bytes, draw) -> bytes:
    head, sep, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(NRRD_KEYS)).encode()
        lines = [ln for ln in lines if not ln.startswith(key + b":")]
        if draw(st.booleans()):
            lines.append(key + b": " + draw(st.sampled_from(NRRD_VALUES)).encode())
    return b"\n".join(lines) + sep + body


def _bytes_mutation(data: bytes, draw) -> bytes:
    raw = bytearray(data)
    kind = draw(st.sampled_from(["flip", "truncate", "extend"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    else:
        raw += bytes(draw(st.integers(1, 64)))
    return bytes(raw)


@st.composite
def cases(draw):
    fmt = draw(st.sampled_from(["nifti", "nrrd"]))
    seed = ROOT / "fixtures" / fmt / "raw"
    name = "scan.nii" if fmt == "nifti" else "scan.nrrd"
    data = (seed / name).read_bytes()
    how = draw(st.sampled_from(["header", "bytes", "both", "table"]))
    if how in ("header", "both"):
        data = (_nifti_mutation if fmt == "nifti" else _nrrd_mutation)(data, draw)
    if how in ("bytes", "both"):
        data = _bytes_mutation(data, draw)
    table = draw(st.sampled_from(TABLES)) if how == "table" else None
    return fmt, name, data, table


def _run_case(case, reads_or_refuses, writes_or_refuses, streams_or_refuses):
    fmt, name, data, table = case
    seed = ROOT / "fixtures" / fmt / "raw"
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "in"
        shutil.copytree(seed, root)
        (root / name).write_bytes(data)
        if table is not None:
            tname = "labels.yaml" if fmt == "nifti" else "labels.txt"
            (root / tname).write_bytes(table)
        for errors in ("raise", "skip"):
            ds = reads_or_refuses(root, fmt, errors=errors)
            streams_or_refuses(root, fmt, ds, errors=errors)
            parts = reads_or_refuses(root / name, fmt, errors=errors, volume_instances="components", min_area=2)
            streams_or_refuses(root / name, fmt, parts, errors=errors, volume_instances="components", min_area=2)
            if ds is not None and errors == "raise":
                writes_or_refuses(ds, Path(d) / "out", fmt)
                writes_or_refuses(ds, Path(d) / "out.json", "coco")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_volume_readers_return_a_dataset_or_refuse(case, reads_or_refuses, writes_or_refuses, streams_or_refuses):
    _run_case(case, reads_or_refuses, writes_or_refuses, streams_or_refuses)


@pytest.mark.parametrize("fmt", ["nifti", "nrrd"])
def test_the_unmutated_seeds_read_and_write_back(fmt, reads_or_refuses, writes_or_refuses, tmp_path):
    ds = reads_or_refuses(ROOT / "fixtures" / fmt / "raw", fmt)
    assert ds is not None and len(ds.items) == 4
    assert writes_or_refuses(ds, tmp_path / "out", fmt).summary() == {}
