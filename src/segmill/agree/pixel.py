"""Pixel-level agreement of an annotator pair, from confusion matrices.

Each annotator's annotations are composed into one label map per image (the
overlap policy is in :mod:`segmill.agree.rasterize`); label 0 is background
and takes part in accuracy and kappa like any category. Void pixels (in
either map) are left out. The confusion matrix is accumulated image by
image, so a dataset never needs more than one image's maps in memory.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K


def cohen_kappa(confusion) -> float:
    """Cohen's kappa of a square confusion matrix (rows rater 1, columns rater 2).

    ``kappa = (p_o - p_e) / (1 - p_e)``. When chance agreement is certain
    (both raters used one and the same label throughout) kappa is 0/0; it is
    reported as 1.0 when the raters agree everywhere, else 0.0.

    Examples
    --------
    Wikipedia's worked example (50 grant proposals, two readers):

    >>> round(cohen_kappa([[20, 5], [10, 15]]), 12)
    0.4
    """
    c = np.asarray(confusion, dtype=np.float64)
    n = c.sum()
    if n == 0:
        return float("nan")
    po = np.trace(c) / n
    pe = float(np.dot(c.sum(0), c.sum(1))) / (n * n)
    if pe >= 1.0:
        return 1.0 if po >= 1.0 else 0.0
    return float((po - pe) / (1.0 - pe))


def disk_offsets(radius: float):
    """Row and column offsets of the pixels within Euclidean ``radius`` of a pixel."""
    r = int(np.floor(radius))
    dr, dc = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dr * dr + dc * dc <= radius * radius
    dr, dc = dr[keep], dc[keep]
    order = np.argsort(dr * dr + dc * dc, kind="stable")  # near ones first: early exit
    return dr[order].astype(np.int64), dc[order].astype(np.int64)


class PixelCounts:
    """Confusion matrix (labels 0..K) and boundary counts of an annotator pair."""

    def __init__(self, n_classes: int):
        self.n = n_classes
        self.conf = np.zeros((n_classes + 1, n_classes + 1), np.int64)
        # per label: boundary px of a, of b, of a matched, of b matched
        self.boundary = np.zeros((n_classes + 1, 4), np.int64)

    def __iadd__(self, other: "PixelCounts"):
        self.conf += other.conf
        self.boundary += other.boundary
        return self

    def add_maps(self, la, lb):
        """Add two flat label maps (void = -1 skipped)."""
        K.confusion_add(la, lb, self.conf)

    def add_boundaries(self, ba, bb, h, w, offsets):
        """Add two boundary maps (from :func:`boundary_map`)."""
        K.boundary_match(ba, bb, h, w, offsets[0], offsets[1], self.boundary)

    def mean_iou(self) -> float | None:
        """Mean IoU over the labels 1..K either annotator uses (``None`` when none is)."""
        c = self.conf
        tp = np.diag(c)[1:].astype(np.float64)
        union = c.sum(1)[1:] + c.sum(0)[1:] - tp
        used = union > 0
        return float(np.mean(tp[used] / union[used])) if used.any() else None

    def class_scores(self) -> list[dict]:
        """IoU and Dice per label 1..K (``None`` when neither annotator uses it)."""
        c = self.conf
        tp = np.diag(c).astype(np.float64)
        ra = c.sum(1).astype(np.float64)
        rb = c.sum(0).astype(np.float64)
        out = []
        for k in range(1, self.n + 1):
            union = ra[k] + rb[k] - tp[k]
            out.append({
                "iou": float(tp[k] / union) if union else None,
                "dice": float(2 * tp[k] / (ra[k] + rb[k])) if union else None,
                "pixels_a": int(ra[k]),
                "pixels_b": int(rb[k]),
                "boundary_f1": _bf1(self.boundary[k]),
            })
        return out

    def summary(self, categories) -> dict:
        """Accuracy, kappa, mean IoU/Dice over categories present, boundary F1, per class."""
        total = int(self.conf.sum())
        rows = self.class_scores()
        present = [k for k, r in enumerate(rows) if r["iou"] is not None]
        b = self.boundary[1:].sum(0)
        return {
            "pixels": total,
            "accuracy": float(np.trace(self.conf) / total) if total else None,
            "kappa": cohen_kappa(self.conf) if total else None,
            "mean_iou": float(np.mean([rows[k]["iou"] for k in present])) if present else None,
            "mean_dice": float(np.mean([rows[k]["dice"] for k in present])) if present else None,
            "boundary_f1": _bf1(b),
            "per_class": {categories[k]: rows[k] for k in present},
        }


def _bf1(row):
    na, nb, ma, mb = (int(v) for v in row)
    if na + nb == 0:
        return None
    precision = mb / nb if nb else 0.0
    recall = ma / na if na else 0.0
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_map(label_map, height: int, width: int) -> np.ndarray:
    """Flat map holding the label at boundary pixels, 0 elsewhere.

    A boundary pixel has a label > 0 and a 4-neighbour with another label
    (background, another category or void); the image border is not a
    boundary.
    """
    out = np.empty_like(label_map)
    K.boundary_labels(label_map, height, width, out)
    return out
