"""Numba kernels for the checker (pure: arrays in, arrays out)."""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ..rle.kernels import inter_union as _inter_union

__all__ = ["maybe_not_simple", "intersecting_pairs", "gather_runs"]

# Orientation values closer to zero than this fraction of their magnitude are
# treated as "maybe zero": the exact sign is left to shapely (GEOS, robust).
_REL = 1e-9


@njit(cache=True)
def _orient(ax, ay, bx, by, cx, cy):
    """Cross product (b - a) x (c - a) and a bound below which its sign is unsure."""
    lhs = (bx - ax) * (cy - ay)
    rhs = (by - ay) * (cx - ax)
    return lhs - rhs, _REL * (abs(lhs) + abs(rhs)) + 1e-300


@njit(cache=True)
def _may_cross(ax, ay, bx, by, cx, cy, dx, dy):
    """False only when segments ab and cd certainly share no point."""
    if max(ax, bx) < min(cx, dx) or max(cx, dx) < min(ax, bx):
        return False
    if max(ay, by) < min(cy, dy) or max(cy, dy) < min(ay, by):
        return False
    d1, e1 = _orient(cx, cy, dx, dy, ax, ay)
    d2, e2 = _orient(cx, cy, dx, dy, bx, by)
    if (d1 > e1 and d2 > e2) or (d1 < -e1 and d2 < -e2):
        return False
    d3, e3 = _orient(ax, ay, bx, by, cx, cy)
    d4, e4 = _orient(ax, ay, bx, by, dx, dy)
    if (d3 > e3 and d4 > e4) or (d3 < -e3 and d4 < -e4):
        return False
    return True


@njit(cache=True)
def maybe_not_simple(xy, pstart, plen):
    """Flag rings that may cross or touch themselves (a conservative pre-test).

    Ring ``p`` is ``xy[pstart[p] : pstart[p] + plen[p]]``, closed back to its
    first vertex. A ring is flagged unless every pair of its edges is proved
    apart: non-adjacent edges share no point, adjacent edges do not fold
    back on each other. Rings with fewer than 3 vertices, a repeated
    consecutive vertex or a non-finite coordinate are always flagged. Near-degenerate cases (orientation
    within rounding of zero) are flagged, so an unflagged ring is certainly
    simple; a flagged one needs an exact test.

    Returns
    -------
    numpy.ndarray of bool, one per ring
    """
    n = pstart.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for p in range(n):
        s = pstart[p]
        m = plen[p]
        if m < 3:
            out[p] = True
            continue
        flagged = False
        for v in range(s, s + m):
            if not (np.isfinite(xy[v, 0]) and np.isfinite(xy[v, 1])):
                flagged = True
        # zero-length edges and fold-backs at each vertex (adjacent edges)
        for i in range(m):
            if flagged:
                break
            a = s + (i + m - 1) % m
            b = s + i
            c = s + (i + 1) % m
            if xy[b, 0] == xy[c, 0] and xy[b, 1] == xy[c, 1]:
                flagged = True
                break
            d, e = _orient(xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1])
            if abs(d) <= e:
                dot = (xy[b, 0] - xy[a, 0]) * (xy[c, 0] - xy[b, 0]) + (xy[b, 1] - xy[a, 1]) * (xy[c, 1] - xy[b, 1])
                if dot <= 0.0 or m == 3:
                    flagged = True
                    break
        if not flagged:
            # non-adjacent edges i = (v_i, v_i+1) and j = (v_j, v_j+1)
            for i in range(m):
                a = s + i
                b = s + (i + 1) % m
                last = m if i > 0 else m - 1  # edge m-1 is adjacent to edge 0
                for j in range(i + 2, last):
                    c = s + j
                    d = s + (j + 1) % m
                    if _may_cross(xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1],
                                  xy[c, 0], xy[c, 1], xy[d, 0], xy[d, 1]):
                        flagged = True
                        break
                if flagged:
                    break
        out[p] = flagged
    return out


@njit(cache=True)
def gather_runs(counts, offsets, rows):
    """The runs of masks ``rows`` packed one after another, without an index array per run.

    Mask ``i`` has runs ``counts[offsets[i] : offsets[i + 1]]``. Returns
    ``(out, out_offsets)``: mask ``rows[k]``'s runs are
    ``out[out_offsets[k] : out_offsets[k + 1]]``.
    """
    n = rows.shape[0]
    off = np.zeros(n + 1, np.int64)
    for k in range(n):
        r = rows[k]
        off[k + 1] = off[k] + offsets[r + 1] - offsets[r]
    out = np.empty(off[n], counts.dtype)
    for k in range(n):
        r = rows[k]
        s = offsets[r]
        for q in range(off[k + 1] - off[k]):
            out[off[k] + q] = counts[s + q]
    return out, off


