"""DICOM SEG (Segmentation Storage, read with pydicom and highdicom): one item per slice. Read-only.

Layout (read)::

    <seg>.dcm            one DICOM file of SOP class 1.2.840.10008.5.1.4.1.1.66.4
                         (any file name), or
    <folder>/            a folder of them (its ``*.dcm`` files, one volume each;
      <a>.dcm <b>.dcm    other DICOM files there, e.g. the referenced series,
                         are ignored and counted in ``meta["read_notes"]``)

A SEG is a multi-frame segmentation over a referenced series; it is read as
the volume its frames span (:mod:`segmill.formats._dicom_seg_file`), then as
one item per slice along ``axis`` (default 2: one item per frame position,
the image as the frame shows it), with the same ``attributes["volume"]`` as
the NIfTI and NRRD readers (:mod:`segmill.formats._volume_slices`), so
``dicom_seg -> nifti``, ``dicom_seg -> nrrd`` and ``dicom_seg -> coco ->
nifti`` write label volumes with the SEG's geometry. The orientation is kept
in NRRD's fields (``space`` left-posterior-superior, DICOM's own patient
coordinates, ``space directions`` and ``space origin``), so the volume
attribute's ``format`` is ``"nrrd"``; the NIfTI writer turns them into an
affine in RAS+ as nibabel does (x and y negated).

Categories: one per segment, id = SegmentNumber, name = SegmentLabel; the
segmented property category and type codes (``{code, scheme, meaning}``) and
the algorithm type are kept in the category's ``extra``. Two files of a
folder giving one segment number different labels are refused.

Segments may overlap (a voxel in several segments): each slice has one mask
annotation per segment present in it, never painted into one label map, so
overlaps are kept. FRACTIONAL segmentations are thresholded (a voxel is in a
segment when its fraction is at least ``threshold``, default 0.5; the
fractions are not kept, noted in ``meta["read_notes"]``).

Streaming (:func:`stream`): the same items, one SEG file at a time, after a
first pass over the files' headers (segments and type; pixel data unread).

Refused with exit 2 (nothing read): a file that is not DICOM or not a SEG, a
header pydicom cannot parse, frames x rows x columns (then slices x rows x
columns x segments) over the pixel limit, before any pixel is decoded, frames
highdicom cannot place on a regular 3-D grid, anything pydicom or highdicom
cannot decode. There is no writer.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..model import Annotation, Category, Dataset, Item
from ..paths import confined_glob
from ..rle import encode
from ..validate import ErrorPolicy, brief, finite
from . import NO, Detection, FormatSpec, register_format
from ._dicom_seg_file import SegVolume, load_seg, require_highdicom, seg_header, sniff
from ._volume_slices import AXIS_LETTERS, slice_of
from ._volume_stream import read_run, stream_run
from ._volume_stream import shards as volume_shards
from .options import ERRORS, Option

__all__ = ["detect", "read", "shards", "stream"]

#: The NRRD space the orientation is kept in (DICOM patient coordinates).
LPS = "left-posterior-superior"


def _files(path) -> tuple[list[Path], Path, int]:
    """The SEG files of ``path`` (a file, or a folder's ``*.dcm``), the folder, and how many were ignored.

    In a folder, ``*.dcm`` files without a DICOM preamble or of another SOP
    class (the series a SEG refers to, often beside it) are ignored and
    counted; a file whose header cannot be read is kept (and refused by the
    reader).
    """
    p = Path(path)
    if p.is_file():
        return [p], p.parent, 0
    if not p.is_dir():
        raise InputError("no such file or directory", p)
    files = [f for f in confined_glob(p, "*") if f.name.lower().endswith(".dcm") and f.is_file()]
    segs = [f for f in files if _candidate(f)]
    if not segs:
        raise InputError(f"no DICOM SEG among the {len(files)} .dcm file(s) of the folder", p)
    return segs, p, len(files) - len(segs)


def _candidate(f: Path) -> bool:
    """Whether a folder's ``.dcm`` file is read: a SEG, or a DICOM file whose header cannot be read."""
    ok, reason = sniff(f)
    return ok or reason.startswith("DICOM file, but its header cannot be read")


#: The most ``.dcm`` files of a folder whose headers detection reads.
DETECT_FILES = 64


def detect(path) -> Detection:
    """A DICOM file of the SEG SOP class, or a folder with one among its first ``*.dcm`` files."""
    p = Path(path)
    try:
        if p.is_file():
            ok, reason = sniff(p)
            if ok:
                return Detection(0.95, reason)
            return Detection(0.2, reason) if reason else NO
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.name.lower().endswith(".dcm") and f.is_file())
            last = ""
            for f in files[:DETECT_FILES]:
                ok, reason = sniff(f)
                if ok:
                    return Detection(0.85, f"folder of {len(files)} .dcm file(s), {f.name} a DICOM SEG")
                last = reason or last
            if last:
                return Detection(0.2, f"folder of .dcm files, no DICOM SEG among the first {DETECT_FILES}")
    except (OSError, InputError, UsageError):
        return NO
    return NO


