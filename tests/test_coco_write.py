"""COCO instances writer: conversions, recomputed area/bbox, losses, ids."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mu

import segmill
from segmill.errors import LossError
from segmill.geometry import Box, Mask, Polygons, Shape
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode, from_polygons


def _read_fixture(fixtures_dir):
    return segmill.read(fixtures_dir / "coco" / "annotations.json")


def _write(ds, tmp_path, **opts):
    out = tmp_path / "out.json"
    report = segmill.write(ds, out, "coco", **opts)
    return json.loads(out.read_text()), report


def _anns(doc):
    return {a["id"]: a for a in doc["annotations"]}


def test_segmentation_rle_rasterizes_polygons_like_pycocotools(fixtures_dir, tmp_path):
    doc, _ = _write(_read_fixture(fixtures_dir), tmp_path, segmentation="rle")
    src = json.loads((fixtures_dir / "coco" / "annotations.json").read_text())
    for a in src["annotations"][:2]:
        want = mu.merge(mu.frPyObjects(a["segmentation"], 6, 8))
        assert _anns(doc)[a["id"]]["segmentation"] == {"size": [6, 8], "counts": want["counts"].decode()}


def test_segmentation_rle_recomputes_area_and_bbox_as_pixel_count_and_tobbox(fixtures_dir, tmp_path):
    doc, _ = _write(_read_fixture(fixtures_dir), tmp_path, segmentation="rle")
    a = _anns(doc)[2]
    rle = {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()}
    assert a["area"] == int(mu.area(rle))
    assert a["bbox"] == mu.toBbox(rle).tolist()


def test_polygon_to_rle_is_reported_as_loss_l101(fixtures_dir, tmp_path):
    _, report = _write(_read_fixture(fixtures_dir), tmp_path, segmentation="rle")
    assert report.summary()["L101"] == 2
    assert {(l.item_id, l.annotation_id) for l in report.losses if l.code == "L101"} == {(42, 1), (42, 2)}


def test_rle_to_polygon_traces_exactly_and_reports_no_loss(fixtures_dir, tmp_path):
    doc, report = _write(_read_fixture(fixtures_dir), tmp_path, segmentation="polygon")
    a = _anns(doc)[900100000004]
    assert isinstance(a["segmentation"], list)
    again = from_polygons(a["segmentation"], 4, 5)
    assert again.to_coco() == {"size": [4, 5], "counts": "5220003"}
    assert "L102" not in report.summary()


def test_rle_to_polygon_without_a_tracer_keeps_rle_and_reports_l102(fixtures_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "segmill.bridges.trace", None)  # import now fails
    doc, report = _write(_read_fixture(fixtures_dir), tmp_path, segmentation="polygon")
    assert _anns(doc)[3]["segmentation"] == {"size": [6, 8], "counts": [2, 4, 42]}
    assert report.summary()["L102"] == 2


def test_polygon_to_rle_to_polygon_keeps_pixels_and_reports_the_rasterization(fixtures_dir, tmp_path):
    ds = _read_fixture(fixtures_dir)
    mid = tmp_path / "mid.json"
    r1 = segmill.write(ds, mid, "coco", segmentation="rle")
    r2 = segmill.write(segmill.read(mid), tmp_path / "back.json", "coco", segmentation="polygon")
    assert "L101" in r1.summary() and r2.lossless
    back = _anns(json.loads((tmp_path / "back.json").read_text()))
    orig = from_polygons([[5.5, 0.5, 7.5, 0.5, 7.5, 2.5], [5, 4, 7, 4, 7, 6, 5, 6]], 6, 8)
    assert from_polygons(back[2]["segmentation"], 6, 8) == orig
    assert back[2]["segmentation"] != [[5.5, 0.5, 7.5, 0.5, 7.5, 2.5], [5, 4, 7, 4, 7, 6, 5, 6]]


def test_recompute_uses_shoelace_area_and_vertex_extent_for_polygons(fixtures_dir, tmp_path):
    ds = _read_fixture(fixtures_dir)
    ds.items[0].annotations[1].area = 123.0
    doc, _ = _write(ds, tmp_path, recompute=True)
    a = _anns(doc)[2]
    assert a["area"] == pytest.approx(2.0 + 4.0) and a["bbox"] == [5.0, 0.5, 2.5, 5.5]


def test_default_write_keeps_stored_area_even_when_wrong(fixtures_dir, tmp_path):
    ds = _read_fixture(fixtures_dir)
    ds.items[0].annotations[1].area = 123.0
    doc, _ = _write(ds, tmp_path)
    assert _anns(doc)[2]["area"] == 123.0


def test_replaced_geometry_gets_area_and_bbox_recomputed(fixtures_dir, tmp_path):
    ds = _read_fixture(fixtures_dir)
    ds.items[0].annotations[0].geometry = Polygons([[0, 0, 2, 0, 2, 3, 0, 3]])
    doc, _ = _write(ds, tmp_path)
    a = _anns(doc)[1]
    assert a["segmentation"] == [[0.0, 0.0, 2.0, 0.0, 2.0, 3.0, 0.0, 3.0]]
    assert a["area"] == 6.0 and a["bbox"] == [0.0, 0.0, 2.0, 3.0]


def _foreign_dataset():
    m = np.zeros((4, 6), bool)
    m[1:3, 2:5] = True
    anns = [
        Annotation("m1", "car", Mask(m)),
        Annotation("c1", "car", encode(m), iscrowd=True),
        Annotation("b1", "person", Box(0.5, 0.5, 2, 1)),
        Annotation("s1", "person", Shape("point", [[1, 1]])),
    ]
    items = [Item("frame_b", "b.png", 6, 4, anns, split="train"), Item("frame_a", "a.png", 6, 4, [], split="val")]
    return Dataset([Category("person", "person"), Category("car", "car")], items), m


def test_masks_from_other_formats_become_compressed_rle_and_crowd_uncompressed(tmp_path):
    ds, m = _foreign_dataset()
    doc, _ = _write(ds, tmp_path)
    mask_ann, crowd_ann = doc["annotations"][0], doc["annotations"][1]
    assert isinstance(mask_ann["segmentation"]["counts"], str)
    assert isinstance(crowd_ann["segmentation"]["counts"], list) and crowd_ann["iscrowd"] == 1
    assert mask_ann["area"] == 6 and mask_ann["bbox"] == [2.0, 1.0, 3.0, 2.0]


def test_boxes_become_four_point_polygons_with_the_box_as_bbox(tmp_path):
    ds, _ = _foreign_dataset()
    doc, _ = _write(ds, tmp_path)
    box = doc["annotations"][2]
    assert box["segmentation"] == [[0.5, 0.5, 0.5, 1.5, 2.5, 1.5, 2.5, 0.5]]
    assert box["bbox"] == [0.5, 0.5, 2.0, 1.0] and box["area"] == 2.0


def test_shapes_are_dropped_with_loss_l002(tmp_path):
    ds, _ = _foreign_dataset()
    doc, report = _write(ds, tmp_path)
    assert len(doc["annotations"]) == 3 and report.summary()["L002"] == 1


def test_string_ids_get_deterministic_integer_ids_and_keep_the_original(tmp_path):
    ds, _ = _foreign_dataset()
    doc, report = _write(ds, tmp_path)
    assert [(i["id"], i["segmill_id"]) for i in doc["images"]] == [(1, "frame_b"), (2, "frame_a")]
    assert [(c["id"], c["segmill_id"]) for c in doc["categories"]] == [(1, "person"), (2, "car")]
    assert [(a["id"], a["image_id"], a["category_id"]) for a in doc["annotations"]] == [(1, 1, 2), (2, 1, 2), (3, 1, 1)]
    assert doc["annotations"][0]["segmill_id"] == "m1"
    assert any("ids" in n for n in report.notes)


def test_items_from_several_splits_report_loss_l105(tmp_path):
    ds, _ = _foreign_dataset()
    _, report = _write(ds, tmp_path)
    assert report.summary()["L105"] == 2


def test_annotation_attributes_from_other_formats_go_to_the_attributes_dict(tmp_path):
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4, [
        Annotation(1, 1, Box(0, 0, 1, 1), attributes={"occluded": True, "z_order": 2})])])
    doc, report = _write(ds, tmp_path)
    assert doc["annotations"][0]["attributes"] == {"occluded": True, "z_order": 2}
    assert report.lossless


def test_unserializable_attribute_is_dropped_with_loss_l001(tmp_path):
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4, [
        Annotation(1, 1, Box(0, 0, 1, 1), attributes={"ok": 1, "bad": object()})])])
    doc, report = _write(ds, tmp_path)
    assert doc["annotations"][0]["attributes"] == {"ok": 1}
    assert report.summary() == {"L001": 1}


def test_strict_write_raises_and_leaves_nothing(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    with pytest.raises(LossError):
        segmill.write(_read_fixture(fixtures_dir), out, "coco", strict=True, segmentation="rle")
    assert list(tmp_path.iterdir()) == []


def test_written_file_loads_in_pycocotools_and_gives_the_same_rles(fixtures_dir, tmp_path):
    from pycocotools.coco import COCO

    ds, _ = _foreign_dataset()
    out = tmp_path / "o.json"
    segmill.write(ds, out, "coco")
    c = COCO(str(out))
    for a in c.dataset["annotations"]:
        r = c.annToRLE(a)
        assert r["size"] == [4, 6]


def test_annotation_without_category_from_another_format_is_dropped_with_l003(tmp_path):
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4, [
        Annotation(1, None, Box(0, 0, 1, 1)), Annotation(2, 1, Box(0, 0, 2, 2))])])
    doc, report = _write(ds, tmp_path)
    assert [a["id"] for a in doc["annotations"]] == [2]
    assert report.summary() == {"L003": 1}


def test_area_and_bbox_stored_by_another_reader_are_kept_when_the_shape_is_kept(tmp_path):
    poly = Polygons([[0, 0, 3, 0, 3, 3, 0, 3]])
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4, [Annotation(1, 1, poly, area=16.0, bbox=(0, 0, 4, 4))])])
    doc, _ = _write(ds, tmp_path)
    assert doc["annotations"][0]["area"] == 16.0 and doc["annotations"][0]["bbox"] == [0, 0, 4, 4]
    (tmp_path / "out.json").unlink()
    doc, _ = _write(ds, tmp_path, segmentation="rle")
    assert doc["annotations"][0]["area"] == 9 and doc["annotations"][0]["bbox"] == [0.0, 0.0, 3.0, 3.0]


def _interleaved_coco(tmp_path, n=60):
    """A COCO file of three images whose annotations alternate between them (crowd ones too)."""
    rng = np.random.default_rng(11)
    sizes = {1: (23, 31), 2: (40, 17), 3: (9, 9)}
    anns = []
    for k in range(n):
        iid = 1 + k % 3
        h, w = sizes[iid]
        x, y = rng.uniform(-2, w), rng.uniform(-2, h)
        seg = [[round(x, 2), round(y, 2), round(x + rng.uniform(1, 9), 2), round(y, 2), round(x + 1, 2),
                round(y + rng.uniform(1, 9), 2)]]
        anns.append({"id": k + 1, "image_id": iid, "category_id": 1, "segmentation": seg, "area": 1.0,
                     "bbox": [0.0, 0.0, 1.0, 1.0], "iscrowd": int(k % 7 == 0)})
    images = [{"id": i, "file_name": f"{i}.png", "height": h, "width": w} for i, (h, w) in sizes.items()]
    src = tmp_path / "in.json"
    src.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]}))
    return src, anns, sizes


def test_rle_target_rasterizes_each_image_once_in_file_order_like_pycocotools(tmp_path, monkeypatch):
    from segmill import raster
    from segmill.formats import _coco_write

    src, anns, sizes = _interleaved_coco(tmp_path)
    calls = []
    real = raster.rasterize_packed
    monkeypatch.setattr(_coco_write, "rasterize_packed", lambda g, s, r: calls.append(len(g)) or real(g, s, r))
    ds = segmill.read(src)
    doc, report = _write(ds, tmp_path, segmentation="rle")
    assert sorted(calls) == [20, 20, 20]  # one batch per image
    assert [a["id"] for a in doc["annotations"]] == [a["id"] for a in anns]  # file order kept
    for a, got in zip(anns, doc["annotations"]):
        h, w = sizes[a["image_id"]]
        want = mu.merge(mu.frPyObjects(a["segmentation"], h, w))
        if a["iscrowd"]:
            assert got["segmentation"] == {"size": [h, w], "counts": from_polygons(a["segmentation"], h, w).to_coco(
                compressed=False)["counts"]}
        else:
            assert got["segmentation"] == {"size": [h, w], "counts": want["counts"].decode()}
        assert got["area"] == int(mu.area(want)) and got["bbox"] == mu.toBbox(want).tolist()
    assert report.summary() == {"L101": len(anns)}
    assert all(it.annotations[0].geometry._cache is None for it in ds.items)  # no mask kept on the model


def test_rle_target_output_is_the_same_as_one_annotation_at_a_time(tmp_path):
    """Foreign geometries (boxes, masks, polygons without COCO keys) take the general path: same values."""
    ds, _ = _foreign_dataset()
    ds.items[0].annotations.append(Annotation("p", "car", Polygons([[0.2, 0.1, 5.5, 0.3, 3, 3.7]])))
    doc, _ = _write(ds, tmp_path, segmentation="rle")
    h, w = 4, 6
    by_id = {a.get("segmill_id", a["id"]): a for a in doc["annotations"]}
    for ann in ds.items[0].annotations:
        g = ann.geometry
        if isinstance(g, Shape):
            continue
        r = ann.to_rle(h, w)
        got = by_id[ann.id]
        assert got["segmentation"] == r.to_coco(compressed=not ann.iscrowd)
        if not isinstance(g, Mask):
            assert got["area"] == r.area and got["bbox"] == list(r.bbox)


def test_a_polygon_that_cannot_be_rasterized_stops_the_rle_write_with_its_error(tmp_path):
    from segmill.errors import PolygonError

    far = Polygons([[0, 0, 1.9e8, 0, 0, 1.9e8]])
    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4, [
        Annotation(1, 1, Box(0, 0, 1, 1)), Annotation(2, 1, far)])])
    with pytest.raises(PolygonError, match="too long"):
        segmill.write(ds, tmp_path / "o.json", "coco", segmentation="rle")
    assert list(tmp_path.iterdir()) == []


def test_whole_image_rle_records_equal_the_one_by_one_records(tmp_path, monkeypatch):
    """The bulk path for images of plain polygons writes the very bytes the per-annotation path writes."""
    import json

    import segmill
    from segmill.formats import _coco_write

    rng = np.random.default_rng(5)
    anns = []
    for i in range(300):
        x, y = rng.uniform(0, 60, 2).round(2)
        anns.append({"id": i + 1, "image_id": 1 + i % 3, "category_id": 1 + i % 2,
                     "segmentation": [[x, y, x + 7.5, y, x + 3.1, y + 6.2]], "area": 1.0,
                     "bbox": [x, y, 7.5, 6.2], "iscrowd": 0})
    anns[7]["iscrowd"] = 1  # image 2 goes one by one: a crowd region is written uncompressed
    doc = {"images": [{"id": k, "file_name": f"{k}.png", "width": 80, "height": 70} for k in (1, 2, 3)],
           "annotations": sorted(anns, key=lambda a: a["image_id"]), "categories": [{"id": 1, "name": "a"},
                                                                                   {"id": 2, "name": "b"}]}
    (tmp_path / "in.json").write_text(json.dumps(doc))
    ds = segmill.read(tmp_path / "in.json", "coco")
    taken = []
    real = _coco_write._bulk_rle

    def spy(*args):
        out = real(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(_coco_write, "_bulk_rle", spy)
    bulk = segmill.write(ds, tmp_path / "bulk.json", "coco", segmentation="rle")
    assert taken == [True, False, True]  # image 2 holds the crowd region
    monkeypatch.setattr(_coco_write, "_bulk_rle", lambda *a: None)
    single = segmill.write(ds, tmp_path / "single.json", "coco", segmentation="rle")
    assert (tmp_path / "bulk.json").read_bytes() == (tmp_path / "single.json").read_bytes()
    assert bulk.losses == single.losses and bulk.annotations == single.annotations == 300
