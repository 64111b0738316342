"""Numba kernels for COCO run-length encoding.

Pure functions: arrays in, arrays (or integers) out, no Python objects. The
Python face in :mod:`segmill.rle` validates inputs and explains errors.

Counts are ``uint32`` arrays in COCO semantics: runs over the column-major
flattening of an ``(h, w)`` mask, alternating 0-runs and 1-runs, starting with
a (possibly empty) 0-run. "Canonical" counts have no empty run except possibly
the first, and sum to ``h * w``.

A batch of RLEs travels as ``(counts, offsets)``: the concatenation of every
RLE's counts and an ``int64`` array of ``n + 1`` start offsets.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# uint64 constants: comparing a uint64 with an int64 literal makes numba go
# through float64, which cannot tell 0x0101010101010101 from its neighbours.
_ZERO8 = np.uint64(0)
_ONES8 = np.uint64(0x0101010101010101)
_HIGH8 = np.uint64(0x8080808080808080)

# Every kernel is compiled with cache=True and without fastmath: the merge and
# IoU code is integer-only, but the same flag policy everywhere keeps it simple.


@njit(cache=True, nogil=True)
def canonicalize(counts):
    """Return counts with empty interior runs folded away (a new array)."""
    n = counts.shape[0]
    out = np.empty(max(n, 1), dtype=np.uint32)
    if n == 0:
        out[0] = 0
        return out
    out[0] = counts[0]
    m = 1
    pending = False
    for i in range(1, n):
        c = counts[i]
        if c == 0:
            # An empty run means the next run continues the previous one.
            pending = not pending
            continue
        if pending:
            out[m - 1] += c
            pending = False
        else:
            out[m] = c
            m += 1
    return out[:m].copy()


@njit(cache=True, nogil=True)
def check_counts(counts, total):
    """0 if counts are canonical and sum to total, 1 if not canonical, -1 if the sum is wrong."""
    s = np.int64(0)
    canonical = 1
    for i in range(counts.shape[0]):
        s += np.int64(counts[i])
        if i > 0 and counts[i] == 0:
            canonical = 0
    if s != total:
        return -1
    return 0 if canonical else 1


@njit(cache=True, nogil=True, inline="always")
def _zero_bytes(v):
    # Nonzero iff some byte of v is zero (the classic has-zero-byte test).
    return (v - _ONES8) & ~v & _HIGH8


@njit(cache=True, nogil=True)
def _encode_span(flat, words, out, m, i, prev, start):
    # The scanning loop of encode_fortran; stops early when out is full.
    # (A separate function so that out is never re-bound inside the hot loop:
    # numba then reloads it on every iteration, ten times slower.)
    n = flat.shape[0]
    nw = words.shape[0]
    cap = out.shape[0] - 1
    while i < n:
        if (i & 7) == 0:
            wi = i >> 3
            if prev == 0:
                while wi < nw and words[wi] == _ZERO8:
                    wi += 1
            else:
                while wi < nw and _zero_bytes(words[wi]) == _ZERO8:
                    wi += 1
            i = wi << 3
            if i >= n:
                break
        v = 1 if flat[i] != 0 else 0
        if v != prev:
            if m == cap:
                return m, i, prev, start
            out[m] = i - start
            m += 1
            start = i
            prev = v
        i += 1
    return m, n, prev, start


@njit(cache=True, nogil=True)
def encode_fortran(flat, words):
    """Counts of a flat column-major uint8 mask (nonzero = foreground).

    words is the first ``len(flat) // 8 * 8`` bytes of flat viewed as uint64.
    Whole words that cannot hold a transition (all zero inside a 0-run, no
    zero byte inside a 1-run) are skipped in one comparison each.
    """
    n = flat.shape[0]
    out = np.empty(min(n + 1, 1 << 16), dtype=np.uint32)
    m, i, prev, start = _encode_span(flat, words, out, 0, 0, 0, 0)
    while i < n:
        grown = np.empty(min(out.shape[0] * 4, n + 1), dtype=np.uint32)
        grown[:m] = out[:m]
        out = grown
        m, i, prev, start = _encode_span(flat, words, out, m, i, prev, start)
    out[m] = n - start
    return out[: m + 1].copy()


@njit(cache=True, nogil=True)
def encode_c(mask):
    """Counts of a C-ordered (h, w) uint8 mask, read row by row.

    Column-major runs are found without a transposed copy: a first pass counts
    the transitions of each column, a second writes their positions. Rows are
    compared 8 columns at a time where they are bytewise equal.
    """
    h, w = mask.shape
    total = h * w
    if total == 0:
        return np.zeros(1, dtype=np.uint32)
    per_col = np.zeros(w + 1, dtype=np.int64)
    nw = w // 8
    for c in range(w):
        a = 1 if mask[0, c] != 0 else 0
        b = 0
        if c > 0:
            b = 1 if mask[h - 1, c - 1] != 0 else 0
        if a != b:
            per_col[c + 1] += 1
    for r in range(1, h):
        cur = mask[r].view(np.uint64) if nw * 8 == w else mask[r, : nw * 8].view(np.uint64)
        up = mask[r - 1].view(np.uint64) if nw * 8 == w else mask[r - 1, : nw * 8].view(np.uint64)
        for k in range(nw):
            if cur[k] != up[k]:
                for c in range(8 * k, 8 * k + 8):
                    if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
                        per_col[c + 1] += 1
        for c in range(nw * 8, w):
            if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
                per_col[c + 1] += 1
    for c in range(w):
        per_col[c + 1] += per_col[c]
    ntr = per_col[w]
    pos = np.empty(ntr, dtype=np.int64)
    fill = per_col[:w].copy()
    for c in range(w):
        a = 1 if mask[0, c] != 0 else 0
        b = 0
        if c > 0:
            b = 1 if mask[h - 1, c - 1] != 0 else 0
        if a != b:
            pos[fill[c]] = c * h
            fill[c] += 1
    for r in range(1, h):
        cur = mask[r].view(np.uint64) if nw * 8 == w else mask[r, : nw * 8].view(np.uint64)
        up = mask[r - 1].view(np.uint64) if nw * 8 == w else mask[r - 1, : nw * 8].view(np.uint64)
        for k in range(nw):
            if cur[k] != up[k]:
                for c in range(8 * k, 8 * k + 8):
                    if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
                        pos[fill[c]] = c * h + r
                        fill[c] += 1
        for c in range(nw * 8, w):
            if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
                pos[fill[c]] = c * h + r
                fill[c] += 1
    out = np.empty(ntr + 1, dtype=np.uint32)
    prev = 0
    for k in range(ntr):
        out[k] = pos[k] - prev
        prev = pos[k]
    out[ntr] = total - prev
    return out


@njit(cache=True, nogil=True)
def decode_into(counts, out):
    """Write the mask of counts into the flat column-major bool array out.

    out must be zero-filled; only 1-runs are written.
    """
    p = 0
    v = False
    for j in range(counts.shape[0]):
        c = counts[j]
        if v:
            out[p : p + c] = True
        p += c
        v = not v


@njit(cache=True, nogil=True)
def area_batch(counts, offsets):
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        s = np.uint64(0)
        for j in range(offsets[i] + 1, offsets[i + 1], 2):
            s += counts[j]
        out[i] = s
    return out


@njit(cache=True, nogil=True)
def _bbox_one(cnts, h, w, out):
    # pycocotools' toBbox, on canonical counts.
    m = (cnts.shape[0] // 2) * 2
    if m == 0 or h == 0:
        out[0] = 0.0
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        return
    xs = w
    ys = h
    xe = 0
    ye = 0
    xp = 0
    # (cx, cy) is the pixel at the running total, kept without a division
    # per run: only runs that cross into another column divide.
    cx = np.int64(0)
    cy = np.int64(0)
    for j in range(m):
        cy += np.int64(cnts[j])
        if cy >= h:
            cx += cy // h
            cy = cy % h
        if j % 2 == 0:
            x = cx
            y = cy
        elif cy > 0:
            x = cx
            y = cy - 1
        else:
            x = cx - 1
            y = h - 1
        if j % 2 == 0:
            xp = x
        elif xp < x:
            ys = 0
            ye = h - 1
        xs = min(xs, x)
        xe = max(xe, x)
        ys = min(ys, y)
        ye = max(ye, y)
    out[0] = xs
    out[2] = xe - xs + 1
    out[1] = ys
    out[3] = ye - ys + 1


@njit(cache=True, nogil=True)
def bbox_batch(counts, offsets, hs, ws):
    n = offsets.shape[0] - 1
    out = np.zeros((n, 4), dtype=np.float64)
    for i in range(n):
        j = i if hs.shape[0] > 1 else 0
        _bbox_one(counts[offsets[i] : offsets[i + 1]], np.int64(hs[j]), np.int64(ws[j]), out[i])
    return out


@njit(cache=True, nogil=True)
def merge2(A, B, intersect):
    """pycocotools' rleMerge step for two RLEs of the same size."""
    out = np.empty(A.shape[0] + B.shape[0] + 1, dtype=np.uint32)
    ka = A.shape[0]
    kb = B.shape[0]
    ca = np.int64(A[0])
    cb = np.int64(B[0])
    v = False
    va = False
    vb = False
    m = 0
    a = 1
    b = 1
    cc = np.int64(0)
    ct = np.int64(1)
    while ct > 0:
        c = min(ca, cb)
        cc += c
        ct = 0
        ca -= c
        if ca == 0 and a < ka:
            ca = np.int64(A[a])
            a += 1
            va = not va
        ct += ca
        cb -= c
        if cb == 0 and b < kb:
            cb = np.int64(B[b])
            b += 1
            vb = not vb
        ct += cb
        vp = v
        if intersect:
            v = va and vb
        else:
            v = va or vb
        if v != vp or ct == 0:
            out[m] = cc
            m += 1
            cc = 0
    return out[:m].copy()


