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
from ..rle import RLE, decode, from_coco
from . import _trace_kernels as K
from ._rings import padded, ring_tree, trace_padded
from .simplify import simplify_mask

__all__ = ["trace", "trace_rings", "TracedPolygons"]


def _as_mask(rle_or_mask) -> np.ndarray:
    if isinstance(rle_or_mask, RLE):
        return decode(rle_or_mask)
    if isinstance(rle_or_mask, dict):
        return decode(from_coco(rle_or_mask))
    arr = np.asarray(rle_or_mask)
    if arr.ndim != 2:
        raise GeometryError(f"trace expects a 2-D mask or an RLE, got shape {arr.shape}")
    return arr


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
    P = padded(mask)
    xs, ys, off, rmin, hole = trace_padded(P, mask.shape, connectivity)
    rings = [np.stack([xs[a:b], ys[a:b]], axis=1) for a, b in zip(off[:-1], off[1:])]
    return rings, hole


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
    xs, ys, off, rmin, hole, parent, (first, count, ax, ay, ring) = ring_tree(mask, connectivity)
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
        return simplify_mask(mask, tolerance, connectivity)
    raise ValueError(f"mode must be 'exact' or 'simplified', got {mode!r}")

