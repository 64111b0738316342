"""Text report: findings grouped by rule, counts, first locations, a summary line.

The counts come from the result's tally and only the first locations of each
rule are read: the findings are read once and never held (when each rule's
findings come together, as a check makes them, the report is written as
they are read).
"""

from __future__ import annotations

from itertools import groupby, islice
from operator import attrgetter
from typing import Iterator

from .._tally import Tally, tally_of
from ..finding import SEVERITIES, severity_rank

__all__ = ["render_text", "text_chunks", "summary_line", "fixable_count", "unsafe_fixable_count"]

_code = attrgetter("code")


def _plural(n: int, word: str) -> str:
    if word == "info":
        return f"{n} info"
    return f"{n} {word}{'' if n == 1 else 's'}"


def fixable_count(result) -> int:
    """How many of ``result``'s findings ``segmill fix`` would fix."""
    return tally_of(result).fixable


def unsafe_fixable_count(result) -> int:
    """How many of ``result``'s findings only ``segmill fix --unsafe-fixes`` would fix."""
    return tally_of(result).unsafe


def _fixable_note(n: int, unsafe: int = 0) -> str:
    """`` 2 findings fixable with segmill fix (3 more with --unsafe-fixes).``, or what of it applies."""
    more = f"{unsafe} more with --unsafe-fixes" if unsafe else ""
    if n:
        return f" {_plural(n, 'finding')} fixable with segmill fix" + (f" ({more})." if more else ".")
    return f" {_plural(unsafe, 'finding')} fixable with segmill fix --unsafe-fixes." if unsafe else ""


def summary_line(result, tally: Tally | None = None) -> str:
    """``Found 7 findings (2 errors, 5 warnings, 0 info) in 3 of 38 rules; failed (fail-on error).``

    When some findings can be fixed automatically, the line ends with
    ``2 findings fixable with segmill fix.`` (and ``(3 more with
    --unsafe-fixes)`` when unsafe fixes would take others). ``tally``: the
    result's (:func:`~segmill.check._tally.tally_of`), when the caller has it.
    """
    t = tally or tally_of(result)
    n = t.total
    if n == 0:
        return (f"All checks passed: {len(result.rules)} rules on {result.images} images, "
                f"{result.annotations} annotations.")
    sev = ", ".join(_plural(t.severities.get(s, 0), s) for s in SEVERITIES)
    verdict = "failed" if t.failed(severity_rank(result.fail_on)) else "passed"
    return (f"Found {_plural(n, 'finding')} ({sev}) in {len(t.rules)} of {len(result.rules)} rules "
            f"on {result.images} images, {result.annotations} annotations; {verdict} (fail-on {result.fail_on})."
            + _fixable_note(t.fixable, t.unsafe))


def render_text(result, max_locations: int = 10, statistics: bool = False) -> str:
    """The human report.

    Parameters
    ----------
    max_locations : int, default 10
        Findings listed per rule; the rest are counted.
    statistics : bool, default False
        Only a count per rule (like ``ruff --statistics``), then the summary.
    """
    return "".join(text_chunks(result, max_locations, statistics))


def text_chunks(result, max_locations: int = 10, statistics: bool = False) -> Iterator[str]:
    """:func:`render_text`'s text, a line (with its newline) at a time."""
    t = tally_of(result)
    names = {r.code: r.name for r in result.rules}
    any_line = False
    if statistics:
        for row in result.statistics(t):
            any_line = True
            yield f"{row['count']:>7}  {row['code']}  {row['name']:<28} [{row['severity']}]\n"
        if any_line:
            yield "\n"
    else:
        for code, first in _first_locations(result.findings, t, max_locations):
            any_line = True
            yield from _rule_lines(code, names.get(code, ""), t.rules[code], first, max_locations)
    yield summary_line(result, t) + "\n"


def _first_locations(findings, t: Tally, n: int) -> Iterator[tuple[str, Iterator]]:
    """``(code, its first n findings)`` per rule, in order of first appearance, in one reading of ``findings``."""
    if t.grouped:  # each rule's findings together: written as read
        for code, run in groupby(findings, key=_code):
            yield code, islice(run, n)
        return
    firsts: dict[str, list] = {code: [] for code in t.rules}
    for f in findings:
        got = firsts[f.code]
        if len(got) < n:
            got.append(f)
    for code, got in firsts.items():
        yield code, iter(got)


def _rule_lines(code: str, name: str, rt, first, max_locations: int) -> Iterator[str]:
    """One rule's heading, its first locations, how many more, and a blank line."""
    notes = [f"{rt.fixable} fixable"] if rt.fixable else []
    notes += [f"{rt.unsafe} fixable with --unsafe-fixes"] if rt.unsafe else []
    note = f" ({', '.join(notes)})" if notes else ""
    yield f"{code} {name} [{rt.severity}]: {_plural(rt.count, 'finding')}{note}\n"
    for f in first:
        yield f"  {f.location()}: {f.message}\n"
    if rt.count > max_locations:
        yield f"  ... and {rt.count - max_locations} more\n"
    yield "\n"
