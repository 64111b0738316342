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


def test_unknown_category_and_overlap_are_losses_with_the_official_table(tmp_path):
    cats = [Category(1, "car"), Category(2, "unicorn")]
    anns = [Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3, 0, 3]])),
            Annotation(2, 1, Polygons([[2, 2, 4, 2, 4, 4, 2, 4]])),
            Annotation(3, 2, Polygons([[0, 0, 1, 0, 1, 1]]))]
    report = segmill.write(Dataset(cats, [Item("x", "x.png", 4, 4, anns)]), tmp_path / "o", "cityscapes",
                           label_table="official")
    assert {"L601", "L602"} <= set(report.summary())
    assert not (tmp_path / "o" / "label_colors.txt").exists()


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


# ------------------------------------------------------------------ layouts
def _copy_files(basic, dst):
    import shutil

    dst.mkdir(parents=True)
    for f in (basic / "gtFine" / "train" / "tiny").iterdir():
        shutil.copy(f, dst / f.name)


def _pixels(ds):
    return [sorted((a.category_id, a.iscrowd, a.to_rle(4, 6).area) for a in i.annotations) for i in ds.items]


@pytest.mark.parametrize("where, given, item_id, split, layout", [
    ("gtFine/train", ".", "train/tiny_000000_000000", "train", "split"),  # Datumaro's ids without a city
    ("gtFine/tiny", ".", "tiny/tiny_000000_000000", None, "city"),  # the folder name starts the file names
    ("flat", "flat", "tiny_000000_000000", None, "flat"),
    ("gtFine/val/tiny", "gtFine/val", "tiny/tiny_000000_000000", "val", "split/city"),
])
def test_folders_without_the_split_or_city_level_read_the_same_annotations(basic, tmp_path, where, given, item_id,
                                                                           split, layout):
    _copy_files(basic, tmp_path / where)
    ds = segmill.read(tmp_path / given, "cityscapes")
    assert [(i.id, i.split) for i in ds.items] == [(item_id, split)]
    assert ds.meta["cityscapes_layout"] == layout
    assert ds.meta["read_notes"][0].startswith("label table: the official Cityscapes labels")
    assert (layout in ds.meta["read_notes"][-1]) == (layout != "split/city")
    assert _pixels(ds) == _pixels(segmill.read(basic, "cityscapes"))
    assert segmill.detect_format(tmp_path / given)[0] == "cityscapes"


def test_a_folder_without_readable_files_is_an_error_never_zero_images(tmp_path):
    from segmill.errors import InputError

    d = tmp_path / "gtFine" / "train" / "c"
    d.mkdir(parents=True)
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(d / "c_0_0_gtFine_labelTrainIds.png")
    with pytest.raises(InputError, match=r"1 file\(s\) .* but no \*_gtFine_labelIds.png"):
        segmill.read(tmp_path, "cityscapes")
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="expected gtFine/<split>/<city>/"):
        segmill.read(tmp_path / "other", "cityscapes")


def test_convert_exits_2_on_unreadable_files_and_reads_a_split_only_folder(basic, tmp_path):
    import json

    from click.testing import CliRunner

    from segmill.cli import main

    bad = tmp_path / "bad" / "gtFine" / "train"
    bad.mkdir(parents=True)
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(bad / "c_0_0_gtFine_color.png")
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "bad"), str(tmp_path / "o1"), "--from", "cityscapes",
                                    "--to", "coco"])
    assert res.exit_code == 2 and not (tmp_path / "o1").exists()
    _copy_files(basic, tmp_path / "ok" / "gtFine" / "train")
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "ok"), str(tmp_path / "o2.json"), "--to", "coco",
                                    "--json", "--quiet"])
    assert res.exit_code == 0 and json.loads(res.output)["items"] == 1


def test_an_empty_dataset_round_trips_as_an_empty_gtfine_folder(tmp_path):
    segmill.write(Dataset(cityscapes.categories(), []), tmp_path / "o", "cityscapes")
    assert segmill.read(tmp_path / "o", "cityscapes").items == []


def test_a_forced_source_missing_for_an_image_is_a_bad_record_not_a_silent_drop(basic, tmp_path):
    from segmill.errors import InputError

    _copy_files(basic, tmp_path / "gtFine" / "train" / "tiny")
    (tmp_path / "gtFine" / "train" / "tiny" / "tiny_000000_000000_gtFine_polygons.json").unlink()
    with pytest.raises(InputError, match="no polygons file"):
        segmill.read(tmp_path, "cityscapes", source="polygons")
    ds = segmill.read(tmp_path, "cityscapes", source="polygons", errors="skip")
    assert ds.items == [] and len(ds.meta["skipped"]) == 1


