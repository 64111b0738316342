"""Dropping small annotations: :class:`MinArea` (``--min-area PX``).

The area is the annotation's pixel count in its image, by the pycocotools
rule (docs/internals.md, "The pixel rule"): the area ``pycocotools.mask.area``
gives for the mask ``frPyObjects`` makes of the polygon, box or RLE. The
area stored in the file is not used. An annotation with no pixel area to
count (a point or a line, a missing or invalid geometry, an image of unknown
size) is kept, and how many there were is noted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError
from ..geometry import AREA_KINDS
from ..model import Dataset
from ..raster import rasterize_packed
from ..validate import brief
from .base import derive, with_annotations
from .report import EditReport

__all__ = ["MinArea", "pixel_areas"]


def pixel_areas(dataset: Dataset, rule: str = "coco") -> dict[int, int]:
    """``{id(annotation): pixel area}`` of every annotation that has one (see the module docs)."""
    geoms, sizes, keys = [], [], []
    for item in dataset.items:
        if item.size is None:
            continue
        for a in item.annotations:
            if isinstance(a.geometry, AREA_KINDS):
                geoms.append(a.geometry)
                sizes.append(item.size)
                keys.append(id(a))
    if not geoms:
        return {}
    batch, errors = rasterize_packed(geoms, sizes, rule)
    areas = batch.areas()
    return {k: int(areas[i]) for i, k in enumerate(keys) if i not in errors}


@dataclass(frozen=True)
class MinArea:
    """Drop every annotation whose pixel area is below ``min_area`` (E004).

    Parameters
    ----------
    min_area : float
        Pixels; annotations with an area ``>= min_area`` stay.
    rule : {"coco", "pil"}, default "coco"
        The polygon rule the area is counted with.
    """

    min_area: float
    rule: str = "coco"

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        px = self.min_area
        if isinstance(px, bool) or not isinstance(px, (int, float)) or not math.isfinite(px) or px < 0:
            raise UsageError(f"the minimum area must be a finite number >= 0, got {brief(px)}")
        areas = pixel_areas(dataset, self.rule)
        report = EditReport()
        unknown = 0
        items = []
        for item in dataset.items:
            kept = []
            for a in item.annotations:
                area = areas.get(id(a))
                if area is None:
                    unknown += 1
                    kept.append(a)
                elif area < px:
                    report.add("E004", f"pixel area {area} < {px:g}", item_id=item.id, annotation_id=a.id,
                               category_id=a.category_id)
                else:
                    kept.append(a)
            items.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
        if unknown:
            report.notes.append(f"--min-area kept {unknown} annotation(s) with no pixel area to count "
                                "(points, lines, or an image of unknown size)")
        return derive(dataset, items=items), report
