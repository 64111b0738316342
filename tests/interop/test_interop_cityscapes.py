"""Cityscapes with segmill, read by Datumaro; and Datumaro's Cityscapes export read by segmill.

segmill converts a small COCO source (real PNG images, polygons with float vertices,
a hole, two instances of one class in an image) through the command line, with a
custom label table (``label_colors.txt``) and with the official one. Datumaro
1.13.12 reads the output in its own environment (``conftest.py``) and dumps its
masks to an ``.npz`` file; the comparison happens here.

Facts about Datumaro's ``cityscapes`` format (``plugins/data_formats/cityscapes.py``)
the rows depend on:

* the importer needs ``leftImg8bit/<subset>/`` (segmill writes annotations only, so
  the test puts the images there, as a user's dataset has them);
* it reads ``*_gtFine_labelTrainIds.png`` when there is one, else ``instanceIds``,
  and makes one mask per label value present: ``value * 1000 + k`` instances are
  never split out, and label 0 is skipped (``if label_id:``), which with the
  official train-id table is ``road``;
* its exporter writes plain label values into ``instanceIds`` (the ``* 1000 + k``
  line is commented out), so instances of one class merge, and writes
  ``label_colors.txt`` without the background line it adds at value 0.

Each test appends one row to ``$SEGMILL_INTEROP_REPORT`` (JSON lines) when it is set.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from _report import report_row
from click.testing import CliRunner
from PIL import Image

import segmill
from segmill.cli import main

HOLE = [2, 2, 14, 2, 14, 14, 2, 14, 2, 5, 5, 5, 5, 10, 10, 10, 10, 5, 5, 5, 2, 5]


def _report_row(client, direction, loads, counts_equal, masks, note="") -> None:
    report_row("cityscapes", client, direction, loads, counts_equal, masks, note)


def _masks_row(ious):
    return {"equal": all(i == 1.0 for i in ious), "min_iou": min(ious), "mean_iou": float(np.mean(ious))}


def _iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _source(root: Path, names) -> Path:
    """A COCO source with real images; ``names`` are the three class names (ids 2, 4, 6)."""
    rng = np.random.default_rng(11)
    root.mkdir(parents=True)
    cats = [{"id": 2 * (k + 1), "name": n} for k, n in enumerate(names)]
    a, b, c = (cat["id"] for cat in cats)
    images = [("frame_a.png", 40, 30, [(a, [HOLE]), (b, [[20.5, 3.2, 30.4, 3.2, 30.4, 12.7, 20.5, 12.7]]),
                                       (b, [[22.0, 16.0, 36.6, 17.5, 30.1, 27.9]])]),
              ("frame_b.png", 32, 24, [(c, [[0.5, 12.5, 31.5, 12.5, 31.5, 23.5, 0.5, 23.5]]),
                                       (a, [[3.3, 1.1, 12.9, 1.1, 12.9, 9.9]])])]
    coco = {"images": [], "annotations": [], "categories": cats}
    for n, (name, w, h, anns) in enumerate(images, 1):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / name)
        coco["images"].append({"id": n, "file_name": name, "width": w, "height": h})
        for cat, seg in anns:
            coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": n, "category_id": cat,
                                        "segmentation": seg, "iscrowd": 0, "area": 1.0, "bbox": [0, 0, 1, 1]})
    src = root / "annotations.json"
    src.write_text(json.dumps(coco))
    return src


def _convert(src: Path, out: Path, *flags) -> dict:
    """COCO -> Cityscapes through the command line; the images are put where Datumaro looks for them."""
    res = CliRunner().invoke(main, ["convert", str(src), str(out), "--from", "coco", "--to", "cityscapes",
                                    "--json", "-q", *flags])
    assert res.exit_code == 0, res.output
    for f in sorted((out / "gtFine").rglob("*_gtFine_labelIds.png")):
        rel = f.relative_to(out / "gtFine")
        base = f.name[: -len("_gtFine_labelIds.png")]
        dst = out / "leftImg8bit" / rel.parent / f"{base}_leftImg8bit.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src.parent / f"{base}.png", dst)
    return json.loads(res.output)


def _written(out: Path, png: str, background: int = 0) -> dict:
    """What segmill wrote: ``{Datumaro item id: {value: mask}}`` of one PNG kind (but ``background``)."""
    got = {}
    for f in sorted((out / "gtFine").rglob(f"*_gtFine_{png}.png")):
        rel = f.relative_to(out / "gtFine" / "train").as_posix()[: -len(f"_gtFine_{png}.png")]
        arr = np.asarray(Image.open(f)).astype(np.int64)
        got[rel] = {v: arr == v for v in np.unique(arr).tolist() if v != background}
    return got


DATUMARO_IMPORT = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    ds = dm.Dataset.import_from(sys.argv[1], "cityscapes")
    labels = ds.categories()[AnnotationType.label]
    out, arrays = {"labels": [l.name for l in labels], "items": {}}, {}
    for item in ds:
        masks = [a for a in item.annotations if a.type == AnnotationType.mask]
        out["items"][item.id] = [[int(m.label), labels[m.label].name] for m in masks]
        for k, m in enumerate(masks):
            arrays[f"{item.id}|{k}"] = m.image.astype(bool)
    np.savez_compressed(sys.argv[2], **arrays)
    print(json.dumps(out))
"""


