"""Pascal VOC with segmill, read by the real clients: supervision and Datumaro (and Datumaro's VOC read by segmill).

The source is a small COCO dataset with real PNG images, three classes with sparse
ids, polygons with float vertices, a multi-part polygon, a polygon with a hole (one
ring entering the hole through a zero-width seam) and an RLE. Objects do not
overlap, so the pixels segmill paints are pycocotools' masks of the source. segmill
converts it through the command line; each client reads the output in its own
environment (``conftest.py``), dumps its masks to an ``.npz`` file, and the
comparison happens here.

Each test appends one row to ``$SEGMILL_INTEROP_REPORT`` (JSON lines) when it is
set: format, client, direction, loads, counts_equal, masks (equal, min/mean IoU), note.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _report import report_row
from click.testing import CliRunner
from PIL import Image

import segmill
from segmill.cli import main

CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 5, "name": "bird"}, {"id": 7, "name": "dog"}]
HOLE = [4, 24, 26, 24, 26, 46, 4, 46, 4, 30, 10, 30, 10, 40, 20, 40, 20, 30, 10, 30, 4, 30]  # 22x22, 10x10 hole
IMAGES = [  # (file, width, height, [(category id, segmentation)])
    ("street.png", 64, 48, [(3, [[2.3, 3.1, 20.7, 4.2, 10.5, 18.9]]),
                            (7, [[30, 5, 38, 5, 38, 12, 30, 12], [42.5, 20.25, 50.1, 20.25, 50.1, 28.7, 42.5, 28.7]]),
                            (5, [HOLE])]),
    ("park.png", 40, 36, [(7, "rle"), (3, [[3.5, 20.5, 15.5, 22.0, 17.9, 33.3, 6.1, 34.9, 1.2, 27.0]])]),
    ("yard.png", 30, 30, [(5, [[0.4, 0.4, 14.6, 0.4, 14.6, 29.6, 0.4, 29.6]]),
                          (3, [[15.4, 2.0, 29.6, 2.0, 22.0, 27.5]])]),
]


def _report_row(client, direction, loads, counts_equal, masks, note="") -> None:
    report_row("voc", client, direction, loads, counts_equal, masks, note)


def _rle_blob(h, w):
    """An uncompressed COCO RLE of a blob with a notch (column-major runs)."""
    m = np.zeros((h, w), np.uint8)
    m[2:14, 22:37] = 1
    m[6:10, 28:31] = 0
    flat = m.flatten(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    return {"size": [h, w], "counts": counts}


def build_coco_source(root: Path) -> Path:
    """The COCO source (images beside ``annotations.json``); returns the JSON path."""
    rng = np.random.default_rng(3)
    root.mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "annotations": [], "categories": CATEGORIES}
    for n, (name, w, h, anns) in enumerate(IMAGES, 1):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / name)
        coco["images"].append({"id": n, "file_name": name, "width": w, "height": h})
        for cat, seg in anns:
            seg = _rle_blob(h, w) if seg == "rle" else seg
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": n, "category_id": cat,
                                        "segmentation": seg, "iscrowd": 0, "area": 1.0, "bbox": [0, 0, 1, 1]})
    src = root / "annotations.json"
    src.write_text(json.dumps(coco))
    return src


def source_masks(src: Path) -> dict:
    """pycocotools' mask of every source annotation: ``{file stem: [(class name, mask), ...]}``."""
    from pycocotools import mask as cmask

    coco = json.loads(src.read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    by_image = {img["id"]: img for img in coco["images"]}
    out: dict = {img["file_name"].rsplit(".", 1)[0]: [] for img in coco["images"]}
    for a in coco["annotations"]:
        img = by_image[a["image_id"]]
        seg = a["segmentation"]
        rle = (cmask.frPyObjects(seg, img["height"], img["width"]) if isinstance(seg, dict)
               else cmask.merge(cmask.frPyObjects(seg, img["height"], img["width"])))
        out[img["file_name"].rsplit(".", 1)[0]].append((names[a["category_id"]], cmask.decode(rle).astype(bool)))
    return out


def _iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _convert(src, out, *flags):
    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", "coco", "--to", "voc", "--json", "-q",
                                    *flags])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.fixture