@njit(cache=True, nogil=True)
def merge_batch(counts, offsets, intersect):
    """Fold merge2 over every RLE of the batch, in order."""
    n = offsets.shape[0] - 1
    acc = counts[offsets[0] : offsets[1]].copy()
    for i in range(1, n):
        acc = merge2(acc, counts[offsets[i] : offsets[i + 1]], intersect)
    return acc


@njit(cache=True, nogil=True)
def _inter_union(A, B):
    # pycocotools' rleIou inner loop: returns (intersection, union). It walks
    # the runs like merge2; a shared step function for both was measured 10x
    # slower (numba keeps the returned tuple out of registers), so the two
    # loops stay written out.
    ka = A.shape[0]
    kb = B.shape[0]
    ca = np.int64(A[0])
    cb = np.int64(B[0])
    va = False
    vb = False
    a = 1
    b = 1
    inter = np.int64(0)
    union = np.int64(0)
    ct = np.int64(1)
    while ct > 0:
        c = min(ca, cb)
        if va or vb:
            union += c
            if va and vb:
                inter += c
        ct = 0
        ca -= c
        if ca == 0 and a < ka:
            ca = np.int64(A[a])
            a += 1
            va = not va
        ct += ca
        cb -= c
        if cb == 0 and b < kb:
            cb = np.int64(B[b])
            b += 1
            vb = not vb
        ct += cb
    return inter, union


