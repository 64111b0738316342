"""``segmill fix``: each fix against an oracle (pycocotools), the planted defects, idempotence, the CLI, the docs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mu

import segmill
from segmill.check import check, check_path, fix, is_fixable, rules
from segmill.check.registry import Fix, Rule, register
from segmill.cli import main
from segmill.geometry import Box, InvalidGeometry, Polygons
from segmill.io import detect_format
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import RLE

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "fix" / "annotations.json"
DEFECTS = ROOT / "fixtures" / "defects"
#: The rules whose planted defects fixtures/defects holds and segmill fix repairs (G008's planted RLE does not fit).
DEFECTS_FIXED = {"G001", "G002", "G003", "G004", "G005", "G006", "G007", "G011", "G012", "G015", "G016", "C002",
                 "S010"}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def dataset(*anns, w=64, h=48, cats=(Category(1, "car"),), fmt="coco"):
    """One image of ``w x h`` holding ``anns``."""
    return Dataset(categories=list(cats), items=[Item(1, "a.png", w, h, list(anns))], meta={"source_format": fmt})


def coco_file(tmp_path, anns, w=64, h=48, cats=None, name="in.json"):
    """A COCO file of one image; ``anns`` are records without ids and image ids."""
    records = [{"id": k, "image_id": 1, "category_id": 1, "iscrowd": 0, **a} for k, a in enumerate(anns, 1)]
    data = {"images": [{"id": 1, "file_name": "a.png", "width": w, "height": h}], "annotations": records,
            "categories": cats or [{"id": 1, "name": "car"}]}
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def pc_mask(parts, h, w):
    """pycocotools' rasterization of a polygon (frPyObjects then merge)."""
    return mu.merge(mu.frPyObjects([list(map(float, p)) for p in parts], h, w))


def pc_iou(a, b) -> float:
    return float(mu.iou([a], [b], [0])[0, 0])


def shoelace(flat) -> float:
    x, y = np.asarray(flat[0::2], float), np.asarray(flat[1::2], float)
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def only(report, code):
    got = [c for c in report.changes if c.code == code]
    assert len(got) == 1, report.changes
    return got[0]


def blob(h, w, seed):
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    m[2:h - 3, 3:w - 4] = rng.random((h - 5, w - 7)) < 0.7
    return m


# ------------------------------------------------------------ stored values (G011, G012, G015, G016)
def test_rle_area_and_bbox_are_recomputed_as_pycocotools_computes_them():
    m = blob(30, 40, 1)
    ref = mu.encode(np.asfortranarray(m))
    geom = segmill.rle.from_coco({"size": ref["size"], "counts": ref["counts"].decode()})
    ds = dataset(Annotation(1, 1, geom, area=5.0, bbox=(0.0, 0.0, 1.0, 1.0)), w=40, h=30)
    fixed, report = fix(ds)
    a = fixed.items[0].annotations[0]
    assert a.area == int(mu.area(ref))
    assert list(a.bbox) == mu.toBbox(ref).tolist()
    assert {c.code for c in report.changes} == {"G011", "G012"}
    assert ds.items[0].annotations[0].area == 5.0  # the input is untouched


