"""Instance agreement as a metric: TP/FP/FN, PQ/SQ/RQ and label agreement per annotator pair.

The numbers are :mod:`segmill.agree.panoptic`'s; this module feeds it one
image at a time and says where its numbers go in the reports.
"""

from __future__ import annotations

from ..context import ImageContext, RunContext
from ..metric import CategoryColumns, Column, MetricResult, Rows
from ..panoptic import InstanceCounts, compare_instances
from ._common import mean_defined


class InstanceMetric:
    """Per pair: instances matched one to one within a category at IoU > ``settings.iou``.

    Report: ``pairs[i]["instance"]`` and the headline ``pq``, ``sq``, ``rq``
    (means over the pairs); per image and pair: ``pq``, ``tp``, ``fp``, ``fn``.
    """

    name = "instance"
    requires = ()

    def start(self, run: RunContext) -> dict:
        return {p: InstanceCounts(run.n_classes) for p in run.pairs}

    def add_image(self, state: dict, image: ImageContext) -> None:
        run = image.run
        for a, b in image.pairs:
            ic = compare_instances(image.annotators[a], image.annotators[b], run.n_classes, run.settings.iou)
            state[(a, b)] += ic
            image.pair_record(a, b).update({
                "pq": ic.panoptic()["pq"], "tp": int(ic.tp.sum()), "fp": int(ic.fp.sum()), "fn": int(ic.fn.sum()),
            })

    def merge(self, state: dict, other: dict) -> dict:
        for p, counts in other.items():
            state[p] += counts
        return state

    def finalize(self, state: dict, run: RunContext) -> MetricResult:
        pairs = [state[p].summary(run.categories) for p in run.pairs]
        headline = {k: mean_defined([s[k] for s in pairs]) for k in ("pq", "sq", "rq")}
        return MetricResult(headline=headline, pairs=pairs)

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        pairs = result.pairs
        cells = [(Column("TP"), "tp"), (Column("FP"), "fp"), (Column("FN"), "fn"),
                 (Column("precision", compact=False), "precision"), (Column("recall", compact=False), "recall"),
                 (Column("F1"), "f1"), (Column("PQ"), "pq"), (Column("SQ"), "sq"), (Column("RQ"), "rq")]
        columns = [(col, [s[key] for s in pairs]) for col, key in cells]
        columns.append((Column("label kappa", "label k"), [s["label_agreement"]["kappa"] for s in pairs]))
        per_class = ("tp", "fp", "fn", "pq", "sq", "rq")
        categories = CategoryColumns(
            [Column(k.upper()) for k in per_class],
            [{name: [row[k] for k in per_class] for name, row in s["per_class"].items()} for s in pairs],
            [0, 0, 0, None, None, None],
        )
        return Rows(headline={"pq": "PQ", "sq": "SQ", "rq": "RQ"}, pair_columns=columns,
                    category_columns=categories)