# ------------------------------------------------------------------ custom label tables
def _custom(tmp_path, table: str, values):
    d = tmp_path / "gtFine" / "train" / "c"
    d.mkdir(parents=True)
    (tmp_path / "label_colors.txt").write_text(table)
    Image.fromarray(np.array([values], np.uint16)).save(d / "c_0_0_gtFine_instanceIds.png")
    return segmill.read(tmp_path, "cityscapes")


def test_label_colors_txt_gives_the_classes_and_is_named_in_meta(tmp_path):
    # Datumaro's export: no black label, so value 0 is an implicit background and the labels are 1, 2
    ds = _custom(tmp_path, "255 0 0 cat\n0 255 0 dog\n", [0, 1, 2, 2001, 2002])
    assert ds.meta["label_table"] == "label_colors.txt"
    assert ds.meta["read_notes"] == ["label table: label_colors.txt (2 custom labels, values 1..2)"]
    assert [(c.id, c.name, c.color) for c in ds.categories] == [(1, "cat", (255, 0, 0)), (2, "dog", (0, 255, 0))]
    got = [(a.category_id, a.iscrowd, a.to_rle(1, 5).area) for a in ds.items[0].annotations]
    assert got == [(1, False, 1), (2, False, 1), (2, False, 1), (2, False, 1)]


@pytest.mark.parametrize("table, expect", [
    ("0 0 0 sky\n255 0 0 cat\n", [(0, "sky"), (1, "cat")]),  # a black label: the line order
    ("255 0 0 cat\n1 1 1 background\n", [(0, "background"), (1, "cat")]),  # background moved to 0
    ("cat\nrail track\n", [(1, "cat"), (2, "rail track")]),  # bare names (segmill reads names with spaces)
])
def test_label_values_follow_datumaros_rule(tmp_path, table, expect):
    ds = _custom(tmp_path, table, [0, 1])
    assert [(c.id, c.name) for c in ds.categories] == expect


def test_official_names_in_label_colors_txt_are_not_replaced_by_the_official_table(tmp_path):
    ds = _custom(tmp_path, "0 0 142 car\n220 20 60 person\n", [1000, 2000])
    assert [(c.id, c.name) for c in ds.categories] == [(1, "car"), (2, "person")]
    assert [a.category_id for a in ds.items[0].annotations] == [1, 2]
    official = segmill.read(tmp_path, "cityscapes", label_table="official", errors="keep")
    assert official.meta["label_table"] == "official"


@pytest.mark.parametrize("table, match", [
    ("255 0 cat\n", "not three integers"),
    ("255 0 0\n", "no label name"),
    ("300 0 0 cat\n", "three values 0..255"),
    ("1 2 3 cat\n4 5 6 cat\n", "listed twice"),
    ("# nothing\n", "lists no label"),
])
def test_bad_label_tables_are_one_line_input_errors(tmp_path, table, match):
    from segmill.errors import InputError

    with pytest.raises(InputError, match=match) as exc:
        _custom(tmp_path, table, [0])
    assert "\n" not in str(exc.value) and "label_colors.txt" in str(exc.value)


def test_a_pixel_value_outside_a_custom_table_names_the_table(tmp_path):
    from segmill.errors import InputError

    with pytest.raises(InputError, match="not a label value of label_colors.txt"):
        _custom(tmp_path, "255 0 0 cat\n", [3])


def _pets(cat_ids=(1, 2), colors=(None, None)):
    cats = [Category(cat_ids[0], "cat", color=colors[0]), Category(cat_ids[1], "dog", color=colors[1])]
    anns = [Annotation(1, cat_ids[0], Polygons([[0, 0, 2, 0, 2, 2, 0, 2]])),
            Annotation(2, cat_ids[1], Polygons([[2, 0, 4, 0, 4, 2, 2, 2]])),
            Annotation(3, cat_ids[1], Polygons([[0, 2, 4, 2, 4, 4, 0, 4]]))]
    return Dataset(cats, [Item("train/home/home_0_0", "h.png", 4, 4, anns, split="train")])


def test_custom_categories_are_written_as_label_colors_txt_and_round_trip(tmp_path):
    ds = _pets(colors=((255, 0, 0), (0, 255, 0)))
    report = segmill.write(ds, tmp_path / "o", "cityscapes")
    assert set(report.summary()) == {"L705"}  # only the polygons' vertices
    assert any("custom, 2 labels written to label_colors.txt" in n for n in report.notes)
    assert (tmp_path / "o" / "label_colors.txt").read_text() == "255 0 0 cat\n0 255 0 dog\n"
    back = segmill.read(tmp_path / "o", "cityscapes")
    assert back.categories == ds.categories and back.meta["label_table"] == "label_colors.txt"
    inst = _png(tmp_path / "o" / "gtFine/train/home/home_0_0_gtFine_instanceIds.png")
    assert inst[0].tolist() == [1000, 1000, 2000, 2000] and inst[3].tolist() == [2001] * 4
    assert [a.to_rle(4, 4) for a in back.items[0].annotations] == [a.to_rle(4, 4) for a in ds.items[0].annotations]
    again = segmill.write(back, tmp_path / "o2", "cityscapes")
    assert again.lossless and (tmp_path / "o2" / "label_colors.txt").read_text() == "255 0 0 cat\n0 255 0 dog\n"


