"""Numba kernels: polygon -> RLE under pycocotools' rule, straight to runs.

pycocotools (``rleFrPoly``) scales vertices by 5, traces every edge with a DDA
into a dense list of points, keeps the points where the trace crosses a pixel
column centre, and turns those into toggles. Here each edge yields its column
crossings directly, evaluating pycocotools' exact floating-point expressions
only at the points that matter, so the work is proportional to the number of
crossings rather than to the perimeter in 1/5 pixels. The result is equal bit
for bit (see ``tests/test_rle_oracle.py``).

Never compile these with ``fastmath``: fused multiply-add changes ``ys + s*t``
on a few polygons in ten thousand.
"""

from __future__ import annotations

import math

import numpy as np
from .._jit import njit

from ._kernels import merge2


@njit(cache=True, nogil=True, inline="always")
def _trunc(v):
    # C's (int) cast of a double: truncation toward zero.
    return np.int64(v)


@njit(cache=True, nogil=True, inline="always")
def _oriented(xs, ys, xe, ye):
    """An edge as pycocotools traces it: from the end with the smaller stepping coordinate.

    Parameters
    ----------
    xs, ys, xe, ye : int64
        Start and end on the 5x grid.

    Returns
    -------
    xs, ys, xe, ye : int64
        The ends, swapped when ``flip``.
    dx, dy : int64
        The absolute extents (the DDA steps along x when ``dx >= dy``).
    flip : bool
        Whether the ends were swapped.
    """
    dx = abs(xe - xs)
    dy = abs(ys - ye)
    flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
    if flip:
        return xe, ye, xs, ys, dx, dy, True
    return xs, ys, xe, ye, dx, dy, False


@njit(cache=True, nogil=True, inline="always")
def _first_centre(lo):
    # The first u >= lo of the form 5 n + 2 with n >= 0 (a column centre).
    r = (lo - 2) % 5
    if r != 0:
        lo += 5 - r
    return lo if lo >= 2 else np.int64(2)


@njit(cache=True, nogil=True)
def _edge_point(xs, ys, xe, ye, at_end):
    """The (u, v) pycocotools emits for the start (or end) of an edge."""
    if xs == xe and ys == ye:
        # pycocotools computes 0/0 here; the value is never used because the
        # neighbouring points share its column.
        return xs, ys
    xs, ys, xe, ye, dx, dy, flip = _oriented(xs, ys, xe, ye)
    # In flipped coordinates the original start is t = d_max, the end t = 0.
    if dx >= dy:
        s = float(ye - ys) / dx
        t = dx if (flip != at_end) else 0
        return t + xs, _trunc(ys + s * t + 0.5)
    s = float(xe - xs) / dy
    t = dy if (flip != at_end) else 0
    return _trunc(xs + s * t + 0.5), t + ys


@njit(cache=True, nogil=True, inline="always")
def _row_of(vmin, h):
    # pycocotools: clamp((vmin + .5) / 5 - .5, 0, h), then ceil. That double
    # is (vmin - 2) / 5, exact when it is a whole number and at least 0.2 away
    # from one otherwise, so integer arithmetic gives the same row.
    d = vmin - 2
    if d <= 0:
        return np.int64(0)
    r = (d + 4) // 5
    return r if r < h else np.int64(h)


_ONE = np.uint64(1)
_SIX = np.uint64(63)


@njit(cache=True, nogil=True, inline="always")
def _put(out, k, bits, base, n, row, h):
    """Record the toggle (column n, row): k counts the toggles in out[0] (column), out[1] (row).

    Or, when bits is not empty, flip the bit of position ``n * h + row - base``
    and count only strays (a position beyond bits; none by construction).
    """
    if bits.shape[0] == 0:
        out[0, k] = n
        out[1, k] = row
        return k + 1
    i = n * h + row - base
    if i < 0 or i >= bits.shape[0] * 64:
        return k + 1
    bits[i >> 6] ^= _ONE << (np.uint64(i) & _SIX)
    return k


