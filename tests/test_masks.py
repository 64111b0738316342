"""Plain PNG mask folders (fixtures/masks): semantic maps, instance maps, class list."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.errors import InputError
from segmill.formats._png import write_png


@pytest.fixture()
def masks_copy(fixtures_dir, tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(fixtures_dir / "masks", dst)
    return dst


def test_mask_folder_is_detected(fixtures_dir):
    assert segmill.detect_format(fixtures_dir / "masks")[0] == "masks"


def test_classes_come_from_the_class_list_and_ignore_is_void(fixtures_dir):
    ds = segmill.read(fixtures_dir / "masks")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "background"), (1, "road"), (2, "tree"), (3, "person")]


def test_instances_take_their_class_from_the_semantic_map(fixtures_dir):
    street = {i.id: i for i in segmill.read(fixtures_dir / "masks").items}["street_001"]
    inst = [(a.category_id, a.geometry.area) for a in street.annotations if "voc_instance" in a.extra]
    # person 2 loses its void row (3 of 15 pixels)
    assert inst == [(3, 12), (3, 12)]
    void = [a for a in street.annotations if a.attributes.get("void")]
    assert len(void) == 1 and void[0].geometry.area == 3


def test_class_pixels_outside_instances_are_one_region_per_class(fixtures_dir):
    park = {i.id: i for i in segmill.read(fixtures_dir / "masks").items}["park_002"]
    assert [(a.category_id, a.geometry.area, a.extra) for a in park.annotations] == [(2, 16, {"voc_semantic": True})]


def test_masks_round_trip_gives_identical_pngs(fixtures_dir, tmp_path):
    src = fixtures_dir / "masks"
    report = segmill.write(segmill.read(src), tmp_path / "o", "masks")
    assert report.lossless
    for f in sorted(src.glob("*/*.png")):
        a = np.asarray(Image.open(f))
        b = np.asarray(Image.open(tmp_path / "o" / f.parent.name / f.name)) if (
            tmp_path / "o" / f.parent.name / f.name).exists() else None
        assert b is not None and np.array_equal(a, b), f


def test_sixteen_bit_semantic_maps_are_read(masks_copy):
    (masks_copy / "classes.txt").write_text("\n".join(f"c{i}" for i in range(300)) + "\n")
    shutil.rmtree(masks_copy / "instances")
    for f in (masks_copy / "semantic").glob("*.png"):
        f.unlink()
    a = np.zeros((4, 4), np.uint16)
    a[1:3, 1:3] = 299
    write_png(masks_copy / "semantic" / "x.png", a)
    ds = segmill.read(masks_copy, ignore_value=65535)
    (ann,) = ds.items[0].annotations
    assert (ann.category_id, ann.geometry.area) == (299, 4)


def test_instances_json_gives_classes_without_a_semantic_map(masks_copy):
    shutil.rmtree(masks_copy / "semantic")
    (masks_copy / "instances.json").write_text('{"street_001": {"1": "person", "2": "tree"}}')
    item = segmill.read(masks_copy).items[0]
    # the void row is 0 in the instance map, so instance 2 has 12 pixels
    assert [(a.category_id, a.geometry.area) for a in item.annotations] == [(3, 12), (2, 12)]


def test_pixel_value_without_a_class_is_an_input_error(masks_copy):
    a = np.zeros((6, 6), np.uint8)
    a[0, 5] = 9
    write_png(masks_copy / "semantic" / "park_002.png", a)
    with pytest.raises(InputError, match="park_002.png.*pixel value 9 has no class"):
        segmill.read(masks_copy)


def test_instance_map_size_must_match_the_semantic_map(masks_copy):
    write_png(masks_copy / "instances" / "street_001.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(InputError, match="street_001.png"):
        segmill.read(masks_copy)


def test_voc_to_masks_reports_boxes_and_object_attributes_it_cannot_hold(fixtures_dir, tmp_path):
    report = segmill.write(segmill.read(fixtures_dir / "voc"), tmp_path / "m", "masks")
    # the dog and the tvmonitor have boxes only: painted, each reported as rasterized
    assert report.summary()["L705"] == 2 and "L002" not in report.summary()
    lost = [l.message for l in report.losses if l.code == "L001" and l.annotation_id is not None]
    assert any("attributes.pose" in m for m in lost)
