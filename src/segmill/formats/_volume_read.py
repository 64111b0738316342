"""Reading label volumes (NIfTI, NRRD) as datasets of slices: the part both formats share.

A format gives a :class:`Backend` (its file suffixes and a ``load(path) ->
Volume`` that checks the header and the voxel limit before reading data);
:func:`read_volumes` finds the files (one file, or a folder of them), reads
the label table, and turns each volume into slice items
(:mod:`segmill.formats._volume_slices`); :func:`stream_volumes` gives the
same items one volume at a time, after a first pass for the label values
(:mod:`segmill.formats._volume_stream`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, LimitError, UsageError
from ..limits import max_pixels
from ..model import Category, Dataset
from ..paths import confine, confined_glob
from ..validate import ErrorPolicy, brief
from . import NO, Detection
from ._volume_components import check_options, components
from ._volume_slices import AXIS_LETTERS, Volume, slice_items
from ._volume_stream import read_run, shards, stream_run
from ._volume_table import MAX_LABEL, find_table, read_table

__all__ = ["Backend", "ReadOptions", "check_voxels", "detect_volumes", "label_array", "read_volumes", "shard_volumes",
           "stream_volumes", "volume_files"]


@dataclass(frozen=True)
class Backend:
    """One volume file format.

    Attributes
    ----------
    fmt : str
        The format name.
    suffixes : tuple of str
        File name endings read (lower case), longest first.
    load : callable
        ``load(path) -> Volume``.
    save : callable
        ``save(path, array, plan)`` (``plan``: :class:`~segmill.formats._volume_slices.VolumePlan`).
    ext : str
        The suffix written.
    sniff : callable
        ``sniff(path) -> bool``: the first bytes look like this format.
    adopt : callable
        ``adopt(plan) -> dict or None``: the header of a volume read from the
        other volume format, converted to this format's fields (``None``: its
        orientation cannot be converted).
    """

    fmt: str
    suffixes: tuple
    load: Callable
    save: Callable
    ext: str
    sniff: Callable
    adopt: Callable = lambda plan: None


@dataclass(frozen=True)
class ReadOptions:
    """The reader's options, checked."""

    axis: int = 2
    labels: object = None
    instances: str = "none"
    connectivity: int = 26
    min_area: int = 0
    stuff: str = ""


def strip_suffix(name: str, backend: Backend) -> str | None:
    """``name`` without the backend's suffix, or ``None`` when it has none of them."""
    low = name.lower()
    for s in backend.suffixes:
        if low.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return None


def volume_files(root: Path, backend: Backend) -> list[Path]:
    """The volume files of a folder (not recursive), sorted."""
    return [f for f in confined_glob(root, "*") if strip_suffix(f.name, backend) is not None]


def detect_volumes(path, backend: Backend, label: str) -> Detection:
    """Detection of one volume file or a folder of them."""
    p = Path(path)
    try:
        if p.is_file():
            if strip_suffix(p.name, backend) is None:
                return NO
            if backend.sniff(p):
                return Detection(0.95, f"{label} file (header magic)")
            return Detection(0.55, f"{label} file name, but its header does not look like {label}")
        if p.is_dir():
            n = sum(1 for f in p.iterdir() if strip_suffix(f.name, backend) is not None and f.is_file())
            if n:
                return Detection(0.8, f"folder of {n} {label} volume(s)")
    except (OSError, InputError):
        return NO
    return NO


def check_voxels(shape, path) -> None:
    """Refuse a volume with more voxels than the pixel limit (:class:`~segmill.errors.LimitError`, exit 2)."""
    n = 1
    for s in shape:
        n *= int(s)
    limit = max_pixels()
    if n > limit:
        raise LimitError(f"volume {'x'.join(str(int(s)) for s in shape)} ({n:,} voxels) is over the pixel limit of "
                         f"{limit:,}; set SEGMILL_MAX_PIXELS to raise it if the data is trusted", path)


def label_array(data: np.ndarray, path) -> np.ndarray:
    """The labels of a volume as an integer array, refused unless integral, non-negative and at most 65535.

    Float volumes (labels saved as float32 by many tools) are accepted when
    every value is a whole number.
    """
    if data.dtype.kind not in "uif" or data.ndim != 3:
        raise InputError(f"a label volume holds integers in 3 axes, got {data.dtype} of shape {data.shape}", path)
    if data.size == 0:
        return data.astype(np.uint16)
    lo, hi = data.min(), data.max()
    floats = data.dtype.kind == "f"
    if floats and (not (np.isfinite(lo) and np.isfinite(hi)) or not np.all(np.floor(data) == data)):
        raise InputError("label volume holds values that are not whole numbers", path)
    if lo < 0 or hi > MAX_LABEL:
        conv = float if floats else int
        raise InputError(f"label values must be 0..{MAX_LABEL}, found {brief(conv(lo))}..{brief(conv(hi))}", path)
    return data.astype(np.uint16 if hi > 255 else np.uint8, copy=False)


