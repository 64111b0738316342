"""Label Studio region values <-> segmill geometry (coordinates in percent of the image).

A region value's coordinates are percentages of the original image's width
and height: a pixel coordinate is ``percent * size / 100`` (in that order of
operations). Reading:

* ``polygon``: ``points`` ``[[x, y], ...]`` -> :class:`~segmill.geometry.Polygons`
  (one ring); ``closed: false`` (an unfinished outline) -> a ``linestrip``
  :class:`~segmill.geometry.Shape`;
* ``rectangle``: ``x, y, width, height`` and ``rotation`` (degrees, clockwise
  on screen, about the top-left corner ``(x, y)``, in pixels) -> a
  :class:`~segmill.geometry.Box` when the rotation is 0, else the polygon of
  its four corners;
* ``ellipse``: centre ``x, y``, ``radiusX``, ``radiusY``, ``rotation`` -> a
  polygon of :data:`ELLIPSE_VERTICES` vertices;
* ``keypoint``: ``x, y`` -> a ``point`` shape;
* ``brush``: ``format: "rle"`` -> :class:`~segmill.rle.RLE` (see
  :mod:`segmill.formats._label_studio_rle`).

Writing picks, for each pixel coordinate, a percentage that the reader maps
back to exactly that coordinate when one exists a few ulps away (else the
nearest), so a round trip keeps the vertices.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GeometryError, InputError
from ..geometry import Box, Polygons, Shape
from ..limits import check_pixels
from ..rle import RLE, encode
from ..validate import brief, finite
from ._label_studio_rle import as_bytes, decode_mask, encode_mask

__all__ = ["KINDS", "ELLIPSE_VERTICES", "kind_of", "read_geometry", "percent", "polygon_value", "box_value",
           "brush_value", "point_value"]

#: Region kinds, by the result ``type`` that names them (``<kind>`` or ``<kind>labels``).
KINDS = ("polygon", "rectangle", "brush", "keypoint", "ellipse")
#: Vertices of the polygon an ellipse is read as.
ELLIPSE_VERTICES = 64


def kind_of(rtype: str, value: dict) -> str | None:
    """The region kind of a result: from its ``type``, or (``labels`` and JSON-MIN) from its value's keys."""
    base = rtype[:-6] if rtype.endswith("labels") else rtype
    if base in KINDS:
        return base
    if base not in ("", "labels"):
        return None
    if "points" in value:
        return "polygon"
    if "rle" in value or "format" in value:
        return "brush"
    if "radiusX" in value or "radiusY" in value:
        return "ellipse"
    if "width" in value and "height" in value and "x" in value and "y" in value:
        return "rectangle"
    if "x" in value and "y" in value:
        return "keypoint"
    return None


def _num(value: dict, key: str, path, record, *, lo=None, default=None) -> float:
    v = value.get(key, default)
    return finite(v, f"value.{key}", path, record, lo=lo)


def _points(raw, path, record, minimum: int) -> np.ndarray:
    if not isinstance(raw, list):
        raise InputError(f"value.points must be a list of [x, y] pairs, got {brief(raw)}", path, record)
    pts = np.empty((len(raw), 2), dtype=np.float64)
    for k, p in enumerate(raw):
        if not isinstance(p, list) or len(p) != 2:
            raise InputError(f"value.points[{k}] must be an [x, y] pair, got {brief(p)}", path, record)
        pts[k, 0] = finite(p[0], f"value.points[{k}][0]", path, record)
        pts[k, 1] = finite(p[1], f"value.points[{k}][1]", path, record)
    if len(pts) < minimum:
        raise InputError(f"a polygon needs at least {minimum} points, got {len(pts)}", path, record)
    return pts


def _pixels(pts: np.ndarray, h: int, w: int) -> np.ndarray:
    """Percent -> pixels, ``p * size / 100`` column by column."""
    out = np.empty_like(pts)
    out[:, 0] = pts[:, 0] * w / 100.0
    out[:, 1] = pts[:, 1] * h / 100.0
    if not np.all(np.isfinite(out)):
        raise GeometryError("a coordinate is too large once scaled to pixels")
    return out


