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


# ------------------------------------------------- layouts other than semantic/ (never an empty dataset)
def _flat_folder(root, classes="background\nroad\ncar\n"):
    root.mkdir()
    (root / "classes.txt").write_text(classes)
    write_png(root / "a.png", np.array([[0, 1, 1], [2, 2, 0]], np.uint8))
    write_png(root / "b.png", np.array([[2, 0, 0], [0, 0, 1]], np.uint8))
    return root


def test_a_flat_folder_of_label_maps_is_read_as_semantic_maps(tmp_path):
    root = _flat_folder(tmp_path / "flat")
    assert segmill.detect_format(root)[0] == "masks"
    ds = segmill.read(root, "masks")
    assert ds.meta["masks_layout"] == "flat" and "no semantic/ folder" in ds.meta["read_notes"][0]
    got = {i.id: sorted((a.category_id, a.geometry.area) for a in i.annotations) for i in ds.items}
    assert got == {"a": [(1, 2), (2, 2)], "b": [(1, 1), (2, 1)]}


def test_split_instances_on_a_flat_folder_splits_its_regions(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    root = _flat_folder(tmp_path / "flat")
    write_png(root / "c.png", np.array([[1, 0, 1], [1, 0, 1]], np.uint8))  # two road components
    res = CliRunner().invoke(main, ["split-instances", str(root), str(tmp_path / "out"), "--from", "masks",
                                    "--to", "masks", "--json", "--quiet"])
    assert res.exit_code == 0, res.output
    back = {i.id: i for i in segmill.read(tmp_path / "out", "masks").items}
    assert sorted(back) == ["a", "b", "c"]
    roads = [a for a in back["c"].annotations if a.category_id == 1]
    assert sorted(a.geometry.area for a in roads) == [2, 2]


def test_pngs_outside_the_layout_are_refused_with_the_layout_named(tmp_path):
    root = tmp_path / "m"
    (root / "labels").mkdir(parents=True)
    (root / "classes.txt").write_text("background\nroad\n")
    write_png(root / "labels" / "x.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(InputError, match=r"1 PNG\(s\) in labels: a mask folder is classes.txt \+ semantic/"):
        segmill.read(root, "masks")


def test_split_instances_on_pngs_outside_the_layout_exits_2_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    root = tmp_path / "m"
    (root / "labels").mkdir(parents=True)
    (root / "classes.txt").write_text("background\nroad\n")
    write_png(root / "labels" / "x.png", np.array([[1, 0], [0, 1]], np.uint8))
    res = CliRunner().invoke(main, ["split-instances", str(root), str(tmp_path / "out"), "--from", "masks"])
    assert res.exit_code == 2 and "semantic/<stem>.png" in res.output
    assert not (tmp_path / "out").exists()


def test_a_folder_of_pngs_without_a_class_list_says_how_to_give_one(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    write_png(root / "x.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(InputError, match="no classes.txt .* labels=FILE"):
        segmill.read(root, "masks")


def test_an_empty_semantic_folder_is_an_empty_dataset_but_a_bare_class_list_is_refused(tmp_path):
    root = tmp_path / "m"
    (root / "semantic").mkdir(parents=True)
    (root / "classes.txt").write_text("background\nroad\n")
    assert segmill.read(root, "masks").items == []
    (root / "semantic").rmdir()
    with pytest.raises(InputError, match="no label map"):
        segmill.read(root, "masks")


# ------------------------------------------------- instance values never wrap
def test_instances_beyond_65535_are_left_out_and_reported_never_wrapped(tmp_path):
    from segmill.model import Annotation, Category, Dataset, Item
    from segmill.rle import RLE

    n = 65537  # instances 65536 and 65537 would wrap to 0 and 1
    anns = [Annotation(i, 1, RLE([2], 1, 2)) for i in range(1, n + 1)]  # empty masks still take a number
    anns[0] = Annotation(1, 1, RLE([0, 1, 1], 1, 2))  # instance 1: pixel (0, 0)
    anns[-1] = Annotation(n, 1, RLE([1, 1], 1, 2))  # instance 65537: pixel (0, 1)
    ds = Dataset([Category(0, "background"), Category(1, "thing")], [Item("x", "x.png", 2, 1, anns)])
    report = segmill.write(ds, tmp_path / "o", "masks")
    assert report.summary().get("L207") == 2
    inst = np.asarray(Image.open(tmp_path / "o" / "instances" / "x.png")).astype(int)
    sem = np.asarray(Image.open(tmp_path / "o" / "semantic" / "x.png")).astype(int)
    assert inst.tolist() == [[1, 0]] and sem.tolist() == [[1, 1]]


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: masks: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "masks"): {"L001", "L203", "L208", "L701", "L705"},
    ("coco_panoptic", "masks"): {"L001", "L203", "L208"},
    ("coco_results", "masks"): {"L204", "L208"},
    ("masks", "coco"): {"L003"},
    ("masks", "coco_panoptic"): {"L254"},
    ("masks", "coco_results"): {"L110", "L111", "L112"},
    ("masks", "masks"): set(),
    ("masks", "voc"): set(),
    ("voc", "masks"): {"L001", "L705"},
}
