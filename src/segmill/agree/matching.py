"""The one instance matcher: optimal one-to-one matching on mask IoU.

Every IoU matching in segmill goes through :func:`match`, which says
explicitly how a pair passes the threshold and what the assignment
optimizes:

* ``segmill agree`` (``comparison=">"``, ``objective="matches"``): a pair
  can match only when its IoU is strictly greater than the threshold
  (panopticapi's rule; with a threshold of 0.5 or more such a match is
  unique, but the assignment is solved anyway so that lower thresholds are
  optimal too). Among the candidate pairs the matching maximizes the number
  of matches, then their total IoU.
* ``segmill diff`` / ``segmill gate`` (``comparison=">="``,
  ``objective="total_iou"``, a same-class tie break): the assignment of
  highest total IoU, keeping the pairs with IoU >= the threshold (and > 0).

Assignments are solved with :func:`scipy.optimize.linear_sum_assignment`.
IoU matrices come from :func:`segmill.rle.iou`, which skips pairs whose boxes
do not overlap.
"""

from __future__ import annotations

import numpy as np

from .. import rle as R
from ..errors import UsageError


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


COMPARISONS = (">", ">=")
OBJECTIVES = ("matches", "total_iou")


def meets(iou, threshold: float, comparison: str):
    """Whether IoU values pass a threshold: ``iou > threshold`` or ``iou >= threshold``.

    With ``">="`` a pair also needs IoU > 0, so that a threshold of 0 never
    pairs shapes that do not touch. Works on scalars and arrays.

    Examples
    --------
    >>> bool(meets(0.5, 0.5, ">")), bool(meets(0.5, 0.5, ">=")), bool(meets(0.0, 0.0, ">="))
    (False, True, False)
    """
    if comparison == ">":
        return iou > threshold
    if comparison == ">=":
        return (iou >= threshold) & (iou > 0)
    raise UsageError(f"comparison must be one of {COMPARISONS}, got {comparison!r}")


def match(iou: np.ndarray, threshold: float = 0.5, *, comparison: str = ">", objective: str = "matches",
          tie_break=None):
    """Optimal one-to-one matching of the pairs whose IoU passes ``threshold``.

    Parameters
    ----------
    iou : numpy.ndarray, shape (n_a, n_b)
    threshold : float
    comparison : {">", ">="}
        ``">"``: a pair needs IoU > threshold (panopticapi's rule, used by
        ``segmill agree``). ``">="``: IoU >= threshold and IoU > 0 (COCOeval's
        inclusive rule, used by ``segmill diff`` and ``segmill gate``).
    objective : {"matches", "total_iou"}
        ``"matches"``: among the pairs that pass, as many matches as possible,
        then the highest total IoU. ``"total_iou"``: the assignment over all
        pairs with the highest total IoU (plus ``tie_break``), then the pairs
        that do not pass are dropped; a pair below the threshold can then
        take a partner a passing pair wanted (``segmill diff``'s rule).
    tie_break : numpy.ndarray, optional
        Small weights added to the IoU in the assignment, e.g. ``1e-9`` for
        pairs of the same class; never decides whether a pair passes.

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
    >>> match(np.array([[0.5]]), 0.5)[0].tolist(), match(np.array([[0.5]]), 0.5, comparison=">=")[0].tolist()
    ([], [0])
    """
    if objective not in OBJECTIVES:
        raise UsageError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    iou = np.asarray(iou, dtype=np.float64)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if iou.size == 0:
        meets(iou, threshold, comparison)  # still refuse an unknown comparison
        return empty
    cand = meets(iou, threshold, comparison)
    if not cand.any():
        return empty
    # imported here: scipy.optimize takes about a second to import, and
    # `segmill diff` with stable ids never matches on IoU
    from scipy.optimize import linear_sum_assignment

    if objective == "total_iou":
        weight = iou if tie_break is None else iou + tie_break
        rows, cols = linear_sum_assignment(-weight)
        keep = cand[rows, cols]
        rows, cols = rows[keep], cols[keep]
        return rows, cols, iou[rows, cols]
    return _most_matches(iou, cand, tie_break)


def _most_matches(iou: np.ndarray, cand: np.ndarray, tie_break=None):
    """The ``"matches"`` objective: most candidate pairs, then highest total IoU."""
    # lazy: start-up time (scipy.optimize is only needed by the "matches" objective)
    from scipy.optimize import linear_sum_assignment

    r_any = np.nonzero(cand.any(axis=1))[0]
    c_any = np.nonzero(cand.any(axis=0))[0]
    sub_iou = iou[np.ix_(r_any, c_any)]
    if tie_break is not None:
        sub_iou = sub_iou + np.asarray(tie_break, np.float64)[np.ix_(r_any, c_any)]
    # A weight above any total IoU per match makes the count come first.
    big = float(min(len(r_any), len(c_any)) + 1)
    sub = np.where(cand[np.ix_(r_any, c_any)], big + sub_iou, 0.0)
    rr, cc = linear_sum_assignment(sub, maximize=True)
    keep = sub[rr, cc] > 0
    rows = r_any[rr[keep]]
    cols = c_any[cc[keep]]
    keep2 = cand[rows, cols]
    rows, cols = rows[keep2], cols[keep2]
    return rows, cols, iou[rows, cols]
