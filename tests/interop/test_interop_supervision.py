"""segmill's COCO, YOLO and Pascal VOC outputs read by supervision's ``DetectionDataset`` loaders.

The sources are the scenes of ``test_interop_pycocotools.py`` (COCO with
images, hand-painted VOC PNGs, hand-written YOLO lines and LabelMe files,
none written by segmill). segmill converts each with ``segmill convert``;
supervision loads the output in its own environment with ``force_masks=True``
and dumps its masks; here they are compared with pycocotools' masks of the
source:

* ``from_coco``: supervision decodes an RLE itself (column-major, exactly) but
  draws a polygon its own way (vertices rounded to integers, ``cv2.fillPoly``,
  boundary included), so a COCO output written with ``--segmentation rle`` must
  give the source's pixels exactly, and one with polygons (the default for
  polygon sources) agrees by IoU only;
* ``from_yolo``: YOLO holds polygons only, drawn by supervision as above:
  IoU. Written with ``--multipart lines`` (each part of a multi-part object
  one line, reported as L304), so the expected instances are the scene's parts;
* ``from_pascal_voc``: supervision builds masks only from the XML ``<polygon>``
  extension, so the output is written with ``--xml-polygons``, whose outlines
  run through pixel centres and fill back to the painted pixels exactly.

Each comparison appends a row to ``$SEGMILL_INTEROP_REPORT`` (see
``tools/interop_table.py``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("interop_scenes", Path(__file__).with_name(
    "test_interop_pycocotools.py"))
scenes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenes)

#: Where each source keeps the images a file name in segmill's COCO output is relative to.
IMAGE_DIR = {"coco": ".", "voc": "JPEGImages", "yolo": ".", "labelme": "."}
SOURCES = ("coco", "voc", "yolo", "labelme")

# Polygons drawn by supervision: vertices rounded to integers, then cv2.fillPoly with the boundary
# included, against pycocotools' pixels (vertices snapped to 1/5 pixel, pixel centres inside). An
# object of w x h pixels comes out up to (w + 2) x (h + 2): the scene's 7 x 9 part is drawn 9 x 10,
# IoU 0.70 (measured over the scene: 0.70-0.94, mean 0.81-0.86). So the bounds: IoU > 0.65 for each instance, > 0.78 on
# average, and the shape itself must hold: at least 95 % of pycocotools' pixels inside supervision's
# mask, and none of supervision's pixels more than 3 pixels away from them (at an acute vertex
# pycocotools leaves the tip's pixels out, their centres being outside the polygon, while cv2 fills the
# pixel of the rounded tip vertex: the yard cat, a thin triangle, has one such pixel 3 pixels below
# its tip at (22.0, 27.5)).
MIN_IOU, MEAN_IOU, MIN_COVERED, RING = 0.65, 0.78, 0.95, 3

SUPERVISION = """
    import json, sys
    import importlib.metadata
    from pathlib import Path
    import numpy as np
    import supervision as sv

    mode, dump, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "coco":
        ds = sv.DetectionDataset.from_coco(images_directory_path=args[0], annotations_path=args[1],
                                           force_masks=True)
    elif mode == "yolo":
        ds = sv.DetectionDataset.from_yolo(images_directory_path=args[0], annotations_directory_path=args[1],
                                           data_yaml_path=args[2], force_masks=True)
    else:
        ds = sv.DetectionDataset.from_pascal_voc(images_directory_path=args[0],
                                                 annotations_directory_path=args[1], force_masks=True)
    items, arrays = {}, {}
    for path, _image, det in ds:
        stem = Path(path).stem
        items[stem] = [ds.classes[int(c)] for c in det.class_id]
        for k in range(len(det)):
            arrays[f"{stem}|{k}"] = det.mask[k]
    np.savez_compressed(dump, **arrays)
    print(json.dumps({"version": importlib.metadata.version("supervision"), "classes": list(ds.classes),
                      "items": items}))
