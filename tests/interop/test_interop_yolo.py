"""COCO -> YOLO with segmill, read by the real clients: Ultralytics and supervision.

The source is a COCO file laid out as COCO ships it (``annotations/instances_val2017.json``
beside ``val2017/``), with real JPEG/PNG images and sparse category ids (3, 5, 7).
segmill converts it through the command line; each client then reads the output in
its own environment (see ``conftest.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _layout import coco_layout
from _report import report_row
from click.testing import CliRunner

from segmill.cli import main

CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 5, "name": "bird"}, {"id": 7, "name": "dog"}]
# (file, width, height, [(category id, flat polygon in pixels)]); vertices off the pixel grid and on
# pycocotools' 1/5-pixel snapping boundaries (x.x9999 / k/5 - 0.1), one 0.385 px outside the image.
IMAGES = [
    ("a.jpg", 64, 48, [(7, [3.3, 4.1, 40.7, 2.9, 44.5, 30.2, 10.1, 36.6]),
                       (3, [20.25, 20.75, 60.9, 21.5, 50.1, 44.7, 26.7, 40.3])]),
    ("b.png", 50, 40, [(3, [1.7, 1.7, 30.5, 2.1, 17.9, 25.3]),
                       (5, [25.5, 10.5, 50.385, 12.0, 49.0, 39.5, 28.4, 33.3]),
                       (7, [5.0, 28.0, 15.0, 28.0, 15.0, 38.0, 5.0, 38.0])]),
]


def _report_row(client: str, loads: bool, counts_equal: bool, masks, note: str = "") -> None:
    report_row("yolo", client, "coco -> segmill yolo -> client", loads, counts_equal, masks, note)


@pytest.fixture
def converted(tmp_path):
    """``(source COCO dict, YOLO output folder, segmill's JSON report)``."""

    def record(k, cat, poly, h, w):
        xs, ys = poly[0::2], poly[1::2]
        return {"id": k + 1, "category_id": cat, "segmentation": [poly], "iscrowd": 0, "area": 1.0,
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]}

    src, coco = coco_layout(tmp_path, CATEGORIES, IMAGES, record)
    out = tmp_path / "yolo"
    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", "coco", "--to", "yolo", "--json", "-q"])
    assert res.exit_code == 0, res.output
    return coco, out, res.output


def _source_masks(coco):
    """pycocotools' mask of every source annotation, ``{file name: [(category id, mask), ...]}``."""
    from pycocotools import mask as cmask

    by_image = {img["id"]: img for img in coco["images"]}
    out: dict[str, list] = {}
    for a in coco["annotations"]:
        img = by_image[a["image_id"]]
        rle = cmask.merge(cmask.frPyObjects(a["segmentation"], img["height"], img["width"]))
        out.setdefault(img["file_name"], []).append((a["category_id"], cmask.decode(rle).astype(bool)))
    return out


def test_segmill_finds_the_images_and_reports_only_the_clipped_vertex(converted):
    _, out, text = converted
    doc = json.loads(text)
    assert {k: v["count"] for k, v in doc["summary"].items()} == {"L310": 1}
    assert [(x["image_id"], x["annotation_id"]) for x in doc["losses"]] == [(2, 4)]
    assert (out / "images" / "val" / "a.jpg").is_file() and (out / "images" / "val" / "b.png").is_file()


ULTRALYTICS = r"""
import json, sys
from pathlib import Path
from ultralytics.data.utils import check_det_dataset, verify_image_label

root = Path(sys.argv[1])
data = check_det_dataset(str(root / "data.yaml"), autodownload=False)
nc = data["nc"]
labels = {}
for im in sorted((root / "images" / "val").iterdir()):
    lb = root / "labels" / "val" / (im.stem + ".txt")
    im_file, lb_arr, shape, segments, kpts, nm, nf, ne, ncorrupt, msg = verify_image_label(
        (str(im), str(lb), "", False, nc, 0, 0, False))
    labels[im.name] = {"classes": [int(c) for c in lb_arr[:, 0]], "segments": len(segments),
                       "corrupt": int(ncorrupt), "msg": msg}
from ultralytics.data.dataset import YOLODataset  # the loader training and validation use

ds = YOLODataset(img_path=data["val"], data=data, task="segment", augment=False, imgsz=64)
loader = {Path(lb["im_file"]).name: [int(c) for c in lb["cls"].ravel()] for lb in ds.labels}
masks = [tuple(ds[i]["masks"].shape) for i in range(len(ds))]
print(json.dumps({"nc": nc, "names": {int(k): v for k, v in data["names"].items()}, "labels": labels,
                  "loader": loader, "masks": masks}))
"""


