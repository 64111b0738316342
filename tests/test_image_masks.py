"""Image + mask folders (Datumaro's common semantic segmentation and the "same stem" layout).

Oracle for pixels: the mask PNGs read with Pillow and numpy directly, and
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
    rle = ann.to_rle(h, w).to_coco()
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture
def sample(corpus) -> Path:
    return corpus / "datumaro" / "common_semantic_segmentation_dataset"


# ------------------------------------------------------------------ the corpus samples
def test_corpus_dataset_reads_one_annotation_per_colour(sample):
    ds = segmill.read(sample / "dataset", "image_masks")
    meta = json.loads((sample / "dataset" / "dataset_meta.json").read_text())
    assert [(c.id, c.name, list(c.color)) for c in ds.categories] == \
           [(int(k), v, meta["segmentation_colors"][int(k)]) for k, v in meta["label_map"].items()]
    assert [(it.id, it.file_name) for it in ds.items] == [("0001", "images/0001.png"), ("0002", "images/0002.png")]
    assert ds.meta["label_map_background"] == 0 and ds.meta["image_masks_mode"] == "RGB"
    for item in ds.items:
        rgb = _png(sample / "dataset" / "masks" / f"{item.id}.png")
        assert (item.height, item.width) == rgb.shape[:2] == (1, 5)
        present = {tuple(int(v) for v in px) for px in rgb.reshape(-1, 3)} - {(0, 0, 0)}
        assert len(item.annotations) == len(present)
        for ann in item.annotations:
            assert np.array_equal(_pixels(ann, 1, 5), np.all(rgb == ds.categories[ann.category_id].color, axis=-1))
    names = {c.id: c.name for c in ds.categories}
    assert [[names[a.category_id] for a in it.annotations] for it in ds.items] == [["Bicyclist", "Road"],
                                                                                    ["Animal", "Child"]]


def test_corpus_non_standard_names_pair_with_prefixes(sample):
    root = sample / "non_standard_dataset"
    ds = segmill.read(root, "image_masks", masks_prefix="gt_", images_prefix="image_")
    assert [(it.id, it.file_name) for it in ds.items] == [("0001", "images/image_0001.png"),
                                                          ("0002", "images/image_0002.png")]
    names = {c.id: c.name for c in ds.categories}
    assert [names[a.category_id] for a in ds.items[1].annotations] == ["Animal", "Road", "SignSymbol"]
    unpaired = segmill.read(root, "image_masks")  # without the prefixes nothing pairs: each file alone
    assert [it.id for it in unpaired.items] == ["gt_0001", "gt_0002", "image_0001", "image_0002"]
    assert any("2 mask(s) without an image" in n for n in unpaired.meta["read_notes"])


def test_corpus_dataset_round_trips_to_the_same_masks(sample, tmp_path):
    ds = segmill.read(sample / "dataset", "image_masks")
    report = segmill.write(ds, tmp_path / "out", "image_masks")
    assert report.lossless and report.items == 2
    for name in ("0001", "0002"):
        assert np.array_equal(_png(tmp_path / "out" / "masks" / f"{name}.png"),
                              _png(sample / "dataset" / "masks" / f"{name}.png"))
    doc = json.loads((tmp_path / "out" / "dataset_meta.json").read_text())
    theirs = json.loads((sample / "dataset" / "dataset_meta.json").read_text())
    assert {k: doc[k] for k in theirs} == theirs
    assert segmill.read(tmp_path / "out", "image_masks").categories == ds.categories


def test_corpus_dataset_to_coco_and_back_is_lossless(sample, tmp_path):
    ds = segmill.read(sample / "dataset", "image_masks")
    r1 = segmill.write(ds, tmp_path / "a.json", "coco")
    mid = segmill.read(tmp_path / "a.json", "coco")
    r2 = segmill.write(mid, tmp_path / "back", "image_masks", mask_mode="RGB")
    # COCO ids 0..5 are not label values to the writer: Void is no "background", so one is added (L208)
    assert r1.lossless and set(r2.summary()) == {"L208", "L843"}
    back = segmill.read(tmp_path / "back", "image_masks")
    names = lambda d: sorted((it.id, {c.id: c.name for c in d.categories}[a.category_id], a.geometry.area)
                             for it in d.items for a in it.annotations)
    assert names(back) == names(ds)


def test_info_names_the_format_with_its_reason(sample):
    res = CliRunner().invoke(main, ["info", str(sample / "dataset"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["format"] == "image_masks"
    spec, why = detect(sample / "dataset")
    assert spec.name == "image_masks" and "dataset_meta.json" in why.reason


# ------------------------------------------------------------------ the fixture and other layouts
def test_fixture_index_masks(fixtures_dir):
    ds = segmill.read(fixtures_dir / "image_masks", "image_masks")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "background"), (1, "cat"), (2, "dog")]
    for item in ds.items:
        values = _png(fixtures_dir / "image_masks" / "masks" / f"{item.id}.png")
        assert [a.category_id for a in item.annotations] == [v for v in np.unique(values).tolist() if v]
        for a in item.annotations:
            assert np.array_equal(_pixels(a, *values.shape), values == a.category_id)
    assert ds.meta["image_masks_mode"] == "L"


def _same_stem(tmp_path, rgb=False) -> Path:
    root = tmp_path / "ss"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, v in ((1, 255), (2, 3)):
        Image.new("RGB", (4, 3)).save(root / "images" / f"img00{i}.jpg")
        m = np.zeros((3, 4), np.uint8)
        m[1, 1:3] = v
        Image.fromarray(np.stack([m] * 3, -1) if rgb else m).save(root / "masks" / f"img00{i}_mask.png")
    return root


def test_same_stem_folders_with_a_mask_suffix_infer_the_classes(tmp_path):
    root = _same_stem(tmp_path)
    assert detect(root)[0].name == "image_masks"
    ds = segmill.read(root, "image_masks", masks_suffix="_mask")
    assert [(it.id, it.file_name) for it in ds.items] == [("img001", "images/img001.jpg"),
                                                          ("img002", "images/img002.jpg")]
    assert [(c.id, c.name) for c in ds.categories] == [(0, "background"), (3, "class_3"), (255, "class_255")]
    assert [a.category_id for a in ds.items[0].annotations] == [255]
    assert ds.meta["voc_class_values"] is False  # inferred values are not contiguous: writers renumber (L208)
    assert "L208" in segmill.write(ds, tmp_path / "out", "image_masks").summary()
    with pytest.raises(InputError, match="RGB mask but no label colours"):
        segmill.read(_same_stem(tmp_path / "rgb", rgb=True), "image_masks", masks_suffix="_mask")


def test_a_labels_file_replaces_dataset_meta(fixtures_dir, tmp_path):
    f = tmp_path / "classes.txt"
    f.write_text("bg\nkitten\npuppy\n")
    ds = segmill.read(fixtures_dir / "image_masks", "image_masks", labels=f)
    assert [c.name for c in ds.categories] == ["bg", "kitten", "puppy"]
    assert ds.meta["label_map_background"] is None  # a class list names no background: value 0 is a class
    assert sum(len(it.annotations) for it in ds.items) == 6
    j = tmp_path / "meta.json"
    j.write_text(json.dumps({"labels": ["x", "y", "z"], "background_label": 2}))
    ds = segmill.read(fixtures_dir / "image_masks", "image_masks", labels=j)
    assert sorted({a.category_id for it in ds.items for a in it.annotations}) == [0, 1]


def test_split_folders_read_and_write_back(fixtures_dir, tmp_path):
    root = tmp_path / "splits"
    for split in ("train", "val"):
        shutil.copytree(fixtures_dir / "image_masks", root / split)
    ds = segmill.read(root, "image_masks")
    assert [it.id for it in ds.items] == ["train/pet_001", "train/pet_002", "val/pet_001", "val/pet_002"]
    assert detect(root)[1].reason.startswith("train/dataset_meta.json")
    segmill.write(ds, tmp_path / "out", "image_masks")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").glob("*/masks/*")) == [
        "train/masks/pet_001.png", "train/masks/pet_002.png", "val/masks/pet_001.png", "val/masks/pet_002.png"]
    assert [it.id for it in segmill.read(tmp_path / "out", "image_masks").items] == [it.id for it in ds.items]
    (root / "val" / "dataset_meta.json").write_text(json.dumps({"labels": ["a", "b", "c"]}))
    with pytest.raises(InputError, match="the label table of val/ differs"):
        segmill.read(root, "image_masks")


def test_without_a_background_every_value_is_a_class(fixtures_dir, tmp_path):
    root = tmp_path / "nb"
    shutil.copytree(fixtures_dir / "image_masks", root)
    (root / "dataset_meta.json").write_text(json.dumps({"label_map": {"0": "floor", "1": "cat", "2": "dog"}}))
    ds = segmill.read(root, "image_masks")
    assert ds.meta["label_map_background"] is None
    assert [a.category_id for a in ds.items[0].annotations] == [0, 1, 2]
    assert segmill.write(ds, tmp_path / "o", "image_masks").lossless  # every pixel annotated: nothing to lose
    assert "background_label" not in json.loads((tmp_path / "o" / "dataset_meta.json").read_text())
    assert segmill.read(root, "image_masks", background=2).items[0].annotations[-1].category_id == 1


# ------------------------------------------------------------------ loss codes
def _box(x0, y0, x1, y1):
    return Polygons([[x0, y0, x1, y0, x1, y1, x0, y1]])


def _one(cats, anns, meta=None):
    return Dataset(cats, [Item(1, "im.png", 6, 4, anns)], meta=meta or {})


def test_l840_l841_l842_l844(tmp_path):
    ds = _one([Category(0, "background"), Category(1, "car", isthing=True)],
              [Annotation(1, 1, _box(0, 0, 2, 2), iscrowd=True), Annotation(2, 1, _box(3, 0, 5, 2)),
               Annotation(3, None, _box(0, 2, 2, 4), attributes={"void": True})])
    summary = segmill.write(ds, tmp_path / "o", "image_masks").summary()
    assert {k: summary[k] for k in ("L840", "L841", "L842", "L844")} == {"L840": 1, "L841": 1, "L842": 1,
                                                                          "L844": 1}
    (ann,) = segmill.read(tmp_path / "o", "image_masks").items[0].annotations
    assert int(ann.to_rle(4, 6).area) == 8


def test_l843_colours_are_made_distinct_in_rgb_masks(tmp_path):
    ds = _one([Category(0, "background"), Category(1, "a", color=(5, 5, 5)), Category(2, "b", color=(5, 5, 5))],
              [Annotation(1, 2, _box(0, 0, 2, 2))])
    assert set(segmill.write(ds, tmp_path / "l", "image_masks").summary()) == {"L705"}  # values: colours may repeat
    assert segmill.write(ds, tmp_path / "o", "image_masks", mask_mode="RGB").summary().get("L843") == 1
    assert segmill.read(tmp_path / "o", "image_masks").items[0].annotations[0].category_id == 2


def test_l845_unannotated_pixels_without_a_background(tmp_path):
    meta = {"voc_class_values": True, "label_map_background": None}
    ds = _one([Category(0, "floor"), Category(1, "cat")], [Annotation(1, 1, _box(0, 0, 2, 2))], meta)
    report = segmill.write(ds, tmp_path / "o", "image_masks")
    assert report.summary() == {"L705": 1, "L845": 1}
    assert "20 unannotated pixels" in report.losses[-1].message


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("doc, message", [
    ([], "must be an object"),
    ({"label_map": []}, "label_map must be a non-empty object"),
    ({"label_map": {"one": "a"}}, "label_map key must be an integer 0..65535"),
    ({"label_map": {"0": 5}}, "label name must be a string"),
    ({"label_map": {"0": "a"}, "segmentation_colors": [[0, 0, 300]]}, r"colour value must be an integer in \[0, 255\]"),
    ({"labels": "abc"}, "labels must be a list"),
    ({"segmentation_colors": []}, "no label_map and no labels"),
    ({"labels": ["a"], "background_label": "x"}, "background_label must be an integer"),
])
def test_a_bad_dataset_meta_is_refused(doc, message, fixtures_dir, tmp_path):
    root = tmp_path / "m"
    shutil.copytree(fixtures_dir / "image_masks", root)
    (root / "dataset_meta.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message):
        segmill.read(root, "image_masks")


def test_a_value_of_no_label_is_named_with_its_pixel(fixtures_dir, tmp_path):
    root = tmp_path / "m"
    shutil.copytree(fixtures_dir / "image_masks", root)
    Image.fromarray(np.array([[0, 7]], np.uint8)).save(root / "masks" / "pet_002.png")
    with pytest.raises(InputError, match="pet_002.png: pixel value 7 is not a label value.*row 0, col 1"):
        segmill.read(root, "image_masks")
    ds = segmill.read(root, "image_masks", errors="skip")
    assert [it.id for it in ds.items] == ["pet_001"] and len(ds.meta["skipped"]) == 1


def test_option_and_layout_refusals(fixtures_dir, tmp_path):
    with pytest.raises(UsageError, match="masks_prefix must be a part of a file name"):
        segmill.read(fixtures_dir / "image_masks", "image_masks", masks_prefix="a/b")
    with pytest.raises(UsageError, match="background must be an integer"):
        segmill.read(fixtures_dir / "image_masks", "image_masks", background=-1)
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="no masks/ folder"):
        segmill.read(tmp_path / "x", "image_masks")
    with pytest.raises(UsageError, match="mask_mode must be one of"):
        segmill.write(Dataset(), tmp_path / "o", "image_masks", mask_mode="P")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: image_masks: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("ade20k", "image_masks"): {"L001", "L208", "L701", "L705"},
    ("camvid", "image_masks"): set(),
    ("cityscapes", "image_masks"): {"L208", "L840", "L841", "L844"},
    ("coco", "image_masks"): {"L001", "L208", "L701", "L705", "L841", "L844"},
    ("coco_panoptic", "image_masks"): {"L208", "L840", "L841", "L844"},
    ("coco_results", "image_masks"): {"L001", "L208"},
    ("cvat", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("image_masks", "camvid"): set(),
    ("image_masks", "cityscapes"): set(),
    ("image_masks", "coco"): set(),
    ("image_masks", "coco_panoptic"): set(),
    ("image_masks", "coco_results"): {"L110", "L111", "L112"},
    ("image_masks", "cvat"): {"L505"},
    ("image_masks", "image_masks"): set(),
    ("image_masks", "kitti"): set(),
    ("image_masks", "label_studio"): {"L001", "L801", "L803"},
    ("image_masks", "labelme"): {"L001", "L402", "L406"},
    ("image_masks", "masks"): set(),
    ("image_masks", "voc"): set(),
    ("image_masks", "yolo"): {"L309"},
    ("kitti", "image_masks"): {"L840", "L841", "L844"},
    ("label_studio", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("labelme", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("mapillary", "image_masks"): {"L208", "L840", "L842", "L844"},
    ("masks", "image_masks"): {"L840", "L842"},
    ("open_images", "image_masks"): {"L001", "L208", "L701"},
    ("voc", "image_masks"): {"L001", "L705", "L840", "L842"},
    ("yolo", "image_masks"): {"L208", "L705"},
}
