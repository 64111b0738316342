"""Datumaro 1.13.12 and segmill, both ways, in five formats.

segmill -> Datumaro: segmill converts COCO sources (the fixture, Datumaro's own
``coco_instances`` test asset, labelme's COCO export of its instance example with
multi-part objects, and a synthetic set of multi-part polygons and RLE masks) to
``coco_instances``, ``voc``, ``cvat``, ``cityscapes`` and ``coco_panoptic``;
``dm.Dataset.import_from(path, fmt)`` reads each output in Datumaro's own
environment (``conftest.py``), which dumps its masks (polygons rasterized by
pycocotools, the rule segmill follows) to an ``.npz`` file. The comparison
happens here, against segmill's own reading of the same output.

Datumaro -> segmill: Datumaro builds a dataset of masks and (multi-part)
polygons, exports it in each format, reads its export back (its own masks), and
segmill reads the export; the masks must agree.

An "instance" on Datumaro's side is the union of the area annotations
(polygons, masks) sharing a label and a non-zero ``group`` (Datumaro's way of
tying the parts of one object: its COCO importer gives each polygon of a
multi-part segmentation its own annotation with the COCO id as ``group``, its
CVAT importer maps ``group_id`` to ``group``). Facts each format depends on are
stated where they are used. Datumaro needs the images of a dataset where its
importer looks for them (segmill writes annotations only), so the test puts
blank images there, as a user's dataset has them.

Each test appends one row to ``$SEGMILL_INTEROP_REPORT`` (JSON lines) when it is set.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from _report import report_row
from PIL import Image

import segmill
import segmill.errors
from segmill.geometry import Box, InvalidGeometry, Polygons, Shape, to_rle

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
CLIENT = "datumaro 1.13.12"

#: Datumaro format name -> (segmill format, where segmill writes inside the output folder).
TARGETS = {
    "coco_instances": ("coco", "annotations/instances_default.json"),
    "voc": ("voc", ""),
    "cvat": ("cvat", ""),
    "cityscapes": ("cityscapes", ""),
    "coco_panoptic": ("coco_panoptic", ""),
}


def _report_row(fmt, direction, loads, counts_equal, masks, note="") -> None:
    report_row(fmt, CLIENT, direction, loads, counts_equal, masks, note)


# ------------------------------------------------------------------ sources
def _synthetic(root: Path) -> Path:
    """COCO with real images: multi-part polygons (1 to 3 parts), two instances of a class, an RLE mask."""
    rng = np.random.default_rng(17)
    root.mkdir(parents=True)
    doc = {"images": [], "annotations": [], "categories": [{"id": 2, "name": "car"}, {"id": 5, "name": "pole"},
                                                            {"id": 9, "name": "tree"}]}
    for i in range(1, 5):
        h, w = 40 + 4 * i, 48 + 2 * i
        name = f"frame{i}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / name)
        doc["images"].append({"id": i, "file_name": name, "width": w, "height": h})
        cells = [(x, y) for y in range(0, h - 10, 12) for x in range(0, w - 10, 12)]  # disjoint 10x10 cells
        order = rng.permutation(len(cells)).tolist()
        for k in range(4):
            parts = []
            for _ in range(1 + k % 3):
                x, y = cells[order.pop()]
                pts = rng.random((int(rng.integers(3, 6)), 2)) * 9.5 + [x, y]
                parts.append(pts.round(2).reshape(-1).tolist())
            doc["annotations"].append({"id": 10 * i + k, "image_id": i, "category_id": [2, 2, 5, 9][k],
                                       "segmentation": parts, "iscrowd": 0, "area": 1.0, "bbox": [0, 0, 1, 1]})
        x, y = cells[order.pop()]
        m = np.zeros((h, w), np.uint8)
        m[y : y + 9, x : x + 7] = 1
        m[y + 3 : y + 5, x + 2 : x + 4] = 0
        doc["annotations"].append({"id": 10 * i + 9, "image_id": i, "category_id": 9, "iscrowd": 0, "area": 1.0,
                                   "bbox": [0, 0, 1, 1], "segmentation": {"size": [h, w], "counts": _runs(m)}})
    src = root / "annotations.json"
    src.write_text(json.dumps(doc))
    return src


def _runs(m) -> list[int]:
    """Uncompressed COCO counts of a mask (column-major, starting with a 0-run)."""
    flat = m.flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    return ([0] + runs) if flat[0] else runs


def _source(name: str, tmp_path: Path) -> Path:
    if name == "fixture":
        return ROOT / "fixtures" / "coco" / "annotations.json"
    if name == "synthetic":
        return _synthetic(tmp_path / "synthetic")
    path = {"datumaro-corpus": CORPUS / "datumaro" / "coco_dataset" / "coco_instances" / "annotations"
                                / "instances_val.json",
            "labelme-corpus": CORPUS / "labelme" / "instance_segmentation" / "data_dataset_coco"
                              / "annotations.json"}[name]
    return path


SOURCES = ["fixture", "datumaro-corpus", "labelme-corpus", "synthetic"]


# ------------------------------------------------------------------ the two views
DATUMARO_DUMP = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType
    from pycocotools import mask as cm

    path, fmt, npz = sys.argv[1:4]
    ds = dm.Dataset.import_from(path, fmt)
    labels = ds.categories()[AnnotationType.label]
    out, arrays = {"labels": [l.name for l in labels], "items": {}}, {}
    for n, item in enumerate(ds):
        h, w = item.media.size
        anns = []
        for k, a in enumerate(item.annotations):
            if a.type not in (AnnotationType.polygon, AnnotationType.mask):
                anns.append({"type": a.type.name})
                continue
            if a.type == AnnotationType.polygon:
                m = cm.decode(cm.merge(cm.frPyObjects([list(map(float, a.points))], h, w))).astype(bool)
            else:
                m = np.asarray(a.image).astype(bool)
            arrays[f"{n}|{k}"] = m
            anns.append({"type": a.type.name, "label": None if a.label is None else labels[a.label].name,
                         "group": int(a.group), "crowd": bool(a.attributes.get("is_crowd", False)),
                         "mask": f"{n}|{k}"})
        out["items"][item.id] = {"subset": item.subset, "size": [h, w], "anns": anns}
    np.savez_compressed(npz, **arrays)
    print(json.dumps(out))
"""


