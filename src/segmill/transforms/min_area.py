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
from .base import Step, Stepped, with_annotations
from .report import EditReport

__all__ = ["MinArea", "pixel_areas"]


def pixel_areas(dataset: Dataset | list, rule: str = "coco") -> dict[int, int]:
    """``{id(annotation): pixel area}`` of every annotation (of a dataset, or of a list of items) that has
    one (see the module docs)."""
    geoms, sizes, keys = [], [], []
    for item in dataset.items if isinstance(dataset, Dataset) else dataset:
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


class _MinArea(Step):
    def __init__(self, min_area: float, rule: str):
        px = min_area
        if isinstance(px, bool) or not isinstance(px, (int, float)) or not math.isfinite(px) or px < 0:
            raise UsageError(f"the minimum area must be a finite number >= 0, got {brief(px)}")
        self.px, self.rule = px, rule
        self.report = EditReport()
        self.unknown = 0

    def edit(self, items: list) -> list:
        px = self.px
        areas = pixel_areas(items, self.rule)
        out = []
        for item in items:
            kept = []
            for a in item.annotations:
                area = areas.get(id(a))
                if area is None:
                    self.unknown += 1
                    kept.append(a)
                elif area < px:
                    self.report.add("E004", f"pixel area {area} < {px:g}", item_id=item.id, annotation_id=a.id,
                                    category_id=a.category_id)
                else:
                    kept.append(a)
            out.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
        return out

    def end(self) -> EditReport:
        if self.unknown:
            self.report.notes.append(f"--min-area kept {self.unknown} annotation(s) with no pixel area to count "
                                     "(points, lines, or an image of unknown size)")
        return self.report


@dataclass(frozen=True)
class MinArea(Stepped):
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

    def step(self) -> Step:
        return _MinArea(self.min_area, self.rule)
