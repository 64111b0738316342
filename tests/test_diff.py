"""`segmill.gate.diff`: every kind of planted change is counted exactly."""

from __future__ import annotations

import copy
import importlib
import json

import numpy as np
import pytest
from pycocotools import mask as cocomask

from segmill.geometry import InvalidGeometry, Polygons
from segmill.gate import diff, render_diff
from segmill.model import Annotation, Category, Dataset, Item

W = H = 100


def square(x, y, s):
    return [float(x), float(y), float(x + s), float(y), float(x + s), float(y + s), float(x), float(y + s)]


def make_base(n_images=10):
    cats = [Category(1, "cat"), Category(2, "dog"), Category(3, "bird")]
    items = []
    for i in range(1, n_images + 1):
        anns = [
            Annotation(100 * i + 1, 1, Polygons([square(5, 5, 20)])),
            Annotation(100 * i + 2, 2, Polygons([square(40, 40, 30)])),
            Annotation(100 * i + 3, 3, Polygons([square(10, 70, 15)])),
        ]
        items.append(Item(i, f"img{i:03d}.jpg", W, H, anns))
    return Dataset(cats, items)


@pytest.fixture()
def planted():
    """A base and a head with a known number of changes of every kind."""
    base = make_base()
    head = copy.deepcopy(base)
    items = head.items
    # 2 relabelled annotations (cat -> dog)
    items[0].annotations[0].category_id = 2
    items[1].annotations[0].category_id = 2
    # 3 reshaped annotations (one also relabelled: counts in both kinds)
    items[2].annotations[1].geometry = Polygons([square(42, 40, 30)])
    items[3].annotations[1].geometry = Polygons([square(40, 40, 25)])
    items[4].annotations[2].geometry = Polygons([square(12, 70, 15)])
    items[4].annotations[2].category_id = 1
    # 1 annotation with only another field changed
    items[5].annotations[0].iscrowd = True
    # 2 annotations removed from a kept image, 1 added to another
    del items[6].annotations[1:]
    items[7].annotations.append(Annotation(9999, 3, Polygons([square(80, 5, 10)])))
    # 1 image removed (3 annotations), 2 images added (2 + 1 annotations)
    del items[9]
    items.append(Item(50, "new1.jpg", W, H, [Annotation(5001, 1, Polygons([square(0, 0, 9)])),
                                             Annotation(5002, 2, Polygons([square(20, 20, 9)]))]))
    items.append(Item(51, "new2.jpg", W, H, [Annotation(5101, 3, Polygons([square(0, 0, 9)]))]))
    # 1 image emptied (3 annotations removed)
    items[8].annotations.clear()
    return base, head


def test_planted_image_changes_are_counted_exactly(planted):
    d = diff(*planted)
    assert d.images == {"added": 2, "removed": 1, "modified": 9, "unchanged": 0}


def test_planted_annotation_changes_are_counted_exactly(planted):
    d = diff(*planted)
    assert d.match_rule == "id"
    assert d.annotations == {
        # matched = 27 base annotations on kept images - 5 removed from them = 22; 6 of those modified
        "added": 1 + 3, "removed": 2 + 3 + 3, "unchanged": 22 - 6,
        "modified": 6, "relabelled": 3, "reshaped": 3, "attributes": 1,
    }


def test_unchanged_plus_modified_plus_removed_covers_every_base_annotation(planted):
    base, head = planted
    a = diff(base, head).annotations
    assert a["unchanged"] + a["modified"] + a["removed"] == base.num_annotations
    assert a["unchanged"] + a["modified"] + a["added"] == head.num_annotations


def test_reshaped_iou_equals_pycocotools(planted):
    d = diff(*planted)
    got = {c.base_id: c.iou for c in d.annotation_changes if "reshaped" in c.kinds}
    base, head = planted
    old = {a.id: a for _, a in base.annotations()}
    new = {a.id: a for _, a in head.annotations()}
    for aid, iou in got.items():
        ro = cocomask.frPyObjects([old[aid].geometry.to_coco()[0]], H, W)
        rn = cocomask.frPyObjects([new[aid].geometry.to_coco()[0]], H, W)
        assert iou == pytest.approx(float(cocomask.iou(rn, ro, [0])[0, 0]), abs=1e-12)
    expected = [13 * 15 / (17 * 15), 25 * 25 / 900, 28 * 30 / (32 * 30)]
    assert sorted(got.values()) == pytest.approx(sorted(expected), abs=1e-12)


