"""Instance-level agreement of an annotator pair: TP/FP/FN, PQ/SQ/RQ, label agreement.

Definitions (panopticapi's, applied to two annotators ``a`` and ``b``):

* Instances match within a category, one to one, when their IoU is
  greater than the threshold (:mod:`segmill.agree.matching`); void pixels
  are excluded from intersections and unions.
* A matched pair is a TP; an unmatched instance of ``b`` is a FP, an
  unmatched instance of ``a`` a FN.
* Crowd regions never match. As in panopticapi, an unmatched instance is
  not counted when more than half of its pixels lie in crowd regions of the
  same category (or void) of the *other* annotator. panopticapi applies this
  to predictions only; agreement has no ground truth, so it applies both
  ways and the metrics stay symmetric.
* Per category: SQ = mean IoU of the TPs, RQ = TP / (TP + FP/2 + FN/2),
  PQ = SQ * RQ. The overall PQ, SQ and RQ are averages over the categories
  present (TP + FP + FN > 0), as panopticapi does.
* Label agreement: instances matched regardless of category (same rule),
  with the confusion matrix of their categories and Cohen's kappa.
"""

from __future__ import annotations

import numpy as np

from .. import rle as R
from .matching import iou_matrix, match
from .pixel import cohen_kappa

# panopticapi: a segment pair matches when its IoU is strictly above the threshold
PQ_COMPARISON = ">"


class InstanceCounts:
    """Per-category TP/FP/FN and summed IoU, plus the label confusion matrix.

    Counts add up across images (``+=``), so a dataset-level summary never
    needs more than one image in memory.
    """

    def __init__(self, n_classes: int):
        self.n = n_classes
        self.tp = np.zeros(n_classes, np.int64)
        self.fp = np.zeros(n_classes, np.int64)
        self.fn = np.zeros(n_classes, np.int64)
        self.iou_sum = np.zeros(n_classes, np.float64)
        self.label_conf = np.zeros((n_classes, n_classes), np.int64)

    def __iadd__(self, other: "InstanceCounts"):
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou_sum += other.iou_sum
        self.label_conf += other.label_conf
        return self

    def per_class(self) -> list[dict]:
        """One dict per category with tp, fp, fn, precision, recall, f1, mean_iou, pq, sq, rq."""
        return [_scores(int(self.tp[k]), int(self.fp[k]), int(self.fn[k]), float(self.iou_sum[k]))
                for k in range(self.n)]

    def present(self) -> np.ndarray:
        """Indices of the categories with TP + FP + FN > 0."""
        return np.nonzero(self.tp + self.fp + self.fn)[0]

    def panoptic(self) -> dict:
        """PQ, SQ, RQ averaged over the categories present (``None`` when none is)."""
        pres = self.present()
        if pres.size == 0:
            return {"pq": None, "sq": None, "rq": None, "n_classes": 0}
        rows = self.per_class()
        return {
            "pq": float(np.mean([rows[k]["pq"] for k in pres])),
            "sq": float(np.mean([rows[k]["sq"] for k in pres])),
            "rq": float(np.mean([rows[k]["rq"] for k in pres])),
            "n_classes": int(pres.size),
        }

    def summary(self, categories) -> dict:
        """Everything as plain numbers (see the JSON schema in :mod:`segmill.agree.report_json`)."""
        tot = _scores(int(self.tp.sum()), int(self.fp.sum()), int(self.fn.sum()), float(self.iou_sum.sum()))
        out = {k: tot[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1", "mean_iou")}
        out.update(self.panoptic())
        rows = self.per_class()
        out["per_class"] = {categories[k]: rows[k] for k in self.present()}
        used = np.nonzero(self.label_conf.sum(0) + self.label_conf.sum(1))[0]
        conf = self.label_conf[np.ix_(used, used)]
        matched = int(conf.sum())
        out["label_agreement"] = {
            "matched": matched,
            "agree": int(np.trace(conf)),
            "kappa": cohen_kappa(conf) if matched else None,
            "labels": [categories[k] for k in used],
            "confusion": conf.tolist(),
        }
        return out


def _div(a, b):
    return a / b if b else None


def _scores(tp: int, fp: int, fn: int, iou_sum: float) -> dict:
    sq = _div(iou_sum, tp)
    rq = _div(tp, tp + 0.5 * fp + 0.5 * fn)
    pq = _div(iou_sum, tp + 0.5 * fp + 0.5 * fn)
    return {
        "tp": tp, "fp": fp, "fn": fn,
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "f1": rq,
        "mean_iou": sq,
        # panopticapi reports 0 for a present category without TPs
        "pq": 0.0 if pq is None and (tp + fp + fn) else pq,
        "sq": 0.0 if sq is None and (tp + fp + fn) else sq,
        "rq": rq,
    }


def compare_instances(a, b, n_classes: int, threshold: float = 0.5) -> InstanceCounts:
    """Instance agreement of two annotators on one image.

    Parameters
    ----------
    a, b : segmill.agree.rasterize.ImageAnnotations
        ``a`` plays the ground truth (its unmatched instances are FN).
    n_classes : int
    threshold : float
        A match needs IoU > threshold.

    Returns
    -------
    InstanceCounts
    """
    out = InstanceCounts(n_classes)
    void = None
    if a.void or b.void:
        void = R.merge(a.void + b.void)
    ia = np.nonzero(~a.crowd)[0]
    ib = np.nonzero(~b.crowd)[0]
    la, lb = a.labels[ia], b.labels[ib]
    m = iou_matrix([a.rles[i] for i in ia], [b.rles[i] for i in ib], void)

    # Categories are independent blocks of one assignment problem: zeroing
    # the cross-category IoUs and solving once gives every category's optimum.
    same = np.where(la[:, None] == lb[None, :], m, 0.0)
    rows, cols, ious = match(same, threshold, comparison=PQ_COMPARISON)
    matched_a = np.zeros(ia.size, bool)
    matched_b = np.zeros(ib.size, bool)
    matched_a[rows] = True
    matched_b[cols] = True
    np.add.at(out.tp, la[rows], 1)
    np.add.at(out.iou_sum, la[rows], ious)
    out.fn += _unmatched(a, ia, ~matched_a, b, void, n_classes)
    out.fp += _unmatched(b, ib, ~matched_b, a, void, n_classes)

    rows, cols, _ = match(m, threshold, comparison=PQ_COMPARISON)
    np.add.at(out.label_conf, (la[rows], lb[cols]), 1)
    return out


def _unmatched(x, idx, unmatched, other, void, n_classes) -> np.ndarray:
    """Count unmatched instances of ``x`` per category, minus those inside ``other``'s crowd (or void)."""
    counts = np.zeros(n_classes, np.int64)
    for j in np.nonzero(unmatched)[0]:
        i = idx[j]
        k = x.labels[i]
        cover = [other.rles[t] for t in np.nonzero(other.crowd & (other.labels == k))[0]]
        if void is not None:
            cover.append(void)
        if cover:
            region = R.merge(cover)
            # iou against a crowd "ground truth" is |x & region| / |x|
            if R.iou([x.rles[i]], [region], iscrowd=[True])[0, 0] > 0.5:
                continue
        counts[k] += 1
    return counts