def source(tmp_path):
    return build_coco_source(tmp_path / "coco")


def test_the_source_converts_with_only_painted_polygons_and_label_values_reported(source, tmp_path):
    report = _convert(source, tmp_path / "voc", "--xml-polygons")
    n_polys = sum(1 for _, _, _, anns in IMAGES for _, seg in anns if seg != "rle")
    # painted polygons lose their vertices; COCO's sparse category ids become VOC label values (L208)
    assert {k: v["count"] for k, v in report["summary"].items()} == {"L208": 1, "L705": n_polys}


# ------------------------------------------------------------------ supervision
SUPERVISION = """
    import json, sys
    from pathlib import Path
    import numpy as np
    import supervision as sv

    ds = sv.DetectionDataset.from_pascal_voc(images_directory_path=sys.argv[1],
                                             annotations_directory_path=sys.argv[2], force_masks=True)
    out, arrays = {"classes": list(ds.classes), "items": {}}, {}
    for path, _, det in ds:
        stem = Path(path).stem
        out["items"][stem] = [ds.classes[int(c)] for c in det.class_id]
        for k in range(len(det)):
            arrays[f"{stem}|{k}"] = det.mask[k]
    np.savez_compressed(sys.argv[3], **arrays)
    print(json.dumps(out))
"""


def _supervision(client, source, voc, tmp_path):
    npz = tmp_path / "sv.npz"
    got = client(SUPERVISION, source.parent, voc / "Annotations", npz)
    return got, np.load(npz)


@pytest.mark.parametrize("flags, note", [
    (("--xml-polygons",), "segmill --xml-polygons writes <polygon> outlines through pixel centres"),
    ((), ("default output: supervision builds masks only from the XML <polygon> extension, never from "
          "SegmentationObject PNGs (pascal_voc.detections_from_xml_obj), so its masks are empty")),
])
def test_supervision_reads_the_voc_output(client, source, tmp_path, flags, note):
    voc = tmp_path / "voc"
    _convert(source, voc, *flags)
    got, masks = _supervision(client, source, voc, tmp_path)
    want = source_masks(source)
    counts = {k: len(v) for k, v in got["items"].items()} == {k: len(v) for k, v in want.items()}
    names = all(got["items"][k] == [n for n, _ in v] for k, v in want.items())
    ious = [_iou(m, masks[f"{stem}|{k}"]) for stem, anns in want.items() for k, (_, m) in enumerate(anns)]
    _report_row("supervision 0.31.2", "segmill -> client" + (" (--xml-polygons)" if flags else " (default)"),
                True, counts and names, {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious),
                                         "mean_iou": float(np.mean(ious))}, note)
    assert sorted(got["classes"]) == ["bird", "cat", "dog"]
    assert counts and names
    if flags:
        assert ious == [1.0] * len(ious)  # exactly pycocotools' pixels, holes and parts included
    else:
        assert max(ious) == 0.0


def test_xml_polygons_round_trip_through_segmill_without_doubling(source, tmp_path):
    _convert(source, tmp_path / "voc", "--xml-polygons")
    ds = segmill.read(tmp_path / "voc", "voc")
    segmill.write(ds, tmp_path / "again", "voc", xml_polygons=True)
    for f in sorted((tmp_path / "voc" / "Annotations").glob("*.xml")):
        assert (tmp_path / "again" / "Annotations" / f.name).read_text() == f.read_text()


