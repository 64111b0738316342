"""Numba kernels of :mod:`segmill.agree.surface`: surface voxels and an exact Euclidean distance transform.

Arrays are 3-D; a 2-D (1-D) input is given a leading axis (two) of size 1
whose neighbours are not looked at (``real_axes``). Distances are in
physical units: ``spacing`` is the size of a voxel along each axis.

The distance transform is the separable one of Felzenszwalb & Huttenlocher
(2012, "Distance transforms of sampled functions"): squared distances along
the last axis by two sweeps, then the lower envelope of parabolas along
each of the other two axes. It is exact (every voxel gets the squared
distance to its nearest feature voxel, up to the rounding of a sum of three
squares), needs one float64 array of the box and line buffers, and is
several times faster than ``scipy.ndimage.distance_transform_edt``, which
also allocates an ``int32`` index array per axis.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit

#: Lines of the first axis gathered together (contiguous reads in the last pass).
BLOCK = 16


@njit(cache=True, nogil=True)
def surface_voxels(mask, real_axes, out):
    """``out`` = voxels of ``mask`` with a face neighbour outside it, or on the array's edge.

    Only axes with ``real_axes[a]`` are looked along. This is ``mask``
    minus its binary erosion by the cross (connectivity 1) with
    ``border_value=0``, as ``medpy.metric.binary`` computes it. Returns the
    number of surface voxels.
    """
    n0, n1, n2 = mask.shape
    count = 0
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                if not mask[i, j, k]:
                    out[i, j, k] = False
                    continue
                edge = False
                if real_axes[0] and (i == 0 or i == n0 - 1 or not mask[i - 1, j, k] or not mask[i + 1, j, k]):
                    edge = True
                elif real_axes[1] and (j == 0 or j == n1 - 1 or not mask[i, j - 1, k] or not mask[i, j + 1, k]):
                    edge = True
                elif real_axes[2] and (k == 0 or k == n2 - 1 or not mask[i, j, k - 1] or not mask[i, j, k + 1]):
                    edge = True
                out[i, j, k] = edge
                if edge:
                    count += 1
    return count


@njit(cache=True, nogil=True)
def _first_pass(feature, s, out):
    """Squared distance along the last axis to the nearest feature voxel of the same line (inf: none)."""
    n0, n1, n2 = feature.shape
    inf = np.inf
    for i in range(n0):
        for j in range(n1):
            last = -1
            for k in range(n2):
                if feature[i, j, k]:
                    last = k
                if last < 0:
                    out[i, j, k] = inf
                else:
                    d = (k - last) * s
                    out[i, j, k] = d * d
            last = -1
            for k in range(n2 - 1, -1, -1):
                if feature[i, j, k]:
                    last = k
                if last >= 0:
                    d = (last - k) * s
                    dd = d * d
                    if dd < out[i, j, k]:
                        out[i, j, k] = dd


@njit(cache=True, nogil=True)
def _envelope(f, n, s, v, z, d):
    """``d[q] = min_p ((q - p) s)^2 + f[p]`` over the first ``n`` entries (lower envelope of parabolas).

    ``v`` (int64, n) and ``z`` (float64, n + 1) are work buffers; ``f``
    entries of ``inf`` are no feature. Parabola intersections are computed
    in index units.
    """
    inf = np.inf
    k = -1
    s2 = s * s
    for q in range(n):
        fq = f[q]
        if fq == inf:
            continue
        if k < 0:
            k = 0
            v[0] = q
            z[0] = -inf
            z[1] = inf
            continue
        while True:  # z[0] = -inf: the first parabola is never dropped
            p = v[k]
            sect = ((fq - f[p]) / s2 + (q * q - p * p)) / (2.0 * (q - p))
            if sect <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = sect
        z[k + 1] = inf
    if k < 0:
        for q in range(n):
            d[q] = inf
        return
    j = 0
    for q in range(n):
        while z[j + 1] < q:
            j += 1
        p = v[j]
        dx = (q - p) * s
        d[q] = dx * dx + f[p]


@njit(cache=True, nogil=True)
def _middle_pass(dist, s, buf, out, v, z):
    """Lower envelopes along the middle axis, in place."""
    n0, n1, n2 = dist.shape
    for i in range(n0):
        for k in range(n2):
            for j in range(n1):
                buf[j] = dist[i, j, k]
            _envelope(buf, n1, s, v, z, out)
            for j in range(n1):
                dist[i, j, k] = out[j]


@njit(cache=True, nogil=True)
def _outer_pass(dist, s, need, block, col, out, v, z):
    """Lower envelopes along the first axis, in place, on the lines ``need[j, k]`` marks.

    Lines are read :data:`BLOCK` at a time (contiguous reads); the lines
    left out keep the values of the earlier passes.
    """
    n0, n1, n2 = dist.shape
    width = block.shape[1]
    for j in range(n1):
        for k0 in range(0, n2, width):
            w = min(width, n2 - k0)
            wanted = False
            for c in range(w):
                if need[j, k0 + c]:
                    wanted = True
            if not wanted:
                continue
            for i in range(n0):
                for c in range(w):
                    block[i, c] = dist[i, j, k0 + c]
            for c in range(w):
                if not need[j, k0 + c]:
                    continue
                for i in range(n0):
                    col[i] = block[i, c]
                _envelope(col, n0, s, v, z, out)
                for i in range(n0):
                    block[i, c] = out[i]
            for i in range(n0):
                for c in range(w):
                    dist[i, j, k0 + c] = block[i, c]


def squared_distance_map(feature, spacing, dist, targets=None):
    """``dist`` = squared Euclidean distance (physical units) of every voxel to the nearest ``feature`` voxel.

    Parameters
    ----------
    feature : numpy.ndarray of bool, 3-D, C-contiguous
    spacing : sequence of 3 float
    dist : numpy.ndarray of float64, same shape (overwritten)
    targets : numpy.ndarray of bool, same shape, optional
        The voxels whose distance is wanted: the last pass skips the lines
        of the first axis holding none of them (their values are then
        partial). Default: every voxel.

    Notes
    -----
    ``inf`` everywhere when ``feature`` has no voxel. An axis of length 1
    needs no pass.
    """
    n0, n1, n2 = feature.shape
    n = max(n0, n1, n2)
    v = np.empty(n, np.int64)
    z = np.empty(n + 1, np.float64)
    out = np.empty(n, np.float64)
    buf = np.empty(n, np.float64)
    _first_pass(feature, float(spacing[2]), dist)
    if n1 > 1:
        _middle_pass(dist, float(spacing[1]), buf, out, v, z)
    if n0 > 1:
        block = np.empty((n0, BLOCK), np.float64)
        need = np.ones((n1, n2), np.bool_) if targets is None else targets.any(axis=0)
        _outer_pass(dist, float(spacing[0]), need, block, buf, out, v, z)
