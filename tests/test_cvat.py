"""CVAT for images 1.1 XML: elements, row-major mask RLE, safety, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError
from segmill.formats import cvat
from segmill.geometry import Box, Mask, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "cvat" / "basic"


def test_labels_come_from_meta_in_order(basic):
    ds = segmill.read(basic, "cvat")
    assert [(c.id, c.name) for c in ds.categories] == [(1, "car"), (2, "road")]


def test_box_and_polygon_coordinates(basic):
    anns = segmill.read(basic, "cvat").items[0].annotations
    assert anns[0].geometry == Box(1, 1, 3.5, 2)
    assert anns[1].geometry == Polygons([[0, 4, 8, 4, 8, 6, 0, 6]])


def test_polyline_and_points_are_shapes(basic):
    anns = segmill.read(basic, "cvat").items[0].annotations
    assert [a.geometry.kind for a in anns[2:4]] == ["polyline", "points"]
    assert isinstance(anns[2].geometry, Shape)


def test_occluded_z_order_and_label_attributes(basic):
    a = segmill.read(basic, "cvat").items[0].annotations[0]
    assert a.attributes == {"occluded": True, "z_order": 2, "parked": "true"}


def test_mask_rle_runs_row_major_inside_its_box(basic):
    g = segmill.read(basic, "cvat").items[0].annotations[4].geometry
    # rle="1, 2, 2, 1" in a 3-wide, 2-high box, row by row: 0 1 1 / 0 0 1
    assert isinstance(g, Mask) and (g.left, g.top) == (2, 1)
    assert g.array.tolist() == [[False, True, True], [False, False, True]]


def test_column_major_reading_of_the_same_counts_would_differ():
    flat = np.repeat([False, True, False, True], [1, 2, 2, 1])
    column_major = flat.reshape(3, 2).T  # what COCO's order would make of the same runs
    assert column_major.tolist() == [[False, True, False], [True, False, True]]
    assert not np.array_equal(column_major, cvat.decode_mask_rle("1, 2, 2, 1", 3, 2))


def test_mask_encoding_starts_with_a_background_run():
    patch = np.array([[1, 1, 0], [0, 0, 0]], bool)
    assert cvat.encode_mask_rle(patch) == "0, 2, 4"
    assert np.array_equal(cvat.decode_mask_rle("0, 2, 4", 3, 2), patch)


def test_mask_counts_not_summing_to_the_box_are_refused(fixtures_dir):
    with pytest.raises(InputError, match="sum to 4"):
        segmill.read(fixtures_dir / "cvat" / "bad_rle", "cvat")


def test_image_name_outside_the_root_is_refused(fixtures_dir):
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(fixtures_dir / "cvat" / "escape", "cvat")


def test_entity_declarations_are_refused(tmp_path):
    (tmp_path / "annotations.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><annotations><version>1.1</version>&x;</annotations>'
    )
    with pytest.raises(InputError, match="not valid XML"):
        segmill.read(tmp_path, "cvat")


def test_undeclared_label_is_an_input_error(tmp_path):
    (tmp_path / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels/></task></meta>'
        '<image id="0" name="a.png" width="4" height="4"><box label="ghost" xtl="0" ytl="0" xbr="1" ybr="1"/></image>'
        "</annotations>"
    )
    with pytest.raises(InputError, match="not declared"):
        segmill.read(tmp_path, "cvat")


def test_read_write_read_round_trip_is_exact(basic, tmp_path):
    ds = segmill.read(basic, "cvat")
    report = segmill.write(ds, tmp_path / "o", "cvat")
    assert report.lossless
    again = segmill.read(tmp_path / "o", "cvat")
    assert again.items == ds.items and again.categories == ds.categories


def test_multipart_polygon_becomes_grouped_polygons_with_l501(tmp_path):
    poly = Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 5]])
    ds = Dataset([Category(1, "a")], [Item(0, "i.png", 7, 6, [Annotation(1, 1, poly)])])
    report = segmill.write(ds, tmp_path / "o", "cvat")
    assert "L501" in report.summary()
    back = segmill.read(tmp_path / "o", "cvat").items[0].annotations
    assert len(back) == 2 and back[0].attributes["group_id"] == back[1].attributes["group_id"]


def test_rle_geometry_is_written_as_a_cropped_mask(tmp_path):
    from segmill.rle import encode

    m = np.zeros((6, 7), bool)
    m[2:4, 1:5] = True
    m[2, 1] = False
    ds = Dataset([Category(1, "a")], [Item(0, "i.png", 7, 6, [Annotation(1, 1, encode(m))])])
    segmill.write(ds, tmp_path / "o", "cvat")
    g = segmill.read(tmp_path / "o", "cvat").items[0].annotations[0].geometry
    assert (g.left, g.top, g.array.shape) == (1, 2, (2, 4))
    assert np.array_equal(g.to_rle(6, 7).decode(), m)


def test_detection_gives_a_reason(basic):
    d = cvat.detect(basic)
    assert d.confidence >= 0.9 and "CVAT" in d.reason


def test_unsupported_element_is_an_error_or_a_listed_skip(tmp_path):
    (tmp_path / "annotations.xml").write_text(
        '<annotations><version>1.1</version><meta><task><labels><label><name>a</name></label></labels></task></meta>'
        '<image id="0" name="a.png" width="4" height="4"><cuboid label="a" xtl1="0"/>'
        '<box label="a" xtl="0" ytl="0" xbr="1" ybr="1"/></image></annotations>'
    )
    with pytest.raises(InputError, match="cuboid"):
        segmill.read(tmp_path, "cvat")
    ds = segmill.read(tmp_path, "cvat", errors="skip")
    assert len(ds.items[0].annotations) == 1 and "cuboid" in ds.meta["skipped"][0]["reason"]


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.data())
def test_mask_rle_round_trips_any_patch(w, h, data):
    bits = data.draw(st.lists(st.booleans(), min_size=w * h, max_size=w * h))
    patch = np.array(bits, bool).reshape(h, w)
    text = cvat.encode_mask_rle(patch)
    assert sum(int(v) for v in text.split(",")) == w * h
    assert np.array_equal(cvat.decode_mask_rle(text, w, h), patch)
