"""`segmill diff` and `segmill gate` command lines: options, exit codes, outputs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from segmill.cli import main

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "gate"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_diff_of_the_fixture_pair_reports_the_planted_changes_as_json():
    r = run("diff", FIX / "base.json", FIX / "head.json", "--output-format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["annotations"]["relabelled"] == 1 and d["annotations"]["reshaped"] == 1
    assert d["annotations"]["added"] == 2 and d["images"]["added"] == 1
    assert [c["kind"] for c in d["categories"]["changes"]] == ["renamed"]


def test_diff_exit_code_flag_exits_1_on_changes_and_0_without():
    assert run("diff", FIX / "base.json", FIX / "head.json", "--exit-code").exit_code == 1
    assert run("diff", FIX / "base.json", FIX / "base.json", "--exit-code").exit_code == 0


def test_diff_writes_markdown_to_a_file(tmp_path):
    out = tmp_path / "diff.md"
    r = run("diff", FIX / "base.json", FIX / "head.json", "--output-format", "markdown", "-o", out)
    assert r.exit_code == 0
    assert out.read_text().startswith("### segmill diff:")


def test_diff_with_one_path_and_no_base_rev_is_a_usage_error():
    r = run("diff", FIX / "head.json")
    assert r.exit_code == 2 and "give BASE and HEAD" in r.output


def test_missing_input_exits_2_without_traceback(tmp_path):
    r = run("gate", tmp_path / "nope.json", FIX / "head.json")
    assert r.exit_code == 2 and "no such file" in r.output and isinstance(r.exception, SystemExit)


def test_gate_select_runs_only_the_selected_rules():
    r = run("gate", FIX / "base.json", FIX / "head.json", "--select", "GATE005", "--output-format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["summary"]["by_rule"] == {"GATE005": 1}


def test_gate_config_file_thresholds_apply(tmp_path):
    cfg = tmp_path / "segmill.toml"
    cfg.write_text("[gate]\nmax-modified-share = 50\n")
    r = run("gate", FIX / "base.json", FIX / "head.json", "--config", cfg)
    assert r.exit_code == 0, r.output


def test_gate_bad_config_value_exits_2(tmp_path):
    cfg = tmp_path / "segmill.toml"
    cfg.write_text('[gate]\nmax-modified-share = "lots"\n')
    r = run("gate", FIX / "base.json", FIX / "head.json", "--config", cfg)
    assert r.exit_code == 2 and "max-modified-share" in r.output


def test_gate_annotators_option_enables_the_agreement_rule(tmp_path):
    data = json.loads((FIX / "base.json").read_text())
    for a in data["annotations"]:
        a["segmentation"] = [[v + 40 for v in part] for part in a["segmentation"]]  # nothing overlaps any more
    other = tmp_path / "bob.json"
    other.write_text(json.dumps(data))
    r = run("gate", FIX / "base.json", FIX / "base.json", "--annotators", FIX / "base.json",
            "--annotators", other, "--output-format", "json")
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["summary"]["by_rule"] == {"GATE020": 1}
    assert report["agreement"]["annotators"] == ["base", "bob"]
