"""What the polygon fixes share: a polygon's parts as read, and the IoU of two polygons' pixels."""

from __future__ import annotations

from ... import rle
from ...geometry import Polygons

__all__ = ["parts_as_read", "pixel_iou"]


def parts_as_read(poly: Polygons) -> list:
    """Each part as a flat coordinate list: the values as read when the polygon holds them (COCO keeps
    integers as integers), else from its arrays."""
    src = poly.to_coco()
    if isinstance(src, list) and len(src) == len(poly.parts) and all(
            isinstance(s, list) and len(s) == 2 * len(p) for s, p in zip(src, poly.parts)):
        return src
    return [p.reshape(-1).tolist() for p in poly.parts]


def pixel_iou(before: Polygons, after: Polygons, size) -> float | None:
    """IoU of the two polygons' pixels at ``size`` ``(h, w)`` by the pycocotools rule, or None without a size.

    Two empty masks count as equal (1.0).
    """
    if size is None:
        return None
    h, w = size
    a = rle.from_polygons(list(before.parts), h, w)
    b = rle.from_polygons(list(after.parts), h, w)
    if a.area == 0 and b.area == 0:
        return 1.0
    return float(rle.iou([a], [b])[0, 0])