def _header(vol: SegVolume) -> dict:
    """The volume's orientation as NRRD header fields (LPS space)."""
    a = vol.affine
    return {"space": LPS, "space directions": [[float(x) + 0.0 for x in a[:3, i]] for i in range(3)],
            "space origin": [float(x) + 0.0 for x in a[:3, 3]], "kinds": ["domain"] * 3}


def _info(name: str, vol: SegVolume, axis: int) -> dict:
    """The volume-level part of each slice's ``attributes["volume"]``."""
    shape = [int(s) for s in vol.masks.shape[:3]]
    top = max(s.number for s in vol.segments)
    return {"name": name, "format": "nrrd", "axis": axis, "slices": shape[axis], "shape": shape,
            "dtype": "uint8" if top <= 255 else "uint16", "spacing": list(vol.spacing),
            "header": _header(vol)}


def _items(name: str, vol: SegVolume, axis: int, nid: int) -> tuple[list[Item], int]:
    """One item per slice along ``axis``, one mask annotation per segment present in it."""
    info = _info(name, vol, axis)
    letter = AXIS_LETTERS[axis]
    items = []
    for k in range(vol.masks.shape[axis]):
        anns = []
        plane = None
        for j, seg in enumerate(vol.segments):
            plane = slice_of(vol.masks[..., j], axis, k)
            if plane.any():
                anns.append(Annotation(nid, seg.number, encode(plane)))
                nid += 1
        h, w = plane.shape
        items.append(Item(f"{name}/{letter}_{k:04d}", f"{name}/{letter}_{k:04d}.png", width=w, height=h,
                          annotations=anns, attributes={"volume": {**info, "index": k}}))
    return items, nid


def _merge_categories(cats: dict, segments: list, path) -> None:
    """Add ``segments`` to ``cats`` (``{number: Category}``); a number named twice differently is refused."""
    for s in segments:
        old = cats.get(s.number)
        if old is not None and old.name != s.label:
            raise InputError(f"segment {s.number} is {brief(s.label)} here but {brief(old.name)} in another file "
                             "of the folder: read the files one at a time", path)
    for s in segments:
        cats.setdefault(s.number, Category(s.number, s.label, extra=dict(s.extra)))


