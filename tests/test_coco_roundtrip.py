"""COCO instances: read -> write with defaults gives JSON equal to the input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import segmill
from segmill.synth import coco_dict


def _roundtrip(src: Path, tmp_path: Path, **options):
    ds = segmill.read(src, format="coco")
    out = tmp_path / "out.json"
    report = segmill.write(ds, out, "coco", **options)
    return json.loads(src.read_text()), json.loads(out.read_text()), report


def test_fixture_round_trip_is_equal_json_and_lossless(fixtures_dir, tmp_path):
    before, after, report = _roundtrip(fixtures_dir / "coco" / "annotations.json", tmp_path)
    assert after == before
    assert report.lossless


def test_round_trip_keeps_key_order_of_every_record(fixtures_dir, tmp_path):
    before, after, _ = _roundtrip(fixtures_dir / "coco" / "annotations.json", tmp_path)
    assert list(after) == list(before)
    for key in ("images", "annotations", "categories"):
        assert [list(r) for r in after[key]] == [list(r) for r in before[key]]


def test_round_trip_keeps_integer_polygon_coordinates_as_integers(fixtures_dir, tmp_path):
    _, after, _ = _roundtrip(fixtures_dir / "coco" / "annotations.json", tmp_path)
    seg = after["annotations"][0]["segmentation"][0]
    assert all(type(v) is int for v in seg)


def test_round_trip_keeps_rle_encodings_as_found(fixtures_dir, tmp_path):
    _, after, _ = _roundtrip(fixtures_dir / "coco" / "annotations.json", tmp_path)
    by_id = {a["id"]: a for a in after["annotations"]}
    assert by_id[3]["segmentation"] == {"size": [6, 8], "counts": [2, 4, 42]}
    assert by_id[900100000004]["segmentation"] == {"counts": "5220003", "size": [4, 5]}


def test_round_trip_keeps_non_canonical_uncompressed_counts(tmp_path):
    # Empty interior runs are not canonical; segmill.rle.RLE folds them, the file must not change.
    d = {"images": [{"id": 1, "file_name": "a.png", "width": 2, "height": 2}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "area": 2, "bbox": [0, 0, 1, 2],
                          "segmentation": {"size": [2, 2], "counts": [0, 1, 0, 1, 2]}}],
         "categories": [{"id": 1, "name": "a"}]}
    src = tmp_path / "in.json"
    src.write_text(json.dumps(d))
    before, after, _ = _roundtrip(src, tmp_path)
    assert after == before


def test_round_trip_keeps_annotation_order_not_grouped_by_image(tmp_path):
    d = coco_dict(12, seed=5)
    src = tmp_path / "in.json"
    src.write_text(json.dumps(d))
    image_ids = [a["image_id"] for a in d["annotations"]]
    assert image_ids != sorted(image_ids, key=[i["id"] for i in d["images"]].index)  # the test needs interleaving
    before, after, _ = _roundtrip(src, tmp_path)
    assert [a["id"] for a in after["annotations"]] == [a["id"] for a in before["annotations"]]


def test_synthetic_dataset_round_trips_exactly(tmp_path):
    src = tmp_path / "synth.json"
    src.write_text(json.dumps(coco_dict(150, seed=11)))
    before, after, report = _roundtrip(src, tmp_path)
    assert after == before
    assert report.lossless


def test_round_trip_after_removing_an_annotation_writes_the_rest_in_item_order(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    del ds.items[0].annotations[0]
    out = tmp_path / "o.json"
    segmill.write(ds, out, "coco")
    ids = [a["id"] for a in json.loads(out.read_text())["annotations"]]
    assert ids == [2, 3, 900100000004, 5]


def _corpus_coco_files(corpus: Path) -> list[Path]:
    root = corpus / "datumaro" / "coco_dataset"
    files = sorted(root.rglob("*.json"))
    # Captions files reference category 0, which they do not declare: not instances data.
    return [f for f in files if "captions" not in f.name and "panoptic" not in f.name]


def test_every_corpus_coco_instances_file_round_trips_exactly(corpus, tmp_path):
    files = _corpus_coco_files(corpus)
    assert files, "no COCO files found in the corpus"
    for i, f in enumerate(files):
        ds = segmill.read(f, format="coco")
        out = tmp_path / f"{i}.json"
        report = segmill.write(ds, out, "coco")
        assert json.loads(out.read_text()) == json.loads(f.read_text()), f
        assert report.lossless, f


def test_corpus_panoptic_json_read_as_coco_also_round_trips(corpus, tmp_path):
    f = corpus / "datumaro" / "coco_dataset" / "coco_panoptic" / "annotations" / "panoptic_val.json"
    ds = segmill.read(f, format="coco")
    out = tmp_path / "p.json"
    segmill.write(ds, out, "coco")
    assert json.loads(out.read_text()) == json.loads(f.read_text())


def test_corpus_instances_val_holds_the_documented_content(corpus):
    f = corpus / "datumaro" / "coco_dataset" / "coco_instances" / "annotations" / "instances_val.json"
    ds = segmill.read(f)
    assert [c.id for c in ds.categories] == [1, 2, 4]
    (item,) = ds.items
    poly, crowd = item.annotations
    assert poly.attributes == {"x": 1, "y": "hello"}
    assert isinstance(crowd.geometry, segmill.RLE) and crowd.iscrowd
    assert crowd.geometry.area == 20 and (crowd.geometry.height, crowd.geometry.width) == (10, 5)


@pytest.fixture
def compacting(monkeypatch):
    """Make every file 'big', so the reader takes its memory-lean parsing path."""
    import segmill.formats._coco_read as r

    monkeypatch.setattr(r, "COMPACT_BYTES", 0)


def test_big_file_path_round_trips_exactly_with_mixed_int_and_float_parts(compacting, fixtures_dir, tmp_path):
    d = coco_dict(40, seed=12)
    d["annotations"][0]["segmentation"] = [[1, 2.5, 4, 2, 4.0, 6, 1, 6], [7.5, 7.5, 9.5, 7.5, 9.5, 9.5]]
    src = tmp_path / "big.json"
    src.write_text(json.dumps(d))
    before, after, report = _roundtrip(src, tmp_path)
    assert after == before and report.lossless
    seg = after["annotations"][0]["segmentation"]
    assert [type(v) for v in seg[0][:3]] == [int, float, int]


def test_big_file_path_gives_the_same_pixels(compacting, tmp_path):
    from segmill.formats.coco import rasterize_items

    src = tmp_path / "big.json"
    src.write_text(json.dumps(coco_dict(20, seed=13)))
    compact = segmill.read(src)
    import segmill.formats._coco_read as r

    r.COMPACT_BYTES = 1 << 60
    plain = segmill.read(src)
    assert rasterize_items(compact.items) == rasterize_items(plain.items)


def test_big_file_path_still_reports_nan_with_the_annotation_id(compacting, tmp_path):
    text = json.dumps(coco_dict(3, seed=1))
    first = json.loads(text)["annotations"][0]
    x = first["segmentation"][0][0]
    text = text.replace(f"[[{x}, ", "[[NaN, ", 1)
    src = tmp_path / "nan.json"
    src.write_text(text)
    with pytest.raises(segmill.InputError, match=f"annotation id {first['id']}.*NaN"):
        segmill.read(src)


def test_round_trip_is_exact_with_the_standard_library_json_too(monkeypatch, fixtures_dir, tmp_path):
    import segmill.formats._coco_json as J

    monkeypatch.setattr(J, "_orjson", None)
    src = tmp_path / "synth.json"
    src.write_text(json.dumps(coco_dict(30, seed=21)))
    before, after, report = _roundtrip(src, tmp_path)
    assert after == before and report.lossless
    (tmp_path / "out.json").unlink()
    before, after, _ = _roundtrip(fixtures_dir / "coco" / "annotations.json", tmp_path)
    assert after == before


def test_big_file_path_keeps_invalid_polygons_as_the_lists_found(compacting, tmp_path):
    d = coco_dict(3, seed=2)
    d["annotations"][0]["segmentation"] = [[1.5, 2.5, 3.5, 4.5]]
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(d))
    ds = segmill.read(src, errors="keep")
    bad = [a for _, a in ds.annotations() if a.id == d["annotations"][0]["id"]][0]
    assert bad.geometry.raw == [[1.5, 2.5, 3.5, 4.5]]


def test_deep_copied_and_pickled_datasets_still_round_trip_exactly(fixtures_dir, tmp_path):
    import copy
    import pickle

    src = fixtures_dir / "coco" / "annotations.json"
    ds = segmill.read(src)
    for k, clone in enumerate((copy.deepcopy(ds), pickle.loads(pickle.dumps(ds)))):
        assert clone == ds
        out = tmp_path / f"c{k}.json"
        segmill.write(clone, out, "coco")
        assert json.loads(out.read_text()) == json.loads(src.read_text())


def test_standard_keys_with_odd_types_round_trip_through_extra(tmp_path):
    d = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4, "attributes": ["x"]}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 2, 0, 2, 2]],
                          "area": 2.0, "bbox": [0, 0, 2, 2], "iscrowd": 0, "attributes": "night"}],
         "categories": [{"id": 1, "name": "a", "supercategory": None, "color": "#ff0000", "isthing": "yes"}]}
    src = tmp_path / "odd.json"
    src.write_text(json.dumps(d))
    before, after, report = _roundtrip(src, tmp_path)
    assert after == before and report.lossless
