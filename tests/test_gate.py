"""`segmill.gate.gate`: each rule fires on its change and stays quiet otherwise."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from segmill.check import Finding
from segmill.errors import InputError
from segmill.geometry import Polygons
from segmill.gate import Baseline, GateConfig, Origin, gate, load_baseline, load_gate_config, render_gate
from segmill.model import Annotation, Category, Dataset, Item

W = H = 100


def square(x, y, s):
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def dataset(n_images=30):
    cats = [Category(1, "cat"), Category(2, "dog")]
    items = [
        Item(i, f"img{i:03d}.jpg", W, H, [Annotation(10 * i + 1, 1, Polygons([square(5, 5, 20)])),
                                          Annotation(10 * i + 2, 2, Polygons([square(50, 50, 30)]))])
        for i in range(1, n_images + 1)
    ]
    return Dataset(cats, items)


def no_findings(ds, config=None, path=None):
    return SimpleNamespace(findings=[])


def scripted(base_findings, head_findings):
    """A stand-in checker returning fixed findings for the base (first call) and head (second)."""
    calls = iter([base_findings, head_findings])
    return lambda ds, config=None, path=None: SimpleNamespace(findings=list(next(calls)))


def codes(res):
    return sorted({f.code for f in res.findings})


QUIET = GateConfig(max_modified_share=100.0, max_count_change=1000.0, max_area_change=1000.0)


# --- GATE001: new check findings -------------------------------------------------


def test_identical_versions_pass_with_the_real_checker():
    base = dataset()
    res = gate(base, copy.deepcopy(base))
    assert not res.failed and res.findings == []


def test_only_findings_new_in_head_count():
    old = Finding("G001", "error", "bad polygon", "x.json", 1, 11)
    new = Finding("G001", "error", "bad polygon", "x.json", 2, 21)
    res = gate(dataset(), dataset(), checker=scripted([old], [old, new]))
    (f,) = res.findings
    assert (f.code, f.item_id, f.annotation_id, f.data["check_code"]) == ("GATE001", 2, 21, "G001")
    assert res.failed and res.check_counts == {"base": 1, "head": 2, "new": 1, "accepted": 0}


def test_findings_about_differently_named_dataset_files_still_match():
    old = Finding("S013", "info", "no image files", "v1/base.json", key="images")
    new = Finding("S013", "info", "no image files", "v2/head.json", key="images")
    res = gate(dataset(), dataset(), checker=scripted([old], [new]),
               origin=Origin(base_path="v1/base.json", head_path="v2/head.json"))
    assert res.findings == [] and res.check_counts["new"] == 0


def test_findings_are_matched_with_multiplicity():
    f = Finding("C001", "error", "overlap", "x.json", 1, 11, key="12")
    res = gate(dataset(), dataset(), checker=scripted([f], [f, f]))
    assert len(res.findings) == 1


def test_new_finding_below_fail_level_is_reported_but_passes():
    w = Finding("C005", "warning", "odd name", "x.json")
    res = gate(dataset(), dataset(), checker=scripted([], [w]))
    assert codes(res) == ["GATE001"] and res.findings[0].severity == "warning"
    assert not res.failed


def test_fail_on_warning_fails_on_a_new_warning():
    w = Finding("C005", "warning", "odd name", "x.json")
    assert gate(dataset(), dataset(), checker=scripted([], [w]), config=GateConfig(fail_on="warning")).failed


def test_baseline_accepts_a_known_finding():
    new = Finding("G001", "error", "bad polygon", "x.json", 2, 21)
    res = gate(dataset(), dataset(), checker=scripted([], [new]), baseline=Baseline.from_findings([new]))
    assert not res.failed and res.check_counts["accepted"] == 1 and len(res.accepted) == 1


def test_baseline_round_trips_through_its_file(tmp_path):
    new = Finding("G001", "error", "bad polygon", "x.json", 2, 21)
    Baseline.from_findings([new]).write(tmp_path / "b.json")
    assert load_baseline(tmp_path / "b.json").accepts(new.fingerprint())


def test_malformed_baseline_is_an_input_error_naming_the_file(tmp_path):
    p = tmp_path / "b.json"
    p.write_text('{"findings": 3}')
    with pytest.raises(InputError, match="b.json: not a segmill baseline"):
        load_baseline(p)


def test_real_check_finding_on_a_broken_polygon_is_new():
    from segmill.geometry import InvalidGeometry

    base = dataset()
    head = copy.deepcopy(base)
    head.items[0].annotations[0].geometry = InvalidGeometry([[1, 2, 3, 4]], "polygon part has 2 points")
    res = gate(base, head, config=QUIET)
    assert res.failed
    assert {f.code for f in res.failing()} == {"GATE001"}
    assert all(f.annotation_id == 11 for f in res.failing())


# --- category map: GATE002..GATE006 ----------------------------------------------


def test_id_reused_fails_with_gate002():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories = [Category(1, "dog"), Category(2, "cat")]
    res = gate(base, head, checker=no_findings, config=QUIET)
    assert res.failed and "GATE002" in {f.code for f in res.failing()}


def test_rename_warns_with_gate005_and_passes():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories[1] = Category(2, "doggo")
    res = gate(base, head, checker=no_findings)
    assert codes(res) == ["GATE005"] and not res.failed


def test_rename_fails_when_graded_error():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories[1] = Category(2, "doggo")
    res = gate(base, head, checker=no_findings, config=GateConfig(severity={"GATE005": "error"}))
    assert res.failed


def test_class_removed_while_used_fails_with_gate003():
    base = dataset()
    head = copy.deepcopy(base)
    del head.categories[1]
    res = gate(base, head, checker=no_findings)
    assert "GATE003" in {f.code for f in res.failing()}
    assert "still used by 30 annotation(s)" in res.by_rule()["GATE003"][0].message


def test_renumbering_fails_with_gate004_unless_ignored():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories[1] = Category(7, "dog")
    for _, a in head.annotations():
        if a.category_id == 2:
            a.category_id = 7
    assert codes(gate(base, head, checker=no_findings)) == ["GATE004"]
    assert not gate(base, head, checker=no_findings, config=GateConfig(ignore=("GATE004",))).failed


def test_added_class_is_informational():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories.append(Category(3, "bird"))
    res = gate(base, head, checker=no_findings)
    assert codes(res) == ["GATE006"] and not res.failed


# --- drift: GATE010..GATE013 -----------------------------------------------------


def test_class_count_drift_beyond_threshold_fails_with_gate010():
    base = dataset()
    head = copy.deepcopy(base)
    for it in head.items[:10]:
        it.annotations.append(Annotation(None, 1, Polygons([square(70, 5, 10)])))
    res = gate(base, head, checker=no_findings, config=GateConfig(max_count_change=20.0, max_area_change=1000.0))
    (f,) = res.by_rule()["GATE010"]
    assert f.data["base"] == 30 and f.data["head"] == 40 and f.data["change_pct"] == pytest.approx(100 / 3)


def test_class_count_drift_within_threshold_passes():
    base = dataset()
    head = copy.deepcopy(base)
    for it in head.items[:5]:
        it.annotations.append(Annotation(None, 1, Polygons([square(70, 5, 20)])))
    res = gate(base, head, checker=no_findings, config=GateConfig(max_count_change=20.0))
    assert "GATE010" not in codes(res)


def test_small_classes_are_exempt_from_drift():
    base = dataset(5)
    head = copy.deepcopy(base)
    head.items[0].annotations.pop()
    res = gate(base, head, checker=no_findings, config=GateConfig(max_modified_share=100.0))
    assert "GATE010" not in codes(res)


def test_mean_area_drift_fails_with_gate011():
    base = dataset()
    head = copy.deepcopy(base)
    for it in head.items:
        it.annotations[0].geometry = Polygons([square(5, 5, 30)])  # 400 -> 900 px
    res = gate(base, head, checker=no_findings, config=GateConfig(max_modified_share=100.0))
    (f,) = res.by_rule()["GATE011"]
    assert f.data["class"] == "cat" and f.data["change_pct"] == pytest.approx(125.0)


def test_emptied_image_fails_with_gate012():
    base = dataset()
    head = copy.deepcopy(base)
    head.items[3].annotations.clear()
    res = gate(base, head, checker=no_findings, config=QUIET)
    (f,) = res.failing()
    assert (f.code, f.item_id) == ("GATE012", 4)


def test_emptied_images_within_allowance_pass():
    base = dataset()
    head = copy.deepcopy(base)
    head.items[3].annotations.clear()
    cfg = GateConfig(max_emptied_images=1, max_modified_share=100.0, max_count_change=100.0)
    assert not gate(base, head, checker=no_findings, config=cfg).failed


def test_modified_share_beyond_threshold_fails_with_gate013():
    base = dataset()
    head = copy.deepcopy(base)
    for it in head.items[:4]:  # 4 of 60 annotations = 6.7 %
        it.annotations[1].geometry = Polygons([square(52, 50, 30)])
    cfg = GateConfig(max_modified_share=5.0)
    res = gate(base, head, checker=no_findings, config=cfg)
    (f,) = res.by_rule()["GATE013"]
    assert f.data["modified"] == 4 and f.data["share_pct"] == pytest.approx(400 / 60)
    assert not gate(base, head, checker=no_findings, config=GateConfig(max_modified_share=10.0)).failed


# --- GATE020: agreement ------------------------------------------------------------


def _two_annotators(shift):
    a = dataset(6)
    b = copy.deepcopy(a)
    for it in b.items:
        for ann in it.annotations:
            ann.geometry = Polygons([[v + shift for v in ann.geometry.parts[0].reshape(-1)]])
    return a, b


def test_low_agreement_between_annotators_fails_with_gate020():
    a, b = _two_annotators(shift=15)  # shifted far: no instance matches
    res = gate(a, a, checker=no_findings, annotators={"ann": a, "bob": b})
    assert res.agreement["pq"] == pytest.approx(0.0)
    assert codes(res) == ["GATE020"] and res.failed


def test_good_agreement_between_annotators_passes():
    a, b = _two_annotators(shift=1)
    res = gate(a, a, checker=no_findings, annotators=[a, b])
    assert res.agreement["pq"] > 0.8 and not res.failed


def test_annotator_key_splits_the_head_by_annotator():
    a, b = _two_annotators(shift=15)
    head = copy.deepcopy(a)
    for it, other in zip(head.items, b.items):
        for ann in it.annotations:
            ann.attributes["annotator"] = "ann"
        for ann in other.annotations:
            ann.attributes["annotator"] = "bob"
            it.annotations.append(copy.deepcopy(ann))
    res = gate(head, head, checker=no_findings, config=GateConfig(annotator_key="annotator"))
    assert res.agreement["annotators"] == ["ann", "bob"] and res.agreement["images"] == 6
    assert "GATE020" in codes(res)


# --- configuration -----------------------------------------------------------------


def test_gate_table_is_read_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.segmill.gate]\nmax-count-change = 5\nignore = ["GATE005"]\nbaseline = "bl.json"\n'
        '[tool.segmill.gate.severity]\nGATE006 = "warning"\n')
    cfg = load_gate_config(start_dir=tmp_path)
    assert cfg.max_count_change == 5.0 and cfg.ignore == ("GATE005",)
    assert cfg.severity == {"GATE006": "warning"}
    assert cfg.baseline == str(tmp_path / "bl.json")


def test_gate_table_is_read_from_segmill_toml(tmp_path):
    (tmp_path / "segmill.toml").write_text('[gate]\nfail-on = "warning"\n')
    assert load_gate_config(file=tmp_path / "segmill.toml").fail_on == "warning"


def test_unknown_gate_setting_is_an_input_error(tmp_path):
    (tmp_path / "segmill.toml").write_text("[gate]\nmax-drift = 5\n")
    with pytest.raises(InputError, match="unknown gate setting 'max-drift'"):
        load_gate_config(file=tmp_path / "segmill.toml")


def test_unknown_rule_code_in_config_is_an_input_error():
    with pytest.raises(InputError, match="unknown gate rule 'GATE999'"):
        GateConfig(ignore=("GATE999",))


# --- reports -----------------------------------------------------------------------


@pytest.fixture()
def failing_result():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories = [Category(1, "dog"), Category(2, "ca|t")]
    new = Finding("G001", "error", "bad polygon", "x.json", 2, 21)
    return gate(base, head, checker=scripted([], [new]), config=QUIET)


def test_markdown_report_says_what_failed_why_and_links_rule_docs(failing_result):
    md = render_gate(failing_result, "markdown")
    assert md.startswith("### ❌ segmill gate failed")
    assert "[GATE001](docs/ci.md#gate001-new-check-findings)" in md
    assert "[GATE002](docs/ci.md#gate002-category-id-reused)" in md
    assert "new G001 (error): bad polygon" in md
    assert "ca\\|t" in md  # a pipe in a class name cannot break the table


def test_json_report_has_schema_and_verdict(failing_result):
    data = json.loads(render_gate(failing_result, "json"))
    assert data["schema"] == "segmill.gate/1" and data["failed"] is True
    assert data["summary"]["by_rule"]["GATE001"] == 1


def test_junit_report_fails_the_rules_that_failed(failing_result):
    root = ET.fromstring(render_gate(failing_result, "junit"))
    failed = {c.get("name").split()[0] for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == {"GATE001", "GATE002", "GATE004"}  # "dog" also moved from id 2 to id 1


def test_sarif_report_has_rules_with_help_links_and_results(failing_result):
    log = json.loads(render_gate(failing_result, "sarif"))
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "segmill-gate"
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["GATE002"]["helpUri"].endswith("#gate002-category-id-reused")
    assert {r["ruleId"] for r in run["results"]} >= {"GATE001", "GATE002"}
    assert all(run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])


def test_github_report_has_one_command_per_finding_and_a_verdict(failing_result):
    lines = render_gate(failing_result, "github").splitlines()
    assert len(lines) == len(failing_result.findings) + 1
    assert lines[0].startswith("::error file=x.json,title=GATE001")
    assert "new G001 (error): bad polygon" in lines[0]
    assert lines[-1].startswith("::error title=segmill gate::segmill gate failed")


def test_baseline_accepts_a_gate_finding_by_its_own_fingerprint():
    base = dataset()
    head = copy.deepcopy(base)
    head.categories[1] = Category(2, "doggo")
    first = gate(base, head, checker=no_findings)
    (f,) = first.findings
    again = gate(base, head, checker=no_findings, baseline=Baseline.from_findings([f]))
    assert again.findings == [] and again.accepted == [f]


def test_class_merged_but_still_referenced_fails_with_gate003():
    base = dataset()
    base.categories.append(Category(3, "kitten"))
    for it in base.items[:4]:
        it.annotations.append(Annotation(1000 + it.id, 3, Polygons([square(70, 5, 20)])))
    head = copy.deepcopy(base)
    del head.categories[2]
    for it in head.items[:3]:  # three moved to "cat", one still points at the removed id
        it.annotations[-1].category_id = 1
    res = gate(base, head, checker=no_findings, config=QUIET)
    assert [f.code for f in res.failing()] == ["GATE003"]
    assert "merged 'kitten'" in res.findings[0].message
