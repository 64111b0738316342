"""Dropping crowd annotations: :class:`DropCrowd` (``--drop-crowd``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Dataset
from .base import derive, with_annotations
from .report import EditReport

__all__ = ["DropCrowd"]


@dataclass(frozen=True)
class DropCrowd:
    """Drop every annotation with ``iscrowd`` set (E005, one per annotation)."""

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        report = EditReport()
        items = []
        for item in dataset.items:
            kept = [a for a in item.annotations if not a.iscrowd]
            for a in item.annotations:
                if a.iscrowd:
                    report.add("E005", "crowd annotation dropped", item_id=item.id, annotation_id=a.id,
                               category_id=a.category_id)
            items.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
        return derive(dataset, items=items), report