def _datumaro_reads(client, out, tmp_path):
    npz = tmp_path / "dm.npz"
    got = client(DATUMARO_IMPORT, out, npz, env="datumaro")
    return got, np.load(npz)


def test_datumaro_reads_a_custom_label_table_written_as_label_colors_txt(client, tmp_path):
    src = _source(tmp_path / "coco", ["cat", "dog", "bird"])
    out = tmp_path / "cs"
    report = _convert(src, out)
    assert any("label_colors.txt" in n for n in report["notes"])
    assert (out / "label_colors.txt").read_text() == "cat\ndog\nbird\n"
    got, masks = _datumaro_reads(client, out, tmp_path)
    table = ["background", "cat", "dog", "bird"]  # Datumaro's rule: no black label, background first
    assert got["labels"] == table
    written = _written(out, "labelIds")  # the values Datumaro reads (labelTrainIds equal labelIds here)
    instances = {iid: len(vals) for iid, vals in _written(out, "instanceIds").items()}  # what segmill wrote
    assert sorted(got["items"]) == sorted(written)
    ious, counts_equal = [], True
    for iid, vals in written.items():
        theirs = {label: masks[f"{iid}|{k}"] for k, (label, _) in enumerate(got["items"][iid])}
        assert sorted(theirs) == sorted(vals)  # one mask per class, named by label_colors.txt
        ious += [_iou(m, theirs[v]) for v, m in vals.items()]
        counts_equal &= len(got["items"][iid]) == instances[iid]
    _report_row("datumaro 1.13.12 (cityscapes)", "segmill -> client (custom table)", True, counts_equal,
                _masks_row(ious), "label_colors.txt honoured; one mask per class: Datumaro's importer never "
                "splits value*1000+k instances (two dogs in frame_a read as one mask)")
    assert ious == [1.0] * len(ious)
    assert not counts_equal  # by design of Datumaro's reader (module docs)


def test_datumaro_reads_the_official_table_through_label_train_ids(client, tmp_path):
    src = _source(tmp_path / "coco", ["road", "car", "sky"])
    out = tmp_path / "cs"
    report = _convert(src, out)
    assert any("official" in n for n in report["notes"]) and not (out / "label_colors.txt").exists()
    got, masks = _datumaro_reads(client, out, tmp_path)
    train_names = got["labels"]
    written = _written(out, "labelTrainIds", background=255)  # 255: unlabeled and ignored classes
    instances = {iid: len(vals) for iid, vals in _written(out, "instanceIds").items()}
    counts_equal = all(len(got["items"][iid]) == n for iid, n in instances.items())
    ious, skipped = [], set()
    for iid, vals in written.items():
        theirs = {label: masks[f"{iid}|{k}"] for k, (label, _) in enumerate(got["items"][iid])}
        for v, m in vals.items():
            if v not in theirs:
                skipped.add(train_names[v])
                continue
            ious.append(_iou(m, theirs[v]))
    _report_row("datumaro 1.13.12 (cityscapes)", "segmill -> client (official table)", True, counts_equal,
                _masks_row(ious), f"read through labelTrainIds with Datumaro's train-id table; classes never "
                f"read: {sorted(skipped)} (train id 0 is skipped by its importer)")
    assert ious == [1.0] * len(ious)
    assert skipped == {"road"} and not counts_equal


