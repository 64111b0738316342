"""Instance -> class map composition: overlap policies and reported losses."""

from __future__ import annotations

import numpy as np
import pytest

from segmill.bridges.compose import compose
from segmill.geometry import Box, Polygons, Shape
from segmill.model import Annotation, Category, Item
from segmill.rle import encode


def _sq(x0, y0, x1, y1):
    return Polygons([[x0, y0, x1, y0, x1, y1, x0, y1]])


def _item(*anns, h=6, w=8):
    return Item(1, "a.png", width=w, height=h, annotations=list(anns))


def _not_rasterized(losses):
    """The losses other than L705 (every painted polygon reports one)."""
    return [l for l in losses if l.code != "L705"]


def test_disjoint_instances_paint_without_loss_and_number_instances_by_position():
    it = _item(Annotation(1, 7, _sq(0, 0, 2, 2)), Annotation(2, 9, _sq(4, 1, 6, 5)))
    cmap, imap, losses = compose(it, {7: 1, 9: 2})
    assert [(l.code, l.annotation_id) for l in losses] == [("L705", 1), ("L705", 2)]  # polygons: vertices only
    assert cmap[0, 0] == 1 and cmap[3, 5] == 2 and cmap[5, 7] == 0
    assert imap[0, 0] == 1 and imap[3, 5] == 2
    assert (cmap == 1).sum() == 4 and (cmap == 2).sum() == 8


def test_zorder_attribute_beats_area_and_order():
    big = Annotation(1, 1, _sq(0, 0, 6, 6), attributes={"z_order": 2})
    small = Annotation(2, 2, _sq(1, 1, 3, 3))
    cmap, _, losses = compose(_item(small, big), {1: 1, 2: 2})
    losses = _not_rasterized(losses)
    assert (cmap == 2).sum() == 0
    assert [(l.code, l.annotation_id) for l in losses] == [("L701", 2)]
    assert losses[0].message.startswith("4 of 4")


@pytest.mark.parametrize("odd", ["top", None, float("nan"), [1], True])
def test_a_z_order_that_is_not_a_number_counts_as_zero(odd):
    big = Annotation(1, 1, _sq(0, 0, 6, 6), attributes={"z_order": 1})
    small = Annotation(2, 2, _sq(1, 1, 3, 3), attributes={"z_order": odd})
    cmap, _, losses = compose(_item(small, big), {1: 1, 2: 2})
    assert (cmap == 2).sum() == 0  # z 0 < 1: under the big one
    assert [(l.code, l.annotation_id) for l in _not_rasterized(losses)] == [("L701", 2)]


def test_zorder_policy_puts_the_smaller_region_on_top_at_equal_z():
    big, small = Annotation(1, 1, _sq(0, 0, 6, 6)), Annotation(2, 2, _sq(1, 1, 3, 3))
    cmap, _, losses = compose(_item(small, big), {1: 1, 2: 2})
    losses = _not_rasterized(losses)
    assert (cmap == 2).sum() == 4
    assert [(l.annotation_id, l.message.split()[0]) for l in losses] == [(1, "4")]


def test_last_policy_lets_later_annotations_overwrite_like_labelme():
    big, small = Annotation(1, 1, _sq(0, 0, 6, 6)), Annotation(2, 2, _sq(1, 1, 3, 3))
    cmap, _, losses = compose(_item(small, big), {1: 1, 2: 2}, overlap="last")
    assert (cmap == 2).sum() == 0 and _not_rasterized(losses)[0].annotation_id == 2


def test_every_overwritten_pixel_is_counted_against_a_brute_force_reference():
    rng = np.random.default_rng(5)
    anns = []
    for k in range(6):
        x0, y0 = rng.integers(0, 6, 2)
        anns.append(Annotation(k + 1, 1 + k % 2, _sq(int(x0), int(y0), int(x0) + 3, int(y0) + 3)))
    it = _item(*anns, h=10, w=10)
    _, imap, losses = compose(it, {1: 1, 2: 2}, overlap="last")
    # reference: a pixel of annotation k is lost iff a later annotation covers it
    masks = [a.to_rle(10, 10).decode() for a in anns]
    expect = {}
    for k, m in enumerate(masks):
        later = np.zeros_like(m)
        for m2 in masks[k + 1 :]:
            later |= m2
        n = int((m & later).sum())
        if n:
            expect[k + 1] = n
    got = {l.annotation_id: int(l.message.split()[0]) for l in losses if l.code == "L701"}
    assert got == expect
    assert sum((imap == k + 1).sum() for k in range(6)) == int(np.any(masks, axis=0).sum())


