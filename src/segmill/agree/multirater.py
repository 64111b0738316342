"""Agreement across all annotators at once: Fleiss' kappa and Krippendorff's alpha (nominal).

Every pixel is a subject (unit) rated by every annotator with its label (0
background, ``k + 1`` category ``k``). The sums both coefficients need are
accumulated image by image (:class:`MultiRaterCounts`):

* Fleiss' kappa (Fleiss 1971) needs the same number of ratings per subject,
  so it uses the pixels no annotator marks void.
* Krippendorff's alpha treats a void pixel as a missing value and uses every
  pixel with at least two values (Krippendorff 2011, "Computing
  Krippendorff's alpha-reliability", nominal metric):
  ``alpha = 1 - (n - 1) * (n - sum_c o_cc) / (n**2 - sum_c n_c**2)``
  where ``o_cc`` are the diagonal entries of the coincidence matrix.
"""

from __future__ import annotations

import numpy as np

from . import _kernels as K


class MultiRaterCounts:
    """Accumulated sums for Fleiss' kappa and Krippendorff's alpha.

    Parameters
    ----------
    n_raters : int
    n_labels : int
        Labels are ``0 .. n_labels - 1``; -1 marks a missing rating.
    """

    def __init__(self, n_raters: int, n_labels: int):
        self.m = n_raters
        self.n_labels = n_labels
        self.fleiss_totals = np.zeros(n_labels, np.int64)
        self.alpha_totals = np.zeros(n_labels, np.int64)
        # fleiss subjects, fleiss agreeing pairs, alpha sum o_cc, alpha pairable values
        self.scalars = np.zeros(4, np.float64)

    def add(self, stack) -> None:
        """Add ratings: ``stack`` is ``(n_raters, n_subjects)`` int, -1 = missing."""
        stack = np.ascontiguousarray(stack, dtype=np.int32)
        if stack.shape[0] != self.m:
            raise ValueError(f"expected {self.m} raters, got {stack.shape[0]}")
        if stack.size and stack.max() >= self.n_labels:
            raise ValueError(f"a label is >= n_labels ({self.n_labels})")
        K.multirater_add(stack, self.n_labels, self.fleiss_totals, self.alpha_totals, self.scalars)

    @property
    def subjects(self) -> int:
        """Subjects rated by every rater (used by Fleiss' kappa)."""
        return int(self.scalars[0])

    def fleiss_kappa(self) -> float | None:
        """Fleiss' kappa over the fully rated subjects (``None`` without any)."""
        n_sub, agree = self.scalars[0], self.scalars[1]
        m = self.m
        if n_sub == 0:
            return None
        p_bar = 2.0 * agree / (n_sub * m * (m - 1))
        p = self.fleiss_totals / (n_sub * m)
        p_e = float(np.dot(p, p))
        if p_e >= 1.0:
            return 1.0 if p_bar >= 1.0 else 0.0
        return float((p_bar - p_e) / (1.0 - p_e))

    def krippendorff_alpha(self) -> float | None:
        """Krippendorff's alpha, nominal metric (``None`` without pairable values)."""
        o_diag, n = self.scalars[2], self.scalars[3]
        if n <= 1:
            return None
        nc = self.alpha_totals.astype(np.float64)
        d_e = n * n - float(np.dot(nc, nc))
        if d_e == 0:
            # a single value throughout: no variation to disagree on
            return 1.0
        return float(1.0 - (n - 1.0) * (n - o_diag) / d_e)


def fleiss_kappa(table) -> float:
    """Fleiss' kappa from a subjects x categories table of rating counts.

    Every row must sum to the same number of raters.

    Examples
    --------
    The worked example of Wikipedia's "Fleiss' kappa" article (10 subjects,
    14 raters, 5 categories; published value 0.210):

    >>> t = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
    ...      [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
    ...      [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    >>> round(fleiss_kappa(t), 3)
    0.21
    """
    t = np.asarray(table, dtype=np.int64)
    if t.ndim != 2 or t.size == 0:
        raise ValueError("the table must be a non-empty subjects x categories array")
    m = t.sum(1)
    if np.any(m != m[0]) or m[0] < 2:
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    # expand counts into a raters x subjects label matrix
    stack = np.stack([np.repeat(np.arange(t.shape[1]), row) for row in t], axis=1)
    acc = MultiRaterCounts(int(m[0]), t.shape[1])
    acc.add(stack)
    return acc.fleiss_kappa()


def krippendorff_alpha(reliability_data) -> float | None:
    """Krippendorff's alpha (nominal) of a raters x units matrix; NaN = missing.

    Values are category codes (any numbers); units with fewer than two
    values are not pairable and are left out.

    Examples
    --------
    >>> krippendorff_alpha([[1, 1, 2, 2], [1, 1, 2, 2]])
    1.0
    """
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability data must be a raters x units matrix")
    missing = np.isnan(data)
    values, codes = np.unique(data[~missing], return_inverse=True)
    stack = np.full(data.shape, -1, np.int32)
    stack[~missing] = codes
    acc = MultiRaterCounts(data.shape[0], max(len(values), 1))
    acc.add(stack)
    return acc.krippendorff_alpha()
