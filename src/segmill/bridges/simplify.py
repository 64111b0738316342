"""Simplified polygons: exact outlines simplified with shapely, IoU loss measured.

The exact rings (:mod:`segmill.bridges.trace`) become shapely polygons with
holes, are simplified with ``shapely.simplify(..., preserve_topology=True)``
(Douglas-Peucker that keeps rings valid), and go back to COCO's one-ring form
with each hole joined to its exterior by a straight zero-width bridge (a
segment walked there and back toggles no pixel under the COCO rule, since the
rasterizer traces an edge identically in both directions).
"""

from __future__ import annotations

import numpy as np

from ..errors import GeometryError
from ..geometry import Polygons
from ..rle import encode, from_polygons, iou
from ._rings import ring_tree

__all__ = ["simplify_mask", "bridge_polygon"]


def _rings_by_component(mask: np.ndarray, connectivity: int):
    xs, ys, off, rmin, hole, parent, _ = ring_tree(mask, connectivity)
    root = np.arange(len(hole))
    for _ in range(len(hole)):
        nxt = np.where(parent[root] >= 0, parent[root], root)
        if np.array_equal(nxt, root):
            break
        root = nxt
    comps: dict[int, list] = {}
    for r in range(len(hole)):
        ring = np.stack([xs[off[r] : off[r + 1]], ys[off[r] : off[r + 1]]], axis=1).astype(np.float64)
        comps.setdefault(int(root[r]), []).append((bool(hole[r]), ring))
    return comps


def bridge_polygon(exterior: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """One ring holding ``exterior`` and ``holes``, joined by zero-width bridges.

    Each hole is entered from its vertex nearest to an exterior vertex and
    left the same way, so the ring is exact under the COCO rule.
    """
    ring = [tuple(p) for p in exterior.tolist()]
    for hole in holes:
        ext = np.asarray(ring)
        d = ((ext[:, None, :] - hole[None, :, :]) ** 2).sum(axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        hol = [tuple(p) for p in np.roll(hole, -j, axis=0).tolist()]
        ring = ring[: i + 1] + hol + [hol[0], ring[i]] + ring[i + 1 :]
    return np.asarray(ring, np.float64)


def simplify_mask(mask: np.ndarray, tolerance: float, connectivity: int = 8):
    """Simplified polygons of a mask and their IoU with it.

    Returns
    -------
    (Polygons, float)
        The parts (one per component, holes bridged) and the IoU of their
        COCO rasterization with ``mask``.
    """
    # lazy: start-up time (shapely is only needed by simplified tracing)
    import shapely

    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative number of pixels, got {tolerance!r}")
    h, w = mask.shape
    comps = _rings_by_component(mask, connectivity)
    if not comps:
        raise GeometryError("the mask is empty; no polygon can describe it")
    parts = []
    for rings in comps.values():
        shell = [r for is_hole, r in rings if not is_hole][0]
        holes = [r for is_hole, r in rings if is_hole]
        poly = shapely.Polygon(shell, holes)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        simple = shapely.simplify(poly, tolerance, preserve_topology=True)
        for g in shapely.get_parts(simple):
            if g.geom_type == "MultiPolygon":
                polys = list(g.geoms)
            elif g.geom_type == "Polygon":
                polys = [g]
            else:
                polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
            for p in polys:
                if p.is_empty or len(p.exterior.coords) < 4:
                    continue
                ext = np.asarray(p.exterior.coords)[:-1]
                hs = [np.asarray(i.coords)[:-1] for i in p.interiors if len(i.coords) >= 4]
                parts.append(bridge_polygon(ext, hs))
    if not parts:
        raise GeometryError(f"simplification with tolerance {tolerance} left no polygon")
    result = Polygons(parts)
    score = float(iou([from_polygons(list(result.parts), h, w)], [encode(mask)])[0, 0])
    return result, score
