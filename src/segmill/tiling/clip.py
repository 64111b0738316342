"""Geometry in and out of chips: shapely for polygons, boxes and lines, windows of run-lengths for masks.

An object's area is the area of its region: the union of its parts with the
holes cut out (shapely), or its pixel count for a mask. Clipping never
decodes more than the rows of the image times the chip's width for a mask.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Box, Polygons, Shape
from ..rle import RLE, encode

__all__ = ["clip_shape", "mask_window", "region", "rle_window", "to_polygons", "translate"]


def region(g):
    """The shapely region of a Polygons or Box (parts unioned, bridged holes made holes again), or None."""
    import shapely

    if isinstance(g, Box):
        return shapely.box(g.x, g.y, g.x + g.w, g.y + g.h)
    if not isinstance(g, Polygons):
        return None
    polys = []
    for part in g.parts:
        p = shapely.Polygon(part)
        if not p.is_valid:
            p = shapely.make_valid(p, method="structure", keep_collapsed=False)
        polys.append(p)
    return shapely.union_all(polys)


def _polygons_of(geom):
    """The non-empty polygons inside any shapely geometry."""
    import shapely

    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, shapely.Polygon):
        return [geom]
    return [p for g in getattr(geom, "geoms", []) for p in _polygons_of(g)]


def _bridged(poly, dx: float, dy: float) -> np.ndarray:
    """One ring of a shapely polygon, shifted by ``(-dx, -dy)``, holes joined by zero-width bridges."""
    from ..formats.geojson import bridge

    ext = np.asarray(poly.exterior.coords)[:-1] - (dx, dy)
    holes = [np.asarray(h.coords)[:-1] - (dx, dy) for h in poly.interiors]
    return bridge(ext, holes) if holes else ext


def to_polygons(geom, dx: float = 0.0, dy: float = 0.0) -> Polygons | None:
    """A segmill Polygons of a shapely region shifted by ``(-dx, -dy)`` (None when it has no area)."""
    parts = [_bridged(p, dx, dy) for p in _polygons_of(geom) if p.area > 0]
    parts = [p for p in parts if len(p) >= 3]
    return Polygons(parts) if parts else None


def rle_window(rle: RLE, x: int, y: int, w: int, h: int) -> np.ndarray:
    """Pixels ``[y, y+h) x [x, x+w)`` of an RLE as a ``(h, w)`` bool array (only those columns decoded)."""
    H = rle.height
    counts = np.asarray(rle.counts, np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    lo, hi = x * H, (x + w) * H
    out = np.zeros(hi - lo, bool)
    ones = np.arange(1, len(counts), 2)
    s, e = starts[ones], ends[ones]
    keep = (e > lo) & (s < hi)
    for a, b in zip(np.maximum(s[keep], lo) - lo, np.minimum(e[keep], hi) - lo):
        out[a:b] = True
    return out.reshape(w, H).T[y : y + h]


def mask_window(g, height: int, width: int, x: int, y: int, w: int, h: int) -> np.ndarray:
    """Pixels of an RLE or Mask patch in the window ``(x, y, w, h)`` of a ``height x width`` image."""
    if isinstance(g, RLE):
        return rle_window(g, x, y, w, h)
    out = np.zeros((h, w), bool)
    ph, pw = g.array.shape
    x0, y0 = max(x, g.left), max(y, g.top)
    x1, y1 = min(x + w, g.left + pw, width), min(y + h, g.top + ph, height)
    if x1 > x0 and y1 > y0:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = g.array[y0 - g.top : y1 - g.top, x0 - g.left : x1 - g.left]
    return out


def mask_extent(g, height: int, width: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` of a mask's pixels, None when empty."""
    if isinstance(g, RLE):
        if g.area == 0:
            return None
        bx, by, bw, bh = g.bbox
        return int(bx), int(by), int(bx + bw), int(by + bh)
    ys, xs = np.nonzero(g.array)
    if not len(xs):
        return None
    return (g.left + int(xs.min()), g.top + int(ys.min()), g.left + int(xs.max()) + 1, g.top + int(ys.max()) + 1)


def clip_shape(g: Shape, box) -> list[Shape]:
    """The pieces of a point or line shape inside ``box`` (scene coordinates)."""
    import shapely

    x0, y0, x1, y1 = box
    pts = np.asarray(g.points, np.float64)
    if g.kind in ("point", "points"):
        inside = pts[(pts[:, 0] >= x0) & (pts[:, 0] < x1) & (pts[:, 1] >= y0) & (pts[:, 1] < y1)]
        return [Shape(g.kind, inside)] if len(inside) else []
    if len(pts) < 2:
        return []
    cut = shapely.LineString(pts).intersection(shapely.box(x0, y0, x1, y1))
    lines = [cut] if isinstance(cut, shapely.LineString) else [
        p for p in getattr(cut, "geoms", []) if isinstance(p, shapely.LineString)]
    return [Shape(g.kind, np.asarray(p.coords)) for p in lines if not p.is_empty and len(p.coords) >= 2]


def translate(g, dx: float, dy: float):
    """A geometry moved by ``(dx, dy)`` (a Shape, Polygons or Box); masks are handled by the callers."""
    if isinstance(g, Shape):
        return Shape(g.kind, np.asarray(g.points) + (dx, dy))
    if isinstance(g, Box):
        return Box(g.x + dx, g.y + dy, g.w, g.h)
    return Polygons([p + (dx, dy) for p in g.parts])


def encode_window(arr: np.ndarray) -> RLE:
    """The RLE of a chip-size mask."""
    return encode(arr)
