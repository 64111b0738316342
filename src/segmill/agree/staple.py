"""STAPLE (Warfield, Zou & Wells 2004): EM estimate of the truth and of each rater's performance.

The E and M steps only depend on *which* labels the raters give a pixel, so
the algorithm runs on a histogram of rating patterns (one row per distinct
combination of labels, with its pixel count) instead of on the pixels: the
result is the same, memory stays bounded by the number of distinct patterns,
and a whole dataset is handled by adding its images' histograms.

Binary STAPLE follows ITK's ``STAPLEImageFilter`` (and so SimpleITK's):

* the initial truth estimate is the fraction of raters marking the pixel;
* the prior probability of foreground is fixed to the mean of that initial
  estimate over all pixels (times a confidence weight, default 1);
* each iteration computes every rater's sensitivity p and specificity q from
  the current estimate, then the new estimate
  ``W = g a / (g a + (1 - g) b)``;
* iteration stops when no p or q changed by more than 1e-7 (squared change
  <= 1e-14) since the previous iteration, or after ``max_iterations``.

Multi-class STAPLE generalizes this with one confusion matrix per rater
(``theta[j][s', s]`` = P(rater j says s' | truth s)); with two labels it is
exactly the binary algorithm (p = theta[1, 1], q = theta[0, 0]). A rating of
-1 is missing (void) and contributes no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SQUARED_CHANGE = 1.0e-14


@dataclass
class StapleResult:
    """What STAPLE estimates.

    Attributes
    ----------
    probabilities : numpy.ndarray, shape (n_patterns, n_labels)
        Posterior probability of each true label for each rating pattern.
    theta : numpy.ndarray, shape (n_raters, n_labels, n_labels)
        ``theta[j, s_rated, s_true]``.
    prior : numpy.ndarray, shape (n_labels,)
    iterations : int
        EM iterations run.
    """

    probabilities: np.ndarray
    theta: np.ndarray
    prior: np.ndarray
    iterations: int

    @property
    def sensitivity(self) -> np.ndarray:
        """Binary case: each rater's sensitivity, ``theta[:, 1, 1]``."""
        return self.theta[:, 1, 1]

    @property
    def specificity(self) -> np.ndarray:
        """Binary case: each rater's specificity, ``theta[:, 0, 0]``."""
        return self.theta[:, 0, 0]


def staple_patterns(patterns, counts, n_labels: int, *, max_iterations: int = 2**32 - 1,
                    confidence_weight: float = 1.0) -> StapleResult:
    """Run STAPLE on a histogram of rating patterns.

    Parameters
    ----------
    patterns : array_like of int, shape (n_patterns, n_raters)
        Label given by each rater (-1 = missing), one row per distinct pattern.
    counts : array_like of int, shape (n_patterns,)
        Pixels with that pattern.
    n_labels : int
    max_iterations : int
        ITK's default is effectively unlimited.
    confidence_weight : float
        Binary case only: multiplies the foreground prior (ITK's ConfidenceWeight).

    Returns
    -------
    StapleResult
    """
    all_pat = np.asarray(patterns, dtype=np.int64)
    all_cnt = np.asarray(counts, dtype=np.float64)
    L = int(n_labels)
    # Patterns no pixel has carry no weight; leaving them out keeps their
    # possibly undefined posteriors (0/0) out of the sums.
    keep = all_cnt > 0
    pat, cnt = all_pat[keep], all_cnt[keep]
    n_pat, m = pat.shape
    valid = pat >= 0
    onehot = np.zeros((m, n_pat, L))
    for j in range(m):
        rows = np.nonzero(valid[:, j])[0]
        onehot[j, rows, pat[rows, j]] = 1.0
    n_valid = valid.sum(1)
    W = np.where(n_valid[:, None] > 0, onehot.sum(0) / np.maximum(n_valid, 1)[:, None], 1.0 / L)
    total = cnt.sum()
    prior = (cnt @ W) / total if total else np.full(L, 1.0 / L)
    if L == 2:
        g = prior[1] * confidence_weight
        prior = np.array([1.0 - g, g])

    theta = np.zeros((m, L, L))
    last = np.full((m, L, L), -10.0)
    it = 0
    for it in range(max_iterations):
        wc = W * cnt[:, None]  # (n_pat, L)
        for j in range(m):
            num = onehot[j].T @ wc  # (L rated, L true)
            den = wc[valid[:, j]].sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                theta[j] = num / den[None, :]
        W_new = _posterior(pat, valid, theta, prior)
        # Where every label has zero likelihood (a rater judged perfect
        # contradicted), ITK produces NaN; keep the previous estimate instead.
        bad = ~np.isfinite(W_new).all(1)
        W = np.where(bad[:, None], W, W_new)
        # As ITK: converged when no change exceeds the limit (NaN never does).
        done = it != 0 and not bool(np.any((theta - last) ** 2 > MIN_SQUARED_CHANGE))
        last[...] = theta
        if done:
            break
    probs = np.full((all_pat.shape[0], L), np.nan)
    probs[keep] = W
    if (~keep).any():
        probs[~keep] = _posterior(all_pat[~keep], all_pat[~keep] >= 0, theta, prior)
    return StapleResult(probs, theta, prior, it + 1)