def test_polygon_values_are_the_shoelace_area_and_the_vertex_extent():
    parts = [[3.5, 4.25, 20.0, 6.0, 18.5, 22.75, 5.0, 19.0], [30, 30, 40, 31, 35, 40]]
    ds = dataset(Annotation(1, 1, Polygons(parts), area=float("nan"), bbox=(1, 2, -3, 4)),
                 Annotation(2, 1, Polygons([parts[1]]), area=1.0, bbox=(0, 0, 99, 99)))
    fixed, report = fix(ds)
    a, b = fixed.items[0].annotations
    assert a.area == pytest.approx(sum(shoelace(p) for p in parts), abs=1e-9)
    xs = [v for p in parts for v in p[0::2]]
    ys = [v for p in parts for v in p[1::2]]
    assert a.bbox == (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    assert b.area == pytest.approx(shoelace(parts[1])) and b.bbox == (30.0, 30.0, 10.0, 10.0)
    assert sorted(c.code for c in report.changes) == ["G011", "G012", "G015", "G016"]
    assert only(report, "G015").data["old"] == [1, 2, -3, 4]


def test_a_malformed_value_beside_a_geometry_that_gives_none_is_left():
    ds = dataset(Annotation(1, 1, InvalidGeometry("person", "malformed"), area=-3.0))
    found = check(ds, select=["G016"]).findings
    assert len(found) == 1 and not is_fixable(found[0])
    _, report = fix(ds, select=["G016"])
    assert report.changes == [] and [f.code for f, _ in report.left] == ["G016"]
    assert "geometry gives a value" in report.left[0][1]


def test_tolerances_of_the_rules_decide_what_is_fixed():
    ds = dataset(Annotation(1, 1, Polygons([[0, 0, 10, 0, 10, 10, 0, 10]]), area=100.5, bbox=(0.5, 0, 10, 10)))
    fixed, report = fix(ds)
    assert report.changes == [] and fixed.items[0].annotations[0].bbox == (0.5, 0, 10, 10)


# --------------------------------------------------------------------------------- RLE sizes (G008)
def test_an_rle_whose_counts_fit_the_image_gets_its_size_and_decodes_to_the_mask(tmp_path):
    m = blob(12, 20, 2)
    ref = mu.encode(np.asfortranarray(m))
    counts = ref["counts"].decode()
    p = coco_file(tmp_path, [
        {"segmentation": {"size": [20, 12], "counts": counts}, "area": int(mu.area(ref)), "bbox": [0, 0, 1, 1]},
        {"segmentation": {"size": [10, 10], "counts": [10, 5, 85]}, "area": 5, "bbox": [0, 0, 1, 1]},
    ], w=20, h=12)
    ds = segmill.read(p, errors="keep")
    fixed, report = fix(ds, select=["G008"], path=p)
    change = only(report, "G008")
    assert change.annotation_id == 1 and change.data == {"old_size": [20, 12], "new_size": [12, 20]}
    got = fixed.items[0].annotations[0]
    assert np.array_equal(mu.decode(_pc(got.geometry.to_coco())), m)
    assert got.area == int(mu.area(ref)) and list(got.bbox) == mu.toBbox(ref).tolist()
    assert [(f.code, f.annotation_id) for f, _ in report.left] == [("G008", 2)]
    assert "cover the image exactly" in report.left[0][1]


def test_an_rle_kept_at_the_wrong_size_is_given_the_image_size():
    m = blob(16, 9, 3)
    r = segmill.rle.encode(m)
    swapped = RLE(r.counts, 9, 16)
    fixed, report = fix(dataset(Annotation(1, 1, swapped), w=9, h=16), select=["G008"])
    assert fixed.items[0].annotations[0].geometry == r
    assert report.changes[0].data["old_size"] == [9, 16]


def _pc(coco_rle):
    out = dict(coco_rle)
    if isinstance(out["counts"], str):
        out["counts"] = out["counts"].encode()
    return out


# ----------------------------------------------------------------------------- make_valid (G006)
BOWTIE = [40, 10, 50, 20, 50, 10, 40, 20]
PENTAGRAM = [20, 2, 26, 20, 10.5, 9, 29.5, 9, 14, 20]
#: A ring that crosses itself around an inner square: make_valid gives a polygon with a hole.
HOLE_RING = [1, 1, 21, 1, 21, 21, 1, 21, 1, 11, 7, 11, 7, 15, 15, 15, 15, 7, 7, 7, 7, 13, 1, 13]


@pytest.mark.parametrize("ring", [BOWTIE, PENTAGRAM, HOLE_RING], ids=["bowtie", "pentagram", "hole"])
def test_make_valid_repair_reports_the_pycocotools_iou_of_the_pixels(ring):
    h, w = 48, 64
    ds = dataset(Annotation(1, 1, Polygons([ring]), area=shoelace(ring), bbox=Polygons([ring]).bounds))
    assert [f.code for f in check(ds).findings] == ["G006"]
    fixed, report = fix(ds)
    change = only(report, "G006")
    new = fixed.items[0].annotations[0]
    parts = new.geometry.to_coco()
    want = pc_iou(pc_mask(parts, h, w), pc_mask([ring], h, w))
    assert change.data["iou"] == pytest.approx(want, abs=1e-12)
    assert new.area == pytest.approx(sum(shoelace(p) for p in parts))  # the stored area follows the repair
    assert check(fixed).findings == []


def test_the_repaired_hole_stays_empty_under_the_pycocotools_rule():
    ds = dataset(Annotation(1, 1, Polygons([HOLE_RING])), w=30, h=30)
    fixed, _ = fix(ds)
    parts = fixed.items[0].annotations[0].geometry.to_coco()
    assert len(parts) == 1  # one ring: the hole joined by a zero-width bridge
    m = mu.decode(pc_mask(parts, 30, 30))
    assert m[7:15, 7:15].sum() == 0 and m[1:21, 1:21].sum() == 20 * 20 - 8 * 8
    assert mu.area(pc_mask(parts, 30, 30)) == pytest.approx(fixed.items[0].annotations[0].geometry.area)


def test_bowtie_keeps_its_pixels_and_the_pentagram_gains_its_centre():
    _, r1 = fix(dataset(Annotation(1, 1, Polygons([BOWTIE]))))
    _, r2 = fix(dataset(Annotation(1, 1, Polygons([PENTAGRAM]))))
    assert r1.changes[0].data["iou"] == 1.0 and r1.changes[0].data["parts"] == 2
    assert r2.changes[0].data["iou"] < 0.9


# ---------------------------------------------------------------------------------- clipping (G007)
def test_clipping_keeps_the_pixels_inside_the_image():
    h, w = 40, 50
    ring = [-6.3, 5.2, 30.7, -4.1, 58.2, 20.6, 33.3, 47.9, 4.4, 30.1]
    ds = dataset(Annotation(1, 1, Polygons([ring]), area=shoelace(ring), bbox=Polygons([ring]).bounds), w=w, h=h)
    fixed, report = fix(ds, select=["G007"])
    change = only(report, "G007")
    new = fixed.items[0].annotations[0]
    pts = new.geometry.parts[0]
    assert pts[:, 0].min() >= 0 and pts[:, 0].max() <= w and pts[:, 1].min() >= 0 and pts[:, 1].max() <= h
    want = pc_iou(pc_mask(new.geometry.to_coco(), h, w), pc_mask([ring], h, w))
    assert change.data["iou"] == pytest.approx(want, abs=1e-12) and want > 0.97
    assert new.area == pytest.approx(shoelace(new.geometry.to_coco()[0]))
    assert check(fixed, select=["G007", "G011", "G012"]).findings == []


def test_a_rectangle_is_clipped_to_the_exact_intersection_and_boxes_are_cut():
    ds = dataset(Annotation(1, 1, Polygons([[-3, 30, 8, 30, 8, 40, -3, 40], [60, 2, 70, 2, 70, 8, 60, 8]])),
                 Annotation(2, 1, Box(-5, 2, 10, 10)), w=64, h=48)
    fixed, report = fix(ds, select=["G007"])
    a, b = fixed.items[0].annotations
    assert a.geometry == Polygons([[0, 30, 8, 30, 8, 40, 0, 40], [60, 2, 64, 2, 64, 8, 60, 8]])
    assert b.geometry == Box(0, 2, 5, 10)
    assert len(report.changes) == 2


def test_a_part_wholly_outside_is_dropped():
    ds = dataset(Annotation(1, 1, Polygons([[2, 2, 10, 2, 10, 10], [70, 2, 80, 2, 80, 10]])), w=64, h=48)
    fixed, report = fix(ds, select=["G007"])
    assert fixed.items[0].annotations[0].geometry == Polygons([[2, 2, 10, 2, 10, 10]])
    assert report.changes[0].data["parts_dropped"] == 1


# ------------------------------------------------------------------- malformed parts, empty (G001-G005)
def test_malformed_parts_are_dropped_and_the_rest_is_a_polygon_again(tmp_path):
    good = [2, 2, 12, 2, 12, 12, 2, 12]
    p = coco_file(tmp_path, [
        {"segmentation": [good, [20, 20, 30, 30], [1, 2, 3, 4, 5]], "area": 100.0, "bbox": [2, 2, 10, 10]},
        {"segmentation": [[20, 20, 30, 30]], "area": 1.0, "bbox": [20, 20, 10, 10]},
        {"segmentation": [], "area": 0.0},  # no bbox either: nothing at all (G004)
        {"segmentation": [[40, 10, 50, 10, 60, 10]], "area": 0.0, "bbox": [40, 10, 20, 0]},
    ])
    ds = segmill.read(p, errors="keep")
    fixed, report = fix(ds, path=p)
    anns = fixed.items[0].annotations
    assert [a.id for a in anns] == [1]
    assert anns[0].geometry == Polygons([good]) and anns[0].geometry.to_coco() == [good]
    assert anns[0].area == 100.0 and anns[0].bbox == (2.0, 2.0, 10.0, 10.0)
    assert Counter(c.code for c in report.changes) == {"G001": 2, "G002": 1, "G004": 1, "G005": 1}
    dropped = [c for c in report.changes if c.annotation_id == 2]
    assert dropped[0].data["annotation_dropped"] is True


def test_ignoring_one_defect_of_a_part_keeps_the_geometry_invalid(tmp_path):
    good = [2, 2, 12, 2, 12, 12, 2, 12]
    p = coco_file(tmp_path, [{"segmentation": [good, [20, 20, 30, 30], [1, 2, 3, 4, 5]], "area": 100.0,
                              "bbox": [2, 2, 10, 10]}])
    fixed, report = fix(segmill.read(p, errors="keep"), ignore=["G002"])
    g = fixed.items[0].annotations[0].geometry
    assert isinstance(g, InvalidGeometry) and g.raw == [good, [1, 2, 3, 4, 5]]
    assert [c.code for c in report.changes] == ["G001"]


# ------------------------------------------------------------------------------- duplicates (C002)
def test_exact_copies_are_dropped_and_near_copies_left():
    sq = [10, 10, 30, 10, 30, 30, 10, 30]
    near = [10, 10, 30, 10, 30, 30, 10.4, 30]
    anns = [Annotation(k, 1, Polygons([sq]), area=400.0, bbox=(10.0, 10.0, 20.0, 20.0)) for k in (1, 2, 3)]
    anns.append(Annotation(4, 1, Polygons([sq]), area=400.0, bbox=(10.0, 10.0, 20.0, 20.0),
                           attributes={"occluded": True}))
    anns.append(Annotation(5, 1, Polygons([near]), area=shoelace(near), bbox=(10.0, 10.0, 20.0, 20.0)))
    ds = dataset(*anns)
    found = check(ds, select=["C002"]).findings
    assert sum(map(is_fixable, found)) == 3  # 1-2, 1-3, 2-3; not the pairs with 4 or 5
    fixed, report = fix(ds, select=["C002"])
    assert [a.id for a in fixed.items[0].annotations] == [1, 4, 5]
    assert {c.annotation_id for c in report.changes} == {2, 3}
    left = {(f.annotation_id, f.data["other_annotation_id"]) for f, _ in report.left}
    assert left == {(4, 1), (5, 1), (5, 4)}
    assert all(why == "the fix applies only to exact copies" for _, why in report.left)


# ------------------------------------------------------------------------- unused categories (S010)
@pytest.mark.parametrize("fmt, dropped", [("coco", True), ("cvat", True), ("voc", False), ("yolo", False)])
def test_unused_categories_are_dropped_except_where_classes_are_numbered_by_position(fmt, dropped):
    cats = (Category(1, "car"), Category(2, "bus"))
    ds = dataset(Annotation(1, 1, Polygons([[2, 2, 12, 2, 12, 12]]), area=50.0, bbox=(2.0, 2.0, 10.0, 10.0)),
                 cats=cats, fmt=fmt)
    fixed, report = fix(ds, select=["S010"])
    assert [c.name for c in fixed.categories] == (["car"] if dropped else ["car", "bus"])
    assert len(report.changes) == int(dropped) and len(report.left) == int(not dropped)
    assert [c.name for c in ds.categories] == ["car", "bus"]


# ----------------------------------------------------------------------- the planted-defects fixture
def _where(f):
    return (f.code, f.item_id, f.annotation_id, f.key)


def _same(a: Annotation, b: Annotation) -> bool:
    """Equal annotations; a kept invalid geometry compares by the repr of its raw value (NaN != NaN)."""
    fields = ("id", "category_id", "iscrowd", "area", "bbox", "score", "attributes", "extra")
    if any(getattr(a, k) != getattr(b, k) for k in fields):
        return False
    if isinstance(a.geometry, InvalidGeometry):
        return isinstance(b.geometry, InvalidGeometry) and repr(a.geometry.raw) == repr(b.geometry.raw)
    return a.geometry == b.geometry


def test_every_fixable_planted_defect_is_fixed_and_nothing_else_changes():
    src = DEFECTS / "annotations.json"
    ds = segmill.read(src, errors="keep")
    fixed, report = fix(ds, path=src)
    assert {c.code for c in report.changes} == DEFECTS_FIXED
    assert [(f.code, why) for f, why in report.left] == [
        ("G008", "the fix applies only when the counts cover the image exactly; fixable with --unsafe-fixes")]
    before = check(ds, select=["ALL"], path=src).findings
    after = check(fixed, select=["ALL"], path=src).findings
    fixed_at = {(c.code, c.item_id, c.annotation_id, c.key) for c in report.changes}
    assert Counter(map(_where, after)) == Counter(w for w in map(_where, before) if w not in fixed_at)
    assert not any(map(is_fixable, after))
    touched = {(c.item_id, c.annotation_id) for c in report.changes if c.annotation_id is not None}
    old = [a for it, a in ds.annotations() if (it.id, a.id) not in touched]
    new = [a for it, a in fixed.annotations() if (it.id, a.id) not in touched]
    assert len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new))  # in order, duplicate ids too
    assert [c for c in fixed.categories if c.name != "bus"] == [c for c in ds.categories if c.name != "bus"]
    assert [(it.id, it.file_name, it.width, it.height) for it in fixed.items] == \
        [(it.id, it.file_name, it.width, it.height) for it in ds.items]


