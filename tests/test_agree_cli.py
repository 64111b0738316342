"""``segmill agree`` on the bundled fixtures: output, exit codes, consensus."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main


@pytest.fixture()
def agree_paths(fixtures_dir):
    d = fixtures_dir / "agree"
    return [str(d / "ann_a.json"), str(d / "ann_b.json"), str(d / "ann_c")]


def run(*args):
    return CliRunner().invoke(main, ["agree", *args, "--quiet"])


def test_text_summary_lists_pairs_and_missing_image(agree_paths):
    r = run(*agree_paths, "--names", "a,b,c")
    assert r.exit_code == 0, r.output
    assert "a vs b" in r.output and "img5.png: missing from b" in r.output


def test_json_output_carries_pq(agree_paths, tmp_path):
    out = tmp_path / "r.json"
    r = run(*agree_paths[:2], "--output-format", "json", "--output", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert 0.0 < d["pq"] < 1.0 and d["annotators"] == ["ann_a.json", "ann_b.json"]


def test_threshold_failure_exits_1(agree_paths):
    r = CliRunner().invoke(main, ["agree", *agree_paths[:2], "--min-pq", "0.99", "--quiet"])
    assert r.exit_code == 1
    assert "below the minimum 0.99" in r.output


def test_thresholds_met_exit_0(agree_paths):
    assert run(*agree_paths[:2], "--min-pq", "0.1", "--min-iou", "0.1", "--min-kappa", "0.1").exit_code == 0


def test_one_dataset_is_a_usage_error(agree_paths):
    assert run(agree_paths[0]).exit_code == 2


def test_unreadable_input_exits_2_without_traceback(tmp_path, agree_paths):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run(agree_paths[0], str(bad), "--format", "coco")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_unknown_reference_exits_2(agree_paths):
    assert run(*agree_paths[:2], "--reference", "nobody").exit_code == 2


def test_html_page_is_written(agree_paths, tmp_path):
    page = tmp_path / "r.html"
    r = run(*agree_paths, "--html", str(page), "--lowest", "2")
    assert r.exit_code == 0, r.output
    assert page.read_text().count("data:image/png;base64,") == 2


@pytest.mark.parametrize("method", ["majority", "staple"])
def test_consensus_is_written_as_a_dataset(agree_paths, tmp_path, method):
    out = tmp_path / "consensus.json"
    r = run(*agree_paths, "--consensus", method, "--consensus-out", str(out), "--to", "coco")
    assert r.exit_code == 0, r.output
    ds = segmill.read(out, "coco")
    assert {i.file_name for i in ds.items} == {"img1.png", "img2.png", "img3.png", "img4.png"}
    assert {c.name for c in ds.categories} == {"cat", "dog"}


def test_consensus_without_output_path_is_a_usage_error(agree_paths):
    assert run(*agree_paths[:2], "--consensus", "majority").exit_code == 2


def test_input_files_are_not_modified(agree_paths, tmp_path):
    before = [open(p, "rb").read() for p in agree_paths[:2]]
    run(*agree_paths[:2], "--consensus", "majority", "--consensus-out", str(tmp_path / "c.json"))
    assert [open(p, "rb").read() for p in agree_paths[:2]] == before


def test_staple_rater_estimates_are_in_the_json_report(agree_paths, tmp_path):
    out = tmp_path / "c.json"
    r = run(*agree_paths, "--names", "a,b,c", "--consensus", "staple", "--consensus-mode", "binary",
            "--consensus-out", str(out), "--to", "coco", "--output-format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d["consensus"]["staple"]["cat"]["sensitivity"]) == {"a", "b", "c"}


def test_one_label_studio_export_with_two_annotators_is_compared(fixtures_dir):
    # fixtures/label_studio/tasks.json: annotators 1 and 2 on 3/street.png, one car each
    import numpy as np
    import pycocotools.mask as M

    from segmill.formats.label_studio import by_annotator

    path = fixtures_dir / "label_studio" / "tasks.json"
    r = run(str(path), "--output-format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["annotators"] == ["1", "2"]
    pair = out["pairs"][0]["instance"]
    assert (pair["tp"], pair["fp"], pair["fn"]) == (2, 1, 1)
    cars = []  # the oracle: pycocotools' IoU of the two annotators' car masks
    for ds in by_annotator(path).values():
        car = next(c.id for c in ds.categories if c.name == "car")
        item = next(i for i in ds.items if i.file_name == "3/street.png")  # the image both annotated
        m = next(a for a in item.annotations if a.category_id == car).geometry.to_rle(item.height, item.width)
        cars.append(M.encode(np.asfortranarray(m.decode().astype(np.uint8))))
    assert pair["per_class"]["car"]["mean_iou"] == pytest.approx(float(M.iou([cars[0]], [cars[1]], [0])[0, 0]))


def test_one_file_of_a_single_annotator_format_is_a_usage_error(fixtures_dir):
    r = run(str(fixtures_dir / "coco" / "annotations.json"))
    assert r.exit_code == 2 and "holds one annotator's" in r.output
