"""Numba kernels for the checker (pure: arrays in, arrays out)."""

from __future__ import annotations

import numpy as np

from .._jit import njit

__all__ = ["maybe_not_simple", "intersecting_pairs", "pairs_sharing_pixels"]

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
def _centre(xy, idx, m):
    """The area centroid of the ring (its vertex mean when the signed area is about zero)."""
    x0 = xy[idx[0], 0]
    y0 = xy[idx[0], 1]
    sx = 0.0
    sy = 0.0
    a2 = 0.0
    for i in range(m):
        ax = xy[idx[i], 0] - x0
        ay = xy[idx[i], 1] - y0
        bx = xy[idx[(i + 1) % m], 0] - x0
        by = xy[idx[(i + 1) % m], 1] - y0
        w = ax * by - bx * ay
        a2 += w
        sx += (ax + bx) * w
        sy += (ay + by) * w
    if abs(a2) > 1e-12:
        return x0 + sx / (3.0 * a2), y0 + sy / (3.0 * a2)
    sx = 0.0
    sy = 0.0
    for i in range(m):
        sx += xy[idx[i], 0]
        sy += xy[idx[i], 1]
    return sx / m, sy / m


@njit(cache=True)
def _star_simple(xy, idx, m):
    """True when the ring turns one way around its centroid, exactly once: it is then simple.

    Every edge is certainly on the same side of the centroid ``c`` (orientation
    beyond rounding), so the angle seen from ``c`` moves one way; one crossing
    of the ray from ``c`` towards +x means one turn: each ray from ``c``
    meets the ring once (a star-shaped ring). O(m): most rings of blob-like
    objects are proved simple here without testing pairs of edges.
    """
    cx, cy = _centre(xy, idx, m)
    sign = 0
    turns = 0
    for i in range(m):
        a = idx[i]
        b = idx[(i + 1) % m]
        d, e = _orient(cx, cy, xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1])
        sg = 1 if d > e else (-1 if d < -e else 0)
        if sg == 0 or (sign != 0 and sg != sign):
            return False
        sign = sg
        if sg > 0:
            if xy[a, 1] < cy <= xy[b, 1]:
                turns += 1
        elif xy[b, 1] < cy <= xy[a, 1]:
            turns += 1
    return turns == 1


@njit(cache=True)
def _ring_flagged(xy, idx, m):
    """Whether ring ``xy[idx[0]], ..., xy[idx[m - 1]]`` (closed) may cross or touch itself.

    False only when every pair of its edges is proved apart: see :func:`maybe_not_simple`.
    """
    if m < 3:
        return True
    for i in range(m):
        v = idx[i]
        if not (np.isfinite(xy[v, 0]) and np.isfinite(xy[v, 1])):
            return True
    if _star_simple(xy, idx, m):
        return False
    # zero-length edges and fold-backs at each vertex (adjacent edges)
    for i in range(m):
        a = idx[(i + m - 1) % m]
        b = idx[i]
        c = idx[(i + 1) % m]
        if xy[b, 0] == xy[c, 0] and xy[b, 1] == xy[c, 1]:
            return True
        d, e = _orient(xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1])
        if abs(d) <= e:
            dot = (xy[b, 0] - xy[a, 0]) * (xy[c, 0] - xy[b, 0]) + (xy[b, 1] - xy[a, 1]) * (xy[c, 1] - xy[b, 1])
            if dot <= 0.0 or m == 3:
                return True
    return _edges_may_cross(xy, idx, m)


@njit(cache=True)
def _edges_may_cross(xy, idx, m):
    """Whether two non-adjacent edges of the ring may share a point (edge ``i`` runs from vertex ``i``).

    Edges are swept by left end: a pair is tested only when the x-ranges of
    its edges meet (the pairs left out are apart by :func:`_may_cross`'s
    first test).
    """
    x0 = np.empty(m)
    x1 = np.empty(m)
    for i in range(m):
        xa = xy[idx[i], 0]
        xb = xy[idx[(i + 1) % m], 0]
        x0[i] = min(xa, xb)
        x1[i] = max(xa, xb)
    order = np.argsort(x0)
    for p in range(m):
        i = order[p]
        a = idx[i]
        b = idx[(i + 1) % m]
        for q in range(p + 1, m):
            j = order[q]
            if x0[j] > x1[i]:
                break
            if j == (i + 1) % m or i == (j + 1) % m:
                continue  # adjacent edges: tested at their shared vertex
            c = idx[j]
            d = idx[(j + 1) % m]
            if _may_cross(xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[c, 0], xy[c, 1], xy[d, 0], xy[d, 1]):
                return True
    return False


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
    idx = np.empty(max(1, plen.max()) if n else 1, np.int64)
    for p in range(n):
        s = pstart[p]
        m = plen[p]
        for i in range(m):
            idx[i] = s + i
        out[p] = _ring_flagged(xy, idx, m)
    return out


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
def _shared_pixels(counts, sa, ea, sb, eb, lo, hi):
    """Pixels in ``[lo, hi)`` set in both masks ``counts[sa:ea]`` and ``counts[sb:eb]`` (runs from a 0-run).

    Runs before ``lo`` are only summed; the two run lists are walked in
    step from there until ``hi``.
    """
    ka = sa
    pa = np.int64(0)  # where run ka starts
    while ka < ea and pa + np.int64(counts[ka]) <= lo:
        pa += np.int64(counts[ka])
        ka += 1
    kb = sb
    pb = np.int64(0)
    while kb < eb and pb + np.int64(counts[kb]) <= lo:
        pb += np.int64(counts[kb])
        kb += 1
    if ka >= ea or kb >= eb:
        return np.int64(0)
    ra = pa + np.int64(counts[ka]) - lo  # pixels left in the current runs
    rb = pb + np.int64(counts[kb]) - lo
    va = (ka - sa) % 2 == 1
    vb = (kb - sb) % 2 == 1
    pos = lo
    inter = np.int64(0)
    while pos < hi:
        c = min(ra, rb)
        if va and vb:
            inter += min(c, hi - pos)
        pos += c
        ra -= c
        rb -= c
        if ra == 0:
            ka += 1
            if ka >= ea:
                break
            ra = np.int64(counts[ka])
            va = not va
        if rb == 0:
            kb += 1
            if kb >= eb:
                break
            rb = np.int64(counts[kb])
            vb = not vb
    return inter


