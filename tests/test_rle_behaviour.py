"""segmill.rle behaviour beyond pycocotools: the contract, errors, the pil rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from segmill import rle
from segmill.errors import PolygonError, RLEError, SegmillError


# ------------------------------------------------------------------ the value
def test_rle_is_immutable():
    r = rle.RLE([3, 2, 1], 2, 3)
    with pytest.raises(ValueError):
        r.counts[0] = 1
    with pytest.raises(AttributeError):
        r.height = 5


def test_rle_folds_empty_runs_so_equal_masks_compare_equal():
    assert rle.RLE([2, 0, 1, 3], 2, 3) == rle.RLE([3, 3], 2, 3)
    assert rle.RLE([0, 0, 6], 2, 3).counts.tolist() == [6]


def test_rle_to_coco_forms():
    r = rle.RLE([1, 2, 3], 2, 3)
    assert r.to_coco() == {"size": [2, 3], "counts": "123"}
    assert r.to_coco(compressed=False) == {"size": [2, 3], "counts": [1, 2, 3]}


def test_integer_rectangle_covers_x0_to_x1_minus_1():
    r = rle.from_polygons([[2, 1, 5, 1, 5, 4, 2, 4]], 6, 7)
    m = r.decode()
    expected = np.zeros((6, 7), bool)
    expected[1:4, 2:5] = True
    np.testing.assert_array_equal(m, expected)


def test_square_0_9_has_area_81():
    assert rle.from_polygons([[0, 0, 9, 0, 9, 9, 0, 9]], 10, 10).area == 81


def test_pentagram_has_empty_centre():
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5
    pts = np.c_[20 + 15 * np.cos(angles), 20 - 15 * np.sin(angles)]
    m = rle.from_polygons([pts.reshape(-1).tolist()], 40, 40).decode()
    assert not m[20, 20]
    assert m[8, 20]  # a tip is filled


def test_parts_are_unioned_so_a_hole_part_does_not_cut():
    outer = [0, 0, 10, 0, 10, 10, 0, 10]
    inner = [3, 3, 7, 3, 7, 7, 3, 7]
    assert rle.from_polygons([outer, inner], 12, 12).area == 100


def test_n_by_2_arrays_and_single_flat_list_are_accepted():
    flat = [1.5, 1, 8, 2, 6, 7.5]
    a = rle.from_polygons([flat], 10, 10)
    assert rle.from_polygons(flat, 10, 10) == a
    assert rle.from_polygons([np.array(flat).reshape(-1, 2)], 10, 10) == a


def test_decode_returns_bool_row_col_indexed():
    m = np.zeros((5, 7), bool)
    m[1, 6] = m[4, 0] = True
    out = rle.decode(rle.encode(m))
    assert out.shape == (5, 7) and out.dtype == np.bool_
    np.testing.assert_array_equal(out, m)


def test_decode_batch_shape():
    ms = np.random.default_rng(0).random((3, 4, 6)) > 0.5
    out = rle.decode_batch(rle.encode_batch(ms))
    np.testing.assert_array_equal(out, ms)


def test_empty_and_zero_sized_masks():
    e = rle.encode(np.zeros((4, 3), bool))
    assert e.area == 0 and e.bbox == (0.0, 0.0, 0.0, 0.0)
    z = rle.encode(np.zeros((0, 5), bool))
    assert z.counts.tolist() == [0] and z.area == 0
    assert rle.from_polygons([[0, 0, 1, 0, 1, 1]], 0, 0).area == 0


def test_iou_crowd_is_intersection_over_detection():
    d = rle.from_bbox([0, 0, 4, 4], 10, 10)
    g = rle.from_bbox([2, 0, 8, 4], 10, 10)
    assert rle.iou([d], [g], [False])[0, 0] == pytest.approx(8 / 40)
    assert rle.iou([d], [g], [True])[0, 0] == pytest.approx(8 / 16)


# ------------------------------------------------------------------ pil rule
def pil_reference(parts, h, w):
    img = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(img)
    for p in parts:
        d.polygon(list(zip(p[::2], p[1::2])), outline=1, fill=1)
    return np.asarray(img).astype(bool)


@pytest.mark.parametrize(
    "parts",
    [[[2, 1, 5, 1, 5, 4, 2, 4]], [[1.2, 0.7, 9.6, 3.3, 4.1, 8.8]], [[0, 0, 6, 0, 6, 6, 0, 6], [8, 8, 11, 8, 11, 11]]],
)
def test_pil_rule_draws_like_pillow(parts):
    got = rle.from_polygons(parts, 12, 13, rule="pil").decode()
    np.testing.assert_array_equal(got, pil_reference(parts, 12, 13))


def test_pil_rule_includes_the_boundary_coco_does_not():
    square = [[2, 1, 5, 1, 5, 4, 2, 4]]
    assert rle.from_polygons(square, 8, 8, rule="coco").area == 9
    assert rle.from_polygons(square, 8, 8, rule="pil").area == 16


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown rasterization rule"):
        rle.from_polygons([[0, 0, 1, 0, 1, 1]], 3, 3, rule="opencv")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "polygons, message",
    [
        ([], "no parts"),
        ([[0, 0, 1, 1]], "2 points; at least 3"),
        ([[0, 0, 5, 0, 5, 5, 0, 5], [1, 1]], "part 1 has 1 points"),
        ([[0, 0, 5, 0, 5]], "odd number of coordinates"),
        ([[0, 0, float("nan"), 0, 5, 5]], "NaN or infinite"),
        ([[0, 0, float("inf"), 0, 5, 5]], "NaN or infinite"),
        ([[0, 0, 3e9, 0, 5, 5]], "beyond"),
        ([["a", 0, 1, 0, 1, 1]], "not a list of numbers"),
        ("0 0 1 0 1 1", "must be a list of parts"),
    ],
)
def test_bad_polygons_raise_polygon_error(polygons, message):
    with pytest.raises(PolygonError, match=message):
        rle.from_polygons(polygons, 10, 10)


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"size": [2, 3], "counts": [1, 2]}, "sum to 3, but a 2x3 mask has 6"),
        ({"size": [2, 3], "counts": [1, 2, 9]}, "sum to 12"),
        ({"size": [2, 3], "counts": [1, -2, 7]}, "must not be negative"),
        ({"size": [2, 3], "counts": [1.5, 4.5]}, "whole numbers"),
        ({"size": [2, 3], "counts": "1~"}, "character '~' at position 1"),
        ({"size": [2, 3], "counts": "1é"}, "character 'é'"),
        ({"size": [2, 3], "counts": "1P"}, "ends in the middle of a count"),
        ({"size": [2, 3], "counts": "12"}, "sum to 3"),
        ({"size": [2, 3], "counts": "6@"}, "negative or too large"),
        ({"size": [2], "counts": [6]}, "'size' must be \\[height, width\\]"),
        ({"size": [-2, 3], "counts": [6]}, "must not be negative"),
        ({"counts": [6]}, "missing 'size'"),
        ({"size": [2, 3], "counts": 6}, "counts"),
        ([1, 2], "must be a dict"),
        ({"size": [100000, 100000], "counts": [1]}, "more than 2\\*\\*32 - 1 pixels"),
    ],
)
def test_bad_rles_raise_rle_error(obj, message):
    with pytest.raises(RLEError, match=message):
        rle.from_coco(obj)


def test_rle_size_must_match_the_image():
    with pytest.raises(RLEError, match="does not match the image size"):
        rle.from_coco({"size": [2, 3], "counts": [6]}, height=3, width=2)


def test_mixed_sizes_are_refused_by_merge_and_iou():
    a = rle.RLE([6], 2, 3)
    b = rle.RLE([6], 3, 2)
    with pytest.raises(RLEError, match="RLE 1 is 3x2"):
        rle.merge([a, b])
    with pytest.raises(RLEError, match="3x2"):
        rle.iou([a], [b])


def test_iscrowd_length_must_match():
    a = rle.RLE([6], 2, 3)
    with pytest.raises(RLEError, match="iscrowd has 2 flags for 1"):
        rle.iou([a], [a], [0, 1])


def test_encode_refuses_non_2d():
    with pytest.raises(RLEError, match="2-D"):
        rle.encode(np.zeros((2, 2, 2)))


def test_all_errors_share_one_base_class():
    for cls in (RLEError, PolygonError):
        assert issubclass(cls, SegmillError)