def test_emptied_image_is_listed(planted):
    assert diff(*planted).emptied_images == ["img009.jpg"]


def test_retained_share_counts_removed_relabelled_and_reshaped(planted):
    d = diff(*planted)
    # images kept: 9, base annotations on them: 27; modified: 2 relabel + 3 reshape + 2 + 3 removed
    assert d.retained == {"images": 9, "annotations": 27, "modified": 10}
    assert d.modified_share == pytest.approx(100 * 10 / 27)


def test_class_counts_and_mean_areas_before_and_after(planted):
    d = diff(*planted)
    cat, dog, bird = (d.classes[k] for k in ("cat", "dog", "bird"))
    # cat: -1 removed image, -1 emptied image, -2 relabelled away, +1 relabelled in, +1 new image
    assert (cat["base"].count, cat["head"].count) == (10, 8)
    # dog: -1 removed image, -1 emptied, -1 removed annotation, +2 relabelled in, +1 new image
    assert (dog["base"].count, dog["head"].count) == (10, 10)
    # bird: -1 removed image, -1 emptied, -1 removed annotation, -1 relabelled away, +1 added, +1 new image
    assert (bird["base"].count, bird["head"].count) == (10, 8)
    assert cat["base"].mean_area == 400.0
    head_cat_areas = [400.0] * 6 + [225.0, 81.0]
    assert cat["head"].mean_area == pytest.approx(np.mean(head_cat_areas))


def test_identical_versions_have_no_changes():
    base = make_base()
    d = diff(base, copy.deepcopy(base))
    assert not d.changed
    assert d.annotations["unchanged"] == base.num_annotations
    assert d.images["unchanged"] == len(base.items)


def test_images_are_matched_by_file_name_even_when_ids_change():
    base = make_base(3)
    head = copy.deepcopy(base)
    for it in head.items:
        it.id = it.id + 1000
    d = diff(base, head)
    assert d.images["modified"] == 3 and {c.reasons for c in d.image_changes} == {("id",)}
    assert d.annotations["unchanged"] == base.num_annotations


def test_renamed_image_file_falls_back_to_id_and_is_modified():
    base = make_base(3)
    head = copy.deepcopy(base)
    head.items[1].file_name = "renamed.jpg"
    d = diff(base, head)
    assert d.images == {"added": 0, "removed": 0, "modified": 1, "unchanged": 2}
    assert d.image_changes[0].reasons == ("renamed",)


def test_renumbered_annotation_ids_switch_to_iou_matching_and_find_no_change():
    base = make_base(5)
    head = copy.deepcopy(base)
    for n, (_, a) in enumerate(head.annotations()):
        a.id = 90000 - n  # a re-export that numbered the annotations differently
    d = diff(base, head)
    assert d.match_rule == "iou"
    assert d.annotations["unchanged"] == base.num_annotations and not d.changed


def test_iou_matching_pairs_a_relabel_and_a_reshape_without_ids():
    base = make_base(2)
    head = copy.deepcopy(base)
    for _, a in head.annotations():
        a.id = None
    head.items[0].annotations[0].category_id = 3
    head.items[1].annotations[1].geometry = Polygons([square(41, 40, 30)])
    d = diff(base, head)
    assert d.match_rule == "iou"
    assert (d.annotations["relabelled"], d.annotations["reshaped"], d.annotations["unchanged"]) == (1, 1, 4)
    (reshaped,) = [c for c in d.annotation_changes if "reshaped" in c.kinds]
    assert reshaped.iou == pytest.approx(29 / 31)


def test_iou_matching_below_threshold_is_a_removal_and_an_addition():
    base = make_base(1)
    head = copy.deepcopy(base)
    for _, a in head.annotations():
        a.id = None
    head.items[0].annotations[2].geometry = Polygons([square(60, 5, 15)])  # moved far away
    d = diff(base, head, match="iou")
    assert (d.annotations["added"], d.annotations["removed"], d.annotations["unchanged"]) == (1, 1, 2)


def test_polygon_re_encoded_as_rle_is_reshaped_with_iou_one_and_not_counted_as_modified():
    base = make_base(1)
    head = copy.deepcopy(base)
    a = head.items[0].annotations[0]
    a.geometry = a.to_rle(H, W)
    d = diff(base, head)
    (c,) = d.annotation_changes
    assert c.kinds == ("reshaped",) and c.iou == 1.0
    assert d.retained["modified"] == 0


