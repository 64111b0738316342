"""COCO results (detections) files: read, write, and agree with pycocotools' loadRes."""

from __future__ import annotations

import json

import pytest

import segmill
from segmill.errors import InputError


def test_results_read_without_images_sizes_items_from_their_rles(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "results.json")
    assert ds.meta["source_format"] == "coco_results"
    assert [(it.id, it.height, it.width) for it in ds.items] == [(42, 6, 8), (7, 4, 5)]
    assert [a.score for _, a in ds.annotations()] == [0.9, 0.75]
    assert [c.id for c in ds.categories] == [1, 3]


def test_results_read_with_images_takes_names_sizes_and_categories(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "results.json", images=fixtures_dir / "coco" / "annotations.json")
    assert [it.file_name for it in ds.items] == ["a.png", "b.png", "c.png"]
    assert [c.name for c in ds.categories] == ["person", "car", "dog"]
    assert ds.num_annotations == 2


def test_results_round_trip_is_equal_json_and_lossless(fixtures_dir, tmp_path):
    src = fixtures_dir / "coco" / "results.json"
    out = tmp_path / "r.json"
    report = segmill.write(segmill.read(src), out, "coco_results")
    assert json.loads(out.read_text()) == json.loads(src.read_text())
    assert report.lossless


def test_results_area_and_bbox_derived_like_pycocotools_loadres(fixtures_dir):
    import contextlib
    import io

    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(fixtures_dir / "coco" / "annotations.json"))
        res = gt.loadRes(str(fixtures_dir / "coco" / "results.json"))
    ds = segmill.read(fixtures_dir / "coco" / "results.json")
    for (_, a), ref in zip(ds.annotations(), res.dataset["annotations"]):
        assert a.geometry.area == ref["area"]
        assert list(a.geometry.bbox) == list(ref["bbox"])


def test_instances_to_results_writes_compressed_rles_that_pycocotools_loads(fixtures_dir, tmp_path):
    import contextlib
    import io

    from pycocotools.coco import COCO

    out = tmp_path / "r.json"
    report = segmill.write(segmill.read(fixtures_dir / "coco" / "annotations.json"), out, "coco_results")
    recs = json.loads(out.read_text())
    assert all(isinstance(r["segmentation"]["counts"], str) for r in recs if "segmentation" in r)
    assert set(report.summary()) == {"L101", "L110", "L111", "L112"}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(fixtures_dir / "coco" / "annotations.json"))
        gt.loadRes([r for r in recs if "segmentation" in r])


def test_results_record_without_score_is_refused(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": 1, "category_id": 1, "segmentation": {"size": [2, 2], "counts": "04"}}]))
    with pytest.raises(InputError, match="score"):
        segmill.read(p, format="coco_results")


def test_results_image_missing_from_the_images_file_is_refused(fixtures_dir, tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": 5, "category_id": 1, "score": 0.5,
                              "segmentation": {"size": [2, 2], "counts": "04"}}]))
    with pytest.raises(InputError, match="image_id 5"):
        segmill.read(p, format="coco_results", images=fixtures_dir / "coco" / "annotations.json")


def test_results_rle_size_must_match_the_images_file(fixtures_dir, tmp_path):
    p = tmp_path / "r.json"
    p.write_text(json.dumps([{"image_id": 42, "category_id": 1, "score": 0.5,
                              "segmentation": {"size": [2, 2], "counts": "04"}}]))
    with pytest.raises(InputError, match="does not match the image size"):
        segmill.read(p, format="coco_results", images=fixtures_dir / "coco" / "annotations.json")


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: coco_results: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "coco_results"): {"L101", "L110", "L111", "L112"},
    ("coco_results", "coco"): set(),
    ("coco_results", "coco_results"): set(),
}