def test_ultralytics_loads_the_dataset_with_classes_in_range(converted, client):
    """``check_det_dataset``, ``verify_image_label`` and ``YOLODataset`` accept every file and label."""
    coco, out, _ = converted
    got = client(ULTRALYTICS, out)
    names = {int(k): v for k, v in got["names"].items()}
    by_name = {c["name"]: c["id"] for c in coco["categories"]}
    want = {name: [cat for cat, _ in anns] for name, _, _, anns in IMAGES}
    loads = got["nc"] == 3 and all(v["corrupt"] == 0 for v in got["labels"].values())
    counts = {k: len(v["classes"]) for k, v in got["labels"].items()} == {k: len(v) for k, v in want.items()}
    _report_row("Ultralytics 8.4.190 (check_det_dataset, verify_image_label, YOLODataset)", loads, counts,
                "class indices in range, labels equal")
    assert names == {0: "cat", 1: "bird", 2: "dog"}
    assert loads, got
    assert counts and all(v["segments"] == len(v["classes"]) for v in got["labels"].values())
    for name, info in got["labels"].items():
        assert [by_name[names[c]] for c in info["classes"]] == want[name]
        assert got["loader"][name] == info["classes"]
    assert len(got["masks"]) == len(IMAGES)


SUPERVISION = r"""
import json, sys
from pathlib import Path
import numpy as np
import supervision as sv

root, dump = Path(sys.argv[1]), sys.argv[2]
ds = sv.DetectionDataset.from_yolo(str(root / "images" / "val"), str(root / "labels" / "val"),
                                   str(root / "data.yaml"), force_masks=True)
arrays, counts = {}, {}
for path, _image, det in ds:
    name = Path(path).name
    counts[name] = [int(c) for c in det.class_id]
    arrays[name] = det.mask
np.savez(dump, **arrays)
print(json.dumps({"classes": list(ds.classes), "counts": counts}))
"""


def _iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def test_supervision_reads_names_counts_and_masks(converted, client, tmp_path):
    """Names and instance counts are equal; masks are compared by IoU.

    supervision draws a polygon its own way, not pycocotools': ``yolo_annotations_to_detections``
    scales the points to pixels in float32 and ``_polygons_to_masks`` rounds them to integers
    (``np.round(polygon).astype(np.int32)``) before ``polygon_to_mask`` fills them with
    ``cv2.fillPoly``, which treats integer vertices as pixel centres and fills the boundary
    pixels. pycocotools keeps 1/5-pixel vertices in pixel-corner space and takes pixels whose
    centre is inside. So supervision's masks are about half a pixel larger all round and their
    vertices move by up to half a pixel: equal masks are impossible in general, the overlap is high.
    """
    coco, out, _ = converted
    dump = tmp_path / "sv.npz"
    got = client(SUPERVISION, out, dump)
    src = _source_masks(coco)
    by_name = {c["name"]: c["id"] for c in coco["categories"]}
    counts = {k: len(v) for k, v in got["counts"].items()} == {k: len(v) for k, v in src.items()}
    arrays = np.load(dump)
    ious = []
    for name, anns in src.items():
        masks = arrays[name]
        assert masks.shape == (len(anns),) + anns[0][1].shape
        for (cat, want), have, cls in zip(anns, masks, got["counts"][name]):
            assert by_name[got["classes"][cls]] == cat
            ious.append(_iou(want, have))
    _report_row("supervision 0.31.2 (from_yolo, force_masks)", True, counts, {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious),
                                              "mean_iou": float(np.mean(ious))})
    assert got["classes"] == ["cat", "bird", "dog"]
    assert counts
    assert min(ious) > 0.7 and float(np.mean(ious)) > 0.8, ious
    # supervision's masks hold pycocotools' except where rounding moves a vertex inwards
    covered = [np.logical_and(w, h).sum() / w.sum() for (_, w), h in
               zip([a for n in src for a in src[n]], [m for n in src for m in arrays[n]])]
    assert min(covered) > 0.9, covered
