"""Conformance on files written by Datumaro (../shared/corpus/datumaro): VOC and COCO panoptic."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.geometry import Box

pytestmark = pytest.mark.corpus


@pytest.fixture()
def vocs(corpus):
    return corpus / "datumaro" / "voc_dataset"


def _by_id(ds):
    return {i.id: i for i in ds.items}


def test_voc1_items_splits_and_sizes(vocs):
    ds = segmill.read(vocs / "voc_dataset1")
    items = _by_id(ds)
    assert sorted(items) == ["2007_000001", "2007_000002"]
    assert items["2007_000001"].split == "train" and items["2007_000002"].split == "test"
    assert items["2007_000001"].size == (10, 20)
    # 2007_000002 is only listed in ImageSets: no XML, no mask, no size
    assert items["2007_000002"].size is None and items["2007_000002"].annotations == []


def test_voc1_rgb_masks_decode_through_the_colour_map(vocs):
    item = _by_id(segmill.read(vocs / "voc_dataset1"))["2007_000001"]
    masks = [a for a in item.annotations if not isinstance(a.geometry, Box)]
    # every pixel of SegmentationClass is (0,128,0) = class 2 "bicycle", of
    # SegmentationObject (128,0,0) = instance 1
    assert [(a.category_id, a.geometry.area, a.extra["voc_instance"]) for a in masks] == [(2, 200, 1)]
    # XML object 1 is a cat, so the bicycle mask is not joined to it
    assert masks[0].extra.get("voc_no_xml") is True


def test_voc1_xml_objects_keep_flags_parts_and_actions(vocs):
    item = _by_id(segmill.read(vocs / "voc_dataset1"))["2007_000001"]
    cat, person = [a for a in item.annotations if isinstance(a.geometry, Box)]
    assert cat.category_id == 8 and cat.attributes == {"pose": "Unspecified", "truncated": True, "difficult": False}
    # bndbox 1,2,3,4 (1-based inclusive) is x=0, y=1, w=3, h=3
    assert (cat.geometry.x, cat.geometry.y, cat.geometry.w, cat.geometry.h) == (0.0, 1.0, 3.0, 3.0)
    assert person.category_id == 15
    assert person.extra["voc_parts"] == [{"name": "head", "bndbox": [5.5, 6, 7.5, 8]}]
    assert person.extra["voc_actions"]["phoning"] is True and person.extra["voc_actions"]["jumping"] is False


def test_voc1_to_voc_gives_pixel_identical_rgb_masks(vocs, tmp_path):
    src = vocs / "voc_dataset1"
    report = segmill.write(segmill.read(src), tmp_path / "o", "voc")
    assert report.lossless
    for sub in ("SegmentationClass", "SegmentationObject"):
        a = Image.open(src / sub / "2007_000001.png")
        b = Image.open(tmp_path / "o" / sub / "2007_000001.png")
        assert a.mode == b.mode == "RGB" and np.array_equal(np.asarray(a), np.asarray(b))


def test_voc2_labelmap_gives_21_classes_and_ignored_is_void(vocs):
    ds = segmill.read(vocs / "voc_dataset2")
    assert len(ds.categories) == 21 and ds.categories[0].name == "background"
    assert ds.categories[11].name == "diningtable" and ds.categories[11].color == (192, 128, 0)
    assert "ignored" not in [c.name for c in ds.categories]


def test_voc2_odd_ids_and_float_boxes(vocs):
    items = _by_id(segmill.read(vocs / "voc_dataset2"))
    assert sorted(items) == ["@", "a", "b", "c", "d"]
    assert all(i.split == "trainval" for i in items.values())
    assert items["@"].annotations == []
    (bg,) = items["a"].annotations
    assert bg.category_id == 0 and bg.attributes == {"truncated": False, "occluded": True, "difficult": False}
    assert (bg.geometry.x, bg.geometry.y, bg.geometry.w, bg.geometry.h) == (0.0, 1.0, 4.0, 5.0)


def test_voc2_round_trip_keeps_the_labelmap(vocs, tmp_path):
    segmill.write(segmill.read(vocs / "voc_dataset2"), tmp_path / "o", "voc")
    back = segmill.read(tmp_path / "o")
    assert back.categories == segmill.read(vocs / "voc_dataset2").categories
    assert "ignored:224,224,192::" in (tmp_path / "o" / "labelmap.txt").read_text()


def test_voc3_xml_only_dataset(vocs):
    ds = segmill.read(vocs / "voc_dataset3")
    (item,) = ds.items
    assert item.id == "2007_000001" and item.split == "train"
    (cat,) = item.annotations
    assert cat.category_id == 8 and isinstance(cat.geometry, Box)


def test_panoptic_val_segments_and_void(corpus):
    src = corpus / "datumaro" / "coco_dataset" / "coco_panoptic" / "annotations" / "panoptic_val.json"
    ds = segmill.read(src)
    (item,) = ds.items
    assert (item.id, item.size) == (40, (10, 5))
    segs = [(a.extra["panoptic_id"], a.category_id, a.geometry.area, a.iscrowd) for a in item.annotations]
    assert segs == [(7, 1, 20, False), (20, 2, 20, True)]
    # segment 7 fills columns 0-1, segment 20 columns 2-3, column 4 is void
    assert item.annotations[0].geometry.bbox == (0.0, 0.0, 2.0, 10.0)
    # the stored bbox is kept as found even though toBbox says [0, 0, 2, 10]
    assert item.annotations[0].bbox == (0.0, 0.0, 1.0, 9.0)
    assert [c.isthing for c in ds.categories] == [False, False]


def test_panoptic_val_round_trip_is_identical(corpus, tmp_path):
    src = corpus / "datumaro" / "coco_dataset" / "coco_panoptic" / "annotations" / "panoptic_val.json"
    segmill.write(segmill.read(src), tmp_path / "o", "coco_panoptic")
    assert json.loads(src.read_text()) == json.loads(
        (tmp_path / "o" / "annotations" / "panoptic_default.json").read_text())
    a = np.asarray(Image.open(src.parent / "panoptic_val" / "b.png"))
    b = np.asarray(Image.open(tmp_path / "o" / "annotations" / "panoptic_default" / "b.png"))
    assert np.array_equal(a, b)


def test_panoptic_train_png_size_mismatch_is_reported(corpus):
    # a.png is 5x5 while the JSON says width 10, height 5
    root = corpus / "datumaro" / "coco_dataset" / "coco_panoptic"
    with pytest.raises(InputError, match="a.png: PNG is 5x5 .* JSON says 10x5"):
        segmill.read(root)
    ds = segmill.read(root, errors="skip")
    assert [i.id for i in ds.items] == [40] and len(ds.meta["skipped"]) == 1
