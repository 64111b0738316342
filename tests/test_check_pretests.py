"""The G006 area pre-test and the windowed pairs kernel against exact references (shapely, the IoU matrix)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.check import check
from segmill.check._kernels import (
    maybe_area_changing,
    maybe_not_simple,
    pairs_sharing_pixels,
)
from segmill.check.config import Config
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import _kernels as K
from segmill.rle import from_polygons, iou


def one(kernel, ring) -> bool:
    xy = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    return bool(kernel(xy, np.zeros(1, np.int64), np.array([len(xy)], np.int64))[0])


def area_change(ring) -> float:
    """|enclosed - shoelace| as G006 computes it (shapely's structure repair)."""
    poly = shapely.polygons(shapely.linearrings(np.asarray(ring, dtype=np.float64).reshape(-1, 2)))
    return abs(float(shapely.area(shapely.make_valid(poly, method="structure"))) - float(shapely.area(poly)))


# Small integer grids make axis-aligned fold-backs, repeated vertices, touching and crossing edges common.
grid_rings = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=10)


@settings(max_examples=500, deadline=None)
@given(grid_rings)
def test_area_pretest_clears_only_rings_whose_area_does_not_change(ring):
    if not one(maybe_area_changing, ring):
        assert area_change(ring) < 1e-9


@settings(max_examples=300, deadline=None)
@given(grid_rings)
def test_area_pretest_flags_a_subset_of_the_simplicity_pretest(ring):
    if one(maybe_area_changing, ring):
        assert one(maybe_not_simple, ring)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(5, 40))
def test_area_pretest_on_blobs_clipped_to_the_image(seed, nv):
    # Star-shaped blobs clipped to the image: what clipping makes (runs along the border that turn back).
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, nv))
    r = rng.uniform(5, 60) * (1 + 0.3 * rng.standard_normal(nv)).clip(0.2)
    cx, cy = rng.uniform(-20, 120, 2)
    ring = np.round(np.column_stack([np.clip(cx + r * np.cos(ang), 0, 100), np.clip(cy + r * np.sin(ang), 0, 80)]), 2)
    if not one(maybe_area_changing, ring):
        assert area_change(ring) < 1e-9


def test_area_pretest_clears_a_border_fold_back_and_flags_a_bow_tie():
    spike = [0, 0, 10, 0, 10, 10, 0, 10, 0, 7, 0, 8, 0, 2]  # runs down the left edge, turns back, goes on
    assert one(maybe_not_simple, spike) and not one(maybe_area_changing, spike)
    assert one(maybe_area_changing, [0, 0, 10, 10, 10, 0, 0, 10])


def test_g006_thresholds_at_zero_still_report_area_changes_of_rounding_size():
    # With thresholds 0 the exact path runs: a fold-back's rounding-size difference is reported as before.
    ring = [0, 0, 10.3, 0, 10.3, 10.7, 0, 10.7, 0, 7.1, 0, 8.9, 0, 2.3]
    ds = Dataset(categories=[Category(1, "a")], items=[Item(1, "a.png", 20, 20, annotations=[
        Annotation(1, 1, Polygons([ring]))])])
    assert check(ds, select=["G006"]).findings == []  # default thresholds: a difference of rounding size
    strict = check(ds, config=Config(select=["G006"], options={"G006": {"abs_area_difference": 0.0,
                                                                         "rel_area_difference": 0.0}}))
    assert [f.code for f in strict.findings] == (["G006"] if area_change(ring) > 0 else [])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 40), st.integers(1, 30), st.integers(1, 30),
                          st.integers(0, 1)), min_size=2, max_size=16))
def test_windowed_pairs_kernel_matches_the_iou_matrix(shapes):
    # Triangles and boxes in a 48 x 56 image: masks are walked only over their boxes' overlap.
    h, w = 48, 56
    polys = [[x, y, x + a, y, x + a, y + b] + ([] if tri else [x, y + b]) for x, y, a, b, tri in shapes]
    rles = [r for r in (from_polygons([p], h, w) for p in polys) if r.area > 0]
    if len(rles) < 2:
        return
    off = np.zeros(len(rles) + 1, np.int64)
    np.cumsum([r.counts.shape[0] for r in rles], out=off[1:])
    counts = np.concatenate([r.counts for r in rles])
    bb = K.bbox_batch(counts, off, np.full(len(rles), h), np.full(len(rles), w))
    lo, hi, inter, tested = pairs_sharing_pixels(counts, off[:-1], off[1:], np.full(len(rles), h, np.int64), bb,
                                                 np.array([0, len(rles)]))
    m = iou(rles, rles)
    areas = np.array([r.area for r in rles])
    got = {(int(a), int(b)): int(i) for a, b, i in zip(lo, hi, inter)}
    want = {}
    for a in range(len(rles)):
        for b in range(a + 1, len(rles)):
            if m[a, b] > 0:
                want[(a, b)] = round(m[a, b] * (areas[a] + areas[b]) / (1 + m[a, b]))
    assert got == want and len(lo) == len(got)
    assert tested <= len(rles) * (len(rles) - 1) // 2