@njit(cache=True, nogil=True, inline="always")
def _boxes_overlap(dbb, d, gbb, g):
    # pycocotools' bbIou test: a zero box IoU means a zero mask IoU.
    bw = min(dbb[d, 2] + dbb[d, 0], gbb[g, 2] + gbb[g, 0]) - max(dbb[d, 0], gbb[g, 0])
    if bw <= 0:
        return False
    bh = min(dbb[d, 3] + dbb[d, 1], gbb[g, 3] + gbb[g, 1]) - max(dbb[d, 1], gbb[g, 1])
    return bh > 0


@njit(cache=True, nogil=True)
def iou_matrix(dc, doff, dbb, dar, gc, goff, gbb, crowd):
    """IoU of every (detection, ground truth) pair, pycocotools semantics.

    dbb/gbb are the boxes, dar the detection areas; crowd is a uint8 flag per
    ground truth. Result shape (n_dt, n_gt). Sizes are checked by the caller.
    """
    m = doff.shape[0] - 1
    n = goff.shape[0] - 1
    out = np.zeros((m, n), dtype=np.float64)
    for g in range(n):
        isc = crowd[g] != 0
        for d in range(m):
            if not _boxes_overlap(dbb, d, gbb, g):
                continue
            inter, union = _inter_union(dc[doff[d] : doff[d + 1]], gc[goff[g] : goff[g + 1]])
            if inter == 0:
                union = 1
            elif isc:
                union = np.int64(dar[d])
            out[d, g] = inter / union
    return out


@njit(cache=True, nogil=True)
def to_string(counts):
    """COCO's compressed counts string, as uint8 character codes."""
    m = counts.shape[0]
    out = np.empty(m * 7 + 1, dtype=np.uint8)
    p = 0
    for i in range(m):
        x = np.int64(counts[i])
        if i > 2:
            x -= np.int64(counts[i - 2])
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            if c & 0x10:
                more = x != -1
            else:
                more = x != 0
            if more:
                c |= 0x20
            out[p] = c + 48
            p += 1
    return out[:p].copy()


