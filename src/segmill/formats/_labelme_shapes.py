"""One LabelMe shape record: its type, points and ``mask`` PNG, checked and decoded.

Shared by the LabelMe reader and writer (the writer re-parses stored shapes
to tell whether an annotation's geometry is unchanged). Every value comes
from an untrusted file: each is checked here and a bad one raises
:class:`~segmill.errors.InputError` naming the file and shape, whatever its
type or size.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from ..errors import InputError
from ..images import image_size, open_image
from ..validate import brief
from ._text import is_unicode

AREA_TYPES = ("polygon", "rectangle", "circle", "mask")
#: labelme's void label (``labels.txt`` line 1, class value -1 / 255): a region to ignore, not a class.
VOID_LABEL = "__ignore__"
LINE_TYPES = ("line", "linestrip", "point", "points")
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
#: Points per shape kind that has a fixed number.
_NEED = {"rectangle": 2, "circle": 2, "mask": 2, "line": 2, "point": 1}
#: Coordinate magnitude beyond which a point cannot belong to any image within the pixel limit
#: (labelme draws with Pillow, whose coordinates are C ints; pycocotools' grid is 5x finer).
COORD_MAX = 2.0**28
#: JSON numbers a coordinate may be (booleans read as 0/1, leniently, as pycocotools does).
_NUMBER_TYPES = (int, float, bool)


def _b64_image(data, path, record):
    """Decode base64 image bytes; refuse anything that is not PNG or JPEG."""
    if not isinstance(data, str):
        raise InputError(f"must be a base64 string, got {brief(data)}", path, record)
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise InputError("is not valid base64", path, record) from None
    if not raw.startswith((_PNG, _JPEG)):
        raise InputError("base64 data is not a PNG or JPEG image", path, record)
    return raw


def b64_image_size(data, path, record) -> tuple[int, int]:
    """``(height, width)`` of a base64 image from its header (pixel limit checked, nothing decoded)."""
    return image_size(io.BytesIO(_b64_image(data, path, record)), path, record)


def _png_array(data, path, record) -> np.ndarray:
    im = open_image(io.BytesIO(_b64_image(data, path, record)), path, record)
    try:
        arr = np.asarray(im)
    except (OSError, ValueError, TypeError) as exc:  # a mode numpy cannot view
        raise InputError(f"cannot decode the image: {exc}", path, record) from None
    finally:
        im.close()
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[2] < 4 else arr[..., 3]
    if arr.ndim != 2:
        raise InputError(f"mask image has shape {arr.shape}, not a 2-D patch", path, record)
    return arr != 0


def _points(shape, path, record) -> np.ndarray:
    pts = shape.get("points")
    if not isinstance(pts, list) or not all(type(p) is list and len(p) == 2 for p in pts):
        raise InputError(f"points is not a list of [x, y] pairs: {brief(pts)}", path, record)
    if not all(isinstance(v, _NUMBER_TYPES) for p in pts for v in p):
        raise InputError(f"points holds a value that is not a number: {brief(pts)}", path, record)
    try:
        arr = np.array(pts, dtype=np.float64).reshape(-1, 2)
    except OverflowError:  # an integer beyond float range
        raise InputError("points has a coordinate too large to be a number", path, record) from None
    if not np.all(np.isfinite(arr)):
        raise InputError("points has a NaN or infinite coordinate", path, record)
    if arr.size and float(np.abs(arr).max()) > COORD_MAX:
        raise InputError(f"points has a coordinate beyond +/-{COORD_MAX:.0f}", path, record)
    return arr


def _group_id(shape, path, record):
    gid = shape.get("group_id")
    if gid is not None and (isinstance(gid, bool) or not isinstance(gid, (int, str))):
        raise InputError(f"group_id must be an integer or null, got {brief(gid)}", path, record)
    return gid


def _parse_shape(shape, f, rec):
    if not isinstance(shape, dict):
        raise InputError(f"a shape must be an object, got {brief(shape)}", f, rec)
    label = shape.get("label")
    if not isinstance(label, str):
        raise InputError(f"shape label must be a string, got {brief(label)}", f, rec)
    if not is_unicode(label):  # a category name travels to every output and message
        raise InputError(f"shape label {brief(label)} is not valid Unicode (a lone surrogate)", f, rec)
    kind = shape.get("shape_type") or "polygon"
    if not isinstance(kind, str):
        raise InputError(f"shape_type must be a string, got {brief(kind)}", f, rec)
    gid = _group_id(shape, f, rec)
    pts = _points(shape, f, rec)
    if kind == "polygon" and len(pts) < 3:
        raise InputError(f"polygon has {len(pts)} points; at least 3 are needed", f, rec)
    if kind in _NEED and len(pts) != _NEED[kind]:
        raise InputError(f"{kind} needs exactly {_NEED[kind]} points, got {len(pts)}", f, rec)
    if kind not in AREA_TYPES + LINE_TYPES:
        raise InputError(f"unknown shape_type {brief(kind)}", f, rec)
    if kind == "circle" and not np.hypot(*(pts[1] - pts[0])) > 0:
        raise InputError("circle has radius 0", f, rec)
    mask = None
    if kind == "mask":
        if not isinstance(shape.get("mask"), str):
            raise InputError("mask shape has no base64 'mask' PNG", f, rec)
        mask = _png_array(shape["mask"], f, rec + " mask")
    raw = {k: v for k, v in shape.items() if k not in ("label", "group_id")}
    return {"label": label, "group_id": gid, "kind": kind, "points": pts, "mask": mask, "raw": raw}
