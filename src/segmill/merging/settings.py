"""The settings of one merge, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError
from ..validate import brief
from .fields import check_policy

__all__ = ["MergeSettings", "MATCHES", "DEFAULT_DEDUPE_IOU"]

MATCHES = ("file_name", "base_name")
DEFAULT_DEDUPE_IOU = 0.95


@dataclass(frozen=True)
class MergeSettings:
    """How :func:`segmill.merging.merge` merges (see its parameters).

    Raises
    ------
    segmill.errors.UsageError
        An unknown ``on_conflict`` or ``match_by``, a threshold outside (0, 1],
        or ``drop_duplicates`` without a threshold.
    """

    on_conflict: str = "error"
    dedupe_iou: float | None = DEFAULT_DEDUPE_IOU
    drop_duplicates: bool = False
    match_by: str = "file_name"

    def __post_init__(self):
        check_policy(self.on_conflict)
        if self.match_by not in MATCHES:
            raise UsageError(f"match_by must be one of {', '.join(MATCHES)}; got {brief(self.match_by)}")
        t = self.dedupe_iou
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 < t <= 1:
                raise UsageError(f"dedupe_iou must be a number in (0, 1] or None; got {brief(t)}")
            object.__setattr__(self, "dedupe_iou", float(t))
        elif self.drop_duplicates:
            raise UsageError("drop_duplicates needs a dedupe_iou threshold")
        if not isinstance(self.drop_duplicates, bool):
            raise UsageError(f"drop_duplicates must be True or False; got {brief(self.drop_duplicates)}")
