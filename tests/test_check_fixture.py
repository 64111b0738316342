"""The planted-defects fixture: the report lists exactly what is planted, no misses, no extras."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from segmill.check import check_path, rules
from segmill.cli import main


@pytest.fixture(scope="module")
def defects(fixtures_dir):
    d = fixtures_dir / "defects"
    return d, json.loads((d / "manifest.json").read_text())


def _key(code, file, item, ann):
    return (code, file.rsplit("/", 1)[-1] if file else None, item, ann)


def test_report_lists_exactly_the_planted_defects(defects):
    d, manifest = defects
    result = check_path([d / "annotations.json", d / "val.json"], select=["ALL"])
    got = Counter(_key(f.code, f.file, f.item_id, f.annotation_id) for f in result.findings)
    want = Counter(_key(p["code"], p["file"], p["item_id"], p["annotation_id"]) for p in manifest["planted"])
    assert got - want == Counter(), "extra findings"
    assert want - got == Counter(), "missed defects"


def test_every_rule_is_planted_or_says_why_not(defects):
    _, manifest = defects
    planted = {p["code"] for p in manifest["planted"]} | set(manifest["not_planted"])
    assert planted == {r.code for r in rules()}


def test_cli_exits_1_and_writes_the_json_report(defects, tmp_path):
    d, manifest = defects
    out = tmp_path / "report.json"
    res = CliRunner().invoke(main, ["check", str(d / "annotations.json"), str(d / "val.json"), "--select", "ALL",
                                    "--output-format", "json", "--output", str(out), "--quiet"])
    assert res.exit_code == 1, res.output
    report = json.loads(out.read_text())
    assert report["summary"]["findings"] == len(manifest["planted"])


def test_cli_exits_0_when_only_ignored_rules_fire(defects):
    d, _ = defects
    res = CliRunner().invoke(main, ["check", str(d / "annotations.json"), "--select", "C001,S010"])
    assert res.exit_code == 0, res.output
    assert "C001 overlapping-instances [info]: 1 finding" in res.output


def test_cli_fail_on_info_turns_infos_into_a_failure(defects):
    d, _ = defects
    res = CliRunner().invoke(main, ["check", str(d / "annotations.json"), "--select", "S010", "--fail-on", "info"])
    assert res.exit_code == 1


def test_cli_exits_2_on_an_unknown_rule(defects):
    d, _ = defects
    res = CliRunner().invoke(main, ["check", str(d / "annotations.json"), "--select", "Z9"])
    assert res.exit_code == 2
    assert "Z9" in res.output and "Traceback" not in res.output


def test_cli_exits_2_on_unparsable_input(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text('{"images": [}')
    res = CliRunner().invoke(main, ["check", str(bad), "--format", "coco"])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_cli_reads_the_config_file(defects, tmp_path):
    d, _ = defects
    cfg = tmp_path / "segmill.toml"
    cfg.write_text('select = ["C001"]\n[rules.C001]\nseverity = "error"\n')
    res = CliRunner().invoke(main, ["check", str(d / "annotations.json"), "--config", str(cfg)])
    assert res.exit_code == 1
    assert "C001 overlapping-instances [error]" in res.output


def test_rules_command_lists_the_catalogue_and_explains_one():
    res = CliRunner().invoke(main, ["rules"])
    assert res.exit_code == 0 and all(r.code in res.output for r in rules())
    one = CliRunner().invoke(main, ["rules", "G012"])
    assert "Bad:" in one.output and "rel-tolerance = 0.02" in one.output
    data = json.loads(CliRunner().invoke(main, ["rules", "--json"]).output)
    assert [r["code"] for r in data] == [r.code for r in rules()]