# ------------------------------------------------------------------ Datumaro reads segmill
DATUMARO_IMPORT = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    ds = dm.Dataset.import_from(sys.argv[1], sys.argv[2])
    labels = ds.categories()[AnnotationType.label]
    out, arrays = {"items": {}, "boxes": {}}, {}
    for item in ds:
        masks = [a for a in item.annotations if a.type == AnnotationType.mask]
        out["items"][item.id] = [labels[m.label].name for m in masks]
        out["boxes"][item.id] = [labels[b.label].name for b in item.annotations if b.type == AnnotationType.bbox]
        for k, m in enumerate(masks):
            arrays[f"{item.id}|{k}"] = m.image.astype(bool)
    np.savez_compressed(sys.argv[3], **arrays)
    print(json.dumps(out))
"""


def _written_instances(voc: Path) -> dict:
    """What segmill wrote: ``{id: [(class name, instance mask), ...]}`` from the PNGs and labelmap.txt."""
    classes = [ln.split(":")[0] for ln in (voc / "labelmap.txt").read_text().splitlines()
               if ln and not ln.startswith("#")]
    out = {}
    for f in sorted((voc / "SegmentationObject").glob("*.png")):
        inst = np.asarray(Image.open(f))
        cls = np.asarray(Image.open(voc / "SegmentationClass" / f.name))
        out[f.stem] = [(classes[int(np.unique(cls[inst == i])[0])], inst == i)
                       for i in np.unique(inst).tolist() if i not in (0, 255)]
    return out


def test_datumaro_reads_the_voc_output(client, source, tmp_path):
    voc = tmp_path / "voc"
    _convert(source, voc)
    npz = tmp_path / "dm.npz"
    got = client(DATUMARO_IMPORT, voc, "voc", npz, env="datumaro")
    masks = np.load(npz)
    written = _written_instances(voc)
    want = source_masks(source)
    counts = {k: len(v) for k, v in got["items"].items()} == {k: len(v) for k, v in written.items()}
    names = all(sorted(got["items"][k]) == sorted(n for n, _ in v) for k, v in written.items())
    ious = []
    for stem, anns in written.items():  # each written instance against Datumaro's mask of the same class
        theirs = [(n, masks[f"{stem}|{k}"]) for k, n in enumerate(got["items"][stem])]
        for name, m in anns:
            ious.append(max((_iou(m, t) for n, t in theirs if n == name), default=0.0))
    _report_row("datumaro 1.13.12 (voc)", "segmill -> client", True, counts and names,
                {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious), "mean_iou": float(np.mean(ious))},
                "masks from SegmentationObject + SegmentationClass through labelmap.txt colours")
    assert counts and names
    assert ious == [1.0] * len(ious)
    # and what segmill wrote is pycocotools' pixels of the source
    for stem, anns in want.items():
        assert sorted((n, m.tobytes()) for n, m in anns) == sorted((n, m.tobytes()) for n, m in written[stem])
    assert all(sorted(got["boxes"][k]) == sorted(n for n, _ in v) for k, v in want.items())


# ------------------------------------------------------------------ segmill reads Datumaro
DATUMARO_EXPORT = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import Mask, Bbox, LabelCategories, AnnotationType
    from datumaro.components.media import Image

    rng = np.random.default_rng(5)
    h, w = 20, 24
    def blob(y0, y1, x0, x1, hole=None):
        m = np.zeros((h, w), bool)
        m[y0:y1, x0:x1] = True
        if hole:
            m[hole[0]:hole[1], hole[2]:hole[3]] = False
        return m
    items_spec = {
        "img1": [("cat", blob(1, 9, 1, 10, (3, 6, 3, 6))), ("dog", blob(2, 12, 12, 22)), ("cat", blob(12, 19, 2, 8))],
        "img2": [("bird", blob(0, 20, 0, 5)), ("dog", blob(5, 15, 8, 20, (8, 10, 10, 12)))],
    }
    names = ["cat", "dog", "bird"]
    items = []
    for iid, anns in items_spec.items():
        masks = [Mask(image=m, label=names.index(n), id=k + 1, group=k + 1) for k, (n, m) in enumerate(anns)]
        items.append(dm.DatasetItem(id=iid, subset="train", media=Image.from_numpy(
            rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), annotations=masks))
    ds = dm.Dataset.from_iterable(items, categories=names)
    ds.export(sys.argv[1], sys.argv[2], save_media=True)
    arrays, out = {}, {}
    for iid, anns in items_spec.items():
        out[iid] = [n for n, _ in anns]
        for k, (_, m) in enumerate(anns):
            arrays[f"{iid}|{k}"] = m
    np.savez_compressed(sys.argv[3], **arrays)
    print(json.dumps(out))
"""


