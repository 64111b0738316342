"""ADE20K 2021 reader: the corpus sample, the bundled fixture, conversion to COCO, refusals.

Expected values come from the files (PNGs read here with Pillow and numpy,
the rule ``class = R // 10 * 256 + G`` applied here) and from the facts stated
in ``fixtures/ade20k/build.py``, never from the reader itself.
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
from segmill.errors import InputError, UsageError
from segmill.formats import detect
from segmill.geometry import InvalidGeometry, Polygons

_spec = importlib.util.spec_from_file_location("_client_env", Path(__file__).with_name("_client_env.py"))
client = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(client)

TRAIN = "training/outdoor/street/ADE_train_00000001"
CAR = "car, auto, automobile, machine, motorcar"


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "ade20k" / "basic"


@pytest.fixture
def ade_corpus(corpus):
    return corpus / "datumaro" / "ade20k2020_dataset"


def _pixels(item, ann):
    return ann.to_rle(item.height, item.width).decode().astype(bool)


def _by_id(ds):
    return {it.id: it for it in ds.items}


def _png(path):
    return np.asarray(Image.open(path))


def _class_map(path):
    a = _png(path).astype(np.int64)
    return a[..., 0] // 10 * 256 + a[..., 1], a[..., 2]


# ------------------------------------------------------------------ corpus (Datumaro's ade20k2020 sample)
@pytest.mark.corpus
def test_corpus_images_classes_and_instances(ade_corpus):
    ds = segmill.read(ade_corpus / "dataset", "ade20k")
    items = _by_id(ds)
    assert sorted(items) == ["training/street/1", "validation/2"]
    assert {c.id: c.name for c in ds.categories} == {
        401: CAR, 1831: "person, individual, someone, somebody, mortal, soul", 774: "door", 2122: "rim"}
    assert [a.category_id for a in items["training/street/1"].annotations] == [401, 1831, 774]
    assert [a.category_id for a in items["validation/2"].annotations] == [401, 1831, 774, 2122]
    assert items["validation/2"].split == "validation" and items["training/street/1"].size == (5, 5)


@pytest.mark.corpus
def test_corpus_masks_are_the_instance_pngs(ade_corpus):
    root = ade_corpus / "dataset"
    for item in segmill.read(root, "ade20k").items:
        doc = json.loads((root / f"{item.id}.json").read_text())
        objs = doc["annotation"]["object"]
        assert len(objs) == len(item.annotations)
        for obj, ann in zip(objs, item.annotations):
            png = _png(root / Path(item.id).parent / obj["instance_mask"]) != 0
            assert np.array_equal(_pixels(item, ann), png), (item.id, obj["id"])
            assert ann.attributes["raw_name"] == obj["raw_name"]


@pytest.mark.corpus
def test_corpus_seg_png_decodes_to_the_same_classes(ade_corpus):
    root = ade_corpus / "dataset"
    ds = segmill.read(root, "ade20k", source="seg")
    item = _by_id(ds)["validation/2"]
    cls, inst = _class_map(root / "validation" / "2_seg.png")
    assert sorted(set(cls.ravel().tolist()) - {0}) == [401, 1831]  # 15 // 10 * 256 + 145, 71 // 10 * 256 + 39
    whole = [a for a in item.annotations if "part_level" not in a.attributes]
    for a in whole:
        assert np.array_equal(_pixels(item, a), cls == a.category_id)
    parts = {a.attributes["part_level"]: a for a in item.annotations if "part_level" in a.attributes}
    for level, ann in parts.items():
        pcls, _ = _class_map(root / "validation" / f"2_parts_{level}.png")
        assert np.array_equal(_pixels(item, ann), pcls == ann.category_id)
    assert {lv: a.category_id for lv, a in parts.items()} == {1: 774, 2: 2122}


@pytest.mark.corpus
def test_corpus_parts_name_their_wholes(ade_corpus):
    item = _by_id(segmill.read(ade_corpus / "dataset", "ade20k"))["validation/2"]
    car, person, door, rim = item.annotations
    assert "part_level" not in car.attributes and "part_of" not in person.attributes
    assert (door.attributes["part_level"], door.attributes["part_of"]) == (1, car.id)
    assert (rim.attributes["part_level"], rim.attributes["part_of"]) == (2, door.id)
    assert person.attributes["attributes"] == ["walkin"] and door.attributes["occluded"] is True


@pytest.mark.corpus
def test_corpus_datumaro_meta_file_is_noted_not_read(ade_corpus):
    ds = segmill.read(ade_corpus / "dataset_with_meta_file", "ade20k")
    assert [it.id for it in ds.items] == ["training/street/1"]
    assert any("dataset_meta.json" in n for n in ds.meta["read_notes"])


@pytest.mark.corpus
@pytest.mark.parametrize("sample", ["dataset", "dataset_with_meta_file"])
def test_segmill_info_names_the_format_with_a_reason(ade_corpus, sample):
    res = CliRunner().invoke(main, ["info", str(ade_corpus / sample), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["format"] == "ade20k" and "_seg.png" in out["reason"]


# ------------------------------------------------------------------ the bundled fixture (facts in build.py)
def test_fixture_auto_reads_masks_and_the_polygon_of_the_object_without_one(basic):
    ds = segmill.read(basic, "ade20k")
    item = _by_id(ds)[TRAIN]
    car, person, wheel, sky = item.annotations
    assert [a.category_id for a in item.annotations] == [401, 1831, 2978, 2420]
    assert isinstance(sky.geometry, Polygons)
    want = np.zeros((6, 8), bool)
    want[0:2, 1:8] = True
    assert np.array_equal(_pixels(item, sky), want)
    assert int(_pixels(item, car).sum()) == 20 and int(_pixels(item, person).sum()) == 5
    assert wheel.attributes == {"raw_name": "wheel", "crop": False, "depth_ordering_rank": 3, "part_level": 1,
                                "part_of": car.id}
    assert person.attributes == {"raw_name": "person", "occluded": True, "crop": True, "attributes": ["walking"],
                                 "depth_ordering_rank": 2}
    assert item.attributes["scene"] == ["outdoor", "urban", "street"]
    assert item.file_name == f"{TRAIN}.jpg" and item.split == "training"


def test_fixture_polygons_source_gives_the_pixels_of_the_masks(basic):
    masks = _by_id(segmill.read(basic, "ade20k"))[TRAIN]
    polys = _by_id(segmill.read(basic, "ade20k", source="polygons", errors="skip"))[TRAIN]
    car_m, car_p = masks.annotations[0], polys.annotations[0]
    assert isinstance(car_p.geometry, Polygons)
    assert np.array_equal(_pixels(masks, car_m), _pixels(polys, car_p))


def test_fixture_seg_source_agrees_with_the_instance_masks(basic):
    by_mask = _by_id(segmill.read(basic, "ade20k"))
    by_seg = _by_id(segmill.read(basic, "ade20k", source="seg"))
    for iid, item in by_mask.items():
        a = sorted((x.category_id, _pixels(item, x).tobytes()) for x in item.annotations)
        b = sorted((x.category_id, _pixels(by_seg[iid], x).tobytes()) for x in by_seg[iid].annotations)
        assert a == b, iid


def test_fixture_latin1_json_is_read_and_noted(basic):
    ds = segmill.read(basic, "ade20k")
    tree = _by_id(ds)["validation/ADE_val_00000001"].annotations[0]
    assert tree.attributes["raw_name"] == "arbre \u00e9"
    assert any("Latin-1" in n for n in ds.meta["read_notes"])


def test_masks_source_refuses_an_object_without_its_png(basic):
    with pytest.raises(InputError, match=r"instance_003_ADE_train_00000001\.png.*file not found"):
        segmill.read(basic, "ade20k", source="masks")
    ds = segmill.read(basic, "ade20k", source="masks", errors="skip")
    assert [s["record"] for s in ds.meta["skipped"]] == ["object id 3"]
    assert len(_by_id(ds)[TRAIN].annotations) == 3


def test_one_json_file_reads_one_image(basic):
    ds = segmill.read(basic / f"{TRAIN}.json", "ade20k")
    assert [it.id for it in ds.items] == ["ADE_train_00000001"] and len(ds.items[0].annotations) == 4
    assert detect(basic / f"{TRAIN}.json")[0].name == "ade20k"


# ------------------------------------------------------------------ Datumaro's ade20k2020 reader as the oracle
_DATUMARO = """
    import json, sys, numpy as np
    from datumaro.components.dataset import Dataset
    ds = Dataset.import_from(sys.argv[1], "ade20k2020")
    print(json.dumps({f"{item.subset}/{item.id}": [[a.id, a.z_order, np.asarray(a.image, bool).astype(int).tolist()]
                      for a in item.annotations if a.type.name == "mask"] for item in ds}))
