"""`segmill info` through click's runner and the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from segmill.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def test_info_prints_format_reason_and_counts(fixtures_dir):
    r = _run("info", fixtures_dir / "coco" / "annotations.json")
    assert r.exit_code == 0
    out = r.stdout
    assert "format: coco (JSON object with COCO key(s)" in out
    assert "images: 3 (1 without annotations)" in out
    assert "annotations: 5 (crowd: 1)" in out
    assert "image size: width 5-10, height 4-10" in out
    assert "geometry: polygon 2, rle 2, box 1 (multi-part polygons: 1)" in out


def test_info_json_lists_annotations_per_category(fixtures_dir):
    r = _run("info", fixtures_dir / "coco" / "annotations.json", "--json")
    s = json.loads(r.stdout)
    assert s["format"] == "coco" and s["crowd"] == 1
    assert [(c["id"], c["annotations"]) for c in s["categories"]] == [(1, 2), (3, 2), (18, 1)]
    assert s["image_size"] == {"width": [5, 10], "height": [4, 10], "unknown": 0}


def test_info_with_explicit_format_says_so(fixtures_dir):
    r = _run("info", fixtures_dir / "coco" / "results.json", "--format", "coco_results",
             "--images", fixtures_dir / "coco" / "annotations.json")
    assert r.exit_code == 0 and "given with --format" in r.stdout and "annotations: 2" in r.stdout


def test_info_on_undetectable_file_exits_2_listing_candidates(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    r = _run("info", p)
    assert r.exit_code == 2 and "cannot tell the format" in r.stderr and "Traceback" not in r.stderr


def test_info_on_invalid_json_exits_2_with_line_and_no_traceback(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"images": [1, 2,,]}')
    r = subprocess.run([sys.executable, "-m", "segmill", "info", str(p), "--format", "coco"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "line 1" in r.stderr and "Traceback" not in r.stderr


def test_info_on_missing_path_exits_2(tmp_path):
    r = _run("info", tmp_path / "nope.json")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_info_skip_invalid_counts_and_lists_skipped_records(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                             "annotations": [{"id": 3, "image_id": 9, "category_id": 1}],
                             "categories": [{"id": 1, "name": "a"}]}))
    assert _run("info", p).exit_code == 2
    r = _run("info", p, "--skip-invalid")
    assert r.exit_code == 0 and "skipped records: 1" in r.stdout and "annotation id 3" in r.stderr