def test_invalid_geometry_is_reshaped_without_iou():
    base = make_base(1)
    head = copy.deepcopy(base)
    head.items[0].annotations[0].geometry = InvalidGeometry([[1, 2, 3, 4]], "a polygon part has 2 points")
    d = diff(base, head)
    (c,) = d.annotation_changes
    assert c.kinds == ("reshaped",) and c.iou is None


def test_category_rename_is_not_a_relabel_and_classes_follow_the_new_name():
    base = make_base(2)
    head = copy.deepcopy(base)
    head.categories[1] = Category(2, "doggo")
    d = diff(base, head)
    assert [c.kind for c in d.categories.changes] == ["renamed"]
    assert d.annotations["relabelled"] == 0
    assert "dog" not in d.classes and d.classes["doggo"]["base"].count == 2


def test_category_renumbered_keeps_annotations_unchanged_by_class():
    base = make_base(2)
    head = copy.deepcopy(base)
    head.categories[2] = Category(30, "bird")
    for _, a in head.annotations():
        if a.category_id == 3:
            a.category_id = 30
    d = diff(base, head)
    assert [c.kind for c in d.categories.changes] == ["renumbered"]
    assert d.annotations["relabelled"] == 0


def test_category_id_reused_for_a_class_that_moved():
    base = make_base(1)
    head = copy.deepcopy(base)
    head.categories = [Category(1, "dog"), Category(2, "cat"), Category(3, "bird")]
    kinds = sorted(c.kind for c in diff(base, head).categories.changes)
    assert kinds == ["id_reused", "id_reused", "renumbered", "renumbered"]


def test_category_removed_while_still_used_counts_the_dangling_annotations():
    base = make_base(3)
    head = copy.deepcopy(base)
    del head.categories[2]
    (c,) = diff(base, head).categories.changes
    assert (c.kind, c.still_used) == ("removed", 3)


def test_category_merged_into_another_is_recognized():
    base = make_base(3)
    head = copy.deepcopy(base)
    del head.categories[2]
    for _, a in head.annotations():
        if a.category_id == 3:
            a.category_id = 2
    d = diff(base, head)
    (c,) = d.categories.changes
    assert (c.kind, c.base["name"], c.into["name"], c.still_used) == ("merged", "bird", "dog", 0)
    assert d.annotations["relabelled"] == 3


def test_category_added():
    base = make_base(1)
    head = copy.deepcopy(base)
    head.categories.append(Category(9, "fish"))
    (c,) = diff(base, head).categories.changes
    assert (c.kind, c.head) == ("added", {"id": 9, "name": "fish"})


def test_json_report_counts_match_the_diff(planted):
    d = diff(*planted)
    data = json.loads(render_diff(d, "json"))
    assert data["annotations"] == d.annotations
    assert data["images"] == d.images
    assert len(data["annotation_changes"]) == len(d.annotation_changes)


def test_text_and_markdown_reports_name_the_changes(planted):
    d = diff(*planted)
    text = render_diff(d, "text")
    assert "2 removed" not in text.split("\n")[1]  # images line: 1 removed
    assert "-1 removed" in text and "relabelled cat -> dog" in text
    md = render_diff(d, "markdown")
    assert "| images | 2 | 1 | 9 | 0 |" in md


def test_unknown_match_rule_is_rejected():
    with pytest.raises(ValueError, match="match must be"):
        diff(make_base(1), make_base(1), match="name")


def test_ids_numbered_in_file_order_shifted_by_an_insertion_are_not_trusted():
    cats = [Category(1, "cat")]
    items = [Item(i, f"img{i}.jpg", W, H, [Annotation(None, 1, Polygons([square(9 * k, 9 * k, 8)]))
                                           for k in range(10)]) for i in range(1, 4)]
    base = Dataset(cats, items)
    head = copy.deepcopy(base)
    head.items[0].annotations.insert(0, Annotation(None, 1, Polygons([square(0, 90, 5)])))
    for ds in (base, head):  # what a reader that numbers annotations in file order produces
        for n, (_, a) in enumerate(ds.annotations(), 1):
            a.id = n
    d = diff(base, head)
    assert d.match_rule == "iou"
    assert (d.annotations["added"], d.annotations["unchanged"], d.annotations["modified"]) == (1, 30, 0)