def _check(axis, threshold) -> tuple[int, float]:
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise UsageError(f"axis must be 0, 1 or 2, got {brief(axis)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise UsageError(f"threshold must be a number in (0, 1], got {brief(threshold)}")
    threshold = finite(float(threshold), "threshold")
    if not 0 < threshold <= 1:
        raise UsageError(f"threshold must be in (0, 1], got {brief(threshold)}")
    return int(axis), threshold


def read(path, *, axis: int = 2, threshold: float = 0.5, errors: str = "raise") -> Dataset:
    """Read a DICOM SEG file or a folder of them (module docs).

    Parameters
    ----------
    axis : {0, 1, 2}
        Slicing axis of the volume ``[column, row, frame position]``.
    threshold : float
        FRACTIONAL segmentations: a voxel is in a segment when its fraction is
        at least this (0 < threshold <= 1).
    errors : {"raise", "skip", "keep"}
        With ``skip`` an unreadable SEG file of a folder is dropped and listed.
    """
    require_highdicom()
    axis, threshold = _check(axis, threshold)
    policy = ErrorPolicy.of(errors)
    new_run, ds, folder = _start(path, axis, threshold)
    return read_run(new_run(), ds, policy, folder)


def stream(path, *, axis: int = 2, threshold: float = 0.5, errors: str = "raise", selection: dict | None = None):
    """The header and the items of :func:`read`, one SEG file at a time (:mod:`segmill.streaming`), or ``None``.

    The categories (the segments of every file) and the notes come from a
    first pass over the files' headers alone (pixel data left unread; see
    :mod:`segmill.formats._volume_stream`); then each file is read whole, one
    at a time (memory: one volume). ``None`` (read whole) for ``errors``
    other than ``"raise"``: a file a lenient read drops for its pixel data
    gives no categories, which its header alone cannot tell. ``selection``:
    one part of :func:`shards`, a run of the SEG files, which carries the
    first pass (made once, on the driver): a part reads its own files only.
    """
    require_highdicom()
    axis, threshold = _check(axis, threshold)
    if not ErrorPolicy.of(errors).raising:
        return None
    new_run, ds, folder = _start(path, axis, threshold)
    return stream_run(new_run, ds, errors, folder, selection)


def shards(path, n: int, *, axis: int = 2, threshold: float = 0.5, errors: str = "raise") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of the SEG files of about equal bytes.

    The first pass over every file's header (for the categories) is made
    here, once: each selection carries what its part needs of it. ``None``
    where :func:`stream` reads whole (``errors`` other than ``"raise"``).
    """
    require_highdicom()
    axis, threshold = _check(axis, threshold)
    if not ErrorPolicy.of(errors).raising:
        return None
    return volume_shards(_start(path, axis, threshold)[0], n, errors)


def _start(path, axis, threshold):
    """``(new_run, dataset without items, folder)``: the SEG files listed (the options checked before)."""
    files, folder, ignored = _files(path)
    ds = Dataset()
    ds.meta.update({"source_format": "dicom_seg", "volume_axis": axis})
    if ignored:
        ds.meta["read_notes"] = [f"{ignored} .dcm file(s) that are not DICOM SEG ignored"]
    return (lambda: _Run(files, axis, threshold)), ds, folder


class _Run:
    """One read of the SEG files (a run of :mod:`segmill.formats._volume_stream`): segments, names, notes."""

    def __init__(self, files: list[Path], axis: int, threshold: float):
        self.files, self.axis, self.threshold = files, axis, threshold
        self.cats: dict = {}
        self.names: set = set()
        self.notes: list = []
        self.nid = 1

    def _name(self, f: Path) -> str:
        name = f.name[:-4] if f.name.lower().endswith(".dcm") and len(f.name) > 4 else f.name
        if name in self.names:
            raise InputError(f"a second volume named {brief(name)}", f)
        return name

    def first(self, f: Path) -> None:
        """The segments and the type of one file, from its header."""
        name = self._name(f)
        self._add(name, *seg_header(f), f)

    def volume(self, f: Path) -> list[Item]:
        """The slice items of one file."""
        name = self._name(f)
        vol = load_seg(f, self.threshold)
        self._add(name, vol.segments, vol.seg_type, f)
        items, self.nid = _items(name, vol, self.axis, self.nid)
        return items

    def _add(self, name: str, segments: list, seg_type: str, f: Path) -> None:
        _merge_categories(self.cats, segments, f)
        self.names.add(name)
        if seg_type == "FRACTIONAL":
            self.notes.append(f"{name}: FRACTIONAL segmentation thresholded at {self.threshold:g} "
                              "(the fractions are not kept)")

    def facts(self) -> tuple:
        return self.cats, self.names, self.notes

    def resume(self, facts: tuple, first_id: int) -> None:
        self.cats, self.names, self.notes = facts
        self.nid = first_id

    def finish(self, ds: Dataset) -> None:
        if self.notes:
            ds.meta.setdefault("read_notes", []).extend(self.notes)
        ds.categories = [self.cats[k] for k in sorted(self.cats)]


register_format(
    FormatSpec(
        name="dicom_seg",
        example="dicom_seg/basic",
        description="DICOM SEG segmentations (read-only; one item per slice, one mask per segment)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=None,
        output="dir",
        options=(
            ERRORS,
            Option("axis", "reader", "slice along this axis of the volume (0: columns, 1: rows, 2: frames)",
                   kind="int", default=2),
            Option("threshold", "reader", "FRACTIONAL segmentations: a voxel is in a segment when its fraction "
                   "is at least this", kind="float", default=0.5),
        ),
    )
)
