"""LabelMe JSON: grouping, shape kinds, raster rules, safety, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

import segmill
from segmill.errors import GeometryError, InputError
from segmill.formats import labelme
from segmill.geometry import Box, Mask, Polygons, Shape
from segmill.io import ConvertOptions
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


def test_labels_file_in_labelme_convention_sets_ids_and_ignore_is_no_category(tmp_path, basic):
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\ncat\ndog\n")
    ds = segmill.read(basic, "labelme", labels=tmp_path / "labels.txt")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "_background_"), (1, "cat"), (2, "dog")]


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


# ------------------------------------------------------------------ layout: one JSON beside each image
def _image(path, w=7, h=6, value=40):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w), value, np.uint8)).save(path)
    return path


def _square(aid, cid=1, x=1, **kw):
    return Annotation(aid, cid, Polygons([[x, 1, x + 3, 1, x + 3, 4, x, 4]]), **kw)


def _images_dataset(root, names, size=(7, 6)):
    """One item per file name (images made under ``root``), each with one square of category 1."""
    items = []
    for k, name in enumerate(names):
        if name is not None:
            _image(root / name, *size, value=10 * k)
        items.append(Item(k + 1, name or f"missing{k}.png", size[0], size[1], [_square(k + 1)]))
    return Dataset([Category(1, "a")], items, meta={"image_root": str(root)})


def _doc(path):
    return json.loads(path.read_text())


def test_json_is_named_by_the_image_stem_and_sits_beside_the_copied_image(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["img_00000.jpg", "sub/img_00001.png"])
    report = segmill.write(ds, tmp_path / "o", "labelme")
    out = tmp_path / "o"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "img_00000.jpg", "img_00000.json", "sub/img_00001.json", "sub/img_00001.png"]
    assert _doc(out / "img_00000.json")["imagePath"] == "img_00000.jpg"
    assert _doc(out / "sub" / "img_00001.json")["imagePath"] == "img_00001.png"
    assert (out / "sub" / "img_00001.png").read_bytes() == (tmp_path / "src" / "sub" / "img_00001.png").read_bytes()
    assert "L405" not in report.summary()


def test_same_stem_in_two_sub_folders_keeps_both_sub_folders(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["x/a.png", "y/a.png"])
    segmill.write(ds, tmp_path / "o", "labelme")
    back = segmill.read(tmp_path / "o", "labelme")
    assert [(i.id, i.file_name) for i in back.items] == [("x/a", "x/a.png"), ("y/a", "y/a.png")]


def test_same_stem_in_one_folder_gets_a_suffix_and_the_rename_is_reported(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png", "a.jpg"])
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert _doc(tmp_path / "o" / "a.json")["imagePath"] == "a.png"
    assert _doc(tmp_path / "o" / "a_1.json")["imagePath"] == "a_1.jpg"
    assert [(l.code, l.item_id) for l in report.losses if l.code == "L409"] == [("L409", 2)]


def test_a_file_name_leaving_the_dataset_is_written_inside_the_output_and_reported(tmp_path):
    ds = _images_dataset(tmp_path / "src", [None])
    ds.items[0].file_name = "../../etc/x.png"
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert _doc(tmp_path / "o" / "x.json")["imagePath"] == "x.png"
    assert {"L409", "L405"} <= set(report.summary())


def test_missing_image_still_writes_the_json_with_its_image_path_and_reports_l405(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["here.png", None])
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert _doc(tmp_path / "o" / "missing1.json")["imagePath"] == "missing1.png"
    assert [(l.code, l.item_id) for l in report.losses if l.code == "L405"] == [("L405", 2)]
    assert not (tmp_path / "o" / "missing1.png").exists() and (tmp_path / "o" / "here.png").exists()


def test_image_root_option_names_where_the_images_are(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png"])
    ds.meta.pop("image_root")
    assert "L405" in segmill.write(ds, tmp_path / "o1", "labelme").summary()
    report = segmill.write(ds, tmp_path / "o2", "labelme", image_root=tmp_path / "src")
    assert "L405" not in report.summary() and (tmp_path / "o2" / "a.png").is_file()


def test_link_images_hard_links_instead_of_copying(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png"])
    segmill.write(ds, tmp_path / "o", "labelme", link_images=True)
    assert (tmp_path / "o" / "a.png").stat().st_ino == (tmp_path / "src" / "a.png").stat().st_ino


def test_copy_images_off_writes_no_image_and_notes_it(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png"])
    report = segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    assert not (tmp_path / "o" / "a.png").exists() and report.notes and "L405" not in report.summary()


def test_image_data_is_null_unless_embedded_then_the_file_bytes_in_base64(tmp_path):
    import base64

    ds = _images_dataset(tmp_path / "src", ["a.png"])
    segmill.write(ds, tmp_path / "o1", "labelme")
    assert _doc(tmp_path / "o1" / "a.json")["imageData"] is None
    segmill.write(ds, tmp_path / "o2", "labelme", embed_images=True)
    data = _doc(tmp_path / "o2" / "a.json")["imageData"]
    assert base64.b64decode(data) == (tmp_path / "src" / "a.png").read_bytes()


def test_embedded_image_data_of_the_source_becomes_the_image_file(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "labelme" / "embedded", "labelme")
    report = segmill.write(ds, tmp_path / "o", "labelme")
    doc = _doc(tmp_path / "o" / "emb.json")  # a LabelMe item keeps its JSON's name
    assert doc["imageData"] is None and (tmp_path / "o" / doc["imagePath"]).is_file()
    assert report.lossless
    with Image.open(tmp_path / "o" / doc["imagePath"]) as im:
        assert im.size == (7, 6)


def test_image_whose_size_differs_from_the_annotations_is_reported(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png"])
    _image(tmp_path / "src" / "a.png", 9, 9)
    assert "L411" in segmill.write(ds, tmp_path / "o", "labelme").summary()


def test_written_files_have_every_key_labelme_writes(tmp_path):
    ds = _images_dataset(tmp_path / "src", ["a.png"])
    segmill.write(ds, tmp_path / "o", "labelme")
    doc = _doc(tmp_path / "o" / "a.json")
    assert list(doc) == ["version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"]
    assert (doc["imageHeight"], doc["imageWidth"]) == (6, 7)
    assert list(doc["shapes"][0]) == ["label", "points", "group_id", "description", "shape_type", "flags", "mask"]


def test_string_group_id_is_replaced_by_an_integer_and_reported(tmp_path):
    ann = Annotation(1, 1, Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 5]]), attributes={"group_id": "g"})
    ds = Dataset([Category(1, "a")], [Item("i", "i.png", 7, 6, [ann])])
    report = segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    gids = {s["group_id"] for s in _doc(tmp_path / "o" / "i.json")["shapes"]}
    assert len(gids) == 1 and isinstance(gids.pop(), int) and "L410" in report.summary()


def test_ids_and_stored_areas_a_re_read_does_not_give_back_are_reported(tmp_path):
    poly = Polygons([[1, 1, 4, 1, 4, 4, 1, 4]])
    anns = [Annotation(7, 1, poly, area=9.0, bbox=(1, 1, 3, 3)), Annotation(2, 1, poly, area=10.0)]
    ds = Dataset([Category(1, "a")], [Item(42, "i.png", 7, 6, anns)])
    report = segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    got = sorted((l.code, l.annotation_id) for l in report.losses)
    # the image id 42 reads back as "i"; ids 7, 2 as 1, 2; area 9 is the polygon's own, 10 is not
    assert got == [("L406", None), ("L407", 7), ("L408", 2)]


def test_a_dataset_labelme_can_hold_round_trips_exactly_with_no_loss(tmp_path):
    # ids as the reader numbers them: b.json is read before s/a.json
    anns = [_square(2, attributes={"z_order": 0}), Annotation(3, None, Polygons([[0, 0, 1, 0, 1, 1]]),
                                                              attributes={"void": True, "z_order": 1})]
    ds = Dataset([Category(1, "a")], [Item("s/a", "s/a.png", 7, 6, anns), Item("b", "b.png", 7, 6, [_square(1)])])
    ds.items[1].annotations[0].attributes["z_order"] = 0
    _image(tmp_path / "src" / "s" / "a.png")
    _image(tmp_path / "src" / "b.png")
    report = segmill.write(ds, tmp_path / "o", "labelme", image_root=tmp_path / "src")
    assert report.lossless, report.losses
    back = segmill.read(tmp_path / "o", "labelme")
    assert sorted(back.items, key=lambda i: i.id) == sorted(ds.items, key=lambda i: i.id)
    assert back.categories == ds.categories


# ------------------------------------------------------------------ __ignore__: void regions
def _ignore_file(tmp_path, shapes):
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "x.png", "imageData": None,
           "imageHeight": 8, "imageWidth": 10}
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "x.json").write_text(json.dumps(doc))
    return tmp_path


def _shape(label, pts, gid=None):
    return {"label": label, "points": pts, "group_id": gid, "description": "", "shape_type": "polygon", "flags": {}}


_SQ = [[1, 1], [4, 1], [4, 4], [1, 4]]
_TRI = [[5, 5], [8, 5], [8, 7]]


def test_ignore_shapes_are_void_regions_not_a_category(tmp_path):
    src = _ignore_file(tmp_path, [_shape("cat", _SQ), _shape("__ignore__", _TRI, 3), _shape("__ignore__", _SQ, 3)])
    ds = segmill.read(src, "labelme")
    assert [c.name for c in ds.categories] == ["cat"]
    cat, void = ds.items[0].annotations
    assert (cat.category_id, void.category_id) == (1, None)
    assert void.attributes["void"] is True and len(void.geometry.parts) == 2
    assert [a.id for a in ds.items[0].annotations] == [1, 2]


def test_ignore_in_a_label_list_does_not_reject_ignore_shapes(tmp_path):
    src = _ignore_file(tmp_path / "d", [_shape("cat", _SQ), _shape("__ignore__", _TRI)])
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\ncat\n")
    ds = segmill.read(src, "labelme", labels=tmp_path / "labels.txt")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "_background_"), (1, "cat")]
    assert [a.category_id for a in ds.items[0].annotations] == [1, None]


def test_void_regions_are_written_back_as_ignore_shapes(tmp_path):
    src = _ignore_file(tmp_path / "d", [_shape("__ignore__", _TRI), _shape("cat", _SQ)])
    ds = segmill.read(src, "labelme")
    report = segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    assert report.lossless
    assert [s["label"] for s in _doc(tmp_path / "o" / "x.json")["shapes"]] == ["__ignore__", "cat"]
    assert segmill.read(tmp_path / "o", "labelme").items == ds.items


def test_void_regions_of_another_format_become_ignore_shapes(tmp_path):
    m = np.zeros((6, 7), bool)
    m[1:3, 2:5] = True
    ds = Dataset([Category(1, "a")], [Item("i", "i.png", 7, 6, [Annotation(1, None, encode(m),
                                                                           attributes={"void": True})])])
    segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    (shape,) = _doc(tmp_path / "o" / "i.json")["shapes"]
    assert shape["label"] == "__ignore__" and shape["shape_type"] == "mask"
    back = segmill.read(tmp_path / "o", "labelme").items[0].annotations[0]
    assert back.category_id is None and back.attributes["void"] and np.array_equal(back.to_rle(6, 7).decode(), m)


def test_a_category_named_ignore_is_reported_since_it_reads_back_as_void(tmp_path):
    ds = Dataset([Category(1, "__ignore__")], [Item("i", "i.png", 7, 6, [_square(1)])])
    assert "L004" in segmill.write(ds, tmp_path / "o", "labelme", copy_images=False).summary()


def test_void_regions_go_to_coco_as_nothing_and_to_voc_as_255(tmp_path):
    src = _ignore_file(tmp_path / "d", [_shape("cat", _SQ), _shape("__ignore__", _TRI)])
    ds = segmill.read(src, "labelme")
    segmill.write(ds, tmp_path / "c.json", "coco")
    assert [a["category_id"] for a in _doc(tmp_path / "c.json")["annotations"]] == [1]
    segmill.write(ds, tmp_path / "v", "voc")
    cls = np.asarray(Image.open(tmp_path / "v" / "SegmentationClass" / "x.png"))
    assert cls[5, 7] == 255 and cls[2, 2] == 1


# ------------------------------------------------------------------ detection of segmill's own output
def test_detect_finds_json_in_sub_folders_and_after_long_shapes(tmp_path):
    ring = [[float(5 + 4 * np.cos(t)), float(5 + 4 * np.sin(t))] for t in np.linspace(0, 6.2, 400)]
    ds = Dataset([Category(1, "a")], [Item("i", "a/b/c/i.png", 10, 10, [Annotation(1, 1, Polygons([np.ravel(ring).tolist()]))])])
    segmill.write(ds, tmp_path / "o", "labelme", copy_images=False)
    assert (tmp_path / "o" / "a" / "b" / "c" / "i.json").stat().st_size > 8192
    assert labelme.detect(tmp_path / "o").confidence >= 0.9
    assert labelme.detect(tmp_path / "o" / "a" / "b" / "c" / "i.json").confidence >= 0.9


def test_cli_has_the_image_flags_of_the_labelme_writer(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    ds = _images_dataset(tmp_path / "src", ["a.png"])
    segmill.write(ds, tmp_path / "lm", "labelme")
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "lm"), str(tmp_path / "o"), "--from", "labelme",
                                    "--to", "labelme", "--embed-images", "--link-images"])
    assert res.exit_code == 0, res.output
    assert _doc(tmp_path / "o" / "a.json")["imageData"]
    assert (tmp_path / "o" / "a.png").stat().st_ino == (tmp_path / "lm" / "a.png").stat().st_ino


# ------------------------------------------------------------------ labelme's own example (corpus)
@pytest.fixture
def lm_corpus(corpus):
    return corpus / "labelme" / "instance_segmentation"


def test_labelme_to_coco_gives_labelmes_annotation_count(lm_corpus, tmp_path):
    theirs = _doc(lm_corpus / "data_dataset_coco" / "annotations.json")
    report = segmill.convert(lm_corpus / "data_annotated", tmp_path / "c.json", "labelme", "coco",
                             options=ConvertOptions(read={"labels": lm_corpus / "labels.txt"}))
    ours = _doc(tmp_path / "c.json")
    assert len(ours["annotations"]) == len(theirs["annotations"]) == 12
    assert report.summary() == {"L003": 2}  # the two __ignore__ regions: COCO has no void


def test_labelme_example_round_trips_through_the_writer_exactly(lm_corpus, tmp_path):
    ds = segmill.read(lm_corpus / "data_annotated", "labelme", raster="pil", labels=lm_corpus / "labels.txt")
    report = segmill.write(ds, tmp_path / "o", "labelme")
    assert report.lossless, report.losses
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        p.name for p in (lm_corpus / "data_annotated").iterdir())
    again = segmill.read(tmp_path / "o", "labelme", raster="pil", labels=lm_corpus / "labels.txt")
    assert again.items == ds.items and again.categories == ds.categories


# ------------------------------------------------------------------ COCO -> LabelMe -> COCO
def _coco_file(tmp_path):
    """A COCO file with its images: polygons (one of two parts), a crowd RLE, sparse ids, extra fields."""
    for name in ("p/a.png", "b.png"):
        _image(tmp_path / name, 8, 6)
    m = np.zeros((6, 8), bool)
    m[3:5, 0:2] = True
    from segmill.rle import encode as enc

    rle = enc(m)
    doc = {
        "images": [{"id": 42, "file_name": "p/a.png", "width": 8, "height": 6},
                   {"id": 7, "file_name": "b.png", "width": 8, "height": 6, "license": 1}],
        "annotations": [
            {"id": 1, "image_id": 42, "category_id": 3, "segmentation": [[1, 1, 4, 1, 4, 4, 1, 4]], "area": 9.0,
             "bbox": [1, 1, 3, 3], "iscrowd": 0},
            {"id": 9, "image_id": 42, "category_id": 5, "segmentation": [[5, 0, 7, 0, 7, 2], [5, 3, 7, 3, 7, 5]],
             "area": 4.0, "bbox": [5, 0, 2, 5], "iscrowd": 0},
            {"id": 3, "image_id": 7, "category_id": 3, "segmentation": rle.to_coco(),
             "area": 4, "bbox": [0, 3, 2, 2], "iscrowd": 1},
        ],
        "categories": [{"id": 3, "name": "car"}, {"id": 5, "name": "dog"}],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc))
    return tmp_path / "c.json", doc


def test_coco_to_labelme_to_coco_differs_only_where_a_loss_was_reported(tmp_path):
    src, doc = _coco_file(tmp_path / "src")
    r1 = segmill.convert(src, tmp_path / "lm", "coco", "labelme")
    r2 = segmill.convert(tmp_path / "lm", tmp_path / "back.json", "labelme", "coco")
    back = _doc(tmp_path / "back.json")
    lost = {(l.code, l.item_id, l.annotation_id) for l in r1.losses + r2.losses}
    assert not r2.losses
    images = {im["file_name"]: im for im in back["images"]}
    assert sorted(images) == sorted(im["file_name"] for im in doc["images"])  # L409 never reported here
    new_image_id = {im["id"]: images[im["file_name"]]["id"] for im in doc["images"]}
    for im in doc["images"]:
        b = images[im["file_name"]]
        assert (b["width"], b["height"]) == (im["width"], im["height"])
        assert (b.get("segmill_id") == str(Path(im["file_name"]).with_suffix("").as_posix())) == (
            ("L406", im["id"], None) in lost)
        assert ("license" in im) == any(c == "L001" and i == im["id"] for c, i, _ in lost)
    names = {c["id"]: c["name"] for c in back["categories"]}
    src_names = {c["id"]: c["name"] for c in doc["categories"]}
    by_image = {}
    for a in back["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    for im in doc["images"]:
        ours = by_image[new_image_id[im["id"]]]
        theirs = [a for a in doc["annotations"] if a["image_id"] == im["id"]]
        assert [names[a["category_id"]] for a in ours] == [src_names[a["category_id"]] for a in theirs]
        for a, t in zip(ours, theirs):
            assert (a["id"] != t["id"]) == (("L407", im["id"], t["id"]) in lost)
            assert (a["iscrowd"] != t["iscrowd"]) == (("L401", im["id"], t["id"]) in lost)
            assert (a["area"], a["bbox"]) == (t["area"], t["bbox"])  # the stored values follow COCO's rule
            assert ("L408", im["id"], t["id"]) not in lost
    # pixels: every annotation's mask is the source's
    src_ds, back_ds = segmill.read(src, "coco"), segmill.read(tmp_path / "back.json", "coco")
    src_items = {i.file_name: i for i in src_ds.items}
    for item in back_ds.items:
        s = src_items[item.file_name]
        for a, t in zip(item.annotations, s.annotations):
            assert a.to_rle(item.height, item.width) == t.to_rle(s.height, s.width)
    assert {c for c, _, _ in lost} == {"L401", "L402", "L406", "L407", "L001"}


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: labelme: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "labelme"): {"L001", "L401", "L402", "L405", "L406", "L407"},
    ("coco_panoptic", "labelme"): {"L001", "L401", "L402", "L405", "L406"},
    ("coco_results", "labelme"): {"L402", "L404", "L405", "L406", "L407", "L409"},
    ("labelme", "coco"): {"L002"},
    ("labelme", "coco_panoptic"): {"L001", "L251", "L701", "L705"},
    ("labelme", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("labelme", "labelme"): set(),
    ("labelme", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("labelme", "voc"): {"L002", "L208", "L701", "L705"},
    ("labelme", "yolo"): {"L001", "L002", "L303", "L305"},
    ("masks", "labelme"): {"L001", "L402", "L405"},
    ("voc", "labelme"): {"L001", "L402", "L405", "L407"},
    ("yolo", "labelme"): {"L001", "L402", "L406"},
}
