"""LabelMe JSON: grouping, shape kinds, raster rules, safety, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

import segmill
from segmill.errors import GeometryError, InputError
from segmill.formats import labelme
from segmill.geometry import Box, Mask, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "labelme" / "basic"


def _anns(path, **kw):
    return segmill.read(path, "labelme", **kw).items[0].annotations


def _pil(draw_fn, h=8, w=10):
    img = Image.new("L", (w, h), 0)
    draw_fn(ImageDraw.Draw(img))
    return np.asarray(img, bool)


def test_shapes_with_same_label_and_group_id_form_one_instance(basic):
    anns = _anns(basic)
    dog = anns[1]
    assert dog.attributes["group_id"] == 7
    assert dog.geometry == Polygons([[5, 1, 8, 1, 8, 3], [5, 5, 8, 5, 8, 7, 5, 7]])


def test_shapes_without_group_id_are_separate_instances(basic):
    cats = [a for a in _anns(basic) if a.category_id == 1 and not isinstance(a.geometry, Shape)]
    assert len(cats) == 3


def test_rectangle_becomes_a_box_under_the_coco_rule(basic):
    assert _anns(basic)[2].geometry == Box(0, 5, 3, 2)


def test_rectangle_under_pil_rule_has_pillows_pixels(basic):
    ann = _anns(basic, raster="pil")[2]
    expect = _pil(lambda d: d.rectangle([0, 5, 3, 7], outline=1, fill=1))
    assert np.array_equal(ann.to_rle(8, 10).decode(), expect)
    assert ann.area == expect.sum()


def test_circle_under_pil_rule_is_pillows_ellipse(basic):
    ann = _anns(basic, raster="pil")[3]
    expect = _pil(lambda d: d.ellipse([1, 1, 3, 3], outline=1, fill=1))
    assert np.array_equal(ann.to_rle(8, 10).decode(), expect)


def test_polygon_area_under_pil_rule_is_pillows_pixel_count(basic):
    ann = _anns(basic, raster="pil")[1]
    expect = _pil(lambda d: d.polygon([(5, 1), (8, 1), (8, 3)], outline=1, fill=1)) | _pil(
        lambda d: d.polygon([(5, 5), (8, 5), (8, 7), (5, 7)], outline=1, fill=1)
    )
    assert ann.area == expect.sum()
    ys, xs = np.nonzero(expect)
    assert ann.bbox == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_coco_rule_sets_no_stored_area(basic):
    assert all(a.area is None for a in _anns(basic))


def test_mask_shape_is_a_patch_at_its_first_point(basic):
    g = _anns(basic)[4].geometry
    assert isinstance(g, Mask) and (g.left, g.top) == (6, 4)
    assert g.array.tolist() == [[False, True, True], [True, True, False]]


def test_lines_and_points_are_carried_but_never_rasterized(basic):
    shapes = [a.geometry for a in _anns(basic) if isinstance(a.geometry, Shape)]
    assert [s.kind for s in shapes] == ["line", "point"]
    with pytest.raises(GeometryError):
        shapes[0].to_rle(8, 10)


def test_raster_rule_is_recorded_for_writers(basic):
    assert segmill.read(basic, "labelme", raster="pil").meta["raster_rule"] == "pil"


def test_embedded_image_data_gives_the_size_when_json_has_none(fixtures_dir):
    item = segmill.read(fixtures_dir / "labelme" / "embedded", "labelme").items[0]
    assert (item.height, item.width) == (6, 7)


def test_image_path_outside_the_root_is_refused(fixtures_dir):
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(fixtures_dir / "labelme" / "escape", "labelme")


def test_image_data_that_is_not_png_or_jpeg_is_reported(fixtures_dir):
    with pytest.raises(InputError, match="not a PNG or JPEG"):
        segmill.read(fixtures_dir / "labelme" / "bad_base64", "labelme")


def test_two_point_polygon_is_named_by_file_and_shape(tmp_path):
    doc = {"shapes": [{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "polygon"}],
           "imagePath": None, "imageHeight": 4, "imageWidth": 4}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(InputError) as exc:
        segmill.read(tmp_path, "labelme")
    assert exc.value.record == "shape 0" and "at least 3" in exc.value.message


def test_skip_mode_lists_the_bad_shape(tmp_path):
    doc = {"shapes": [{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "polygon"},
                      {"label": "a", "points": [[0, 0], [2, 0], [2, 2]], "shape_type": "polygon"}],
           "imagePath": None, "imageHeight": 4, "imageWidth": 4}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    ds = segmill.read(tmp_path, "labelme", errors="skip")
    assert len(ds.items[0].annotations) == 1 and ds.meta["skipped"][0]["record"] == "shape 0"


def test_labels_file_in_labelme_convention_sets_ids(tmp_path, basic):
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\ncat\ndog\n")
    ds = segmill.read(basic, "labelme", labels=tmp_path / "labels.txt")
    assert [(c.id, c.name) for c in ds.categories] == [(255, "__ignore__"), (0, "_background_"), (1, "cat"), (2, "dog")]


@pytest.mark.parametrize("rule", ["coco", "pil"])
def test_read_write_read_round_trip_is_exact(basic, tmp_path, rule):
    ds = segmill.read(basic, "labelme", raster=rule)
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert report.lossless
    again = segmill.read(tmp_path / "o", "labelme", raster=rule)
    assert again.items == ds.items and again.categories == ds.categories


def test_written_shapes_keep_their_original_types(basic, tmp_path):
    segmill.write(segmill.read(basic, "labelme"), tmp_path / "o", "labelme")
    doc = json.loads((tmp_path / "o" / "img1.json").read_text())
    assert [s["shape_type"] for s in doc["shapes"]] == [
        "polygon", "polygon", "polygon", "rectangle", "circle", "mask", "line", "point"
    ]


def test_rle_is_written_as_a_mask_shape_and_crowd_is_a_loss(tmp_path):
    m = np.zeros((6, 7), bool)
    m[2:4, 1:5] = True
    ds = Dataset([Category(1, "a")], [Item(1, "i.png", 7, 6, [Annotation(1, 1, encode(m), iscrowd=True)])])
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert "L401" in report.summary()
    back = segmill.read(tmp_path / "o", "labelme").items[0].annotations[0]
    assert np.array_equal(back.to_rle(6, 7).decode(), m)


def test_multipart_polygon_without_group_gets_a_fresh_group_and_stays_one_instance(tmp_path):
    poly = Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 5]])
    small = Polygons([[0, 4, 1, 4, 1, 5]])
    ds = Dataset([Category(1, "a")], [Item(1, "i.png", 7, 6, [Annotation(1, 1, poly), Annotation(2, 1, small)])])
    segmill.write(ds, tmp_path / "o", "labelme")
    back = segmill.read(tmp_path / "o", "labelme").items[0].annotations
    assert [a.geometry for a in back] == [poly, small]


def test_detection_gives_a_reason(basic):
    d = labelme.detect(basic)
    assert d.confidence >= 0.9 and "shapes" in d.reason


def test_keep_mode_holds_the_bad_shape_as_invalid_geometry(tmp_path):
    from segmill.geometry import InvalidGeometry

    doc = {"shapes": [{"label": "a", "points": [[0, 0], [1, 1]], "shape_type": "polygon"}],
           "imagePath": None, "imageHeight": 4, "imageWidth": 4}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    g = segmill.read(tmp_path, "labelme", errors="keep").items[0].annotations[0].geometry
    assert isinstance(g, InvalidGeometry) and "at least 3" in g.reason


def test_absurd_image_size_is_an_input_error(tmp_path):
    doc = {"shapes": [], "imagePath": None, "imageHeight": 10**6, "imageWidth": 10**6}
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="not plausible"):
        segmill.read(tmp_path, "labelme")


def test_cli_refuses_an_escaping_image_path_with_exit_2_and_no_output(fixtures_dir, tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "labelme" / "escape"), str(out),
                                    "--from", "labelme", "--to", "coco"])
    assert res.exit_code == 2 and "outside the dataset root" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert not out.exists()