@njit(cache=True, nogil=True)
def from_string(chars):
    """Decode a compressed counts string (uint8 codes).

    Returns (counts, status): status 0 ok, 1 bad character at counts[0]
    (its index), 2 string ends inside a count, 3 a count is negative or too big.
    """
    n = chars.shape[0]
    out = np.empty(n, dtype=np.uint32)
    m = 0
    p = 0
    bad = np.empty(1, dtype=np.uint32)
    while p < n:
        x = np.int64(0)
        k = 0
        more = True
        while more:
            if p >= n:
                return out[:m].copy(), 2
            ch = np.int64(chars[p])
            if ch < 48 or ch > 111:
                bad[0] = p
                return bad, 1
            c = ch - 48
            if k < 13:
                x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10):
                if 5 * k < 63:
                    x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += np.int64(out[m - 2])
        if x < 0 or x > 0xFFFFFFFF:
            bad[0] = m
            return bad, 3
        out[m] = x
        m += 1
    return out[:m].copy(), 0


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, nogil=True)
def bitsets(counts, offsets, nbits):
    """Each RLE as a bitset of its column-major pixels, shape (n, ceil(nbits / 64))."""
    n = offsets.shape[0] - 1
    nw = (nbits + 63) // 64
    out = np.zeros((n, nw), dtype=np.uint64)
    for i in range(n):
        row = out[i]
        p = np.int64(0)
        for j in range(offsets[i], offsets[i + 1]):
            c = np.int64(counts[j])
            if (j - offsets[i]) % 2 == 1:
                q = p + c
                k = p
                while k < q:
                    wi = k >> 6
                    b = k & 63
                    take = min(64 - b, q - k)
                    if take == 64:
                        row[wi] = ~_ZERO8
                    else:
                        row[wi] |= ((np.uint64(1) << np.uint64(take)) - np.uint64(1)) << np.uint64(b)
                    k += take
            p += c
    return out


@njit(cache=True, nogil=True)
def iou_matrix_bitset(dbits, gbits, dbb, dar, gbb, gar, crowd, h):
    """iou_matrix's values from bitsets: |d & g| by popcount over the columns
    both boxes span. Same integers, same division, so the same doubles."""
    m = dbits.shape[0]
    n = gbits.shape[0]
    out = np.zeros((m, n), dtype=np.float64)
    for g in range(n):
        isc = crowd[g] != 0
        for d in range(m):
            if not _boxes_overlap(dbb, d, gbb, g):
                continue
            c0 = np.int64(max(dbb[d, 0], gbb[g, 0]))
            c1 = np.int64(min(dbb[d, 0] + dbb[d, 2], gbb[g, 0] + gbb[g, 2]))
            w0 = (c0 * h) >> 6
            w1 = (c1 * h + 63) >> 6
            inter = np.uint64(0)
            a = dbits[d]
            b = gbits[g]
            for k in range(w0, w1):
                inter += _popcount(a[k] & b[k])
            if inter == 0:
                continue
            if isc:
                union = dar[d]
            else:
                union = dar[d] + gar[g] - inter
            out[d, g] = np.int64(inter) / np.int64(union)
    return out


@njit(cache=True, nogil=True)
def iou_all(dc, doff, gc, goff, h, w, crowd, bitset_budget):
    """rle.iou in one call: boxes, areas, then runs or bitsets by cost."""
    hs = np.full(1, h, dtype=np.int64)
    ws = np.full(1, w, dtype=np.int64)
    dbb = bbox_batch(dc, doff, hs, ws)
    gbb = bbox_batch(gc, goff, hs, ws)
    dar = area_batch(dc, doff)
    nd = doff.shape[0] - 1
    ng = goff.shape[0] - 1
    runs = dc.shape[0] / nd + gc.shape[0] / ng
    nbytes = (nd + ng) * (h * w // 8 + 8)
    if runs * 48 > h * w and nbytes <= bitset_budget:
        gar = area_batch(gc, goff)
        return iou_matrix_bitset(bitsets(dc, doff, h * w), bitsets(gc, goff, h * w), dbb, dar, gbb, gar, crowd, h)
    return iou_matrix(dc, doff, dbb, dar, gc, goff, gbb, crowd)


@njit(cache=True, nogil=True)
def from_string_checked(chars, total):
    """from_string, then the sum check and canonical form, in one call.

    Returns (counts, status, index): status as from_string, or 4 when the
    counts do not sum to total (index then holds nothing useful).
    """
    counts, status = from_string(chars)
    if status != 0:
        return counts, status
    st = check_counts(counts, total)
    if st < 0:
        return counts, 4
    if st == 1:
        return canonicalize(counts), 0
    if counts.shape[0] == 0:
        return np.zeros(1, dtype=np.uint32), 0
    return counts, 0
