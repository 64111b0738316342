"""One agreement score per image, as a metric: the mean PQ over the annotator pairs.

It ranks the images for the "lowest agreement" lists (``lowest_images`` in
the JSON report, the text report's list, the HTML overlays). A pair with no
instance on either side (PQ undefined) counts as full agreement.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..context import ImageContext, RunContext
from ..metric import MetricResult, Rows

LOWEST_LISTED = 8


def _rank(r: dict) -> tuple:
    return r["score"], r["image"]


def lowest(records, n: int) -> list:
    """The ``n`` records with the lowest ``score`` (ties by image key); unscored ones left out.

    One pass over ``records`` keeping ``n`` of them (they may wait on disk).
    """
    return heapq.nsmallest(n, (r for r in records if r.get("score") is not None), key=_rank)


class ImageScoreMetric:
    """Per image: ``score`` = mean over its pairs of their PQ (from the instance metric).

    Report: ``lowest_images`` (the :data:`LOWEST_LISTED` lowest, lowest first)
    and ``score`` in each per-image record.
    """

    name = "image_scores"
    requires = ("instance",)

    def start(self, run: RunContext) -> list:
        return []

    def add_image(self, state: list, image: ImageContext) -> None:
        pqs = [v["pq"] if v["pq"] is not None else 1.0 for v in image.record["pairs"].values()]
        image.record["score"] = float(np.mean(pqs)) if pqs else None
        state.append({"image": image.key, "score": image.record["score"]})
        if len(state) >= 4 * LOWEST_LISTED:  # only the lowest can be listed: keep those
            state[:] = lowest(state, LOWEST_LISTED)

    def merge(self, state: list, other: list) -> list:
        return lowest(state + other, LOWEST_LISTED)

    def finalize(self, state: list, run: RunContext) -> MetricResult:
        return MetricResult(sections={"lowest_images": [r["image"] for r in lowest(state, LOWEST_LISTED)]})

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        # The lists of lowest images need the per-image records: the reports draw them.
        return Rows()
