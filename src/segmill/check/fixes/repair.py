"""Repair self-crossing polygon rings with shapely's ``make_valid`` (G006).

The ring a finding names is replaced by the faces it encloses
(``make_valid(method="structure")``, the repair whose area the rule
compares with): one part per face. COCO cannot hold a hole as a part of its
own (a multi-part polygon is the union of its parts), so a face with holes
becomes one ring that walks to each hole along a zero-width bridge and back:
under the even-odd rule at pixel centres the bridge's two passes cancel and
the hole stays empty. The change of pixels is reported as the IoU of the old
and the new polygon, both rasterized by the pycocotools rule
(:func:`segmill.rle.from_polygons`).
"""

from __future__ import annotations

import numpy as np

from ...errors import GeometryError
from ...geometry import Polygons
from ..registry import Fix
from .polygons import parts_as_read, pixel_iou
from .stored import refreshed

__all__ = ["REPAIR", "valid_faces", "bridged"]


def valid_faces(ring: np.ndarray) -> list:
    """The faces ``ring`` encloses: shapely polygons of positive area, exteriors counter-clockwise."""
    import shapely  # lazy: start-up time (shapely is only needed when a ring is repaired)

    fixed = shapely.make_valid(shapely.Polygon(ring), method="structure")
    faces = [g for g in shapely.get_parts(fixed) if g.geom_type == "Polygon" and g.area > 0]
    return [shapely.orient_polygons(g) for g in faces]


def bridged(face) -> np.ndarray:
    """One ring for a polygon with holes: each hole joined to the ring by a zero-width bridge.

    The exterior runs counter-clockwise and each hole clockwise, so the ring's
    shoelace area is the face's area. Each hole is joined at its vertex
    nearest to a vertex of the ring built so far.
    """
    ring = np.asarray(face.exterior.coords)[:-1]
    for interior in face.interiors:
        hole = np.asarray(interior.coords)[:-1]
        d = ((ring[:, None, :] - hole[None, :, :]) ** 2).sum(axis=2)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        walk = np.concatenate([hole[j:], hole[:j + 1]])  # round the hole, back to where it was entered
        ring = np.concatenate([ring[:i + 1], walk, ring[i:]])
    return ring


def _repair(state, findings) -> None:
    for spot, fs in state.by_annotation(findings):
        ann = state.current(spot)
        if not isinstance(ann.geometry, Polygons):
            for f in fs:
                state.skip(f, "the geometry is no longer a polygon")
            continue
        _repair_one(state, spot, ann, fs)


def _repair_one(state, spot, ann, fs) -> None:
    poly = ann.geometry
    as_read = parts_as_read(poly)
    flagged = {int(f.data["part"]) for f in fs}
    new_parts: list = []
    faces_of: dict = {}
    for k in range(len(poly.parts)):
        if k not in flagged:
            new_parts.append(as_read[k])
            continue
        faces = valid_faces(poly.parts[k])
        faces_of[k] = len(faces)
        new_parts.extend(bridged(face).reshape(-1).tolist() for face in faces)
    if not new_parts:
        for f in fs:
            state.skip(f, "the repair encloses nothing")
        return
    try:
        geom = Polygons(new_parts, source=new_parts)
    except GeometryError as exc:  # pragma: no cover - shapely's faces are finite rings of 3+ points
        for f in fs:
            state.skip(f, f"the repaired rings are not a polygon ({exc})")
        return
    iou = pixel_iou(poly, geom, spot.item.size)
    state.replace(spot, geometry=geom, **refreshed(ann, geom, spot.item.size))
    shown = "no image size to compare pixels" if iou is None else f"pixel IoU with the original {iou:.4f}"
    for f in fs:
        part = int(f.data["part"])
        state.record(f, f"repaired polygon part {part} with make_valid: {faces_of[part]} part(s); {shown}",
                     {"part": part, "parts": faces_of[part], "iou": iou})


#: G006.
REPAIR = Fix(40, "make-valid", "replace the self-crossing ring by the faces it encloses (shapely make_valid), "
             "holes bridged; the pixel change is reported as an IoU", _repair)
