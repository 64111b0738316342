"""Mask -> polygon: exact tracing on pixel corners, and simplified polygons.

Exact mode walks every pixel edge between foreground and background, so the
polygons re-rasterize under the COCO rule (:func:`segmill.rle.from_polygons`)
to exactly the input mask. Why this is exact: with integer vertices, the COCO
rasterizer toggles pixel ``(r, c)`` once for every horizontal edge crossing
column ``c`` at a row ``<= r``; every horizontal boundary edge of the mask is
used exactly once, and a zero-width bridge (a segment walked there and back)
toggles nothing.

Each part of the result is one connected component (8-connectivity by
default): its outer boundary, with every hole spliced in through a vertical
zero-width bridge running up through foreground pixels to the first boundary
above it (a hole may hang from another hole). COCO unions parts, so holes must
live inside their component's ring, which this guarantees.
"""

from __future__ import annotations

import numpy as np

from ..errors import GeometryError
from ..geometry import Polygons
from ..rle import RLE, decode
from . import _trace_kernels as K

__all__ = ["trace", "trace_rings", "simplify_polygons", "TracedPolygons"]


def _as_mask(rle_or_mask) -> np.ndarray:
    if isinstance(rle_or_mask, RLE):
        return decode(rle_or_mask)
    if isinstance(rle_or_mask, dict):
        from ..rle import from_coco

        return decode(from_coco(rle_or_mask))
    arr = np.asarray(rle_or_mask)
    if arr.ndim != 2:
        raise GeometryError(f"trace expects a 2-D mask or an RLE, got shape {arr.shape}")
    return arr


def _padded(mask: np.ndarray) -> np.ndarray:
    # one background pixel of margin; rows padded to a multiple of 8 bytes so
    # the kernel can scan them as uint64 words
    h, w = mask.shape
    W = (w + 2 + 7) // 8 * 8
    P = np.zeros((h + 2, W), np.uint8)
    P[1:-1, 1 : w + 1] = mask != 0 if mask.dtype != np.bool_ else mask
    return P


def trace_rings(rle_or_mask, connectivity: int = 8):
    """Every boundary ring of a mask, unjoined.

    Parameters
    ----------
    rle_or_mask : RLE or array_like (h, w)
    connectivity : {4, 8}
        Foreground connectivity: with 8, pixels touching at a corner belong
        to one component (its ring passes through the shared corner twice).

    Returns
    -------
    rings : list of (k, 2) int32 arrays
        Corner vertices ``(x, y)``; the foreground is on the right when
        walking with y pointing down.
    is_hole : numpy.ndarray of bool
    """
    mask = _as_mask(rle_or_mask)
    P = _padded(mask)
    xs, ys, off, rmin, hole = _trace(P, mask.shape, connectivity)
    rings = [np.stack([xs[a:b], ys[a:b]], axis=1) for a, b in zip(off[:-1], off[1:])]
    return rings, hole


