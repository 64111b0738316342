"""segmill's COCO output read by pycocotools: ``COCO``, ``annToMask`` and ``COCOeval(iouType="segm")``.

Sources, none written by segmill:

* ``coco``: a COCO file built here (float polygons, a multi-part polygon, a
  compressed RLE) with its images beside it;
* ``coco-fixture``: ``fixtures/coco/annotations.json`` (crowd uncompressed RLE,
  box-only annotation, sparse ids);
* ``voc``: paletted ``SegmentationClass``/``SegmentationObject`` PNGs painted
  here from pycocotools' masks of the scene (objects do not overlap);
* ``yolo``: ``data.yaml`` + normalized polygon lines (each line one instance);
* ``labelme``: one JSON per image, a two-part object as two shapes sharing a
  ``group_id`` (labelme's convention for one object).

Each is converted to COCO with ``segmill convert`` (default, ``--segmentation
rle`` and ``--segmentation polygon``). In the client environment pycocotools
loads the output, decodes every annotation with ``annToMask`` and evaluates the
output against itself as results (score 1, every non-crowd annotation with a
non-empty mask); annotations with an empty mask (a box-only record) are left
out of the evaluation, as COCOeval cannot match what has no pixels. Asserted:
AP@[.5:.95] is 1.0, and per image the multiset of (class, crowd flag, mask) is
pycocotools' masks of the source, pixel for pixel.

The scene builders here are shared with ``test_interop_supervision.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import _report
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from segmill.cli import main

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"
CLASSES = ["cat", "dog", "bird"]
# (image stem, width, height, [(class, [part, ...])]); float vertices, one two-part object, no overlaps.
IMAGES = [
    ("street", 64, 48, [("cat", [[2.3, 3.1, 20.7, 4.2, 10.5, 18.9]]),
                        ("dog", [[30, 5, 38, 5, 38, 12, 30, 12],
                                 [42.5, 20.25, 50.1, 20.25, 50.1, 28.7, 42.5, 28.7]]),
                        ("bird", [[5.5, 30.2, 20.1, 30.9, 18.4, 45.6, 4.6, 44.0]])]),
    ("park", 40, 36, [("dog", [[22.4, 2.2, 36.6, 2.5, 36.1, 13.7, 21.9, 14.1]]),
                      ("cat", [[3.5, 20.5, 15.5, 22.0, 17.9, 33.3, 6.1, 34.9, 1.2, 27.0]])]),
    ("yard", 30, 30, [("bird", [[0.4, 0.4, 14.6, 0.4, 14.6, 29.6, 0.4, 29.6]]),
                      ("cat", [[15.4, 2.0, 29.6, 2.0, 22.0, 27.5]])]),
]
VOC_NAMES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
             "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
             "tvmonitor"]


# ------------------------------------------------------------------ sources (written without segmill)
def pc_mask(parts, h, w) -> np.ndarray:
    """pycocotools' mask of a polygon (the union of its parts)."""
    from pycocotools import mask as cmask

    return cmask.decode(cmask.merge(cmask.frPyObjects(parts, h, w))).astype(bool)