def _key(name: str) -> str:
    """An image's key on both sides: the file name's stem without a Cityscapes suffix."""
    stem = PurePosixPath(str(name).replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    for suffix in ("_leftImg8bit", "_gtFine_labelIds", "_gtFine_instanceIds"):
        stem = stem.removesuffix(suffix)
    return stem


def _datumaro_view(client, path, fmt, tmp_path):
    """``({key: [(label, mask, crowd)]}, n)``: Datumaro's instances (area annotations joined by label and
    group) and the number ``n`` of its area annotations."""
    npz = tmp_path / f"dm_{fmt}.npz"
    got = client(DATUMARO_DUMP, path, fmt, npz, env="datumaro")
    arrays = np.load(npz)
    view, raw = {}, 0
    for iid, item in got["items"].items():
        groups: dict = {}
        for k, a in enumerate(item["anns"]):
            if "mask" not in a:
                continue
            raw += 1
            key = (a["label"], a["group"]) if a["group"] else (a["label"], -1 - k)
            have = groups.get(key)
            m = arrays[a["mask"]]
            groups[key] = (a["label"], m if have is None else have[1] | m, a["crowd"])
        view.setdefault(_key(iid), []).extend(groups.values())
    return view, raw


def _segmill_view(ds, float32=False):
    """``{key: [(label, mask, crowd)]}``: segmill's area annotations with a category, rasterized.

    With ``float32``, polygon vertices are first rounded to float32 (Datumaro's
    ``Polygon.points`` dtype) and back, to tell its precision from a mismatch.
    """
    names = {c.id: c.name for c in ds.categories}
    view = {}
    for it in ds.items:
        anns = []
        for a in it.annotations:
            if a.category_id is None or isinstance(a.geometry, (Box, Shape, InvalidGeometry)):
                continue
            g = a.geometry
            if float32 and isinstance(g, Polygons):
                g = Polygons([np.asarray(p, np.float32).astype(np.float64) for p in g.parts])
            anns.append((names[a.category_id], to_rle(g, it.height, it.width).decode().astype(bool), bool(a.iscrowd)))
        view[_key(it.file_name)] = anns
    return view


def _iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _by_class(view):
    """The same view with every class's instances united: what a semantic reader can see."""
    out = {}
    for key, anns in view.items():
        union: dict = {}
        for label, m, crowd in anns:
            union[label] = union.get(label, False) | m
        out[key] = [(label, m, False) for label, m in union.items()]
    return out


def compare(ours, theirs):
    """``(counts_equal, ious, labels_equal)``: each of our instances matched to the best of theirs of its label."""
    counts_equal, labels_equal, ious = True, True, []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key, []), list(theirs.get(key, []))
        counts_equal &= len(a) == len(b)
        labels_equal &= sorted(x[0] for x in a) == sorted(x[0] for x in b)
        for label, m, _ in sorted(a, key=lambda x: -int(x[1].sum())):
            same = [j for j, x in enumerate(b) if x[0] == label]
            if not same:
                ious.append(0.0)
                continue
            j = max(same, key=lambda j: _iou(m, b[j][1]))
            ious.append(_iou(m, b.pop(j)[1]))
    return counts_equal, ious, labels_equal


