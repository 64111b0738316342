"""One DICOM SEG file: its header checked with pydicom, its segments read with highdicom.

:func:`sniff` tells a DICOM file (the 128-byte preamble and ``DICM``) and
reads its SOP class with pydicom, pixel data left unread. :func:`load_seg`
reads the file into memory (refused over :func:`max_bytes`: one byte per
pixel of the pixel limit plus 64 MiB), checks the header first (SOP class
Segmentation Storage, the segmentation type, frames x rows x columns within
the pixel limit), then reads it
with :func:`highdicom.seg.segread`, checks the size of the volume the frames
span (slices x rows x columns x segments, within the pixel limit) and only
then builds it with ``get_volume``.

The volume is returned as a :class:`SegVolume`: a boolean array indexed
``[column, row, slice, segment]`` (the layout nibabel gives a DICOM series:
axis 0 along a row of a frame, axis 1 down its columns, axis 2 across the
frames), with an affine from voxel indices to DICOM patient coordinates
(LPS: x to the patient's left, y posterior, z superior) built from
ImageOrientationPatient, PixelSpacing and the frame positions. The slice axis
is flipped when needed so that it runs along the cross product of the row and
column directions (a right-handed grid: for an axial series, slices from
inferior to superior).

FRACTIONAL segmentations are thresholded: a voxel is in a segment when its
fraction (highdicom's rescaled value, 0..1) is at least ``threshold``.

Every failure of pydicom or highdicom on the file becomes an
:class:`~segmill.errors.InputError` naming the file (exit 2).
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, LimitError, UsageError
from ..limits import max_pixels
from ..validate import brief, finite, int_in, string

__all__ = ["SEG_SOP_CLASS", "SegVolume", "load_seg", "require_highdicom", "seg_header", "sniff"]

#: Segmentation Storage.
SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
#: The largest segment number read (segments become 16-bit label values).
MAX_SEGMENT = 0xFFFF
#: The errors pydicom and highdicom raise on a broken file (anything else is a bug, exit 3).
_BAD = (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError, EOFError, RuntimeError,
        NotImplementedError, OverflowError, struct.error, zlib.error, UnicodeError, LookupError, AssertionError,
        ZeroDivisionError, np.linalg.LinAlgError)  # and sqlite3.Error (see _broken): highdicom indexes frames in SQLite


@dataclass
class Segment:
    """One segment's description: number, label and the codes kept as category ``extra``."""

    number: int
    label: str
    extra: dict = field(default_factory=dict)


@dataclass
class SegVolume:
    """A DICOM SEG read as a volume (module docs).

    Attributes
    ----------
    masks : numpy.ndarray
        ``bool``, shape ``(columns, rows, slices, segments)``.
    segments : list of Segment
        In the order of the last axis of ``masks``.
    affine : numpy.ndarray
        4 x 4, voxel indices ``(column, row, slice)`` -> LPS millimetres.
    seg_type : str
        ``"BINARY"`` or ``"FRACTIONAL"``.
    """

    masks: np.ndarray
    segments: list
    affine: np.ndarray
    seg_type: str

    @property
    def spacing(self) -> tuple:
        return tuple(float(np.linalg.norm(self.affine[:3, i])) for i in range(3))


