"""Reports: text, JSON, JUnit XML (parsed), SARIF 2.1.0 (schema-checked), GitHub annotations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from segmill.check import Finding, check, render
from segmill.check.result import CheckResult
from segmill.check.registry import get_rule
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item


def square(x, y, s):
    return Polygons([[x, y, x + s, y, x + s, y + s, x, y + s]])


@pytest.fixture(scope="module")
def result():
    """Errors (S001, S004), a warning (G014) and infos (C001, S010) in one small dataset."""
    anns = [Annotation(1, 1, square(0, 0, 20)), Annotation(2, 2, square(5, 0, 20)), Annotation(3, 9, square(50, 50, 5)),
            Annotation(4, 1, square(70, 70, 5), iscrowd=True)]
    ds = Dataset([Category(1, "car"), Category(2, "truck"), Category(3, "bus")],
                 [Item(1, "a.png", 100, 100, anns), Item(1, "b.png", 100, 100)])
    return check(ds, path="data/ann.json", ignore=["S013"])


def test_result_holds_one_finding_of_each_planted_rule(result):
    assert sorted(f.code for f in result.findings) == ["C001", "G014", "S001", "S004", "S010"]


# ----------------------------------------------------------------------- text
def test_text_groups_by_rule_with_counts_and_ends_with_a_summary(result):
    out = render(result, "text")
    assert "S001 duplicate-image-id [error]: 1 finding" in out
    assert "  data/ann.json: image 1, annotation 2: overlaps annotation 1" in out
    assert out.rstrip().splitlines()[-1].startswith("Found 5 findings (2 errors, 1 warning, 2 info)")


def test_text_lists_only_the_first_locations_and_counts_the_rest():
    fs = [Finding("S002", "error", "dup", "a.json", 1, k) for k in range(5)]
    r = CheckResult(findings=fs, rules=[get_rule("S002")])
    out = render(r, "text", max_locations=2)
    assert out.count(": dup\n") == 2 and "... and 3 more" in out


def test_text_statistics_prints_one_line_per_rule(result):
    out = render(result, "text", statistics=True)
    assert "      1  C001  overlapping-instances" in out
    assert "annotation 2" not in out


def test_text_says_all_passed_when_nothing_is_found():
    out = render(check(Dataset([], [])), "text")
    assert out.startswith("All checks passed")


# ----------------------------------------------------------------------- json
def test_json_report_is_the_result_dict(result):
    assert json.loads(render(result, "json")) == json.loads(json.dumps(result.to_dict()))


# ---------------------------------------------------------------------- junit
def test_junit_parses_with_one_testcase_per_rule(result):
    root = ET.fromstring(render(result, "junit"))
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(result.rules)
    assert root.get("tests") == str(len(result.rules))


def test_junit_fails_only_rules_with_findings_at_the_fail_level(result):
    root = ET.fromstring(render(result, "junit"))
    failed = sorted(c.get("name").split()[0] for c in root.iter("testcase") if c.find("failure") is not None)
    assert failed == ["S001", "S004"]  # fail-on error: warnings and infos only go to system-out
    assert root.find("./testsuite").get("failures") == "2"
    c001 = next(c for c in root.iter("testcase") if c.get("name").startswith("C001"))
    assert "overlaps annotation 1" in c001.find("system-out").text


# ---------------------------------------------------------------------- sarif
# The parts of the SARIF 2.1.0 schema (OASIS, sarif-schema-2.1.0.json) that the
# report uses, transcribed: required properties, enums and types.
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {
                        "name": {"type": "string"}, "version": {"type": "string"},
                        "informationUri": {"type": "string"},
                        "rules": {"type": "array", "items": {
                            "type": "object", "required": ["id"],
                            "properties": {
                                "id": {"type": "string"}, "name": {"type": "string"},
                                "shortDescription": _MESSAGE, "fullDescription": _MESSAGE, "help": _MESSAGE,
                                "defaultConfiguration": {"type": "object", "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]}}},
                                "properties": {"type": "object"},
                            }, "additionalProperties": False}},
                    }, "additionalProperties": False}}},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": _MESSAGE,
                        "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                        "properties": {"type": "object"},
                        "locations": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "physicalLocation": {"type": "object", "properties": {
                                    "artifactLocation": {"type": "object", "properties": {
                                        "uri": {"type": "string"}}, "additionalProperties": False}},
                                    "additionalProperties": False},
                                "logicalLocations": {"type": "array", "items": {
                                    "type": "object", "properties": {
                                        "name": {"type": "string"}, "kind": {"type": "string"}},
                                    "additionalProperties": False}},
                            }, "additionalProperties": False}},
                    }, "additionalProperties": False}},
            }, "additionalProperties": False}},
    },
    "additionalProperties": False,
}


def test_sarif_validates_against_the_schema(result):
    jsonschema.validate(json.loads(render(result, "sarif")), SARIF_SUBSET)


def test_sarif_rejects_what_the_schema_forbids():
    # The schema check is able to fail: a wrong level is caught.
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"message": {"text": "m"}, "level": "fatal"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SARIF_SUBSET)


def test_sarif_results_point_at_rules_and_carry_fingerprints(result):
    log = json.loads(render(result, "sarif"))
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    levels = {}
    for res in run["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert len(res["partialFingerprints"]["segmillFinding/v1"]) == 20
        levels[res["ruleId"]] = res["level"]
    assert levels == {"C001": "note", "G014": "warning", "S001": "error", "S004": "error", "S010": "note"}


# --------------------------------------------------------------------- github
def test_github_lines_are_workflow_commands(result):
    lines = render(result, "github").splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("::notice file=data/ann.json,title=C001::overlapping-instances: image 1, ")
    assert lines[1].startswith("::warning file=data/ann.json,title=G014::crowd-polygon: image 1, annotation 4")
    assert lines[2].startswith("::error file=data/ann.json,title=S001::")


def test_github_escapes_newlines_and_property_separators():
    f = Finding("S002", "error", "line1\nline2 100%", "a,b:c.json", 1, 2)
    out = render(CheckResult(findings=[f], rules=[get_rule("S002")]), "github")
    assert out == ("::error file=a%2Cb%3Ac.json,title=S002::duplicate-annotation-id: image 1, annotation 2: "
                   "line1%0Aline2 100%25\n")