def _masks_row(ious):
    return {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious, default=1.0),
            "mean_iou": float(np.mean(ious)) if ious else 1.0}


# ------------------------------------------------------------------ segmill -> Datumaro
def _blank_images(ds, out: Path, dm_fmt: str) -> None:
    """Blank images where Datumaro's importer of ``dm_fmt`` looks for them (it refuses a dataset without)."""
    for it in ds.items:
        if dm_fmt in ("coco_instances", "coco_panoptic"):
            dst = out / "images" / "default" / it.file_name  # <root>/images[/<subset>]/<file_name>
        elif dm_fmt == "cvat":
            dst = out / "images" / it.file_name  # <xml folder>/images/<name>
        elif dm_fmt == "cityscapes":
            continue  # placed after writing: the names come from gtFine/
        else:
            continue  # voc: JPEGImages/ is optional
        dst.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (it.width, it.height)).save(dst)
    if dm_fmt == "cityscapes":
        sizes = {_key(it.file_name): (it.width, it.height) for it in ds.items}
        for f in sorted((out / "gtFine").rglob("*_gtFine_labelIds.png")):
            rel = f.relative_to(out / "gtFine")
            base = f.name[: -len("_gtFine_labelIds.png")]
            dst = out / "leftImg8bit" / rel.parent / f"{base}_leftImg8bit.png"
            dst.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", sizes.get(base, Image.open(f).size)).save(dst)


def _segmill_writes(source, dm_fmt, tmp_path):
    """Convert ``source`` (COCO) to ``dm_fmt``; returns (report, the output folder, segmill's reading of it)."""
    fmt, inner = TARGETS[dm_fmt]
    out = tmp_path / dm_fmt
    dst = out / inner if inner else out
    dst.parent.mkdir(parents=True, exist_ok=True)
    report = segmill.convert(source, dst, "coco", fmt)
    ds = segmill.read(dst, fmt)
    _blank_images(ds, out, dm_fmt)
    return report, out, ds


#: Formats whose Datumaro importer gives polygons: Datumaro keeps their vertices as float32.
POLYGON_FORMATS = ("coco_instances", "cvat")
NOTES = {
    "cityscapes": "Datumaro's importer makes one mask per class value (it never splits value*1000+k instances; "
                  "value 0 is skipped): masks compared per class",
    "float32": "Datumaro keeps polygon vertices as float32 (29.21 -> 29.2099991), which moves boundary pixels "
               "under pycocotools' rule; equal to segmill's masks of the float32-rounded vertices",
}


def _one_source(client, tmp_path, dm_fmt, source):
    """Datumaro's view of segmill's ``dm_fmt`` output of ``source``, compared; returns the row's parts."""
    src = _source(source, tmp_path)
    report, out, ds = _segmill_writes(src, dm_fmt, tmp_path)
    ours = _segmill_view(ds)
    if not set(report.summary()) - {"L705"}:  # lossless but for polygons painted (pixels exact)
        counts, ious, labels = compare(_segmill_view(segmill.read(src, "coco")), ours)
        assert counts and labels and ious == [1.0] * len(ious)
    theirs, raw = _datumaro_view(client, out, dm_fmt, tmp_path)
    counts_equal = compare(ours, theirs)[0]
    if dm_fmt == "cityscapes":
        ours, theirs = _by_class(ours), _by_class(theirs)
    _, ious, labels_equal = compare(ours, theirs)
    notes = []
    parts = sum(len(a.geometry.parts) if isinstance(a.geometry, Polygons) else 1 for it in ds.items
                for a in it.annotations if a.category_id is not None and not isinstance(a.geometry, (Box, Shape)))
    if dm_fmt in POLYGON_FORMATS:
        assert raw == parts  # one Datumaro polygon per part, tied to the others by its group
        if parts > sum(map(len, ours.values())):
            notes.append(f"{source}: {parts} Datumaro polygons/masks for {sum(map(len, ours.values()))} instances")
    if dm_fmt in POLYGON_FORMATS and ious != [1.0] * len(ious):
        notes.append(f"{source}: float32 vertices")
        _, ious32, _ = compare(_segmill_view(ds, float32=True), theirs)
        assert ious32 == [1.0] * len(ious32)  # Datumaro's precision, and nothing else
    else:
        assert ious == [1.0] * len(ious)
    assert sorted(theirs) == sorted(k for k in ours if ours[k] or k in theirs)
    assert labels_equal
    two_of_a_class = any(len(v) != len({x[0] for x in v}) for v in _segmill_view(ds).values())
    assert counts_equal != (dm_fmt == "cityscapes" and two_of_a_class)  # Datumaro's cityscapes importer merges them
    return counts_equal, ious, notes