def _image(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def build_coco(root: Path):
    """COCO JSON + images beside it; the street dog is a compressed RLE. Returns (path, want)."""
    from pycocotools import mask as cmask

    root.mkdir(parents=True)
    doc = {"images": [], "annotations": [], "categories": [{"id": 2 * k + 1, "name": n} for k, n in enumerate(CLASSES)]}
    cat_id = {c["name"]: c["id"] for c in doc["categories"]}
    want = {}
    for n, (stem, w, h, anns) in enumerate(IMAGES, 1):
        _image(root / f"{stem}.png", w, h, n)
        doc["images"].append({"id": 10 * n, "file_name": f"{stem}.png", "width": w, "height": h})
        want[stem] = []
        for name, parts in anns:
            m = pc_mask(parts, h, w)
            seg = parts
            if stem == "street" and name == "dog":
                rle = cmask.encode(np.asfortranarray(m.astype(np.uint8)))
                seg = {"size": rle["size"], "counts": rle["counts"].decode()}
            xs = [x for p in parts for x in p[0::2]]
            ys = [y for p in parts for y in p[1::2]]
            doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": 10 * n,
                                       "category_id": cat_id[name], "segmentation": seg, "iscrowd": 0,
                                       "area": float(m.sum()),
                                       "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})
            want[stem].append((name, False, m))
    (root / "annotations.json").write_text(json.dumps(doc))
    return root / "annotations.json", want


def build_coco_fixture(root: Path, boxes_drawn: bool = False):
    """``fixtures/coco/annotations.json`` as is (no images); want from pycocotools' ``annToMask``.

    A box-only record (``"segmentation": []``) has no pixels, unless the
    output draws boxes (``--segmentation rle|polygon``): then its pixels are
    pycocotools' mask of the box as a 4-corner polygon.
    """
    from pycocotools.coco import COCO

    src = FIXTURES / "coco" / "annotations.json"
    gt = COCO(str(src))
    want: dict = {}
    for img in gt.dataset["images"]:
        want[Path(img["file_name"]).stem] = []
    for a in gt.dataset["annotations"]:
        img = gt.imgs[a["image_id"]]
        name = gt.cats[a["category_id"]]["name"]
        h, w = img["height"], img["width"]
        m = gt.annToMask(a).astype(bool) if a["segmentation"] else np.zeros((h, w), bool)
        if not a["segmentation"] and boxes_drawn:
            x, y, bw, bh = a["bbox"]
            m = pc_mask([[x, y, x + bw, y, x + bw, y + bh, x, y + bh]], h, w)
        want[Path(img["file_name"]).stem].append((name, bool(a["iscrowd"]), m))
    return src, want


def _voc_palette() -> list[int]:
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= (c & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def _paletted(path: Path, arr: np.ndarray) -> None:
    im = Image.fromarray(arr.astype(np.uint8), mode="P")
    im.putpalette(_voc_palette())
    im.save(path)


def build_voc(root: Path):
    """JPEGImages + SegmentationClass/Object PNGs painted from the scene's pycocotools masks."""
    for d in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        (root / d).mkdir(parents=True)
    want = {}
    for n, (stem, w, h, anns) in enumerate(IMAGES, 1):
        _image(root / "JPEGImages" / f"{stem}.jpg", w, h, n)
        cls = np.zeros((h, w), np.uint8)
        obj = np.zeros((h, w), np.uint8)
        want[stem] = []
        for k, (name, parts) in enumerate(anns, 1):
            m = pc_mask(parts, h, w)
            assert not obj[m].any(), "the scene's objects must not overlap"
            cls[m], obj[m] = VOC_NAMES.index(name), k
            want[stem].append((name, False, m))
        _paletted(root / "SegmentationClass" / f"{stem}.png", cls)
        _paletted(root / "SegmentationObject" / f"{stem}.png", obj)
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("".join(f"{s}\n" for s, *_ in IMAGES))
    return root, want


def build_yolo(root: Path):
    """Ultralytics layout; each polygon part is its own line, i.e. its own instance."""
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "data.yaml").write_text("path: .\ntrain: images/val\nval: images/val\nnames:\n"
                                    + "".join(f"  {k}: {n}\n" for k, n in enumerate(CLASSES)))
    want = {}
    for n, (stem, w, h, anns) in enumerate(IMAGES, 1):
        _image(root / "images" / "val" / f"{stem}.png", w, h, n)
        lines, want[stem] = [], []
        for name, parts in anns:
            for p in parts:
                toks = [repr(v / (w if i % 2 == 0 else h)) for i, v in enumerate(p)]
                lines.append(" ".join([str(CLASSES.index(name)), *toks]))
                # the source's pixels: the normalized value times the image size, as any reader computes them
                px = [float(t) * (w if i % 2 == 0 else h) for i, t in enumerate(toks)]
                want[stem].append((name, False, pc_mask([px], h, w)))
        (root / "labels" / "val" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return root, want


def build_labelme(root: Path):
    """One LabelMe JSON per image beside it; a two-part object is two shapes with one group_id."""
    root.mkdir(parents=True)
    want = {}
    for n, (stem, w, h, anns) in enumerate(IMAGES, 1):
        _image(root / f"{stem}.png", w, h, n)
        shapes, want[stem] = [], []
        for g, (name, parts) in enumerate(anns, 1):
            for p in parts:
                shapes.append({"label": name, "points": [[x, y] for x, y in zip(p[0::2], p[1::2])],
                               "group_id": g if len(parts) > 1 else None, "description": "",
                               "shape_type": "polygon", "flags": {}})
            want[stem].append((name, False, pc_mask(parts, h, w)))
        (root / f"{stem}.json").write_text(json.dumps({
            "version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": f"{stem}.png", "imageData": None,
            "imageHeight": h, "imageWidth": w}))
    return root, want


#: source name -> (segmill reader format, builder(root) -> (path, want)).
SOURCES = {
    "coco": ("coco", build_coco),
    "coco-fixture": ("coco", build_coco_fixture),
    "voc": ("voc", build_voc),
    "yolo": ("yolo", build_yolo),
    "labelme": ("labelme", build_labelme),
}


def convert_to_coco(src: Path, fmt: str, out: Path, *flags) -> dict:
    """``segmill convert SRC OUT --from FMT --to coco FLAGS --json``; the write report."""
    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", fmt, "--to", "coco", "--json", "-q",
                                    *flags])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def report_row(fmt, client, direction, loads, counts_equal, masks, note="") -> None:
    """One row of the interop table (``_report.report_row``); supervision's tests call it through here."""
    _report.report_row(fmt, client, direction, loads, counts_equal, masks, note)


