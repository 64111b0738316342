"""One rule catalogue for check and gate: codes, severity order, selection, configuration."""

from __future__ import annotations

import pytest

from segmill.check import SEVERITIES, severity_rank
from segmill.check.config import coerce_setting
from segmill.check.registry import Rule, all_rules, get_rule, register, select_rules
from segmill.errors import InputError
from segmill.gate import RULES, GateConfig


def test_gate_rules_live_in_the_catalogue():
    gate = all_rules("gate")
    assert [r.code for r in gate] == list(RULES)
    assert all(r.is_gate and r.family == "gate" and r.func is None for r in gate)
    assert get_rule("GATE005") is RULES["GATE005"]
    assert get_rule("category-renamed").code == "GATE005"
    assert {r.code for r in all_rules("all")} == {r.code for r in all_rules("check")} | set(RULES)


def test_check_selection_never_picks_gate_rules():
    assert not any(r.is_gate for r in select_rules(["ALL"]))
    assert all(r.code.startswith("G0") for r in select_rules(["G"]))
    with pytest.raises(Exception, match="matches no rule"):
        select_rules(["GATE"])
    assert [r.code for r in select_rules(["GATE01"], kind="gate")] == ["GATE010", "GATE011", "GATE012", "GATE013"]


def test_one_severity_order():
    assert SEVERITIES == ("error", "warning", "info")
    assert severity_rank("error") > severity_rank("warning") > severity_rank("info")
    with pytest.raises(InputError, match="error, warning, info"):
        GateConfig(fail_on="fatal")


@pytest.mark.parametrize("entry, message", [
    (Rule("X001", "x", "error", True, "s", "d"), "must be S, G or C"),
    (Rule("S001", "x", "error", True, "s", "d", func=lambda ctx: ()), "registered twice"),
    (Rule("S901", "x", "fatal", True, "s", "d", func=lambda ctx: ()), "unknown severity"),
    (Rule("S902", "x", "error", True, "s", "d"), "check rules have a function"),
    (Rule("GATE901", "x", "error", True, "s", "d", func=lambda ctx: ()), "gate rules none"),
])
def test_malformed_entries_fail_at_registration(entry, message):
    all_rules()
    with pytest.raises(ValueError, match=message):
        register(entry)


@pytest.mark.parametrize("table, message", [
    ({"max-count-change": -1}, "must be at least 0"),
    ({"max-count-change": True}, "must be a number"),
    ({"min-class-count": 2.5}, "must be an integer"),
    ({"match": 3}, "must be a string"),
    ({"select": [1]}, "list of rule codes"),
    ({"severity": "x"}, "table of code = severity"),
])
def test_gate_settings_use_the_shared_coercion(table, message):
    with pytest.raises(InputError, match=message):
        GateConfig.from_mapping(table, "segmill.toml")


def test_shared_coercion_keeps_types():
    assert coerce_setting(3, 20.0, "x", None) == 3.0 and isinstance(coerce_setting(3, 20.0, "x", None), float)
    assert coerce_setting(0.5, 0, "x", None) == 0.5  # an integral default still takes a fraction
    assert GateConfig.from_mapping({"select": "GATE010, gate011"}).select == ("GATE010", "GATE011")
    with pytest.raises(InputError, match="true or false"):
        coerce_setting(1, False, "x", None)
