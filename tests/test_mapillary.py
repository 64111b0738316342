"""Mapillary Vistas reader: the corpus sample, the bundled fixture, versions and sources, refusals.

Expected values come from the PNGs and JSONs (read here with Pillow, numpy
and json) and from the facts stated in ``fixtures/mapillary/build.py``,
never from the reader itself.
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
from segmill.geometry import InvalidGeometry, Polygons


_spec = importlib.util.spec_from_file_location("_client_env", Path(__file__).with_name("_client_env.py"))
client = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(client)


@pytest.fixture
def basic(fixtures_dir):
    return fixtures_dir / "mapillary" / "basic"


@pytest.fixture
def mv_corpus(corpus):
    return corpus / "datumaro" / "mapillary_vistas_dataset"


def _pixels(item, ann):
    return ann.to_rle(item.height, item.width).decode().astype(bool)


def _by_id(ds):
    return {it.id: it for it in ds.items}


def _png(path):
    return np.asarray(Image.open(path)).astype(np.int64)


def _profile(item):
    """(category, pixel count, crowd) of every annotation, sorted; void regions as category None."""
    return sorted(((a.category_id if a.category_id is not None else -1), int(_pixels(item, a).sum()), a.iscrowd)
                  for a in item.annotations)


# ------------------------------------------------------------------ corpus (Datumaro's mapillary_vistas sample)
@pytest.mark.corpus
def test_corpus_default_is_v2_instances_with_a_note(mv_corpus):
    ds = segmill.read(mv_corpus, "mapillary")
    assert ds.meta["mapillary_version"] == "v2.0" and ds.meta["mapillary_source"] == "instances"
    assert any("both v1.2 and v2.0" in n for n in ds.meta["read_notes"])
    assert sorted(_by_id(ds)) == ["train/2", "val/0", "val/1"]
    assert [(c.id, c.name, c.isthing) for c in ds.categories] == [
        (0, "animal--bird", True), (1, "construction--barrier--separator", True), (2, "object--vehicle--bicycle", True)]
    assert {k: len(v.annotations) for k, v in _by_id(ds).items()} == {"train/2": 5, "val/0": 2, "val/1": 3}


@pytest.mark.corpus
@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_corpus_instances_are_the_16bit_values(mv_corpus, version):
    ds = segmill.read(mv_corpus, "mapillary", version=version, source="instances")
    for item in ds.items:
        split, stem = item.id.split("/")
        arr = _png(mv_corpus / split / version / "instances" / f"{stem}.png")
        values = np.unique(arr).tolist()
        assert len(values) == len(item.annotations)
        for v, ann in zip(values, item.annotations):
            assert ann.category_id == v // 256
            assert np.array_equal(_pixels(item, ann), arr == v), (item.id, v)


@pytest.mark.corpus
def test_corpus_panoptic_keeps_crowd_flags_and_segment_pixels(mv_corpus):
    ds = segmill.read(mv_corpus, "mapillary", source="panoptic")
    doc = json.loads((mv_corpus / "val" / "v2.0" / "panoptic" / "panoptic_2020.json").read_text())
    item = _by_id(ds)["val/1"]
    rgb = _png(mv_corpus / "val" / "v2.0" / "panoptic" / "1.png")
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    segs = doc["annotations"][1]["segments_info"]
    assert [(a.iscrowd, a.area) for a in item.annotations] == [(bool(s["iscrowd"]), s["area"]) for s in segs]
    for s, a in zip(segs, item.annotations):
        assert np.array_equal(_pixels(item, a), ids == s["id"])
    # panoptic category ids 1, 10, 100 are matched by name to the config's values 0, 1, 2
    assert [a.category_id for a in item.annotations] == [2, 1, 2]


@pytest.mark.corpus
def test_corpus_polygons_in_datumaro_flat_parts_with_heigth(mv_corpus):
    ds = segmill.read(mv_corpus, "mapillary", source="polygons")
    item = _by_id(ds)["val/0"]
    assert item.size == (5, 5) and all(isinstance(a.geometry, Polygons) for a in item.annotations)
    assert [a.category_id for a in item.annotations] == [0, 1]
    assert item.annotations[0].geometry.parts[0].tolist() == [[0, 0], [1, 0], [2, 0], [2, 4], [0, 4]]


@pytest.mark.corpus
def test_segmill_info_names_the_format_with_a_reason(mv_corpus):
    res = CliRunner().invoke(main, ["info", str(mv_corpus), "--json", "--version", "v1.2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["format"] == "mapillary" and "config_v" in out["reason"] and out["images"] == 3


# ------------------------------------------------------------------ the bundled fixture (facts in build.py)
def test_fixture_versions_use_their_own_label_tables(basic):
    v12 = segmill.read(basic, "mapillary", version="v1.2")
    v20 = segmill.read(basic, "mapillary")
    assert [c.name for c in v12.categories] == ["animal--bird", "construction--flat--road", "object--vehicle--car"]
    assert [c.name for c in v20.categories][-1] == "nature--sky"
    # road 16, car 6 + 6, bird 2, and the unlabeled rest as one void region (18 in v1.2; 10 in v2.0, sky 8)
    assert _profile(_by_id(v12)["training/a"]) == [(-1, 18, False), (0, 2, False), (1, 16, False), (2, 6, False),
                                                   (2, 6, False)]
    assert _profile(_by_id(v20)["training/a"]) == [(-1, 10, False), (0, 2, False), (1, 16, False), (2, 6, False),
                                                   (2, 6, False), (3, 8, False)]
    void = [a for a in _by_id(v20)["training/a"].annotations if a.category_id is None]
    assert void[0].attributes == {"void": True}


def test_fixture_sources_agree_pixel_for_pixel(basic):
    inst = _by_id(segmill.read(basic, "mapillary", source="instances"))
    pan = _by_id(segmill.read(basic, "mapillary", source="panoptic"))
    poly = _by_id(segmill.read(basic, "mapillary", source="polygons"))
    labels = _by_id(segmill.read(basic, "mapillary", source="labels"))
    for iid in inst:
        a = _profile(inst[iid])
        assert [(c, n) for c, n, _ in _profile(pan[iid])] == [(c, n) for c, n, _ in a]
        assert _profile(poly[iid]) == [x for x in a if x[0] != -1]  # polygons do not cover the unlabeled rest
        per_class = {}
        for c, n, _ in a:
            per_class[c] = per_class.get(c, 0) + n
        assert _profile(labels[iid]) == sorted((c, n, False) for c, n in per_class.items())
    crowd = [(a.category_id, a.bbox) for a in pan["training/a"].annotations if a.iscrowd]
    assert crowd == [(2, (5.0, 2.0, 3.0, 2.0))]


def test_fixture_instance_numbers_come_from_the_low_byte(basic):
    item = _by_id(segmill.read(basic, "mapillary"))["validation/b"]
    arr = _png(basic / "validation" / "v2.0" / "instances" / "b.png")
    car = next(a for a in item.annotations if a.category_id == 2)
    assert np.array_equal(_pixels(item, car), arr == 2 * 256 + 3)


def test_fixture_paletted_v12_labels_are_read_as_indices(basic):
    assert Image.open(basic / "training" / "v1.2" / "labels" / "a.png").mode == "P"
    item = _by_id(segmill.read(basic, "mapillary", version="v1.2", source="labels"))["training/a"]
    road = next(a for a in item.annotations if a.category_id == 1)
    assert np.array_equal(_pixels(item, road)[4:], np.ones((2, 8), bool))


def test_a_split_folder_is_read_alone(basic):
    ds = segmill.read(basic / "validation", "mapillary")
    assert [it.id for it in ds.items] == ["validation/b"] and ds.items[0].file_name == "validation/images/b.jpg"
    assert segmill.formats.detect(basic / "validation")[0].name == "mapillary"


def test_cli_version_and_source_flags_reach_the_reader(basic):
    res = CliRunner().invoke(main, ["info", str(basic), "--json", "--version", "v1.2", "--source", "labels"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["format"] == "mapillary" and any("v1.2 labels" in n for n in out["read_notes"])


# ------------------------------------------------------------------ Datumaro's mapillary_vistas readers as the oracle
_DATUMARO = """
    import json, sys, numpy as np
    from datumaro import AnnotationType
    from datumaro.components.dataset import Dataset
    ds = Dataset.import_from(sys.argv[1], sys.argv[2])
    names = ds.categories()[AnnotationType.label]
    print(json.dumps({f"{item.subset}/{item.id}": sorted([names[a.label].name, bool(a.attributes.get("is_crowd")),
                      np.asarray(a.image, bool).astype(int).tolist()] for a in item.annotations
                      if a.type.name == "mask") for item in ds}))
