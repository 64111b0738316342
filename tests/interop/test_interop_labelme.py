"""segmill's LabelMe output opened by the real labelme (6.x), in its own environment.

Two sources:

* a COCO file laid out as COCO ships it (``annotations/instances_val2017.json``
  beside ``val2017/``) with real images, polygons (one of two parts), an RLE
  annotation and sparse category ids, converted with the command line;
* labelme's own example (``corpus/labelme/instance_segmentation``), read and
  written back by segmill.

labelme loads each JSON with ``labelme._label_file.LabelFile`` /
``read_label_file`` (which opens the image at ``imagePath``, or decodes
``imageData``, and refuses a size that differs from ``imageHeight`` /
``imageWidth``) and draws each instance with ``labelme.utils.shape.shapes_to_label``.
The instance masks are compared with pycocotools' masks of the source COCO:
an RLE is pixel-equal; a polygon is drawn by labelme with Pillow (boundary
included), so its masks are compared by IoU, reported in the test output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _layout import coco_layout
from _report import report_row
from click.testing import CliRunner

import segmill
from segmill.cli import main

CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 5, "name": "bird"}, {"id": 7, "name": "dog"}]
IMAGES = [
    ("a.jpg", 64, 48, [(7, [[3.3, 4.1, 40.7, 2.9, 44.5, 30.2, 10.1, 36.6]]),
                       (3, [[20.25, 20.75, 60.9, 21.5, 50.1, 44.7, 26.7, 40.3]])]),
    ("b.png", 50, 40, [(3, [[1.7, 1.7, 30.5, 2.1, 17.9, 25.3], [35.0, 30.0, 45.0, 30.0, 45.0, 38.0, 35.0, 38.0]]),
                       (5, "rle"),
                       (7, [[5.0, 28.0, 15.0, 28.0, 15.0, 38.0, 5.0, 38.0]])]),
]

#: Runs in labelme's environment: argv = [LabelMe folder, source COCO JSON or "-", labels.txt or "-"].
#: Prints, per JSON, whether it loads, its image size, and per instance (label, group, mask as RLE).
CLIENT = r"""
import json, sys, uuid
from pathlib import Path
import numpy as np
from labelme._label_file import LabelFile, read_label_file
from labelme import utils
from labelme.utils.shape import shapes_to_label
from pycocotools import mask as cmask

out = {}
for f in sorted(Path(sys.argv[1]).rglob("*.json")):
    rel = f.relative_to(sys.argv[1]).as_posix()
    data = read_label_file(str(f))
    lf = LabelFile(str(f))
    img = utils.img_data_to_arr(lf.image_data)
    raw = json.loads(f.read_text())
    groups, order = {}, []
    for s in lf.shapes:
        key = (s["label"], s["group_id"] if s["group_id"] is not None else str(uuid.uuid1()))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(s)
    inst = []
    for key in order:
        cls, _ = shapes_to_label(img.shape, groups[key], {key[0]: 1})
        r = cmask.encode(np.asfortranarray((cls == 1).astype(np.uint8)))
        inst.append([key[0], r["counts"].decode()])
    names = None
    if sys.argv[3] != "-":
        names = [ln.strip() for ln in open(sys.argv[3]) if ln.strip()]
        values = {n: i - 1 for i, n in enumerate(names)}  # labelme2voc: __ignore__ -1, _background_ 0
        cls, ins = shapes_to_label(img.shape, lf.shapes, values)
        names = [cmask.encode(np.asfortranarray(cls.astype(np.uint8) + 1))["counts"].decode(),
                 cmask.encode(np.asfortranarray(ins.astype(np.uint8)))["counts"].decode()]
    out[rel] = {"shape": list(img.shape[:2]), "imageData": raw["imageData"] is not None,
                "same_bytes": data.image_data == (f.parent / data.image_path).read_bytes()
                if (f.parent / data.image_path).is_file() else None,
                "instances": inst, "maps": names}

source = {}
if sys.argv[2] != "-":
    coco = json.load(open(sys.argv[2]))
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    imgs = {i["id"]: i for i in coco["images"]}
    for a in coco["annotations"]:
        im = imgs[a["image_id"]]
        seg = a["segmentation"]
        rle = cmask.merge(cmask.frPyObjects(seg, im["height"], im["width"])) if isinstance(seg, list) else seg
        m = cmask.decode(rle)
        source.setdefault(im["file_name"], []).append(
            [cats[a["category_id"]], cmask.encode(np.asfortranarray(m))["counts"].decode(), isinstance(seg, dict)])
print(json.dumps({"files": out, "source": source}))
"""


def _decode(counts, h, w):
    from segmill.rle import from_coco

    return from_coco({"size": [h, w], "counts": counts}).decode()


def _iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture
def coco_source(tmp_path):
    """``(COCO file, its dict)``: COCO's own layout with real images."""
    from segmill.rle import encode

    def record(k, cat, seg, h, w):
        if seg == "rle":
            m = np.zeros((h, w), bool)
            m[8:20, 30:47] = True
            m[12:15, 35:40] = False  # a hole: a mask shape keeps it
            seg = encode(m).to_coco()
        return {"id": 100 + k, "category_id": cat, "segmentation": seg, "iscrowd": 0}

    return coco_layout(tmp_path, CATEGORIES, IMAGES, record)


