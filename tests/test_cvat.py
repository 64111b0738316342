"""CVAT for images 1.1 XML: elements, row-major mask RLE, safety, round trips."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_multipart_polygon_is_written_as_grouped_polygons_and_reads_back_as_one(tmp_path):
    poly = Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 5]])
    ds = Dataset([Category(1, "a")], [Item(0, "i.png", 7, 6, [Annotation(1, 1, poly)])])
    report = segmill.write(ds, tmp_path / "o", "cvat")
    assert report.lossless
    xml = (tmp_path / "o" / "annotations.xml").read_text()
    assert xml.count("<polygon") == 2 and xml.count('group_id="1"') == 2
    back = segmill.read(tmp_path / "o", "cvat").items[0].annotations
    assert len(back) == 1 and back[0].geometry == poly and back[0].attributes["group_id"] == 1
    apart = segmill.read(tmp_path / "o", "cvat", split_groups=True).items[0].annotations
    assert [a.geometry for a in apart] == [Polygons([p]) for p in poly.parts]
    assert apart[0].attributes["group_id"] == apart[1].attributes["group_id"] == 1


def _cvat_xml(tmp_path, shapes, labels=("a", "b")):
    tmp_path.mkdir(exist_ok=True)
    names = "".join(f"<label><name>{n}</name></label>" for n in labels)
    (tmp_path / "annotations.xml").write_text(
        f'<annotations><version>1.1</version><meta><task><labels>{names}</labels></task></meta>'
        f'<image id="0" name="a.png" width="10" height="8">{shapes}</image></annotations>')
    return tmp_path


def test_shapes_of_one_label_and_group_id_form_one_instance_at_the_first_place(tmp_path):
    root = _cvat_xml(tmp_path, (
        '<polygon label="a" points="0,0;2,0;2,2" group_id="4"/>'
        '<polygon label="b" points="0,0;2,0;2,2" group_id="4"/>'      # another label: another instance
        '<box label="a" xtl="0" ytl="0" xbr="9" ybr="7" group_id="4"/>'  # boxes never join a group
        '<polygon label="a" points="5,5;7,5;7,7" group_id="4" occluded="1"/>'
        '<polygon label="a" points="1,5;3,5;3,7" group_id="0"/>'      # 0 is no group
        '<polygon label="a" points="8,0;9,0;9,1"/>'))
    anns = segmill.read(root, "cvat").items[0].annotations
    assert [(a.id, a.category_id, type(a.geometry).__name__) for a in anns] == [
        (1, 1, "Polygons"), (2, 2, "Polygons"), (3, 1, "Box"), (4, 1, "Polygons"), (5, 1, "Polygons")]
    assert anns[0].geometry == Polygons([[0, 0, 2, 0, 2, 2], [5, 5, 7, 5, 7, 7]])
    assert anns[0].attributes == {"group_id": 4}  # the first shape's attributes
    assert len(segmill.read(root, "cvat", split_groups=True).items[0].annotations) == 6


def test_a_group_holding_a_mask_is_the_union_of_its_pixels_and_writes_back_the_same_shapes(tmp_path):
    root = _cvat_xml(tmp_path / "src", (
        '<polygon label="a" points="0,0;4,0;4,3;0,3" group_id="2" z_order="1"/>'
        '<mask label="a" rle="0, 2, 2, 2" left="6" top="5" width="2" height="3" group_id="2" occluded="1">'
        '<attribute name="note">x</attribute></mask>'))
    (ann,) = segmill.read(root, "cvat").items[0].annotations
    want = np.zeros((8, 10), bool)
    want[0:3, 0:4] = True
    want[[5, 7], 6:8] = True  # rle "0, 2, 2, 2" row by row in the 2x3 box: rows 5 and 7
    assert isinstance(ann.geometry, Mask)
    assert np.array_equal(ann.geometry.to_rle(8, 10).decode(), want)
    report = segmill.write(segmill.read(root, "cvat"), tmp_path / "o", "cvat")
    assert report.lossless
    again = segmill.read(tmp_path / "o", "cvat", split_groups=True).items[0].annotations
    first = segmill.read(root, "cvat", split_groups=True).items[0].annotations
    assert [(a.geometry, a.attributes) for a in again] == [(a.geometry, a.attributes) for a in first]


def test_two_annotations_sharing_label_and_group_id_get_apart_with_l506(tmp_path):
    root = _cvat_xml(tmp_path / "src", '<polygon label="a" points="0,0;2,0;2,2" group_id="3"/>'
                                       '<polygon label="a" points="5,5;7,5;7,7" group_id="3"/>'
                                       '<polygon label="b" points="5,5;7,5;7,7" group_id="3"/>')
    ds = segmill.read(root, "cvat", split_groups=True)
    report = segmill.write(ds, tmp_path / "o", "cvat")
    assert [(l.code, l.annotation_id) for l in report.losses] == [("L506", 2)]
    back = segmill.read(tmp_path / "o", "cvat").items[0].annotations
    assert [a.geometry for a in back] == [a.geometry for a in ds.items[0].annotations]
    assert [a.attributes["group_id"] for a in back] == [3, 4, 3]


def test_split_groups_is_a_declared_reader_flag(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main
    from segmill.formats import formats

    opt = formats()["cvat"].option("split_groups", "reader")
    assert opt is not None and opt.kind == "bool"
    root = _cvat_xml(tmp_path / "src", '<polygon label="a" points="0,0;2,0;2,2" group_id="3"/>'
                                       '<polygon label="a" points="5,5;7,5;7,7" group_id="3"/>')
    counts = {}
    for flag in ("--split-groups", "--no-split-groups"):
        out = tmp_path / f"{flag[2:]}.json"
        res = CliRunner().invoke(main, ["convert", str(root), str(out), "--from", "cvat", "--to", "coco", flag])
        assert res.exit_code == 0, res.output
        counts[flag] = len(json.loads(out.read_text())["annotations"])
    assert counts == {"--split-groups": 2, "--no-split-groups": 1}


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


# ------------------------------------------------------------------ COCO -> CVAT -> COCO, checked with pycocotools
def _coco_masks(doc):
    """``{(image_id, k): (category name, mask)}`` of a COCO dict, rasterized by pycocotools."""
    from pycocotools import mask as cocomask

    names = {c["id"]: c["name"] for c in doc["categories"]}
    sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
    seen: dict = {}
    out = {}
    for a in doc["annotations"]:
        h, w = sizes[a["image_id"]]
        seg = a["segmentation"]
        if isinstance(seg, dict) and isinstance(seg["counts"], list):
            rle = cocomask.frPyObjects(seg, h, w)
        elif isinstance(seg, dict):
            rle = seg
        elif not seg:  # a box-only annotation: no pixels
            rle = cocomask.encode(np.zeros((h, w), np.uint8, order="F"))
        else:
            rle = cocomask.merge(cocomask.frPyObjects(seg, h, w))
        k = seen[a["image_id"]] = seen.get(a["image_id"], -1) + 1
        out[(a["image_id"], k)] = (names[a["category_id"]], cocomask.decode(rle).astype(bool))
    return out


def _coco_cvat_coco(src, tmp_path):
    ds = segmill.read(src, "coco")
    report = segmill.write(ds, tmp_path / "cvat", "cvat")
    segmill.write(segmill.read(tmp_path / "cvat", "cvat"), tmp_path / "back.json", "coco")
    return report, json.loads(Path(src).read_text()), json.loads((tmp_path / "back.json").read_text())


def test_coco_fixture_through_cvat_keeps_every_mask_and_reports_the_rest(fixtures_dir, tmp_path):
    report, before, after = _coco_cvat_coco(fixtures_dir / "coco" / "annotations.json", tmp_path)
    assert sorted(report.summary()) == ["L001", "L502", "L505"]  # unknown fields, crowd flag, category ids
    assert len(after["annotations"]) == len(before["annotations"]) == 5
    ours, theirs = _coco_masks(before), _coco_masks(after)
    box_only = (7, 1)  # "segmentation": [] with a bbox: a <box>, which the COCO writer gives as its polygon
    assert all(ours[k][0] == theirs[k][0] and np.array_equal(ours[k][1], theirs[k][1]) for k in ours if k != box_only)
    two_parts = [a["segmentation"] for a in after["annotations"] if a["image_id"] == 42][1]
    assert two_parts == [[5.5, 0.5, 7.5, 0.5, 7.5, 2.5], [5, 4, 7, 4, 7, 6, 5, 6]]


def _synthetic_multipart_coco(path, seed=3):
    """Images with many multi-part polygons (1 to 4 parts, float vertices) of two classes, and RLE masks."""
    from pycocotools import mask as cocomask

    rng = np.random.default_rng(seed)
    doc = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "pole"}]}
    for i in range(1, 9):
        h, w = int(rng.integers(20, 60)), int(rng.integers(20, 60))
        doc["images"].append({"id": i, "file_name": f"im{i}.png", "width": w, "height": h})
        for _ in range(int(rng.integers(2, 7))):
            if rng.random() < 0.2:
                m = np.asfortranarray(rng.random((h, w)) < 0.3).astype(np.uint8)
                rle = cocomask.encode(m)
                seg = {"size": [h, w], "counts": rle["counts"].decode()}
            else:
                seg = []
                for _ in range(int(rng.integers(1, 5))):
                    n = int(rng.integers(3, 7))
                    seg.append((rng.random((n, 2)) * [w, h]).round(2).reshape(-1).tolist())
            doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": i,
                                       "category_id": int(rng.integers(1, 3)), "segmentation": seg, "iscrowd": 0,
                                       "area": 1.0, "bbox": [0, 0, 1, 1]})
    path.write_text(json.dumps(doc))
    return path


def test_multipart_polygons_survive_coco_cvat_coco_exactly(tmp_path):
    src = _synthetic_multipart_coco(tmp_path / "src.json")
    report, before, after = _coco_cvat_coco(src, tmp_path)
    assert report.lossless
    parts = sum(len(a["segmentation"]) for a in before["annotations"] if isinstance(a["segmentation"], list))
    assert parts > len(before["annotations"])  # the case the reader must merge
    assert len(after["annotations"]) == len(before["annotations"])
    ours, theirs = _coco_masks(before), _coco_masks(after)
    assert sorted(ours) == sorted(theirs)
    assert all(ours[k][0] == theirs[k][0] and np.array_equal(ours[k][1], theirs[k][1]) for k in ours)
    polys = [(a["image_id"], a["segmentation"]) for a in before["annotations"] if isinstance(a["segmentation"], list)]
    assert polys == [(a["image_id"], a["segmentation"]) for a in after["annotations"]
                     if isinstance(a["segmentation"], list)]


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: cvat: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "cvat"): {"L001", "L502", "L505"},
    ("coco_panoptic", "cvat"): {"L001", "L502", "L505"},
    ("coco_results", "cvat"): {"L503", "L505"},
    ("cvat", "coco"): {"L002"},
    ("cvat", "coco_panoptic"): {"L001", "L251", "L705"},
    ("cvat", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("cvat", "cvat"): set(),
    ("cvat", "labelme"): {"L001", "L406"},
    ("cvat", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("cvat", "voc"): {"L002", "L208", "L705"},
    ("cvat", "yolo"): {"L001", "L002", "L305"},
    ("labelme", "cvat"): {"L507"},
    ("masks", "cvat"): {"L505"},
    ("voc", "cvat"): {"L001", "L504", "L505"},
    ("yolo", "cvat"): {"L505"},
}