# ------------------------------------------------------------------ the client side
PYCOCOTOOLS = """
    import contextlib, io, json, sys
    import importlib.metadata
    import numpy as np
    from pycocotools import mask as cmask
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path, dump = sys.argv[1], sys.argv[2]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(path)
    records, arrays, results, keep = [], {}, [], []
    for k, a in enumerate(gt.loadAnns(gt.getAnnIds())):
        img = gt.imgs[a["image_id"]]
        seg = a["segmentation"]
        m = gt.annToMask(a).astype(bool) if seg else np.zeros((img["height"], img["width"]), bool)
        arrays[str(k)] = m
        records.append({"file_name": img["file_name"], "category": gt.cats[a["category_id"]]["name"],
                        "iscrowd": int(a["iscrowd"]), "pixels": int(m.sum())})
        if m.any():
            keep.append(a)
            if not a["iscrowd"]:
                rle = gt.annToRLE(a)
                rle = {"size": rle["size"], "counts": rle["counts"].decode() if isinstance(rle["counts"], bytes)
                       else rle["counts"]}
                if isinstance(rle["counts"], list):
                    rle = cmask.frPyObjects(rle, *rle["size"])
                    rle["counts"] = rle["counts"].decode()
                results.append({"image_id": a["image_id"], "category_id": a["category_id"],
                                "segmentation": rle, "score": 1.0})
    gt.dataset["annotations"] = keep  # an annotation without pixels cannot be matched: out of the evaluation
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), iouType="segm")
        ev.evaluate(); ev.accumulate(); ev.summarize()
    np.savez_compressed(dump, **arrays)
    print(json.dumps({"version": importlib.metadata.version("pycocotools"), "records": records,
                      "images": [img["file_name"] for img in gt.dataset["images"]],
                      "stats": [float(s) for s in ev.stats], "evaluated": len(keep), "results": len(results)}))
"""

VARIANTS = {"default": (), "rle": ("--segmentation", "rle"), "polygon": ("--segmentation", "polygon")}


def _by_image(images, records, arrays) -> dict:
    out: dict = {Path(f).stem: [] for f in images}
    for k, r in enumerate(records):
        out.setdefault(Path(r["file_name"]).stem, []).append((r["category"], bool(r["iscrowd"]), arrays[str(k)]))
    return out


def _sorted(anns):
    return sorted((n, c, m.shape, m.tobytes()) for n, c, m in anns)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_pycocotools_evaluates_segmill_coco_output_perfectly(source, variant, client, tmp_path):
    fmt, build = SOURCES[source]
    src, want = (build(tmp_path / "src", boxes_drawn=variant != "default") if source == "coco-fixture"
                 else build(tmp_path / "src"))
    out = tmp_path / "out.json"
    report = convert_to_coco(src, fmt, out, *VARIANTS[variant])
    dump = tmp_path / "pc.npz"
    got = client(PYCOCOTOOLS, out, dump)
    arrays = np.load(dump)
    have = _by_image(got["images"], got["records"], arrays)
    counts = {k: len(v) for k, v in have.items()} == {k: len(v) for k, v in want.items()}
    equal = counts and all(_sorted(have[k]) == _sorted(v) for k, v in want.items())
    ious = [max((iou(m, hm) for hn, _, hm in have.get(stem, []) if hn == n), default=0.0)
            for stem, anns in want.items() for n, _, m in anns]
    ap = got["stats"][0]
    report_row("coco", f"pycocotools {got['version']}",
               f"{source} -> segmill coco ({variant}) -> client", True, counts,
               {"equal": equal, "min_iou": min(ious), "mean_iou": float(np.mean(ious))},
               f"COCOeval segm of the output against itself: AP {ap:.3f} on {got['evaluated']} annotations "
               f"with pixels; losses reported: {sorted(report['summary']) or 'none'}")
    assert counts, (sorted(have), {k: len(v) for k, v in have.items()}, {k: len(v) for k, v in want.items()})
    assert equal, ious  # pycocotools decodes exactly the source's pixels
    assert got["results"] > 0 and ap == 1.0, got["stats"]
    assert got["stats"][1] == got["stats"][2] == 1.0  # AP at IoU .50 and .75


def test_the_scene_sources_are_what_the_test_says(tmp_path):
    """The builders' expectations are independent of segmill: check them against the files they wrote."""
    root, want = build_voc(tmp_path / "voc")
    obj = np.asarray(Image.open(root / "SegmentationObject" / "street.png"))
    assert [(n, m.sum()) for n, _, m in want["street"]] == [(n, (obj == k).sum()) for k, (n, _, _) in
                                                              enumerate(want["street"], 1)]
    _, want_y = build_yolo(tmp_path / "yolo")
    assert [len(v) for v in want_y.values()] == [4, 2, 2]  # the two-part dog is two YOLO lines
    _, want_l = build_labelme(tmp_path / "lm")
    assert [len(v) for v in want_l.values()] == [3, 2, 2]  # and one LabelMe group
