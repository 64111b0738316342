"""Numba kernels: IoU of RLE pairs, pycocotools' semantics.

Two paths give the same doubles: walking both run lists (pycocotools' own
loop), or popcounts over bitsets for masks with many short runs.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ._kernels import _ZERO8, area_batch, bbox_batch, walk2


@njit(cache=True, nogil=True)
def _inter_union(A, B):
    # pycocotools' rleIou inner loop: (intersection, union), merge2's walk.
    inter, union, _ = walk2(A, B, False, None)
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
