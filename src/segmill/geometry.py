"""Geometry kinds an annotation can carry, with lazy, cached conversion.

A geometry stays in the representation it was read in (a polygon read from
COCO is written back as the same polygon) and becomes an :class:`~segmill.rle.RLE`
only when something needs pixels; the result is cached per image size and
rasterization rule.

Kinds
-----
:class:`Polygons`
    One or more rings in pixel-corner coordinates; the region is their union
    (COCO's rule: a hole must be cut inside one ring).
:class:`segmill.rle.RLE`
    Run-length encoded mask (COCO semantics).
:class:`Mask`
    A dense boolean mask, optionally a patch placed at ``(left, top)``.
:class:`Box`
    An axis-aligned box ``[x, y, w, h]``.
:class:`Shape`
    Points and lines (LabelMe/CVAT ``point``, ``line``, ``polyline``...):
    carried through, never rasterized.
:class:`InvalidGeometry`
    What a lenient reader keeps when a record is malformed, so that
    ``segmill check`` can report it; it never rasterizes.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from .errors import GeometryError
from .raster import rasterize
from .rle import RLE, encode
from .rle.kernels import as_parts

__all__ = ["Polygons", "Mask", "Box", "Shape", "InvalidGeometry", "Geometry", "RLE", "to_rle"]


class _Cached:
    # RLEs made of this geometry, per (height, width, rule): read and written
    # by segmill.raster only (segmill.raster.forget empties it). The raster
    # service tells the kinds apart by ``raster_kind`` ("polygons", "box" or
    # "mask"), so that it needs no import of this module.
    __slots__ = ("_cache",)
    raster_kind: str = ""

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        """Pixels in a ``height x width`` image (cached; see :func:`segmill.raster.rasterize`)."""
        return _one(self, height, width, rule)


def _one(geometry, height, width, rule) -> RLE:
    """:func:`segmill.raster.rasterize` of one geometry; its error raised."""
    r = rasterize([geometry], (height, width), rule)[0]
    if not isinstance(r, RLE):
        raise r
    return r


class Polygons(_Cached):
    """A polygon annotation: one or more rings, unioned.

    Parameters
    ----------
    parts : sequence
        Each part a flat ``[x1, y1, x2, y2, ...]`` list or an ``(N, 2)``
        array with at least 3 finite points.
    source : object, optional
        The value as read (e.g. COCO's list of lists), returned unchanged by
        :meth:`to_coco` so a round trip keeps integers as integers.

    Raises
    ------
    segmill.errors.PolygonError
        Fewer than 3 points, odd coordinate counts, NaN/inf, no parts.
    """

    __slots__ = ("parts", "source")
    raster_kind = "polygons"

    def __init__(self, parts, source: Any = None):
        arrs = as_parts(parts)
        for a in arrs:
            a.flags.writeable = False
        self.parts: tuple[np.ndarray, ...] = tuple(arrs)
        self.source = source
        self._cache = None

    @property
    def area(self) -> float:
        """Sum of the parts' shoelace areas (COCO's stored ``area`` for polygons)."""
        total = 0.0
        for p in self.parts:
            x, y = p[:, 0], p[:, 1]
            total += 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        return total

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` extent of the vertices (COCO's stored ``bbox`` for polygons)."""
        allp = np.concatenate(self.parts)
        x0, y0 = allp.min(axis=0)
        x1, y1 = allp.max(axis=0)
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        """Rasterize (cached) with ``rule`` ``"coco"`` or ``"pil"``."""
        return _one(self, height, width, rule)

    def _flat_parts(self):
        """Each part's coordinates in ``x1, y1, x2, ...`` order: flat lists, ``array('d')``, or arrays.

        What :mod:`segmill.raster` packs for the kernel (an array counts by
        its size, and is read row by row); a subclass that holds its
        coordinates otherwise (COCO's lists) hands them out as they are,
        without building arrays.
        """
        return self.parts

    def to_coco(self) -> list[list[float]]:
        """COCO's list of flat coordinate lists (``source`` when known)."""
        if self.source is not None:
            return self.source
        return [p.reshape(-1).tolist() for p in self.parts]

    def __eq__(self, other):
        if not isinstance(other, Polygons):
            return NotImplemented
        return len(self.parts) == len(other.parts) and all(
            np.array_equal(a, b) for a, b in zip(self.parts, other.parts)
        )

    __hash__ = None  # mutable cache; compare by value only

    def __repr__(self):
        return f"Polygons(parts={len(self.parts)}, points={[len(p) for p in self.parts]})"