def test_a_second_fix_finds_nothing_more():
    src = DEFECTS / "annotations.json"
    fixed, _ = fix(segmill.read(src, errors="keep"), path=src)
    again, report = fix(fixed, path=src)
    assert report.changes == [] and report.rounds == 0
    assert [f.code for f, _ in report.left] == ["G008"]


def _writable_defects(tmp_path) -> Path:
    """fixtures/defects/annotations.json without the records no writer can hold (and no fix repairs)."""
    data = json.loads((DEFECTS / "annotations.json").read_text())
    planted = json.loads((DEFECTS / "manifest.json").read_text())["planted"]
    drop_anns = {p["annotation_id"] for p in planted if p["code"] in ("S004", "S005", "G008", "G009", "G010")}
    data["images"] = [im for im in data["images"]
                      if not (im["id"] == 1 and im["file_name"] != "images/1.png") and im["id"] != 8]
    anns = [a for a in data["annotations"] if isinstance(a, dict) and a["id"] not in drop_anns]
    dup = [k for k, a in enumerate(anns) if a["id"] == 500][1]  # S002: the second annotation 500
    data["annotations"] = anns[:dup] + anns[dup + 1:]
    data["categories"] = [c for c in data["categories"] if c["name"] != "van"]  # S003
    out = tmp_path / "defects.json"
    out.write_text(json.dumps(data))
    return out


