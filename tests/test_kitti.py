"""KITTI segmentation: the corpus sample, the fixture, the round trips, every loss code and refusal.

Oracle for pixels: the PNGs read with Pillow and numpy directly, and
pycocotools' decoding of what segmill read.
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
from segmill.formats import detect
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item


def _pixels(ann, h, w) -> np.ndarray:
    """pycocotools' decoding of an annotation's RLE."""
    rle = ann.to_rle(h, w).to_coco()
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int64)


@pytest.fixture
def sample(corpus) -> Path:
    return corpus / "datumaro" / "kitti_dataset" / "kitti_segmentation"


# ------------------------------------------------------------------ the corpus sample (Datumaro's test asset)
def test_corpus_sample_reads_every_instance_value_as_one_annotation(sample):
    ds = segmill.read(sample, "kitti")
    assert [it.id for it in ds.items] == ["training/000030_10", "training/000030_11"]
    assert [it.file_name for it in ds.items] == ["training/image_2/000030_10.png", "training/image_2/000030_11.png"]
    assert ds.meta["label_table"] == "official" and len(ds.categories) == 34
    names = {c.id: c.name for c in ds.categories}
    for item in ds.items:
        inst = _png(sample / "training" / "instance" / f"{item.id.split('/')[1]}.png")
        assert (item.height, item.width) == inst.shape == (1, 5)
        values = [v for v in np.unique(inst).tolist() if v]
        assert len(item.annotations) == len(values)
        for ann, v in zip(item.annotations, values):
            assert ann.category_id == v // 256
            assert np.array_equal(_pixels(ann, 1, 5), inst == v)
            assert ann.origin == ("kitti", v % 256)
            assert ann.iscrowd is False  # k = 0 only for classes without instances here
    # 768 = 3 * 256 (out of roi), 6913 / 6914 = truck instances 1 and 2, 7937 = train 1, 3073 = wall "instance" 1
    first, second = ([(names[a.category_id], a.origin[1]) for a in it.annotations] for it in ds.items)
    assert first == [("out of roi", 0), ("truck", 1), ("truck", 2)]
    assert second == [("out of roi", 0), ("wall", 1), ("train", 1)]


def test_corpus_sample_round_trips_to_the_same_instance_pngs(sample, tmp_path):
    report = segmill.write(segmill.read(sample, "kitti"), tmp_path / "out", "kitti")
    assert report.lossless and report.items == 2 and report.annotations == 6
    for name in ("000030_10", "000030_11"):
        ours = tmp_path / "out" / "training" / "instance" / f"{name}.png"
        assert Image.open(ours).mode == "I;16"
        assert np.array_equal(_png(ours), _png(sample / "training" / "instance" / f"{name}.png"))
        assert np.array_equal(_png(tmp_path / "out" / "training" / "semantic" / f"{name}.png"),
                              _png(ours) >> 8)


def test_corpus_sample_to_coco_and_back_is_lossless(sample, tmp_path):
    r1 = segmill.write(segmill.read(sample, "kitti"), tmp_path / "a.json", "coco")
    r2 = segmill.write(segmill.read(tmp_path / "a.json", "coco"), tmp_path / "back", "kitti")
    assert r1.lossless and r2.lossless  # one split: COCO keeps none, the writer's default is "training"
    for name in ("000030_10", "000030_11"):
        ours = _png(tmp_path / "back" / "training" / "instance" / f"{name}.png")
        theirs = _png(sample / "training" / "instance" / f"{name}.png")
        assert np.array_equal(ours >> 8, theirs >> 8)  # every class where it was
        # every region keeps its pixels; only a number k that COCO does not carry may differ: the "wall" region
        # (a class without instances) numbered 1 in the sample is numbered 0, the first free value, here
        regions = lambda m: sorted((v >> 8, tuple(np.flatnonzero(m == v))) for v in np.unique(m).tolist())
        assert regions(ours) == regions(theirs)
    assert _png(tmp_path / "back" / "training" / "instance" / "000030_11.png")[0, 2] == 12 * 256


def test_info_names_the_format_with_its_reason(sample):
    res = CliRunner().invoke(main, ["info", str(sample), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["format"] == "kitti" and doc["images"] == 2
    spec, why = detect(sample)
    assert spec.name == "kitti" and "training/" in why.reason


# ------------------------------------------------------------------ the fixture
def test_fixture_crowd_instances_stuff_and_an_image_without_maps(fixtures_dir):
    ds = segmill.read(fixtures_dir / "kitti", "kitti")
    names = {c.id: c.name for c in ds.categories}
    test, train = ds.items  # splits in name order
    assert (train.id, train.split, test.id, test.split) == ("training/000000_10", "training", "testing/000001_10",
                                                            "testing")
    assert (test.height, test.width, test.annotations) == (5, 8, [])  # sized from the image header
    got = [(names[a.category_id], a.iscrowd, a.origin[1], int(a.to_rle(4, 6).area)) for a in train.annotations]
    assert got == [("road", False, 0, 10), ("sky", False, 0, 6), ("person", True, 0, 2), ("car", False, 1, 2),
                   ("car", False, 2, 2)]


def test_semantic_maps_are_read_when_asked_or_when_there_is_no_instance_map(fixtures_dir, tmp_path):
    forced = segmill.read(fixtures_dir / "kitti", "kitti", source="semantic")
    sem = _png(fixtures_dir / "kitti" / "training" / "semantic" / "000000_10.png")
    anns = forced.items[1].annotations
    assert [a.category_id for a in anns] == [7, 23, 24, 26]  # one per class; 0 is unlabeled
    assert all(np.array_equal(_pixels(a, 4, 6), sem == a.category_id) for a in anns)
    assert all(a.extra.get("voc_semantic") and not a.iscrowd for a in anns)
    shutil.copytree(fixtures_dir / "kitti", tmp_path / "k")
    shutil.rmtree(tmp_path / "k" / "training" / "instance")
    assert [a.category_id for a in segmill.read(tmp_path / "k", "kitti").items[1].annotations] == [7, 23, 24, 26]
    with pytest.raises(InputError, match="no instance/ map for this image"):
        segmill.read(tmp_path / "k", "kitti", source="instance")


def test_a_split_folder_given_directly_is_read_alone(fixtures_dir):
    ds = segmill.read(fixtures_dir / "kitti" / "training", "kitti")
    assert [it.id for it in ds.items] == ["training/000000_10"]


def test_fixture_round_trips_losslessly(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "kitti", "kitti")
    report = segmill.write(ds, tmp_path / "out", "kitti")
    assert report.lossless, report.summary()
    back = segmill.read(tmp_path / "out", "kitti")
    assert back.categories == ds.categories
    for a, b in zip(ds.items, back.items):
        assert (a.id, a.size) == (b.id, b.size)
        assert [(x.category_id, x.iscrowd, x.origin, x.geometry) for x in a.annotations] == \
               [(x.category_id, x.iscrowd, x.origin, x.geometry) for x in b.annotations]
    assert (tmp_path / "out" / "testing" / "image_2" / "000001_10.png").is_file()  # images copied


# ------------------------------------------------------------------ custom label tables
def _custom(tmp_path, fixtures_dir, text: str) -> Path:
    root = tmp_path / "custom"
    shutil.copytree(fixtures_dir / "kitti", root)
    (root / "label_colors.txt").write_text(text)
    return root


def test_label_colors_txt_values_follow_line_order(fixtures_dir, tmp_path):
    lines = "".join(f"{i} {i} {i} label{i}\n" for i in range(1, 27))  # no black label: still line order
    root = _custom(tmp_path, fixtures_dir, "# comment\n\n200 0 0 void stuff\n" + lines)
    ds = segmill.read(root, "kitti")
    assert ds.meta["label_table"] == "label_colors.txt"
    assert [(c.id, c.name) for c in ds.categories[:2]] == [(0, "void stuff"), (1, "label1")]
    person = ds.items[1].annotations[2]
    assert (person.category_id, person.iscrowd) == (24, False)  # a custom table says nothing of crowds
    assert segmill.read(root, "kitti", label_table="official").meta["label_table"] == "official"


def test_custom_table_options(fixtures_dir, tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("".join(f"c{i}\n" for i in range(30)))
    assert segmill.read(fixtures_dir / "kitti", "kitti", labels=f).categories[26].name == "c26"
    with pytest.raises(UsageError, match="contradict"):
        segmill.read(fixtures_dir / "kitti", "kitti", labels=f, label_table="official")
    with pytest.raises(InputError, match="no label_colors.txt in the dataset root"):
        segmill.read(fixtures_dir / "kitti", "kitti", label_table="custom")
    f.write_text("a\nb\n")
    with pytest.raises(InputError, match="class 7 is not a label value of"):
        segmill.read(fixtures_dir / "kitti", "kitti", labels=f)


def test_a_custom_table_is_written_and_read_back(tmp_path):
    ds = Dataset([Category(0, "background"), Category(1, "tree", color=(0, 200, 0)), Category(2, "cone")],
                 [Item(1, "im.png", 5, 4, [Annotation(1, 1, Polygons([[0, 0, 5, 0, 5, 2, 0, 2]])),
                                           Annotation(2, 2, Polygons([[0, 2, 2, 2, 2, 4, 0, 4]])),
                                           Annotation(3, 2, Polygons([[3, 2, 5, 2, 5, 4, 3, 4]]))])])
    report = segmill.write(ds, tmp_path / "out", "kitti")
    assert set(report.summary()) == {"L705"}  # three polygons painted
    assert (tmp_path / "out" / "label_colors.txt").read_text().splitlines()[:2] == ["0 0 0 background",
                                                                                     "0 200 0 tree"]
    inst = _png(tmp_path / "out" / "training" / "instance" / "im.png")
    assert sorted(np.unique(inst).tolist()) == [0, 1 * 256, 2 * 256, 2 * 256 + 1]  # cone: k = 0, then 1
    back = segmill.read(tmp_path / "out", "kitti")
    assert [(c.id, c.name) for c in back.categories] == [(0, "background"), (1, "tree"), (2, "cone")]
    assert len(back.items[0].annotations) == 3


# ------------------------------------------------------------------ loss codes
def _one(cats, anns, w=6, h=4):
    return Dataset(cats, [Item(1, "im.png", w, h, anns)])


def _box(x0, y0, x1, y1):
    return Polygons([[x0, y0, x1, y0, x1, y1, x0, y1]])


def test_l820_category_fields_of_a_custom_table(tmp_path):
    ds = _one([Category(1, "tree", supercategory="plant")], [Annotation(1, 1, _box(0, 0, 2, 2))])
    assert "L820" in segmill.write(ds, tmp_path / "o", "kitti").summary()


def test_l821_categories_replaced_by_the_official_table(tmp_path):
    ds = _one([Category(5, "car"), Category(9, "road")], [Annotation(1, 5, _box(0, 0, 2, 2))])
    report = segmill.write(ds, tmp_path / "o", "kitti")
    assert set(report.summary()) == {"L705", "L821"}
    back = segmill.read(tmp_path / "o", "kitti")
    (ann,) = back.items[0].annotations
    assert (ann.category_id, ann.origin) == (26, ("kitti", 1))  # car is id 26; its first instance k = 1


def test_l822_more_than_255_instances_of_a_class(tmp_path):
    anns = [Annotation(i + 1, 26, _box(i % 20, i // 20, i % 20 + 1, i // 20 + 1)) for i in range(260)]
    ds = _one([Category(26, "car")], anns, w=20, h=13)
    summary = segmill.write(ds, tmp_path / "o", "kitti", label_table="official").summary()
    assert summary.get("L822") == 5


def test_l823_and_l824_crowd_regions(tmp_path):
    ds = _one([Category(24, "person"), Category(7, "road")],
              [Annotation(1, 24, _box(0, 0, 2, 2), iscrowd=True), Annotation(2, 24, _box(3, 0, 5, 2), iscrowd=True),
               Annotation(3, 7, _box(0, 2, 6, 4), iscrowd=True)])
    summary = segmill.write(ds, tmp_path / "o", "kitti").summary()
    assert summary.get("L824") == 1 and summary.get("L823") == 1  # person: merged at k = 0; road has no crowd
    back = segmill.read(tmp_path / "o", "kitti").items[0].annotations
    assert [(a.category_id, a.iscrowd, int(a.to_rle(4, 6).area)) for a in back] == [(7, False, 12), (24, True, 8)]


def test_l825_void_regions_do_not_read_back(tmp_path):
    ds = _one([Category(1, "tree")], [Annotation(1, None, _box(0, 0, 2, 2), attributes={"void": True}),
                                      Annotation(2, 1, _box(3, 0, 5, 2))])
    report = segmill.write(ds, tmp_path / "o", "kitti")
    assert "L825" in report.summary() and report.annotations == 1


def test_class_value_zero_instances_never_take_k_zero(tmp_path):
    ds = _one([Category(0, "unlabeled")], [Annotation(1, 0, _box(0, 0, 2, 2))])
    segmill.write(ds, tmp_path / "o", "kitti")
    (ann,) = segmill.read(tmp_path / "o", "kitti").items[0].annotations
    assert (ann.category_id, ann.origin, int(ann.to_rle(4, 6).area)) == (0, ("kitti", 1), 4)


# ------------------------------------------------------------------ refusals
def test_a_value_of_no_class_is_named_with_its_pixel(fixtures_dir, tmp_path):
    root = tmp_path / "k"
    shutil.copytree(fixtures_dir / "kitti", root)
    inst = _png(root / "training" / "instance" / "000000_10.png").astype(np.uint16)
    inst[3, 4] = 40 * 256 + 1
    Image.fromarray(inst).save(root / "training" / "instance" / "000000_10.png")
    with pytest.raises(InputError, match=r"pixel value 10241 \(class 40, instance 1\).*row 3, col 4"):
        segmill.read(root, "kitti")
    ds = segmill.read(root, "kitti", errors="skip")
    assert [it.id for it in ds.items] == ["testing/000001_10"] and len(ds.meta["skipped"]) == 1
    kept = segmill.read(root, "kitti", errors="keep")
    assert 40 in {a.category_id for a in kept.items[1].annotations}  # a dangling class for `segmill check`


def test_an_rgb_instance_map_is_refused(fixtures_dir, tmp_path):
    root = tmp_path / "k"
    shutil.copytree(fixtures_dir / "kitti", root)
    Image.new("RGB", (6, 4)).save(root / "training" / "instance" / "000000_10.png")
    with pytest.raises(InputError, match="instance map mode is RGB"):
        segmill.read(root, "kitti")


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"source": "labelIds"}, UsageError, "source must be one of auto, instance, semantic"),
    ({"label_table": "mine"}, UsageError, "label_table must be one of"),
    ({"errors": "ignore"}, UsageError, "errors must be one of"),
])
def test_unknown_option_values_are_usage_errors(fixtures_dir, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        segmill.read(fixtures_dir / "kitti", "kitti", **kwargs)


def test_a_folder_without_splits_is_refused_with_the_layout(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match=r"training/\{image_2,instance,semantic\}"):
        segmill.read(tmp_path / "x", "kitti")


def test_the_writer_refuses_before_writing(tmp_path):
    ds = _one([Category(1, "bad\nname")], [Annotation(1, 1, _box(0, 0, 2, 2))])
    with pytest.raises(InputError, match="cannot be written in label_colors.txt"):
        segmill.write(ds, tmp_path / "o", "kitti")
    assert not (tmp_path / "o").exists()
    with pytest.raises(UsageError, match="split must be a folder name"):
        segmill.write(_one([], []), tmp_path / "o", "kitti", split="../up")
    with pytest.raises(UsageError, match="label_table must be one of"):
        segmill.write(_one([], []), tmp_path / "o", "kitti", label_table="both")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: kitti: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("ade20k", "kitti"): {"L001", "L208", "L701", "L705"},
    ("cityscapes", "kitti"): set(),
    ("coco", "kitti"): {"L001", "L208", "L701", "L705", "L820", "L823"},
    ("coco_panoptic", "kitti"): {"L208", "L820", "L823"},
    ("coco_results", "kitti"): {"L001", "L208"},
    ("cvat", "kitti"): {"L001", "L701", "L703", "L705", "L821"},
    ("kitti", "cityscapes"): set(),
    ("kitti", "coco"): {"L105"},
    ("kitti", "coco_panoptic"): set(),
    ("kitti", "coco_results"): {"L110", "L111", "L112"},
    ("kitti", "cvat"): {"L502", "L505"},
    ("kitti", "kitti"): set(),
    ("kitti", "label_studio"): {"L001", "L801", "L802", "L803"},
    ("kitti", "labelme"): {"L001", "L401", "L402", "L406"},
    ("kitti", "masks"): {"L203"},
    ("kitti", "voc"): {"L203"},
    ("kitti", "yolo"): {"L302", "L309"},
    ("label_studio", "kitti"): {"L001", "L208", "L701", "L703", "L705"},
    ("labelme", "kitti"): {"L001", "L208", "L701", "L703", "L705"},
    ("mapillary", "kitti"): {"L208", "L820", "L825"},
    ("masks", "kitti"): {"L825"},
    ("open_images", "kitti"): {"L001", "L208", "L701"},
    ("voc", "kitti"): {"L001", "L705", "L825"},
    ("yolo", "kitti"): {"L208", "L705"},
}
