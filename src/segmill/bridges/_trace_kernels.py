"""Numba kernels for exact mask tracing (pure: arrays in, arrays out).

Coordinates: vertex ``(x, y)`` is the pixel corner at column ``x``, row ``y``
(``0 <= x <= w``, ``0 <= y <= h``); pixel ``(r, c)`` is the unit square
``[c, c+1) x [r, r+1)``. The padded mask ``P`` has one background pixel of
margin on every side: pixel ``(r, c)`` is ``P[r + 1, c + 1]``.

Every boundary edge is walked once with the foreground on the walker's right
hand (y pointing down), so outer boundaries and hole boundaries come out with
opposite turning senses.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit

# directions: 0 = +x, 1 = +y (down), 2 = -x, 3 = -y


@njit(cache=True)
def _grow(arr, need):
    if need <= arr.shape[0]:
        return arr
    cap = max(arr.shape[0] * 2, need)
    out = np.empty(cap, arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit(cache=True)
def _next_dir(P, x, y, d, conn8):
    # front-left / front-right pixels (padded coordinates) for direction d at vertex (x, y)
    if d == 0:
        fl = P[y, x + 1]
        fr = P[y + 1, x + 1]
    elif d == 1:
        fl = P[y + 1, x + 1]
        fr = P[y + 1, x]
    elif d == 2:
        fl = P[y + 1, x]
        fr = P[y, x]
    else:
        fl = P[y, x]
        fr = P[y, x + 1]
    if fr == 0:
        if conn8 and fl != 0:
            return (d + 3) & 3
        return (d + 1) & 3
    if fl != 0:
        return (d + 3) & 3
    return d


@njit(cache=True)
def trace_rings(P, h, w, conn8, xs, ys, ring_off, ring_min, ring_hole):
    """Trace every boundary ring of a padded uint8 mask into preallocated arrays.

    ``P`` has shape ``(h + 2, W)`` with ``W`` a multiple of 8 and at least
    ``w + 2``; columns past ``w + 1`` are background. Start edges are found
    eight pixels at a time through a uint64 view of the rows.

    Fills ``xs, ys`` (corner vertices of all rings, concatenated),
    ``ring_off`` (n_rings + 1 offsets), ``ring_min`` (global index of each
    ring's minimal corner: smallest y, then x) and ``ring_hole`` (the ring
    leaves its minimal corner downward: it bounds a hole). Returns
    ``(n_corners, n_rings)``, or ``(-1, -1)`` when an array is too small
    (the caller retries with larger ones).
    """
    Pw = P.view(np.uint64)
    nwords = Pw.shape[1]
    cap = xs.shape[0]
    rcap = ring_min.shape[0]
    visited = np.zeros((h + 1, w), np.uint8)
    n = 0
    nr = 0
    ring_off[0] = 0
    mask01 = np.uint64(0x0101010101010101)
    for sy in range(h + 1):
        for q in range(nwords):
            # bytes are 0/1: a set bit 0 in (below & ~above) marks a +x edge
            if (Pw[sy + 1, q] & ~Pw[sy, q] & mask01) == 0:
                continue
            for pc in range(q * 8, q * 8 + 8):
                if P[sy + 1, pc] == 0 or P[sy, pc] != 0:
                    continue
                sx = pc - 1
                if visited[sy, sx]:
                    continue
                if nr >= rcap or n >= cap:
                    return -1, -1
                x = sx
                y = sy
                d = 0
                xs[n] = x
                ys[n] = y
                best = n
                besty = y
                bestx = x
                bestd = 0
                n += 1
                visited[y, x] = 1
                while True:
                    if d == 0:
                        x += 1
                    elif d == 1:
                        y += 1
                    elif d == 2:
                        x -= 1
                    else:
                        y -= 1
                    nd = _next_dir(P, x, y, d, conn8)
                    if x == sx and y == sy and nd == 0:
                        break
                    if nd != d:
                        if n >= cap:
                            return -1, -1
                        xs[n] = x
                        ys[n] = y
                        if y < besty or (y == besty and x < bestx):
                            best = n
                            besty = y
                            bestx = x
                            bestd = nd
                        n += 1
                    d = nd
                    if d == 0:
                        visited[y, x] = 1
                ring_min[nr] = best
                ring_hole[nr] = bestd != 0
                nr += 1
                ring_off[nr] = n
    return n, nr


@njit(cache=True)
def ray_up(P, hx, hy):
    """For each hole's minimal corner ``(hx, hy)``, the row of the first boundary above it.

    Walks up the vertical line ``x = hx`` while the pixel on its right
    (column ``hx``) is foreground; the top edge of the last such pixel is a
    ``+x`` edge of a ring of the same component.
    """
    out = np.empty(hx.shape[0], np.int64)
    for i in range(hx.shape[0]):
        x = hx[i]
        y = hy[i] - 1
        while P[y, x + 1] != 0:  # pixel (y - 1, x) in padded coordinates
            y -= 1
        out[i] = y
    return out


@njit(cache=True)
def assemble(xs, ys, off, rmin, hole, ch_first, ch_count, ch_ax, ch_ay, ch_ring):
    """Splice holes into their outer rings (zero-width bridges); one part per outer ring.

    ``ch_*`` list, sorted by (corner, anchor x), the holes hanging from the
    ``+x`` run that leaves each corner: ``ch_first[corner]`` is the index of
    its first child (``ch_count[corner]`` of them).

    Returns ``(px, py, part_off)``: vertices of every part, consecutive
    duplicates removed.
    """
    nr = off.shape[0] - 1
    cap = xs.shape[0] + 3 * ch_ax.shape[0] + 1
    px = np.empty(cap, np.int32)
    py = np.empty(cap, np.int32)
    nparts = 0
    for r in range(nr):
        if not hole[r]:
            nparts += 1
    part_off = np.zeros(nparts + 1, np.int64)
    # stack frames: ring, next corner, corners left, child index (-1 = root), started
    s_ring = np.empty(nr + 1, np.int64)
    s_k = np.empty(nr + 1, np.int64)
    s_left = np.empty(nr + 1, np.int64)
    s_child = np.empty(nr + 1, np.int64)
    s_started = np.empty(nr + 1, np.bool_)
    m = 0
    p = 0
    for root in range(nr):
        if hole[root]:
            continue
        start = m
        sp = 0
        s_ring[0] = root
        s_k[0] = rmin[root]
        s_left[0] = off[root + 1] - off[root]
        s_child[0] = -1
        s_started[0] = True
        sp = 1
        while sp > 0:
            t = sp - 1
            r = s_ring[t]
            c = s_child[t]
            if not s_started[t]:
                s_started[t] = True
                if m == start or px[m - 1] != ch_ax[c] or py[m - 1] != ch_ay[c]:
                    px[m] = ch_ax[c]
                    py[m] = ch_ay[c]
                    m += 1
            if s_left[t] == 0:
                sp -= 1
                if c >= 0:
                    hm = rmin[r]
                    if px[m - 1] != xs[hm] or py[m - 1] != ys[hm]:
                        px[m] = xs[hm]
                        py[m] = ys[hm]
                        m += 1
                    px[m] = ch_ax[c]
                    py[m] = ch_ay[c]
                    m += 1
                continue
            a = off[r]
            b = off[r + 1]
            j = s_k[t]
            while True:
                if m == start or px[m - 1] != xs[j] or py[m - 1] != ys[j]:
                    px[m] = xs[j]
                    py[m] = ys[j]
                    m += 1
                s_left[t] -= 1
                jj = j
                j = j + 1 if j + 1 < b else a
                if ch_count[jj] > 0 or s_left[t] == 0:
                    break
            s_k[t] = j
            if ch_count[jj] > 0:
                f = ch_first[jj]
                for q in range(ch_count[jj] - 1, -1, -1):
                    ci = f + q
                    s_ring[sp] = ch_ring[ci]
                    s_k[sp] = rmin[ch_ring[ci]]
                    s_left[sp] = off[ch_ring[ci] + 1] - off[ch_ring[ci]]
                    s_child[sp] = ci
                    s_started[sp] = False
                    sp += 1
        if m - start > 1 and px[m - 1] == px[start] and py[m - 1] == py[start]:
            m -= 1
        p += 1
        part_off[p] = m
    return px[:m], py[:m], part_off
