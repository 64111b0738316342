"""Clip polygons and boxes to their image (G007).

Each polygon part is clipped to ``[0, width] x [0, height]`` with the
Sutherland-Hodgman algorithm: one ring in, one ring out, so COCO's rings
(bridges to holes included) stay rings. Where the part leaves the image and
comes back, the clipped ring runs along the border and back, a zero-width
stretch that covers no pixel under the pycocotools rule. A part wholly
outside is dropped; a polygon left with no part, or a box of no size, drops
the annotation. The change of pixels is reported as an IoU (pycocotools'
rule); stored area and bbox are recomputed.
"""

from __future__ import annotations

import numpy as np

from ...errors import GeometryError
from ...geometry import Box, Polygons
from ..registry import Fix
from .polygons import parts_as_read, pixel_iou
from .stored import refreshed

__all__ = ["CLIP", "clip_ring"]


def _clip_edge(pts: np.ndarray, axis: int, bound: float, keep_below: bool) -> np.ndarray:
    """Sutherland-Hodgman against one border: keep the side where ``pts[:, axis]`` is <= (or >=) ``bound``."""
    if len(pts) == 0:
        return pts
    out = []
    prev = pts[-1]
    prev_in = prev[axis] <= bound if keep_below else prev[axis] >= bound
    for cur in pts:
        cur_in = cur[axis] <= bound if keep_below else cur[axis] >= bound
        if cur_in != prev_in:
            t = (bound - prev[axis]) / (cur[axis] - prev[axis])
            cross = prev + t * (cur - prev)
            cross[axis] = bound  # exactly on the border, whatever the rounding of t
            out.append(cross)
        if cur_in:
            out.append(cur)
        prev, prev_in = cur, cur_in
    return np.array(out, np.float64).reshape(-1, 2)


def clip_ring(ring: np.ndarray, width: float, height: float) -> np.ndarray:
    """``ring`` (``(N, 2)``) clipped to ``[0, width] x [0, height]``; repeated vertices removed.

    May return fewer than 3 points (nothing of the ring is inside).
    """
    pts = np.asarray(ring, np.float64)
    for axis, bound, below in ((0, 0.0, False), (0, float(width), True), (1, 0.0, False), (1, float(height), True)):
        pts = _clip_edge(pts, axis, bound, below)
    if len(pts) > 1:
        keep = np.any(pts != np.roll(pts, 1, axis=0), axis=1)
        pts = pts[keep] if keep.any() else pts[:1]
    return pts


def _outside(part: np.ndarray, width, height) -> bool:
    return bool((part[:, 0] < 0).any() or (part[:, 1] < 0).any() or (part[:, 0] > width).any()
                or (part[:, 1] > height).any())


def _clip_polygon(poly: Polygons, size):
    """``(new Polygons or None, parts dropped)`` for ``poly`` clipped to an image of ``size``."""
    h, w = size
    as_read = parts_as_read(poly)
    parts, dropped = [], 0
    for k, part in enumerate(poly.parts):
        if not _outside(part, w, h):  # untouched parts keep their values as read
            parts.append(as_read[k])
            continue
        ring = clip_ring(part, w, h)
        if len(ring) < 3:
            dropped += 1
            continue
        parts.append(ring.reshape(-1).tolist())
    return (Polygons(parts, source=parts) if parts else None), dropped


def _clip_box(box: Box, size):
    h, w = size
    x0, y0 = min(max(box.x, 0.0), w), min(max(box.y, 0.0), h)
    x1, y1 = min(max(box.x + box.w, 0.0), w), min(max(box.y + box.h, 0.0), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(x0, y0, x1 - x0, y1 - y0)


def _apply(state, findings) -> None:
    for f, spot in state.located(findings):
        ann, size = state.current(spot), spot.item.size
        g = ann.geometry
        if size is None or not isinstance(g, (Polygons, Box)):
            state.skip(f, "not a polygon or box of an image with a size")
            continue
        try:
            if isinstance(g, Polygons):
                new, dropped = _clip_polygon(g, size)
            else:
                new, dropped = _clip_box(g, size), 0
        except GeometryError as exc:  # pragma: no cover - clipped rings are finite
            state.skip(f, f"the clipped geometry is not valid ({exc})")
            continue
        _settle(state, f, spot, ann, new, dropped)


def _settle(state, f, spot, ann, new, dropped: int) -> None:
    size = spot.item.size
    if new is None:
        state.drop(spot)
        state.record(f, "nothing of it lies inside the image: annotation dropped", {"annotation_dropped": True})
        return
    state.replace(spot, geometry=new, **refreshed(ann, new, size))
    old = ann.geometry
    before = old if isinstance(old, Polygons) else old.to_polygons()
    after = new if isinstance(new, Polygons) else new.to_polygons()
    iou = pixel_iou(before, after, size)
    what = f"clipped {f.data.get('vertices', 'its')} vertices to the {size[1]}x{size[0]} image"
    if dropped:
        what += f" ({dropped} part(s) wholly outside dropped)"
    state.record(f, f"{what}; pixel IoU with the original {iou:.4f}",
                 {"vertices": f.data.get("vertices"), "parts_dropped": dropped, "iou": iou})


def _has_vertices(finding) -> bool:
    return "vertices" in finding.data


#: G007: findings the rule measured (a reader's refusal, such as YOLO's, has no vertices to clip).
CLIP = Fix(50, "clip-to-image", "clip the polygon or box to the image (a part wholly outside is dropped); "
           "the pixel change is reported as an IoU", _apply, _has_vertices,
           when="to polygons and boxes (not to a reader's refusal)")