def _options(axis=2, labels=None, volume_instances="none", connectivity=26, min_area=0, stuff="") -> ReadOptions:
    instances = volume_instances
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise UsageError(f"axis must be 0, 1 or 2, got {brief(axis)}")
    if instances not in ("none", "components"):
        raise UsageError(f"instances must be none or components, got {brief(instances)}")
    connectivity, min_area = check_options(connectivity, min_area)
    if not isinstance(stuff, str):
        stuff = ",".join(str(s) for s in stuff) if isinstance(stuff, (list, tuple)) else ""
    return ReadOptions(int(axis), labels, instances, connectivity, min_area, stuff)


def read_volumes(path, backend: Backend, errors="raise", **options) -> Dataset:
    """Read one volume file or a folder of them.

    ``options``: the reader options of the format modules (``axis``,
    ``labels``, ``volume_instances``, ``connectivity``, ``min_area``,
    ``stuff``), checked here.
    """
    policy = ErrorPolicy.of(errors)
    new_run, ds, folder = _start(path, backend, options)
    return read_run(new_run(), ds, policy, folder)


def stream_volumes(path, backend: Backend, errors="raise", selection: dict | None = None, **options):
    """The header and the items of :func:`read_volumes`, one volume at a time (:mod:`segmill.streaming`).

    The categories are the label values found in every volume (and those of
    the label table): a first pass reads each volume, one at a time, for its
    label values (:mod:`segmill.formats._volume_stream`), so each volume is
    read and decompressed twice (memory: one volume). With
    ``volume_instances="components"`` and ``min_area`` > 0 the first pass
    also splits each volume into components (the labels left, the notes of
    the components dropped): twice that work as well. Every ``errors`` mode
    streams; the files a lenient read drops are listed in the header.
    ``selection``: one part of :func:`shard_volumes`, a run of the files,
    which carries the first pass (made once, on the driver): a part reads
    its own volumes only, once.
    """
    ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    new_run, ds, folder = _start(path, backend, options)
    return stream_run(new_run, ds, errors, folder, selection)


def shard_volumes(path, backend: Backend, n: int, errors="raise", **options) -> list[dict]:
    """At most ``n`` selections of :func:`stream_volumes`: runs of the volume files of about equal bytes, each
    with what it needs of the first pass over every volume, made here (:func:`~._volume_stream.shards`)."""
    ErrorPolicy.of(errors)
    new_run, _, _ = _start(path, backend, options)
    return shards(new_run, n, errors)


def _start(path, backend: Backend, options: dict):
    """``(new_run, dataset without items, folder)``: the options checked, the files listed, the table read."""
    opts = _options(**options)
    files, folder, table_path = _sources(path, backend, opts.labels)
    table = read_table(table_path) if table_path is not None else {}
    ds = Dataset()
    ds.meta.update({"source_format": backend.fmt, "volume_axis": opts.axis})
    return (lambda: _Run(backend, opts, table, table_path, files)), ds, folder