@njit(cache=True)
def _overlap_span(bb, a, b, height):
    """Column-major pixel positions ``[lo, hi)`` holding the overlap of boxes ``a`` and ``b`` (all: height 0)."""
    if height <= 0:
        return np.int64(0), np.int64(9223372036854775807)
    x0 = np.int64(max(bb[a, 0], bb[b, 0]))
    y0 = np.int64(max(bb[a, 1], bb[b, 1]))
    x1 = np.int64(min(bb[a, 0] + bb[a, 2], bb[b, 0] + bb[b, 2]))
    y1 = np.int64(min(bb[a, 1] + bb[a, 3], bb[b, 1] + bb[b, 3]))
    return x0 * height + y0, (x1 - 1) * height + y1


@njit(cache=True)
def intersecting_pairs(counts, offsets, bb, gstart):
    """Pairs of masks of one group (image) that share pixels, with their intersection and union.

    As :func:`pairs_sharing_pixels` over masks ``counts[offsets[i] :
    offsets[i + 1]]`` (every run walked), plus each pair's union.

    Returns
    -------
    lo, hi, inter, union : int64 arrays
    tested : int
    """
    n = offsets.shape[0] - 1
    area = np.zeros(n, np.int64)
    for i in range(n):
        for k in range(offsets[i] + 1, offsets[i + 1], 2):
            area[i] += np.int64(counts[k])
    lo, hi, inter, tested = pairs_sharing_pixels(counts, offsets[:-1], offsets[1:], np.zeros(n, np.int64), bb,
                                                 gstart)
    union = area[lo] + area[hi] - inter
    return lo, hi, inter, union, tested


@njit(cache=True)
def pairs_sharing_pixels(counts, starts, ends, heights, bb, gstart):
    """Pairs of masks of one group (image) that share pixels, by sweeping boxes strip by strip.

    Mask ``i`` has runs ``counts[starts[i] : ends[i]]`` (column-major, of an
    image ``heights[i]`` rows high; 0: unknown, every run is walked) and a
    non-empty pixel box ``bb[i] = (x, y, w, h)``; group ``g`` holds masks
    ``gstart[g] .. gstart[g + 1]`` (all of one height and width). Within a
    group, boxes are bucketed into horizontal strips (about twice the mean box
    height), and each strip is swept by left edge. A pair is considered only
    in the strip holding the top row of its boxes' overlap, so once. Runs are
    walked only for pairs whose boxes overlap, and only over the pixels
    between the first and the last of the overlap of the boxes: the work
    follows the number of overlapping boxes, not the square of the group's
    size, even for a million small objects in one image.

    Returns
    -------
    lo, hi : int64 arrays
        Global mask indices, ``lo < hi``, of pairs with a non-empty
        intersection (in no particular order).
    inter : int64 array
        Their shared pixel counts.
    tested : int
        How many pairs had their runs walked (boxes overlapping).
    """
    cap = 16
    lo = np.empty(cap, np.int64)
    hi = np.empty(cap, np.int64)
    inter = np.empty(cap, np.int64)
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
                    w0, w1 = _overlap_span(bb, a, b, heights[a])
                    i = _shared_pixels(counts, starts[a], ends[a], starts[b], ends[b], w0, w1)
                    if i > 0:
                        if n == lo.shape[0]:
                            lo = _grow(lo, n)
                            hi = _grow(hi, n)
                            inter = _grow(inter, n)
                        lo[n] = min(a, b)
                        hi[n] = max(a, b)
                        inter[n] = i
                        n += 1
    return lo[:n], hi[:n], inter[:n], tested
