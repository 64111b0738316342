"""Per-class annotation counts and area distributions of one dataset version.

The area of an annotation is computed from its geometry with COCO's
convention, not read from the stored ``area`` field (which may be stale):
the shoelace area for polygons, the pixel count for RLE and masks, ``w * h``
for boxes. Annotations without an area (points, lines, invalid geometry)
are counted but left out of the area figures. Classes are keyed by category
name, so a renumbered class is the same class; an annotation whose category
id is not declared is keyed ``"<id 7>"``.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..geometry import Box, Mask, Polygons
from ..model import Annotation, Dataset
from ..rle import RLE

#: COCO's size buckets (pixel area thresholds 32^2 and 96^2).
SMALL, MEDIUM = 32.0**2, 96.0**2


def geometry_area(ann: Annotation) -> float | None:
    """The COCO-convention area of ``ann``'s geometry, or ``None`` when it has none.

    Examples
    --------
    >>> from segmill.model import Annotation
    >>> from segmill.geometry import Polygons
    >>> geometry_area(Annotation(1, 1, Polygons([[0, 0, 10, 0, 10, 10, 0, 10]])))
    100.0
    """
    g = ann.geometry
    if isinstance(g, (Polygons, Box)):
        return float(g.area)
    if isinstance(g, RLE):
        return float(g.area)
    if isinstance(g, Mask):
        return float(np.count_nonzero(g.array))
    return None


@dataclass
class ClassStats:
    """Counts and area distribution of one class in one version.

    Attributes
    ----------
    count : int
        Annotations of the class.
    images : int
        Images with at least one annotation of the class.
    mean_area, median_area, p10_area, p90_area : float or None
        Over annotations that have an area.
    small, medium, large : int
        COCO size buckets (< 32^2, < 96^2, the rest).
    """

    count: int = 0
    images: int = 0
    mean_area: float | None = None
    median_area: float | None = None
    p10_area: float | None = None
    p90_area: float | None = None
    small: int = 0
    medium: int = 0
    large: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def class_name_map(ds: Dataset) -> dict:
    """Category id -> name (undeclared ids are named ``"<id X>"`` on lookup)."""
    return {c.id: c.name for c in ds.categories[::-1]}  # first declaration wins


def name_of(names: dict, cid) -> str:
    n = names.get(cid)
    return n if n is not None else f"<id {cid!r}>"


def class_stats(ds: Dataset) -> dict[str, ClassStats]:
    """Per-class :class:`ClassStats` of ``ds``, keyed by class name, sorted by name.

    Declared classes without annotations are listed with zero counts.
    """
    names = class_name_map(ds)
    areas: dict[str, array] = {}  # packed: 8 bytes an annotation
    counts: dict[str, int] = {}
    images: dict[str, int] = {}
    for item in ds.items:
        seen = set()
        for ann in item.annotations:
            key = name_of(names, ann.category_id)
            counts[key] = counts.get(key, 0) + 1
            seen.add(key)
            a = geometry_area(ann)
            if a is not None:
                got = areas.get(key)
                if got is None:
                    got = areas[key] = array("d")
                got.append(a)
        for key in seen:
            images[key] = images.get(key, 0) + 1
    out: dict[str, ClassStats] = {}
    for key in sorted(set(names.values()) | set(counts)):
        st = ClassStats(count=counts.get(key, 0), images=images.get(key, 0))
        arr = np.frombuffer(areas[key], np.float64) if key in areas else np.zeros(0)
        if arr.size:
            st.mean_area = float(arr.mean())
            st.median_area = float(np.median(arr))
            st.p10_area, st.p90_area = (float(v) for v in np.percentile(arr, [10, 90]))
            st.small = int(np.count_nonzero(arr < SMALL))
            st.medium = int(np.count_nonzero((arr >= SMALL) & (arr < MEDIUM)))
            st.large = int(arr.size - st.small - st.medium)
        out[key] = st
    return out


def percent_change(before: float | None, after: float | None) -> float | None:
    """``100 * (after - before) / before``; ``None`` when undefined (no base value or base 0).

    Examples
    --------
    >>> percent_change(200, 150)
    -25.0
    >>> percent_change(0, 5) is None
    True
    """
    if before is None or after is None or before == 0:
        return None
    return 100.0 * (after - before) / before
