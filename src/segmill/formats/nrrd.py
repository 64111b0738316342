"""NRRD label volumes (``.nrrd`` with an attached header; pynrrd): one item per slice.

Layout as :mod:`segmill.formats.nifti` (one ``.nrrd`` file or a folder of
them, label table beside them; written: ``<volume>.nrrd``, gzip-encoded, plus
``labels.txt``), with the same reader and writer options. The header's
``space``, ``space directions``, ``space origin``, ``spacings`` and ``kinds``
are kept in each slice's ``attributes["volume"]["header"]``, so
``nrrd -> coco -> nrrd`` restores the label array, spacing and orientation.
The voxel spacing is the length of each space direction (else ``spacings``,
else 1).

Detached headers (``.nhdr``, or a ``data file`` field) are refused: the data
would be read from a path named inside the file. Loss codes are the volume
ones, ``L890`` and ``L891`` (declared by :mod:`segmill.formats.nifti`).
"""

from __future__ import annotations

import io
import math
import re
import zlib
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..losses import WriteReport
from ..model import Dataset
from ..validate import brief, finite, string
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
from .nifti import VOLUME_OPTIONS, header_affine

__all__ = ["detect", "read", "shards", "slices_dataset", "stream", "volumes", "write"]

#: The most bytes of header text read before the data.
MAX_HEADER_BYTES = 1 << 20
_KEPT = ("space", "space directions", "space origin", "spacings", "kinds")


def require_pynrrd():
    """The ``nrrd`` module; a :class:`~segmill.errors.UsageError` naming the extra when missing."""
    try:
        # lazy: optional dependency (the medical extra)
        import nrrd
    except ImportError:
        raise UsageError("NRRD volumes need pynrrd: pip install 'segmill[medical]'") from None
    return nrrd


def _sniff(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8)[:7] == b"NRRD000"


def _load(path: Path) -> Volume:
    """An NRRD volume, its header checked before the data is read."""
    nrrd = require_pynrrd()
    bad = (nrrd.NRRDError, OSError, ValueError, EOFError, zlib.error, TypeError, KeyError, IndexError,
           OverflowError, MemoryError, AttributeError, UnicodeError)
    try:
        with open(path, "rb") as fh:
            if not fh.read(8)[:7] == b"NRRD000":
                raise InputError("not an NRRD file (no NRRD000 magic)", path)
            fh.seek(0)
            header = nrrd.read_header(fh)
            shape = _shape(header, path)
            check_voxels(shape, path)
            data = nrrd.read_data(header, fh, str(path), index_order="F")
    except bad as exc:
        raise InputError(f"cannot read the NRRD file: {brief(str(exc) or type(exc).__name__)}", path) from None
    kept = _kept(header, path)
    arr = label_array(np.asarray(data).reshape(shape), path)
    return Volume("", arr, _spacing(kept), kept, "nrrd", shape, np.dtype(data.dtype).newbyteorder("=").name)


def _shape(header: dict, path) -> tuple:
    if "data file" in header or "datafile" in header:
        raise InputError("detached NRRD data files are not read (the data would come from a path in the header)",
                         path)
    sizes = header.get("sizes")
    dim = header.get("dimension")
    if sizes is None or dim != 3 or len(sizes) != 3:
        raise InputError(f"a label volume has 3 axes; dimension is {brief(dim)}", path)
    shape = tuple(int(s) for s in sizes)
    if min(shape) < 1:
        raise InputError(f"volume sizes {brief(list(shape))} must be positive", path)
    return shape


def _floats(v, what: str, path, allow_nan_rows: bool = False):
    """A JSON-ready copy of a vector or matrix field; a NaN row of space directions becomes ``None``."""
    a = np.asarray(v, dtype=float)
    if a.ndim == 2:
        rows = []
        for r in a:
            if allow_nan_rows and np.all(np.isnan(r)):
                rows.append(None)
            else:
                rows.append([finite(float(x), what, path) for x in r])
        return rows
    return [finite(float(x), what, path) for x in a.reshape(-1)]


def _kept(header: dict, path) -> dict:
    out: dict = {}
    for k in _KEPT:
        if k not in header:
            continue
        v = header[k]
        if k == "space":
            out[k] = string(v, "space", path, max_len=64)
        elif k == "kinds":
            out[k] = [string(x, "kind", path, max_len=64) for x in v]
        elif k == "space directions":
            out[k] = _floats(v, k, path, allow_nan_rows=True)
        elif k == "spacings":
            out[k] = [None if math.isnan(x) else finite(float(x), k, path) for x in np.asarray(v, float)]
        else:
            out[k] = _floats(v, k, path)
    return out


def _spacing(kept: dict) -> tuple:
    dirs = kept.get("space directions")
    if isinstance(dirs, list) and len(dirs) == 3 and all(r is not None for r in dirs):
        sp = tuple(float(np.linalg.norm(r)) for r in dirs)
    elif isinstance(kept.get("spacings"), list) and len(kept["spacings"]) == 3:
        sp = tuple(1.0 if s is None else float(s) for s in kept["spacings"])
    else:
        sp = (1.0, 1.0, 1.0)
    if not all(math.isfinite(s) and s > 0 for s in sp):
        raise InputError(f"voxel size {brief(list(sp))} must be positive")
    return sp


#: The comment line pynrrd adds with the time of the write.
_WRITTEN_ON = re.compile(rb"# on [0-9: -]+\(GMT\)\.\n")


