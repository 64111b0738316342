"""NIfTI label volumes (``.nii``, ``.nii.gz``; nibabel): one item per slice.

Layout (read)::

    <volume>.nii.gz          one file, or
    <folder>/                a folder of them (one volume per file), with an
      <a>.nii.gz <b>.nii     optional label table beside them:
      labels.txt             ITK-SNAP label description file, or
      labels.json|yaml       {value: name}

Written: a folder of ``<volume>.nii.gz`` plus ``labels.txt``.

A volume is read as one item per slice along ``axis`` (default 2, the last);
the slice items and their ``attributes["volume"]`` are described in
:mod:`segmill.formats._volume_slices`: the NIfTI header's pixdim, quaternion
(qform) and srow (sform) fields and their codes are kept exactly, so
``nifti -> coco -> nifti`` gives the same label array, spacing and affine.
Each label value v > 0 is a category (id v) named by the label table, else
``label_<v>``; ``volume_instances="components"`` splits each label into 3-D
connected components (:mod:`segmill.formats._volume_components`).

Streaming (:func:`stream`): the same items, one volume at a time, after a
first pass that reads each volume (one at a time) for its label values, the
categories: each volume is read twice.

Refused with exit 2 (nothing read): a header nibabel cannot parse, a volume
that is not 3-D (trailing axes of size 1 are allowed), more voxels than the
pixel limit, a non-finite or non-positive voxel size, labels that are not
whole numbers 0..65535. What the writer cannot keep is reported
(``L890``, ``L891``; see :mod:`segmill.formats._volume_write`).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..losses import WriteReport, register_codes
from ..model import Dataset
from ..validate import brief, finite, int_in
from . import FormatSpec, register_format
from ._volume_read import (
    Backend,
    check_voxels,
    detect_volumes,
    label_array,
    load_volumes,
    read_volumes,
    shard_volumes,
    stream_volumes,
    volumes_dataset,
)
from ._volume_slices import Volume
from ._volume_write import write_volumes
from .options import ERRORS, Option, overlap, raster

__all__ = ["VOLUME_OPTIONS", "detect", "read", "shards", "slices_dataset", "stream", "volumes", "write"]

register_codes({
    "L890": "images without volume attributes were written as the slices of a volume, one per image size "
            "(spacing 1, no orientation; file names not kept)",
    "L891": "category ids are not label values 1..65535: categories numbered 1..n in category order",
    "L892": "a volume read from the other volume format whose orientation cannot be converted (an NRRD space "
            "other than LPS, RAS or LAS, or no space directions): the voxel spacing is kept, not the orientation",
}, changes={
    "images": ("L890",),
    "classes": ("L891",),
})

#: The header fields kept (float fields, with their lengths; code fields).
_FLOATS = {"pixdim": 8, "quatern": 3, "qoffset": 3, "srow_x": 4, "srow_y": 4, "srow_z": 4}
_CODES = ("qform_code", "sform_code", "xyzt_units")


def require_nibabel():
    """The ``nibabel`` module; a :class:`~segmill.errors.UsageError` naming the extra when missing."""
    try:
        # lazy: optional dependency (the medical extra)
        import nibabel
    except ImportError:
        raise UsageError("NIfTI volumes need nibabel: pip install 'segmill[medical]'") from None
    return nibabel


def _sniff(path: Path) -> bool:
    """Whether the first bytes hold a NIfTI-1 or NIfTI-2 header."""
    with open(path, "rb") as fh:
        head = fh.read(600)
    if head[:2] == b"\x1f\x8b":
        try:
            head = gzip.GzipFile(fileobj=__import__("io").BytesIO(head)).read(548)
        except (OSError, EOFError, zlib.error):
            return False
    if len(head) < 348:
        return False
    size = struct.unpack("<i", head[:4])[0]
    if size in (348, 0x5C010000):
        return head[344:347] in (b"n+1", b"ni1")
    if size in (540, 0x1C020000):
        return head[4:7] in (b"n+2", b"ni2")
    return False


def _load(path: Path) -> Volume:
    """A NIfTI volume, its header checked before the data is read."""
    nib = require_nibabel()
    from nibabel.filebasedimages import ImageFileError
    from nibabel.spatialimages import HeaderDataError

    bad = (ImageFileError, HeaderDataError, OSError, ValueError, EOFError, zlib.error, struct.error, TypeError,
           KeyError, IndexError, OverflowError, MemoryError, AttributeError)
    try:
        img = nib.load(str(path))
        if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
            raise InputError(f"not a NIfTI image ({type(img).__name__})", path)
        shape = tuple(int(s) for s in img.shape)
        dtype = img.get_data_dtype()
        hdr = img.header
        header = _header(hdr, path)
    except bad as exc:
        raise InputError(f"cannot read the NIfTI header: {brief(str(exc) or type(exc).__name__)}", path) from None
    if not 3 <= len(shape) <= 7 or any(s != 1 for s in shape[3:]) or min(shape) < 1:
        raise InputError(f"a label volume has 3 axes (trailing axes of size 1 allowed); shape is {shape}", path)
    check_voxels(shape, path)
    if dtype.kind not in "uif" or dtype.fields is not None:
        raise InputError(f"label volume data type {dtype} is not integer or float", path)
    try:
        data = np.asanyarray(img.dataobj)
    except bad as exc:
        raise InputError(f"cannot read the NIfTI data: {brief(str(exc) or type(exc).__name__)}", path) from None
    arr = label_array(np.asarray(data).reshape(shape[:3]), path)
    spacing = tuple(header["pixdim"][1:4])
    return Volume("", arr, spacing, header, "nifti", shape, dtype.newbyteorder("=").name)


def _header(hdr, path) -> dict:
    """The kept header fields as JSON-ready values, each one finite; the voxel size positive."""
    out = {"version": 2 if hdr.sizeof_hdr == 540 else 1}
    raw = {"pixdim": hdr["pixdim"], "quatern": [hdr["quatern_b"], hdr["quatern_c"], hdr["quatern_d"]],
           "qoffset": [hdr["qoffset_x"], hdr["qoffset_y"], hdr["qoffset_z"]],
           "srow_x": hdr["srow_x"], "srow_y": hdr["srow_y"], "srow_z": hdr["srow_z"]}
    for k, v in raw.items():
        out[k] = [finite(float(x), f"header {k}", path) for x in np.asarray(v).reshape(-1).tolist()]
    for k in _CODES:
        out[k] = int_in(int(hdr[k]), f"header {k}", path, lo=0, hi=255)
    for s in out["pixdim"][1:4]:
        if not s > 0:
            raise InputError(f"voxel size (pixdim) {brief(out['pixdim'][1:4])} must be positive", path)
    return out


def _checked_header(header: dict, spacing) -> dict | None:
    """A slice's stored header, every field checked (``None``: none stored, or not a NIfTI one)."""
    if not header or set(header) != set(_FLOATS) | set(_CODES) | {"version"}:
        return None
    out = {"version": int_in(header["version"], "volume header version", lo=1, hi=2)}
    for k, n in _FLOATS.items():
        v = header[k]
        if not isinstance(v, list) or len(v) != n:
            raise InputError(f"volume header {k} must be {n} numbers, got {brief(v)}")
        out[k] = [finite(x, f"volume header {k}") for x in v]
    for k in _CODES:
        out[k] = int_in(header[k], f"volume header {k}", lo=0, hi=255)
    return out


