"""Numba kernel: connected components of a 2-D label array (union-find, one scan)."""

from __future__ import annotations

import numpy as np

from .._jit import njit


@njit(cache=True, nogil=True, inline="always")
def _root(parent, a):
    while parent[a] != a:
        parent[a] = parent[parent[a]]  # path halving
        a = parent[a]
    return a


@njit(cache=True, nogil=True, inline="always")
def _join(parent, a, b):
    # Union by smaller root: a component's root is its first provisional label, so the earliest pixel.
    ra = _root(parent, a)
    rb = _root(parent, b)
    if ra < rb:
        parent[rb] = ra
        return ra
    parent[ra] = rb
    return rb


@njit(cache=True, nogil=True)
def label_components(values, eight):
    """Label the connected regions of equal non-zero values of a 2-D array.

    Two pixels connect when they are 4-neighbours (or 8-neighbours when
    ``eight``) and hold the same value; 0 is background. Returns ``(labels,
    n)``: int32 labels 1..n numbered by each region's first pixel in C
    (row-major) order, which is scipy.ndimage.label's and scikit-image's
    numbering.
    """
    h, w = values.shape
    lab = np.zeros((h, w), dtype=np.int32)
    parent = np.zeros(h * w + 1, dtype=np.int32)
    nxt = 1
    for i in range(h):
        for j in range(w):
            v = values[i, j]
            if v == 0:
                continue
            cur = 0
            if j > 0 and values[i, j - 1] == v:
                cur = lab[i, j - 1]
            if i > 0:
                for dj in range(-1 if eight else 0, 2 if eight else 1):
                    jj = j + dj
                    if 0 <= jj < w and values[i - 1, jj] == v:
                        if cur == 0:
                            cur = lab[i - 1, jj]
                        else:
                            cur = _join(parent, cur, lab[i - 1, jj])
            if cur == 0:
                cur = nxt
                parent[cur] = cur
                nxt += 1
            lab[i, j] = cur
    final = np.zeros(nxt, dtype=np.int32)
    n = 0
    for i in range(h):
        for j in range(w):
            if lab[i, j]:
                r = _root(parent, lab[i, j])
                if final[r] == 0:
                    n += 1
                    final[r] = n
                lab[i, j] = final[r]
    return lab, n
