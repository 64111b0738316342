"""One LabelMe shape record: its type, points and ``mask`` PNG, checked and decoded.

Shared by the LabelMe reader and writer (the writer re-parses stored shapes
to tell whether an annotation's geometry is unchanged).
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from ..errors import InputError

AREA_TYPES = ("polygon", "rectangle", "circle", "mask")
LINE_TYPES = ("line", "linestrip", "point", "points")
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"


def _b64_image(data, path, record):
    """Decode base64 image bytes; refuse anything that is not PNG or JPEG."""
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError, TypeError):
        raise InputError("is not valid base64", path, record) from None
    if not (raw.startswith(_PNG) or raw.startswith(_JPEG)):
        raise InputError("base64 data is not a PNG or JPEG image", path, record)
    return raw


def _png_array(data, path, record) -> np.ndarray:
    from PIL import Image

    raw = _b64_image(data, path, record)
    try:
        with Image.open(io.BytesIO(raw)) as im:
            arr = np.asarray(im)
    except Exception as exc:  # Pillow raises many kinds on broken data
        raise InputError(f"cannot decode the image: {exc}", path, record) from None
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[2] < 4 else arr[..., 3]
    return arr != 0


def _points(shape, path, record) -> np.ndarray:
    pts = shape.get("points")
    try:
        arr = np.asarray(pts, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("points is not a list of [x, y] pairs", path, record) from None
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError("points is not a list of [x, y] pairs", path, record)
    if not np.all(np.isfinite(arr)):
        raise InputError("points has a NaN or infinite coordinate", path, record)
    return arr


def _parse_shape(shape, f, rec):
    if not isinstance(shape, dict):
        raise InputError("a shape must be an object", f, rec)
    label = shape.get("label")
    if not isinstance(label, str):
        raise InputError("shape label must be a string", f, rec)
    kind = shape.get("shape_type") or "polygon"
    gid = shape.get("group_id")
    if gid is not None and (isinstance(gid, bool) or not isinstance(gid, (int, str))):
        raise InputError(f"group_id must be an integer or null, got {gid!r}", f, rec)
    pts = _points(shape, f, rec)
    need = {"rectangle": 2, "circle": 2, "mask": 2, "line": 2, "point": 1}
    if kind == "polygon" and len(pts) < 3:
        raise InputError(f"polygon has {len(pts)} points; at least 3 are needed", f, rec)
    if kind in need and len(pts) != need[kind]:
        raise InputError(f"{kind} needs exactly {need[kind]} points, got {len(pts)}", f, rec)
    if kind not in AREA_TYPES + LINE_TYPES:
        raise InputError(f"unknown shape_type {kind!r}", f, rec)
    if kind == "circle" and pts[0].tolist() == pts[1].tolist():
        raise InputError("circle has radius 0", f, rec)
    mask = None
    if kind == "mask":
        if not isinstance(shape.get("mask"), str):
            raise InputError("mask shape has no base64 'mask' PNG", f, rec)
        mask = _png_array(shape["mask"], f, rec + " mask")
    raw = {k: v for k, v in shape.items() if k not in ("label", "group_id")}
    return {"label": label, "group_id": gid, "kind": kind, "points": pts, "mask": mask, "raw": raw}
