"""Numba kernels for composing and splitting label maps (pure: arrays in, arrays out).

All flat arrays are in column-major (RLE) order: index ``c * h + r``.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit


@njit(cache=True)
def paint_runs(counts, offsets, order, owner, hidden):
    """Paint RLEs into the C-ordered ``(h, w)`` array ``owner`` in ``order``; a later RLE overwrites.

    ``owner[r, c]`` becomes ``k + 1`` for the last RLE ``k`` covering the
    pixel; ``hidden[j]`` counts the pixels of RLE ``j`` that a later one
    overwrote. Runs are column-major, so the walk keeps ``(r, c)`` as it goes.
    """
    h = owner.shape[0]
    for t in range(order.shape[0]):
        k = order[t]
        a = offsets[k]
        b = offsets[k + 1]
        pos = 0
        for i in range(a, b):
            cnt = counts[i]
            if (i - a) & 1:
                r = pos % h
                c = pos // h
                for _ in range(cnt):
                    prev = owner[r, c]
                    if prev != 0:
                        hidden[prev - 1] += 1
                    owner[r, c] = k + 1
                    r += 1
                    if r == h:
                        r = 0
                        c += 1
            pos += cnt


@njit(cache=True)
def _grow(arr, need):
    if need <= arr.shape[0]:
        return arr
    cap = arr.shape[0] * 2
    while cap < need:
        cap *= 2
    out = np.empty(cap, arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True)
def runs_to_counts(se, offsets, groups, N):
    """RLE counts of groups of labels.

    ``groups`` lists, for each output mask, a ``-1``-terminated sequence of
    label indices whose runs (``se[offsets[i]:offsets[i+1]]``, sorted, not
    overlapping across labels) are joined. Returns ``(counts, count_offsets)``.
    """
    # upper bound: 2 counts per run + 1
    n_out = 0
    for g in groups:
        if g < 0:
            n_out += 1
    cap = se.shape[0] + n_out
    counts = np.empty(cap, np.uint32)
    coff = np.zeros(n_out + 1, np.int64)
    o = 0
    k = 0
    gi = 0
    while gi < groups.shape[0]:
        # collect the labels of this group
        gstart = gi
        while groups[gi] >= 0:
            gi += 1
        gend = gi
        gi += 1
        m = gend - gstart
        # k-way merge by run start (groups are small; linear pick is fine)
        ptr = np.empty(m, np.int64)
        for t in range(m):
            ptr[t] = offsets[groups[gstart + t]]
        last = 0
        start_k = k
        while True:
            best = -1
            bs = 0
            for t in range(m):
                lab = groups[gstart + t]
                if ptr[t] < offsets[lab + 1]:
                    s0 = se[ptr[t]]
                    if best < 0 or s0 < bs:
                        best = t
                        bs = s0
            if best < 0:
                break
            e0 = se[ptr[best] + 1]
            ptr[best] += 2
            if k > start_k and bs == last:
                counts[k - 1] += e0 - bs
            else:
                counts[k] = bs - last
                counts[k + 1] = e0 - bs
                k += 2
            last = e0
        if last < N or k == start_k:
            counts[k] = N - last
            k += 1
        o += 1
        coff[o] = k
    return counts[:k], coff


@njit(cache=True)
def label_runs(labels, n, rr, out):
    """Column-major runs ``[start, end)`` of each label 1..n of a C-ordered label image.

    One sequential pass collects row runs, boxes and areas; then, label by
    label, the row runs are drawn into a small column-major buffer of the
    label's box and read back as column runs (cache-friendly both ways). Runs
    that end a column and start the next are left for
    :func:`runs_to_counts` to join. ``rr`` (4 per row run) and ``out`` (2 per
    column run) are scratch arrays; when one is too small the function
    returns ``k = -1`` and the caller retries with larger ones.

    Returns ``(k, offsets, first, area)``: ``out[offsets[i]:offsets[i+1]]``
    alternates run starts and ends (flat column-major indices) of label
    ``i + 1``; ``first[i]`` is its first pixel, ``area[i]`` its pixel count.
    """
    h, w = labels.shape
    box = np.empty((n, 4), np.int64)  # rmin, rmax, cmin, cmax
    box[:, 0] = h
    box[:, 1] = -1
    box[:, 2] = w
    box[:, 3] = -1
    area = np.zeros(n, np.int64)
    nrr = np.zeros(n + 1, np.int64)
    offsets = np.zeros(n + 1, np.int64)
    first = np.full(n, -1, np.int64)
    rcap = rr.shape[0] // 4
    ocap = out.shape[0]
    flat = labels.reshape(-1)
    m = 0
    for r in range(h):
        base = r * w
        c = 0
        while c < w:
            v = flat[base + c]
            e = c + 1
            # skip uniform 64-pixel blocks with a branch-free, vectorizable test
            # (1-D slices: 2-D indexing here keeps LLVM from vectorizing)
            while e + 64 <= w:
                blk = flat[base + e : base + e + 64]
                acc = 0
                for j in range(64):
                    acc |= blk[j] ^ v
                if acc != 0:
                    break
                e += 64
            while e < w and flat[base + e] == v:
                e += 1
            if v > 0:
                if m >= rcap:
                    return -1, offsets, first, area
                i = v - 1
                area[i] += e - c
                if r < box[i, 0]:
                    box[i, 0] = r
                box[i, 1] = r
                if c < box[i, 2]:
                    box[i, 2] = c
                if e - 1 > box[i, 3]:
                    box[i, 3] = e - 1
                rr[4 * m] = i
                rr[4 * m + 1] = r
                rr[4 * m + 2] = c
                rr[4 * m + 3] = e
                m += 1
                nrr[v] += 1
            c = e
    # group row runs by label (counting sort, stable)
    for i in range(n):
        nrr[i + 1] += nrr[i]
    pos = nrr[:-1].copy()
    idx = np.empty(m, np.int64)
    for j in range(m):
        i = rr[4 * j]
        idx[pos[i]] = j
        pos[i] += 1
    # Row runs -> column runs, in time proportional to the outline, not the
    # box: walking down a label's rows, a column run starts where the current
    # row covers a column the previous row did not, and ends where the
    # previous row covered one the current row does not. Events come out in
    # row order; a stable counting sort by column then pairs them up.
    maxarea = 0
    maxw = 0
    for i in range(n):
        maxarea = max(maxarea, area[i])
        if box[i, 1] >= 0:
            maxw = max(maxw, box[i, 3] - box[i, 2] + 1)
    ev_col = np.empty(2 * maxarea + 2, np.int64)
    ev_row = np.empty(2 * maxarea + 2, np.int64)
    ev_sorted = np.empty(2 * maxarea + 2, np.int64)
    ccount = np.zeros(maxw + 1, np.int64)
    k = 0
    for i in range(n):
        if box[i, 1] < 0:
            offsets[i + 1] = k
            continue
        r0 = box[i, 0]
        r1 = box[i, 1]
        c0 = box[i, 2]
        bw = box[i, 3] - c0 + 1
        ne = 0
        t = nrr[i]
        tend = nrr[i + 1]
        pa = t  # previous row's runs: idx[pa:pb]
        pb = t
        for r in range(r0, r1 + 2):
            ca = t  # current row's runs: idx[ca:cb]
            while t < tend and rr[4 * idx[t] + 1] == r:
                t += 1
            cb = t
            # sweep both sorted interval lists; emit columns where they differ
            ip = pa
            ic = ca
            x = 0
            while ip < pb or ic < cb:
                # next segment boundaries
                if ip < pb:
                    ps = rr[4 * idx[ip] + 2]
                    pe = rr[4 * idx[ip] + 3]
                else:
                    ps = 1 << 62
                    pe = 1 << 62
                if ic < cb:
                    cs = rr[4 * idx[ic] + 2]
                    ce = rr[4 * idx[ic] + 3]
                else:
                    cs = 1 << 62
                    ce = 1 << 62
                x = max(x, min(ps, cs))
                inp = ps <= x < pe
                inc = cs <= x < ce
                # the segment runs to the next boundary of either list
                nxt = min(pe if inp else ps, ce if inc else cs)
                if inp != inc:
                    for col in range(x, nxt):
                        ev_col[ne] = col - c0
                        ev_row[ne] = r
                        ne += 1
                x = nxt
                if inp and x >= pe:
                    ip += 1
                if inc and x >= ce:
                    ic += 1
            pa = ca
            pb = cb
        # stable counting sort of the events by column
        for col in range(bw + 1):
            ccount[col] = 0
        for e in range(ne):
            ccount[ev_col[e] + 1] += 1
        for col in range(bw):
            ccount[col + 1] += ccount[col]
        for e in range(ne):
            col = ev_col[e]
            ev_sorted[ccount[col]] = ev_row[e]
            ccount[col] += 1
        if k + ne > ocap:
            return -1, offsets, first, area
        # ccount[col] now ends column col's events; they alternate start, end
        lo = 0
        for col in range(bw):
            hi = ccount[col]
            base = (c0 + col) * h
            for e in range(lo, hi, 2):
                out[k] = base + ev_sorted[e]
                out[k + 1] = base + ev_sorted[e + 1]
                if first[i] < 0:
                    first[i] = out[k]
                k += 2
            lo = hi
        offsets[i + 1] = k
    return k, offsets, first, area


@njit(cache=True)
def apply_luts(owner, lut_c, lut_i, cmap, imap):
    """``cmap = lut_c[owner]`` and ``imap = lut_i[owner]`` in one pass."""
    o = owner.reshape(-1)
    c = cmap.reshape(-1)
    m = imap.reshape(-1)
    for p in range(o.shape[0]):
        k = o[p]
        c[p] = lut_c[k]
        m[p] = lut_i[k]
