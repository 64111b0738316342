"""Open Images segmentation reader: the corpus sample, the bundled fixture, the resize, refusals.

Expected values come from the files (PNGs read here with Pillow and numpy),
from the facts stated in ``fixtures/open_images/build.py``, and from OpenCV /
Datumaro themselves in the interop client environment (skipped, with the
command that makes it, when absent); never from the reader itself.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as cocomask

import segmill
from segmill.cli import main
from segmill.errors import InputError
from segmill.formats._open_images_csv import resize_nearest

_spec = importlib.util.spec_from_file_location("_client_env", Path(__file__).with_name("_client_env.py"))
client = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(client)

IMG = "0001eeaf4aed83f9"
VAL = "000a1249af2bc5f0"


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "open_images" / "basic"


def _pixels(item, ann):
    return ann.to_rle(item.height, item.width).decode().astype(bool)


def _by_id(ds):
    return {it.id: it for it in ds.items}


def _grid(h, w, on):
    m = np.zeros((h, w), bool)
    for rows, cols in on:
        m[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1] = True
    return m


# ------------------------------------------------------------------ corpus (Datumaro's open_images sample, v6)
@pytest.mark.corpus
def test_corpus_one_mask_of_one_image(corpus):
    root = corpus / "datumaro" / "open_images_dataset" / "v6"
    ds = segmill.read(root, "open_images")
    assert [(it.id, it.split, it.size) for it in ds.items] == [("b", "train", (2, 8))]
    assert [(c.id, c.name) for c in ds.categories] == [("/m/0", "Generic label #0")]
    (ann,) = ds.items[0].annotations
    png = np.asarray(Image.open(root / "masks" / "train" / "b_m0_01234567.png")) != 0
    assert np.array_equal(_pixels(ds.items[0], ann), png) and int(png.sum()) == 4
    assert ann.attributes == {"box_id": "01234567", "box": [0.2, 1.0, 0.3, 0.5], "predicted_iou": 0.5}


@pytest.mark.corpus
def test_corpus_info_names_the_format_and_v5_without_masks_is_not_it(corpus):
    res = CliRunner().invoke(main, ["info", str(corpus / "datumaro" / "open_images_dataset" / "v6"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["format"] == "open_images" and "object-segmentation.csv" in out["reason"]
    v5 = corpus / "datumaro" / "open_images_dataset" / "v5"
    assert segmill.formats.get_format("open_images").detect(v5).confidence == 0


# ------------------------------------------------------------------ the bundled fixture (facts in build.py)
def test_fixture_masks_are_resized_by_nearest_neighbour(basic):
    ds = segmill.read(basic, "open_images")
    items = _by_id(ds)
    plane, person = items[IMG].annotations
    assert items[IMG].size == (6, 8) and items[IMG].file_name == f"images/train/{IMG}.jpg"
    assert np.array_equal(_pixels(items[IMG], plane), _grid(6, 8, [((0, 3), (0, 3)), ((4, 5), (6, 7))]))
    assert np.array_equal(_pixels(items[IMG], person), _grid(6, 8, [((2, 3), (3, 5))]))
    (diag,) = items[VAL].annotations
    assert items[VAL].size == (7, 5)  # from images.meta: there is no image file
    want = _grid(7, 5, [((0, 2), (0, 1)), ((3, 4), (2, 3)), ((5, 6), (4, 4))])
    assert np.array_equal(_pixels(items[VAL], diag), want)
    assert any("3 mask(s)" in n and "nearest neighbour" in n for n in ds.meta["read_notes"])


def test_fixture_categories_attributes_and_splits(basic):
    ds = segmill.read(basic, "open_images")
    # /m/0k4j (Car) is described but used by no mask: not a category; /m/0xyz is not described
    assert [(c.id, c.name) for c in ds.categories] == [("/m/0cmf2", "Airplane"), ("/m/01g317", "Person"),
                                                        ("/m/0xyz", "/m/0xyz")]
    assert any("named by their MID" in n for n in ds.meta["read_notes"])
    items = _by_id(ds)
    assert (items[IMG].split, items[VAL].split) == ("train", "validation")
    plane, person = items[IMG].annotations
    assert plane.attributes == {"box_id": "0d0c5b0a", "box": [0.0, 0.5, 0.0, 0.666667], "predicted_iou": 0.85}
    assert person.attributes == {"box_id": "1a2b3c4d", "box": [0.375, 0.75, 0.333333, 0.666667],
                                 "clicks": "0.4 0.5 1;0.6 0.4 0"}


def test_the_annotations_folder_can_be_given(basic):
    ds = segmill.read(basic / "annotations", "open_images")
    assert sorted(it.id for it in ds.items) == sorted([IMG, VAL])


def test_resize_rule_examples():
    m = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], bool)
    out = resize_nearest(m, 7, 5)  # row scale 3/7, column scale 3/5
    assert [int(np.flatnonzero(out[r])[0]) for r in range(7)] == [0, 0, 0, 2, 2, 4, 4]
    assert resize_nearest(m, 3, 3) is m
    assert np.array_equal(resize_nearest(m, 1, 1), [[True]])


@pytest.mark.interop
def test_resize_equals_opencv_inter_nearest(tmp_path):
    rng = np.random.default_rng(7)
    cases = [(rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < 0.5,
              int(rng.integers(1, 90)), int(rng.integers(1, 90))) for _ in range(200)]
    src = tmp_path / "cases.json"
    src.write_text(json.dumps([[m.astype(int).tolist(), h, w] for m, h, w in cases]))
    got = client.run("main", """
        import json, sys, numpy as np, cv2
        cases = json.load(open(sys.argv[1]))
        print(json.dumps([cv2.resize(np.array(m, np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).tolist()
                          for m, h, w in cases]))
    """, src)
    for (m, h, w), want in zip(cases, got):
        assert np.array_equal(resize_nearest(m, h, w), np.array(want, bool)), (m.shape, h, w)


@pytest.mark.interop
def test_masks_equal_datumaros_reading(basic, tmp_path):
    root = tmp_path / "oi"
    shutil.copytree(basic, root)
    with open(root / "annotations" / "oidv6-class-descriptions.csv", "a") as fh:
        fh.write("/m/0xyz,Xyz\n")  # Datumaro refuses a class the descriptions do not name
    # Datumaro takes an image's split from the image list (without one it derives it from the mask's name)
    (root / "annotations" / "image_ids_and_rotation.csv").write_text(
        "ImageID,Subset,OriginalURL,OriginalLandingURL,License,AuthorProfileURL,Author,Title,OriginalSize,"
        f"OriginalMD5,Thumbnail300KURL,Rotation\n{IMG},train,,,,,,,,,,0\n{VAL},validation,,,,,,,,,,0\n")
    got = client.run("datumaro", """
        import json, sys, numpy as np
        from datumaro.components.dataset import Dataset
        ds = Dataset.import_from(sys.argv[1], "open_images")
        print(json.dumps({a.attributes["box_id"]: np.asarray(a.image, bool).astype(int).tolist()
                          for item in ds for a in item.annotations if a.type.name == "mask"}))
    """, root)
    ours = {a.attributes["box_id"]: _pixels(it, a) for it in segmill.read(root, "open_images").items
            for a in it.annotations}
    assert set(got) == set(ours) == {"0d0c5b0a", "1a2b3c4d", "00000001"}
    for box, mask in got.items():
        assert np.array_equal(ours[box], np.array(mask, bool)), box


# ------------------------------------------------------------------ conversion to COCO
def test_convert_to_coco_keeps_every_pixel(basic, tmp_path):
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["convert", str(basic), str(out), "--to", "coco", "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["summary"]) == {"L105"}
    doc = json.loads(out.read_text())
    src = _by_id(segmill.read(basic, "open_images"))
    images = {img["id"]: img["segmill_id"] for img in doc["images"]}
    mids = {c["id"]: c["segmill_id"] for c in doc["categories"]}  # MIDs are not integer ids: kept beside
    for ann in doc["annotations"]:
        item = src[images[ann["image_id"]]]
        ours = next(a for a in item.annotations if a.id == ann["id"])
        assert mids[ann["category_id"]] == ours.category_id
        assert np.array_equal(cocomask.decode(ann["segmentation"]).astype(bool), _pixels(item, ours))


# ------------------------------------------------------------------ refusals and lenient modes
def _copy(basic, tmp_path):
    dst = tmp_path / "oi"
    shutil.copytree(basic, dst)
    return dst


def _row(root, line: str):
    with open(root / "annotations" / "train-annotations-object-segmentation.csv", "a") as fh:
        fh.write(line + "\n")


@pytest.mark.parametrize("line, message", [
    ("../x.png,0001eeaf4aed83f9,/m/0cmf2,1,0,1,0,1,0.5,", "MaskPath '../x.png' must be a plain file name"),
    ("nothere.png,0001eeaf4aed83f9,/m/0cmf2,1,0,1,0,1,0.5,", "mask 'nothere.png' not found"),
    (f"{IMG}_m0cmf2_0d0c5b0a.png,unknown,/m/0cmf2,1,0,1,0,1,0.5,", "image 'unknown' not found"),
    (f"{IMG}_m0cmf2_0d0c5b0a.png,{IMG},/m/0cmf2,1,0,1,0,1,nan,", "PredictedIoU must be a finite number"),
    (f"{IMG}_m0cmf2_0d0c5b0a.png,{IMG},/m/0cmf2,1,0,2,0,1,0.5,", r"BoxXMax must be a number in \[0.0, 1.0\]"),
    (f"{IMG}_m0cmf2_0d0c5b0a.png,{IMG},/m/0cmf2", "does not have one value per header column"),
    (f"{IMG}_m0cmf2_0d0c5b0a.png,{IMG},,1,0,1,0,1,0.5,", "LabelName must be a non-empty string"),
])
def test_bad_rows_are_refused_naming_the_line_and_skipped_when_asked(basic, tmp_path, line, message):
    root = _copy(basic, tmp_path)
    _row(root, line)
    with pytest.raises(InputError, match=message) as exc:
        segmill.read(root, "open_images")
    assert "line 4" in str(exc.value) and "\n" not in str(exc.value)
    ds = segmill.read(root, "open_images", errors="skip")
    assert [s["record"] for s in ds.meta["skipped"]] == ["line 4"]
    assert sum(len(it.annotations) for it in ds.items) == 3


def test_a_malformed_csv_is_refused(basic, tmp_path):
    root = _copy(basic, tmp_path)
    _row(root, 'a.png,"unterminated')
    with pytest.raises(InputError, match="malformed CSV"):
        segmill.read(root, "open_images", errors="skip")


def test_a_header_without_the_columns_is_refused(basic, tmp_path):
    root = _copy(basic, tmp_path)
    (root / "annotations" / "train-annotations-object-segmentation.csv").write_text("ImageID,LabelName\nx,/m/0\n")
    with pytest.raises(InputError, match="no column MaskPath in the header"):
        segmill.read(root, "open_images")


def test_a_folder_without_segmentation_csv_is_refused(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "train-annotations-bbox.csv").write_text("ImageID\n")
    with pytest.raises(InputError, match="no <split>-annotations-object-segmentation.csv"):
        segmill.read(tmp_path, "open_images")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: open_images: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("open_images", "cityscapes"): {"L602", "L605", "L607"},
    ("open_images", "coco"): {"L105"},
    ("open_images", "coco_panoptic"): {"L001", "L701"},
    ("open_images", "coco_results"): {"L110", "L111", "L112"},
    ("open_images", "cvat"): {"L504", "L505"},
    ("open_images", "labelme"): {"L001", "L402", "L405", "L406"},
    ("open_images", "masks"): {"L001", "L208", "L701"},
    ("open_images", "voc"): {"L205", "L208", "L701"},
    ("open_images", "yolo"): {"L001", "L303", "L307"},
}