"""


@pytest.mark.interop
def test_instance_and_class_masks_equal_datumaros(basic):
    got = client.run("datumaro", _DATUMARO, basic)
    by_mask = _by_id(segmill.read(basic, "ade20k"))
    by_seg = _by_id(segmill.read(basic, "ade20k", source="seg"))
    assert set(got) == set(by_mask)
    for iid, masks in got.items():
        objs = json.loads((basic / f"{iid}.json").read_text(encoding="latin-1"))["annotation"]["object"]
        files = [o for o in objs if (basic / Path(iid).parent / o["instance_mask"]).is_file()]
        n_inst = len(files)
        inst, cls = masks[-n_inst:], masks[:-n_inst]  # Datumaro lists the class masks, then one per object file
        for (oid, _, m), obj in zip(inst, files):
            ann = by_mask[iid].annotations[objs.index(obj)]
            assert oid == obj["id"] and np.array_equal(_pixels(by_mask[iid], ann), np.array(m, bool)), (iid, oid)
        for class_id, level, m in cls:  # one mask per class and part level: the union of our (class, B) regions
            union = np.zeros((by_seg[iid].height, by_seg[iid].width), bool)
            for a in by_seg[iid].annotations:
                if a.category_id == class_id and a.attributes.get("part_level", 0) == level:
                    union |= _pixels(by_seg[iid], a)
            assert union.any() and np.array_equal(union, np.array(m, bool)), (iid, class_id, level)


# ------------------------------------------------------------------ conversion to COCO
def test_convert_to_coco_reports_the_split_loss_and_keeps_every_pixel(basic, tmp_path):
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["convert", str(basic), str(out), "--to", "coco", "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["summary"]) == {"L105"}  # two splits in one COCO file
    doc = json.loads(out.read_text())
    src = _by_id(segmill.read(basic, "ade20k"))
    names = {img["id"]: img["segmill_id"] for img in doc["images"]}
    for ann in doc["annotations"]:
        item = src[names[ann["image_id"]]]
        ours = next(a for a in item.annotations if a.id == ann["id"])
        seg = ann["segmentation"]
        rle = cocomask.merge(cocomask.frPyObjects(seg, item.height, item.width)) if isinstance(seg, list) else seg
        assert np.array_equal(cocomask.decode(rle).astype(bool), _pixels(item, ours)), ann["id"]
    assert {c["id"]: c["name"] for c in doc["categories"]}[401] == CAR


# ------------------------------------------------------------------ refusals and lenient modes
def _copy(basic, tmp_path):
    dst = tmp_path / "ade"
    shutil.copytree(basic, dst)
    return dst


def _edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc["annotation"])
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("change, message", [
    (lambda a: a["object"][0].__setitem__("name_ndx", "car"), "name_ndx must be an integer"),
    (lambda a: a["object"][0].__setitem__("instance_mask", "../../../../etc/passwd"), "outside the dataset root"),
    (lambda a: a["object"][1].__setitem__("occluded", "maybe"), "occluded must be 'yes', 'no' or"),
    (lambda a: a["object"][2]["parts"].__setitem__("ispartof", 9), "names object id 9"),
    (lambda a: a["object"][1].__setitem__("name", "cat"), "name_ndx 1831 is"),
    (lambda a: a.__setitem__("imsize", [6, 9, 3]), "mask is 8x6 .* imsize says 9x6"),
    (lambda a: a.__setitem__("object", {"id": 0}), "annotation.object must be a list"),
    (lambda a: a["object"][0]["polygon"].__setitem__("x", [2, "a", 7, 2]), "polygon x must be a number"),
])
def test_bad_values_are_refused_naming_file_and_object(basic, tmp_path, change, message):
    root = _copy(basic, tmp_path)
    f = root / f"{TRAIN}.json"
    _edit(f, change)
    if "name_ndx 1831" in message:  # a second image (read after the first) naming class 1831 differently
        shutil.copy(f, f.with_name("b.json"))
        _edit(f, lambda a: a["object"][1].__setitem__("name", "person, individual, someone, somebody, mortal, soul"))
    with pytest.raises(InputError, match=message) as exc:
        segmill.read(root, "ade20k")
    assert "\n" not in str(exc.value) and ".json" in str(exc.value)


def test_keep_mode_keeps_an_unreadable_mask_as_invalid_geometry(basic, tmp_path):
    root = _copy(basic, tmp_path)
    (root / TRAIN / "instance_000_ADE_train_00000001.png").write_bytes(b"not a png")
    ds = segmill.read(root, "ade20k", errors="keep")
    car = _by_id(ds)[TRAIN].annotations[0]
    assert isinstance(car.geometry, InvalidGeometry) and car.category_id == 401
    skipped = segmill.read(root, "ade20k", errors="skip")
    assert len(_by_id(skipped)[TRAIN].annotations) == 2  # the car, and its wheel that names it, are dropped
    assert [s["record"] for s in skipped.meta["skipped"]] == ["object id 0", "object id 2"]


def test_seg_class_named_by_no_object_is_refused(basic, tmp_path):
    root = _copy(basic, tmp_path)
    _edit(root / f"{TRAIN}.json", lambda a: a["object"].pop(3))
    with pytest.raises(InputError, match="class 2420 .* is the name_ndx of no object"):
        segmill.read(root, "ade20k", source="seg")


def test_a_folder_without_annotation_json_is_refused(tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(InputError, match="no <name>.json annotation file"):
        segmill.read(tmp_path, "ade20k")


def test_an_unknown_source_is_a_usage_error(basic):
    with pytest.raises(UsageError, match="source must be one of auto, masks, polygons, seg"):
        segmill.read(basic, "ade20k", source="labels")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: ade20k: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("ade20k", "cityscapes"): {"L602", "L605", "L607", "L705"},
    ("ade20k", "coco"): {"L105"},
    ("ade20k", "coco_panoptic"): {"L001", "L701", "L705"},
    ("ade20k", "coco_results"): {"L101", "L110", "L111", "L112"},
    ("ade20k", "cvat"): {"L001", "L504", "L505"},
    ("ade20k", "labelme"): {"L001", "L402"},
    ("ade20k", "masks"): {"L001", "L208", "L701", "L705"},
    ("ade20k", "voc"): {"L001", "L205", "L208", "L701", "L705"},
    ("ade20k", "yolo"): {"L001"},
}
