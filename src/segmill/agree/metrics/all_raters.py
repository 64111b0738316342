"""Agreement of all annotators at once, as a metric: Fleiss' kappa, Krippendorff's alpha, annotator view.

Over the images every annotator has. One kernel pass per image
(:func:`segmill.agree._kernels.all_rater_pass`) feeds both the multi-rater
sums (:class:`segmill.agree.multirater.MultiRaterCounts`) and, per
annotator, the confusion matrix of its labels against the reference (the
pixel-wise majority vote, or ``settings.reference``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _kernels as K
from ..context import ImageContext, RunContext
from ..metric import MetricResult, Rows, Table, fmt
from ..multirater import MultiRaterCounts

VIEW_DEFINITION = ("per category (background excluded) against the reference label map, "
                   "averaged over the categories either uses; ranked by IoU")


@dataclass
class AllRatersState:
    """The multi-rater sums, and ``view[a, label, reference label]`` pixel counts."""

    multi: MultiRaterCounts
    view: np.ndarray


class AllRatersMetric:
    """Fleiss' kappa, Krippendorff's alpha and each annotator against the reference.

    Report: ``multi_rater``, ``annotator_view`` and, with more than two
    annotators, the headline ``kappa`` (Fleiss').
    """

    name = "all_raters"
    requires = ()

    def start(self, run: RunContext) -> AllRatersState:
        m, n = len(run.names), run.n_classes + 1
        return AllRatersState(MultiRaterCounts(m, n), np.zeros((m, n, n), np.int64))

    def add_image(self, state: AllRatersState, image: ImageContext) -> None:
        if not image.complete:
            return
        ref = image.run.reference_index
        multi = state.multi
        K.all_rater_pass(image.stack, multi.n_labels, -1 if ref is None else ref, multi.fleiss_totals,
                         multi.alpha_totals, multi.scalars, state.view)

    def merge(self, state: AllRatersState, other: AllRatersState) -> AllRatersState:
        state.multi.fleiss_totals += other.multi.fleiss_totals
        state.multi.alpha_totals += other.multi.alpha_totals
        state.multi.scalars += other.multi.scalars
        state.view += other.view
        return state

    def finalize(self, state: AllRatersState, run: RunContext) -> MetricResult:
        fleiss = state.multi.fleiss_kappa()
        sections = {
            "multi_rater": {"pixels": state.multi.subjects, "fleiss_kappa": fleiss,
                            "krippendorff_alpha": state.multi.krippendorff_alpha()},
            "annotator_view": annotator_view(state.view, run.names, run.settings.reference),
        }
        # with two annotators the headline kappa is their pixel Cohen's kappa (segmill.agree.metrics.pixels)
        headline = {"kappa": fleiss} if len(run.names) > 2 else {}
        return MetricResult(headline=headline, sections=sections)

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        mr, view = result.sections["multi_rater"], result.sections["annotator_view"]
        if len(run.names) > 2:
            line = (f"all annotators: Fleiss' kappa {fmt(mr['fleiss_kappa'])}, "
                    f"Krippendorff's alpha {fmt(mr['krippendorff_alpha'])} over {mr['pixels']} pixels")
        else:
            line = f"Krippendorff's alpha {fmt(mr['krippendorff_alpha'])}"
        table = Table(
            title=f"Annotators against {view['reference']}",
            caption=f"annotators against {view['reference']} (best first):",
            header=["annotator", "rank", "sensitivity", "specificity", "IoU"],
            rows=[[a["name"], a["rank"], a["sensitivity"], a["specificity"], a["iou"]] for a in view["annotators"]],
            annotator_column=True,
        )
        return Rows(headline={"kappa": "kappa"} if "kappa" in result.headline else {},
                    figures=[("Fleiss' kappa", mr["fleiss_kappa"]), ("Krippendorff's alpha", mr["krippendorff_alpha"])],
                    lines=[line], tables=[table])


def annotator_view(view: np.ndarray, names, reference: str | None) -> dict:
    """Each annotator against the reference: sensitivity, specificity, IoU, ranked by IoU.

    ``view[a]`` is annotator ``a``'s confusion matrix against the reference
    (rows its labels, columns the reference's; label 0 is background).
    """
    rows = [_annotator_row(name, view[a].astype(np.float64)) for a, name in enumerate(names)]
    ranked = sorted((r for r in rows if r["name"] != reference),
                    key=lambda r: (-(r["iou"] if r["iou"] is not None else -1.0), r["name"]))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    return {
        "reference": reference if reference is not None else "majority vote",
        "definition": VIEW_DEFINITION,
        "annotators": ranked,
    }


def _annotator_row(name: str, c: np.ndarray) -> dict:
    total = c.sum()
    tp = np.diag(c)
    fp = c.sum(1) - tp
    fn = c.sum(0) - tp
    tn = total - tp - fp - fn
    present = [k for k in range(1, c.shape[0]) if tp[k] + fp[k] + fn[k] > 0]
    if not present or total == 0:
        return {"name": name, "sensitivity": None, "specificity": None, "iou": None, "pixels": int(total)}
    sens = [tp[k] / (tp[k] + fn[k]) for k in present if tp[k] + fn[k] > 0]
    spec = [tn[k] / (tn[k] + fp[k]) for k in present if tn[k] + fp[k] > 0]
    return {
        "name": name,
        "sensitivity": float(np.mean(sens)) if sens else None,
        "specificity": float(np.mean(spec)) if spec else None,
        "iou": float(np.mean([tp[k] / (tp[k] + fp[k] + fn[k]) for k in present])),
        "pixels": int(total),
    }