"""


@pytest.mark.interop
@pytest.mark.parametrize("source", ["instances", "panoptic"])
def test_masks_equal_datumaros(basic, tmp_path, source):
    root = tmp_path / "mv"
    shutil.copytree(basic, root, ignore=shutil.ignore_patterns("v1.2", "config_v1.2.json"))  # Datumaro reads one
    got = client.run("datumaro", _DATUMARO, root, f"mapillary_vistas_{source}")
    ds = segmill.read(root, "mapillary", source=source)
    names = {c.id: c.name for c in ds.categories}
    ours = {}
    for item in ds.items:
        rows = [[names.get(a.category_id, "void--unlabeled"), a.iscrowd, _pixels(item, a).astype(int).tolist()]
                for a in item.annotations if source == "instances" or a.category_id is not None]
        ours[item.id] = sorted(rows)  # Datumaro's panoptic reader leaves segment 0 (unlabeled) out
    assert ours == got


# ------------------------------------------------------------------ conversion to COCO
@pytest.mark.parametrize("source, losses", [("instances", {"L003", "L105"}), ("polygons", {"L105"})])
def test_convert_to_coco_reports_each_loss_and_keeps_pixels(basic, tmp_path, source, losses):
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["convert", str(basic), str(out), "--to", "coco", "--source", source,
                                    "--json", "-q"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(res.stdout)["summary"]) == losses
    doc = json.loads(out.read_text())
    src = _by_id(segmill.read(basic, "mapillary", source=source))
    names = {img["id"]: img for img in doc["images"]}
    for ann in doc["annotations"]:
        img = names[ann["image_id"]]
        item = src[img.get("segmill_id", img["id"])]
        ours = next(a for a in item.annotations if a.id == ann["id"])
        seg = ann["segmentation"]
        rle = cocomask.merge(cocomask.frPyObjects(seg, item.height, item.width)) if isinstance(seg, list) else seg
        assert np.array_equal(cocomask.decode(rle).astype(bool), _pixels(item, ours))
    assert {c["name"] for c in doc["categories"]} >= {"object--vehicle--car", "nature--sky"}


# ------------------------------------------------------------------ refusals and lenient modes
def _copy(basic, tmp_path):
    dst = tmp_path / "mv"
    shutil.copytree(basic, dst)
    return dst


def test_a_label_value_beyond_the_table_is_refused(basic, tmp_path):
    root = _copy(basic, tmp_path)
    Image.fromarray(np.full((3, 4), 9 * 256, np.uint16)).save(root / "validation" / "v2.0" / "instances" / "b.png")
    with pytest.raises(InputError, match=r"b\.png: label value 9 is not in config_v2\.0\.json"):
        segmill.read(root, "mapillary")
    ds = segmill.read(root, "mapillary", errors="skip")
    assert [it.id for it in ds.items] == ["training/a"] and len(ds.meta["skipped"]) == 1


def test_panoptic_ids_must_match_segments_info(basic, tmp_path):
    root = _copy(basic, tmp_path)
    f = root / "training" / "v2.0" / "panoptic" / "panoptic_2020.json"
    doc = json.loads(f.read_text())
    doc["annotations"][0]["segments_info"].pop(0)
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"segment id\(s\) \[7\] are in the PNG or in segments_info"):
        segmill.read(root, "mapillary", source="panoptic")


def test_a_polygon_with_an_unknown_label_is_refused_or_kept_invalid(basic, tmp_path):
    root = _copy(basic, tmp_path)
    f = root / "training" / "v2.0" / "polygons" / "a.json"
    doc = json.loads(f.read_text())
    doc["objects"][0]["label"] = "animal--cat"
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="objects\\[0\\]: label 'animal--cat' is not in config_v2.0.json"):
        segmill.read(root, "mapillary", source="polygons")
    kept = _by_id(segmill.read(root, "mapillary", source="polygons", errors="keep"))["training/a"]
    assert isinstance(kept.annotations[0].geometry, InvalidGeometry) and len(kept.annotations) == 5


def test_a_missing_version_or_source_is_refused(basic):
    with pytest.raises(InputError, match="no v1.2/polygons folder in any split"):
        segmill.read(basic, "mapillary", version="v1.2", source="polygons")
    with pytest.raises(UsageError, match="version must be one of v1.2, v2.0"):
        segmill.read(basic, "mapillary", version="2.0")


def test_a_folder_without_config_is_refused(tmp_path):
    (tmp_path / "training" / "v2.0" / "labels").mkdir(parents=True)
    with pytest.raises(InputError, match="no config_v1.2.json or config_v2.0.json"):
        segmill.read(tmp_path, "mapillary")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: mapillary: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("mapillary", "cityscapes"): {"L601", "L607"},
    ("mapillary", "coco"): {"L003", "L105"},
    ("mapillary", "coco_panoptic"): {"L254"},
    ("mapillary", "coco_results"): {"L110", "L111", "L112"},
    ("mapillary", "cvat"): {"L505"},
    ("mapillary", "labelme"): {"L001", "L402", "L406"},
    ("mapillary", "masks"): {"L208"},
    ("mapillary", "voc"): {"L208"},
    ("mapillary", "yolo"): {"L003", "L309"},
}
