"""`segmill.merge` and `segmill merge`: categories by name, images by file name, duplicates, conflicts.

The oracle for pixels and IoU is pycocotools.mask: every merged output is
written as COCO and decoded by pycocotools, never by segmill.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError, UsageError
from segmill.merging import CODES, LOSS_CODES, MergeConflictError

mask_api = pytest.importorskip("pycocotools.mask")

ROOT = Path(__file__).resolve().parent.parent
COCO = ROOT / "fixtures" / "coco" / "annotations.json"
VOC = ROOT / "fixtures" / "voc"

# B's categories: the same names as the fixture's, other ids (B's 'car' takes A's 'dog' id and so on).
B_IDS = {1: 5, 3: 1, 18: 3}  # fixture id -> B id ('person' 1 -> 5, 'car' 3 -> 1, 'dog' 18 -> 3)
B_IMAGE_IDS = {42: 100, 7: 7, 1000: 1000}


def _run(*args):
    return CliRunner().invoke(main, ["merge", *map(str, args)])


# ------------------------------------------------------------------ building sources
def _halves() -> tuple[dict, dict, dict]:
    """(original, A, B): A holds images a.png, b.png and annotations 1, 2, 900100000004; B holds a.png,
    b.png, c.png and annotations 3, 5, with its categories (and image a.png) under other ids, in another order."""
    orig = json.loads(COCO.read_text())
    a = copy.deepcopy(orig)
    a["images"] = [im for im in a["images"] if im["id"] in (42, 7)]
    a["annotations"] = [x for x in a["annotations"] if x["id"] in (1, 2, 900100000004)]
    b = copy.deepcopy(orig)
    b["categories"] = [dict(c, id=B_IDS[c["id"]]) for c in reversed(b["categories"])]
    b["images"] = [dict(im, id=B_IMAGE_IDS[im["id"]]) for im in b["images"]]
    b["annotations"] = [dict(x, category_id=B_IDS[x["category_id"]], image_id=B_IMAGE_IDS[x["image_id"]])
                        for x in b["annotations"] if x["id"] in (3, 5)]
    return orig, a, b


def _dump(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _coco(images, annotations, categories) -> dict:
    return {"images": images, "annotations": annotations, "categories": categories}


def _rle(mask: np.ndarray) -> dict:
    """A COCO compressed RLE of ``mask``, by pycocotools."""
    r = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


# ------------------------------------------------------------------ the pycocotools oracle
def _masks(doc: dict) -> dict:
    """{(file name, category name): [mask per annotation]} decoded by pycocotools (box-only: its bbox)."""
    images = {im["id"]: im for im in doc["images"]}
    names = {c["id"]: c["name"] for c in doc["categories"]}
    out: dict = {}
    for ann in doc["annotations"]:
        im = images[ann["image_id"]]
        h, w = im["height"], im["width"]
        seg = ann.get("segmentation")
        if isinstance(seg, list) and seg:
            rle = mask_api.merge(mask_api.frPyObjects(seg, h, w))
        elif isinstance(seg, dict):
            rle = mask_api.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg
        else:
            rle = mask_api.frPyObjects(np.array([ann["bbox"]], dtype=np.float64), h, w)[0]
        out.setdefault((im["file_name"], names[ann["category_id"]]), []).append(mask_api.decode(rle))
    return out


def _same_pixels(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for key in want:
        assert len(got[key]) == len(want[key]), key
        assert np.array_equal(np.any(got[key], axis=0), np.any(want[key], axis=0)), key


def _images(doc: dict) -> list:
    return sorted((im["file_name"], im["width"], im["height"]) for im in doc["images"])


# ------------------------------------------------------------------ halves give back the whole
def test_merging_the_two_halves_gives_back_the_original(tmp_path):
    orig, a, b = _halves()
    ds, report = segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)),
                                segmill.read(_dump(tmp_path / "b.json", b))])
    segmill.write(ds, tmp_path / "m.json", "coco")
    got = json.loads((tmp_path / "m.json").read_text())
    assert _images(got) == _images(orig)
    assert len(got["annotations"]) == len(orig["annotations"]) == report.annotations == 5
    _same_pixels(_masks(got), _masks(orig))
    assert got == orig  # ids, key order, unknown fields: nothing of either half is lost
    assert report.summary() == {"M001": 3, "M004": 2}


def test_the_category_id_map_is_reported_per_source(tmp_path):
    _, a, b = _halves()
    r = _run(_dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b), "-o", tmp_path / "m.json")
    assert r.exit_code == 0, r.stderr
    assert "M001 x3" in r.stderr
    assert "source 2 (3 of 3 ids): 'dog' 3 -> 18, 'car' 1 -> 3, 'person' 5 -> 1" in r.stderr
    ds, report = segmill.merge([segmill.read(tmp_path / "a.json"), segmill.read(tmp_path / "b.json")])
    assert report.category_maps == [{1: 1, 3: 3, 18: 18}, {3: 18, 1: 3, 5: 1}]
    assert report.renamed == [(2, "dog", 3, 18), (2, "car", 1, 3), (2, "person", 5, 1)]
    assert [n.message for n in report.notes if n.code == "M001"][0] == "source 2: category 'dog' 3 -> 18"
    assert report.image_maps[1] == {100: 42, 7: 7, 1000: 1000}


def test_a_new_category_keeps_its_id_when_free_and_moves_when_taken(tmp_path):
    _, a, b = _halves()
    b["categories"].append({"id": 1000, "name": "kite"})
    b["categories"].append({"id": 18, "name": "boat"})  # A's 'dog' has 18
    b["annotations"].append({"id": 77, "image_id": 1000, "category_id": 18, "segmentation": [[0, 0, 4, 0, 4, 4]],
                             "area": 8.0, "bbox": [0, 0, 4, 4], "iscrowd": 0})
    ds, report = segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)),
                                segmill.read(_dump(tmp_path / "b.json", b))])
    by_name = {c.name: c.id for c in ds.categories}
    assert by_name["kite"] == 1000 and by_name["boat"] == 1001
    boat = [x for it in ds.items for x in it.annotations if x.id == 77]
    assert boat[0].category_id == 1001


def test_renumbered_image_and_annotation_ids_are_reported(tmp_path):
    _, a, b = _halves()
    b["images"].append({"id": 42, "file_name": "d.png", "width": 3, "height": 3})  # A's a.png has id 42
    b["annotations"].append({"id": 1, "image_id": 42, "category_id": 5, "segmentation": [[0, 0, 2, 0, 2, 2]],
                             "area": 2.0, "bbox": [0, 0, 2, 2], "iscrowd": 0})  # A has annotation 1
    ds, report = segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)),
                                segmill.read(_dump(tmp_path / "b.json", b))])
    d = [it for it in ds.items if it.file_name == "d.png"][0]
    assert d.id == 1001 and report.image_maps[1][42] == 1001  # above every id taken (1000)
    assert d.annotations[0].id == 900100000005 and d.annotations[0].category_id == 1
    assert [n.code for n in report.notes if n.code in ("M002", "M003")] == ["M002", "M003"]
    ds.validate()


# ------------------------------------------------------------------ duplicates
def _planted(tmp_path, threshold_pair=False) -> tuple[Path, Path, dict]:
    """Two sources on one 10x12 image with planted pairs; the IoU of each pair by pycocotools."""
    h, w = 10, 12
    full = np.zeros((h, w), bool)
    full[1:9, 1:11] = True                   # 80 px
    near = full.copy()
    near[1, 1] = near[8, 10] = False         # 78 px: IoU 78/80 = 0.975
    far = np.zeros((h, w), bool)
    far[1:9, 1:6] = True                     # 40 px: IoU 0.5 with full
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    img = [{"id": 1, "file_name": "x.png", "width": w, "height": h}]

    def ann(i, cat, m, crowd=0):
        return {"id": i, "image_id": 1, "category_id": cat, "segmentation": _rle(m), "area": int(m.sum()),
                "bbox": [0, 0, 1, 1], "iscrowd": crowd}

    poly = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 11, 1, 11, 9, 1, 9]],
            "area": 80.0, "bbox": [1, 1, 10, 8], "iscrowd": 0}
    a = _coco(img, [poly, ann(2, 2, far)], cats)
    b_cats = [{"id": 7, "name": "dog"}, {"id": 9, "name": "cat"}]
    b = _coco(img, [ann(11, 9, near),          # cat ~ A's cat polygon: IoU 0.975, a duplicate
                    ann(12, 7, full),          # dog, but A's dog is 'far': IoU 0.5, not a duplicate
                    ann(13, 7, near, 1)],      # crowd: never a duplicate of a non-crowd region
              b_cats)
    poly_mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(poly["segmentation"], h, w)))
    ious = {"cat": float(mask_api.iou([_rle_bytes(near)], [_rle_bytes(poly_mask)], [0])[0, 0]),
            "dog": float(mask_api.iou([_rle_bytes(full)], [_rle_bytes(far)], [0])[0, 0])}
    return _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b), ious


def _rle_bytes(mask):
    return mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))


def test_planted_duplicates_are_found_with_the_pycocotools_iou(tmp_path):
    pa, pb, ious = _planted(tmp_path)
    assert 0.95 < ious["cat"] < 1 and ious["dog"] == 0.5
    ds, report = segmill.merge([segmill.read(pa), segmill.read(pb)])
    assert len(report.duplicates) == 1
    d = report.duplicates[0]
    assert (d.file_name, d.category, d.source, d.annotation_id, d.kept_source, d.kept_annotation_id) == \
        ("x.png", "cat", 2, 11, 1, 1)
    assert d.iou == pytest.approx(ious["cat"], abs=1e-12) and not d.dropped
    assert ds.num_annotations == 5 and report.summary()["M005"] == 1 and "M006" not in report.summary()


def test_duplicates_are_dropped_only_with_drop_duplicates(tmp_path):
    pa, pb, _ = _planted(tmp_path)
    kept = tmp_path / "kept.json"
    r = _run(pa, pb, "-o", kept)
    assert r.exit_code == 0 and "M005 x1" in r.stderr and "IoU 0.975" in r.stderr
    assert len(json.loads(kept.read_text())["annotations"]) == 5
    dropped = tmp_path / "dropped.json"
    r = _run(pa, pb, "-o", dropped, "--drop-duplicates")
    assert r.exit_code == 0 and "M006 x1" in r.stderr and "M005" not in r.stderr
    doc = json.loads(dropped.read_text())
    assert sorted(x["id"] for x in doc["annotations"]) == [1, 2, 12, 13]
    masks = _masks(doc)
    assert [len(masks[k]) for k in sorted(masks)] == [1, 3]  # the cat polygon alone; A's dog, B's two dogs
    assert masks[("x.png", "cat")][0].sum() == 80  # the kept copy is A's polygon, not B's 78-pixel mask


def test_dedupe_iou_sets_the_threshold(tmp_path):
    pa, pb, ious = _planted(tmp_path)
    r = _run(pa, pb, "-o", tmp_path / "m.json", "--dedupe-iou", "0.98", "--drop-duplicates")
    assert r.exit_code == 0 and "M006" not in r.stderr  # 0.975 < 0.98
    r = _run(pa, pb, "-o", tmp_path / "n.json", "--dedupe-iou", "0.5", "--drop-duplicates", "--json")
    out = json.loads(r.stdout)
    found = sorted((d["category"], d["iou"]) for d in out["merge"]["duplicates"])
    assert found == [("cat", pytest.approx(ious["cat"])), ("dog", pytest.approx(ious["dog"]))]  # 0.5 counts
    assert out["write"]["annotations"] == 3


@pytest.mark.parametrize("value", ["0", "1.5", "nan", "x"])
def test_dedupe_iou_out_of_range_is_a_usage_error(tmp_path, value):
    pa, pb, _ = _planted(tmp_path)
    r = _run(pa, pb, "-o", tmp_path / "m.json", "--dedupe-iou", value)
    assert r.exit_code == 2 and not (tmp_path / "m.json").exists()


def test_geometry_without_pixels_is_reported_not_compared(tmp_path):
    pa, _, _ = _planted(tmp_path)
    ds_a = segmill.read(pa)
    ds_b = copy.deepcopy(ds_a)
    ds_b.items[0].annotations[0].geometry = segmill.Shape("point", [1.0, 1.0])
    ds, report = segmill.merge([ds_a, ds_b], names=["a", "b"])
    assert report.summary()["M012"] == 1 and report.summary()["M005"] == 1  # the RLE pair still matched


# ------------------------------------------------------------------ sizes and conflicts
def test_an_image_size_conflict_is_exit_2_naming_both_sources_and_the_file(tmp_path):
    _, a, b = _halves()
    b["images"][1]["width"] = 6  # b.png: 5 in A
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    with pytest.raises(InputError, match="b.png"):
        segmill.merge([segmill.read(pa), segmill.read(pb)])
    out = tmp_path / "m.json"
    r = _run(pa, pb, "-o", out)
    assert r.exit_code == 2 and not out.exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (f"segmill: error: image 'b.png': image size differs: width 5 in source 1 ({pa}) "
                        f"but 6 in source 2 ({pb})")


def _category_conflict(tmp_path):
    _, a, b = _halves()
    for c in b["categories"]:
        if c["name"] == "dog":
            c["supercategory"] = "pet"  # 'animal' in A
    return _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)


def test_on_conflict_error_is_the_default(tmp_path):
    pa, pb = _category_conflict(tmp_path)
    r = _run(pa, pb, "-o", tmp_path / "m.json")
    assert r.exit_code == 2 and not (tmp_path / "m.json").exists()
    assert r.stderr.count("\n") == 1
    assert "category 'dog': supercategory is 'animal' in source 1" in r.stderr and "'pet' in source 2" in r.stderr
    with pytest.raises(MergeConflictError):
        segmill.merge([segmill.read(pa), segmill.read(pb)])


@pytest.mark.parametrize("policy, want", [("first", "animal"), ("last", "pet"), ("union", "animal")])
def test_on_conflict_chooses_the_category_value(tmp_path, policy, want):
    pa, pb = _category_conflict(tmp_path)
    out = tmp_path / "m.json"
    r = _run(pa, pb, "-o", out, "--on-conflict", policy)
    assert r.exit_code == 0 and "M007 x1" in r.stderr
    dog = [c for c in json.loads(out.read_text())["categories"] if c["name"] == "dog"][0]
    assert dog["supercategory"] == want and dog["id"] == 18


def test_union_combines_image_fields_and_keeps_the_first_scalar(tmp_path):
    _, a, b = _halves()
    a["images"][0]["x_tags"] = ["day"]
    b["images"][0]["x_tags"] = ["day", "rain"]
    b["images"][0]["x_camera"] = "right"  # 'left' in A
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    with pytest.raises(MergeConflictError, match="x_camera"):
        segmill.merge([segmill.read(pa), segmill.read(pb)])
    ds, report = segmill.merge([segmill.read(pa), segmill.read(pb)], on_conflict="union")
    a_png = ds.items[0]
    assert a_png.extra["x_tags"] == ["day", "rain"] and a_png.extra["x_camera"] == "left"
    assert report.summary()["M010"] == 1 and report.summary()["M008"] == 1
    ds, _ = segmill.merge([segmill.read(pa), segmill.read(pb)], on_conflict="last")
    assert ds.items[0].extra == {"license": 1, "x_camera": "right", "x_tags": ["day", "rain"]}


def test_an_empty_value_is_filled_not_a_conflict(tmp_path):
    _, a, b = _halves()
    for c in a["categories"]:
        c.pop("supercategory")
    ds, report = segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)),
                                segmill.read(_dump(tmp_path / "b.json", b))])
    assert {c.name: c.supercategory for c in ds.categories} == {"person": "person", "car": "vehicle", "dog": "animal"}
    assert "M007" not in report.summary()


def test_two_categories_of_one_source_sharing_a_name(tmp_path):
    _, a, b = _halves()
    b["categories"].append({"id": 40, "name": "dog", "supercategory": "animal"})
    b["annotations"][0]["category_id"] = 40
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    with pytest.raises(MergeConflictError, match="categories 3 and 40 of source 2"):
        segmill.merge([segmill.read(pa), segmill.read(pb)])
    ds, report = segmill.merge([segmill.read(pa), segmill.read(pb)], on_conflict="first")
    assert [c.name for c in ds.categories] == ["person", "car", "dog"]
    assert report.summary()["M011"] == 1 and report.category_maps[1][40] == 18


def test_dataset_level_fields_never_stop_a_merge(tmp_path):
    _, a, b = _halves()
    b["info"]["description"] = "another"
    ds, report = segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)),
                                segmill.read(_dump(tmp_path / "b.json", b))])
    assert ds.info["description"] == a["info"]["description"] and report.summary()["M009"] == 1


def test_two_images_of_one_source_with_one_file_name_are_refused(tmp_path):
    _, a, b = _halves()
    b["images"].append({"id": 5, "file_name": "a.png", "width": 8, "height": 6})
    with pytest.raises(InputError, match="images 100 and 5 have the same file name 'a.png'"):
        segmill.merge([segmill.read(_dump(tmp_path / "a.json", a)), segmill.read(_dump(tmp_path / "b.json", b))])


def test_match_by_base_name(tmp_path):
    _, a, b = _halves()
    for im in b["images"]:
        im["file_name"] = "train/" + im["file_name"]
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    r = _run(pa, pb, "-o", tmp_path / "path.json")
    assert r.exit_code == 0 and len(json.loads((tmp_path / "path.json").read_text())["images"]) == 5
    r = _run(pa, pb, "-o", tmp_path / "name.json", "--match-by", "base_name")
    assert r.exit_code == 0 and "M004 x2" in r.stderr
    got = json.loads((tmp_path / "name.json").read_text())["images"]
    assert sorted(im["file_name"] for im in got) == ["a.png", "b.png", "train/c.png"]  # as first met


# ------------------------------------------------------------------ formats
def test_coco_and_voc_sources_merge_and_the_category_names_unify(tmp_path):
    out = tmp_path / "m.json"
    r = _run(COCO, VOC, "-o", out)
    assert r.exit_code == 0, r.stderr
    assert "L003" in r.stderr  # VOC's void region has no category: the COCO writer's own loss
    doc = json.loads(out.read_text())
    names = [c["name"] for c in doc["categories"]]
    voc_names = [c.name for c in segmill.read(VOC).categories]
    assert len(names) == len(set(names)) and set(names) == {"person", "car", "dog"} | set(voc_names)
    by_name = {c["name"]: c["id"] for c in doc["categories"]}
    assert (by_name["person"], by_name["car"], by_name["dog"]) == (1, 3, 18)  # the first source's ids
    segmill.convert(VOC, tmp_path / "voc.json", to_format="coco")
    want = _masks(json.loads(COCO.read_text()))
    want.update(_masks(json.loads((tmp_path / "voc.json").read_text())))
    _same_pixels(_masks(doc), want)
    assert _images(doc) == sorted(_images(json.loads(COCO.read_text())) + _images(
        json.loads((tmp_path / "voc.json").read_text())))


def test_to_chooses_the_output_format(tmp_path):
    out = tmp_path / "m_voc"
    r = _run(COCO, VOC, "-o", out, "--to", "voc")
    assert r.exit_code == 0, r.stderr
    assert segmill.detect_format(out)[0] == "voc"
    ds = segmill.read(out)
    assert {"person", "car", "dog", "tvmonitor"} <= {c.name for c in ds.categories}
    assert len(ds.items) == 6


def test_default_output_format_is_the_first_sources(tmp_path):
    r = _run(VOC, COCO, "-o", tmp_path / "m")
    assert r.exit_code == 0, r.stderr
    assert segmill.detect_format(tmp_path / "m")[0] == "voc"


# ------------------------------------------------------------------ strict, force, usage
def test_strict_fails_on_a_dropped_duplicate_and_writes_nothing(tmp_path):
    pa, pb, _ = _planted(tmp_path)
    out = tmp_path / "m.json"
    r = _run(pa, pb, "-o", out, "--drop-duplicates", "--strict")
    assert r.exit_code == 1 and "M006 x1" in r.stderr and not out.exists()
    r = _run(pa, pb, "-o", out, "--strict")  # found but kept: no loss
    assert r.exit_code == 0 and out.exists()


def test_strict_fails_on_a_resolved_conflict_and_on_a_write_loss(tmp_path):
    pa, pb = _category_conflict(tmp_path)
    r = _run(pa, pb, "-o", tmp_path / "m.json", "--on-conflict", "first", "--strict")
    assert r.exit_code == 1 and "M007 x1" in r.stderr and not (tmp_path / "m.json").exists()
    r = _run(COCO, VOC, "-o", tmp_path / "v.json", "--strict")  # the void region: L003 from the writer
    assert r.exit_code == 1 and "L003" in r.stderr and not (tmp_path / "v.json").exists()


def test_force_never_overwrites_a_source(tmp_path):
    _, a, b = _halves()
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    before = pb.read_text()
    r = _run(pa, pb, "-o", pb, "--force")
    assert r.exit_code == 2 and pb.read_text() == before
    r = _run(pa, pb, "-o", tmp_path, "--to", "voc", "--force")
    assert r.exit_code == 2 and pb.read_text() == before  # a folder holding a source


def test_force_replaces_a_previous_output_only(tmp_path):
    _, a, b = _halves()
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    out = tmp_path / "m.json"
    out.write_text("keep me")
    r = _run(pa, pb, "-o", out)
    assert r.exit_code == 2 and "--force" in r.stderr and out.read_text() == "keep me"
    r = _run(pa, pb, "-o", out, "--force")
    assert r.exit_code == 2 and out.read_text() == "keep me"  # not a COCO file: never replaced
    out.write_text('{"images": [], "annotations": [], "categories": []}')
    r = _run(pa, pb, "-o", out, "--force")
    assert r.exit_code == 0 and len(json.loads(out.read_text())["annotations"]) == 5


def test_one_source_is_a_usage_error(tmp_path):
    r = _run(COCO, "-o", tmp_path / "m.json")
    assert r.exit_code == 2 and "at least two sources" in r.stderr


def test_a_missing_source_is_exit_2(tmp_path):
    r = _run(COCO, tmp_path / "nope.json", "-o", tmp_path / "m.json")
    assert r.exit_code == 2 and "nope.json" in r.stderr and not (tmp_path / "m.json").exists()


def test_quiet_and_json(tmp_path):
    _, a, b = _halves()
    pa, pb = _dump(tmp_path / "a.json", a), _dump(tmp_path / "b.json", b)
    r = _run(pa, pb, "-o", tmp_path / "m.json", "--quiet", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    out = json.loads(r.stdout)
    assert out["merge"]["summary"]["M001"] == {"count": 3, "description": CODES["M001"][0], "loss": False}
    assert out["merge"]["category_maps"][1] == [[3, 18], [1, 3], [5, 1]]
    assert out["write"]["annotations"] == 5 and out["write"]["lossless"]


# ------------------------------------------------------------------ library surface
def test_segmill_merge_is_the_function_after_the_package_is_imported():
    import segmill.merging  # noqa: F401  (a module of the same name would shadow the function)

    assert callable(segmill.merge) and "merge" in segmill.__all__


@pytest.mark.parametrize("kwargs", [{"on_conflict": "newest"}, {"dedupe_iou": 0}, {"dedupe_iou": 1.01},
                                    {"dedupe_iou": None, "drop_duplicates": True}, {"match_by": "stem"}])
def test_bad_options_are_usage_errors(kwargs):
    ds = segmill.read(COCO)
    with pytest.raises(UsageError):
        segmill.merge([ds, ds], **kwargs)


def test_dedupe_can_be_switched_off_in_the_library():
    ds = segmill.read(COCO)
    merged, report = segmill.merge([ds, ds], dedupe_iou=None)
    assert merged.num_annotations == 10 and not report.duplicates


def test_the_sources_are_not_changed(tmp_path):
    _, a, b = _halves()
    da, db = segmill.read(_dump(tmp_path / "a.json", a)), segmill.read(_dump(tmp_path / "b.json", b))
    before = (copy.deepcopy(da), copy.deepcopy(db))
    merged, _ = segmill.merge([da, db], on_conflict="union")
    merged.items[0].extra["x"] = 1
    merged.categories[0].extra["x"] = 1
    assert (da, db) == before


def test_every_code_is_declared_once_with_a_meaning():
    assert all(re.fullmatch(r"M\d{3}", c) and text for c, (text, _) in CODES.items())
    assert LOSS_CODES == {"M006", "M007", "M008", "M009", "M011", "M013"}


# ------------------------------------------------------------------ the docs example
def test_the_docs_example_runs_verbatim_and_prints_what_the_docs_show():
    text = (ROOT / "docs" / "merge.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/merge.md has one runnable example"
    cmd = blocks[0].strip()
    assert cmd.startswith("segmill merge ") and "/tmp/segmill-docs-merge-" in cmd and "--force" in cmd
    r = subprocess.run(cmd.replace("segmill ", f"{sys.executable} -m segmill ", 1), shell=True, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    shown = text.split("It prints this on stderr and exits 0:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    for line in shown.splitlines():
        if line.strip() != "...":
            assert line in r.stderr.splitlines(), line


def test_the_docs_code_table_is_the_code_table():
    text = (ROOT / "docs" / "merge.md").read_text()
    rows = re.findall(r"^\| (M\d{3}) \| (.*) \| (yes|no) \|$", text, re.M)
    assert rows == [(c, t, "yes" if loss else "no") for c, (t, loss) in CODES.items()]


def test_from_reads_each_source_in_the_format_it_names(fixtures_dir, tmp_path):
    coco, voc = fixtures_dir / "coco" / "annotations.json", fixtures_dir / "voc"
    out = tmp_path / "m.json"
    res = CliRunner().invoke(main, ["merge", str(coco), str(voc), "-o", str(out), "--from", "coco", "--from", "voc",
                                    "-q"])
    assert res.exit_code == 0, res.output
    files = {it.file_name for it in segmill.read(out, "coco").items}
    want = {it.file_name for it in segmill.read(coco, "coco").items} | {it.file_name for it in
                                                                      segmill.read(voc, "voc").items}
    assert files == want
    # one --from for all: the VOC folder read as COCO is refused, nothing written
    out2 = tmp_path / "m2.json"
    res = CliRunner().invoke(main, ["merge", str(coco), str(voc), "-o", str(out2), "--from", "coco"])
    assert res.exit_code == 2 and "voc" in res.output and not out2.exists()


def test_from_given_neither_once_nor_per_source_is_a_usage_error(fixtures_dir, tmp_path):
    src = str(fixtures_dir / "coco" / "annotations.json")
    res = CliRunner().invoke(main, ["merge", src, src, src, "-o", str(tmp_path / "m.json"), "--from", "coco",
                                    "--from", "coco"])
    assert res.exit_code == 2 and "once per source (3)" in res.output
    assert not (tmp_path / "m.json").exists()
