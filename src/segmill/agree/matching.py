"""Optimal one-to-one instance matching on mask IoU.

A pair of instances can match only when their IoU is strictly greater than
the threshold (panopticapi's rule; with a threshold of 0.5 or more such a
match is unique, but the assignment is solved anyway so that lower thresholds
are optimal too). Among the candidate pairs the matching maximizes the number
of matches, then their total IoU
(:func:`scipy.optimize.linear_sum_assignment`). IoU matrices come from
:func:`segmill.rle.iou`, which skips pairs whose boxes do not overlap.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .. import rle as R


def iou_matrix(rles_a, rles_b, void=None) -> np.ndarray:
    """IoU of every (a, b) pair, shape ``(len(rles_a), len(rles_b))``.

    Parameters
    ----------
    rles_a, rles_b : sequence of RLE
    void : RLE, optional
        Void pixels, excluded from both intersections and unions.

    Examples
    --------
    >>> import numpy as np
    >>> from segmill.rle import encode
    >>> a = np.zeros((4, 4), bool); a[:2] = True
    >>> b = np.zeros((4, 4), bool); b[:3] = True
    >>> iou_matrix([encode(a)], [encode(b)])
    array([[0.66666667]])
    """
    rles_a, rles_b = list(rles_a), list(rles_b)
    if not rles_a or not rles_b:
        return np.zeros((len(rles_a), len(rles_b)))
    m = R.iou(rles_b, rles_a).T  # rows a, columns b; plain IoU is symmetric
    if void is None or void.is_empty():
        return m
    out = np.zeros_like(m)
    area_a = np.array([r.area for r in rles_a], np.float64)
    area_b = np.array([r.area for r in rles_b], np.float64)
    va = [R.merge([r, void], intersect=True).area for r in rles_a]
    vb = [R.merge([r, void], intersect=True).area for r in rles_b]
    for i, j in zip(*np.nonzero(m)):
        inter = R.merge([rles_a[i], rles_b[j]], intersect=True)
        vi = R.merge([inter, void], intersect=True).area
        it = inter.area - vi
        union = (area_a[i] - va[i]) + (area_b[j] - vb[j]) - it
        out[i, j] = it / union if union > 0 else 0.0
    return out


def match(iou: np.ndarray, threshold: float = 0.5):
    """Optimal one-to-one matching of the pairs with IoU > ``threshold``.

    Maximizes the number of matched pairs, then their total IoU.

    Parameters
    ----------
    iou : numpy.ndarray, shape (n_a, n_b)
    threshold : float

    Returns
    -------
    rows, cols : numpy.ndarray of int
        Matched pairs, ``rows[k]`` with ``cols[k]``, sorted by row.
    ious : numpy.ndarray of float
        Their IoU.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols, ious = match(np.array([[0.9, 0.6], [0.7, 0.1]]), 0.5)
    >>> rows.tolist(), cols.tolist(), ious.tolist()
    ([0, 1], [1, 0], [0.6, 0.7])
    """
    iou = np.asarray(iou, dtype=np.float64)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if iou.size == 0:
        return empty
    cand = iou > threshold
    if not cand.any():
        return empty
    r_any = np.nonzero(cand.any(axis=1))[0]
    c_any = np.nonzero(cand.any(axis=0))[0]
    # A weight above any total IoU per match makes the count come first.
    big = float(min(len(r_any), len(c_any)) + 1)
    sub = np.where(cand[np.ix_(r_any, c_any)], big + iou[np.ix_(r_any, c_any)], 0.0)
    rr, cc = linear_sum_assignment(sub, maximize=True)
    keep = sub[rr, cc] > 0
    rows = r_any[rr[keep]]
    cols = c_any[cc[keep]]
    keep2 = cand[rows, cols]
    rows, cols = rows[keep2], cols[keep2]
    return rows, cols, iou[rows, cols]