def _convert(src, out, *flags):
    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", "coco", "--to", "labelme", "--json",
                                    "-q", *flags])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _compare(got, coco):
    """Per instance: (file, label, IoU with pycocotools' mask, whether the source was an RLE)."""
    sizes = {im["file_name"]: (im["height"], im["width"]) for im in coco["images"]}
    rows = []
    for name, theirs in got["source"].items():
        ours = got["files"][name.rsplit(".", 1)[0] + ".json"]
        h, w = sizes[name]
        assert ours["shape"] == [h, w]
        assert [i[0] for i in ours["instances"]] == [t[0] for t in theirs]
        for (label, counts), (_, src_counts, is_rle) in zip(ours["instances"], theirs):
            rows.append((name, label, _iou(_decode(counts, h, w), _decode(src_counts, h, w)), is_rle))
    return rows


def test_labelme_opens_every_file_and_its_masks_match_pycocotools(coco_source, tmp_path, client):
    src, coco = coco_source
    report = _convert(src, tmp_path / "lm")
    assert "L405" not in report["summary"] and "L411" not in report["summary"]
    got = client(CLIENT, tmp_path / "lm", src, "-")
    assert sorted(got["files"]) == ["a.json", "b.json"]
    assert all(f["same_bytes"] and not f["imageData"] for f in got["files"].values())
    rows = _compare(got, coco)
    print("labelme vs pycocotools IoU:", [(n, lab, round(iou, 4)) for n, lab, iou, _ in rows])
    polys = [iou for *_, iou, is_rle in rows if not is_rle]
    report_row("labelme", "labelme 6.3.1 (LabelFile, shapes_to_label)", "coco -> segmill labelme -> client", True,
               len(rows) == len(coco["annotations"]),
               f"RLE shapes equal; polygons IoU min {min(polys):.3f}, mean {sum(polys) / len(polys):.3f}",
               "labelme fills polygons with Pillow, boundary pixels included (a 10x10 square: 121 px)")
    assert len(rows) == len(coco["annotations"])
    assert all(iou == 1.0 for *_, iou, is_rle in rows if is_rle)  # a mask shape: the very pixels
    assert all(iou >= 0.8 for *_, iou, is_rle in rows if not is_rle)  # Pillow draws the boundary pixels too


def test_embedded_image_data_is_what_labelme_decodes(coco_source, tmp_path, client):
    src, coco = coco_source
    _convert(src, tmp_path / "lm", "--embed-images", "--no-copy-images")
    assert not list((tmp_path / "lm").glob("*.jpg"))
    got = client(CLIENT, tmp_path / "lm", src, "-")
    assert all(f["imageData"] for f in got["files"].values())
    assert len(_compare(got, coco)) == len(coco["annotations"])


def test_missing_images_are_reported_and_the_json_names_them(coco_source, tmp_path):
    src, _ = coco_source
    (src.parent.parent / "val2017" / "b.png").unlink()
    report = _convert(src, tmp_path / "lm")
    assert report["summary"]["L405"]["count"] == 1
    assert json.loads((tmp_path / "lm" / "b.json").read_text())["imagePath"] == "b.png"


def test_labelme_draws_segmills_copy_of_its_example_like_the_original(corpus, tmp_path, client):
    """Class and object maps (``__ignore__`` = -1) from segmill's rewrite equal those of labelme's files."""
    lm = corpus / "labelme" / "instance_segmentation"
    ds = segmill.read(lm / "data_annotated", "labelme", labels=lm / "labels.txt")
    assert segmill.write(ds, tmp_path / "lm", "labelme").lossless
    ours = client(CLIENT, tmp_path / "lm", "-", lm / "labels.txt")["files"]
    theirs = client(CLIENT, lm / "data_annotated", "-", lm / "labels.txt")["files"]
    assert sorted(ours) == sorted(theirs) == ["2011_000003.json", "2011_000006.json", "2011_000025.json"]
    same = all(ours[n]["maps"] == theirs[n]["maps"] and ours[n]["instances"] == theirs[n]["instances"]
               for n in theirs)
    report_row("labelme", "labelme 6.3.1 (shapes_to_label)", "labelme example -> segmill labelme -> client", True,
               sorted(ours) == sorted(theirs), "equal" if same else "differ",
               "class and object maps of segmill's rewrite equal those of labelme's own files")
    for name in theirs:
        assert ours[name]["maps"] == theirs[name]["maps"]
        assert ours[name]["instances"] == theirs[name]["instances"]


def test_labelme_example_to_coco_has_labelmes_own_annotation_count(corpus, tmp_path):
    lm = corpus / "labelme" / "instance_segmentation"
    res = CliRunner().invoke(main, ["convert", str(lm / "data_annotated"), str(tmp_path / "c.json"), "--from",
                                    "labelme", "--to", "coco", "--labels", str(lm / "labels.txt"), "--raster", "pil",
                                    "--json", "-q"])
    assert res.exit_code == 0, res.output
    ours = json.loads((tmp_path / "c.json").read_text())
    theirs = json.loads((lm / "data_dataset_coco" / "annotations.json").read_text())
    assert len(ours["annotations"]) == len(theirs["annotations"]) == 12
    report_row("labelme", "labelme 6.3.1 (labelme2coco's export)", "client -> segmill coco", True, True,
               "12 annotations, as labelme's own export", "__ignore__ regions are void (L003 in COCO)")
