"""Format registry and detection for the COCO formats."""

from __future__ import annotations

import json

import pytest

import segmill
from segmill.errors import FormatDetectionError
from segmill.formats import detect, formats, get_format


def test_coco_and_coco_results_are_registered_as_file_formats():
    fm = formats()
    assert fm["coco"].output == "file" and fm["coco_results"].output == "file"
    assert fm["coco"].option("segmentation", "writer") and fm["coco_results"].option("images", "reader")


def test_instances_file_is_detected_as_coco_with_a_reason(fixtures_dir):
    spec, det = detect(fixtures_dir / "coco" / "annotations.json")
    assert spec.name == "coco" and "images" in det.reason


def test_results_file_is_detected_as_coco_results(fixtures_dir):
    spec, det = detect(fixtures_dir / "coco" / "results.json")
    assert spec.name == "coco_results" and "score" in det.reason


def test_panoptic_json_gets_lower_coco_confidence_than_instances(tmp_path, fixtures_dir):
    pan = {"images": [{"id": 1, "file_name": "a.jpg", "width": 2, "height": 2}],
           "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": []}],
           "categories": [{"id": 1, "name": "a", "isthing": 1}]}
    p = tmp_path / "panoptic.json"
    p.write_text(json.dumps(pan))
    coco = get_format("coco")
    assert coco.detect(p).confidence < 0.5 < coco.detect(fixtures_dir / "coco" / "annotations.json").confidence


def test_detection_peeks_only_at_the_ends_of_a_big_file(tmp_path):
    big = {"info": {"pad": "x" * 100_000}, "images": [], "annotations": [], "categories": []}
    p = tmp_path / "big.json"
    p.write_text(json.dumps(big))
    assert detect(p)[0].name == "coco"


def test_a_non_json_file_cannot_be_detected(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(FormatDetectionError, match="cannot tell the format"):
        detect(p)


def test_unknown_format_name_lists_the_known_ones():
    with pytest.raises(FormatDetectionError, match="coco_results"):
        get_format("coc")


def test_read_with_format_none_uses_detection(fixtures_dir):
    ds = segmill.read(fixtures_dir / "coco" / "annotations.json")
    assert ds.meta["source_format"] == "coco"


def test_the_format_order_does_not_depend_on_import_order():
    """Listings and detection ties follow the registry's module list, whatever was imported first."""
    import subprocess
    import sys

    code = ("import segmill.formats.cityscapes, segmill.formats.cvat, segmill.formats.voc\n"
            "from segmill.formats import formats, _MODULES\n"
            "assert list(formats()) == list(_MODULES), list(formats())\n")
    subprocess.run([sys.executable, "-c", code], check=True)
