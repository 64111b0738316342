"""Exact mask -> polygon tracing: the COCO rule re-rasterizes the polygons to the mask."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as pcm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmill.bridges.trace import trace, trace_rings
from segmill.errors import GeometryError
from segmill.rle import encode, from_polygons


def _roundtrips(mask, connectivity=8):
    h, w = mask.shape
    poly = trace(mask, connectivity=connectivity)
    return from_polygons(list(poly.parts), h, w) == encode(mask)


random_masks = st.integers(1, 24).flatmap(
    lambda h: st.integers(1, 24).flatmap(lambda w: arrays(np.bool_, (h, w)))
)


@st.composite
def structured_masks(draw):
    """Blobs with holes, holes in holes (rings of rings), border-touching shapes."""
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    m = np.zeros((h, w), bool)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(draw(st.integers(1, 5))):
        cy = draw(st.integers(-3, h + 2))
        cx = draw(st.integers(-3, w + 2))
        radii = sorted(draw(st.lists(st.integers(0, 15), min_size=1, max_size=5)), reverse=True)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        # concentric annuli alternate foreground / background: holes in holes
        for k, r in enumerate(radii):
            m[d2 <= r * r] = k % 2 == 0
    return m


@settings(max_examples=300, deadline=None)
@given(random_masks)
def test_exact_trace_rerasterizes_random_masks_bit_for_bit(mask):
    if mask.any():
        assert _roundtrips(mask, 8)


@settings(max_examples=150, deadline=None)
@given(random_masks)
def test_exact_trace_with_4_connectivity_rerasterizes_bit_for_bit(mask):
    if mask.any():
        assert _roundtrips(mask, 4)


@settings(max_examples=200, deadline=None)
@given(structured_masks())
def test_exact_trace_rerasterizes_blobs_holes_and_nested_holes(mask):
    if mask.any():
        assert _roundtrips(mask, 8) and _roundtrips(mask, 4)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 120])  # 120: more corners than the first buffer
def test_checkerboards_round_trip(n):
    mask = (np.add.outer(np.arange(n), np.arange(n + 1)) % 2).astype(bool)
    assert _roundtrips(mask, 8) and _roundtrips(mask, 4)


def test_diagonal_touch_is_one_part_with_8_connectivity_and_two_with_4():
    mask = np.array([[1, 0], [0, 1]], bool)
    assert len(trace(mask, connectivity=8).parts) == 1
    assert len(trace(mask, connectivity=4).parts) == 2


def test_single_pixel_is_its_unit_square():
    mask = np.zeros((3, 3), bool)
    mask[1, 2] = True
    assert trace(mask).to_coco() == [[2, 1, 3, 1, 3, 2, 2, 2]]


def test_mask_filling_the_image_touches_every_border():
    mask = np.ones((4, 6), bool)
    assert trace(mask).to_coco() == [[0, 0, 6, 0, 6, 4, 0, 4]]


def test_hole_is_bridged_inside_the_one_ring_of_its_component():
    mask = np.ones((5, 5), bool)
    mask[2, 2] = False
    poly = trace(mask)
    assert len(poly.parts) == 1
    # the ring goes down the bridge at x=2 from the top edge to the hole and back
    pts = [tuple(p) for p in poly.parts[0].astype(int).tolist()]
    assert pts.count((2, 0)) == 2 and (2, 2) in pts
    assert from_polygons(list(poly.parts), 5, 5).area == 24


def test_separate_hole_parts_would_be_filled_by_coco_union():
    # why holes are bridged: given as separate parts, COCO unions the hole away
    mask = np.ones((3, 3), bool)
    mask[1, 1] = False
    rings, is_hole = trace_rings(mask)
    assert is_hole.tolist() == [False, True]
    assert from_polygons([r.astype(float) for r in rings], 3, 3).area == 9
    assert from_polygons(list(trace(mask).parts), 3, 3).area == 8


def test_vertices_are_integer_pixel_corners():
    rng = np.random.default_rng(3)
    mask = rng.random((30, 30)) < 0.5
    for part in trace(mask).parts:
        assert np.array_equal(part, np.round(part))
        assert part.min() >= 0 and part[:, 0].max() <= 30 and part[:, 1].max() <= 30


def test_trace_agrees_with_pycocotools_frpyobjects_and_merge():
    rng = np.random.default_rng(7)
    for _ in range(50):
        h, w = rng.integers(1, 20, 2)
        mask = rng.random((h, w)) < rng.random()
        if not mask.any():
            continue
        polys = [list(map(float, p)) for p in trace(mask).to_coco()]
        decoded = pcm.decode(pcm.merge(pcm.frPyObjects(polys, int(h), int(w)))).astype(bool)
        assert np.array_equal(decoded, mask)


def test_trace_accepts_an_rle_and_a_coco_rle_dict():
    mask = np.zeros((6, 7), bool)
    mask[1:4, 2:6] = True
    rle = encode(mask)
    assert trace(rle) == trace(mask) == trace(rle.to_coco())


def test_empty_mask_raises_a_geometry_error():
    with pytest.raises(GeometryError, match="empty"):
        trace(np.zeros((4, 4), bool))


def test_simplified_mode_returns_fewer_vertices_and_the_iou_it_costs():
    yy, xx = np.mgrid[:60, :60]
    mask = (yy - 30) ** 2 + (xx - 30) ** 2 <= 20**2
    mask &= (yy - 30) ** 2 + (xx - 30) ** 2 > 6**2
    exact = trace(mask)
    simple, score = trace(mask, mode="simplified", tolerance=1.5)
    assert sum(len(p) for p in simple.parts) < sum(len(p) for p in exact.parts) / 2
    r = from_polygons(list(simple.parts), 60, 60)
    inter = np.logical_and(r.decode(), mask).sum()
    union = np.logical_or(r.decode(), mask).sum()
    assert score == pytest.approx(inter / union) and 0.9 < score < 1.0


def test_simplified_mode_with_zero_tolerance_is_exact():
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True
    mask[4:6, 4:6] = False
    _, score = trace(mask, mode="simplified", tolerance=0.0)
    assert score == 1.0
