"""Pixel agreement as a metric: IoU, Dice, accuracy, Cohen's kappa and boundary F1 per annotator pair.

The numbers are :mod:`segmill.agree.pixel`'s (a confusion matrix of the two
label maps, and boundary pixels matched within ``settings.boundary_tolerance``);
this module feeds it one image at a time and says where its numbers go.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context import ImageContext, RunContext
from ..metric import CategoryColumns, Column, MetricResult, Rows
from ..pixel import PixelCounts, cohen_kappa, disk_offsets
from ._common import mean_defined


@dataclass
class PixelState:
    """Per pair counts, and the boundary tolerance disk (fixed for the run)."""

    counts: dict
    offsets: tuple


class PixelMetric:
    """Per pair: the confusion matrix of the label maps and boundary matches.

    Report: ``pairs[i]["pixel"]``, the headline ``mean_iou`` and
    ``boundary_f1`` (means over the pairs) and, with two annotators, the
    headline ``kappa`` (their pixel Cohen's kappa); per image and pair:
    ``mean_iou``, ``kappa``.
    """

    name = "pixel"
    requires = ()

    def start(self, run: RunContext) -> PixelState:
        return PixelState({p: PixelCounts(run.n_classes) for p in run.pairs},
                          disk_offsets(run.settings.boundary_tolerance))

    def add_image(self, state: PixelState, image: ImageContext) -> None:
        maps, bmaps = image.label_maps, image.boundary_maps
        for a, b in image.pairs:
            pc = PixelCounts(image.run.n_classes)
            pc.add_maps(maps[a], maps[b])
            pc.add_boundaries(bmaps[a], bmaps[b], image.height, image.width, state.offsets)
            state.counts[(a, b)] += pc
            image.pair_record(a, b).update({
                "mean_iou": pc.mean_iou(), "kappa": cohen_kappa(pc.conf) if pc.conf.any() else None,
            })

    def merge(self, state: PixelState, other: PixelState) -> PixelState:
        for p, counts in other.counts.items():
            state.counts[p] += counts
        return state

    def finalize(self, state: PixelState, run: RunContext) -> MetricResult:
        pairs = [state.counts[p].summary(run.categories) for p in run.pairs]
        headline = {"mean_iou": mean_defined([s["mean_iou"] for s in pairs]),
                    "boundary_f1": mean_defined([s["boundary_f1"] for s in pairs])}
        if len(run.names) == 2:
            # Cohen's kappa of the one pair; with more annotators the all-annotator
            # metric gives Fleiss' kappa instead (segmill.agree.metrics.all_raters)
            headline["kappa"] = pairs[0]["kappa"]
        return MetricResult(headline=headline, pairs=pairs)

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        pairs = result.pairs
        cells = [(Column("pixel mIoU", "mIoU"), "mean_iou"), (Column("Dice"), "mean_dice"),
                 (Column("accuracy", "acc"), "accuracy"), (Column("pixel kappa", "kappa"), "kappa"),
                 (Column("boundary F1", "BF1"), "boundary_f1")]
        per_class = ("iou", "dice", "boundary_f1")
        categories = CategoryColumns(
            [Column("IoU"), Column("Dice"), Column("boundary F1")],
            [{name: [row[k] for k in per_class] for name, row in s["per_class"].items()} for s in pairs],
            [None, None, None],
        )
        headline = {"mean_iou": "mean IoU", "boundary_f1": "boundary F1"}
        if "kappa" in result.headline:
            headline["kappa"] = "kappa"
        return Rows(headline=headline, pair_columns=[(col, [s[key] for s in pairs]) for col, key in cells],
                    category_columns=categories)