def _rotated(x, y, w, h, degrees) -> np.ndarray:
    """The corners of a ``w x h`` rectangle turned ``degrees`` clockwise (y down) about ``(x, y)``."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    return np.array([[x, y], [x + w * c, y + w * s], [x + w * c - h * s, y + w * s + h * c], [x - h * s, y + h * c]])


def read_geometry(kind: str, value: dict, size: tuple[int, int], path=None, record: str | None = None):
    """The geometry of one region value in an image of ``size`` ``(height, width)``.

    Raises
    ------
    segmill.errors.InputError
        A value of the wrong type, a non-finite number, a negative size, too
        few points, a brush that is not ``rle`` or does not decode to the
        image's size.
    """
    h, w = size
    try:
        if kind == "polygon":
            closed = value.get("closed", True)
            pts = _points(value.get("points"), path, record, 3 if closed is not False else 2)
            px = _pixels(pts, h, w)
            return Polygons([px]) if closed is not False else Shape("linestrip", px)
        if kind == "keypoint":
            return Shape("point", _pixels(np.array([[_num(value, "x", path, record), _num(value, "y", path, record)]]),
                                          h, w))
        if kind == "rectangle":
            return _rectangle(value, h, w, path, record)
        if kind == "ellipse":
            return _ellipse(value, h, w, path, record)
        if kind == "brush":
            return _brush(value, h, w, path, record)
    except GeometryError as exc:
        raise InputError(str(exc), path, record) from None
    raise InputError(f"region kind {brief(kind)} is not supported", path, record)  # pragma: no cover


def _rectangle(value, h, w, path, record):
    x, y = _num(value, "x", path, record) * w / 100.0, _num(value, "y", path, record) * h / 100.0
    bw = _num(value, "width", path, record, lo=0.0) * w / 100.0
    bh = _num(value, "height", path, record, lo=0.0) * h / 100.0
    rot = _num(value, "rotation", path, record, default=0)
    if rot % 360.0 == 0.0:
        return Box(x, y, bw, bh)
    return Polygons([_rotated(x, y, bw, bh, rot)])


def _ellipse(value, h, w, path, record):
    cx, cy = _num(value, "x", path, record) * w / 100.0, _num(value, "y", path, record) * h / 100.0
    rx = _num(value, "radiusX", path, record, lo=0.0) * w / 100.0
    ry = _num(value, "radiusY", path, record, lo=0.0) * h / 100.0
    t = math.radians(_num(value, "rotation", path, record, default=0))
    a = np.linspace(0.0, 2.0 * np.pi, ELLIPSE_VERTICES, endpoint=False)
    ex, ey = rx * np.cos(a), ry * np.sin(a)
    pts = np.stack([cx + ex * math.cos(t) - ey * math.sin(t), cy + ex * math.sin(t) + ey * math.cos(t)], axis=1)
    return Polygons([pts])


def _brush(value, h, w, path, record):
    fmt = value.get("format", "rle")
    if fmt != "rle":
        raise InputError(f"brush format {brief(fmt)} is not supported (only 'rle')", path, record)
    check_pixels(h, w, path, record)
    data = as_bytes(value.get("rle"), path, record)
    return encode(decode_mask(data, h, w, path, record))


# ------------------------------------------------------------------ writing
def percent(coords, scale: int) -> list[float]:
    """Percentages of ``scale`` that :func:`read_geometry` turns back into ``coords`` (pixels).

    ``c * 100 / scale`` when it multiplies back exactly, else the nearest
    float (within :data:`_ULPS` ulps) that does; when none does (``q * scale
    / 100`` skips some floats), the nearest that reads back onto the same
    pycocotools 1/5-pixel grid point, so the pixels stay the same.
    """
    c = np.asarray(coords, dtype=np.float64).reshape(-1)
    if scale == 0:
        return [0.0] * c.shape[0]
    p = c * 100.0 / scale
    out = p.tolist()
    for k in np.flatnonzero(p * scale / 100.0 != c):
        out[k] = _nudge(out[k], float(c[k]), scale)
    return out


#: How many ulps :func:`percent` looks on either side of the quotient.
_ULPS = 48


def _snap(v: float) -> int:
    return int(5.0 * v + 0.5)  # pycocotools' vertex snap (a C cast: toward zero)


def _nudge(p: float, target: float, scale: int) -> float:
    grid, near = _snap(target), None
    up = down = p
    for _ in range(_ULPS):
        for q in (up, down):
            back = q * scale / 100.0
            if back == target:
                return q
            if near is None and _snap(back) == grid:
                near = q
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
    return near if near is not None else p


def polygon_value(part: np.ndarray, h: int, w: int) -> dict:
    """The ``points`` of one ring in percent."""
    xs, ys = percent(part[:, 0], w), percent(part[:, 1], h)
    return {"points": [[x, y] for x, y in zip(xs, ys)]}


def box_value(g: Box, h: int, w: int) -> dict:
    """A rectangle value (rotation 0) of a box."""
    (x, bw), (y, bh) = percent([g.x, g.w], w), percent([g.y, g.h], h)
    return {"x": x, "y": y, "width": bw, "height": bh, "rotation": 0}


def point_value(x: float, y: float, h: int, w: int) -> dict:
    """A keypoint value."""
    return {"x": percent([x], w)[0], "y": percent([y], h)[0]}


def brush_value(g, h: int, w: int) -> dict:
    """A brush value of an RLE or mask (the image size must be within the pixel limit)."""
    rle = g if isinstance(g, RLE) else g.to_rle(h, w)
    return {"format": "rle", "rle": encode_mask(rle.decode())}