def _posterior(pat, valid, theta, prior):
    like = np.broadcast_to(prior, (pat.shape[0], prior.shape[0])).copy()
    for j in range(pat.shape[1]):
        rows = np.nonzero(valid[:, j])[0]
        like[rows] *= theta[j][pat[rows, j]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return like / like.sum(1, keepdims=True)


def staple_binary(masks, *, max_iterations: int = 2**32 - 1, confidence_weight: float = 1.0):
    """Binary STAPLE on a stack of rater masks (ITK / SimpleITK conventions).

    Parameters
    ----------
    masks : array_like, shape (n_raters, ...)
        Nonzero = foreground.

    Returns
    -------
    probability : numpy.ndarray of float64, shape ``masks.shape[1:]``
        The estimated probability of foreground (what ITK outputs).
    result : StapleResult
        ``result.sensitivity`` and ``result.specificity`` per rater.
    """
    arr = np.asarray(masks) != 0
    m = arr.shape[0]
    flat = arr.reshape(m, -1)
    code = np.zeros(flat.shape[1], np.int64)
    for j in range(m):
        code |= flat[j].astype(np.int64) << j
    uniq, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
    patterns = ((uniq[:, None] >> np.arange(m)[None, :]) & 1).astype(np.int64)
    res = staple_patterns(patterns, cnt, 2, max_iterations=max_iterations, confidence_weight=confidence_weight)
    prob = res.probabilities[inv.reshape(-1), 1].reshape(arr.shape[1:])
    return prob, res


class PatternHistogram:
    """Accumulates rating patterns (``(n_raters, n_pixels)`` label stacks) across images."""

    def __init__(self, n_raters: int, n_labels: int):
        self.m = n_raters
        self.n_labels = n_labels
        self._counts: dict[tuple, int] = {}
        self._base = n_labels + 1
        self._packable = self._base ** n_raters < 2**62

    def encode(self, stack) -> tuple[np.ndarray, np.ndarray]:
        """Distinct patterns of a stack and, per pixel, the index of its pattern."""
        stack = np.asarray(stack)
        if self._packable:
            code = np.zeros(stack.shape[1], np.int64)
            for j in range(self.m):
                code = code * self._base + (stack[j].astype(np.int64) + 1)
            uniq, inv = np.unique(code, return_inverse=True)
            pats = np.zeros((uniq.size, self.m), np.int64)
            rest = uniq.copy()
            for j in range(self.m - 1, -1, -1):
                pats[:, j] = rest % self._base - 1
                rest //= self._base
            return pats, inv.reshape(-1)
        pats, inv = np.unique(stack.T, axis=0, return_inverse=True)
        return pats.astype(np.int64), inv.reshape(-1)

    def add(self, stack) -> None:
        pats, inv = self.encode(stack)
        cnt = np.bincount(inv, minlength=pats.shape[0])
        for row, c in zip(map(tuple, pats.tolist()), cnt.tolist()):
            self._counts[row] = self._counts.get(row, 0) + c

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._counts:
            return np.zeros((0, self.m), np.int64), np.zeros(0, np.int64)
        keys = sorted(self._counts)
        return np.array(keys, np.int64).reshape(-1, self.m), np.array([self._counts[k] for k in keys], np.int64)