def test_cli_fixes_the_writable_planted_defects_and_check_finds_only_the_unfixable(tmp_path):
    sub = _writable_defects(tmp_path)
    out = tmp_path / "out.json"
    res = run("fix", sub, out)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert all(re.match(r"^\S+defects\.json:(image \S+, annotation \S+|category \S+): [SGC]\d{3} fixed: ", ln)
               for ln in lines[:-1]), lines
    assert lines[-1].startswith("Fixed 13 findings (")
    root = ["--image-root", DEFECTS, "--select", "ALL"]
    res_before = run("check", sub, *root, "--output-format", "json")
    res_after = run("check", out, *root, "--output-format", "json")
    got_before = json.loads(res_before.stdout)["findings"]
    got_after = json.loads(res_after.stdout)["findings"]
    fixed_codes = DEFECTS_FIXED
    assert {f["code"] for f in got_before} - {f["code"] for f in got_after} == fixed_codes
    want = Counter((f["code"], f["item_id"], f["annotation_id"], f["key"]) for f in got_before
                   if f["code"] not in fixed_codes)
    assert Counter((f["code"], f["item_id"], f["annotation_id"], f["key"]) for f in got_after) == want
    assert json.loads(res_after.stdout)["summary"]["fixable"] == 0
    _untouched_records_are_identical(sub, out, json.loads(run("fix", sub, "--dry-run", "--output-format",
                                                              "json").stdout))


