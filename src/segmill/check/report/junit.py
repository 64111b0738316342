"""JUnit XML: one testcase per rule that ran; findings at or above fail-on are failures.

The document is made by :mod:`xml.etree.ElementTree` with a marker where each
rule's list of findings goes; the lists are written into the text a finding
at a time (escaped as ElementTree escapes text), so the report is never
held whole.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby
from operator import attrgetter
from typing import Iterator

from .._tally import Tally, tally_of
from ..finding import severity_rank

__all__ = ["junit_chunks", "render_junit"]

_code = attrgetter("code")
#: Where a rule's findings go: ``segmill:junit:findings-<k>:`` (text ElementTree writes as it is).
_HOLE = "segmill:junit:findings-{}:"
_HOLES = re.compile(r"segmill:junit:findings-[0-9]+:")


def render_junit(result) -> str:
    """A ``<testsuites>`` document with one ``<testsuite name="segmill check">``.

    Each rule that ran is a ``<testcase classname="segmill.check.<family>"
    name="CODE name">``. It fails (one ``<failure>`` listing the findings)
    when it has findings at or above the fail level; findings below it go to
    ``<system-out>`` and the case passes.
    """
    return "".join(junit_chunks(result))


def junit_chunks(result) -> Iterator[str]:
    """:func:`render_junit`'s text: the document between the lists of findings, and each finding's line."""
    t = tally_of(result)
    text, codes = _skeleton(result, t)
    pieces = _HOLES.split(text)
    if len(pieces) != len(codes) + 1:  # pragma: no cover - a rule's text holds a marker
        raise AssertionError("a rule's name or summary holds the JUnit writer's marker")
    yield pieces[0]
    for piece, (_, findings) in zip(pieces[1:], _by_rule(result.findings, t, codes)):
        sep = ""
        for f in findings:
            yield sep + _escape(f"{f.severity}: {f.location()}: {f.message}")
            sep = "\n"
        yield piece


def _skeleton(result, t: Tally) -> tuple[str, list[str]]:
    """The document with a marker for each list of findings, and the rule code of each marker, in order."""
    level = severity_rank(result.fail_on)
    suites = ET.Element("testsuites", name="segmill check")
    suite = ET.SubElement(suites, "testsuite", name="segmill check")
    failures, codes = 0, []
    for r in result.rules:
        case = ET.SubElement(suite, "testcase", classname=f"segmill.check.{r.family}", name=f"{r.code} {r.name}")
        rt = t.rules.get(r.code)
        if rt is None:
            continue
        if rt.failing(level):
            failures += 1
            el = ET.SubElement(case, "failure", message=f"{rt.count} finding(s): {r.summary}", type=rt.severity)
        else:
            el = ET.SubElement(case, "system-out")
        el.text = _HOLE.format(len(codes))
        codes.append(r.code)
    for el in (suites, suite):
        el.set("tests", str(len(result.rules)))
        el.set("failures", str(failures))
        el.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n", codes


def _by_rule(findings, t: Tally, codes: list[str]) -> Iterator[tuple[str, Iterator]]:
    """``(code, its findings in order)`` for each of ``codes``: in one reading of ``findings`` when each
    rule's come together in that order, else one reading per rule."""
    wanted = set(codes)
    if t.grouped and [c for c in t.rules if c in wanted] == codes:
        for code, run in groupby(findings, key=_code):
            if code in wanted:
                yield code, run
        return
    for code in codes:
        yield code, (f for f in findings if f.code == code)


def _escape(text: str) -> str:
    """Text as ElementTree writes it in an element (``&``, ``<`` and ``>`` escaped)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text
