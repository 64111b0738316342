"""segmill.transforms: each edit against pycocotools' pixels, the report's codes, split and sample rules."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import segmill
from segmill.errors import InputError, LossError, UsageError
from segmill.model import Annotation, Category, Dataset, Item
from segmill.transforms import (EDIT_CODES, DropClasses, DropCrowd, Editor, KeepClasses, MapClasses, MinArea,
                                Sample, Split, apply_all, parse_split, quotas, read_map_file, remap_categories)

_spec = importlib.util.spec_from_file_location("_edit_data", Path(__file__).with_name("_edit_data.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def doc():
    return D.coco_doc(40, seed=0)


@pytest.fixture()
def src(doc, tmp_path):
    return D.write_doc(tmp_path / "in.json", doc)


def _edited(src, tmp_path, *transforms):
    """Read ``src``, apply ``transforms``, write COCO; the written JSON and the report."""
    ds = segmill.read(src)
    out, report = apply_all(ds, transforms)
    segmill.write(out, tmp_path / "out.json", "coco")
    return json.loads((tmp_path / "out.json").read_text()), report


def _ids_by_class(doc):
    names = {c["id"]: c["name"] for c in doc["categories"]}
    return {a["id"]: names[a["category_id"]] for a in doc["annotations"]}


# ------------------------------------------------------------------ classes: map, keep, drop
def test_map_into_an_existing_class_merges_pixels_and_keeps_other_ids(doc, src, tmp_path):
    out, report = _edited(src, tmp_path, MapClasses({"car": "vehicle"}))
    assert [(c["id"], c["name"]) for c in out["categories"]] == [(1, "person"), (5, "vehicle"), (7, "dog")]
    before, after = D.class_unions(doc), D.class_unions(out)
    for iid in {im["id"] for im in doc["images"]}:
        want = [before[k] for k in ((iid, "car"), (iid, "vehicle")) if k in before]
        if want:
            assert np.array_equal(after[(iid, "vehicle")], np.logical_or.reduce(want)), iid
        else:
            assert (iid, "vehicle") not in after
        for name in ("person", "dog"):
            assert ((iid, name) in after) == ((iid, name) in before)
            if (iid, name) in before:
                assert np.array_equal(after[(iid, name)], before[(iid, name)])
    assert len(out["annotations"]) == len(doc["annotations"])
    n_car = sum(a["category_id"] == 3 for a in doc["annotations"])
    assert [(e.code, e.category_id) for e in report.edits] == [("E002", 3)]
    assert f"{n_car} annotation(s) moved" in report.edits[0].message and report.drops == []


def test_map_to_a_new_name_renames_and_keeps_the_id_and_every_annotation(doc, src, tmp_path):
    out, report = _edited(src, tmp_path, MapClasses({"dog": "canine"}))
    assert [(c["id"], c["name"]) for c in out["categories"]] == [(1, "person"), (3, "car"), (5, "vehicle"),
                                                                   (7, "canine")]
    sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
    old = {a["id"]: a for a in doc["annotations"]}
    for a in out["annotations"]:
        h, w = sizes[a["image_id"]]
        assert a["category_id"] == old[a["id"]]["category_id"]
        assert np.array_equal(D.ann_mask(a, h, w), D.ann_mask(old[a["id"]], h, w))
    assert report.summary() == {"E001": 1} and "renamed 'canine'" in report.edits[0].message


def test_a_mapping_applies_at_once_so_two_names_swap(src):
    out, report = MapClasses({"car": "vehicle", "vehicle": "car"}).apply(segmill.read(src))
    assert [(c.id, c.name) for c in out.categories] == [(1, "person"), (3, "vehicle"), (5, "car"), (7, "dog")]
    assert report.summary() == {"E001": 2}


def test_two_classes_mapped_to_one_new_name_become_one_class(doc, src, tmp_path):
    out, report = _edited(src, tmp_path, MapClasses({"car": "wheels", "vehicle": "wheels"}))
    assert [(c["id"], c["name"]) for c in out["categories"]] == [(1, "person"), (3, "wheels"), (7, "dog")]
    assert report.summary() == {"E001": 1, "E002": 1}
    before, after = D.class_unions(doc), D.class_unions(out)
    for (iid, name), m in after.items():
        if name == "wheels":
            parts = [before[k] for k in ((iid, "car"), (iid, "vehicle")) if k in before]
            assert np.array_equal(m, np.logical_or.reduce(parts))


def test_remap_categories_refuses_an_unknown_name_or_ignores_it_when_asked(src):
    ds = segmill.read(src)
    with pytest.raises(UsageError, match="no class named 'truck'"):
        remap_categories(ds, {"truck": "vehicle"})
    out, report = remap_categories(ds, {"truck": "vehicle"}, missing="ignore")
    assert [c.name for c in out.categories] == [c.name for c in ds.categories] and report.edits == []
    with pytest.raises(UsageError):
        remap_categories(ds, {"car": ""})


@pytest.mark.parametrize("keep", [("person",), ("car", "dog")])
def test_keep_class_keeps_exactly_those_annotations_pixel_for_pixel(doc, src, tmp_path, keep):
    out, report = _edited(src, tmp_path, KeepClasses(keep))
    cls = _ids_by_class(doc)
    assert sorted(a["id"] for a in out["annotations"]) == sorted(i for i, n in cls.items() if n in keep)
    assert sorted(c["name"] for c in out["categories"]) == sorted(keep)
    before, after = D.class_unions(doc), D.class_unions(out)
    assert set(after) == {k for k in before if k[1] in keep}
    assert all(np.array_equal(after[k], before[k]) for k in after)
    dropped = [i for i, n in cls.items() if n not in keep]
    assert sorted(e.annotation_id for e in report.edits if e.code == "E003") == sorted(dropped)
    assert Counter(e.code for e in report.edits)["E007"] == 4 - len(keep)
    assert len(report.drops) == len(dropped) + 4 - len(keep)
    assert len(out["images"]) == len(doc["images"])  # images stay, even emptied


def test_drop_class_removes_exactly_that_class(doc, src, tmp_path):
    out, report = _edited(src, tmp_path, DropClasses(("vehicle",)))
    cls = _ids_by_class(doc)
    assert sorted(a["id"] for a in out["annotations"]) == sorted(i for i, n in cls.items() if n != "vehicle")
    assert [c["name"] for c in out["categories"]] == ["person", "car", "dog"]
    assert report.summary() == {"E003": sum(n == "vehicle" for n in cls.values()), "E007": 1}


def test_keep_class_drops_annotations_without_a_class_and_drop_class_keeps_them():
    ds = Dataset([Category(1, "a"), Category(2, "b")],
                 [Item(1, "x.png", 4, 4, [Annotation(1, 1), Annotation(2, None), Annotation(3, 2)])])
    kept, rep = KeepClasses(("a",)).apply(ds)
    assert [a.id for a in kept.items[0].annotations] == [1]
    assert [str(e) for e in rep.edits if e.code == "E003"] == [
        "E003 annotation of no declared class dropped by --keep-class (image 1, annotation 2)",
        "E003 annotation of class 'b' dropped by --keep-class (image 1, annotation 3)"]
    dropped, _ = DropClasses(("b",)).apply(ds)
    assert [a.id for a in dropped.items[0].annotations] == [1, 2]


@pytest.mark.parametrize("t", [KeepClasses(("cat",)), DropClasses(("person", "cat"))])
def test_an_unknown_class_to_keep_or_drop_is_a_usage_error_naming_it(src, t):
    with pytest.raises(UsageError, match="no class named 'cat'"):
        t.apply(segmill.read(src))


# ------------------------------------------------------------------ min-area, crowd
@pytest.mark.parametrize("px", [0, 1, 7, 30.5, 10_000])
def test_min_area_keeps_exactly_annotations_whose_pycocotools_area_reaches_it(doc, src, tmp_path, px):
    out, report = _edited(src, tmp_path, MinArea(px))
    areas = {a["id"]: D.ann_area(a, D.H, D.W) for a in doc["annotations"]}
    assert sorted(a["id"] for a in out["annotations"]) == sorted(i for i, v in areas.items() if v >= px)
    e4 = {e.annotation_id: e.message for e in report.edits}
    assert set(e4) == {i for i, v in areas.items() if v < px} and set(report.summary()) <= {"E004"}
    assert all(m.startswith(f"pixel area {areas[i]} <") for i, m in e4.items())


def test_the_data_has_annotations_on_both_sides_of_the_min_area_cut(doc):
    areas = [D.ann_area(a, D.H, D.W) for a in doc["annotations"]]
    assert min(areas) < 7 < max(areas) and sum(a < 7 for a in areas) >= 5


def test_min_area_keeps_what_has_no_pixel_area_and_notes_it():
    from segmill.geometry import Shape

    ds = Dataset([Category(1, "a")], [Item(1, "x.png", None, None, [Annotation(1, 1)]),
                                      Item(2, "y.png", 4, 4, [Annotation(2, 1, Shape("point", [1, 1]))])])
    out, rep = MinArea(5).apply(ds)
    assert out.num_annotations == 2 and rep.edits == [] and "kept 2 annotation(s)" in rep.notes[0]
    with pytest.raises(UsageError):
        MinArea(-1).apply(ds)


def test_drop_crowd_drops_exactly_the_crowd_annotations(doc, src, tmp_path):
    out, report = _edited(src, tmp_path, DropCrowd())
    crowd = [a["id"] for a in doc["annotations"] if a["iscrowd"]]
    assert crowd and sorted(a["id"] for a in out["annotations"]) == sorted(
        a["id"] for a in doc["annotations"] if not a["iscrowd"])
    assert sorted(e.annotation_id for e in report.edits) == sorted(crowd) and report.summary() == {"E005": len(crowd)}


# ------------------------------------------------------------------ order, immutability, strict
def test_order_matters_map_then_drop_differs_from_drop_then_map(src):
    ds = segmill.read(src)
    a, ra = apply_all(ds, [MapClasses({"car": "vehicle"}), DropClasses(("vehicle",))])
    b, rb = apply_all(ds, [DropClasses(("vehicle",)), MapClasses({"car": "vehicle"})])
    assert [c.name for c in a.categories] == ["person", "dog"]
    assert [(c.id, c.name) for c in b.categories] == [(1, "person"), (3, "vehicle"), (7, "dog")]
    n = Counter(x.category_id for _, x in ds.annotations())
    assert a.num_annotations == n[1] + n[7] and b.num_annotations == n[1] + n[3] + n[7]
    assert [e.code for e in ra.edits][:1] == ["E002"] and [e.code for e in rb.edits][-1] == "E001"


def test_transforms_never_change_the_dataset_they_are_given(src):
    ds = segmill.read(src)

    def snapshot(d):
        return ([(c.id, c.name) for c in d.categories],
                [(i.id, i.split, [(a.id, a.category_id, a.iscrowd) for a in i.annotations]) for i in d.items])

    before = snapshot(ds)
    apply_all(ds, [MapClasses({"car": "vehicle", "dog": "canine"}), KeepClasses(("vehicle", "canine")),
                   MinArea(9), DropCrowd(), Sample(10, 1), Split((("train", 0.5), ("val", 0.5)), 2, True)])
    assert snapshot(ds) == before


def test_an_item_keeps_its_origin_and_a_moved_annotation_is_written_anew(src):
    ds = segmill.read(src)
    out, _ = MapClasses({"car": "vehicle"}).apply(ds)
    old = {a.id: a for _, a in ds.annotations()}
    for item, a in out.annotations():
        if old[a.id].category_id == 3:
            assert a.origin is None and a is not old[a.id]
        else:
            assert a is old[a.id]
    assert all(i.origin == j.origin for i, j in zip(ds.items, out.items))


def test_editor_is_strict_about_drops_only(src):
    ds = segmill.read(src)
    Editor([MapClasses({"car": "vehicle"}), Split((("a", 0.5), ("b", 0.5)))], strict=True)(ds)  # no drop
    ed = Editor([MapClasses({"car": "vehicle"}), DropCrowd()], strict=True)
    with pytest.raises(LossError, match="E005"):
        ed(ds)
    assert ed.report.summary()["E005"] > 0


def test_every_code_is_declared_once_with_its_drop_flag():
    assert all(len(c) == 4 and c[0] == "E" and c[1:].isdigit() for c in EDIT_CODES)
    assert {c for c, e in EDIT_CODES.items() if e.drop} == {"E003", "E004", "E005", "E006", "E007"}
    from segmill.transforms import EditReport

    with pytest.raises(ValueError):
        EditReport().add("E999", "nothing")


def test_docs_editing_lists_every_code_with_its_meaning():
    text = (ROOT / "docs" / "editing.md").read_text(encoding="utf-8")
    for code, entry in EDIT_CODES.items():
        assert f"| {code} | {entry.meaning} | {'yes' if entry.drop else 'no'} |" in text, code


# ------------------------------------------------------------------ map files
def test_map_file_text_and_yaml_forms(tmp_path):
    txt = tmp_path / "m.txt"
    txt.write_text("# classes\ncar vehicle\n\ntraffic light , signal   # spaces in a name need a comma\n"
                   "dog\tanimal\n")
    assert read_map_file(txt) == {"car": "vehicle", "traffic light": "signal", "dog": "animal"}
    yml = tmp_path / "m.yaml"
    yml.write_text("car: vehicle\n'1': person\n")
    assert read_map_file(yml) == {"car": "vehicle", "1": "person"}


@pytest.mark.parametrize("name,text,where", [
    ("a.txt", "car vehicle\ncar truck\n", "line 2"),
    ("a.txt", "car\n", "line 1"),
    ("a.txt", "a b c\n", "line 1"),
    ("a.txt", "a,b,c\n", "line 1"),
    ("a.yaml", "- car\n- vehicle\n", "expected a mapping"),
    ("a.yaml", "car: [vehicle]\n", "entry 'car'"),
    ("a.yaml", "1: person\n", "entry 1"),
    ("a.yaml", "car: vehicle: x\n", "invalid YAML"),
])
def test_a_bad_map_file_is_an_input_error_naming_the_line(tmp_path, name, text, where):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InputError, match=where) as exc:
        read_map_file(f)
    assert str(f) in str(exc.value) and "\n" not in str(exc.value)


# ------------------------------------------------------------------ split
def _items(n, classes=None):
    cats = [Category(k, c) for k, c in enumerate(classes or ["a"], 1)]
    items = []
    for i in range(n):
        anns = [Annotation(i * 10 + j, cid) for j, cid in enumerate(_classes_of(i, len(cats)))]
        items.append(Item(i, f"{i}.png", 4, 4, anns))
    return Dataset(cats, items)


def _classes_of(i, n_classes):
    return [1 + (i % n_classes)] + ([1 + ((i // 7) % n_classes)] if i % 3 == 0 else [])


def _assignment(ds):
    return [i.split for i in ds.items]


def test_split_is_deterministic_and_the_seed_changes_it():
    ds = _items(200)
    spec = parse_split("train=0.7,val=0.2,test=0.1")
    a = _assignment(Split(spec, 5).apply(ds)[0])
    assert a == _assignment(Split(spec, 5).apply(ds)[0])
    assert a != _assignment(Split(spec, 6).apply(ds)[0])
    assert Counter(a) == {"train": 140, "val": 40, "test": 20}


def test_split_does_not_depend_on_the_python_hash_seed_nor_on_the_input_order():
    code = ("from segmill.transforms import Split, parse_split\n"
            "from segmill.model import Dataset, Item\n"
            "ds = Dataset([], [Item(f'img{i}', f'{i}.png') for i in range(60)])\n"
            "print([i.split for i in Split(parse_split('a=0.5,b=0.3,c=0.2'), 9).apply(ds)[0].items])\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": s}).stdout for s in ("1", "2", "3")}
    assert len(outs) == 1
    ds = Dataset([], [Item(f"img{i}", f"{i}.png") for i in range(60)])
    rev = Dataset([], list(reversed(ds.items)))
    fwd = {i.id: i.split for i in Split(parse_split("a=0.5,b=0.3,c=0.2"), 9).apply(ds)[0].items}
    back = {i.id: i.split for i in Split(parse_split("a=0.5,b=0.3,c=0.2"), 9).apply(rev)[0].items}
    assert fwd == back and str([fwd[f"img{i}"] for i in range(60)]) == outs.pop().strip()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10, 33, 101])
@pytest.mark.parametrize("text", ["train=0.8,val=0.2", "a=0.34,b=0.33,c=0.33", "x=0.05,y=0.9,z=0.05",
                                  "only=1"])
@pytest.mark.parametrize("stratify", [False, True])
def test_split_sizes_are_within_one_image_of_the_fractions(n, text, stratify):
    spec = parse_split(text)
    got = Counter(_assignment(Split(spec, 1, stratify).apply(_items(n, ["a", "b", "c"]))[0]))
    assert sum(got.values()) == n
    for name, frac in spec:
        assert abs(got.get(name, 0) - frac * n) < 1, (name, got)
    assert [got.get(s, 0) for s, _ in spec] == quotas([f for _, f in spec], n)


def test_stratified_split_puts_every_class_set_group_in_every_split():
    ds = _items(120, ["a", "b", "c", "d"])
    spec = parse_split("train=0.8,val=0.1,test=0.1")
    names = {c.id: c.name for c in ds.categories}

    def groups(out):
        by: dict = {}
        for it in out.items:
            key = tuple(sorted({names[a.category_id] for a in it.annotations}))
            by.setdefault(key, Counter())[it.split] += 1
        return by

    strat = groups(Split(spec, 3, stratify=True).apply(ds)[0])
    assert all(len(ds.items) >= 3 for ds in [ds]) and len(strat) >= 8
    sizes = Counter(tuple(sorted({names[a.category_id] for a in it.annotations})) for it in ds.items)
    for key, by_split in strat.items():
        if sizes[key] >= 3:
            assert set(by_split) == {"train", "val", "test"}, (key, by_split)
    plain = groups(Split(spec, 3, stratify=False).apply(ds)[0])
    assert any(set(v) != {"train", "val", "test"} for k, v in plain.items() if sizes[k] >= 3)


def test_stratified_split_spreads_each_big_group_near_its_fractions():
    ds = _items(400, ["a", "b"])
    out = Split(parse_split("train=0.75,val=0.25"), 0, stratify=True).apply(ds)[0]
    by: dict = {}
    for it in out.items:
        by.setdefault(tuple(sorted({a.category_id for a in it.annotations})), Counter())[it.split] += 1
    for key, c in by.items():
        n = sum(c.values())
        assert abs(c["val"] - 0.25 * n) <= 2, (key, c)


@pytest.mark.parametrize("text,msg", [
    ("train=0.8,val=0.3", "sum to 1.1"), ("train=0.8", "sum to 0.8"), ("train", "expected NAME=FRACTION"),
    ("train=x,val=1", "not a number"), ("train=0.5,train=0.5", "named twice"), ("=1", "split name"),
    ("a/b=1", "split name"), ("a=1.5,b=-0.5", "must be in"), ("a=nan,b=1", "must be in"), ("", "expected"),
    ("a=0,b=1", "must be in"),
])
def test_a_bad_split_text_is_a_usage_error(text, msg):
    with pytest.raises(UsageError, match=msg):
        parse_split(text)


def test_split_reports_one_e010_entry_with_the_counts():
    ds = _items(10)
    ds.items[0].split = "old"
    _, rep = Split(parse_split("train=0.6,val=0.4"), 0).apply(ds)
    assert rep.summary() == {"E010": 1} and rep.drops == []
    assert "train 6, val 4" in rep.edits[0].message and "1 had another split before" in rep.edits[0].message


# ------------------------------------------------------------------ sample
def test_sample_keeps_n_images_deterministically_in_input_order():
    ds = _items(50)
    out, rep = Sample(12, 4).apply(ds)
    ids = [i.id for i in out.items]
    assert len(ids) == 12 and ids == sorted(ids)
    assert ids == [i.id for i in Sample(12, 4).apply(ds)[0].items]
    assert ids != [i.id for i in Sample(12, 5).apply(ds)[0].items]
    assert sorted(e.item_id for e in rep.edits) == sorted(set(range(50)) - set(ids))
    assert rep.summary() == {"E006": 38}
    assert set(ids) <= {i.id for i in Sample(30, 4).apply(ds)[0].items}  # a bigger sample holds a smaller one


def test_sample_bigger_than_the_dataset_keeps_everything_with_a_note():
    ds = _items(5)
    out, rep = Sample(9).apply(ds)
    assert len(out.items) == 5 and rep.edits == [] and "all kept" in rep.notes[0]
    with pytest.raises(UsageError):
        Sample(-1).apply(ds)


# ------------------------------------------------------------------ per-split output read back
def test_coco_one_file_per_split_reads_back(doc, src, tmp_path):
    ds = segmill.read(src)
    out, _ = Split(parse_split("train=0.7,val=0.3"), 11, stratify=True).apply(ds)
    report = segmill.write(out, tmp_path / "o" / "instances_{split}.json", "coco")
    want = {i.id: i.split for i in out.items}
    seen = {}
    for split in ("train", "val"):
        back = segmill.read(tmp_path / "o" / f"instances_{split}.json")
        assert [c.name for c in back.categories] == ["person", "car", "vehicle", "dog"]
        seen.update({i.id: split for i in back.items})
        written = json.loads((tmp_path / "o" / f"instances_{split}.json").read_text())
        ids = {i.id for i in back.items}
        assert sorted(a["id"] for a in written["annotations"]) == sorted(
            a["id"] for a in doc["annotations"] if a["image_id"] in ids)
    assert seen == want and sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "instances_train.json", "instances_val.json"]
    assert report.items == len(doc["images"]) and "one output per split" in report.notes[-1]


def test_a_split_pattern_needs_every_image_to_have_a_split(src, tmp_path):
    with pytest.raises(UsageError, match="has no split"):
        segmill.write(segmill.read(src), tmp_path / "i_{split}.json", "coco")
    assert list(tmp_path.iterdir()) == [tmp_path / "in.json"]


def test_per_split_files_are_all_or_nothing(src, tmp_path):
    out, _ = Split(parse_split("train=0.5,val=0.5"), 0).apply(segmill.read(src))
    (tmp_path / "i_val.json").write_text("not mine")
    with pytest.raises(InputError, match="already exists"):
        segmill.write(out, tmp_path / "i_{split}.json", "coco")
    assert not (tmp_path / "i_train.json").exists()
    with pytest.raises(LossError):
        segmill.write(out, tmp_path / "j_{split}.json", "coco", strict=True, segmentation="rle")
    assert not list(tmp_path.glob("j_*"))


def test_voc_from_coco_lists_the_assigned_splits(src, tmp_path):
    out, _ = Split(parse_split("train=0.6,val=0.4"), 2).apply(segmill.read(src))
    segmill.write(out, tmp_path / "voc", "voc")
    back = segmill.read(tmp_path / "voc", "voc")
    want = {Path(i.file_name).stem: i.split for i in out.items}
    assert {str(i.id): i.split for i in back.items} == want


def test_yolo_from_coco_writes_images_per_split_and_reads_back(doc, tmp_path):
    src = D.write_doc(tmp_path / "in.json", doc)
    D.write_images(tmp_path / "images", doc)
    out, _ = Split(parse_split("train=0.75,val=0.25"), 4, stratify=True).apply(segmill.read(src))
    report = segmill.write(out, tmp_path / "yolo", "yolo")
    assert "L307" not in report.summary()
    back = segmill.read(tmp_path / "yolo", "yolo")
    want = {Path(i.file_name).stem: i.split for i in out.items}
    assert {i.id.split("/")[-1]: i.split for i in back.items} == want
    assert Counter(want.values()) == {"train": 30, "val": 10}


@pytest.mark.parametrize("rel,fmt", [("voc", "voc"), ("cityscapes/basic", "cityscapes")])
def test_a_reassigned_split_is_written_back_to_its_own_format(fixtures_dir, tmp_path, rel, fmt):
    ds = segmill.read(fixtures_dir / rel, fmt)
    out, _ = Split(parse_split("other=1"), 0).apply(ds)
    segmill.write(out, tmp_path / "o", fmt)
    assert {i.split for i in segmill.read(tmp_path / "o", fmt).items} == {"other"}