def _untouched_records_are_identical(src: Path, dst: Path, report: dict) -> None:
    a, b = json.loads(src.read_text()), json.loads(dst.read_text())
    touched = {f["annotation_id"] for f in report["fixes"] if f["annotation_id"] is not None}
    dropped = {f["annotation_id"] for f in report["fixes"] if f["data"].get("annotation_dropped")}
    before = {r["id"]: r for r in a["annotations"]}
    after = {r["id"]: r for r in b["annotations"]}
    assert set(after) == set(before) - dropped
    for aid, rec in after.items():
        if aid not in touched:
            assert rec == before[aid], aid
    assert b["images"] == a["images"]
    gone = {f["data"]["category_id"] for f in report["fixes"] if f["code"] == "S010"}
    assert b["categories"] == [c for c in a["categories"] if c["id"] not in gone]


#: What only --unsafe-fixes repairs in fixtures/defects: unreadable records, dangling references,
#: undecodable geometry (G008's planted RLE does not fit its image), repeated ids.
DEFECTS_UNSAFE = {"S001", "S002", "S003", "S004", "S005", "S014", "G008", "G009", "G010"}
#: Fixes that change an annotation's geometry (the others keep its pixels).
GEOMETRY_FIXES = {"G001", "G002", "G003", "G006", "G007", "G008"}


