"""Numba kernels for the pixel-level agreement metrics (arrays in, arrays out).

Label maps are flat ``int32`` arrays in column-major (RLE) order: 0 is
background, ``k + 1`` is category ``k``, -1 is void.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit


@njit(cache=True, nogil=True)
def paint_runs(counts, flat, value):
    """Set ``flat`` to ``value`` on the foreground runs of an RLE."""
    pos = 0
    for i in range(counts.shape[0]):
        c = counts[i]
        if i % 2 == 1:
            for j in range(pos, pos + c):
                flat[j] = value
        pos += c


@njit(cache=True, nogil=True)
def confusion_add(la, lb, conf):
    """Add the label pairs of two label maps to ``conf``; void (-1) pixels skipped."""
    for i in range(la.shape[0]):
        a = la[i]
        b = lb[i]
        if a >= 0 and b >= 0:
            conf[a, b] += 1


@njit(cache=True, nogil=True, inline="always")
def _vote(stack, p, votes):
    """The plurality label of pixel ``p`` (ties: the lowest label; all void: -1).

    Parameters
    ----------
    stack : ndarray of int32, shape (m, P)
        The annotators' label maps; -1 is void.
    p : int
        The pixel.
    votes : ndarray of int32
        Scratch of ``n_labels + 1`` zeros; left zero on return.

    Returns
    -------
    int
        The winning label, or -1.
    """
    m = stack.shape[0]
    best = -1
    for a in range(m):
        la = stack[a, p]
        if la >= 0:
            votes[la] += 1
    for a in range(m):
        la = stack[a, p]
        if la >= 0 and (best < 0 or votes[la] > votes[best] or (votes[la] == votes[best] and la < best)):
            best = la
    for a in range(m):
        la = stack[a, p]
        if la >= 0:
            votes[la] = 0
    return best


@njit(cache=True, nogil=True)
def multirater_add(stack, n_labels, fleiss_totals, alpha_totals, scalars):
    """Accumulate Fleiss' kappa and Krippendorff's alpha sums over one image.

    ``stack`` is ``(m, P)``: m annotators' label maps; -1 is missing (void).
    ``scalars`` receives [fleiss pixels, fleiss agreeing pairs,
    alpha sum of 2*agreeing_pairs/(m_u - 1), alpha pairable values].
    :func:`all_rater_pass` without the annotator view (numba compiles that
    part out for ``view=None``).
    """
    all_rater_pass(stack, n_labels, 0, fleiss_totals, alpha_totals, scalars, None)


@njit(cache=True, nogil=True)
def plurality(stack, n_labels, out):
    """Per-pixel plurality vote over non-void labels; ties go to the lowest label; all void gives -1."""
    votes = np.zeros(n_labels + 1, np.int32)
    for p in range(stack.shape[1]):
        out[p] = _vote(stack, p, votes)


@njit(cache=True, nogil=True)
def boundary_labels(lab, h, w, out):
    """Mark boundary pixels: a labelled pixel (> 0) with a 4-neighbour of another label.

    ``lab`` and ``out`` are flat column-major; ``out`` gets the label at
    boundary pixels and 0 elsewhere. The image border is not a boundary.
    """
    for c in range(w):
        for r in range(h):
            i = c * h + r
            v = lab[i]
            out[i] = 0
            if v <= 0:
                continue
            if (r > 0 and lab[i - 1] != v) or (r < h - 1 and lab[i + 1] != v) or \
                    (c > 0 and lab[i - h] != v) or (c < w - 1 and lab[i + h] != v):
                out[i] = v


@njit(cache=True, nogil=True)
def boundary_match(ba, bb, h, w, dr, dc, totals):
    """Count boundary pixels of each map that lie within the disk of the other's, per label.

    ``dr``/``dc`` are the offsets of the disk. ``totals`` is ``(n_labels, 4)``:
    [boundary pixels of a, of b, of a matched in b, of b matched in a].
    """
    for c in range(w):
        for r in range(h):
            i = c * h + r
            for side in range(2):
                v = ba[i] if side == 0 else bb[i]
                if v <= 0:
                    continue
                totals[v, side] += 1
                found = False
                for k in range(dr.shape[0]):
                    rr = r + dr[k]
                    cc = c + dc[k]
                    if rr < 0 or rr >= h or cc < 0 or cc >= w:
                        continue
                    j = cc * h + rr
                    o = bb[j] if side == 0 else ba[j]
                    if o == v:
                        found = True
                        break
                if found:
                    totals[v, 2 + side] += 1


@njit(cache=True, nogil=True)
def all_rater_pass(stack, n_labels, ref_row, fleiss_totals, alpha_totals, scalars, view):
    """One pass over the pixels of a complete image for every all-annotator statistic.

    Does what :func:`multirater_add` does, and adds each annotator's label
    against the reference label (annotator ``ref_row``, or the plurality vote
    when ``ref_row < 0``) to ``view[a]`` (unless ``view`` is None). Pixels
    where every annotator gives the same label, the common case, take a
    short path (the sums it adds are the general path's, exactly).
    """
    m = stack.shape[0]
    votes = np.zeros(n_labels + 1, np.int32)
    full_pairs = m * (m - 1) // 2
    for p in range(stack.shape[1]):
        l0 = stack[0, p]
        same = m >= 2
        for a in range(1, m):
            if stack[a, p] != l0:
                same = False
                break
        if same and l0 >= 0:
            scalars[0] += 1
            scalars[1] += full_pairs
            scalars[2] += m
            scalars[3] += m
            fleiss_totals[l0] += m
            alpha_totals[l0] += m
            if view is not None:
                for a in range(m):
                    view[a, l0, l0] += 1
            continue
        # Fleiss' and Krippendorff's sums: agreeing pairs among the mu
        # annotators with a label.
        mu = 0
        agree = 0
        for a in range(m):
            la = stack[a, p]
            if la < 0:
                continue
            mu += 1
            for b in range(a + 1, m):
                if stack[b, p] == la:
                    agree += 1
        if mu >= 2:
            scalars[2] += 2.0 * agree / (mu - 1)
            scalars[3] += mu
            for a in range(m):
                la = stack[a, p]
                if la >= 0:
                    alpha_totals[la] += 1
            if mu == m:
                scalars[0] += 1
                scalars[1] += agree
                for a in range(m):
                    fleiss_totals[stack[a, p]] += 1
        if view is not None:
            ref = stack[ref_row, p] if ref_row >= 0 else _vote(stack, p, votes)
            if ref >= 0:
                for a in range(m):
                    la = stack[a, p]
                    if la >= 0:
                        view[a, la, ref] += 1
