"""Surface distances as an agreement metric: Dice, HD95, HD, ASSD and surface Dice per category and pair.

Runs only when ``settings.surface_tolerance`` is set (``segmill agree
--surface-tolerance``); otherwise it adds nothing to any report.

Per image, pair and category present in either annotator's label map, the
two category masks are compared by :func:`segmill.agree.surface.surface_metrics`
(definitions there), in pixels (spacing 1). Void pixels count as outside
every category. Per category the images are then aggregated:

* ``dice``, ``surface_dice``: mean over the images where either annotator
  has the category (an image only one has counts 0);
* ``hd95``, ``assd``: mean over the images where both have it (distances to
  nothing are undefined);
* ``hd``: the largest over those images;
* ``images``: images where either has it; ``one_sided``: where only one does.

A pair's overall numbers are the means over its categories of the
per-category numbers (``hd``: the largest); the headline ``hd95`` and
``surface_dice`` are means over the pairs. Sums are exactly rounded
(:func:`math.fsum`), so splitting the images and merging gives the same
numbers. Note that this Dice is a mean over images; the pixel metric's Dice
pools the pixels of all images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..context import ImageContext, RunContext
from ..metric import Column, MetricResult, Rows, Table
from ..surface import surface_metrics

#: Per image and category: dice, surface_dice, then (both sides present) hd95, assd, hd.
_FIELDS = ("dice", "surface_dice", "hd95", "assd", "hd")


@dataclass
class SurfaceState:
    """Per pair, per category index: the list of per-image score tuples (:data:`_FIELDS` order)."""

    tolerance: float
    scores: dict


class SurfaceMetric:
    """Per pair: surface distances and overlap of each category, image by image.

    Report (when ``settings.surface_tolerance`` is set): ``pairs[i]["surface"]``
    and the headline ``hd95`` and ``surface_dice``; per image and pair:
    ``surface_dice`` and ``hd95`` (means over the categories present).
    """

    name = "surface"
    requires = ()

    def start(self, run: RunContext) -> SurfaceState | None:
        tol = run.settings.surface_tolerance
        if tol is None:
            return None
        return SurfaceState(tol, {p: {} for p in run.pairs})

    def add_image(self, state: SurfaceState | None, image: ImageContext) -> None:
        if state is None:
            return
        h, w = image.height, image.width
        maps = [None if lm is None else np.maximum(lm, 0).reshape(w, h).T for lm in image.label_maps]
        for a, b in image.pairs:
            rows = surface_metrics(maps[a], maps[b], tolerance=state.tolerance)
            per_class = state.scores[(a, b)]
            for r in rows:
                per_class.setdefault(r["label"] - 1, []).append(tuple(r[k] for k in _FIELDS))
            image.pair_record(a, b).update({
                "surface_dice": _mean([r["surface_dice"] for r in rows]),
                "hd95": _mean([r["hd95"] for r in rows]),
            })

    def merge(self, state: SurfaceState | None, other: SurfaceState | None) -> SurfaceState | None:
        if state is None:
            return other
        for p, per_class in other.scores.items():
            mine = state.scores[p]
            for k, values in per_class.items():
                mine.setdefault(k, []).extend(values)
        return state

    def finalize(self, state: SurfaceState | None, run: RunContext) -> MetricResult:
        if state is None:
            return MetricResult()
        pairs = [_pair_summary(state.scores[p], run.categories, state.tolerance) for p in run.pairs]
        headline = {"hd95": _mean([s["hd95"] for s in pairs]),
                    "surface_dice": _mean([s["surface_dice"] for s in pairs])}
        return MetricResult(headline=headline, pairs=pairs)

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        if result.pairs is None:
            return Rows()
        pairs = result.pairs
        tol = pairs[0]["tolerance"] if pairs else run.settings.surface_tolerance
        cells = [(Column(f"surface Dice ({tol:g} px)", "sDice"), "surface_dice"), (Column("HD95 (px)", "HD95"), "hd95"),
                 (Column("HD (px)", compact=False), "hd"), (Column("ASSD (px)", compact=False), "assd")]
        keys = ("images", "one_sided", "dice", "surface_dice", "hd95", "hd", "assd")
        body = [[f"{run.names[a]} vs {run.names[b]}", name] + [row[k] for k in keys]
                for (a, b), s in zip(run.pairs, pairs) for name, row in s["per_class"].items()]
        table = Table(title="Surface distances per category (pixels)",
                      caption=("surface distances per category, in pixels (means over the images with the "
                               "category; distances where both annotators have it, HD the largest):"),
                      header=["pair", "category", "images", "one-sided", "Dice", "sDice", "HD95", "HD", "ASSD"],
                      rows=body)
        line = f"surface distances in pixels; surface Dice within {tol:g} px"
        return Rows(headline={"hd95": "HD95", "surface_dice": "surface Dice"}, lines=[line],
                    pair_columns=[(col, [s[key] for s in pairs]) for col, key in cells], tables=[table])


def _pair_summary(per_class: dict, categories, tolerance: float) -> dict:
    """One pair's numbers: per category (images aggregated), and the means over its categories."""
    rows = {categories[k]: _class_summary(per_class[k]) for k in sorted(per_class)}
    hds = [r["hd"] for r in rows.values() if r["hd"] is not None]
    return {
        "tolerance": tolerance,
        "units": "pixels",
        "dice": _mean([r["dice"] for r in rows.values()]),
        "surface_dice": _mean([r["surface_dice"] for r in rows.values()]),
        "hd95": _mean([r["hd95"] for r in rows.values()]),
        "hd": max(hds) if hds else None,
        "assd": _mean([r["assd"] for r in rows.values()]),
        "per_class": rows,
    }


def _class_summary(values: list) -> dict:
    """One category of one pair: per-image tuples (:data:`_FIELDS`) aggregated over images."""
    both = [v for v in values if v[2] is not None]
    return {
        "images": len(values),
        "one_sided": len(values) - len(both),
        "dice": _mean([v[0] for v in values]),
        "surface_dice": _mean([v[1] for v in values]),
        "hd95": _mean([v[2] for v in both]),
        "hd": max(v[4] for v in both) if both else None,
        "assd": _mean([v[3] for v in both]),
    }


def _mean(values) -> float | None:
    """Exactly rounded mean of the values that are not ``None`` (``None`` when none is)."""
    values = [v for v in values if v is not None]
    return math.fsum(values) / len(values) if values else None