class Mask(_Cached):
    """A dense boolean mask, or a patch of one at ``(left, top)``.

    Parameters
    ----------
    array : array_like, shape (h, w)
        Nonzero = foreground.
    left, top : int, default 0
        Where the patch's top-left pixel sits in the image.
    """

    __slots__ = ("array", "left", "top")
    raster_kind = "mask"

    def __init__(self, array, left: int = 0, top: int = 0):
        arr = np.asarray(array)
        if arr.ndim != 2:
            raise GeometryError(f"a mask must be 2-D, got shape {arr.shape}")
        arr = arr != 0 if arr.dtype != np.bool_ else arr
        arr.flags.writeable = False
        self.array = arr
        self.left = int(left)
        self.top = int(top)
        self._cache = None

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        """Place the patch in a ``height x width`` image and encode (cached).

        Parts of the patch outside the image are cut off.
        """
        return _one(self, height, width, rule)

    def _encode(self, height: int, width: int) -> RLE:
        """The patch placed in a ``height x width`` image, encoded (no cache: :mod:`segmill.raster` keeps it)."""
        ph, pw = self.array.shape
        if (self.left, self.top, ph, pw) == (0, 0, height, width):
            return encode(self.array)
        full = np.zeros((height, width), bool)
        y0, x0 = max(self.top, 0), max(self.left, 0)
        y1, x1 = min(self.top + ph, height), min(self.left + pw, width)
        if y1 > y0 and x1 > x0:
            full[y0:y1, x0:x1] = self.array[y0 - self.top : y1 - self.top, x0 - self.left : x1 - self.left]
        return encode(full)

    def __eq__(self, other):
        if not isinstance(other, Mask):
            return NotImplemented
        return (self.left, self.top) == (other.left, other.top) and np.array_equal(self.array, other.array)

    __hash__ = None

    def __repr__(self):
        return f"Mask(shape={self.array.shape}, left={self.left}, top={self.top})"


class Box(_Cached):
    """An axis-aligned box ``(x, y, w, h)`` in pixel-corner coordinates."""

    __slots__ = ("x", "y", "w", "h")
    raster_kind = "box"

    def __init__(self, x: float, y: float, w: float, h: float):
        vals = [float(v) for v in (x, y, w, h)]
        if not all(np.isfinite(vals)):
            raise GeometryError(f"box has a NaN or infinite value: {vals}")
        if vals[2] < 0 or vals[3] < 0:
            raise GeometryError(f"box has a negative size: {vals}")
        self.x, self.y, self.w, self.h = vals
        self._cache = None

    @property
    def area(self) -> float:
        return self.w * self.h

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    def to_polygons(self) -> Polygons:
        x0, y0, x1, y1 = self.x, self.y, self.x + self.w, self.y + self.h
        return Polygons([[x0, y0, x0, y1, x1, y1, x1, y0]])

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        """Rasterize as pycocotools' ``frBbox`` (cached)."""
        return _one(self, height, width, rule)

    def __eq__(self, other):
        if not isinstance(other, Box):
            return NotImplemented
        return (self.x, self.y, self.w, self.h) == (other.x, other.y, other.w, other.h)

    __hash__ = None

    def __repr__(self):
        return f"Box({self.x}, {self.y}, {self.w}, {self.h})"


class Shape:
    """A non-area shape (point, line, polyline, circle, ...), carried verbatim.

    Parameters
    ----------
    kind : str
        The source tool's shape type (``"point"``, ``"line"``, ``"linestrip"``, ...).
    points : array_like, shape (N, 2)
    """

    __slots__ = ("kind", "points")

    def __init__(self, kind: str, points):
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if not np.all(np.isfinite(pts)):
            raise GeometryError(f"{kind} has a NaN or infinite coordinate")
        pts.flags.writeable = False
        self.kind = str(kind)
        self.points = pts

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        raise GeometryError(f"a {self.kind!r} shape has no area and cannot be rasterized")

    def __eq__(self, other):
        if not isinstance(other, Shape):
            return NotImplemented
        return self.kind == other.kind and np.array_equal(self.points, other.points)

    __hash__ = None

    def __repr__(self):
        return f"Shape({self.kind!r}, points={len(self.points)})"


class InvalidGeometry:
    """A malformed geometry kept by a lenient reader (for ``segmill check``).

    Parameters
    ----------
    raw : object
        The value as found in the file.
    reason : str
        Why it is invalid (the message of the error that rejected it).
    code : str, optional
        The check rule code that describes the defect, when known.
    """

    __slots__ = ("raw", "reason", "code")

    def __init__(self, raw: Any, reason: str, code: str | None = None):
        self.raw = raw
        self.reason = reason
        self.code = code

    def to_rle(self, height: int, width: int, rule: str = "coco") -> RLE:
        raise GeometryError(f"invalid geometry cannot be rasterized: {self.reason}")

    def __eq__(self, other):
        if not isinstance(other, InvalidGeometry):
            return NotImplemented
        return self.raw == other.raw and self.reason == other.reason

    __hash__ = None

    def __repr__(self):
        return f"InvalidGeometry({self.reason!r})"


Geometry = Union[Polygons, RLE, Mask, Box, Shape, InvalidGeometry]
AREA_KINDS = (Polygons, RLE, Mask, Box)


def to_rle(geometry: Geometry, height: int, width: int, rule: str = "coco") -> RLE:
    """Pixels of any area geometry as an RLE of ``height x width`` (see :func:`segmill.raster.rasterize`).

    Raises
    ------
    segmill.errors.GeometryError
        For :class:`Shape` and :class:`InvalidGeometry`, or an RLE whose size
        is not ``height x width``.
    """
    return _one(geometry, height, width, rule)
