"""The checker's numba kernels against exact references (shapely, the RLE IoU matrix)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.check._kernels import intersecting_pairs, maybe_not_simple
from segmill.rle import from_polygons, iou
from segmill.rle import _kernels as K


def flagged(ring):
    xy = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    return bool(maybe_not_simple(xy, np.zeros(1, np.int64), np.array([len(xy)], np.int64))[0])


def simple_by_shapely(ring):
    return bool(shapely.is_simple(shapely.linearrings(np.asarray(ring, dtype=np.float64).reshape(-1, 2))))


# Small integer grids make collinear edges, touching vertices and fold-backs common.
rings = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=9)


@settings(max_examples=400, deadline=None)
@given(rings)
def test_pretest_flags_every_ring_shapely_finds_not_simple(ring):
    if not simple_by_shapely(ring):
        assert flagged(ring)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=3, max_size=12))
def test_pretest_flags_every_not_simple_ring_with_real_coordinates(ring):
    if not simple_by_shapely(ring):
        assert flagged(ring)


def test_pretest_passes_a_convex_ring():
    assert not flagged([0, 0, 10, 0, 10, 10, 0, 10])


def test_pretest_passes_collinear_vertices_along_an_edge():
    assert not flagged([0, 0, 5, 0, 10, 0, 10, 10, 0, 10])


def test_pretest_flags_a_bow_tie():
    assert flagged([0, 0, 10, 10, 10, 0, 0, 10])


def test_pretest_flags_a_fold_back_spike():
    assert flagged([0, 0, 10, 0, 20, 0, 10, 0, 10, 10])


def test_pretest_flags_an_explicitly_closed_ring():
    assert flagged([0, 0, 10, 0, 10, 10, 0, 0])  # repeated first vertex: left to shapely


def test_pretest_flags_non_finite_coordinates():
    assert flagged([0, 0, np.nan, 0, 10, 10])


def test_pretest_flags_rings_of_two_points():
    assert flagged([0, 0, 10, 10])


def packed(rles):
    off = np.zeros(len(rles) + 1, np.int64)
    np.cumsum([r.counts.shape[0] for r in rles], out=off[1:])
    counts = np.concatenate([r.counts for r in rles])
    bb = K.bbox_batch(counts, off, np.array([r.height for r in rles]), np.array([r.width for r in rles]))
    return counts, off, bb


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 12), st.integers(1, 12)),
                min_size=2, max_size=12))
def test_pairs_kernel_matches_the_full_iou_matrix(boxes):
    rles = [from_polygons([[x, y, x + w, y, x + w, y + h, x, y + h]], 40, 40) for x, y, w, h in boxes]
    rles = [r for r in rles if r.area > 0]
    if len(rles) < 2:
        return
    counts, off, bb = packed(rles)
    lo, hi, inter, union, _ = intersecting_pairs(counts, off, bb, np.array([0, len(rles)]))
    got = {(int(a), int(b)): i / u for a, b, i, u in zip(lo, hi, inter, union)}
    m = iou(rles, rles)
    want = {(a, b): m[a, b] for a in range(len(rles)) for b in range(a + 1, len(rles)) if m[a, b] > 0}
    assert got == want


def test_pairs_kernel_never_pairs_masks_of_different_groups():
    r = from_polygons([[0, 0, 10, 0, 10, 10, 0, 10]], 20, 20)
    counts, off, bb = packed([r, r, r])
    lo, hi, _, _, tested = intersecting_pairs(counts, off, bb, np.array([0, 1, 3]))
    assert (lo.tolist(), hi.tolist(), tested) == ([1], [2], 1)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.sampled_from([1, 2, 3, 5, 40, 64]),
                          st.sampled_from([1, 2, 3, 5, 40, 64])), min_size=2, max_size=40))
def test_pairs_kernel_matches_the_full_iou_matrix_with_mixed_sizes(boxes):
    # Mixed tiny and image-sized boxes put boxes in many strips and pairs across strip borders.
    rles = [from_polygons([[x, y, x + w, y, x + w, y + h, x, y + h]], 64, 64) for x, y, w, h in boxes]
    rles = [r for r in rles if r.area > 0]
    if len(rles) < 2:
        return
    counts, off, bb = packed(rles)
    lo, hi, inter, union, tested = intersecting_pairs(counts, off, bb, np.array([0, len(rles)]))
    got = {(int(a), int(b)): i / u for a, b, i, u in zip(lo, hi, inter, union)}
    m = iou(rles, rles)
    want = {(a, b): m[a, b] for a in range(len(rles)) for b in range(a + 1, len(rles)) if m[a, b] > 0}
    assert got == want and len(lo) == len(got)  # each pair once
    assert tested <= len(rles) * (len(rles) - 1) // 2
