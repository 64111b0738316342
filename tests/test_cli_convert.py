"""`segmill convert` and `segmill formats` through click's runner and the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from segmill.cli import main


def _run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def _fixture(fixtures_dir):
    return fixtures_dir / "coco" / "annotations.json"


def test_convert_round_trip_exits_0_and_says_no_loss(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    r = _run("convert", _fixture(fixtures_dir), out)
    assert r.exit_code == 0
    assert "no loss" in r.stderr
    assert json.loads(out.read_text()) == json.loads(_fixture(fixtures_dir).read_text())


def test_convert_prints_loss_codes_counts_and_meaning(fixtures_dir, tmp_path):
    r = _run("convert", _fixture(fixtures_dir), tmp_path / "o.json", "--segmentation", "rle")
    assert r.exit_code == 0
    assert "L101 x2  polygon vertices rasterized" in r.stderr and "L104 x1" in r.stderr


def test_convert_strict_with_losses_exits_1_and_writes_nothing(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    r = _run("convert", _fixture(fixtures_dir), out, "--segmentation", "rle", "--strict")
    assert r.exit_code == 1 and "L101" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_convert_strict_without_losses_succeeds(fixtures_dir, tmp_path):
    r = _run("convert", _fixture(fixtures_dir), tmp_path / "o.json", "--strict")
    assert r.exit_code == 0


def test_convert_refuses_an_existing_destination_without_force(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    out.write_text("keep me")
    r = _run("convert", _fixture(fixtures_dir), out)
    assert r.exit_code == 2 and "--force" in r.stderr and out.read_text() == "keep me"


def test_convert_with_force_replaces_a_previous_coco_output(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    out.write_text('{"images": [], "annotations": [], "categories": []}')
    r = _run("convert", _fixture(fixtures_dir), out, "--force")
    assert r.exit_code == 0 and json.loads(out.read_text())["images"][0]["id"] == 42


def test_convert_refuses_to_write_over_its_source(fixtures_dir, tmp_path):
    src = tmp_path / "src.json"
    src.write_bytes(_fixture(fixtures_dir).read_bytes())
    r = _run("convert", src, src, "--force")
    assert r.exit_code == 2 and src.read_bytes() == _fixture(fixtures_dir).read_bytes()


def test_convert_bad_input_exits_2_without_traceback_or_output(tmp_path):
    src = tmp_path / "bad.json"
    src.write_text(json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                               "annotations": [{"id": 3, "image_id": 1, "category_id": 1,
                                                "segmentation": [[0, 0, 1, 1]]}],
                               "categories": [{"id": 1, "name": "a"}]}))
    out = tmp_path / "out" / "o.json"
    r = subprocess.run([sys.executable, "-m", "segmill", "convert", str(src), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "annotation id 3" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not any(p.name.endswith(".segmill-tmp") for p in tmp_path.rglob("*"))


def test_convert_skip_invalid_reports_each_skipped_record(tmp_path):
    src = tmp_path / "bad.json"
    src.write_text(json.dumps({"images": [{"id": 1, "file_name": "a", "width": 4, "height": 4}],
                               "annotations": [{"id": 3, "image_id": 1, "category_id": 1,
                                                "segmentation": [[0, 0, 1, 1]]},
                                               {"id": 4, "image_id": 1, "category_id": 1,
                                                "segmentation": [[0, 0, 2, 0, 2, 2]]}],
                               "categories": [{"id": 1, "name": "a"}]}))
    out = tmp_path / "o.json"
    r = _run("convert", src, out, "--skip-invalid")
    assert r.exit_code == 0
    assert "skipped 1 invalid record" in r.stderr and "annotation id 3" in r.stderr
    assert [a["id"] for a in json.loads(out.read_text())["annotations"]] == [4]


def test_convert_option_no_side_accepts_is_a_usage_error(fixtures_dir, tmp_path):
    r = _run("convert", _fixture(fixtures_dir), tmp_path / "o.json", "--labels", "x.txt")
    assert r.exit_code == 2 and "--labels" in r.output and not (tmp_path / "o.json").exists()


def test_convert_unknown_target_format_exits_2(fixtures_dir, tmp_path):
    r = _run("convert", _fixture(fixtures_dir), tmp_path / "o.json", "--to", "nonesuch")
    assert r.exit_code == 2 and "unknown format 'nonesuch'" in r.stderr


def test_convert_undetectable_source_exits_2(tmp_path):
    src = tmp_path / "x.bin"
    src.write_bytes(b"\x00\x01")
    r = _run("convert", src, tmp_path / "o.json")
    assert r.exit_code == 2 and "cannot tell the format" in r.stderr


def test_convert_json_report_on_stdout(fixtures_dir, tmp_path):
    r = _run("convert", _fixture(fixtures_dir), tmp_path / "o.json", "--to", "coco_results", "--json", "--quiet")
    rep = json.loads(r.stdout)
    assert rep["format"] == "coco_results" and rep["summary"]["L111"]["count"] == 5
    assert r.stderr == ""


def test_convert_results_with_images_option_reaches_the_reader(fixtures_dir, tmp_path):
    out = tmp_path / "o.json"
    r = _run("convert", fixtures_dir / "coco" / "results.json", out, "--to", "coco",
             "--images", _fixture(fixtures_dir))
    assert r.exit_code == 0
    assert [i["file_name"] for i in json.loads(out.read_text())["images"]] == ["a.png", "b.png", "c.png"]


def test_formats_lists_coco_options_and_loss_codes():
    r = _run("formats")
    assert r.exit_code == 0
    assert "coco [read/write, file]" in r.stdout and "segmentation (--segmentation) writer: keep as read" in r.stdout
    assert "L101  polygon vertices rasterized" in r.stdout


def test_formats_json_is_machine_readable():
    r = _run("formats", "--json")
    d = json.loads(r.stdout)
    assert any(f["name"] == "coco_results" for f in d["formats"]) and "L102" in d["loss_codes"]