@pytest.mark.parametrize("dm_fmt", sorted(TARGETS))
def test_datumaro_reads_what_segmill_writes(client, tmp_path, dm_fmt):
    sources = SOURCES if CORPUS.exists() else ["fixture", "synthetic"]  # the corpus is optional (its README)
    counts_equal, ious, notes = True, [], []
    for source in sources:
        c, i, n = _one_source(client, tmp_path / source, dm_fmt, source)
        counts_equal &= c
        ious += i
        notes += n
    if dm_fmt == "cityscapes":
        notes.insert(0, NOTES["cityscapes"])
    if any("float32" in n for n in notes):
        notes.append(NOTES["float32"])
    if any("polygons/masks for" in n for n in notes):
        notes.append("Datumaro gives each part of a multi-part object its own annotation, the parts sharing a group")
    _report_row(dm_fmt, "segmill -> client (" + ", ".join(sources) + ")", True, counts_equal, _masks_row(ious),
                "; ".join(notes))


# ------------------------------------------------------------------ Datumaro -> segmill
DATUMARO_EXPORT = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import Mask, Polygon
    from datumaro.components.media import Image

    out_dir, fmt, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    rng = np.random.default_rng(5)
    h, w = 20, 24
    def blob(y0, y1, x0, x1, hole=None):
        m = np.zeros((h, w), np.uint8)
        m[y0:y1, x0:x1] = 1
        if hole:
            m[hole[0]:hole[1], hole[2]:hole[3]] = 0
        return m
    names = ["cat", "dog", "bird"]
    spec = {  # ids per item, as Datumaro's own tests write them; the two cat polygons of group 3 are one object
        "img1": [Mask(image=blob(1, 9, 1, 10, (3, 6, 3, 6)), label=0, id=1, group=1),
                 Polygon([12.5, 2.25, 21.75, 2.5, 20.0, 11.5, 13.0, 10.0], label=1, id=2, group=2),
                 Polygon([2.0, 12.0, 7.5, 12.0, 7.5, 18.5, 2.0, 18.5], label=0, id=3, group=3),
                 Polygon([9.0, 13.0, 11.5, 13.0, 11.5, 17.0], label=0, id=3, group=3)],
        "img2": [Mask(image=blob(0, 20, 0, 5), label=2, id=1, group=1),
                 Polygon([8.3, 5.1, 19.7, 6.6, 16.2, 15.9, 9.4, 14.2], label=1, id=2, group=2)],
    }
    items = [dm.DatasetItem(id=iid, subset="train", media=Image.from_numpy(
                 rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), annotations=anns) for iid, anns in spec.items()]
    ds = dm.Dataset.from_iterable(items, categories=names)
    for t in options.get("transforms", []):
        ds = ds.transform(t)
    ds.export(out_dir, fmt, save_media=True, **options.get("export", {}))
    print(json.dumps({iid: sorted({(names[a.label], a.group) for a in anns}) for iid, anns in spec.items()}))