@contextlib.contextmanager
def quiet():
    """pydicom's and highdicom's warnings and log messages silenced (the CLI prints one line per outcome)."""
    import logging  # lazy: start-up time of every command (detection imports this module)

    loggers = [logging.getLogger(n) for n in ("pydicom", "highdicom")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def require_pydicom():
    """The ``pydicom`` module; a :class:`~segmill.errors.UsageError` naming the extra when missing."""
    try:
        # lazy: optional dependency (the medical extra)
        import pydicom
    except ImportError:
        raise UsageError("DICOM SEG needs pydicom and highdicom: pip install 'segmill[medical]'") from None
    return pydicom


def require_highdicom():
    """The ``highdicom`` module; a :class:`~segmill.errors.UsageError` naming the extra when missing."""
    require_pydicom()
    try:
        # lazy: optional dependency (the medical extra)
        import highdicom
    except ImportError:
        raise UsageError("DICOM SEG needs pydicom and highdicom: pip install 'segmill[medical]'") from None
    return highdicom


def has_preamble(path: Path) -> bool:
    """Whether ``path`` starts with a DICOM preamble (128 bytes, then ``DICM``)."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def _bad():
    """The exceptions pydicom and highdicom raise on broken input (:data:`_BAD`, SQLite's and pydicom's own)."""
    import sqlite3  # lazy: start-up time of every command (detection imports this module)

    pydicom = require_pydicom()
    return (pydicom.errors.InvalidDicomError, pydicom.errors.BytesLengthException, sqlite3.Error, *_BAD)


def _file_bytes(path: Path) -> io.BytesIO:
    """The file's bytes in memory (a declared element length then never allocates more than the file holds).

    Refused over :func:`max_bytes` (:class:`~segmill.errors.LimitError`).
    """
    size = path.stat().st_size
    if size > max_bytes():
        raise LimitError(f"file of {size:,} bytes is over the {max_bytes():,} a DICOM SEG within the pixel limit "
                         "can need; set SEGMILL_MAX_PIXELS to raise it if the data is trusted", path)
    return io.BytesIO(path.read_bytes())


def max_bytes() -> int:
    """The largest SEG file read: one byte per pixel of the pixel limit (FRACTIONAL, uncompressed) plus 64 MiB."""
    return max_pixels() + (64 << 20)


def _header(path: Path, data=None) -> tuple[object, str]:
    """The data set of ``path`` without its pixel data (pydicom) and its SOP class, or an InputError."""
    pydicom = require_pydicom()
    try:
        with quiet():
            ds = pydicom.dcmread(data if data is not None else _file_bytes(path), stop_before_pixels=True)
            return ds, sop_class(ds)
    except _bad() as exc:
        raise InputError(f"cannot read the DICOM header: {brief(str(exc) or type(exc).__name__)}", path) from None


def sop_class(ds) -> str:
    """The SOP Class UID of a data set (the file meta's when the data set has none), as a string."""
    uid = ds.get("SOPClassUID") or getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "")
    return str(uid or "")


def sniff(path: Path) -> tuple[bool, str]:
    """``(is a SEG, reason)`` for a file with a DICOM preamble (``(False, "")`` without one)."""
    if not has_preamble(path):
        return False, ""
    try:
        _, uid = _header(path)
    except InputError as exc:
        return False, f"DICOM file, but its header cannot be read ({exc.message})"
    if uid == SEG_SOP_CLASS:
        return True, "DICOM file of SOP class Segmentation Storage"
    return False, f"DICOM file, but of SOP class {brief(uid)}, not Segmentation Storage"


def _limit(what: str, sizes: tuple, path) -> None:
    """Refuse ``prod(sizes)`` over the pixel limit (:class:`~segmill.errors.LimitError`)."""
    n = math.prod(int(s) for s in sizes)
    limit = max_pixels()
    if n > limit:
        raise LimitError(f"{what} {'x'.join(str(int(s)) for s in sizes)} ({n:,} pixels) is over the pixel limit of "
                         f"{limit:,}; set SEGMILL_MAX_PIXELS to raise it if the data is trusted", path)


def _check_header(ds, uid: str, path) -> str:
    """The segmentation type, after the header checks (SOP class, sizes within the pixel limit)."""
    if uid != SEG_SOP_CLASS:
        raise InputError(f"not a DICOM SEG (SOP class {brief(uid)}, not {SEG_SOP_CLASS})", path)
    frames = int_in(_int(ds.get("NumberOfFrames", 1)), "NumberOfFrames", path, lo=1, hi=1 << 31)
    rows = int_in(_int(ds.get("Rows")), "Rows", path, lo=1, hi=1 << 16)
    cols = int_in(_int(ds.get("Columns")), "Columns", path, lo=1, hi=1 << 16)
    _limit("frames x rows x columns", (frames, rows, cols), path)
    seg_type = str(ds.get("SegmentationType", ""))
    if seg_type not in ("BINARY", "FRACTIONAL"):
        raise InputError(f"SegmentationType {brief(seg_type)} is not BINARY or FRACTIONAL", path)
    return seg_type


def _int(v):
    """A header value as an int when it is one (else the value, for the validator's message)."""
    try:
        return int(v) if v is not None and str(v).strip().lstrip("-").isdigit() else v
    except (TypeError, ValueError):
        return v


def _code(seq, what: str, path) -> dict | None:
    """A coded concept (first item of a code sequence) as ``{code, scheme, meaning}``."""
    if not seq:
        return None
    item = seq[0]
    return {k: string(str(item.get(tag, "")), f"{what} {k}", path, max_len=256)
            for k, tag in (("code", "CodeValue"), ("scheme", "CodingSchemeDesignator"), ("meaning", "CodeMeaning"))}


def _segments(seg, path) -> list[Segment]:
    """The segment descriptions, numbers validated."""
    out = []
    for item in seg.SegmentSequence:
        number = int_in(_int(item.get("SegmentNumber")), "SegmentNumber", path, lo=1, hi=MAX_SEGMENT)
        label = string(str(item.get("SegmentLabel", "") or f"segment_{number}"), "SegmentLabel", path, max_len=256)
        extra = {"segment_number": number}
        for key, tag in (("property_category", "SegmentedPropertyCategoryCodeSequence"),
                         ("property_type", "SegmentedPropertyTypeCodeSequence")):
            code = _code(item.get(tag), f"segment {number} {key}", path)
            if code is not None:
                extra[key] = code
        algo = item.get("SegmentAlgorithmType")
        if algo:
            extra["algorithm_type"] = string(str(algo), "SegmentAlgorithmType", path, max_len=64)
        out.append(Segment(number, label, extra))
    if not out:
        raise InputError("the SEG has no segment", path)
    if len({s.number for s in out}) != len(out):
        raise InputError("two segments have the same SegmentNumber", path)
    return out


def _grid(vol, path) -> tuple[np.ndarray, np.ndarray]:
    """``(masks as [column, row, slice, segment], affine)`` of a highdicom volume, right-handed."""
    arr = np.transpose(np.asarray(vol.array), (2, 1, 0, 3))
    affine = np.asarray(vol.affine, dtype=float)[:, [2, 1, 0, 3]]
    for x in affine.reshape(-1).tolist():
        finite(x, "SEG geometry (affine)", path)
    if not all(np.linalg.norm(affine[:3, i]) > 0 for i in range(3)):
        raise InputError("SEG geometry has a zero voxel size", path)
    if np.linalg.det(affine[:3, :3]) < 0:
        arr = arr[:, :, ::-1]
        affine[:3, 3] += (arr.shape[2] - 1) * affine[:3, 2]
        affine[:3, 2] = -affine[:3, 2]
    return arr, affine


def load_seg(path: Path, threshold: float = 0.5) -> SegVolume:
    """Read one DICOM SEG file as a :class:`SegVolume` (module docs)."""
    hd = require_highdicom()
    data = _file_bytes(path)
    try:
        with quiet():
            seg_type = _check_header(*_header(path, data), path)
            data.seek(0)
            return _volume(hd, data, path, seg_type, threshold)
    except InputError:
        raise
    except _bad() as exc:
        raise InputError(f"cannot read the DICOM SEG: {brief(str(exc) or type(exc).__name__)}", path) from None


def seg_header(path: Path) -> tuple[list, str]:
    """``(segments, segmentation type)`` of a SEG from its header alone (pixel data left unread).

    The header checks of :func:`load_seg`, in its order, and its segment
    descriptions: what a stream's first pass needs of each file. A file
    refused here :func:`load_seg` refuses too; one :func:`load_seg` refuses
    may pass (its frames, its pixels, its size on disk are not read).
    """
    require_highdicom()
    try:
        with quiet(), open(path, "rb") as fh:
            ds, uid = _header(path, fh)
            seg_type = _check_header(ds, uid, path)
            return _segments(ds, path), seg_type
    except InputError:
        raise
    except _bad() as exc:
        raise InputError(f"cannot read the DICOM SEG: {brief(str(exc) or type(exc).__name__)}", path) from None


def _volume(hd, data: io.BytesIO, path: Path, seg_type: str, threshold: float) -> SegVolume:
    """The :class:`SegVolume` of a SEG whose header passed the checks (highdicom's errors propagate)."""
    seg = hd.seg.segread(data)
    segments = _segments(seg, path)
    geometry = seg.get_volume_geometry()
    if geometry is None:
        raise InputError("the SEG frames do not form a regular 3-D grid (no volume geometry)", path)
    _limit("volume slices x rows x columns x segments", (*geometry.spatial_shape, len(segments)), path)
    vol = seg.get_volume(combine_segments=False, segment_numbers=[s.number for s in segments],
                         rescale_fractional=True)
    arr, affine = _grid(vol, path)
    if arr.ndim != 4 or arr.shape[3] != len(segments):
        raise InputError(f"SEG volume of shape {brief(list(arr.shape))} is not slices x rows x columns x segments",
                         path)
    if seg_type == "FRACTIONAL":
        masks = np.asarray(arr, dtype=float) >= threshold
    else:
        masks = np.asarray(arr) != 0
    return SegVolume(masks, segments, affine, seg_type)