DATUMARO_EXPORT = """
    import json, sys
    import numpy as np
    import datumaro as dm
    from datumaro.components.annotation import Mask
    from datumaro.components.media import Image

    rng = np.random.default_rng(5)
    h, w = 20, 24
    def blob(y0, y1, x0, x1, hole=None):
        m = np.zeros((h, w), bool)
        m[y0:y1, x0:x1] = True
        if hole:
            m[hole[0]:hole[1], hole[2]:hole[3]] = False
        return m
    spec = {  # item ids with and without a city folder
        "img1": [("cat", blob(1, 9, 1, 10, (3, 6, 3, 6))), ("dog", blob(2, 12, 12, 22)), ("cat", blob(12, 19, 2, 8))],
        "berlin/berlin_000000_000019": [("bird", blob(0, 20, 0, 5)), ("dog", blob(5, 15, 8, 20, (8, 10, 10, 12)))],
    }
    names = ["cat", "dog", "bird"]
    items = []
    for iid, anns in spec.items():
        masks = [Mask(image=m, label=names.index(n), id=k + 1) for k, (n, m) in enumerate(anns)]
        items.append(dm.DatasetItem(id=iid, subset="train", media=Image.from_numpy(
            rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), annotations=masks))
    dm.Dataset.from_iterable(items, categories=names).export(sys.argv[1], "cityscapes", save_media=True)
    arrays = {}
    for iid, anns in spec.items():
        for k, (_, m) in enumerate(anns):
            arrays[f"{iid}|{k}"] = m
    np.savez_compressed(sys.argv[2], **arrays)
    print(json.dumps({iid: [n for n, _ in anns] for iid, anns in spec.items()}))
"""


def test_segmill_reads_what_datumaro_exports_as_cityscapes(client, tmp_path):
    out = tmp_path / "dm_cs"
    npz = tmp_path / "dm.npz"
    spec = client(DATUMARO_EXPORT, out, npz, env="datumaro")
    theirs = np.load(npz)
    ds = segmill.read(out, "cityscapes")
    assert ds.meta["label_table"] == "label_colors.txt"
    cats = {c.id: c.name for c in ds.categories}
    assert sorted(cats.values()) == ["bird", "cat", "dog"]  # not the official names of values 1..3
    items = {i.id: i for i in ds.items}
    assert sorted(items) == sorted(f"train/{iid}" for iid in spec)  # "train/img1": a folder without a city
    ious, counts_equal = [], True
    for iid, names in spec.items():
        item = items[f"train/{iid}"]
        ours = {}
        for a in item.annotations:
            ours[cats[a.category_id]] = a.to_rle(item.height, item.width).decode().astype(bool)
        union: dict = {}
        for k, n in enumerate(names):
            union[n] = union.get(n, False) | theirs[f"{iid}|{k}"]
        assert sorted(ours) == sorted(union)
        ious += [_iou(union[n], ours[n]) for n in union]
        counts_equal &= len(item.annotations) == len(names)
    _report_row("datumaro 1.13.12 (cityscapes)", "client -> segmill", True, counts_equal, _masks_row(ious),
                "per-class masks equal; Datumaro's exporter writes plain label values in instanceIds, so two "
                "instances of a class reach any reader as one region; ids without a city (gtFine/train/img1_*) read")
    assert ious == [1.0] * len(ious)
    assert not counts_equal  # img1 has two cats, exported as one region