class _Run:
    """One read of the volume files (a run of :mod:`segmill.formats._volume_stream`): names, label values, notes."""

    def __init__(self, backend: Backend, opts: ReadOptions, table: dict, table_path, files: list[Path]):
        self.backend, self.opts, self.table, self.table_path, self.files = backend, opts, table, table_path, files
        self.names: set = set()
        self.values: set = set()
        self.notes: list = []
        self.nid = 1

    def _load(self, f: Path) -> Volume:
        vol = self.backend.load(f)
        vol.name = strip_suffix(f.name, self.backend)
        if vol.name in self.names:
            raise InputError(f"a second volume named {brief(vol.name)} (one name, two file types)", f)
        return vol

    def first(self, f: Path) -> None:
        """The label values of one volume (its components only where small ones are dropped)."""
        vol = self._load(f)
        split = self.opts.instances == "components" and self.opts.min_area > 0
        self._add(vol, self._components(vol, f) if split else None)

    def volume(self, f: Path) -> list:
        """The slice items of one volume (instances split when asked)."""
        vol = self._load(f)
        comp = self._components(vol, f) if self.opts.instances == "components" else None
        parts = (comp.ids, comp.classes) if comp is not None else ()
        items, self.nid = slice_items(vol, self.opts.axis, self.nid, *parts)
        self._add(vol, comp)
        return items

    def _components(self, vol: Volume, f: Path):
        opts = self.opts
        return components(vol.array, connectivity=opts.connectivity, min_area=opts.min_area,
                          stuff=_stuff_values(opts.stuff, self.table, f))

    def _add(self, vol: Volume, comp) -> None:
        """The facts of one volume: its name, its label values (those of its slices' annotations), its notes."""
        self.names.add(vol.name)
        if comp is None:  # every voxel's label: the values of one annotation per label and slice
            present = np.zeros(MAX_LABEL + 1, bool)  # values checked 0..MAX_LABEL at load
            present[vol.array.ravel(order="K")] = True  # no copy of the voxels, none widened to 8 bytes
            self.values.update((np.flatnonzero(present[1:]) + 1).tolist())
            return
        self.values.update(comp.classes.values())
        for v, k in sorted(comp.dropped.items()):
            self.notes.append(f"{vol.name}: {k} component(s) of label {v} under {self.opts.min_area} voxels dropped")

    def facts(self) -> tuple:
        return self.names, self.values, self.notes

    def resume(self, facts: tuple, first_id: int) -> None:
        self.names, self.values, self.notes = facts
        self.nid = first_id

    def finish(self, ds: Dataset) -> None:
        if self.notes:
            ds.meta["read_notes"] = list(self.notes)
        ds.categories = _categories(self.values, self.table)
        if self.table_path is not None:
            ds.meta["label_table"] = str(self.table_path)


def _sources(path, backend: Backend, labels) -> tuple[list[Path], Path, Path | None]:
    """The volume files of ``path`` (a file or a folder), the folder, and the label table's path."""
    p = Path(path)
    if p.is_file():
        if strip_suffix(p.name, backend) is None:
            raise InputError(f"not a {backend.fmt} volume (expected a name ending {' or '.join(backend.suffixes)})", p)
        files, folder = [p], p.parent
    elif p.is_dir():
        files, folder = volume_files(p, backend), p
        if not files:
            raise InputError(f"no {backend.fmt} volume ({', '.join(backend.suffixes)}) in the folder", p)
    else:
        raise InputError("no such file or directory", p)
    table_path = Path(labels) if labels is not None else find_table(folder)
    if table_path is not None and labels is None:
        table_path = confine(folder, table_path)
    return files, folder, table_path


def load_volumes(path, backend: Backend, labels=None) -> tuple[list[Volume], dict]:
    """Every volume of ``path`` (a file or a folder of them) as arrays, and the label table ``{value: entry}``."""
    files, _, table_path = _sources(path, backend, labels)
    table = read_table(table_path) if table_path is not None else {}
    out = []
    for f in files:
        vol = backend.load(f)
        vol.name = strip_suffix(f.name, backend)
        out.append(vol)
    return out, table


def volumes_dataset(volumes: list[Volume], table: dict, fmt: str, axis: int = 2) -> Dataset:
    """A dataset of the slices of ``volumes`` (semantic: one annotation per label and slice)."""
    ds = Dataset()
    ds.meta.update({"source_format": fmt, "volume_axis": axis})
    nid = 1
    values: set = set()
    for vol in volumes:
        items, nid = slice_items(vol, axis, nid)
        values.update(a.category_id for it in items for a in it.annotations)
        ds.items.extend(items)
    ds.categories = _categories(values, table)
    return ds


def _stuff_values(stuff: str, table: dict, path) -> list[int]:
    """Values of the ``stuff`` option (comma-separated names or values)."""
    by_name = {e.name: v for v, e in table.items()}
    out = []
    for tok in (t.strip() for t in stuff.split(",")):
        if not tok:
            continue
        if tok in by_name:
            out.append(by_name[tok])
        elif tok.startswith("label_") and tok[6:].isdigit():
            out.append(int(tok[6:]))
        elif tok.isdigit():
            out.append(int(tok))
        else:
            raise UsageError(f"stuff: {brief(tok)} is neither a label value nor a name in the label table")
    return out


def _categories(values: set, table: dict) -> list[Category]:
    """One category per label value found or named in the table, ascending: id = value."""
    out = []
    for v in sorted(set(values) | set(table)):
        e = table.get(v)
        out.append(Category(int(v), e.name if e else f"label_{v}", color=e.color if e else None))
    return out


def axis_letter(axis: int) -> str:
    return AXIS_LETTERS[axis]
