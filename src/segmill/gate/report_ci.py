"""Machine reports of a gate decision: JSON, JUnit XML, SARIF 2.1.0, GitHub annotations.

JUnit, SARIF and GitHub output are ``segmill check``'s own renderers
(:mod:`segmill.check.report`) fed with the gate rules and findings, so the two
commands look the same to CI:

JSON
    :meth:`GateResult.to_dict` (``schema: "segmill.gate/1"``).
JUnit XML
    One test case per enabled gate rule; a rule with findings at or above the
    fail level fails, lower findings go to ``<system-out>``.
SARIF 2.1.0
    One run; the gate rules are the ``rules`` (with ``helpUri`` links to their
    docs), each finding a ``result`` located in the dataset file when known.
    A new check finding (GATE001) carries the check code in its ``data``.
GitHub
    Workflow commands, one line per finding, then one line with the verdict:
    ``::error file=data/x.json,title=GATE001 new-check-findings::...``.
"""

from __future__ import annotations

import json
from typing import Iterator

from ..check.finding import jsonable
from .evaluate import GateResult
from .policy import RULES


class _AsCheckResult:
    """The attributes the check renderers read, filled from a gate result."""

    def __init__(self, res: GateResult):
        cfg = res.config
        self.rules = [r for r in RULES.values() if cfg.enabled(r.code)]
        self.severities = {r.code: cfg.severity_of(r.code) for r in self.rules}
        self.findings = list(res.findings)
        self.fail_on = res.fail_on
        self._res = res

    def by_rule(self):
        return self._res.by_rule()


def render_json(res: GateResult) -> str:
    """The result as indented JSON."""
    return "".join(json_chunks(res))


def json_chunks(res: GateResult) -> Iterator[str]:
    """:func:`render_json`'s text as chunks, the diff's changes written one at a time."""
    # lazy: start-up time (only the renderer asked for is loaded)
    from ..check.report.json import document_chunks

    return document_chunks(res.to_dict(spliced=True), jsonable)


def render_junit(res: GateResult) -> str:
    """JUnit XML: a test case per enabled gate rule."""
    # lazy: start-up time (only the renderer asked for is loaded)
    from ..check.report.junit import render_junit as junit

    xml = junit(_AsCheckResult(res))
    return xml.replace('name="segmill check"', 'name="segmill gate"').replace('"segmill.check.gate"', '"segmill.gate"')


def render_sarif(res: GateResult) -> str:
    """SARIF 2.1.0 log with one run of ``segmill-gate``."""
    # lazy: start-up time (only the renderer asked for is loaded)
    from ..check.report.sarif import to_sarif

    log = to_sarif(_AsCheckResult(res))
    driver = log["runs"][0]["tool"]["driver"]
    driver["name"] = "segmill-gate"
    for rule in driver["rules"]:
        rule["helpUri"] = res.config.rule_url(rule["id"])
    return json.dumps(log, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_github(res: GateResult) -> str:
    """GitHub Actions workflow commands, one per finding, then a line with the verdict."""
    # lazy: start-up time (only the renderer asked for is loaded)
    from ..check.report.github import render_github as github

    n = len(res.failing())
    verdict = f"segmill gate failed: {n} finding(s) at or above {res.fail_on}" if n else "segmill gate passed"
    level = "error" if n else "notice"
    return github(_AsCheckResult(res)) + f"::{level} title=segmill gate::{verdict}\n"
