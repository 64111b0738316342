"""COCO panoptic (fixtures/panoptic): RGB id PNGs + segments_info."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats.coco_panoptic import ids_from_rgb, rgb_from_ids
from segmill.formats._png import write_png


@pytest.fixture()
def pan(fixtures_dir):
    return fixtures_dir / "panoptic"


@pytest.fixture()
def pan_copy(pan, tmp_path):
    dst = tmp_path / "p"
    shutil.copytree(pan, dst)
    return dst


def test_ids_are_r_plus_256g_plus_65536b_without_uint8_overflow():
    rgb = np.array([[[255, 255, 255], [7, 7, 7], [144, 128, 90]]], np.uint8)
    assert ids_from_rgb(rgb).tolist() == [[16777215, 460551, 5931152]]
    assert np.array_equal(rgb_from_ids(ids_from_rgb(rgb)), rgb)


def test_panoptic_folder_is_detected(pan):
    assert segmill.detect_format(pan)[0] == "coco_panoptic"


def test_segments_become_annotations_with_stored_area_bbox_and_kind(pan):
    ds = segmill.read(pan)
    assert {c.name: c.isthing for c in ds.categories} == {
        "person": True, "car": True, "sky-other-merged": False, "road": False}
    item = ds.items[0]
    car = [a for a in item.annotations if a.category_id == 3][0]
    assert car.iscrowd and car.extra["panoptic_id"] == 1000
    assert car.geometry.area == 20 and car.area == 20 and car.bbox == (8, 4, 5, 4)
    # segment ids are per image; annotation ids are unique dataset-wide
    ids = [a.id for _, a in ds.annotations()]
    assert len(set(ids)) == len(ids) == 6


def test_void_pixels_belong_to_no_segment(pan):
    item = segmill.read(pan).items[0]
    covered = sum(a.geometry.area for a in item.annotations)
    assert covered == 10 * 14 - 1 - 18  # one void pixel; the rows 4-6 outside sky/road/person/car


def _pngs(root):
    return {f.name: np.asarray(Image.open(f)) for f in sorted(root.glob("annotations/panoptic_*/*.png"))}


def test_panoptic_round_trip_gives_identical_json_and_pngs(pan, tmp_path):
    report = segmill.write(segmill.read(pan), tmp_path / "o", "coco_panoptic", )
    assert report.lossless
    a = json.loads((pan / "annotations" / "panoptic_val.json").read_text())
    b = json.loads((tmp_path / "o" / "annotations" / "panoptic_default.json").read_text())
    assert a == b
    pa, pb = _pngs(pan), _pngs(tmp_path / "o")
    assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_panoptic_to_instances_to_panoptic_is_identical(pan, tmp_path):
    segmill.convert(pan, tmp_path / "inst.json", "coco_panoptic", "coco")
    report = segmill.convert(tmp_path / "inst.json", tmp_path / "back", "coco", "coco_panoptic")
    assert report.lossless
    a = json.loads((pan / "annotations" / "panoptic_val.json").read_text())
    b = json.loads((tmp_path / "back" / "annotations" / "panoptic_default.json").read_text())
    assert a["annotations"] == b["annotations"] and a["categories"] == b["categories"]
    pa, pb = _pngs(pan), _pngs(tmp_path / "back")
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_overlapping_instances_written_as_panoptic_report_the_overlap(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    anns = [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4, 0, 4]])), Annotation(2, 1, Polygons([[2, 2, 6, 2, 6, 6, 2, 6]]))]
    ds = Dataset(categories=[Category(1, "a", isthing=True)],
                 items=[Item(1, "x.jpg", width=6, height=6, annotations=anns)])
    report = segmill.write(ds, tmp_path / "o", "coco_panoptic")
    assert [(l.code, l.annotation_id) for l in report.losses] == [("L705", 1), ("L705", 2), ("L701", 1)]
    doc = json.loads((tmp_path / "o" / "annotations" / "panoptic_default.json").read_text())
    assert [s["area"] for s in doc["annotations"][0]["segments_info"]] == [12, 16]


def test_an_annotation_without_pixels_is_reported_as_empty_not_as_hidden(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    sliver = Polygons([[1.0, 1.0, 1.2, 1.0, 1.1, 1.2]])  # covers no pixel centre: no pixels under either rule
    assert sliver.to_rle(6, 6).area == 0
    whole = Polygons([[0, 0, 6, 0, 6, 6, 0, 6]])
    ds = Dataset(categories=[Category(1, "a", isthing=True)],
                 items=[Item(1, "x.jpg", width=6, height=6, annotations=[Annotation(1, 1, sliver),
                                                                          Annotation(2, 1, whole)])])
    report = segmill.write(ds, tmp_path / "o", "coco_panoptic")
    dropped = [(l.code, l.annotation_id) for l in report.losses if l.code != "L705"]
    assert dropped == [("L255", 1)]
    doc = json.loads((tmp_path / "o" / "annotations" / "panoptic_default.json").read_text())
    assert [s["area"] for s in doc["annotations"][0]["segments_info"]] == [36]


def test_segment_in_png_missing_from_json_is_an_input_error(pan_copy):
    f = pan_copy / "annotations" / "panoptic_val" / "000000000285.png"
    ids = ids_from_rgb(np.asarray(Image.open(f)))
    ids[0, 0] = 99
    write_png(f, rgb_from_ids(ids))
    with pytest.raises(InputError, match=r"000000000285.png.*\[99\] appear in the PNG but not in segments_info"):
        segmill.read(pan_copy)


def test_json_segment_absent_from_png_is_an_input_error(pan_copy):
    jf = pan_copy / "annotations" / "panoptic_val.json"
    doc = json.loads(jf.read_text())
    doc["annotations"][1]["segments_info"].append({"id": 5, "category_id": 1, "iscrowd": 0})
    jf.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"segments_info id\(s\) \[5\] have no pixel"):
        segmill.read(pan_copy)


def test_png_size_not_matching_the_json_is_an_input_error(pan_copy):
    write_png(pan_copy / "annotations" / "panoptic_val" / "000000000285.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(InputError, match="000000000285.png: PNG is 2x2"):
        segmill.read(pan_copy)


def test_non_rgb_png_is_an_input_error(pan_copy):
    write_png(pan_copy / "annotations" / "panoptic_val" / "000000000285.png", np.zeros((6, 8), np.uint8))
    with pytest.raises(InputError, match="must be RGB, got mode L"):
        segmill.read(pan_copy)


def test_truncated_json_is_an_input_error_with_line_and_column(pan_copy):
    jf = pan_copy / "annotations" / "panoptic_val.json"
    jf.write_text(jf.read_text()[:200])
    with pytest.raises(InputError, match=r"panoptic_val.json: invalid JSON.*line \d+, column \d+"):
        segmill.read(pan_copy, format="coco_panoptic")


def test_a_dataset_without_images_is_written_as_a_json_holding_its_categories(tmp_path):
    from segmill.model import Category, Dataset

    ds = Dataset(categories=[Category(1, "cat", isthing=True), Category(2, "sky", isthing=False)])
    report = segmill.write(ds, tmp_path / "o", "coco_panoptic")
    assert report.lossless and report.files == 1
    doc = json.loads((tmp_path / "o" / "annotations" / "panoptic_default.json").read_text())
    assert doc["images"] == doc["annotations"] == [] and [c["name"] for c in doc["categories"]] == ["cat", "sky"]
    assert segmill.read(tmp_path / "o", "coco_panoptic").categories == ds.categories


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: coco_panoptic: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "coco_panoptic"): {"L001", "L251", "L705"},
    ("coco_panoptic", "coco"): set(),
    ("coco_panoptic", "coco_panoptic"): set(),
    ("coco_panoptic", "coco_results"): {"L110", "L111", "L112"},
    ("coco_results", "coco_panoptic"): {"L252"},
}
