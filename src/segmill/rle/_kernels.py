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
from .._jit import njit

# uint64 constants: comparing a uint64 with an int64 literal makes numba go
# through float64, which cannot tell 0x0101010101010101 from its neighbours.
_ZERO8 = np.uint64(0)
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


_ALL8 = np.uint64(0xFFFFFFFFFFFFFFFF)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_LOW1 = np.uint64(0x0101010101010101)
_BYTE_INDEX = np.uint64(0x0001020304050607)  # (1 << 8k) * this >> 56 == k


@njit(cache=True, nogil=True, inline="always")
def _nonzero_flags(v):
    # Bit 7 of each byte of the result set iff that byte of v is nonzero (exact: no carry crosses bytes).
    return (((v & _LOW7) + _LOW7) | v) & _HIGH8


@njit(cache=True, nogil=True, inline="always")
def _first_flag(t):
    # The byte index (0-7, little-endian) of the lowest flag of a nonzero flags word.
    low = t & (~t + np.uint64(1))
    return np.int64(((low >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _skip_uniform(words, wi, prev):
    # The first word at or after wi that is not all zero bytes (prev 0) / all nonzero bytes (prev 1).
    nw = words.shape[0]
    if prev == 0:
        while wi + 4 <= nw and (words[wi] | words[wi + 1] | words[wi + 2] | words[wi + 3]) == _ZERO8:
            wi += 4
        while wi < nw and words[wi] == _ZERO8:
            wi += 1
    else:
        # Bit 0 set in every byte (a bool or 0/1 mask's 1-run) is enough, and cheaper to test.
        while wi + 4 <= nw and (words[wi] & words[wi + 1] & words[wi + 2] & words[wi + 3] & _LOW1) == _LOW1:
            wi += 4
        while wi + 4 <= nw and (_nonzero_flags(words[wi]) & _nonzero_flags(words[wi + 1])
                                & _nonzero_flags(words[wi + 2]) & _nonzero_flags(words[wi + 3])) == _HIGH8:
            wi += 4
        while wi < nw and _nonzero_flags(words[wi]) == _HIGH8:
            wi += 1
    return wi


@njit(cache=True, nogil=True)
def _encode_span(flat, words, out, m, i, prev, start):
    # The scanning loop of encode_fortran; stops early (returning where) when out is full.
    # (A separate function so that out is never re-bound inside the hot loop: numba then
    # reloads it on every iteration, ten times slower.) Uniform words are skipped four at a
    # time; inside a word, each transition is found from the per-byte nonzero flags.
    n = flat.shape[0]
    nw = words.shape[0]
    cap = out.shape[0] - 1
    wi = i >> 3
    b = i & 7
    while wi < nw:
        if b == 0:
            wi = _skip_uniform(words, wi, prev)
            if wi >= nw:
                break
        f = _nonzero_flags(words[wi])
        if prev:
            f = ~f & _HIGH8
        t = f & (_ALL8 << np.uint64(8 * b))
        if t == _ZERO8:
            wi += 1
            b = 0
            continue
        k = _first_flag(t)
        pos = wi * 8 + k
        if m == cap:
            return m, pos, prev, start
        out[m] = pos - start
        m += 1
        start = pos
        prev ^= 1
        b = k
    i = max(i, nw * 8)
    while i < n:
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
    zero byte inside a 1-run) are skipped four at a time.
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


@njit(cache=True, nogil=True, inline="always")
def _column_starts(mask, c):
    # Whether a run starts at the top of column c (its first pixel differs from the last of column c - 1).
    a = 1 if mask[0, c] != 0 else 0
    b = 0
    if c > 0:
        b = 1 if mask[mask.shape[0] - 1, c - 1] != 0 else 0
    return a != b


@njit(cache=True, nogil=True)
def _row_changes(mask, cur, up, r, nw, per_col, buf, m):
    # Append to buf[m:] the column-major position of every column where row r differs from row
    # r - 1 (nonzero-wise), counting them in per_col; the new m. buf must have room for w more.
    # cur and up: the first nw * 8 bytes of rows r and r - 1 as uint64, compared word by word
    # (a plain loop with a well-predicted branch measured as fast as skipping equal words in
    # groups); in a word that differs, each change is found from the per-byte nonzero flags,
    # not column by column.
    h, w = mask.shape
    for k in range(nw):
        if cur[k] != up[k]:
            d = _nonzero_flags(cur[k]) ^ _nonzero_flags(up[k])
            while d != _ZERO8:
                c = 8 * k + _first_flag(d)
                d &= d - np.uint64(1)
                buf[m] = c * h + r
                m += 1
                per_col[c + 1] += 1
    for c in range(nw * 8, w):
        if (mask[r, c] != 0) != (mask[r - 1, c] != 0):
            buf[m] = c * h + r
            m += 1
            per_col[c + 1] += 1
    return m


@njit(cache=True, nogil=True)
def encode_c(mask, words):
    """Counts of a C-ordered (h, w) uint8 mask, read row by row.

    Column-major runs are found without a transposed copy, in one pass over
    the rows: each change between a row and the one above is recorded with
    its column-major position, then the positions are put in column-major
    order by a counting sort on the column (stable, so rows stay in order).
    words: the mask's bytes as an ``(h, w // 8)`` uint64 array when its rows
    start on whole words (``w % 8 == 0``), else a ``(0, 0)`` one: each row is
    then viewed as words on its own (which costs a little per row).
    """
    h, w = mask.shape
    total = h * w
    if total == 0:
        return np.zeros(1, dtype=np.uint32)
    per_col = np.zeros(w + 1, dtype=np.int64)
    nw = w // 8
    by_rows = words.shape[0] == 0
    buf = np.empty(max(4096, 2 * w), dtype=np.int64)
    m = 0
    for c in range(w):
        if _column_starts(mask, c):
            buf[m] = c * h
            m += 1
            per_col[c + 1] += 1
    for r in range(1, h):
        if m + w > buf.shape[0]:
            grown = np.empty(2 * buf.shape[0] + w, dtype=np.int64)
            grown[:m] = buf[:m]
            buf = grown
        if by_rows:
            cur = mask[r, : nw * 8].view(np.uint64)
            up = mask[r - 1, : nw * 8].view(np.uint64)
            m = _row_changes(mask, cur, up, r, nw, per_col, buf, m)
        else:
            m = _row_changes(mask, words[r], words[r - 1], r, nw, per_col, buf, m)
    for c in range(w):
        per_col[c + 1] += per_col[c]
    pos = np.empty(m, dtype=np.int64)
    for j in range(m):
        v = buf[j]
        c = v // h
        pos[per_col[c]] = v
        per_col[c] += 1
    out = np.empty(m + 1, dtype=np.uint32)
    prev = 0
    for k in range(m):
        out[k] = pos[k] - prev
        prev = pos[k]
    out[m] = total - prev
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
def walk2(A, B, intersect, out):
    """Walk two RLEs of one size in step, pycocotools' way: the loop of rleMerge and rleIou.

    Both run lists are consumed ``c`` pixels at a time, ``c`` the shorter of
    the two runs left. One loop serves the merge and the IoU (a step
    function shared by two loops was measured 2-3x slower: numba keeps the
    state it returns out of registers). With ``out=None`` numba compiles
    the counting version only (the ``out`` branches are pruned).

    Parameters
    ----------
    A, B : ndarray of uint32
        The counts of the two RLEs.
    intersect : bool
        With ``out``: write the intersection's counts, else the union's.
    out : ndarray of uint32 or None
        Where the merged counts go, at least ``len(A) + len(B) + 1`` long;
        None to count the intersection and union only.

    Returns
    -------
    inter, union : int64
        Pixels in both, in either (when ``out`` is None; 0 otherwise).
    m : int
        Counts written to ``out``.
    """
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
    inter = np.int64(0)
    union = np.int64(0)
    cc = np.int64(0)
    ct = np.int64(1)
    while ct > 0:
        c = min(ca, cb)
        if out is None:
            if va or vb:
                union += c
                if va and vb:
                    inter += c
        else:
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
        if out is not None:
            vp = v
            v = (va and vb) if intersect else (va or vb)
            if v != vp or ct == 0:
                out[m] = cc
                m += 1
                cc = 0
    return inter, union, m


@njit(cache=True, nogil=True)
def merge2(A, B, intersect):
    """pycocotools' rleMerge step for two RLEs of the same size."""
    out = np.empty(A.shape[0] + B.shape[0] + 1, dtype=np.uint32)
    m = walk2(A, B, intersect, out)[2]
    return out[:m].copy()


@njit(cache=True, nogil=True)
def merge_batch(counts, offsets, intersect):
    """Fold merge2 over every RLE of the batch, in order."""
    n = offsets.shape[0] - 1
    acc = counts[offsets[0] : offsets[1]].copy()
    for i in range(1, n):
        acc = merge2(acc, counts[offsets[i] : offsets[i + 1]], intersect)
    return acc
