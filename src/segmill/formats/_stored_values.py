"""The ``area`` and ``bbox`` a re-read recomputes, for writers that report stored values they cannot keep.

The COCO convention (docs/internals.md, "COCO area and bbox"): a polygon
stores its shoelace area and its float vertex extent, a box ``w * h`` and
itself, a mask its pixel count and ``toBbox``.
"""

from __future__ import annotations

from ..errors import GeometryError
from ..geometry import Box, Mask, Polygons
from ..rle import RLE


def coco_area_bbox(geometry, item) -> tuple | None:
    """``(area, bbox)`` of ``geometry`` as a COCO file stores them; None when it has none (another kind, or a
    mask of an image whose size is unknown).

    Raises
    ------
    segmill.errors.GeometryError, ValueError
        What the geometry raises when it is measured.
    """
    if isinstance(geometry, Polygons):
        return geometry.area, tuple(geometry.bounds)
    if isinstance(geometry, Box):
        return geometry.w * geometry.h, (geometry.x, geometry.y, geometry.w, geometry.h)
    if isinstance(geometry, (RLE, Mask)) and item.size is not None:
        return rle_area_bbox(geometry if isinstance(geometry, RLE) else geometry.to_rle(item.height, item.width))
    return None


def rle_area_bbox(rle: RLE) -> tuple:
    """``(pixel count, toBbox)`` of a mask, as floats."""
    return float(rle.area), tuple(float(v) for v in rle.bbox)


def stored_differs(ann, measure) -> bool:
    """Whether ``ann``'s stored ``area`` / ``bbox`` (those it has) differ from the ``(area, bbox)`` that
    ``measure()`` gives; True as well when there is nothing to compare with (None, or measuring fails)."""
    try:
        values = measure()
    except (GeometryError, ValueError):
        return True
    if values is None:
        return True
    area, bbox = values
    return not ((ann.area is None or ann.area == area) and (ann.bbox is None or tuple(ann.bbox) == bbox))
