"""Numba kernels for composing and splitting label maps (pure: arrays in, arrays out).

All flat arrays are in column-major (RLE) order: index ``c * h + r``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
    maxbox = 0
    for i in range(n):
        if box[i, 1] >= 0:
            maxbox = max(maxbox, (box[i, 1] - box[i, 0] + 1) * (box[i, 3] - box[i, 2] + 1))
    buf = np.zeros(maxbox, np.uint8)
    k = 0
    for i in range(n):
        r0 = box[i, 0]
        c0 = box[i, 2]
        if box[i, 1] < 0:
            offsets[i + 1] = k
            continue
        bh = box[i, 1] - r0 + 1
        bw = box[i, 3] - c0 + 1
        for t in range(nrr[i], nrr[i + 1]):
            j = idx[t]
            r = rr[4 * j + 1] - r0
            for cc in range(rr[4 * j + 2] - c0, rr[4 * j + 3] - c0):
                buf[cc * bh + r] = 1
        for cc in range(bw):
            base = (c0 + cc) * h + r0
            col = cc * bh
            open_start = -1
            for r in range(bh):
                if buf[col + r]:
                    buf[col + r] = 0
                    if open_start < 0:
                        open_start = base + r
                        if first[i] < 0:
                            first[i] = open_start
                elif open_start >= 0:
                    if k + 2 > ocap:
                        return -1, offsets, first, area
                    out[k] = open_start
                    out[k + 1] = base + r
                    k += 2
                    open_start = -1
            if open_start >= 0:
                if k + 2 > ocap:
                    return -1, offsets, first, area
                out[k] = open_start
                out[k + 1] = base + bh
                k += 2
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
