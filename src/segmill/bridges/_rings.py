"""Ring tracing shared by :mod:`segmill.bridges.trace` and :mod:`segmill.bridges.simplify`.

The crack-following kernel (:mod:`segmill.bridges._trace_kernels`) over a padded
copy of the mask, and the hole-to-ring tree built from its output. Kept apart
so ``trace`` and ``simplify`` both import it without importing each other.
"""

from __future__ import annotations

import numpy as np

from . import _trace_kernels as K

__all__ = ["padded", "trace_padded", "ring_tree"]


def padded(mask: np.ndarray) -> np.ndarray:
    # one background pixel of margin; rows padded to a multiple of 8 bytes so
    # the kernel can scan them as uint64 words
    h, w = mask.shape
    W = (w + 2 + 7) // 8 * 8
    P = np.zeros((h + 2, W), np.uint8)
    P[1:-1, 1 : w + 1] = mask != 0 if mask.dtype != np.bool_ else mask
    return P


def trace_padded(P, shape, connectivity):
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    h, w = shape
    cap = 4096 + 16 * (h + w)  # retried 4x larger when a mask has more corners
    while True:
        xs = np.empty(cap, np.int32)
        ys = np.empty(cap, np.int32)
        roff = np.empty(cap // 4 + 2, np.int64)
        rmin = np.empty(cap // 4 + 1, np.int64)
        rhole = np.empty(cap // 4 + 1, np.bool_)
        n, nr = K.trace_rings(P, h, w, connectivity == 8, xs, ys, roff, rmin, rhole)
        if n >= 0:
            return xs[:n], ys[:n], roff[: nr + 1], rmin[:nr], rhole[:nr]
        # a ring has at least 4 corners, so corners bound rings; grow and retry
        cap *= 4


def ring_tree(mask: np.ndarray, connectivity: int):
    """Trace rings and hang every hole from the first ring above it.

    Returns ``(xs, ys, off, rmin, hole, parent, children)``: ``parent[r]`` is
    the ring a hole hangs from (-1 for outer rings); ``children`` is
    ``(first, count, ax, ay, ring)``: for each corner, the holes anchored on
    the ``+x`` run leaving it, sorted by anchor x (see ``_trace_kernels.assemble``).
    """
    P = padded(mask)
    xs, ys, off, rmin, hole = trace_padded(P, mask.shape, connectivity)
    nr = len(off) - 1
    nc = len(xs)
    parent = np.full(nr, -1, np.int64)
    first = np.zeros(nc, np.int64)
    count = np.zeros(nc, np.int64)
    holes = np.flatnonzero(hole)
    if not len(holes):
        e = np.zeros(0, np.int64)
        return xs, ys, off, rmin, hole, parent, (first, count, e.astype(np.int32), e.astype(np.int32), e)
    ring_of = np.repeat(np.arange(nr), np.diff(off))
    nxt = np.arange(1, nc + 1)
    nxt[off[1:] - 1] = off[:-1]
    # +x runs: corners whose next corner lies to the right on the same row
    run = np.flatnonzero((ys[nxt] == ys) & (xs[nxt] > xs))
    hx = xs[rmin[holes]].astype(np.int64)
    hy = ys[rmin[holes]].astype(np.int64)
    ay = K.ray_up(P, hx, hy)
    W = mask.shape[1] + 1
    key = ys[run].astype(np.int64) * W + xs[run]
    order = np.argsort(key, kind="stable")
    pos = np.searchsorted(key[order], ay * W + hx, side="right") - 1
    # the run found starts at or left of the anchor and covers it: the anchor
    # edge is a +x boundary edge (see ray_up) and +x runs of a row never overlap
    corner = run[order[pos]]
    parent[holes] = ring_of[corner]
    srt = np.lexsort((hx, corner))
    corner, hx, ay, hr = corner[srt], hx[srt], ay[srt], holes[srt]
    np.add.at(count, corner, 1)
    starts = np.flatnonzero(np.r_[True, corner[1:] != corner[:-1]])
    first[corner[starts]] = starts
    return xs, ys, off, rmin, hole, parent, (first, count, hx.astype(np.int32), ay.astype(np.int32), hr)