def _pixels(rec: dict, h: int, w: int) -> np.ndarray:
    """pycocotools' mask of a COCO annotation record."""
    seg = rec["segmentation"]
    rle = mu.merge(mu.frPyObjects(seg, h, w)) if isinstance(seg, list) else (
        mu.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg)
    return mu.decode(rle)


def test_unsafe_fixes_make_the_defects_fixture_writable_and_leave_only_the_unfixable(tmp_path):
    src, out = DEFECTS / "annotations.json", tmp_path / "out.json"
    res = run("fix", src, out, "--unsafe-fixes", "--output-format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["summary"]["unsafe_fixes"] is True and report["left"] == []
    assert {f["code"] for f in report["fixes"]} == DEFECTS_FIXED | DEFECTS_UNSAFE
    # every planted defect of a fixed rule is gone; what remains is exactly the unfixable planted ones
    planted = [p for p in json.loads((DEFECTS / "manifest.json").read_text())["planted"]
               if p["file"] == "annotations.json"]
    root = ["--image-root", DEFECTS, "--select", "ALL", "--output-format", "json"]
    before = json.loads(run("check", src, *root).stdout)
    after = json.loads(run("check", out, *root).stdout)
    fixed = DEFECTS_FIXED | DEFECTS_UNSAFE
    assert Counter(f["code"] for f in after["findings"]) == Counter(p["code"] for p in planted
                                                                    if p["code"] not in fixed)
    key = ("code", "item_id", "annotation_id", "key")
    assert Counter(tuple(f[k] for k in key) for f in after["findings"]) == \
        Counter(tuple(f[k] for k in key) for f in before["findings"] if f["code"] not in fixed)
    assert after["summary"]["fixable"] == 0 and after["summary"]["unsafe_fixable"] == 0
    _unsafe_survivors_are_the_sources(src, out, report)


def _unsafe_survivors_are_the_sources(src: Path, out: Path, report: dict) -> None:
    """Annotation by annotation: the survivors are the source's, pixels equal where no fix touched geometry."""
    a, b = json.loads(src.read_text()), json.loads(out.read_text())
    fixes = report["fixes"]
    dropped = {f["annotation_id"] for f in fixes if f["data"].get("annotation_dropped")}
    renumbered = {f["data"]["old_id"]: f["data"]["new_id"] for f in fixes if f["code"] == "S002"}
    assert renumbered == {500: 1054}  # after the largest id, 1053
    source = [r for r in a["annotations"] if isinstance(r, dict) and r["id"] not in dropped]
    seen, expect = set(), []
    for r in source:  # the second holder of id 500 gets the fresh id
        expect.append({**r, "id": renumbered[r["id"]]} if r["id"] in seen and r["id"] in renumbered else r)
        seen.add(r["id"])
    got = b["annotations"]
    assert [r["id"] for r in got] == [r["id"] for r in expect]
    stored = {f["annotation_id"] for f in fixes if f["code"] in ("G011", "G012", "G015", "G016")}
    geometry = {f["annotation_id"] for f in fixes if f["code"] in GEOMETRY_FIXES}
    size = {im["id"]: (im["height"], im["width"]) for im in b["images"]}
    for old, new in zip(expect, got):
        if old["id"] not in stored | geometry:
            assert new == old, old["id"]
        if old["id"] not in geometry:
            assert new["segmentation"] == old["segmentation"]
            assert np.array_equal(_pixels(new, *size[new["image_id"]]), _pixels(old, *size[old["image_id"]]))
    images = [im for im in a["images"] if im["id"] != 8]  # S014: its width is a string
    images[1] = {**images[1], "id": 21}  # S001: the second image with id 1, renumbered after the largest, 20
    assert b["images"] == images
    assert b["categories"] == [c for c in a["categories"] if c["name"] not in ("bus", "van")]  # S010, S003+S010
    lines = run("fix", src, "--dry-run", "--unsafe-fixes").stdout.splitlines()
    for code in DEFECTS_UNSAFE:
        assert any(re.match(rf"^\S+annotations\.json:\S.*: {code} fixed: ", ln) for ln in lines), code
    assert "fixtures/defects/annotations.json:image id 8: S014 fixed: dropped the unreadable record" in \
        "\n".join(lines)


def test_unsafe_fixes_are_idempotent_and_renumber_after_the_largest_id():
    src = DEFECTS / "annotations.json"
    fixed, report = fix(segmill.read(src, errors="keep"), path=src, unsafe_fixes=True)
    assert report.unsafe and report.left == []
    _, second = fix(fixed, path=src, unsafe_fixes=True)
    assert second.changes == [] and second.rounds == 0
    cats = [Category(1, "a"), Category(7, "b")]
    anns = [Annotation(i, 1, Box(0, 0, 4, 4)) for i in (3, 9, 3, 3)]
    ds = Dataset(cats, [Item(1, "a.png", 8, 8, anns[:2]), Item(1, "b.png", 8, 8, anns[2:])])
    fixed, report = fix(ds, select=["S"], unsafe_fixes=True)
    assert [a.id for _, a in fixed.annotations()] == [3, 9, 10, 11]
    assert [it.id for it in fixed.items] == [1, 2]
    assert [(c.code, c.data.get("old_id"), c.data.get("new_id")) for c in report.changes] == [
        ("S001", 1, 2), ("S002", 3, 10), ("S002", 3, 11), ("S010", None, None)]  # category 7 is unused
    assert [a.id for _, a in ds.annotations()] == [3, 9, 3, 3]  # the input is not changed


def test_without_the_flag_unsafe_fixes_do_not_run():
    src = DEFECTS / "annotations.json"
    _, report = fix(segmill.read(src, errors="keep"), path=src)
    assert not {c.code for c in report.changes} & DEFECTS_UNSAFE


def test_cli_fix_of_the_fix_fixture_then_check(tmp_path):
    out, again = tmp_path / "out.json", tmp_path / "again.json"
    res = run("fix", FIXTURE, out, "--output-format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["written"] is True and report["summary"]["fixes"] == 9 and report["left"] == []
    planted = {r["id"]: r["attributes"]["planted"] for r in json.loads(FIXTURE.read_text())["annotations"]
               if "attributes" in r}
    assert {(f["code"], f["annotation_id"]) for f in report["fixes"]} - {("C002", 9), ("S010", None)} == \
        {(code, aid) for aid, code in planted.items() if code != "G013"}
    _untouched_records_are_identical(FIXTURE, out, report)
    res = run("check", out)
    assert res.exit_code == 0 and "G013 tiny-fragment" in res.stdout and "fixable" not in res.stdout
    res = run("fix", out, again)
    assert res.exit_code == 0 and res.stdout == "Nothing to fix.\n"
    assert json.loads(again.read_text()) == json.loads(out.read_text())


# ------------------------------------------------------------------------------------------- CLI
def test_dry_run_writes_nothing(tmp_path):
    out = tmp_path / "out.json"
    res = run("fix", FIXTURE, out, "--dry-run")
    assert res.exit_code == 0 and not out.exists()
    assert res.stdout.splitlines()[-1].startswith("Would fix 9 findings")
    res = run("fix", FIXTURE, "--dry-run", "--output-format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["written"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_select_and_ignore_choose_the_fixes(tmp_path):
    out = tmp_path / "out.json"
    # G001's part and G008's size must be fixed for the file to be written back at all.
    res = run("fix", FIXTURE, out, "--select", "G011,G001", "--select", "G008", "--output-format", "json")
    assert res.exit_code == 0, res.output
    assert [f["code"] for f in json.loads(res.stdout)["fixes"]] == ["G001", "G008", "G011"]
    left = {f.code for f in check_path(out, select=["ALL"]).findings}
    assert {"G012", "G006", "C002", "S010"} <= left and not {"G011", "G001", "G008"} & left
    res = run("fix", FIXTURE, out, "--force", "--ignore", "G011,G012", "--ignore", "S", "--output-format", "json")
    assert res.exit_code == 0, res.output
    assert sorted(f["code"] for f in json.loads(res.stdout)["fixes"]) == ["C002", "G001", "G005", "G006", "G007",
                                                                        "G008"]
    res = run("fix", FIXTURE, out, "--force", "--select", "G011")
    assert res.exit_code == 2 and "annotation id 4" in res.output and "select its fix" in res.output
    res = run("fix", FIXTURE, out, "--force", "--select", "Z9")
    assert res.exit_code == 2 and "Z9" in res.output


def test_force_rules(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("{}")
    res = run("fix", FIXTURE, out)
    assert res.exit_code == 2 and "--force" in res.output and out.read_text() == "{}"
    assert run("fix", FIXTURE, out, "--force").exit_code == 2  # not empty, not a COCO file: never replaced
    out.write_text("")
    assert run("fix", FIXTURE, out, "--force").exit_code == 0
    assert json.loads(out.read_text())["annotations"]
    assert run("fix", FIXTURE, out, "--force").exit_code == 0  # a previous output of the format
    src = tmp_path / "src.json"
    shutil.copy(FIXTURE, src)
    res = run("fix", src, src, "--force")
    assert res.exit_code == 2 and "source" in res.output
    assert src.read_bytes() == FIXTURE.read_bytes()


def test_input_that_cannot_be_written_back_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out.json"
    res = run("fix", DEFECTS / "annotations.json", out)
    assert res.exit_code == 2 and not out.exists()
    assert len(res.output.strip().splitlines()) == 1 and "image id 8" in res.output and "Traceback" not in res.output
    assert res.output.rstrip().endswith("give --unsafe-fixes to drop this record (reported as S014))")
    res = run("fix", DEFECTS / "annotations.json", "--dry-run")
    assert res.exit_code == 0 and res.stdout.splitlines()[-1].startswith("Would fix 13 findings")
    assert "could not be written" in res.stderr


def test_dst_is_required_without_dry_run():
    res = run("fix", FIXTURE)
    assert res.exit_code == 2 and "DST" in res.output


def test_other_formats_are_written_in_their_own_format(tmp_path, fixtures_dir):
    out = tmp_path / "voc"
    res = run("fix", fixtures_dir / "voc", out)
    assert res.exit_code == 0, res.output
    assert detect_format(out)[0] == "voc"
    assert "S010 not fixed" in res.stdout and res.stdout.splitlines()[-1].startswith("Nothing to fix")


# -------------------------------------------------------------------- check and rules say what is fixable
def test_check_counts_the_fixable_findings():
    res = run("check", FIXTURE)
    assert "9 findings fixable with segmill fix." in res.stdout
    assert "G011 bbox-mismatch [warning]: 1 finding (1 fixable)" in res.stdout
    data = json.loads(run("check", FIXTURE, "--output-format", "json").stdout)
    assert data["summary"]["fixable"] == 9
    defects = run("check", DEFECTS / "annotations.json", "--select", "ALL")
    assert "13 findings fixable with segmill fix (10 more with --unsafe-fixes)." in defects.stdout
    assert "S014 unreadable-record [error]: 2 findings (2 fixable with --unsafe-fixes)" in defects.stdout
    clean = run("check", ROOT / "fixtures" / "coco" / "annotations.json")
    assert "fixable" not in clean.stdout


def test_rules_mark_the_fixable_ones():
    data = json.loads(run("rules", "--json").stdout)
    fixable = {r["code"] for r in data if r["fixable"]}
    assert fixable == {r.code for r in rules() if r.fix is not None} == DEFECTS_FIXED | {"G008"}
    assert next(r for r in data if r["code"] == "C002")["fix"]["when"] == "to exact copies"
    listing = run("rules").stdout
    assert re.search(r"^G011 +bbox-mismatch +warning +fix ", listing, re.M)
    assert re.search(r"^G013 +tiny-fragment +warning +A multi-part", listing, re.M)
    assert "Fixable: yes" in run("rules", "G006").stdout and "Fixable: no." in run("rules", "G013").stdout
    unsafe = {r["code"] for r in data if r["unsafe_fix"]}
    assert unsafe == DEFECTS_UNSAFE == {r.code for r in rules() if r.unsafe_fixable}
    assert re.search(r"^S014 +unreadable-record +error +unsafe +A record", listing, re.M)
    assert re.search(r"^G008 +rle-size-mismatch +error +fix\+ ", listing, re.M)
    assert "fixable (unsafe)" in listing and "unsafe only" in run("rules", "S005").stdout


def test_gate_rules_cannot_declare_a_fix():
    rules()
    fx = Fix(99, "x", "x", lambda state, findings: None)
    with pytest.raises(ValueError, match="no fix"):
        register(Rule("GATE950", "x", "error", True, "s", "d", fix=fx))


# ---------------------------------------------------------------------------------------------- docs
def _blocks(lang: str) -> list[str]:
    text = (ROOT / "docs" / "fix.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def test_the_docs_example_runs_verbatim():
    (block,) = _blocks("bash")
    assert "/tmp/segmill-docs-fix-" in block and "--force" in block
    env_bin = str(Path(sys.executable).parent)
    res = subprocess.run(["bash", "-c", block], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": str(Path.home())})
    assert res.returncode == 0, res.stderr
    shown = re.search(r"```console\n(fixtures/fix.*?)```", (ROOT / "docs" / "fix.md").read_text(), re.S).group(1)
    assert res.stdout.startswith(shown)  # the output shown in the docs is the real one


def test_the_docs_library_example_runs():
    (block,) = _blocks("python")
    exec(compile(block, "docs/fix.md", "exec"), {})
    assert json.loads(Path("/tmp/segmill-docs-fix-lib.json").read_text())["annotations"]