"""

#: Datumaro format -> export options: what a user passes so that the export is a valid file of that format.
EXPORTS = {
    # its exporter keeps item-local annotation ids unless told to renumber (see the refusal test below)
    "coco_instances": {"export": {"reindex": True}},
    "cvat": {},
    # the exporters of mask formats skip Polygon annotations: they are made masks first
    "voc": {"transforms": ["polygons_to_masks"]},
    "cityscapes": {"transforms": ["polygons_to_masks"]},
    # one segment per object: parts sharing an id would be duplicate segments (see the refusal test below)
    "coco_panoptic": {"transforms": ["polygons_to_masks", "merge_instance_segments"]},
}


def _datumaro_exports(client, tmp_path, dm_fmt, options):
    out = tmp_path / f"dm_{dm_fmt}"
    objects = client(DATUMARO_EXPORT, out, dm_fmt, json.dumps(options), env="datumaro")
    return out, objects


def _segmill_reads(out: Path, dm_fmt: str, **kw):
    fmt = TARGETS[dm_fmt][0]
    return segmill.read(out / "annotations" / "instances_train.json" if fmt == "coco" else out, fmt, **kw)


@pytest.mark.parametrize("dm_fmt", sorted(EXPORTS))
def test_segmill_reads_what_datumaro_exports(client, tmp_path, dm_fmt):
    out, objects = _datumaro_exports(client, tmp_path, dm_fmt, EXPORTS[dm_fmt])
    ds = _segmill_reads(out, dm_fmt)
    ours = _segmill_view(ds)
    theirs, _ = _datumaro_view(client, out, dm_fmt, tmp_path)  # Datumaro's reading of its own export
    counts_equal = compare(ours, theirs)[0]
    n_objects = sum(map(len, objects.values()))  # (label, group) pairs: 5 objects, one of them in two parts
    n_ours = sum(map(len, ours.values()))
    notes = [f"Datumaro options: {EXPORTS[dm_fmt]}"] if EXPORTS[dm_fmt] else []
    if dm_fmt == "cityscapes":
        ours, theirs = _by_class(ours), _by_class(theirs)
        notes.append(NOTES["cityscapes"] + "; its exporter writes plain class values, so instances of a class "
                     "reach any reader as one region")
    _, ious, labels_equal = compare(ours, theirs)
    if dm_fmt in POLYGON_FORMATS and ious != [1.0] * len(ious):
        notes.append("Datumaro re-reads its own vertices as float32: " + NOTES["float32"].split("; ")[1])
        _, ious32, _ = compare(_segmill_view(ds, float32=True), theirs)
        assert ious32 == [1.0] * len(ious32)
    else:
        assert ious == [1.0] * len(ious)
    if dm_fmt in POLYGON_FORMATS:
        notes.append(f"the two polygons of one object (one group) read as one instance by segmill: {n_ours} instances "
                     f"for {n_objects} objects")
    if dm_fmt == "voc":
        notes.append(f"Datumaro's VOC exporter paints each part of the two-part object as its own instance "
                     f"({n_ours} instances for {n_objects} objects)")
    _report_row(dm_fmt, "client -> segmill", True, counts_equal, _masks_row(ious), "; ".join(notes))
    assert labels_equal
    assert sorted(ours) == sorted(theirs) == ["img1", "img2"]
    expected = {"voc": n_objects + 1, "cityscapes": 4}.get(dm_fmt, n_objects)  # cityscapes: 2 classes an image
    assert n_ours == expected and counts_equal


def test_datumaro_coco_export_with_item_local_ids_is_refused_naming_the_duplicate(client, tmp_path):
    """Without ``reindex``, Datumaro writes each item's own annotation ids (1, 2 in both images).

    COCO annotation ids are unique in a file (pycocotools indexes ``anns`` by id, so
    the second image's annotations would replace the first's); segmill refuses the
    file in ``raise`` mode and lists the duplicates in ``skip`` mode.
    """
    out, _ = _datumaro_exports(client, tmp_path, "coco_instances", {})
    with pytest.raises(segmill.errors.InputError, match="duplicate annotation id 1"):
        _segmill_reads(out, "coco_instances")
    ds = _segmill_reads(out, "coco_instances", errors="skip")
    assert [s["reason"] for s in ds.meta["skipped"]] == ["duplicate annotation id 1", "duplicate annotation id 2"]
    _report_row("coco_instances", "client -> segmill (default export)", False, "-", "-",
                "Datumaro's default export repeats item-local annotation ids across images: refused (exit 2); "
                "export with reindex=True")


def test_datumaro_panoptic_export_of_a_multipart_object_is_refused_as_duplicate_segments(client, tmp_path):
    """Datumaro's panoptic exporter writes one ``segments_info`` entry per mask with the annotation id as segment id.

    The two parts of one object share their id, so the image gets two entries with
    segment id 3 (areas 42 and 7) for one PNG region of 49 pixels: ids must be
    unique in an image, and segmill refuses that image.
    """
    out, _ = _datumaro_exports(client, tmp_path, "coco_panoptic", {"transforms": ["polygons_to_masks"]})
    doc = json.loads((out / "annotations" / "panoptic_train.json").read_text())
    ids = [s["id"] for s in doc["annotations"][0]["segments_info"]]
    assert len(ids) != len(set(ids))
    with pytest.raises(segmill.errors.InputError, match="duplicate segment id"):
        _segmill_reads(out, "coco_panoptic")
    ds = _segmill_reads(out, "coco_panoptic", errors="skip")
    assert [s["record"] for s in ds.meta["skipped"]] == ["image id 1"]
    _report_row("coco_panoptic", "client -> segmill (parts sharing an id)", False, "-", "-",
                "Datumaro writes duplicate segment ids for the parts of one object: that image is refused; "
                "merge_instance_segments first")
