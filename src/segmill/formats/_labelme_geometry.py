"""How labelme turns shapes into pixels, and the geometry segmill gives a LabelMe instance.

labelme draws with Pillow (``labelme.utils.shape_to_mask``): polygons and
rectangles with ``outline=1, fill=1``, circles as ellipses through the rim
point; ``labelme2coco.py`` turns a circle into an N-point polygon with
N = max(int(pi / arccos(1 - 1/r)), 12). A ``mask`` shape is a PNG patch whose
top-left pixel sits at the first point (both coordinates truncated to int).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GeometryError
from ..geometry import Box, Mask, Polygons
from ..rle import RLE, decode, encode, from_polygons, merge

__all__ = ["instance_geometry", "pil_union", "crop"]


def _rect_part(pts) -> list[float]:
    (x1, y1), (x2, y2) = pts.tolist()
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def _circle_part(pts) -> list[float]:
    # labelme2coco's polygon for a circle: N points, arc-to-chord gap under 1 px.
    (cx, cy), (px, py) = pts.tolist()
    r = math.hypot(px - cx, py - cy)
    step = math.acos(1 - 1 / r) if r > 1 else 0.0
    # the reader bounds coordinates (COORD_MAX), so step > 0 and n stays in the tens of thousands
    n = max(int(math.pi / step), 12) if step > 0 else 12
    t = 2 * np.pi / n * np.arange(n)
    return np.stack((cx + r * np.sin(t), cy + r * np.cos(t)), axis=1).reshape(-1).tolist()


def _pil_shape(kind, pts, mask_arr, h, w) -> np.ndarray:
    """Pixels of one area shape drawn exactly as labelme's ``shape_to_mask``."""
    # lazy: start-up time (PIL is only needed by the pil rule)
    from PIL import Image, ImageDraw

    if kind == "mask":
        out = np.zeros((h, w), bool)
        left, top = int(pts[0][0]), int(pts[0][1])
        ph, pw = mask_arr.shape
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + ph, h), min(left + pw, w)
        if y1 > y0 and x1 > x0:
            out[y0:y1, x0:x1] = mask_arr[y0 - top : y1 - top, x0 - left : x1 - left]
        return out
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    xy = [tuple(p) for p in pts.tolist()]
    if kind == "circle":
        (cx, cy), (px, py) = xy
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif kind == "rectangle":
        (x1, y1), (x2, y2) = xy
        draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=1, fill=1)
    else:
        draw.polygon(xy, outline=1, fill=1)
    return np.asarray(img, dtype=bool)


def _coco_shape(kind, pts, mask_arr, h, w) -> RLE:
    if kind == "mask":
        return Mask(mask_arr, int(pts[0][0]), int(pts[0][1])).to_rle(h, w)
    part = {"rectangle": _rect_part, "circle": _circle_part}.get(kind)
    return from_polygons([part(pts) if part else pts], h, w, "coco")


def crop(full: np.ndarray) -> Mask:
    ys, xs = np.nonzero(full)
    if len(ys) == 0:
        return Mask(np.zeros((0, 0), bool))
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Mask(full[y0:y1, x0:x1], int(x0), int(y0))


def instance_geometry(shapes, h, w, rule):
    """The geometry of one instance from its area shapes (``(kind, points, mask)`` triples)."""
    kinds = [k for k, _, _ in shapes]
    if all(k == "polygon" for k in kinds):
        return Polygons([p for _, p, _ in shapes])
    if len(shapes) == 1 and kinds[0] == "mask":
        _, p, m = shapes[0]
        return Mask(m, int(p[0][0]), int(p[0][1]))
    if len(shapes) == 1 and kinds[0] == "rectangle" and rule == "coco":
        x1, y1, x2, _, _, y2, _, _ = _rect_part(shapes[0][1])
        return Box(x1, y1, x2 - x1, y2 - y1)
    if h is None or w is None:
        raise GeometryError("the image size is unknown, so circles and masks cannot be combined")
    if rule == "pil":
        full = np.zeros((h, w), bool)
        for k, p, m in shapes:
            full |= _pil_shape(k, p, m, h, w)
    else:
        full = decode(merge([_coco_shape(k, p, m, h, w) for k, p, m in shapes]))
    return crop(full)


def pil_union(shapes, h, w) -> RLE:
    """labelme's own instance mask: the OR of each shape drawn with Pillow."""
    if all(k == "polygon" for k, _, _ in shapes):
        return from_polygons([p for _, p, _ in shapes], h, w, "pil")
    full = np.zeros((h, w), bool)
    for k, p, m in shapes:
        full |= _pil_shape(k, p, m, h, w)
    return encode(full)