@njit(cache=True, nogil=True)
def _edge_crossings(xs, ys, xe, ye, h, w, out, k, bits, base):
    """Record the toggles of one edge's interior pairs with :func:`_put`; the new k."""
    if xs == xe and ys == ye:
        return k
    xs, ys, xe, ye, dx, dy, flip = _oriented(xs, ys, xe, ye)
    if dx >= dy:
        # u = xs + t, pairs (t, t + 1) with t = 0 .. dx - 1; crossing when
        # xs + t == 5 n + 2 for a column n in [0, w - 1].
        # The pair's lower end is at t when s >= 0 and at t + 1 otherwise:
        # ys + s * t + 0.5 is monotone in t (rounding is), and so is trunc.
        s = float(ye - ys) / dx
        first = _first_centre(xs)
        last = min(xs + dx - 1, 5 * (w - 1) + 2)
        if first > last:
            return k
        n = (first - 2) // 5
        t = first - xs if s >= 0 else first - xs + 1
        for _ in range((last - first) // 5 + 1):
            k = _put(out, k, bits, base, n, _row_of(_trunc(ys + s * t + 0.5), h), h)
            n += 1
            t += 5
        return k
    # Steep edge: v = ys + t, u(t) = trunc(xs + s t + 0.5), monotone in t.
    s = float(xe - xs) / dy
    if dx == 0:
        return k
    u0 = _trunc(xs + 0.5)
    u1 = _trunc(xs + s * dy + 0.5)
    umin = min(u0, u1)
    umax = max(u0, u1)
    # Pairs where u changes between 5n+2 and 5n+3 cross column n.
    first = _first_centre(umin)
    last = min(umax - 1, 5 * (w - 1) + 2)
    inv = 1.0 / s  # only for the first guess; the loops below make it exact
    c = first
    while c <= last:
        if s > 0:
            target = c + 1  # smallest t with u(t) >= c + 1
            t = np.int64(math.ceil((target - 0.5 - xs) * inv))
            if t < 0:
                t = 0
            if t > dy:
                t = dy
            while t > 0 and _trunc(xs + s * (t - 1) + 0.5) >= target:
                t -= 1
            while t < dy and _trunc(xs + s * t + 0.5) < target:
                t += 1
        else:
            target = c  # smallest t with u(t) <= c
            t = np.int64(math.ceil((target + 0.5 - xs) * inv))
            if t < 0:
                t = 0
            if t > dy:
                t = dy
            while t > 0 and _trunc(xs + s * (t - 1) + 0.5) <= target:
                t -= 1
            while t < dy and _trunc(xs + s * t + 0.5) > target:
                t += 1
        k = _put(out, k, bits, base, (c - 2) // 5, _row_of(ys + t - 1, h), h)
        c += 5
    return k


@njit(cache=True, nogil=True)
def _pair_crossing(ua, va, ub, vb, h, w, out, k, bits, base):
    # pycocotools' test for a consecutive point pair (a then b).
    if ua == ub:
        return k
    xi = ub if ub < ua else ub - 1
    xd = (float(xi) + 0.5) / 5.0 - 0.5
    if math.floor(xd) != xd or xd < 0 or xd > w - 1:
        return k
    return _put(out, k, bits, base, np.int64(xd), _row_of(min(va, vb), h), h)


@njit(cache=True, nogil=True)
def _insertion_sort(a, lo, hi):
    for i in range(lo + 1, hi):
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit(cache=True, nogil=True)
def _sorted_positions(cr, k, h, pos, order):
    """Positions column * h + row of the k toggles in cr, sorted.

    cr[0] holds columns, cr[1] rows; pos (k + 1) and order (k) are
    workspaces, pos receives the result. Two stable counting passes, by row then by
    column (an LSD radix sort): linear in the number of toggles, which large,
    jagged polygons produce by the hundred thousand, and free of divisions.
    """
    if k == 0:
        return
    cmin = cr[0, 0]
    cmax = cmin
    rmin = cr[1, 0]
    rmax = rmin
    for i in range(k):
        cmin = min(cmin, cr[0, i])
        cmax = max(cmax, cr[0, i])
        rmin = min(rmin, cr[1, i])
        rmax = max(rmax, cr[1, i])
    nc = cmax - cmin + 1
    nr = rmax - rmin + 1
    if k < 32 or nc + nr > 16 * k:
        for i in range(k):
            pos[i] = np.int64(cr[0, i]) * h + cr[1, i]
        pos[:k].sort()
        return
    cnt = np.zeros(max(nc, nr) + 1, dtype=np.int32)
    if k < 16 * nc:
        # Few toggles per column (the usual case): bucket by column, then an
        # insertion sort inside each short bucket.
        for i in range(k):
            cnt[cr[0, i] - cmin + 1] += 1
        for b in range(nc):
            cnt[b + 1] += cnt[b]
        for i in range(k):
            b = cr[0, i] - cmin
            pos[cnt[b]] = np.int64(cr[0, i]) * h + cr[1, i]
            cnt[b] += 1
        lo = 0
        for b in range(nc):
            hi = cnt[b]
            if hi - lo > 1:
                _insertion_sort(pos, lo, hi)
            lo = hi
        return
    for i in range(k):
        cnt[cr[1, i] - rmin + 1] += 1
    for b in range(nr):
        cnt[b + 1] += cnt[b]
    for i in range(k):
        b = cr[1, i] - rmin
        order[cnt[b]] = i
        cnt[b] += 1
    cnt[: nc + 1] = 0
    for i in range(k):
        cnt[cr[0, i] - cmin + 1] += 1
    for b in range(nc):
        cnt[b + 1] += cnt[b]
    for j in range(k):
        i = order[j]
        b = cr[0, i] - cmin
        pos[cnt[b]] = np.int64(cr[0, i]) * h + cr[1, i]
        cnt[b] += 1


@njit(cache=True, nogil=True)
def _toggles_to_counts(cr, k, h, w, a, order, dst):
    """pycocotools: sort toggles, append h*w, difference, fold cancelled pairs.

    Writes the runs into dst (len >= k + 1) and returns how many.
    """
    total = h * w  # no toggle exceeds h*w, so the order holds
    if k == 0:
        dst[0] = total
        return 1
    _sorted_positions(cr, k, h, a, order)
    # One pass over the differences: an empty run (a toggle twice) joins
    # the next run to the previous one.
    dst[0] = a[0]
    prev = a[0]
    m = 1
    join = False
    for j in range(1, k + 1):
        p = a[j] if j < k else total
        d = p - prev
        prev = p
        if join:
            dst[m - 1] += d
            join = False
        elif d > 0:
            dst[m] = d
            m += 1
        else:
            join = True
    return m


# De Bruijn sequence and table: the index of the lowest set bit of a uint64.
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_LOW_BIT = np.zeros(64, dtype=np.int64)
for _b in range(64):
    _LOW_BIT[((1 << _b) * 0x03F79D71B4CB0A89 & 0xFFFFFFFFFFFFFFFF) >> 58] = _b
del _b


@njit(cache=True, nogil=True)
def _bits_to_counts(bits, base, total, dst):
    """The runs of the toggle parity bits (bit i: position ``base + i``) into dst; how many.

    The same runs as :func:`_toggles_to_counts` gives for those toggles: a
    position toggled twice folds away there as it cancels here, and a toggle
    at ``total`` (row h of the last column) ends no run in either.
    """
    m = 0
    prev = np.int64(0)
    for wi in range(bits.shape[0]):
        x = bits[wi]
        while x != 0:
            low = x & (~x + _ONE)
            x ^= low
            p = base + wi * 64 + _LOW_BIT[(low * _DEBRUIJN) >> np.uint64(58)]
            if p >= total:
                break
            if m == 0:
                dst[0] = p
            else:
                dst[m] = p - prev
            m += 1
            prev = p
    if m == 0:
        dst[0] = total
        return 1
    dst[m] = total - prev
    return m + 1


@njit(cache=True, nogil=True, inline="always")
def _ring_columns(X, lo, hi, w):
    """``(first, count)``: the image columns the ring's toggles can fall in.

    Edge toggles lie between the vertices' columns; junction pairs of a ring
    with negative coordinates may round one grid unit beyond: a column of
    margin on each side covers both.
    """
    xmin = X[lo]
    xmax = X[lo]
    for j in range(lo, hi):
        xmin = min(xmin, X[j])
        xmax = max(xmax, X[j])
    first = max((xmin - 2) // 5 - 1, 0)
    last = min((xmax - 2) // 5 + 1, w - 1)
    return first, max(last - first + 1, 0)


@njit(cache=True, nogil=True, inline="always")
def _parity_words(X, lo, hi, h, w, bound):
    """Words of the ring's parity bitmap (one bit per position of its columns), or 0
    when a bitmap would be larger than sorting the ``bound`` toggles is worth."""
    nc = _ring_columns(X, lo, hi, w)[1]
    words = (nc * h) // 64 + 2
    return words if words <= 4 * bound + 256 else 0


@njit(cache=True, nogil=True)
def _ring_cost(X, Y, lo, hi, h, w):
    """``(bound, steps, words)`` of the ring X[lo:hi], Y[lo:hi] in an ``h`` x ``w`` image.

    bound: an upper bound on its toggles (+1 for the total). An edge crosses
    at most one pixel column per 5 grid units and at most every column of
    the image once, plus one junction pair: ``min(dx // 5, w) + 3`` covers
    it, so a far-away vertex costs no more than the image is wide.
    steps: the points pycocotools' DDA would trace (``max(dx, dy)`` per
    edge), the measure of work the caller limits. words: the int64 scratch
    :func:`_ring_counts` wants.
    """
    bound = 1
    steps = 0
    for j in range(lo, hi):
        j1 = j + 1 if j + 1 < hi else lo
        dx = abs(X[j1] - X[j])
        dy = abs(Y[j1] - Y[j])
        bound += min(dx // 5, w) + 3
        steps += max(dx, dy)
    return bound, steps, max(4 * bound + 2, _parity_words(X, lo, hi, h, w, bound))


@njit(cache=True, nogil=True)
def _ring_toggles(X, Y, lo, hi, h, w, out, bits, base):
    """Record every toggle of the ring X[lo:hi], Y[lo:hi] (see :func:`_put`); the count."""
    nt = 0
    # With no negative coordinate, every edge starts and ends exactly on its
    # vertices, so the pair of points where two edges meet is one point twice
    # and crosses nothing. Negative values round the other way in C's (int)
    # cast; then the junction pairs are evaluated as pycocotools does.
    negative = False
    for j in range(lo, hi):
        if X[j] < 0 or Y[j] < 0:
            negative = True
            break
    pu = np.int64(0)
    pv = np.int64(0)
    for j in range(lo, hi):
        j1 = j + 1 if j + 1 < hi else lo
        xs = X[j]
        ys = Y[j]
        xe = X[j1]
        ye = Y[j1]
        if negative and j > lo:
            su, sv = _edge_point(xs, ys, xe, ye, False)
            nt = _pair_crossing(pu, pv, su, sv, h, w, out, nt, bits, base)
        nt = _edge_crossings(xs, ys, xe, ye, h, w, out, nt, bits, base)
        if negative:
            pu, pv = _edge_point(xs, ys, xe, ye, True)
    return nt


@njit(cache=True, nogil=True)
def _ring_counts(X, Y, lo, hi, h, w, work, dst, bound):
    """Runs of the ring X[lo:hi], Y[lo:hi] (vertices on the 5x grid) into dst.

    bound: the ring's toggle bound from :func:`_ring_cost`; work: int64
    scratch of at least the words it gives. Returns the number of runs.

    A ring whose columns hold few pixels per toggle (the usual polygon)
    flips bits in a parity bitmap of its columns, read back in order: no
    sort. Others (long thin rings in large images) sort their toggles.
    """
    words = _parity_words(X, lo, hi, h, w, bound)
    none = work[:0].view(np.uint64)
    if words:
        bits = work[:words].view(np.uint64)
        bits[:] = 0
        first = _ring_columns(X, lo, hi, w)[0]
        if _ring_toggles(X, Y, lo, hi, h, w, work[:0].reshape(2, 0), bits, first * h) == 0:
            return _bits_to_counts(bits, first * h, h * w, dst)
    out = work[: 2 * bound].reshape(2, bound)
    pos = work[2 * bound : 3 * bound + 1]
    order = work[3 * bound + 1 : 4 * bound + 2]
    nt = _ring_toggles(X, Y, lo, hi, h, w, out, none, 0)
    return _toggles_to_counts(out, nt, h, w, pos, order, dst)


@njit(cache=True, nogil=True)
def _costs(X, Y, part_off, ann_off, h, w, limit):
    """Per-part toggle bounds, the output capacity and the largest scratch wanted.

    Returns (bounds, cap, most, bad, work): bad is the first annotation
    whose tracing work (DDA steps plus toggle bounds) exceeds limit, or -1;
    work is then its amount. Nothing proportional to the work is allocated.
    """
    n_ann = ann_off.shape[0] - 1
    bounds = np.empty(part_off.shape[0] - 1, dtype=np.int64)
    cap = np.int64(1)
    most = np.int64(0)
    for i in range(n_ann):
        hi = h[i if h.shape[0] > 1 else 0]
        wi = w[i if w.shape[0] > 1 else 0]
        total = np.int64(0)
        work = np.int64(0)
        for p in range(ann_off[i], ann_off[i + 1]):
            b, steps, words = _ring_cost(X, Y, part_off[p], part_off[p + 1], hi, wi)
            bounds[p] = b
            total += b
            work += b + steps
            most = max(most, words)
        if work > limit:
            return bounds, cap, most, i, work
        # Canonical runs of an h*w mask number at most h*w + 1, whatever the toggles.
        cap += min(total, hi * wi + 1) + 1
    return bounds, cap, most, -1, np.int64(0)


@njit(cache=True, nogil=True)
def polygons_batch(xy, part_off, ann_off, h, w, work, limit):
    """Rasterize many annotations, each the union of its parts.

    xy: (N, 2) float64 vertices of every part; part_off: start of each part in
    xy (n_parts + 1); ann_off: first part of each annotation (n_ann + 1).
    h, w: per-annotation int64 arrays (or of length 1 for all); work: int64
    scratch reused across calls to spare the allocator (fresh multi-megabyte
    buffers cost more in page faults than the rasterization); a local one is
    made when it is too small. limit: the most tracing work (see
    :func:`_costs`) one annotation may take. Returns (counts, offsets, the
    scratch size the largest part wanted, the first annotation over the
    limit or -1, its work).
    """
    n_ann = ann_off.shape[0] - 1
    N = xy.shape[0]
    # pycocotools' (int)(5 * x + 0.5): the vertices on the 5x grid.
    X = np.empty(N, dtype=np.int64)
    Y = np.empty(N, dtype=np.int64)
    for j in range(N):
        X[j] = _trunc(5.0 * xy[j, 0] + 0.5)
        Y[j] = _trunc(5.0 * xy[j, 1] + 0.5)
    bounds, cap, most, bad, amount = _costs(X, Y, part_off, ann_off, h, w, limit)
    if bad >= 0:  # refused before any allocation that grows with the work
        return np.zeros(0, np.uint32), np.zeros(0, np.int64), most, bad, amount
    if work.shape[0] < most:
        work = np.empty(most, dtype=np.int64)
    counts = np.empty(cap, dtype=np.uint32)
    offsets = np.empty(n_ann + 1, dtype=np.int64)
    pos = 0
    for i in range(n_ann):
        offsets[i] = pos
        hi = h[i if h.shape[0] > 1 else 0]
        wi = w[i if w.shape[0] > 1 else 0]
        p0 = ann_off[i]
        p1 = ann_off[i + 1]
        if hi * wi == 0:
            counts[pos] = 0
            pos += 1
        elif p1 == p0:
            counts[pos] = hi * wi
            pos += 1
        elif p1 == p0 + 1:
            pos += _ring_counts(X, Y, part_off[p0], part_off[p0 + 1], hi, wi, work, counts[pos:], bounds[p0])
        else:
            tmp = np.empty(bounds[p0], dtype=np.uint32)
            m = _ring_counts(X, Y, part_off[p0], part_off[p0 + 1], hi, wi, work, tmp, bounds[p0])
            acc = tmp[:m]
            for p in range(p0 + 1, p1):
                tmp = np.empty(bounds[p], dtype=np.uint32)
                m = _ring_counts(X, Y, part_off[p], part_off[p + 1], hi, wi, work, tmp, bounds[p])
                acc = merge2(acc, tmp[:m], False)
            counts[pos : pos + acc.shape[0]] = acc
            pos += acc.shape[0]
    offsets[n_ann] = pos
    return counts[:pos], offsets, most, -1, np.int64(0)


@njit(cache=True, nogil=True, inline="always")
def _adds_up_to(lengths, total):
    """Whether the non-negative ``lengths`` add up to exactly ``total``.

    The sum stops at the first excess, so huge values cannot wrap around to a match.
    """
    s = np.int64(0)
    for i in range(lengths.shape[0]):
        if lengths[i] < 0 or lengths[i] > total - s:
            return False
        s += lengths[i]
    return s == total


@njit(cache=True, nogil=True)
def _batch_problem(flat, part_len, ann_nparts, h, w, limit):
    """0 when the batch's arrays fit together and its sizes are sane, else a status.

    6: part lengths or part counts negative or not adding up, or size arrays
    neither of length 1 nor one per annotation; 7: a negative size or one
    over the pixel limit. (The Python callers build consistent arrays; this
    keeps a careless one from reading out of bounds.)
    """
    if not _adds_up_to(part_len, flat.shape[0]) or not _adds_up_to(ann_nparts, part_len.shape[0]):
        return 6
    n_ann = ann_nparts.shape[0]
    if n_ann == 0:
        return 0
    nh = h.shape[0]
    nw = w.shape[0]
    if (nh != 1 and nh != n_ann) or (nw != 1 and nw != n_ann):
        return 6
    for k in range(max(nh, nw)):
        hk = h[min(k, h.shape[0] - 1)]
        wk = w[min(k, w.shape[0] - 1)]
        if hk < 0 or wk < 0 or hk > limit or wk > limit or (wk and hk > limit // wk):
            return 7
    return 0


@njit(cache=True, nogil=True)
def _part_status(flat, start, n, max_coord):
    """0 when flat[start:start + n] is a part: an even count of at least 6 finite
    coordinates within +/-max_coord; else the status of :func:`polygons_flat`."""
    if n % 2:
        return 1
    if n < 6:
        return 2
    for j in range(start, start + n):
        v = flat[j]
        if not np.isfinite(v):
            return 3
        if abs(v) > max_coord:
            return 4
    return 0


@njit(cache=True, nogil=True)
def polygons_flat(flat, part_len, ann_nparts, h, w, work, max_coord, limit):
    """polygons_batch on COCO-style input, validated in the same call.

    flat: every coordinate of every part, concatenated; part_len: coordinates
    per part; ann_nparts: parts per annotation; limit: the pixel limit, for
    the image sizes and for each annotation's tracing work. Returns (counts,
    offsets, most, status, index): status 0 ok, 1 odd coordinate count, 2
    fewer than 3 points, 3 NaN/inf, 4 |coordinate| > max_coord (index: the
    bad part); 5 tracing work over the limit (index: the annotation, most:
    its work); 6 arrays that do not fit together, 7 a size negative or over
    the limit (index -1).
    """
    problem = _batch_problem(flat, part_len, ann_nparts, h, w, limit)
    if problem:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64), 0, problem, -1
    n_parts = part_len.shape[0]
    part_off = np.zeros(n_parts + 1, dtype=np.int64)
    start = 0
    for p in range(n_parts):
        n = part_len[p]
        status = _part_status(flat, start, n, max_coord)
        if status:
            return np.zeros(0, np.uint32), np.zeros(0, np.int64), 0, status, p
        start += n
        part_off[p + 1] = part_off[p] + n // 2
    ann_off = np.zeros(ann_nparts.shape[0] + 1, dtype=np.int64)
    for i in range(ann_nparts.shape[0]):
        ann_off[i + 1] = ann_off[i] + ann_nparts[i]
    xy = flat.reshape(-1, 2)
    counts, offsets, most, bad, amount = polygons_batch(xy, part_off, ann_off, h, w, work, limit)
    if bad >= 0:
        return counts, offsets, amount, 5, bad
    return counts, offsets, most, 0, -1


@njit(cache=True, nogil=True)
def polygon_one(flat, h, w, work, max_coord, limit):
    """:func:`polygons_flat` of one annotation of one part, the size as two integers.

    The per-call path of ``from_polygons``, lean: no size or length arrays,
    the vertices and the ring's scratch in ``work`` (or in a local array
    when it is too small). Returns ``(counts, most)``: most, the scratch
    words wanted; counts empty when a value is refused (any status of
    :func:`polygons_flat` but 0: the caller's careful path words it).
    """
    if h < 0 or w < 0 or h > limit or w > limit or (w and h > limit // w):
        return np.zeros(0, np.uint32), 0
    n = flat.shape[0]
    if _part_status(flat, 0, n, max_coord):
        return np.zeros(0, np.uint32), 0
    k = n // 2
    if work.shape[0] < 2 * k:
        work = np.empty(2 * k, dtype=np.int64)
    X = work[:k]
    Y = work[k : 2 * k]
    for j in range(k):
        X[j] = _trunc(5.0 * flat[2 * j] + 0.5)
        Y[j] = _trunc(5.0 * flat[2 * j + 1] + 0.5)
    bound, steps, words = _ring_cost(X, Y, 0, k, h, w)
    if bound + steps > limit:
        return np.zeros(0, np.uint32), 0
    if h * w == 0:
        return np.zeros(1, np.uint32), 0
    rest = work[2 * k :]
    if rest.shape[0] < words:
        rest = np.empty(words, dtype=np.int64)
    counts = np.empty(min(bound, h * w + 1) + 1, dtype=np.uint32)
    m = _ring_counts(X, Y, 0, k, h, w, rest, counts, bound)
    return counts[:m], 2 * k + words
