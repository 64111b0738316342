"""What a report says about a check's findings without holding them: counts by rule, severity and fixability.

A :class:`Tally` counts the findings by ``(code, severity, fixable,
unsafe-fixable)`` in order of first appearance. The summaries of every
report (counts per severity and per rule, each rule's first severity,
whether the check failed, how many findings ``segmill fix`` takes) come from
it. A streamed check keeps its findings in an :class:`~segmill._entries.Entries`
tallied by :func:`finding_key` as they come, so its tally costs no pass over
them; findings in a list are counted in one pass.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from .._entries import Entries
from .finding import severity_rank
from .registry import is_fixable, is_unsafe_fixable

__all__ = ["RuleTally", "Tally", "finding_key", "findings_entries", "tally_of"]


def finding_key(finding) -> tuple:
    """What a :class:`Tally` counts a finding by: ``(code, severity, fixable, unsafe_fixable)``."""
    return finding.code, finding.severity, is_fixable(finding), is_unsafe_fixable(finding)


def findings_entries(findings: Iterable = (), limit: int | None = None) -> Entries:
    """Findings that spill past the budget's entries, tallied as they come (see :class:`Tally`)."""
    return Entries(findings, tally=finding_key, limit=limit)


class RuleTally:
    """One rule's findings: ``count``, ``severity`` (of the first), ``fixable``, ``unsafe``, ``severities``."""

    __slots__ = ("count", "severity", "fixable", "unsafe", "severities")

    def __init__(self, severity: str):
        self.count = self.fixable = self.unsafe = 0
        self.severity = severity
        self.severities: dict[str, int] = {}

    def failing(self, level: int) -> bool:
        """Whether a finding of the rule is at or above the severity rank ``level`` (tested in order)."""
        return any(severity_rank(s) >= level for s in self.severities)


class Tally:
    """Counts of findings by :func:`finding_key` (see the module docs).

    Parameters
    ----------
    keys : dict
        :func:`finding_key` -> count, in order of first appearance.
    runs : int
        Runs of findings of one rule in the order they come.
    """

    __slots__ = ("keys", "runs", "total", "rules", "severities", "fixable", "unsafe")

    def __init__(self, keys: dict, runs: int):
        self.keys, self.runs = keys, runs
        self.total = self.fixable = self.unsafe = 0
        #: Rule code -> :class:`RuleTally`, in order of first appearance.
        self.rules: dict[str, RuleTally] = {}
        #: Severity -> count, in order of first appearance.
        self.severities: dict[str, int] = {}
        for (code, severity, fixable, unsafe), n in keys.items():
            rule = self.rules.get(code)
            if rule is None:
                rule = self.rules[code] = RuleTally(severity)
            rule.count += n
            rule.severities[severity] = rule.severities.get(severity, 0) + n
            self.severities[severity] = self.severities.get(severity, 0) + n
            if fixable:
                rule.fixable += n
            if unsafe:
                rule.unsafe += n
        for rule in self.rules.values():
            self.total += rule.count
            self.fixable += rule.fixable
            self.unsafe += rule.unsafe

    @classmethod
    def of(cls, findings) -> "Tally":
        """The tally of ``findings``: the one kept by tallied entries, else counted in one pass."""
        if isinstance(findings, Entries) and findings.tally is finding_key:
            return cls(findings.tallies(), findings.runs())
        keys: Counter = Counter()
        runs, last = 0, None
        for f in findings:
            keys[finding_key(f)] += 1
            if runs == 0 or f.code != last:
                runs, last = runs + 1, f.code
        return cls(keys, runs)

    @property
    def grouped(self) -> bool:
        """Whether each rule's findings come together (in the order of :attr:`rules`)."""
        return self.runs == len(self.rules)

    def failed(self, level: int) -> bool:
        """Whether a finding is at or above the severity rank ``level`` (each severity tested once, in order)."""
        return any(severity_rank(s) >= level for s in self.severities)


def tally_of(result) -> Tally:
    """``result.tally()``, or the tally of ``result.findings`` for an object that has none."""
    method = getattr(result, "tally", None)
    return method() if callable(method) else Tally.of(result.findings)