def test_renumbered_ids_and_dropped_crowd_flags_of_a_custom_table_are_reported(tmp_path):
    ds = _pets(cat_ids=(7, 9))
    ds.items[0].annotations[0].iscrowd = True
    report = segmill.write(ds, tmp_path / "o", "cityscapes")
    assert {"L607", "L608"} <= set(report.summary())
    assert "ids renumbered" in next(str(l) for l in report.losses if l.code == "L607")
    assert (tmp_path / "o" / "label_colors.txt").read_text() == "cat\ndog\n"
    back = segmill.read(tmp_path / "o", "cityscapes")
    assert [(c.id, c.name) for c in back.categories] == [(1, "cat"), (2, "dog")]
    assert not any(a.iscrowd for a in back.items[0].annotations)


def test_a_table_read_from_label_colors_txt_is_written_back_custom_even_with_official_names(tmp_path):
    ds = _custom(tmp_path / "src", "0 0 142 car\n220 20 60 person\n", [1000, 2000])
    report = segmill.write(ds, tmp_path / "o", "cityscapes")
    assert report.lossless and (tmp_path / "o" / "label_colors.txt").exists()
    official = segmill.write(ds, tmp_path / "o2", "cityscapes", label_table="official")
    assert "L606" in official.summary() and not (tmp_path / "o2" / "label_colors.txt").exists()


def test_a_category_name_a_label_table_cannot_hold_is_refused_before_writing(tmp_path):
    from segmill.errors import InputError

    ds = _pets()
    ds.categories[0].name = "two\nlines"
    with pytest.raises(InputError, match="cannot be written in label_colors.txt"):
        segmill.write(ds, tmp_path / "o", "cityscapes")
    assert not (tmp_path / "o").exists()


def test_convert_prints_the_label_table_used(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    segmill.write(_pets(), tmp_path / "src.json", "coco")
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "src.json"), str(tmp_path / "o"), "--to", "cityscapes"])
    assert res.exit_code == 0 and "note: label table: custom, 2 labels written to label_colors.txt" in res.output
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "src.json"), str(tmp_path / "o2"), "--to", "cityscapes",
                                    "--label-table", "official"])
    assert res.exit_code == 0 and "note: label table: the official Cityscapes labels" in res.output


def test_the_output_of_a_dataset_without_images_is_detected_and_keeps_its_labels(tmp_path):
    segmill.write(Dataset(categories=[Category(1, "cat")]), tmp_path / "o", "cityscapes")
    assert not any((tmp_path / "o" / "gtFine").iterdir())
    d = cityscapes.detect(tmp_path / "o")
    assert 0 < d.confidence < 0.8 and "empty gtFine" in d.reason
    assert [c.name for c in segmill.read(tmp_path / "o", "cityscapes").categories] == ["cat"]
    (tmp_path / "other" / "gtFine" / "x").mkdir(parents=True)  # a gtFine/ with anything in it is not this case
    assert cityscapes.detect(tmp_path / "other").confidence == 0


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: cityscapes: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("cityscapes", "cityscapes"): set(),
    ("cityscapes", "coco"): set(),
    ("cityscapes", "coco_panoptic"): set(),
    ("cityscapes", "coco_results"): {"L110", "L111", "L112"},
    ("cityscapes", "cvat"): {"L502", "L505"},
    ("cityscapes", "labelme"): {"L001", "L401", "L402", "L406"},
    ("cityscapes", "masks"): {"L203", "L208"},
    ("cityscapes", "voc"): {"L203", "L208"},
    ("cityscapes", "yolo"): {"L302", "L309"},
    ("coco", "cityscapes"): {"L602", "L605", "L607", "L608", "L705"},
    ("coco_panoptic", "cityscapes"): {"L607", "L608"},
    ("coco_results", "cityscapes"): {"L605", "L607"},
    ("cvat", "cityscapes"): {"L002", "L602", "L605", "L606", "L705"},
    ("labelme", "cityscapes"): {"L002", "L602", "L605", "L705"},
    ("masks", "cityscapes"): {"L601"},
    ("voc", "cityscapes"): {"L601", "L605", "L705"},
    ("yolo", "cityscapes"): {"L607", "L705"},
}