@njit(cache=True)
def _grow(a, n):
    b = np.empty(max(16, 2 * a.shape[0]), dtype=a.dtype)
    b[:n] = a[:n]
    return b


@njit(cache=True)
def _strip_entries(bb, s, e, ymin, step, nstrips):
    """Boxes ``s .. e`` bucketed into horizontal strips of ``step`` rows (counting sort).

    A box is listed in every strip its rows touch. Returns ``start`` (strip
    ``k`` holds ``idx[start[k] : start[k + 1]]``) and ``idx``.
    """
    start = np.zeros(nstrips + 1, np.int64)
    for a in range(s, e):
        k0 = np.int64((bb[a, 1] - ymin) // step)
        k1 = np.int64((bb[a, 1] + bb[a, 3] - 1 - ymin) // step)
        for k in range(k0, k1 + 1):
            start[k + 1] += 1
    for k in range(nstrips):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    idx = np.empty(start[nstrips], np.int64)
    for a in range(s, e):
        k0 = np.int64((bb[a, 1] - ymin) // step)
        k1 = np.int64((bb[a, 1] + bb[a, 3] - 1 - ymin) // step)
        for k in range(k0, k1 + 1):
            idx[fill[k]] = a
            fill[k] += 1
    return start, idx


@njit(cache=True)
def _strip_step(bb, s, e):
    """Strip height: twice the mean box height, so each box lands in about 1.5 strips."""
    total = np.int64(0)
    for a in range(s, e):
        total += np.int64(bb[a, 3])
    return max(np.int64(1), (2 * total) // max(1, e - s))


@njit(cache=True)
def intersecting_pairs(counts, offsets, bb, gstart):
    """Pairs of masks of one group (image) that share pixels, by sweeping boxes strip by strip.

    Mask ``i`` has runs ``counts[offsets[i] : offsets[i + 1]]`` and a
    non-empty pixel box ``bb[i] = (x, y, w, h)``; group ``g`` holds masks
    ``gstart[g] .. gstart[g + 1]`` (all of one height and width). Within a
    group, boxes are bucketed into horizontal strips (about twice the mean box
    height), and each strip is swept by left edge. A pair is considered only
    in the strip holding the top row of its boxes' overlap, so once. Runs are
    walked only for pairs whose boxes overlap: the work follows the number of
    overlapping boxes, not the square of the group's size, even for a
    million small objects in one image.

    Returns
    -------
    lo, hi : int64 arrays
        Global mask indices, ``lo < hi``, of pairs with a non-empty
        intersection (in no particular order).
    inter, union : int64 arrays
        Their shared and combined pixel counts.
    tested : int
        How many pairs had their runs walked (boxes overlapping).
    """
    cap = 16
    lo = np.empty(cap, np.int64)
    hi = np.empty(cap, np.int64)
    inter = np.empty(cap, np.int64)
    union = np.empty(cap, np.int64)
    n = 0
    tested = 0
    for g in range(gstart.shape[0] - 1):
        s = gstart[g]
        e = gstart[g + 1]
        if e - s < 2:
            continue
        ymin = np.int64(bb[s, 1])
        ymax = np.int64(bb[s, 1] + bb[s, 3])
        for a in range(s, e):
            ymin = min(ymin, np.int64(bb[a, 1]))
            ymax = max(ymax, np.int64(bb[a, 1] + bb[a, 3]))
        step = _strip_step(bb, s, e)
        nstrips = (ymax - ymin + step - 1) // step
        start, idx = _strip_entries(bb, s, e, ymin, step, nstrips)
        for k in range(nstrips):
            members = idx[start[k] : start[k + 1]]
            if members.shape[0] < 2:
                continue
            order = members[np.argsort(bb[members, 0], kind="mergesort")]
            for p in range(order.shape[0]):
                a = order[p]
                ax1 = bb[a, 0] + bb[a, 2]
                ay0 = bb[a, 1]
                ay1 = ay0 + bb[a, 3]
                for q in range(p + 1, order.shape[0]):
                    b = order[q]
                    if bb[b, 0] >= ax1:
                        break
                    by0 = bb[b, 1]
                    if not (by0 < ay1 and ay0 < by0 + bb[b, 3]):
                        continue
                    if np.int64((max(ay0, by0) - ymin) // step) != k:
                        continue  # this pair's overlap starts in another strip, which handles it
                    tested += 1
                    i, u = _inter_union(counts[offsets[a] : offsets[a + 1]], counts[offsets[b] : offsets[b + 1]])
                    if i > 0:
                        if n == lo.shape[0]:
                            lo = _grow(lo, n)
                            hi = _grow(hi, n)
                            inter = _grow(inter, n)
                            union = _grow(union, n)
                        lo[n] = min(a, b)
                        hi[n] = max(a, b)
                        inter[n] = i
                        union[n] = u
                        n += 1
    return lo[:n], hi[:n], inter[:n], union[:n], tested
