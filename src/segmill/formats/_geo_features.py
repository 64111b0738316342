"""GeoJSON geometries <-> segmill geometries in pixel coordinates.

Reading: ``Polygon`` and ``MultiPolygon`` become :class:`~segmill.geometry.Polygons`
(one part per polygon; a polygon's holes are joined to its exterior by a
zero-width bridge, COCO's way to hold a hole in one ring: exact under the
pixel rule), ``Point`` / ``MultiPoint`` / ``LineString`` become
:class:`~segmill.geometry.Shape` (``point``, ``points``, ``polyline``).
Writing goes the other way; a bridged ring is split back into exterior and
holes with shapely.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GeometryError, InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..rle import RLE
from ..validate import brief

__all__ = ["MAX_POINTS", "bridge", "geometry_to_geojson", "parse_geometry"]

#: The most positions one geometry may hold (a guard against hostile files).
MAX_POINTS = 10_000_000


def _positions(value, what, path, record, min_len=1) -> np.ndarray:
    """A list of ``[x, y(, z)]`` positions as an ``(N, 2)`` float array (z dropped), checked."""
    if not isinstance(value, list) or len(value) < min_len:
        raise InputError(f"{what} must be a list of at least {min_len} positions, got {brief(value)}", path, record)
    if len(value) > MAX_POINTS:
        raise InputError(f"{what} has more than {MAX_POINTS} positions", path, record)
    out = np.empty((len(value), 2), np.float64)
    for i, p in enumerate(value):
        if not isinstance(p, list) or not 2 <= len(p) <= 3 or not all(
                type(v) in (int, float) for v in p):
            raise InputError(f"{what}: a position must be 2 or 3 numbers, got {brief(p)}", path, record)
        try:
            out[i] = (float(p[0]), float(p[1]))
        except OverflowError:
            raise InputError(f"{what}: position {brief(p)} is out of range", path, record) from None
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} has a NaN or infinite coordinate", path, record)
    return out


def _ring(value, path, record) -> np.ndarray:
    """A linear ring without its closing position (RFC 7946: 4 or more positions, first = last)."""
    pts = _positions(value, "a polygon ring", path, record, min_len=4)
    if not np.array_equal(pts[0], pts[-1]):
        raise InputError("a polygon ring must end where it starts (RFC 7946)", path, record)
    return pts[:-1]


def bridge(exterior: np.ndarray, holes: list) -> np.ndarray:
    """One ring: ``exterior`` with each hole joined by a zero-width bridge (walked there and back).

    Each hole is entered from its first vertex and the exterior vertex
    nearest to it; a segment walked both ways toggles no pixel under the
    COCO rule, so the ring's pixels are the exterior's minus the holes'.
    """
    ring = exterior
    for hole in holes:
        i = int(np.argmin(((ring - hole[0]) ** 2).sum(axis=1)))
        ring = np.concatenate([ring[: i + 1], hole, hole[:1], ring[i : i + 1], ring[i + 1 :]])
    return ring


def _polygon(rings, path, record, to_px) -> np.ndarray:
    if not isinstance(rings, list) or not rings:
        raise InputError(f"a polygon must be a list of rings, got {brief(rings)}", path, record)
    parts = [to_px(_ring(r, path, record)) for r in rings]
    return bridge(parts[0], parts[1:]) if len(parts) > 1 else parts[0]


def parse_geometry(g, path, record, to_px):
    """The segmill geometry of a GeoJSON geometry object; ``to_px`` maps ``(N, 2)`` coordinates to pixels.

    Raises
    ------
    segmill.errors.InputError
        Not a geometry object, an unsupported type, malformed coordinates.
    """
    if not isinstance(g, dict):
        raise InputError(f"a feature's geometry must be an object, got {brief(g)}", path, record)
    kind, coords = g.get("type"), g.get("coordinates")
    try:
        if kind == "Polygon":
            return Polygons([_polygon(coords, path, record, to_px)])
        if kind == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise InputError(f"MultiPolygon coordinates must be a list of polygons, got {brief(coords)}",
                                 path, record)
            return Polygons([_polygon(p, path, record, to_px) for p in coords])
        if kind == "Point":
            return Shape("point", to_px(_positions([coords], "a Point", path, record)))
        if kind == "MultiPoint":
            return Shape("points", to_px(_positions(coords, "a MultiPoint", path, record)))
        if kind == "LineString":
            return Shape("polyline", to_px(_positions(coords, "a LineString", path, record, min_len=2)))
    except GeometryError as exc:
        raise InputError(str(exc), path, record) from None
    raise InputError(f"geometry type {brief(kind)} is not supported (Polygon, MultiPolygon, Point, MultiPoint, "
                     "LineString)", path, record)


def _closed(ring: np.ndarray) -> list:
    pts = ring.tolist()
    return pts + pts[:1]


def _polygon_rings(part: np.ndarray):
    """``[exterior, hole, ...]`` of one part; a self-touching (bridged) ring split back with shapely."""
    import shapely

    poly = shapely.Polygon(part)
    if poly.is_valid:
        return [[part]]
    fixed = shapely.make_valid(poly, method="structure", keep_collapsed=False)
    out = []
    for p in getattr(fixed, "geoms", [fixed]):
        if isinstance(p, shapely.Polygon) and not p.is_empty:
            out.append([np.asarray(p.exterior.coords)[:-1]] + [np.asarray(h.coords)[:-1] for h in p.interiors])
    x, y = part[:, 0], part[:, 1]
    signed = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    if not out or not math.isclose(fixed.area, signed, rel_tol=1e-9, abs_tol=1e-12) or not _same_vertices(part, out):
        return [[part]]  # not a ring with bridged holes (it crosses itself): kept as it is, pixels unchanged
    return out


def _same_vertices(part: np.ndarray, rings: list) -> bool:
    """Whether the split rings use exactly the ring's vertices (no vertex added, moved or dropped)."""
    mine = {tuple(p) for p in part.tolist()}
    theirs = {tuple(p) for rs in rings for r in rs for p in r.tolist()}
    return mine == theirs


def geometry_to_geojson(g, to_map):
    """A GeoJSON geometry object of a segmill geometry (``to_map`` maps pixel ``(N, 2)`` to the vector CRS).

    Returns None for a kind GeoJSON has no place for (the caller reports it).
    """
    if isinstance(g, Box):
        g = g.to_polygons()
    if isinstance(g, Polygons):
        polys = [rings for part in g.parts for rings in _polygon_rings(part)]
        coords = [[_closed(to_map(r)) for r in rings] for rings in polys]
        if len(coords) == 1:
            return {"type": "Polygon", "coordinates": coords[0]}
        return {"type": "MultiPolygon", "coordinates": coords}
    if isinstance(g, Shape):
        pts = to_map(np.asarray(g.points, np.float64)).tolist()
        if g.kind == "point" and len(pts) == 1:
            return {"type": "Point", "coordinates": pts[0]}
        if g.kind in ("point", "points"):
            return {"type": "MultiPoint", "coordinates": pts}
        if g.kind in ("polyline", "line", "linestrip") and len(pts) >= 2:
            return {"type": "LineString", "coordinates": pts}
    if isinstance(g, (RLE, Mask)):
        return None
    return None
