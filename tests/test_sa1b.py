"""SA-1B: the corpus sample, the fixtures (folder and tar shard), round trips, every loss code, hostile tars.

Oracle for pixels: pycocotools' decoding of the JSON strings as found, against
segmill's decoding of what it read (and wrote).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.formats import detect
from segmill.formats.sa1b import CATEGORY_NAME, header, iter_items
from segmill.geometry import Box, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import RLE

FIX = Path(__file__).resolve().parent.parent / "fixtures"
FOLDER, TAR_DIR = FIX / "sa1b", FIX / "sa1b_tar"
TAR = TAR_DIR / "sa_000000.tar"


def _oracle(seg: dict) -> np.ndarray:
    return mask_util.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)


def _mine(ann, h, w) -> np.ndarray:
    return ann.to_rle(h, w).decode().astype(bool)


def _docs(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))}


def _tar_bytes(members) -> bytes:
    """A tar of ``(TarInfo, bytes or None)`` pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.GNU_FORMAT) as tf:
        for info, data in members:
            if data is None:
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _member(name, data=None, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info, data


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------ the corpus sample
@pytest.fixture
def sample(corpus) -> Path:
    return corpus / "datumaro" / "segment_anything_dataset"


def test_corpus_detected_with_a_reason(sample):
    spec, det = detect(sample)
    assert spec.name == "sa1b" and "image_id" in det.reason
    res = _cli("info", sample, "--skip-invalid")
    assert res.exit_code == 0, res.output
    assert "format: sa1b (SA-1B JSON folder" in res.output


def test_corpus_b_has_an_rle_of_the_wrong_size(sample):
    # b.json's image is 5 wide and 10 high; its one mask is [5, 10] (h, w): refused, named, in raise mode
    with pytest.raises(InputError, match=r"b\.json: annotation 0: segmentation: RLE size \[5, 10\] does not "
                                         r"match the image size \[10, 5\]"):
        segmill.read(sample)
    res = _cli("info", sample)
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1


def test_corpus_conformance(sample):
    ds = segmill.read(sample, errors="skip")
    assert [(i.id, i.file_name, i.width, i.height) for i in ds.items] == [(1, "a.jpg", 10, 5), (2, "b.jpg", 5, 10)]
    assert [c.name for c in ds.categories] == [CATEGORY_NAME]
    assert [len(i.annotations) for i in ds.items] == [1, 0]
    assert len(ds.meta["skipped"]) == 1 and ds.meta["skipped"][0]["record"] == "annotation 0"
    ann = ds.items[0].annotations[0]
    raw = json.loads((sample / "a.json").read_text())["annotations"][0]
    want = _oracle(raw["segmentation"])
    got = _mine(ann, 5, 10)
    assert np.array_equal(got, want) and got.sum() == 4 == raw["area"]
    assert got[1:5, 3].all() and not got[0, 3] and not got[:, 4].any()  # bbox [3, 1, 1, 4]
    assert ann.area == 4 and ann.bbox == (3.0, 1.0, 1.0, 4.0)
    assert ann.extra == {"predicted_iou": raw["predicted_iou"], "stability_score": raw["stability_score"],
                         "crop_box": raw["crop_box"], "point_coords": [[3, 4]], "sa1b_id": 1}


def test_corpus_keep_mode_keeps_the_bad_mask(sample):
    ds = segmill.read(sample, errors="keep")
    bad = ds.items[1].annotations[0]
    assert type(bad.geometry).__name__ == "InvalidGeometry" and "does not match" in bad.geometry.reason


# ------------------------------------------------------------------ the fixtures
def test_fixture_values_and_pixels():
    ds = segmill.read(FOLDER)
    assert [(i.id, i.file_name, i.width, i.height, len(i.annotations)) for i in ds.items] == [
        (1, "sa_1.jpg", 64, 48, 3), (2, "sa_2.jpg", 48, 64, 2)]
    assert [a.id for _, a in ds.annotations()] == [1, 2, 3, 4, 5]
    for item in ds.items:
        raw = json.loads((FOLDER / f"sa_{item.id}.json").read_text())["annotations"]
        for ann, r in zip(item.annotations, raw):
            assert isinstance(ann.geometry, RLE)
            assert np.array_equal(_mine(ann, item.height, item.width), _oracle(r["segmentation"]))
            assert ann.extra["sa1b_id"] == r["id"] and ann.extra["point_coords"] == r["point_coords"]
            assert ann.area == r["area"] and list(ann.bbox) == r["bbox"]
    hole = _mine(ds.items[1].annotations[0], 64, 48)
    assert hole[10, 5] and not hole[25, 20]  # the hole of mask 201 (rows 20-29, columns 15-24)


def test_folder_and_tar_read_equal():
    a, b, c = segmill.read(FOLDER), segmill.read(TAR_DIR), segmill.read(TAR)
    assert a.items == b.items == c.items and a.categories == b.categories
    assert detect(TAR)[0].name == "sa1b" and "tar shard" in detect(TAR)[1].reason


def test_streaming_yields_what_read_collects():
    head = header(FOLDER)
    assert head.items == [] and [c.name for c in head.categories] == ["object"]
    items = iter_items(TAR)
    first = next(items)
    assert first.id == 1 and len(first.annotations) == 3
    assert [first, *items] == segmill.read(TAR).items


def test_sa1b_to_sa1b_identical_values(tmp_path):
    for src, name in ((FOLDER, "f"), (TAR_DIR, "t")):
        rep = segmill.convert(src, tmp_path / name, to_format="sa1b")
        assert rep.lossless, rep.losses
        assert _docs(tmp_path / name) == _docs(FOLDER)
        assert (tmp_path / name / "sa_1.jpg").read_bytes() == (FOLDER / "sa_1.jpg").read_bytes()
    assert (tmp_path / "f" / "sa_2.json").read_bytes() == (FOLDER / "sa_2.json").read_bytes()


def test_shards_written_and_read_back(tmp_path):
    out = tmp_path / "shards"
    rep = segmill.write(segmill.read(FOLDER), out, "sa1b", shard_size=1)
    assert rep.lossless
    assert sorted(p.name for p in out.iterdir()) == ["sa_000000.tar", "sa_000001.tar"]
    with tarfile.open(out / "sa_000000.tar") as tf:
        assert tf.getnames() == ["sa_1.json", "sa_1.jpg"] and all(m.mtime == 0 for m in tf.getmembers())
    assert segmill.read(out).items == segmill.read(FOLDER).items
    again = tmp_path / "again"
    segmill.write(segmill.read(FOLDER), again, "sa1b", shard_size=1)
    assert (again / "sa_000001.tar").read_bytes() == (out / "sa_000001.tar").read_bytes()  # deterministic
    with pytest.raises(UsageError, match="shard_size"):
        segmill.write(segmill.read(FOLDER), tmp_path / "bad", "sa1b", shard_size=-1)


def test_sa1b_coco_sa1b(tmp_path):
    rep = segmill.convert(FOLDER, tmp_path / "c.json", to_format="coco")
    assert rep.lossless
    coco = json.loads((tmp_path / "c.json").read_text())
    anns = {a["sa1b_id"]: a for a in coco["annotations"]}
    for stem in ("sa_1", "sa_2"):
        for r in json.loads((FOLDER / f"{stem}.json").read_text())["annotations"]:
            assert np.array_equal(_oracle(anns[r["id"]]["segmentation"]), _oracle(r["segmentation"]))
            assert anns[r["id"]]["predicted_iou"] == r["predicted_iou"]
    back = tmp_path / "back"
    rep = segmill.write(segmill.read(tmp_path / "c.json"), back, "sa1b", image_root=FOLDER)
    assert rep.lossless, rep.losses
    assert _docs(back) == _docs(FOLDER)


# ------------------------------------------------------------------ writer losses
def _square(x, y, s=4.0):
    return Polygons([[x, y, x + s, y, x + s, y + s, x, y + s]])


def test_polygons_become_compressed_rle_without_loss(tmp_path):
    ds = Dataset([Category(1, "object")], [Item(7, "img/p.png", 20, 10, [Annotation(1, 1, _square(2, 3))])])
    rep = segmill.write(ds, tmp_path / "o", "sa1b")
    assert [x.code for x in rep.losses] == ["L886"]  # the image is nowhere
    doc = json.loads((tmp_path / "o" / "img" / "p.json").read_text())
    assert doc["image"] == {"image_id": 7, "width": 20, "height": 10, "file_name": "p.png"}
    a = doc["annotations"][0]
    want = mask_util.decode(mask_util.merge(mask_util.frPyObjects([[2, 3, 6, 3, 6, 7, 2, 7]], 10, 20)))
    assert np.array_equal(_oracle(a["segmentation"]), want.astype(bool))
    assert a["area"] == int(want.sum()) and a["id"] == 1


def test_every_loss_code(tmp_path):
    mask = segmill.rle.encode(np.eye(10, dtype=np.uint8))
    anns = [Annotation(1, 2, _square(1, 1)),                       # L880: class 'cat'
            Annotation(2, 1, Box(1, 1, 3, 3)),                     # L881
            Annotation(3, None, _square(1, 1), attributes={"void": True}),  # L882
            Annotation(4, 1, mask, iscrowd=True),                  # L883
            Annotation(5, 1, mask, score=0.5),                     # L884
            Annotation(6, 1, mask, area=99.0, bbox=(0, 0, 10, 10)),  # L885 (area 10 really)
            Annotation(7, 1, Shape("point", [[1, 1]])),            # L002
            Annotation(8, 1, mask, attributes={"occluded": True})]  # L001
    ds = Dataset([Category(1, "object"), Category(2, "cat")],
                 [Item(1, "a.png", 10, 10, anns), Item(2, "b.png", None, None)])  # L887, L886
    rep = segmill.write(ds, tmp_path / "o", "sa1b")
    assert rep.summary() == {"L001": 1, "L002": 1, "L880": 1, "L881": 1, "L882": 1, "L883": 1, "L884": 1,
                             "L885": 1, "L886": 1, "L887": 1}
    doc = json.loads((tmp_path / "o" / "a.json").read_text())
    assert [a["id"] for a in doc["annotations"]] == [1, 4, 5, 6, 8]
    assert doc["annotations"][3]["area"] == 10 and not (tmp_path / "o" / "b.json").exists()


def test_unsafe_output_names_refused_before_writing(tmp_path):
    ds = Dataset([Category(1, "object")], [Item(1, "../x.png", 4, 4)])
    with pytest.raises(InputError, match="file name"):
        segmill.write(ds, tmp_path / "o", "sa1b")
    assert not (tmp_path / "o").exists()


def test_same_stem_made_unique(tmp_path):
    ds = Dataset([Category(1, "object")], [Item(1, "a.png", 4, 4), Item(2, "a.jpg", 4, 4)])
    segmill.write(ds, tmp_path / "o", "sa1b", copy_images=False)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.json", "a_2.json"]
    assert json.loads((tmp_path / "o" / "a_2.json").read_text())["image"]["file_name"] == "a.jpg"


# ------------------------------------------------------------------ refusals: hostile tars
_GOOD = (FOLDER / "sa_1.json").read_bytes()
HOSTILE = {
    "dotdot": [_member("../x.json", _GOOD)],
    "absolute": [_member("/tmp/x.json", _GOOD)],
    "symlink": [_member("x.json", None, tarfile.SYMTYPE, "/etc/passwd")],
    "hardlink": [_member("x.json", None, tarfile.LNKTYPE, "sa_1.json")],
    "fifo": [_member("x.json", None, tarfile.FIFOTYPE)],
}


WHY = {"dotdot": "leaves the shard", "absolute": "absolute name", "symlink": "links are never followed",
       "hardlink": "links are never followed", "fifo": "not a regular file", "not_a_tar": "not a readable tar",
       "truncated": "damaged", "bad_json_member": "invalid JSON"}


@pytest.mark.parametrize("case", sorted(HOSTILE) + ["not_a_tar", "truncated", "bad_json_member"])
def test_hostile_tar_refused_one_line_nothing_written(tmp_path, case):
    src = tmp_path / "in"
    src.mkdir()
    if case == "not_a_tar":
        data = b"this is not a tar archive at all" * 40
    elif case == "truncated":
        data = TAR.read_bytes()[:1500]
    elif case == "bad_json_member":
        data = _tar_bytes([_member("sa_9.json", b'{"image": {"image_id": 1,')])
    else:
        data = _tar_bytes(HOSTILE[case])
    (src / "sa_000000.tar").write_bytes(data)
    out = tmp_path / "out"
    res = _cli("convert", src, out, "--from", "sa1b", "--to", "coco")
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "sa_000000.tar" in res.output
    assert WHY[case] in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert not (tmp_path / "x.json").exists()


def test_hostile_member_skipped_and_listed(tmp_path):
    data = _tar_bytes(HOSTILE["dotdot"] + [_member("sa_1.json", _GOOD)])
    (tmp_path / "s.tar").write_bytes(data)
    ds = segmill.read(tmp_path / "s.tar", format="sa1b", errors="skip")
    assert [i.id for i in ds.items] == [1]
    assert "unsafe tar member" in ds.meta["skipped"][0]["reason"]


def test_json_without_sa1b_shape_refused(tmp_path):
    shutil.copy(FOLDER / "sa_1.json", tmp_path / "sa_1.json")
    (tmp_path / "other.json").write_text('{"images": [], "annotations": []}')
    with pytest.raises(InputError, match="not an SA-1B file"):
        segmill.read(tmp_path, format="sa1b")
    assert len(segmill.read(tmp_path, format="sa1b", errors="skip").items) == 1


@pytest.mark.parametrize("field,value,match", [
    ("predicted_iou", "high", "predicted_iou must be a number"),
    ("crop_box", [1, 2], "crop_box must be a list of 4 numbers"),
    ("point_coords", [[1, "x"]], "point_coords must be a number"),
    ("area", -1, "area must be a number in"),
    ("segmentation", {"size": [48, 64], "counts": "!!"}, "segmentation"),
])
def test_bad_values_named(tmp_path, field, value, match):
    doc = json.loads(_GOOD)
    doc["annotations"][1][field] = value
    (tmp_path / "sa_1.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=match) as err:
        segmill.read(tmp_path, format="sa1b")
    assert "annotation 1" in str(err.value)


#: ``segmill convert <example> out --from S --to T``: the loss codes reported, for every pair with sa1b (the
#: matrix of tests/test_cross_format.py gathers it; rows live with the later format of the pair: sa1b is last).
CONVERSIONS = {
    ("ade20k", "sa1b"): {"L001", "L880"},
    ("camvid", "sa1b"): {"L001", "L880"},
    ("cityscapes", "sa1b"): {"L001", "L880", "L883"},
    ("coco", "sa1b"): {"L001", "L880", "L881", "L883", "L886"},
    ("coco_panoptic", "sa1b"): {"L880", "L883", "L886"},
    ("coco_results", "sa1b"): {"L880", "L884", "L886"},
    ("cvat", "sa1b"): {"L001", "L002", "L880", "L881"},
    ("image_masks", "sa1b"): {"L880"},
    ("kitti", "sa1b"): {"L001", "L880", "L883"},
    ("label_studio", "sa1b"): {"L001", "L002", "L880", "L881", "L886"},
    ("labelme", "sa1b"): {"L001", "L002", "L880", "L881"},
    ("mapillary", "sa1b"): {"L001", "L880", "L882"},
    ("masks", "sa1b"): {"L880", "L882", "L886"},
    ("open_images", "sa1b"): {"L001", "L880", "L886"},
    ("sa1b", "camvid"): {"L001", "L208", "L830"},
    ("sa1b", "cityscapes"): {"L605"},
    ("sa1b", "coco"): set(),
    ("sa1b", "coco_panoptic"): set(),
    ("sa1b", "coco_results"): {"L110", "L111", "L112"},
    ("sa1b", "cvat"): {"L001"},
    ("sa1b", "image_masks"): {"L001", "L208", "L840"},
    ("sa1b", "kitti"): {"L001", "L208"},
    ("sa1b", "label_studio"): {"L001"},
    ("sa1b", "labelme"): {"L001", "L406"},
    ("sa1b", "masks"): {"L001", "L208"},
    ("sa1b", "sa1b"): set(),
    ("sa1b", "voc"): {"L001", "L208"},
    ("sa1b", "yolo"): {"L303", "L308"},
    ("voc", "sa1b"): {"L001", "L880", "L881", "L882", "L886"},
    ("yolo", "sa1b"): {"L001", "L880"},
}
