"""Drop exact copies of an annotation (C002).

Two annotations are exact copies when everything but their ids is equal:
class, crowd flag, geometry (by value), score, attributes and extra fields.
Of each such pair (C002 reports the later one against the earlier), the later
one is dropped; copies that differ in anything (a vertex, an attribute) are
left for a person to merge.
"""

from __future__ import annotations

from ...model import Annotation
from ..registry import Fix

__all__ = ["DEDUPLICATE", "exact_copy"]


def exact_copy(a: Annotation, b: Annotation) -> bool:
    """Whether ``a`` and ``b`` differ in nothing but their ids."""
    return (a.category_id == b.category_id and bool(a.iscrowd) == bool(b.iscrowd) and a.score == b.score
            and a.attributes == b.attributes and a.extra == b.extra and bool(a.geometry == b.geometry))


def _apply(state, findings) -> None:
    for f in findings:
        other = f.data.get("other_annotation_id")
        # None when either is gone already (the second and third of three copies: the pair 2-3).
        first = state.locate(f, annotation_id=other)
        spot = state.locate(f) if first is not None else None
        if spot is None:
            continue
        if not exact_copy(state.current(first), state.current(spot)):
            state.skip(f, "the two annotations differ in more than their ids")
            continue
        state.drop(spot)
        state.record(f, f"dropped: an exact copy of annotation {other} (same class, geometry and attributes)",
                     {"other_annotation_id": other, "annotation_dropped": True})


def _exact(finding) -> bool:
    return finding.data.get("exact") is True


#: C002: the rule says in ``exact`` whether the pair are exact copies.
DEDUPLICATE = Fix(70, "drop-exact-copies", "drop the later of two annotations that differ only in their ids",
                  _apply, _exact, when="to exact copies")
