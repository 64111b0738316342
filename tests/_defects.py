"""Defects a strict COCO read accepts, for the tests that compare check paths."""

from __future__ import annotations


def spoil_geometry(annotations) -> None:
    """Give every third of ``annotations`` a defect: a bow tie, a zero-area polygon or a wrong stored area."""
    for k, a in enumerate(annotations):
        if isinstance(a["segmentation"], list) and a["segmentation"]:
            x, y = a["segmentation"][0][:2]
            if k % 3 == 0:  # a bow tie: self-intersecting
                a["segmentation"] = [[x, y, x + 9, y + 9, x + 9, y, x, y + 9]]
            elif k % 3 == 1:  # degenerate: no area
                a["segmentation"] = [[x, y, x + 5, y, x + 10, y]]
            else:
                a["area"] = a["area"] * 3 + 7  # stored area disagrees
