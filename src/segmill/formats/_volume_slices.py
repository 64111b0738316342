"""Label volumes as 2-D items: one item per slice, and back.

segmill's canonical model is 2-D (an item is an image), so a 3-D label
volume is read as one :class:`~segmill.model.Item` per slice along an axis
(``axis``: 0, 1 or 2, default the last). Slice ``k`` along axis ``a`` is the
2-D array ``np.take(volume, k, axis=a).T``: its columns run along the first
remaining axis and its rows along the second (for ``axis=2``, an image of
width X and height Y, as a viewer shows an axial slice). The item is named
``<volume>/<axis letter>_<k:04d>.png`` (axis letters ``i j k``), an image that
does not exist: volumes have no images.

Every slice carries ``attributes["volume"]``, a JSON-ready dict with what
writing the volume back needs, so it survives COCO (which keeps image
``attributes``) and any format that keeps image attributes:

``name``
    The volume's name (its file name without the extension).
``axis``, ``index``, ``slices``
    The slicing axis, this slice's index along it, and the number of slices.
``shape``, ``dtype``
    The stored array's shape (as the file has it) and numpy dtype name.
``spacing``
    Voxel size along axes 0, 1, 2 (physical units, usually mm).
``header``
    Format-specific orientation fields (NIfTI: pixdim, quaternion, qform and
    sform codes and rows; NRRD: space, space directions, space origin), as
    found, so the written file has the same affine.
``format``
    ``"nifti"`` or ``"nrrd"``: which format the header belongs to.

Every slice is an item, the empty ones too. One mask annotation (an RLE) per
label value present in a slice (semantic reading); with instances, one per
3-D connected component present in the slice, its component id in
``attributes["instance"]`` (see :mod:`segmill.formats._volume_components`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..model import Annotation, Item
from ..rle import encode
from ..validate import brief, finite, int_in, string

__all__ = ["AXIS_LETTERS", "Volume", "put_slice", "slice_items", "slice_of", "volume_key", "volume_of_items"]

AXIS_LETTERS = "ijk"
#: The attribute key of the volume information on each slice item.
VOLUME_KEY = "volume"


@dataclass
class Volume:
    """A label volume as read from (or written to) a file.

    Attributes
    ----------
    name : str
    array : numpy.ndarray
        3-D array of integer labels (the file's axes 0, 1, 2).
    spacing : tuple of float
        Voxel size along each axis.
    header : dict
        JSON-ready format-specific orientation fields.
    fmt : str
        ``"nifti"`` or ``"nrrd"``.
    shape : tuple of int
        The stored shape (may have trailing axes of size 1 beyond 3).
    dtype : str
        The stored numpy dtype name.
    """

    name: str
    array: np.ndarray
    spacing: tuple
    header: dict = field(default_factory=dict)
    fmt: str = ""
    shape: tuple = ()
    dtype: str = ""

    def info(self, axis: int) -> dict:
        """The volume-level part of ``attributes["volume"]`` for slices along ``axis``."""
        return {"name": self.name, "format": self.fmt, "axis": axis, "slices": int(self.array.shape[axis]),
                "shape": [int(s) for s in (self.shape or self.array.shape)], "dtype": self.dtype or
                self.array.dtype.name, "spacing": [float(s) for s in self.spacing], "header": self.header}


def slice_of(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2-D label map of slice ``index`` along ``axis`` (rows: the second remaining axis), a copy.

    Indexed, not ``np.take``: ``take`` copies a volume that is not
    C-contiguous (NIfTI's are in Fortran order) whole before it picks the
    slice, which made reading a volume quadratic in its slices.
    """
    idx = [slice(None)] * 3
    idx[axis] = index
    return np.array(array[tuple(idx)]).T


def put_slice(array: np.ndarray, axis: int, index: int, plane: np.ndarray) -> None:
    """Store the 2-D ``plane`` (as :func:`slice_of` gives it) as slice ``index`` of ``array``."""
    idx = [slice(None)] * 3
    idx[axis] = index
    array[tuple(idx)] = plane.T


def slice_items(vol: Volume, axis: int, first_id: int, components: np.ndarray | None = None,
                classes: dict | None = None) -> tuple[list[Item], int]:
    """One item per slice of ``vol`` along ``axis``, and the next annotation id.

    Parameters
    ----------
    components : numpy.ndarray, optional
        3-D component ids (same shape): one annotation per component present
        in a slice instead of one per label value.
    classes : dict, optional
        ``{component id: label value}`` with ``components``.
    """
    info = vol.info(axis)
    letter = AXIS_LETTERS[axis]
    items = []
    nid = first_id
    src = components if components is not None else vol.array
    for k in range(vol.array.shape[axis]):
        plane = slice_of(src, axis, k)
        h, w = plane.shape
        anns = []
        for v in np.unique(plane).tolist():
            if v == 0:
                continue
            rle = encode(plane == v)
            if components is None:
                anns.append(Annotation(nid, int(v), rle))
            else:
                anns.append(Annotation(nid, int(classes[v]), rle, attributes={"instance": int(v)}))
            nid += 1
        items.append(Item(f"{vol.name}/{letter}_{k:04d}", f"{vol.name}/{letter}_{k:04d}.png", width=w,
                          height=h, annotations=anns, attributes={VOLUME_KEY: {**info, "index": k}}))
    return items, nid


def volume_key(item: Item):
    """``attributes["volume"]`` of an item when it is a dict, else ``None``."""
    info = item.attributes.get(VOLUME_KEY) if isinstance(item.attributes, dict) else None
    return info if isinstance(info, dict) else None


@dataclass
class VolumePlan:
    """A volume to write: its checked information and its slices ``[(index, item)]``."""

    name: str
    fmt: str
    axis: int
    shape: tuple
    dtype: str
    spacing: tuple
    header: dict
    slices: list = field(default_factory=list)

    @property
    def shape3(self) -> tuple:
        return tuple(self.shape[:3])


def volume_of_items(info: dict, item: Item) -> VolumePlan:
    """A :class:`VolumePlan` from one slice's ``attributes["volume"]``, every value checked.

    Raises
    ------
    segmill.errors.InputError
        A value of the wrong type or out of range (the attributes come from a
        file, through COCO or any format keeping image attributes).
    """
    rec = f"image {brief(item.id)}"
    what = "volume attribute"
    name = string(info.get("name"), f"{what} name", None, rec, max_len=200, allow_empty=False)
    axis = int_in(info.get("axis"), f"{what} axis", None, rec, lo=0, hi=2)
    shape = info.get("shape")
    if not isinstance(shape, list) or not 3 <= len(shape) <= 7:
        raise InputError(f"{what} shape must be a list of 3 to 7 sizes, got {brief(shape)}", None, rec)
    shape = tuple(int_in(s, f"{what} shape", None, rec, lo=1, hi=1 << 31) for s in shape)
    if any(s != 1 for s in shape[3:]):
        raise InputError(f"{what} shape {brief(list(shape))} is not a 3-D volume", None, rec)
    dtype = string(info.get("dtype", ""), f"{what} dtype", None, rec, max_len=16)
    spacing = info.get("spacing")
    if not isinstance(spacing, list) or len(spacing) != 3:
        raise InputError(f"{what} spacing must be 3 numbers, got {brief(spacing)}", None, rec)
    spacing = tuple(finite(s, f"{what} spacing", None, rec) for s in spacing)
    header = info.get("header", {})
    if not isinstance(header, dict):
        raise InputError(f"{what} header must be an object, got {brief(header)}", None, rec)
    fmt = info.get("format", "")
    fmt = fmt if isinstance(fmt, str) else ""
    return VolumePlan(name, fmt, axis, shape, dtype, spacing, header)


def same_volume(a: VolumePlan, b: VolumePlan) -> bool:
    """Whether two slices' information describe the same volume."""
    return (a.axis, a.shape, a.dtype, a.spacing, a.header, a.fmt) == (b.axis, b.shape, b.dtype, b.spacing,
                                                                      b.header, b.fmt)