def _fill(hdr, header: dict) -> None:
    """Put checked header fields into a nibabel header."""
    hdr["pixdim"] = header["pixdim"]
    for k, v in zip(("quatern_b", "quatern_c", "quatern_d"), header["quatern"]):
        hdr[k] = v
    for k, v in zip(("qoffset_x", "qoffset_y", "qoffset_z"), header["qoffset"]):
        hdr[k] = v
    for k in ("srow_x", "srow_y", "srow_z", *_CODES):
        hdr[k] = header[k]


def header_affine(header: dict, shape) -> np.ndarray | None:
    """The affine (voxel -> RAS+ world) nibabel gives a stored NIfTI header, or ``None`` without one."""
    nib = require_nibabel()
    checked = _checked_header(header, None)
    if checked is None:
        return None
    hdr = (nib.Nifti2Header if checked["version"] == 2 else nib.Nifti1Header)()
    hdr.set_data_shape(tuple(shape))
    _fill(hdr, checked)
    return hdr.get_best_affine()


#: NRRD spaces whose world axes are RAS+ up to signs: the signs turning them into RAS+.
SPACE_SIGNS = {"left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1), "right-anterior-superior": (1, 1, 1),
               "ras": (1, 1, 1), "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1)}


def _adopt(plan) -> dict | None:
    """The NIfTI header fields of a volume read as NRRD (sform and qform from its space), or ``None``."""
    nib = require_nibabel()
    kept = plan.header
    signs = SPACE_SIGNS.get(str(kept.get("space", "")).lower())
    dirs, origin = kept.get("space directions"), kept.get("space origin")
    if (signs is None or not isinstance(dirs, list) or len(dirs) != 3
            or any(not isinstance(r, list) or len(r) != 3 for r in dirs)
            or not isinstance(origin, list) or len(origin) != 3):
        return None
    m = np.eye(4)
    m[:3, :3] = np.array(dirs, float).T
    m[:3, 3] = np.array(origin, float)
    affine = np.diag([*signs, 1.0]) @ m
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(plan.shape3)
    try:
        hdr.set_qform(affine, code=1)
        hdr.set_sform(affine, code=1)
        hdr.set_xyzt_units("mm")
        return _header(hdr, None)
    except (ValueError, InputError, np.linalg.LinAlgError, FloatingPointError):
        return None


def _save(path: Path, array: np.ndarray, plan) -> None:
    """Write one volume with the header fields it was read with (else an affine from its spacing)."""
    nib = require_nibabel()
    header = _checked_header(plan.header, plan.spacing) if plan.fmt in ("nifti", "") else None
    data = array.reshape(plan.shape) if plan.fmt == "nifti" else array
    if header is None:
        img = nib.Nifti1Image(data, np.diag([*plan.spacing, 1.0]))
        img.set_data_dtype(data.dtype)
    else:
        cls = nib.Nifti2Image if header["version"] == 2 else nib.Nifti1Image
        hdr = cls.header_class()
        hdr.set_data_dtype(data.dtype)
        hdr.set_data_shape(data.shape)
        _fill(hdr, header)
        img = cls(data, None, header=hdr)
    try:
        img.to_filename(str(path))
    except (ValueError, OverflowError) as exc:  # a stored header nibabel will not write
        raise InputError(f"cannot write the NIfTI volume: {exc}", path) from None


BACKEND = Backend("nifti", (".nii.gz", ".nii"), _load, _save, ".nii.gz", _sniff, _adopt)

#: The reader options both volume formats take.
VOLUME_OPTIONS = (
    ERRORS,
    Option("axis", "reader", "slice along this axis of the volume (0, 1 or 2)", kind="int", default=2),
    Option("labels", "reader", "label table (default labels.txt/.json/.yaml beside the volumes)", kind="path"),
    Option("volume_instances", "reader", "none (one region per label and slice) or components (3-D connected "
           "components)", kind="choice", choices=("none", "components"), default="none"),
    Option("connectivity", "reader", "3-D connectivity of one component: 6, 18 or 26", kind="int", default=26),
    Option("min_area", "reader", "drop components with fewer voxels", kind="int", default=0),
    Option("stuff", "reader", "label names or values kept whole (comma-separated)", kind="str"),
    Option("values", "writer", "write label values or 3-D instance ids", kind="choice",
           choices=("label", "instance"), default="label"),
    overlap(),
    raster("writer"),
)


def volumes(path, labels=None) -> tuple[list, dict]:
    """Every volume of ``path`` (a file or a folder) as :class:`~segmill.formats._volume_slices.Volume`
    objects (``name``, ``array``, ``spacing``, ``header``), and the label table ``{value: (value, name, colour)}``."""
    require_nibabel()
    return load_volumes(path, BACKEND, labels)


def slices_dataset(vols: list, table: dict, axis: int = 2) -> Dataset:
    """A dataset of the slices of ``vols`` (one annotation per label and slice), as :func:`read` gives it."""
    return volumes_dataset(vols, table, "nifti", axis)


def detect(path):
    return detect_volumes(path, BACKEND, "NIfTI")


def read(path, *, axis: int = 2, labels=None, volume_instances: str = "none", connectivity: int = 26,
         min_area: int = 0, stuff: str = "", errors: str = "raise") -> Dataset:
    """Read a NIfTI volume or a folder of them (module docs).

    Parameters
    ----------
    axis : {0, 1, 2}
        Slicing axis.
    labels : path, optional
        Label table (default ``labels.txt`` / ``.json`` / ``.yaml`` beside the volumes).
    volume_instances : {"none", "components"}
        ``components``: one annotation per 3-D connected component and slice.
    connectivity : {6, 18, 26}
    min_area : int
        Components with fewer voxels are dropped (listed in ``meta["read_notes"]``).
    stuff : str
        Comma-separated label names or values kept whole.
    errors : {"raise", "skip", "keep"}
        With ``skip`` an unreadable volume file is dropped and listed.
    """
    require_nibabel()
    return read_volumes(path, BACKEND, errors, axis=axis, labels=labels, volume_instances=volume_instances,
                        connectivity=connectivity, min_area=min_area, stuff=stuff)


def stream(path, **options):
    """The header and the items of :func:`read` (its options), one volume at a time (:mod:`segmill.streaming`).

    A first pass reads every volume, one at a time, for its label values
    (the categories): each volume is read twice (costs and modes:
    :func:`segmill.formats._volume_read.stream_volumes`). ``selection``: one
    part of :func:`shards`, a run of the volume files.
    """
    require_nibabel()
    return stream_volumes(path, BACKEND, **options)


def shards(path, n: int, **options) -> list[dict]:
    """At most ``n`` selections of :func:`stream` (its ``selection=``): runs of the volume files of about equal
    bytes. The first pass over every volume (for the categories) is made here, once: each selection carries
    what its part needs of it, so a part reads its own volumes only."""
    require_nibabel()
    return shard_volumes(path, BACKEND, n, **options)


def write(dataset: Dataset, path, *, values: str = "label", overlap: str = "zorder",
          raster: str | None = None) -> WriteReport:
    """Write a folder of ``<volume>.nii.gz`` and ``labels.txt`` (:mod:`segmill.formats._volume_write`)."""
    require_nibabel()
    return write_volumes(dataset, path, BACKEND, values=values, overlap=overlap, raster=raster)


register_format(
    FormatSpec(
        name="nifti",
        example="nifti/basic",
        description="NIfTI label volumes (.nii/.nii.gz, one item per slice; label table beside them)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        output="dir",
        options=VOLUME_OPTIONS,
    )
)