def _save(path: Path, array: np.ndarray, plan) -> None:
    """Write one volume with the header fields it was read with (else spacings from its spacing)."""
    nrrd = require_pynrrd()
    header = _write_header(plan.header if plan.fmt == "nrrd" else {}, plan.spacing)
    buf = io.BytesIO()
    try:
        nrrd.write(buf, np.asarray(array), header, index_order="F")
    except (nrrd.NRRDError, ValueError, TypeError) as exc:
        raise InputError(f"cannot write the NRRD volume: {exc}", path) from None
    # pynrrd writes the clock time into a comment line: without it the same volume gives the same bytes
    Path(path).write_bytes(_WRITTEN_ON.sub(b"", buf.getvalue(), count=1))


def _write_header(kept: dict, spacing) -> dict:
    """The pynrrd header of a volume: the kept fields, checked, or ``spacings`` from the spacing."""
    h: dict = {"encoding": "gzip"}
    if not isinstance(kept, dict) or not kept:
        h["spacings"] = np.array(spacing, float)
        return h
    if "space" in kept:
        h["space"] = string(kept["space"], "volume header space", max_len=64)
    if "kinds" in kept:
        kinds = kept["kinds"]
        if not isinstance(kinds, list) or len(kinds) != 3:
            raise InputError(f"volume header kinds must be 3 names, got {brief(kinds)}")
        h["kinds"] = [string(k, "volume header kind", max_len=64) for k in kinds]
    if "space directions" in kept:
        dirs = kept["space directions"]
        if not isinstance(dirs, list) or len(dirs) != 3:
            raise InputError(f"volume header space directions must be 3 rows, got {brief(dirs)}")
        rows = [[float("nan")] * _dim(dirs) if r is None else _vector(r, "space directions") for r in dirs]
        h["space directions"] = np.array(rows, float)
    if "space origin" in kept:
        h["space origin"] = np.array(_vector(kept["space origin"], "space origin"), float)
    if "spacings" in kept:
        sp = kept["spacings"]
        if not isinstance(sp, list) or len(sp) != 3:
            raise InputError(f"volume header spacings must be 3 numbers, got {brief(sp)}")
        h["spacings"] = np.array([float("nan") if s is None else finite(s, "volume header spacings") for s in sp])
    return h


def _dim(rows) -> int:
    return next((len(r) for r in rows if isinstance(r, list)), 3)


def _vector(v, what: str) -> list:
    if not isinstance(v, list) or not 1 <= len(v) <= 8:
        raise InputError(f"volume header {what} must be a list of numbers, got {brief(v)}")
    return [finite(x, f"volume header {what}") for x in v]


def _adopt(plan) -> dict | None:
    """The NRRD header fields of a volume read as NIfTI: its affine in LPS space, or ``None`` without one."""
    try:
        affine = header_affine(plan.header, plan.shape3)
    except InputError:
        return None
    if affine is None or not np.all(np.isfinite(affine)):
        return None
    m = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine  # RAS+ -> LPS
    return {"space": "left-posterior-superior", "space directions": m[:3, :3].T.tolist(),
            "space origin": m[:3, 3].tolist(), "kinds": ["domain"] * 3}


BACKEND = Backend("nrrd", (".nrrd",), _load, _save, ".nrrd", _sniff, _adopt)


def volumes(path, labels=None) -> tuple[list, dict]:
    """Every volume of ``path`` (a file or a folder) as :class:`~segmill.formats._volume_slices.Volume`
    objects (``name``, ``array``, ``spacing``, ``header``), and the label table ``{value: (value, name, colour)}``."""
    require_pynrrd()
    return load_volumes(path, BACKEND, labels)


def slices_dataset(vols: list, table: dict, axis: int = 2) -> Dataset:
    """A dataset of the slices of ``vols`` (one annotation per label and slice), as :func:`read` gives it."""
    return volumes_dataset(vols, table, "nrrd", axis)


def detect(path):
    return detect_volumes(path, BACKEND, "NRRD")


def read(path, *, axis: int = 2, labels=None, volume_instances: str = "none", connectivity: int = 26,
         min_area: int = 0, stuff: str = "", errors: str = "raise") -> Dataset:
    """Read an NRRD volume or a folder of them (options as :func:`segmill.formats.nifti.read`)."""
    require_pynrrd()
    return read_volumes(path, BACKEND, errors, axis=axis, labels=labels, volume_instances=volume_instances,
                        connectivity=connectivity, min_area=min_area, stuff=stuff)


def stream(path, **options):
    """:func:`read` one volume at a time, after a first pass for the label values (see
    :func:`segmill.formats.nifti.stream`)."""
    require_pynrrd()
    return stream_volumes(path, BACKEND, **options)


def shards(path, n: int, **options) -> list[dict]:
    """At most ``n`` selections of :func:`stream` (its ``selection=``): runs of the volume files of about equal
    bytes. The first pass over every volume (for the categories) is made here, once: each selection carries
    what its part needs of it, so a part reads its own volumes only."""
    require_pynrrd()
    return shard_volumes(path, BACKEND, n, **options)


def write(dataset: Dataset, path, *, values: str = "label", overlap: str = "zorder",
          raster: str | None = None) -> WriteReport:
    """Write a folder of ``<volume>.nrrd`` and ``labels.txt`` (:mod:`segmill.formats._volume_write`)."""
    require_pynrrd()
    return write_volumes(dataset, path, BACKEND, values=values, overlap=overlap, raster=raster)


register_format(
    FormatSpec(
        name="nrrd",
        example="nrrd/basic",
        description="NRRD label volumes (.nrrd, one item per slice; label table beside them)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        output="dir",
        options=VOLUME_OPTIONS,
    )
)
