"""Cityscapes gtFine: label table, instanceIds / labelIds / polygons, writer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import segmill
from segmill.formats import cityscapes
from segmill.formats._cityscapes_labels import BY_ID, BY_NAME, LABELS
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item

BASE = "gtFine/train/tiny/tiny_000000_000000_gtFine_"


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "cityscapes" / "basic"


def _png(path):
    return np.asarray(Image.open(path)).astype(np.int64)


def test_label_table_has_ids_0_to_33_and_license_plate():
    assert sorted(lab.id for lab in LABELS) == [-1] + list(range(34))


def test_exactly_the_ten_vehicle_and_human_classes_have_instances():
    assert sorted(lab.id for lab in LABELS if lab.has_instances) == list(range(24, 34))


def test_nineteen_train_ids_and_255_for_ignored_classes():
    train = sorted(lab.train_id for lab in LABELS if 0 <= lab.train_id < 255)
    assert train == list(range(19))
    assert all(lab.ignore_in_eval == (lab.train_id in (255, -1)) for lab in LABELS)


def test_spot_checked_colors_and_categories():
    assert BY_NAME["car"].color == (0, 0, 142) and BY_NAME["road"].color == (128, 64, 128)
    assert BY_ID[26].category == "vehicle" and BY_ID[11].train_id == 2


def test_instance_values_split_into_class_and_instance(basic):
    anns = segmill.read(basic, "cityscapes").items[0].annotations
    cars = [a for a in anns if a.category_id == 26]
    # 26 (plain) is a car group region, 26000 and 26001 two cars
    assert [(a.iscrowd, a.to_rle(4, 6).area) for a in cars] == [(True, 2), (False, 3), (False, 4)]
    assert [a.to_rle(4, 6).area for a in anns if a.category_id == 24] == [4]


def test_unlabeled_zero_is_background_not_an_annotation(basic):
    anns = segmill.read(basic, "cityscapes").items[0].annotations
    assert 0 not in {a.category_id for a in anns}


def test_label_ids_source_gives_one_region_per_class(basic):
    anns = segmill.read(basic, "cityscapes", source="labelIds").items[0].annotations
    assert [(a.category_id, a.to_rle(4, 6).area) for a in anns] == [(7, 8), (23, 2), (24, 4), (26, 9)]


def test_polygons_source_reads_labels_and_group_crowds(basic):
    anns = segmill.read(basic, "cityscapes", source="polygons", raster="pil").items[0].annotations
    assert [(a.category_id, a.iscrowd) for a in anns] == [(7, False), (26, False), (26, True)]
    assert anns[1].geometry == Polygons([[1, 1, 3, 1, 3, 3, 1, 3]])


def test_categories_carry_train_ids_and_things(basic):
    cats = segmill.read(basic, "cityscapes").category_by_id()
    assert cats[26].isthing and not cats[7].isthing
    assert cats[7].extra["cityscapes"]["trainId"] == 0


def test_read_write_read_round_trip_is_exact(basic, tmp_path):
    ds = segmill.read(basic, "cityscapes")
    report = segmill.write(ds, tmp_path / "o", "cityscapes")
    assert report.lossless
    again = segmill.read(tmp_path / "o", "cityscapes")
    assert again.items == ds.items


def test_written_png_files_equal_the_input(basic, tmp_path):
    segmill.write(segmill.read(basic, "cityscapes"), tmp_path / "o", "cityscapes")
    for kind in ("instanceIds", "labelIds"):
        assert np.array_equal(_png(tmp_path / "o" / f"{BASE}{kind}.png"), _png(basic / f"{BASE}{kind}.png"))
    assert Image.open(tmp_path / "o" / f"{BASE}instanceIds.png").mode.startswith("I;16")


def test_label_train_ids_follow_the_official_table(basic, tmp_path):
    segmill.write(segmill.read(basic, "cityscapes"), tmp_path / "o", "cityscapes")
    ids = _png(basic / f"{BASE}labelIds.png")
    train = _png(tmp_path / "o" / f"{BASE}labelTrainIds.png")
    expect = np.vectorize(lambda v: BY_ID[v].train_id)(ids)
    assert np.array_equal(train, expect)


def test_new_instances_are_numbered_from_zero_per_class(tmp_path):
    cats = [Category(1, "car"), Category(2, "sky")]
    anns = [Annotation(1, 1, Polygons([[0, 0, 2, 0, 2, 2, 0, 2]])),
            Annotation(2, 1, Polygons([[2, 0, 4, 0, 4, 2, 2, 2]])),
            Annotation(3, 2, Polygons([[0, 2, 4, 2, 4, 4, 0, 4]]))]
    segmill.write(Dataset(cats, [Item("x", "x.png", 4, 4, anns)]), tmp_path / "o", "cityscapes")
    inst = _png(tmp_path / "o" / "gtFine/train/default/x_gtFine_instanceIds.png")
    assert inst[0].tolist() == [26000, 26000, 26001, 26001] and inst[3].tolist() == [23] * 4


def test_unknown_category_and_overlap_are_losses(tmp_path):
    cats = [Category(1, "car"), Category(2, "unicorn")]
    anns = [Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3, 0, 3]])),
            Annotation(2, 1, Polygons([[2, 2, 4, 2, 4, 4, 2, 4]])),
            Annotation(3, 2, Polygons([[0, 0, 1, 0, 1, 1]]))]
    report = segmill.write(Dataset(cats, [Item("x", "x.png", 4, 4, anns)]), tmp_path / "o", "cityscapes")
    assert {"L601", "L602"} <= set(report.summary())


def test_detection_gives_a_reason(basic):
    d = cityscapes.detect(basic)
    assert d.confidence >= 0.9 and "gtFine" in d.reason


def test_pixel_value_outside_the_table_is_an_error_or_kept_dangling(tmp_path):
    from segmill.errors import InputError

    d = tmp_path / "gtFine" / "val" / "c"
    d.mkdir(parents=True)
    Image.fromarray(np.array([[7, 99]], np.uint8)).save(d / "c_0_0_gtFine_labelIds.png")
    with pytest.raises(InputError, match="99"):
        segmill.read(tmp_path, "cityscapes")
    anns = segmill.read(tmp_path, "cityscapes", errors="keep").items[0].annotations
    assert [a.category_id for a in anns] == [7, 99]


def test_writer_keeps_every_file_inside_the_output(tmp_path):
    anns = [Annotation(1, 1, Polygons([[0, 0, 2, 0, 2, 2]]))]
    ds = Dataset([Category(1, "car")], [Item("../../x/y", "y.png", 4, 4, anns, split="../..")])
    segmill.write(ds, tmp_path / "o", "cityscapes")
    assert all((tmp_path / "o") in p.parents for p in tmp_path.rglob("*.png"))
