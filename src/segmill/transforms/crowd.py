"""Dropping crowd annotations: :class:`DropCrowd` (``--drop-crowd``)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Step, Stepped, with_annotations
from .report import EditReport

__all__ = ["DropCrowd"]


class _DropCrowd(Step):
    def __init__(self):
        self.report = EditReport()

    def edit(self, items: list) -> list:
        out = []
        for item in items:
            kept = [a for a in item.annotations if not a.iscrowd]
            for a in item.annotations:
                if a.iscrowd:
                    self.report.add("E005", "crowd annotation dropped", item_id=item.id, annotation_id=a.id,
                                    category_id=a.category_id)
            out.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
        return out

    def end(self) -> EditReport:
        return self.report


@dataclass(frozen=True)
class DropCrowd(Stepped):
    """Drop every annotation with ``iscrowd`` set (E005, one per annotation)."""

    def step(self) -> Step:
        return _DropCrowd()
