"""Structured fuzzing of the DICOM SEG reader.

Each example copies the example SEG (``fixtures/dicom_seg/basic``) into a
fresh folder and mutates it: header elements given hostile values with pydicom
(frame count, rows, columns, bits, segmentation type, segment numbers and
labels, pixel spacing, orientation, frame positions, SOP class), bytes
flipped, the file truncated or extended. The property
(``tests/fuzz/conftest.py``): the reader returns a dataset or refuses with a
one-line SegmillError, in every ``errors`` mode, and a dataset it returns is
written as COCO and NIfTI, or refused just as cleanly.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pydicom = pytest.importorskip("pydicom", reason="the medical extra (pydicom) is not installed")
pytest.importorskip("highdicom", reason="the medical extra (highdicom) is not installed")
pytest.importorskip("nibabel", reason="the medical extra (nibabel) is not installed")

pytestmark = pytest.mark.usefixtures("small_pixel_limit")
ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "fixtures" / "dicom_seg" / "basic"
NAME = "case01.dcm"
EXAMPLES = int(os.environ.get("SEGMILL_FUZZ_EXAMPLES", "150"))

INTS = ["0", "1", "-1", "2", "3", "7", "255", "65535", "65536", "99999999", "2147483648"]
FLOATS = ["0", "-0", "1", "-1", "1e-30", "1e30", "nan", "inf", "-inf", "0.7"]


def _set(ds, draw) -> None:
    """One hostile header value."""
    shared = ds.SharedFunctionalGroupsSequence[0]
    frames = ds.PerFrameFunctionalGroupsSequence
    segments = ds.SegmentSequence
    if not len(segments) or not len(frames):
        return
    target = draw(st.sampled_from(["NumberOfFrames", "Rows", "Columns", "BitsAllocated", "SegmentationType",
                                   "SegmentNumber", "SegmentLabel", "PixelSpacing", "SpacingBetweenSlices",
                                   "Orientation", "Position", "SOPClassUID", "DropSegment", "DropFrames"]))
    if target in ("NumberOfFrames", "Rows", "Columns", "BitsAllocated"):
        setattr(ds, target, int(draw(st.sampled_from(INTS))) % 65536 if target != "NumberOfFrames"
                else draw(st.sampled_from(INTS)))
    elif target == "SegmentationType":
        ds.SegmentationType = draw(st.sampled_from(["FRACTIONAL", "LABELMAP", "", "BINARY"]))
    elif target == "SegmentNumber":
        segments[draw(st.integers(0, len(segments) - 1))].SegmentNumber = int(draw(st.sampled_from(INTS))) % 65536
    elif target == "SegmentLabel":
        segments[0].SegmentLabel = draw(st.sampled_from(["", "x" * 64, "a\nb", "tumor"]))
    elif target == "PixelSpacing":
        shared.PixelMeasuresSequence[0].PixelSpacing = [draw(st.sampled_from(FLOATS)), "0.9"]
    elif target == "SpacingBetweenSlices":
        shared.PixelMeasuresSequence[0].SpacingBetweenSlices = draw(st.sampled_from(FLOATS))
    elif target == "Orientation":
        shared.PlaneOrientationSequence[0].ImageOrientationPatient = [
            draw(st.sampled_from(FLOATS)) for _ in range(6)]
    elif target == "Position":
        i = draw(st.integers(0, len(frames) - 1))
        frames[i].PlanePositionSequence[0].ImagePositionPatient = [draw(st.sampled_from(FLOATS)) for _ in range(3)]
    elif target == "SOPClassUID":
        ds.SOPClassUID = draw(st.sampled_from(["1.2.840.10008.5.1.4.1.1.2", "", "1.2.3"]))
    elif target == "DropSegment":
        del segments[draw(st.integers(0, len(segments) - 1))]
    else:
        del ds.PerFrameFunctionalGroupsSequence[draw(st.integers(0, len(frames) - 1))]


def _header_mutation(data: bytes, draw) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
        for _ in range(draw(st.integers(1, 3))):
            _set(ds, draw)
        buf = io.BytesIO()
        try:
            ds.save_as(buf)
        except (ValueError, TypeError, OverflowError, AttributeError):  # pydicom will not write that value
            return data
    return buf.getvalue()


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
    data = (SEED / NAME).read_bytes()
    how = draw(st.sampled_from(["header", "bytes", "both"]))
    if how in ("header", "both"):
        data = _header_mutation(data, draw)
    if how in ("bytes", "both"):
        data = _bytes_mutation(data, draw)
    return data


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=cases())
def test_dicom_seg_reader_returns_a_dataset_or_refuses(data, reads_or_refuses, writes_or_refuses, streams_or_refuses):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "in"
        shutil.copytree(SEED, root)
        (root / NAME).write_bytes(data)
        for errors in ("raise", "skip"):
            ds = reads_or_refuses(root, "dicom_seg", errors=errors)
            streams_or_refuses(root, "dicom_seg", ds, errors=errors)
            one = reads_or_refuses(root / NAME, "dicom_seg", errors=errors, axis=0)
            streams_or_refuses(root / NAME, "dicom_seg", one, errors=errors, axis=0)
            if ds is not None and errors == "raise":
                writes_or_refuses(ds, Path(d) / "out.json", "coco")
                writes_or_refuses(ds, Path(d) / "out", "nifti")


def test_the_unmutated_seed_reads_and_writes(reads_or_refuses, writes_or_refuses, tmp_path):
    ds = reads_or_refuses(SEED, "dicom_seg")
    assert ds is not None and len(ds.items) == 3 and len(ds.categories) == 2
    assert set(writes_or_refuses(ds, tmp_path / "out", "nifti").summary()) == {"L701"}
