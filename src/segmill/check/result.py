"""The outcome of a check: findings plus what was run, as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Any

from .. import __version__
from .._entries import Entries
from ._tally import Tally, finding_key
from .finding import SEVERITIES, Finding, severity_rank
from .registry import Rule

__all__ = ["CheckResult", "SCHEMA"]

_code = attrgetter("code")
_severity = attrgetter("severity")

#: Identifies the JSON layout of :meth:`CheckResult.to_dict`; bumped on any
#: incompatible change.
SCHEMA = "segmill.check/1"


@dataclass
class CheckResult:
    """Findings of one check run.

    Attributes
    ----------
    findings : list of Finding
        Sorted by rule code, then in dataset order. A streamed check gives
        an :class:`~segmill._entries.Entries` (a list that spills to a
        temporary file past the memory budget, tallied as it fills).
    rules : list of Rule
        The rules that ran.
    severities : dict
        Rule code -> the severity in force (after configuration).
    fail_on : str
        The configured fail level (used when :meth:`failed` gets none).
    paths : list of str
        The checked files or folders (empty for an in-memory dataset).
    images, annotations : int
        How much was checked.
    """

    findings: list[Finding] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    severities: dict[str, str] = field(default_factory=dict)
    fail_on: str = "error"
    paths: list[str] = field(default_factory=list)
    images: int = 0
    annotations: int = 0

    def tally(self) -> Tally:
        """The findings counted by rule, severity and fixability (one pass, none for a streamed check's)."""
        return Tally.of(self.findings)

    def _severities(self) -> dict[str, int]:
        """Count of each severity, in order of first appearance."""
        if isinstance(self.findings, Entries) and self.findings.tally is finding_key:
            return self.tally().severities
        out: dict[str, int] = {}
        for s in map(_severity, self.findings):
            out[s] = out.get(s, 0) + 1
        return out

    def failed(self, fail_on: str | None = None) -> bool:
        """Whether any finding is at or above ``fail_on`` (default: the configured level)."""
        level = severity_rank(fail_on or self.fail_on)
        # Each distinct severity once, in order of first appearance: the same answer (and the
        # same error for an unknown one) as testing every finding in order.
        return any(severity_rank(s) >= level for s in self._severities())

    def by_rule(self) -> dict[str, list[Finding]]:
        """Findings grouped by rule code, in code order."""
        out: dict[str, list[Finding]] = {}
        for code, group in groupby(self.findings, key=_code):  # runs of one rule, as the engine makes them
            got = out.get(code)
            if got is None:
                out[code] = list(group)
            else:
                got.extend(group)
        return out

    def counts(self) -> dict[str, int]:
        """Number of findings per severity (every severity present, zeros included)."""
        c = self._severities()
        return {s: c.get(s, 0) for s in SEVERITIES}

    def statistics(self, tally: Tally | None = None) -> list[dict[str, Any]]:
        """One row per rule that fired: code, name, severity, count (most frequent first).

        ``tally``: :meth:`tally`, when the caller has it.
        """
        names = {r.code: r.name for r in self.rules}
        rows = [
            {"code": code, "name": names.get(code, ""), "severity": t.severity, "count": t.count}
            for code, t in (tally or self.tally()).rules.items()
        ]
        rows.sort(key=lambda r: (-r["count"], r["code"]))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data; the layout is stable (``schema`` names it).

        Layout::

            {
              "schema": "segmill.check/1",
              "segmill_version": "0.1.0",
              "paths": ["data/instances_val.json"],
              "fail_on": "error",
              "failed": true,
              "summary": {"images": 5000, "annotations": 36000, "findings": 3,
                          "error": 1, "warning": 2, "info": 0,
                          "by_rule": {"G005": 1, "C001": 2}, "fixable": 1, "unsafe_fixable": 0},
              "rules": [{"code": "G005", "name": "zero-area", "severity": "error"}, ...],
              "findings": [{"code", "severity", "message", "file", "item_id",
                            "annotation_id", "key", "data", "fingerprint"}, ...]
            }

        ``fixable`` counts the findings ``segmill fix`` would fix,
        ``unsafe_fixable`` those only ``segmill fix --unsafe-fixes`` would;
        ``rules`` lists every rule that ran, with its severity in force;
        ``data`` holds the numbers behind a finding (keys per rule, see
        ``segmill rules CODE``); ``fingerprint`` is :meth:`Finding.fingerprint`.
        """
        out = self.head_dict()
        out["findings"] = [f.to_dict() for f in self.findings]
        return out

    def head_dict(self, tally: Tally | None = None) -> dict[str, Any]:
        """:meth:`to_dict` without its last key, ``findings`` (for writers that stream them).

        ``tally``: :meth:`tally`, when the caller has it (the head is made without reading a finding).
        """
        t = tally or self.tally()
        level = severity_rank(self.fail_on)
        return {
            "schema": SCHEMA,
            "segmill_version": __version__,
            "paths": list(self.paths),
            "fail_on": self.fail_on,
            "failed": t.failed(level),
            "summary": {
                "images": self.images,
                "annotations": self.annotations,
                "findings": t.total,
                **{s: t.severities.get(s, 0) for s in SEVERITIES},
                "by_rule": {code: r.count for code, r in t.rules.items()},
                "fixable": t.fixable,
                "unsafe_fixable": t.unsafe,
            },
            "rules": [
                {"code": r.code, "name": r.name, "severity": self.severities.get(r.code, r.severity)}
                for r in self.rules
            ],
        }
