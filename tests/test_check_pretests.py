"""The G006 area pre-test and the windowed pairs kernel against exact references (shapely, the IoU matrix)."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from segmill.check import check
from segmill.check._kernels import (
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


# A ring clipped to the border that runs back and forth along it, then loops below: GEOS's repair
# (G006's reference) nodes the overlapping collinear edges by parity and encloses nothing, so the rule
# must send it to shapely. A pre-test that cleared "turn-backs add no area" once missed it.
BORDER_FOLDS = [99.57, 80, 100, 80, 98.37, 80, 96.44, 80, 100, 80, 87.71, 80, 98.38, 80, 88.51, 80, 82.24, 80,
                84.73, 80, 85.22, 80, 82.66, 80, 80.63, 80, 76.4, 80, 76.28, 80, 70.58, 80, 68.79, 80, 65.02, 80,
                59.69, 80, 58.3, 80, 63.16, 80, 65.36, 80, 60.43, 80, 51.17, 80, 57.84, 80, 63.89, 80, 60.16, 65.53,
                61.22, 65.15, 69.91, 69.87, 70.69, 62.2, 69.78, 57.23, 71.41, 60.96, 79.04, 55.14, 87.49, 58.88,
                85.58, 66.47, 91.37, 67.68, 91.77, 77.48, 94.0, 79.78, 100.0, 80.0]


def test_a_ring_folding_along_the_border_is_sent_to_shapely_and_reported():
    assert one(maybe_not_simple, BORDER_FOLDS)
    assert area_change(BORDER_FOLDS) > 500
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 120, 90, [Annotation(1, 1, Polygons([BORDER_FOLDS]))])])
    assert [f.code for f in check(ds, select=["G006"]).findings] == ["G006"]


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


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(5, 40), st.booleans())
def test_the_simplicity_pretest_on_star_blobs_clipped_or_not(seed, nv, clip):
    # Star-shaped blobs (the one-turn test's case) and the same clipped to the image (runs along the border).
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, nv))
    r = rng.uniform(5, 60) * (1 + 0.3 * rng.standard_normal(nv)).clip(0.2)
    cx, cy = rng.uniform(-20, 120, 2)
    xy = np.column_stack([cx + r * np.cos(ang), cy + r * np.sin(ang)])
    if clip:
        xy = np.column_stack([np.clip(xy[:, 0], 0, 100), np.clip(xy[:, 1], 0, 80)])
    ring = np.round(xy, 2)
    if not shapely.is_simple(shapely.linearrings(ring)):
        assert one(maybe_not_simple, ring)
