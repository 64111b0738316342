"""CamVid: the corpus sample, the fixture, list-file parsing, the label rule, every loss code and refusal.

Oracle for pixels: the annotation PNGs read with Pillow and numpy directly,
and pycocotools' decoding of what segmill read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from click.testing import CliRunner
from PIL import Image

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.formats import detect, get_format
from segmill.formats.camvid import CAMVID_LABELS, label_table, parse_line
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item


def _pixels(ann, h, w) -> np.ndarray:
    rle = ann.to_rle(h, w).to_coco()
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture
def sample(corpus) -> Path:
    return corpus / "datumaro" / "camvid_dataset"


# ------------------------------------------------------------------ the corpus sample
def test_corpus_sample_reads_one_annotation_per_colour(sample):
    ds = segmill.read(sample, "camvid")
    assert [it.id for it in ds.items] == ["test/0001TP_008550", "test/0001TP_008580", "train/0001TP_006690",
                                          "val/0016E5_07959"]
    assert [it.split for it in ds.items] == ["test", "test", "train", "val"]
    assert [(c.id, c.name, c.color) for c in ds.categories] == [(i, n, c) for i, (n, c) in enumerate(CAMVID_LABELS)]
    assert ds.categories[0].name == "Void" and ds.categories[14].name == "MotorcycleScooter"
    colors = {c.color: c.id for c in ds.categories}
    for item in ds.items:
        split, name = item.id.split("/")
        rgb = _rgb(sample / f"{split}annot" / f"{name}.png")
        assert (item.height, item.width) == rgb.shape[:2] == (1, 5)
        present = {tuple(int(v) for v in px) for px in rgb.reshape(-1, 3)} - {(0, 0, 0)}
        assert sorted(a.category_id for a in item.annotations) == sorted(colors[c] for c in present)
        for ann in item.annotations:
            color = ds.categories[ann.category_id].color
            assert np.array_equal(_pixels(ann, 1, 5), np.all(rgb == color, axis=-1))
    names = {c.id: c.name for c in ds.categories}
    assert [names[a.category_id] for a in ds.items[2].annotations] == ["Bicyclist", "Road"]


def test_corpus_sample_round_trips_to_the_same_annotations(sample, tmp_path):
    ds = segmill.read(sample, "camvid")
    report = segmill.write(ds, tmp_path / "out", "camvid")
    assert report.lossless and report.items == 4 and report.annotations == 10
    for f in sorted(sample.glob("*annot/*.png")):
        ours = tmp_path / "out" / f.relative_to(sample)
        assert Image.open(ours).mode == "RGB" and np.array_equal(_rgb(ours), _rgb(f))
    for split in ("test", "train", "val"):
        assert (tmp_path / "out" / f"{split}.txt").read_text().split() == (sample / f"{split}.txt").read_text().split()
    back = segmill.read(tmp_path / "out", "camvid")
    assert back.categories == ds.categories
    assert [(it.id, [a.geometry for a in it.annotations]) for it in back.items] == \
           [(it.id, [a.geometry for a in it.annotations]) for it in ds.items]


def test_corpus_sample_through_coco_keeps_every_class_pixel(sample, tmp_path):
    ds = segmill.read(sample, "camvid")
    r1 = segmill.write(ds, tmp_path / "a.json", "coco")
    r2 = segmill.write(segmill.read(tmp_path / "a.json", "coco"), tmp_path / "back", "camvid")
    assert set(r1.summary()) == {"L105"}  # COCO has no splits
    # COCO ids are not label values: a background is added at 0 (L208), so Void moves and loses black (L833)
    assert set(r2.summary()) == {"L208", "L833"}
    back = segmill.read(tmp_path / "back", "camvid")
    assert back.categories[0].name == "background" and back.categories[1].name == "Void"

    def by_name(d):
        names = {c.id: c.name for c in d.categories}
        return sorted((it.file_name.rsplit("/", 1)[-1], names[a.category_id], a.geometry.area)
                      for it in d.items for a in it.annotations)

    assert by_name(back) == by_name(ds)


def test_info_names_the_format_with_its_reason(sample, fixtures_dir):
    res = CliRunner().invoke(main, ["info", str(sample), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["format"] == "camvid"
    spec, why = detect(sample)
    assert spec.name == "camvid" and "lists image / annotation pairs" in why.reason
    assert get_format("camvid").detect(fixtures_dir / "masks").confidence == 0  # classes.txt is not a list


# ------------------------------------------------------------------ the fixture
def test_fixture_label_colors_moves_the_black_label_to_zero(fixtures_dir):
    ds = segmill.read(fixtures_dir / "camvid", "camvid")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "Void"), (1, "Sky"), (2, "Road"), (3, "Car")]
    f001, f002, f003 = ds.items
    assert (f003.id, f003.height, f003.width, f003.annotations) == ("val/f003", 2, 7, [])  # image only
    assert [(a.category_id, int(a.to_rle(4, 6).area)) for a in f001.annotations] == [(1, 8), (2, 12), (3, 2)]
    assert ds.meta["camvid_mask_mode"] == "RGB" and f002.file_name == "val/f002.png"


def test_fixture_round_trips_losslessly_as_grey_values_too(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "camvid", "camvid")
    report = segmill.write(ds, tmp_path / "out", "camvid", mask_mode="L")
    assert report.lossless
    grey = np.asarray(Image.open(tmp_path / "out" / "trainannot" / "f001.png"))
    assert Image.open(tmp_path / "out" / "trainannot" / "f001.png").mode == "L"
    assert grey.tolist() == [[1] * 6, [1, 1, 3, 3, 0, 0], [2] * 6, [2] * 6]
    back = segmill.read(tmp_path / "out", "camvid")
    assert back.meta["camvid_mask_mode"] == "L"
    assert [[a.geometry for a in it.annotations] for it in back.items] == \
           [[a.geometry for a in it.annotations] for it in ds.items]
    # an image with a known size always gets an annotation (all background here), so its size survives
    assert (tmp_path / "out" / "val.txt").read_text() == ("/val/f002.png /valannot/f002.png\n"
                                                          "/val/f003.png /valannot/f003.png\n")
    assert not np.asarray(Image.open(tmp_path / "out" / "valannot" / "f003.png")).any()


# ------------------------------------------------------------------ list files and the label rule
@pytest.mark.parametrize("line, pair", [
    ("/train/a.png /trainannot/a.png", ("train/a.png", "trainannot/a.png")),
    ("train/a.png", ("train/a.png", None)),
    ('"/train/a b.png" "/trainannot/a b.png"', ("train/a b.png", "trainannot/a b.png")),
    ("   ", None),
    ("# a comment", None),
])
def test_list_lines(line, pair):
    assert parse_line(line, None, None) == pair


@pytest.mark.parametrize("line", ["a b c", '"a b.png" c', '"a" "b" "c"'])
def test_malformed_list_lines_are_refused(line):
    with pytest.raises(InputError, match="expected"):
        parse_line(line, "x.txt", "line 1")


def test_label_rule_black_then_background_then_added():
    assert [n for n, _ in label_table([("a", (1, 1, 1)), ("b", (0, 0, 0))])] == ["b", "a"]
    assert [n for n, _ in label_table([("a", None), ("background", None)])] == ["background", "a"]
    added = label_table([("a", None), ("b", None)])
    assert added == [("background", (0, 0, 0)), ("a", (128, 0, 0)), ("b", (0, 128, 0))]  # VOC colours by value


def test_segnet_style_absolute_paths_are_found_by_their_trailing_parts(fixtures_dir, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(fixtures_dir / "camvid", root)
    (root / "train.txt").write_text("/SegNet/CamVid/train/f001.png /SegNet/CamVid/trainannot/f001.png\n")
    (item,) = [it for it in segmill.read(root, "camvid").items if it.split == "train"]
    assert (item.id, item.file_name, len(item.annotations)) == ("train/CamVid/train/f001", "train/f001.png", 3)


def test_a_spaced_name_is_quoted_and_read_back(tmp_path):
    ds = Dataset([Category(0, "background"), Category(1, "tree")],
                 [Item("a b", "a b.png", 4, 3, [Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 3]]))])])
    segmill.write(ds, tmp_path / "o", "camvid")
    assert (tmp_path / "o" / "train.txt").read_text() == '"/train/a b.png" "/trainannot/a b.png"\n'
    assert [it.id for it in segmill.read(tmp_path / "o", "camvid").items] == ["train/a b"]


# ------------------------------------------------------------------ loss codes
def _box(x0, y0, x1, y1):
    return Polygons([[x0, y0, x1, y0, x1, y1, x0, y1]])


def _one(cats, anns):
    return Dataset(cats, [Item(1, "im.png", 6, 4, anns)])


def test_l830_instances_of_a_class_merge(tmp_path):
    ds = _one([Category(0, "background"), Category(1, "car")],
              [Annotation(1, 1, _box(0, 0, 2, 2)), Annotation(2, 1, _box(3, 0, 5, 2))])
    report = segmill.write(ds, tmp_path / "o", "camvid")
    assert report.summary() == {"L705": 2, "L830": 1}
    (ann,) = segmill.read(tmp_path / "o", "camvid").items[0].annotations
    assert int(ann.to_rle(4, 6).area) == 8


def test_l831_l832_l834_crowd_void_and_category_fields(tmp_path):
    ds = _one([Category(0, "background"), Category(1, "car", supercategory="vehicle")],
              [Annotation(1, 1, _box(0, 0, 2, 2), iscrowd=True),
               Annotation(2, None, _box(3, 0, 5, 2), attributes={"void": True})])
    assert set(segmill.write(ds, tmp_path / "o", "camvid").summary()) == {"L705", "L831", "L832", "L834"}


def test_l833_colours_a_label_map_cannot_tell_apart(tmp_path):
    ds = _one([Category(0, "background"), Category(1, "a", color=(9, 9, 9)), Category(2, "b", color=(9, 9, 9)),
               Category(3, "c", color=(0, 0, 0))], [Annotation(1, 2, _box(0, 0, 2, 2))])
    report = segmill.write(ds, tmp_path / "o", "camvid")
    assert report.summary().get("L833") == 2  # b's colour is a's, c's black is the background's
    back = segmill.read(tmp_path / "o", "camvid")
    assert [c.name for c in back.categories] == ["background", "a", "b", "c"]
    assert back.items[0].annotations[0].category_id == 2


def test_l208_categories_renumbered_with_a_background_added(tmp_path):
    ds = _one([Category(7, "car")], [Annotation(1, 7, _box(0, 0, 2, 2))])
    assert "L208" in segmill.write(ds, tmp_path / "o", "camvid").summary()
    assert [c.name for c in segmill.read(tmp_path / "o", "camvid").categories] == ["background", "car"]


# ------------------------------------------------------------------ refusals
def _copy(fixtures_dir, tmp_path) -> Path:
    root = tmp_path / "c"
    shutil.copytree(fixtures_dir / "camvid", root)
    return root


def test_a_missing_annotation_names_the_list_line(fixtures_dir, tmp_path):
    root = _copy(fixtures_dir, tmp_path)
    (root / "valannot" / "f002.png").unlink()
    with pytest.raises(InputError, match=r"val.txt: line 1: annotation 'valannot/f002.png' not found"):
        segmill.read(root, "camvid")
    ds = segmill.read(root, "camvid", errors="skip")
    assert [it.id for it in ds.items] == ["train/f001", "val/f003"] and len(ds.meta["skipped"]) == 1


def test_a_path_out_of_the_root_is_refused(fixtures_dir, tmp_path):
    root = _copy(fixtures_dir, tmp_path)
    (root / "train.txt").write_text("/train/f001.png ../../outside.png\n")
    with pytest.raises(InputError, match="outside the dataset root"):
        segmill.read(root, "camvid")


def test_colours_and_values_of_no_label_are_refused_with_a_pixel(fixtures_dir, tmp_path):
    root = _copy(fixtures_dir, tmp_path)
    mask = _rgb(root / "trainannot" / "f001.png").copy()
    mask[2, 3] = (1, 2, 3)
    Image.fromarray(mask).save(root / "trainannot" / "f001.png")
    with pytest.raises(InputError, match=r"colour \(1, 2, 3\) at pixel \(row 2, col 3\)"):
        segmill.read(root, "camvid")
    Image.fromarray(np.array([[0, 1], [9, 2]], np.uint8), "L").save(root / "trainannot" / "f001.png")
    with pytest.raises(InputError, match="pixel value 9 is not a label value.*row 1, col 0"):
        segmill.read(root, "camvid")


def test_a_duplicate_line_and_an_empty_folder_are_refused(fixtures_dir, tmp_path):
    root = _copy(fixtures_dir, tmp_path)
    (root / "train.txt").write_text("/train/f001.png /trainannot/f001.png\n" * 2)
    with pytest.raises(InputError, match="line 2: image 'train/f001' is listed twice"):
        segmill.read(root, "camvid")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no list file"):
        segmill.read(tmp_path / "empty", "camvid")


def test_the_writer_refuses_what_a_list_cannot_hold(tmp_path):
    ds = Dataset([Category(1, "car")], [Item('a"b', "x.png", 4, 4, [])])
    with pytest.raises(InputError, match="cannot be written in a CamVid list"):
        segmill.write(ds, tmp_path / "o", "camvid")
    assert not (tmp_path / "o").exists()
    with pytest.raises(UsageError, match="mask_mode must be one of"):
        segmill.write(Dataset(), tmp_path / "o", "camvid", mask_mode="P")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: camvid: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("ade20k", "camvid"): {"L001", "L208", "L701", "L705"},
    ("camvid", "camvid"): set(),
    ("camvid", "cityscapes"): {"L607"},
    ("camvid", "coco"): {"L105"},
    ("camvid", "coco_panoptic"): set(),
    ("camvid", "coco_results"): {"L110", "L111", "L112"},
    ("camvid", "cvat"): {"L505"},
    ("camvid", "kitti"): set(),
    ("camvid", "label_studio"): {"L001", "L801", "L803"},
    ("camvid", "labelme"): {"L001", "L402"},
    ("camvid", "masks"): set(),
    ("camvid", "voc"): set(),
    ("camvid", "yolo"): {"L309"},
    ("cityscapes", "camvid"): {"L208", "L830", "L831", "L833", "L834"},
    ("coco", "camvid"): {"L001", "L208", "L701", "L705", "L831", "L834"},
    ("coco_panoptic", "camvid"): {"L208", "L830", "L831", "L834"},
    ("coco_results", "camvid"): {"L001", "L208"},
    ("cvat", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("kitti", "camvid"): {"L830", "L831", "L833", "L834"},
    ("label_studio", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("labelme", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("mapillary", "camvid"): {"L208", "L830", "L832", "L834"},
    ("masks", "camvid"): {"L830", "L832"},
    ("open_images", "camvid"): {"L001", "L208", "L701"},
    ("voc", "camvid"): {"L001", "L705", "L830", "L832"},
    ("yolo", "camvid"): {"L208", "L705"},
}