"""


def _dilate(m: np.ndarray, r: int) -> np.ndarray:
    """``m`` grown by ``r`` pixels (a (2r+1)-square neighbourhood)."""
    h, w = m.shape
    p = np.pad(m, r)
    out = np.zeros_like(m)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= p[dy:dy + h, dx:dx + w]
    return out


def _compare(got, arrays, want) -> dict:
    """Counts and masks of supervision's dataset against ``want`` (``{stem: [(class, crowd, mask)]}``).

    Each wanted instance is compared with supervision's instance of the same
    class that overlaps it most (supervision keeps the file's order, which is
    the source's order except where a format sorts its instances).
    """
    counts = {k: len(got["items"].get(k, [])) for k in want} == {k: len(v) for k, v in want.items()}
    ious, covered, outside = [], [], []
    for stem, anns in want.items():
        theirs = [(n, arrays[f"{stem}|{k}"]) for k, n in enumerate(got["items"].get(stem, []))]
        for name, _, m in anns:
            cands = [t for n, t in theirs if n == name]
            if not cands:
                ious.append(0.0)
                continue
            t = max(cands, key=lambda c: scenes.iou(m, c))
            ious.append(scenes.iou(m, t))
            covered.append(float((m & t).sum() / m.sum()))
            outside.append(int((t & ~_dilate(m, RING)).sum()))
    return {"counts": counts, "equal": bool(ious) and all(i == 1.0 for i in ious),
            "min_iou": min(ious, default=0.0), "mean_iou": float(np.mean(ious)) if ious else 0.0,
            "min_covered": min(covered, default=0.0), "outside_ring": sum(outside)}


def _assert_close(cmp) -> None:
    assert cmp["min_iou"] > MIN_IOU and cmp["mean_iou"] > MEAN_IOU, cmp
    assert cmp["min_covered"] >= MIN_COVERED and cmp["outside_ring"] == 0, cmp


def _convert(src, fmt, out, to, *flags) -> dict:
    from click.testing import CliRunner

    from segmill.cli import main

    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", fmt, "--to", to, "--json", "-q",
                                    *flags])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _parts(want_by_object, source) -> dict:
    """The scene's parts as instances (what a YOLO file holds: one polygon per line)."""
    out = {}
    for stem, w, h, anns in scenes.IMAGES:
        out[stem] = [(name, False, scenes.pc_mask([p], h, w)) for name, parts in anns for p in parts]
    if source == "yolo":  # the YOLO source's own pixels (normalized values times the size) are its truth
        return want_by_object
    return out


def _row(fmt, source, flags, got, cmp, note):
    scenes.report_row(fmt, f"supervision {got['version']}",
                      f"{source} -> segmill {fmt}{' (' + ' '.join(flags) + ')' if flags else ''} -> client",
                      True, cmp["counts"], {k: cmp[k] for k in ("equal", "min_iou", "mean_iou")}, note)


@pytest.mark.parametrize("flags", [(), ("--segmentation", "rle")], ids=["default", "rle"])
@pytest.mark.parametrize("source", SOURCES)
def test_supervision_from_coco_on_segmill_coco(source, flags, client, tmp_path):
    fmt, build = scenes.SOURCES[source]
    src, want = build(tmp_path / "src")
    out = tmp_path / "out.json"
    _convert(src, fmt, out, "coco", *flags)
    dump = tmp_path / "sv.npz"
    got = client(SUPERVISION, "coco", dump, tmp_path / "src" / IMAGE_DIR[source], out)
    cmp = _compare(got, np.load(dump), want)
    doc = json.loads(out.read_text())
    polygons = any(isinstance(a["segmentation"], list) for a in doc["annotations"])
    _row("coco", source, flags, got, cmp, "polygons drawn by supervision (rounded vertices, cv2.fillPoly): IoU"
         if polygons else "every mask an RLE, decoded by supervision exactly")
    assert set(scenes.CLASSES) <= set(got["classes"])  # a VOC source brings VOC's whole class table
    assert cmp["counts"], got["items"]
    if polygons:
        _assert_close(cmp)
    else:
        assert cmp["equal"], cmp


@pytest.mark.parametrize("source", ("coco", "voc", "labelme"))
def test_supervision_from_yolo_on_segmill_yolo(source, client, tmp_path):
    fmt, build = scenes.SOURCES[source]
    src, want = build(tmp_path / "src")
    out = tmp_path / "yolo"
    report = _convert(src, fmt, out, "yolo", "--multipart", "lines")
    assert "L304" in report["summary"]  # the two-part dog became two lines, and says so
    (split,) = [p.name for p in (out / "images").iterdir()]
    dump = tmp_path / "sv.npz"
    got = client(SUPERVISION, "yolo", dump, out / "images" / split, out / "labels" / split, out / "data.yaml")
    cmp = _compare(got, np.load(dump), _parts(want, source))
    _row("yolo", source, ("--multipart", "lines"), got, cmp,
         "YOLO polygons drawn by supervision (float32 scaling, rounded vertices, cv2.fillPoly): IoU; "
         "instances are the scene's parts (L304 reported)")
    assert set(scenes.CLASSES) <= set(got["classes"])  # a VOC source brings VOC's whole class table
    if source == "coco":
        assert got["classes"] == scenes.CLASSES  # category order kept, ids renumbered 0..n-1
    assert cmp["counts"], got["items"]
    _assert_close(cmp)


@pytest.mark.parametrize("source", ("coco", "labelme", "yolo"))
def test_supervision_from_pascal_voc_on_segmill_voc(source, client, tmp_path):
    fmt, build = scenes.SOURCES[source]
    src, want = build(tmp_path / "src")
    out = tmp_path / "voc"
    _convert(src, fmt, out, "voc", "--xml-polygons")
    images = tmp_path / "src" / ("images/val" if source == "yolo" else ".")
    dump = tmp_path / "sv.npz"
    got = client(SUPERVISION, "voc", dump, images, out / "Annotations")
    cmp = _compare(got, np.load(dump), want)
    _row("voc", source, ("--xml-polygons",), got, cmp,
         "masks from the XML <polygon> outlines (through pixel centres): exact")
    assert sorted(got["classes"]) == sorted(scenes.CLASSES)
    assert cmp["counts"], got["items"]
    assert cmp["equal"], cmp
