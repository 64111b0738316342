"""Drop malformed polygon parts (G001, G002, G003) and annotations with nothing to show (G004, G005).

A lenient reader keeps a polygon with a bad part as
:class:`~segmill.geometry.InvalidGeometry` holding the parts as read (COCO's
list of flat coordinate lists). The fix drops the parts the findings name;
when the parts left are all well-formed the annotation gets them back as
:class:`~segmill.geometry.Polygons` (stored area and bbox recomputed), and
when none is left the annotation is dropped.
"""

from __future__ import annotations

import math

from ...errors import GeometryError
from ...geometry import InvalidGeometry, Polygons
from ..registry import Fix
from .stored import refreshed

__all__ = ["DROP_BAD_PARTS", "DROP_EMPTY", "raw_parts"]

_WHY = {"G001": "fewer than 3 points", "G002": "an odd number of coordinates", "G003": "a NaN or infinite coordinate"}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def raw_parts(raw) -> list | None:
    """The parts of a COCO-style polygon value as read (a flat list is one part), or None for anything else."""
    if not isinstance(raw, (list, tuple)) or not raw:
        return None
    if all(_number(v) for v in raw):
        return [list(raw)]
    return [p for p in raw]


def _well_formed(part) -> bool:
    return (isinstance(part, (list, tuple)) and len(part) >= 6 and len(part) % 2 == 0
            and all(_number(v) and math.isfinite(v) for v in part))


def _drop_parts(state, findings) -> None:
    for spot, fs in state.by_annotation(findings):
        ann = state.current(spot)
        parts = raw_parts(ann.geometry.raw) if isinstance(ann.geometry, InvalidGeometry) else None
        if parts is None:
            for f in fs:
                state.skip(f, "the geometry is not a list of polygon parts")
            continue
        bad = {int(f.data["part"]) for f in fs}
        kept = [p for i, p in enumerate(parts) if i not in bad]
        _settle_parts(state, spot, ann, kept, fs)


def _settle_parts(state, spot, ann, kept: list, fs: list) -> None:
    """Give the annotation at ``spot`` its ``kept`` parts (or drop it) and record each finding."""
    if not kept:
        state.drop(spot)
        note = "; no part was left, so the annotation was dropped"
    elif all(_well_formed(p) for p in kept):
        try:
            geom = Polygons(kept, source=[list(p) for p in kept])
        except GeometryError as exc:  # pragma: no cover - _well_formed is what Polygons checks
            for f in fs:
                state.skip(f, f"the parts left are not a polygon ({exc})")
            return
        state.replace(spot, geometry=geom, **refreshed(ann, geom, spot.item.size))
        note = f"; {len(kept)} part(s) left"
    else:
        state.replace(spot, geometry=InvalidGeometry(kept, "a polygon part is still malformed"))
        note = f"; {len(kept)} part(s) left, not all well-formed"
    for f in fs:
        part = int(f.data["part"])
        state.record(f, f"dropped polygon part {part} ({_WHY[f.code]}){note}",
                     {"part": part, "parts_left": len(kept), "annotation_dropped": not kept})


def _has_part(finding) -> bool:
    return "part" in finding.data


def _drop_annotations(state, findings) -> None:
    for f, spot in state.located(findings):  # not an annotation another finding has dropped already
        state.drop(spot)
        what = "it has no geometry" if f.code == "G004" else "its geometry covers no pixel"
        state.record(f, f"dropped the annotation: {what}", {"annotation_dropped": True})


#: G001, G002, G003: only parts the reader kept as read (COCO-style lists) can be dropped.
DROP_BAD_PARTS = Fix(10, "drop-malformed-parts",
                     "drop the malformed polygon part; an annotation left with no part is dropped",
                     _drop_parts, _has_part, when="to polygon parts kept as read (COCO-style lists)")
#: G004, G005.
DROP_EMPTY = Fix(20, "drop-empty-annotations", "drop the annotation (it has no geometry, or covers no pixel)",
                 _drop_annotations)