def test_name_keyed_formats_compare_categories_by_name_only():
    base = make_base(2)
    base.meta["source_format"] = "labelme"
    head = copy.deepcopy(base)
    # the reader numbers labels in order of appearance: a new first label shifts every id
    head.categories = [Category(1, "fish"), Category(2, "cat"), Category(3, "dog"), Category(4, "bird")]
    for _, a in head.annotations():
        a.category_id += 1
    d = diff(base, head)
    assert [(c.kind, (c.head or {}).get("name")) for c in d.categories.changes] == [("added", "fish")]
    assert d.annotations["relabelled"] == 0


def _moved_and_renumbered(base, rename):
    """``base`` as a conversion writes it: image ids renumbered 1..n in a new order, file names changed."""
    head = copy.deepcopy(base)
    head.items.reverse()
    for n, it in enumerate(head.items, 1):
        it.id, it.file_name = n, rename(it.file_name)
    return head


@pytest.mark.parametrize("rename", [
    lambda name: f"images/train/{name}",                                   # YOLO's split folders
    lambda name: name.replace(".jpg", ".png"),                             # VOC/masks PNG names
    lambda name: f"leftImg8bit/train/x/{name[:-4]}_leftImg8bit.png",       # Cityscapes
    lambda name: f"JPEGImages\\{name}",                                    # a Windows-style path
], ids=["split-folder", "extension", "cityscapes", "backslash"])
def test_round_trip_that_renumbers_ids_pairs_images_by_name_not_by_id(rename):
    """Issue 13: after a round trip ids 1..n point at other files; the name still tells the image."""
    base = make_base(4)
    head = _moved_and_renumbered(base, rename)
    d = diff(base, head)
    assert d.images["added"] == d.images["removed"] == 0
    assert d.annotations["unchanged"] == base.num_annotations  # same image, same shapes: nothing moved
    by_base = {c.base_id: c.head_id for c in d.image_changes}
    assert by_base == {1: 4, 2: 3, 3: 2, 4: 1}


def test_names_shared_by_two_images_are_not_used_to_pair():
    base = make_base(2)
    base.items[0].file_name, base.items[1].file_name = "train/a.jpg", "val/a.jpg"
    head = copy.deepcopy(base)
    head.items[0].file_name, head.items[1].file_name = "images/train/a.jpg", "images/val/a.jpg"
    match_images = importlib.import_module("segmill.gate.diff").match_images
    pairs = [(b.id, h.id) for b, h in match_images(base, head)]
    assert pairs == [(1, 1), (2, 2)]  # the base name "a.jpg" is ambiguous: left to the id rule


def test_cli_diff_after_a_round_trip_pairs_by_file_name(tmp_path):
    """COCO -> Cityscapes -> COCO renumbers image ids; `segmill diff` must still pair a.png with a.png."""
    from click.testing import CliRunner

    from segmill.cli import main

    doc = {"images": [{"id": i, "file_name": f"{n}.png", "width": 20, "height": 20}
                      for i, n in ((3, "a"), (1, "b"), (2, "c"))],
           "categories": [{"id": 1, "name": "cat"}],
           "annotations": [{"id": 10 + i, "image_id": i, "category_id": 1, "iscrowd": 0,
                            "segmentation": [square(i, i, 5 + i)], "area": float((5 + i) ** 2),
                            "bbox": [float(i), float(i), float(5 + i), float(5 + i)]} for i in (1, 2, 3)]}
    src = tmp_path / "base.json"
    src.write_text(json.dumps(doc))
    run = CliRunner().invoke
    assert run(main, ["convert", str(src), str(tmp_path / "cs"), "--to", "cityscapes", "-q"]).exit_code == 0
    assert run(main, ["convert", str(tmp_path / "cs"), str(tmp_path / "back.json"), "--to", "coco", "-q"]
               ).exit_code == 0
    back = json.loads((tmp_path / "back.json").read_text())
    assert [i["id"] for i in back["images"]] != [3, 1, 2]  # the trip did renumber: the case of the bug
    r = run(main, ["diff", str(src), str(tmp_path / "back.json"), "--output-format", "json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["images"]["added"] == rep["images"]["removed"] == 0
    pairs = {c["base_id"]: c["head_id"] for c in rep["image_changes"]}
    names = {i["id"]: i["file_name"] for i in back["images"]}
    assert {b: names[h].rsplit("/", 1)[-1] for b, h in pairs.items()} == {
        3: "a_leftImg8bit.png", 1: "b_leftImg8bit.png", 2: "c_leftImg8bit.png"}
