"""Recompute stored ``area`` and ``bbox`` (G011, G012, G015, G016), and refresh them after a geometry fix.

Values follow docs/internals.md, "COCO area and bbox": a polygon stores the
sum of its parts' shoelace areas and its vertex extent, a box its own area and
extent, an RLE or mask its pixel count and ``toBbox``.
"""

from __future__ import annotations

from ...geometry import Box, Mask, Polygons
from ...rle import RLE
from ..registry import Fix

__all__ = ["STORED", "STORED_MALFORMED", "expected", "refreshed"]


def expected(geometry, size) -> tuple[float, tuple] | None:
    """COCO's ``(area, bbox)`` for ``geometry`` in an image of ``size`` ``(h, w)`` (or None), or None.

    None when the geometry gives no such values: invalid geometry, shapes, an
    RLE of another size than its image, a mask without an image size.
    """
    if isinstance(geometry, Polygons):
        return geometry.area, geometry.bounds
    if isinstance(geometry, Box):
        return geometry.area, geometry.bounds
    if isinstance(geometry, RLE):
        if size is not None and geometry.shape != tuple(size):
            return None
        return int(geometry.area), geometry.bbox
    if isinstance(geometry, Mask) and size is not None:
        r = geometry.to_rle(*size)
        return int(r.area), r.bbox
    return None


def refreshed(annotation, geometry, size) -> dict:
    """The stored values ``annotation`` keeps for its new ``geometry``: ``{"area": ..., "bbox": ...}``.

    Only the values it stored are recomputed (a format that stores none keeps
    none); a geometry that gives no values leaves them as they were.
    """
    exp = expected(geometry, size)
    out: dict = {}
    if exp is None:
        return out
    if annotation.area is not None:
        out["area"] = exp[0]
    if annotation.bbox is not None:
        out["bbox"] = tuple(exp[1])
    return out


_FIELD = {"G011": "bbox", "G015": "bbox", "G012": "area", "G016": "area"}


def _apply(state, findings) -> None:
    for f, spot in state.located(findings):
        ann = state.current(spot)
        exp = expected(ann.geometry, spot.item.size)
        if exp is None:
            state.skip(f, "the geometry gives no value to store")
            continue
        name = _FIELD[f.code]
        new = exp[0] if name == "area" else tuple(exp[1])
        old = getattr(ann, name)
        state.replace(spot, **{name: new})
        shown = [round(v, 3) for v in new] if name == "bbox" else round(new, 3)
        state.record(f, f"stored {name} {_show(old)} replaced by {shown}", {"field": name, "old": _show(old),
                                                                          "new": list(new) if name == "bbox" else new})


def _show(value):
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, (int, float)) else str(v) for v in value]
    return value if isinstance(value, (int, float)) or value is None else str(value)


def _computable(finding) -> bool:
    return finding.data.get("expected") is not None


#: G011, G012: a stale value (the rules report only values the geometry gives).
STORED = Fix(60, "recompute-stored-values",
             "replace the stored bbox or area by the one COCO computes from the geometry", _apply)
#: G015, G016: a malformed value, replaced when the geometry gives one (the rules say so in ``expected``).
STORED_MALFORMED = Fix(60, "recompute-malformed-values",
                       "replace the malformed stored bbox or area by the one COCO computes from the geometry",
                       _apply, _computable, when="when the geometry gives a value")