def _trace(P, shape, connectivity):
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    h, w = shape
    cap = 4096 + 16 * (h + w)  # retried 4x larger when a mask has more corners
    while True:
        xs = np.empty(cap, np.int32)
        ys = np.empty(cap, np.int32)
        roff = np.empty(cap // 4 + 2, np.int64)
        rmin = np.empty(cap // 4 + 1, np.int64)
        rhole = np.empty(cap // 4 + 1, np.bool_)
        n, nr = K.trace_rings(P, h, w, connectivity == 8, xs, ys, roff, rmin, rhole)
        if n >= 0:
            return xs[:n], ys[:n], roff[: nr + 1], rmin[:nr], rhole[:nr]
        # a ring has at least 4 corners, so corners bound rings; grow and retry
        cap *= 4


def _trace_tree(mask: np.ndarray, connectivity: int):
    """Trace rings and hang every hole from the first ring above it.

    Returns ``(xs, ys, off, rmin, hole, parent, children)``: ``parent[r]`` is
    the ring a hole hangs from (-1 for outer rings); ``children`` is
    ``(first, count, ax, ay, ring)``: for each corner, the holes anchored on
    the ``+x`` run leaving it, sorted by anchor x (see ``_trace_kernels.assemble``).
    """
    P = _padded(mask)
    xs, ys, off, rmin, hole = _trace(P, mask.shape, connectivity)
    nr = len(off) - 1
    nc = len(xs)
    parent = np.full(nr, -1, np.int64)
    first = np.zeros(nc, np.int64)
    count = np.zeros(nc, np.int64)
    holes = np.flatnonzero(hole)
    if not len(holes):
        e = np.zeros(0, np.int64)
        return xs, ys, off, rmin, hole, parent, (first, count, e.astype(np.int32), e.astype(np.int32), e)
    ring_of = np.repeat(np.arange(nr), np.diff(off))
    nxt = np.arange(1, nc + 1)
    nxt[off[1:] - 1] = off[:-1]
    # +x runs: corners whose next corner lies to the right on the same row
    run = np.flatnonzero((ys[nxt] == ys) & (xs[nxt] > xs))
    hx = xs[rmin[holes]].astype(np.int64)
    hy = ys[rmin[holes]].astype(np.int64)
    ay = K.ray_up(P, hx, hy)
    W = mask.shape[1] + 1
    key = ys[run].astype(np.int64) * W + xs[run]
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], ay * W + hx, side="right") - 1
    # the run found starts at or left of the anchor and covers it: the anchor
    # edge is a +x boundary edge (see ray_up) and +x runs of a row never overlap
    corner = run[order[pos]]
    parent[holes] = ring_of[corner]
    srt = np.lexsort((hx, corner))
    corner, hx, ay, hr = corner[srt], hx[srt], ay[srt], holes[srt]
    np.add.at(count, corner, 1)
    starts = np.flatnonzero(np.r_[True, corner[1:] != corner[:-1]])
    first[corner[starts]] = starts
    return xs, ys, off, rmin, hole, parent, (first, count, hx.astype(np.int32), ay.astype(np.int32), hr)


class TracedPolygons(Polygons):
    """:class:`~segmill.geometry.Polygons` made by :func:`trace`.

    Built without re-validating the parts (the tracer only makes rings of at
    least 4 integer corners), and :meth:`to_coco` gives integer coordinate
    lists, computed when asked.
    """

    __slots__ = ()

    @classmethod
    def _trusted(cls, parts) -> "TracedPolygons":
        self = cls.__new__(cls)
        for p in parts:
            p.flags.writeable = False
        self.parts = tuple(parts)
        self.source = None
        self._cache = None
        return self

    def to_coco(self) -> list[list[int]]:
        """COCO's list of flat coordinate lists, as integers."""
        return [p.astype(np.int64).reshape(-1).tolist() for p in self.parts]


def _exact_parts(mask: np.ndarray, connectivity: int) -> list[np.ndarray]:
    xs, ys, off, rmin, hole, parent, (first, count, ax, ay, ring) = _trace_tree(mask, connectivity)
    px, py, poff = K.assemble(xs, ys, off, rmin, hole, first, count, ax, ay, ring)
    pts = np.stack([px, py], axis=1).astype(np.float64)
    return [pts[a:b] for a, b in zip(poff[:-1].tolist(), poff[1:].tolist())]


def trace(rle_or_mask, mode: str = "exact", tolerance: float = 1.0, connectivity: int = 8):
    """Polygons describing a mask.

    Parameters
    ----------
    rle_or_mask : RLE, COCO RLE dict, or array_like (h, w)
        Nonzero = foreground.
    mode : {"exact", "simplified"}
        ``"exact"``: vertices on integer pixel corners, and
        ``from_polygons(result.parts, h, w)`` equals ``encode(mask)`` bit for
        bit (COCO rule). ``"simplified"``: the exact outlines simplified with
        shapely (Douglas-Peucker, topology preserved) within ``tolerance``
        pixels; returns ``(Polygons, iou)`` where ``iou`` compares the
        re-rasterized polygons with the mask.
    tolerance : float, default 1.0
        Simplification tolerance in pixels (``"simplified"`` only).
    connectivity : {4, 8}, default 8
        Foreground connectivity deciding what one part is: with 8, pixels
        touching only at a corner are one part (its ring passes twice through
        the corner).

    Returns
    -------
    Polygons, or (Polygons, float) in ``"simplified"`` mode
        One part per connected component, holes joined to it by zero-width
        bridges (a :class:`TracedPolygons`, whose ``to_coco()`` gives integers).

    Raises
    ------
    segmill.errors.GeometryError
        The mask is empty (no polygon describes it) or not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((4, 5), bool); m[1:3, 1:4] = True
    >>> trace(m).to_coco()
    [[1, 1, 4, 1, 4, 3, 1, 3]]
    """
    mask = _as_mask(rle_or_mask)
    if mode == "exact":
        parts = _exact_parts(mask, connectivity)
        if not parts:
            raise GeometryError("the mask is empty; no polygon can describe it")
        return TracedPolygons._trusted(parts)
    if mode == "simplified":
        from .simplify import simplify_mask

        return simplify_mask(mask, tolerance, connectivity)
    raise ValueError(f"mode must be 'exact' or 'simplified', got {mode!r}")


def simplify_polygons(rle_or_mask, tolerance: float = 1.0, connectivity: int = 8):
    """Shortcut for ``trace(mask, mode="simplified", tolerance=...)``."""
    return trace(rle_or_mask, mode="simplified", tolerance=tolerance, connectivity=connectivity)
