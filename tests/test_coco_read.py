"""COCO instances reader: what it builds, and how it refuses bad input."""

from __future__ import annotations

import json

import pytest

import segmill
from segmill.errors import InputError
from segmill.formats.coco import CocoBox, CocoPolygons, CocoRLE
from segmill.geometry import InvalidGeometry

BASE = {
    "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}],
    "annotations": [],
    "categories": [{"id": 5, "name": "thing"}],
}


def _write(tmp_path, obj, name="in.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def _with_ann(**fields):
    ann = {"id": 10, "image_id": 1, "category_id": 5, "segmentation": [[0, 0, 4, 0, 4, 4]], "area": 8.0,
           "bbox": [0, 0, 4, 4], "iscrowd": 0}
    ann.update(fields)
    return dict(BASE, annotations=[ann])


def _error(tmp_path, obj, **opts) -> str:
    with pytest.raises(InputError) as ei:
        segmill.read(_write(tmp_path, obj), format="coco", **opts)
    return str(ei.value)


def test_reader_builds_one_geometry_kind_per_encoding(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    kinds = {a.id: type(a.geometry) for _, a in ds.annotations()}
    assert kinds == {1: CocoPolygons, 2: CocoPolygons, 3: CocoRLE, 900100000004: CocoRLE, 5: CocoBox}


def test_reader_keeps_sparse_category_ids_and_stored_area_bbox(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    assert [c.id for c in ds.categories] == [1, 3, 18]
    ann = ds.items[0].annotations[1]
    assert ann.area == 6.0 and ann.bbox == (5.0, 0.5, 2.5, 5.5)


def test_reader_puts_unknown_fields_in_extra_and_attributes_in_attributes(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    ann = ds.items[0].annotations[1]
    assert ann.extra == {"x_review": "ok"} and ann.attributes == {"occluded": True}
    assert ds.items[0].extra == {"license": 1, "x_camera": "left"}
    assert ds.categories[1].extra == {"x_color_hint": "#ff0000"}
    assert ds.extra == {"x_dataset_note": "unknown top-level field, must survive a round trip"}


def test_lazy_polygons_give_the_same_pixels_as_pycocotools(fixtures_dir):
    from pycocotools import mask as mu

    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    item = ds.items[0]
    for ann in item.annotations[:2]:
        seg = ann.geometry.source
        want = mu.merge(mu.frPyObjects(seg, item.height, item.width))
        got = ann.to_rle(item.height, item.width)
        assert got.to_coco()["counts"] == want["counts"].decode()


def test_rasterize_items_matches_pycocotools_on_synthetic_data():
    from pycocotools import mask as mu

    from segmill.formats.coco import rasterize_items
    from segmill.synth import coco_dict

    d = coco_dict(30, seed=2)
    import tempfile, pathlib

    with tempfile.TemporaryDirectory() as t:
        p = pathlib.Path(t) / "s.json"
        p.write_text(json.dumps(d))
        ds = segmill.read(p)
    rles = rasterize_items(ds.items)
    n = 0
    for it, rs in zip(ds.items, rles):
        for a, r in zip(it.annotations, rs):
            seg = a.geometry.raw if isinstance(a.geometry, CocoRLE) else a.geometry.source
            want = mu.frPyObjects(seg, it.height, it.width)
            want = mu.merge(want) if isinstance(want, list) else want
            assert r.to_coco()["counts"] == want["counts"].decode()
            n += 1
    assert n > 100


def test_invalid_json_reports_line_and_column(tmp_path):
    msg = _error(tmp_path, '{\n  "images": [\n    {"id": 1,,}\n  ]\n}')
    assert "in.json" in msg and "line 3" in msg and "column" in msg


def test_truncated_json_is_an_input_error(tmp_path):
    text = json.dumps(_with_ann())
    msg = _error(tmp_path, text[: len(text) // 2])
    assert "invalid JSON at line 1" in msg


def test_top_level_list_is_refused_with_a_hint_to_coco_results(tmp_path):
    assert "coco_results" in _error(tmp_path, [{"image_id": 1, "score": 0.5}])


def test_missing_images_list_is_refused(tmp_path):
    assert "'images'" in _error(tmp_path, {"annotations": []})


def test_annotation_pointing_to_missing_image_names_the_annotation(tmp_path):
    msg = _error(tmp_path, _with_ann(image_id=99))
    assert "annotation id 10" in msg and "image_id 99" in msg


def test_annotation_pointing_to_missing_category_names_the_annotation(tmp_path):
    msg = _error(tmp_path, _with_ann(category_id=6))
    assert "annotation id 10" in msg and "category_id 6" in msg


def test_duplicate_annotation_ids_are_refused(tmp_path):
    d = _with_ann()
    d["annotations"].append(dict(d["annotations"][0]))
    assert "duplicate annotation id 10" in _error(tmp_path, d)


def test_duplicate_image_ids_are_refused(tmp_path):
    d = dict(BASE, images=BASE["images"] * 2)
    assert "duplicate image id 1" in _error(tmp_path, d)


def test_rle_size_not_matching_the_image_is_refused(tmp_path):
    msg = _error(tmp_path, _with_ann(segmentation={"size": [5, 8], "counts": [40]}))
    assert "annotation id 10" in msg and "does not match the image size" in msg


def test_rle_counts_not_summing_to_h_times_w_are_refused(tmp_path):
    msg = _error(tmp_path, _with_ann(segmentation={"size": [6, 8], "counts": [10, 5]}))
    assert "annotation id 10" in msg and "48 pixels" in msg


def test_malformed_compressed_counts_are_refused(tmp_path):
    msg = _error(tmp_path, _with_ann(segmentation={"size": [6, 8], "counts": "~~~"}))
    assert "annotation id 10" in msg and "alphabet" in msg


def test_polygon_with_fewer_than_three_points_is_refused(tmp_path):
    msg = _error(tmp_path, _with_ann(segmentation=[[0, 0, 4, 0]]))
    assert "annotation id 10" in msg and "at least 3" in msg


def test_polygon_with_odd_coordinate_count_is_refused(tmp_path):
    assert "odd number" in _error(tmp_path, _with_ann(segmentation=[[0, 0, 4, 0, 4, 4, 1]]))


def test_polygon_with_a_string_coordinate_is_refused(tmp_path):
    assert "not a number" in _error(tmp_path, _with_ann(segmentation=[[0, 0, "4", 0, 4, 4]]))


def test_polygon_with_nan_is_refused(tmp_path):
    text = json.dumps(_with_ann()).replace("[[0, 0, 4, 0, 4, 4]]", "[[0, 0, NaN, 0, 4, 4]]")
    assert "NaN or infinite" in _error(tmp_path, text)


def test_absurd_image_size_is_refused(tmp_path):
    d = dict(BASE, images=[{"id": 1, "file_name": "a.png", "width": 10**6, "height": 10**6}])
    assert "absurd" in _error(tmp_path, d)


def test_bbox_that_is_not_four_numbers_is_refused(tmp_path):
    assert "bbox must be four" in _error(tmp_path, _with_ann(bbox=[0, 0, 4]))


def test_skip_mode_drops_bad_records_and_lists_each(tmp_path):
    d = _with_ann()
    d["annotations"].append(dict(d["annotations"][0], id=11, segmentation=[[1, 2]]))
    d["annotations"].append(dict(d["annotations"][0], id=12, image_id=77))
    ds = segmill.read(_write(tmp_path, d), format="coco", errors="skip")
    assert [a.id for _, a in ds.annotations()] == [10]
    records = [s["record"] for s in ds.meta["skipped"]]
    assert len(records) == 2 and "annotation id 11" in records[0] and "annotation id 12" in records[1]


def test_keep_mode_keeps_bad_geometry_as_invalid_geometry(tmp_path):
    ds = segmill.read(_write(tmp_path, _with_ann(segmentation=[[1, 2]])), format="coco", errors="keep")
    (ann,) = ds.items[0].annotations
    assert isinstance(ann.geometry, InvalidGeometry) and ann.geometry.raw == [[1, 2]]


def test_keep_mode_keeps_annotations_of_missing_images_under_a_placeholder(tmp_path):
    ds = segmill.read(_write(tmp_path, _with_ann(image_id=99)), format="coco", errors="keep")
    assert ds.meta["placeholder_images"] == [99]
    assert [a.id for _, a in ds.annotations()] == [10]


def test_reading_never_modifies_the_input(fixtures_dir):
    p = fixtures_dir / "coco" / "annotations.json"
    before = p.read_bytes()
    segmill.read(p)
    assert p.read_bytes() == before


def test_two_reads_of_one_file_give_equal_datasets(fixtures_dir):
    p = fixtures_dir / "coco" / "annotations.json"
    assert segmill.read(p) == segmill.read(p)