def test_void_annotations_and_ignore_categories_paint_255_with_chosen_instance_values():
    void = Annotation(1, None, _sq(0, 0, 2, 2), attributes={"void": True})
    ign = Annotation(2, 5, _sq(4, 0, 6, 2))
    cats = [Category(0, "_background_"), Category(5, "__ignore__")]
    cmap, imap, losses = compose(_item(void, ign), {0: 0, 5: 1}, void_instance_value=255,
                                 category_names={c.id: c.name for c in cats})
    assert cmap[0, 0] == 255 and imap[0, 0] == 255
    assert cmap[0, 4] == 255 and imap[0, 4] == 0
    assert _not_rasterized(losses) == []


def test_category_without_a_value_and_shapes_are_reported_not_painted():
    it = _item(Annotation(1, 3, _sq(0, 0, 2, 2)), Annotation(2, 1, Shape("point", [[1, 1]])))
    cmap, _, losses = compose(it, {1: 1})
    assert cmap.max() == 0
    assert sorted(l.code for l in losses) == ["L702", "L703"]


def test_boxes_are_skipped_unless_asked():
    it = _item(Annotation(1, 1, Box(0, 0, 2, 3)))
    assert compose(it, {1: 1})[0].max() == 0
    assert (compose(it, {1: 1}, paint_boxes=True)[0] == 1).sum() == 6


def test_pil_raster_includes_the_boundary_pixels():
    it = _item(Annotation(1, 1, _sq(1, 1, 3, 3)))
    coco = (compose(it, {1: 1})[0] == 1).sum()
    pil = (compose(it, {1: 1}, raster="pil")[0] == 1).sum()
    assert (coco, pil) == (4, 9)


def test_instance_values_are_used_and_zero_keeps_an_annotation_out_of_the_instance_map():
    it = _item(Annotation(1, 1, _sq(0, 0, 2, 2)), Annotation(2, 1, _sq(4, 0, 6, 2)))
    _, imap, _ = compose(it, {1: 1}, instance_values=[7, 0])
    assert imap[0, 0] == 7 and imap[0, 4] == 0


def test_large_values_widen_the_dtype():
    it = _item(Annotation(1, 1, _sq(0, 0, 2, 2)))
    cmap, imap, _ = compose(it, {1: 300}, instance_values=[70000])
    assert cmap.dtype == np.uint16 and imap.dtype == np.uint32 and imap[0, 0] == 70000


def test_rle_geometry_is_painted_exactly():
    m = np.zeros((6, 8), bool)
    m[1:5, 2] = True
    m[3, 2:7] = True
    cmap, _, _ = compose(_item(Annotation(1, 1, encode(m))), {1: 4})
    assert np.array_equal(cmap == 4, m)


def test_unknown_overlap_policy_is_a_value_error():
    with pytest.raises(ValueError, match="overlap"):
        compose(_item(), {}, overlap="first")


def test_zorder_policy_breaks_equal_area_ties_by_the_higher_id():
    a = Annotation(9, 1, _sq(0, 0, 3, 3))
    b = Annotation(4, 2, _sq(1, 1, 4, 4))
    cmap, _, losses = compose(_item(a, b), {1: 1, 2: 2})
    assert cmap[1, 1] == 1 and [l.annotation_id for l in _not_rasterized(losses)] == [4]


def test_each_painted_polygon_and_box_reports_one_rasterization_loss():
    it = _item(Annotation(1, 1, _sq(0, 0, 2, 2)), Annotation(2, 1, Box(4, 0, 2, 3)),
               Annotation(3, 1, Polygons([[0, 3, 2, 3, 2, 5], [3, 3, 5, 3, 5, 5]])))
    _, _, losses = compose(it, {1: 1}, paint_boxes=True)
    assert [(l.code, l.annotation_id) for l in losses] == [("L705", 1), ("L705", 2), ("L705", 3)]


def test_masks_and_rles_paint_without_a_rasterization_loss():
    from segmill.geometry import Mask

    m = np.zeros((6, 8), bool)
    m[1:3, 1:4] = True
    it = _item(Annotation(1, 1, encode(m)), Annotation(2, 1, Mask(np.ones((2, 2), bool), 5, 3)))
    assert compose(it, {1: 1})[2] == []


def test_unpainted_annotations_report_no_rasterization_loss():
    it = _item(Annotation(1, 3, _sq(0, 0, 2, 2)), Annotation(2, 1, Box(0, 0, 2, 3)))
    _, _, losses = compose(it, {1: 1})  # category 3 has no value; boxes not asked for
    assert [l.code for l in losses] == ["L702"]