def _by_class(anns, names):
    """``{class name: union mask}`` of ``[(name, mask)]``."""
    out: dict = {}
    for n, m in anns:
        out[n] = out.get(n, False) | m
    return out


def test_segmill_reads_what_datumaro_exports_as_voc(client, tmp_path):
    out = tmp_path / "dm_voc"
    npz = tmp_path / "dm.npz"
    spec = client(DATUMARO_EXPORT, out, "voc", npz, env="datumaro")
    theirs = np.load(npz)
    ds = segmill.read(out, "voc")
    cats = {c.id: c.name for c in ds.categories}
    items = {i.id: i for i in ds.items}
    counts_equal, ious = True, []
    for iid, names in spec.items():
        item = items[iid]
        inst = [a for a in item.annotations if "voc_instance" in a.extra]
        counts_equal &= sorted(cats[a.category_id] for a in inst) == sorted(names)
        ours = [(cats[a.category_id], a.to_rle(item.height, item.width).decode().astype(bool)) for a in inst]
        for k, n in enumerate(names):  # each Datumaro mask against segmill's instance of the same pixels
            want = theirs[f"{iid}|{k}"]
            best = max((_iou(want, m) for c, m in ours if c == n), default=0.0)
            ious.append(best)
    _report_row("datumaro 1.13.12 (voc)", "client -> segmill", True, counts_equal,
                {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious), "mean_iou": float(np.mean(ious))},
                "Datumaro export(save_media=True) read by segmill.read(path, 'voc')")
    assert counts_equal
    assert ious == [1.0] * len(ious)


CV2_FILL = """
    import json, sys
    import numpy as np
    from supervision.detection.utils.converters import polygon_to_mask

    cases = json.load(open(sys.argv[1]))
    bad = []
    for n, c in enumerate(cases):
        m = np.array(c["mask"], bool)
        got = np.zeros(m.shape, bool)
        for poly in c["polygons"]:  # as pascal_voc.detections_from_xml_obj: 1-based, minus 1, rounded
            pts = np.round(np.array(poly, float) - 1).astype(np.int32)
            got |= polygon_to_mask(pts, (m.shape[1], m.shape[0])).astype(bool)
        if not np.array_equal(got, m):
            bad.append(n)
    print(json.dumps({"cases": len(cases), "bad": bad}))
"""


def test_xml_polygon_outlines_fill_back_exactly_in_supervision(client, tmp_path):
    from segmill.formats._voc_xml import centre_polygons

    rng = np.random.default_rng(2)
    cases = []
    for t in range(300):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        if t % 3 == 0:  # concentric rings: holes inside holes inside parts
            yy, xx = np.mgrid[:h, :w]
            m = (np.hypot(yy - h / 2, xx - w / 2).astype(int) // 2) % 2 == 0
        else:  # noise: pinches (pixels touching at a corner), one-pixel arms, holes
            m = rng.random((h, w)) < rng.uniform(0.2, 0.9)
        if m.any():
            cases.append({"mask": m.astype(int).tolist(),
                          "polygons": [[[x + 0.5, y + 0.5] for x, y in p] for p in centre_polygons(m)]})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    got = client(CV2_FILL, tmp_path / "cases.json")
    assert got == {"cases": len(cases), "bad": []}
