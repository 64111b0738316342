"""JUnit XML: one testcase per rule that ran; findings at or above fail-on are failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..finding import severity_rank

__all__ = ["render_junit"]


def render_junit(result) -> str:
    """A ``<testsuites>`` document with one ``<testsuite name="segmill check">``.

    Each rule that ran is a ``<testcase classname="segmill.check.<family>"
    name="CODE name">``. It fails (one ``<failure>`` listing the findings)
    when it has findings at or above the fail level; findings below it go to
    ``<system-out>`` and the case passes.
    """
    level = severity_rank(result.fail_on)
    by_rule = result.by_rule()
    suites = ET.Element("testsuites", name="segmill check")
    suite = ET.SubElement(suites, "testsuite", name="segmill check")
    failures = 0
    for r in result.rules:
        case = ET.SubElement(suite, "testcase", classname=f"segmill.check.{r.family}", name=f"{r.code} {r.name}")
        fs = by_rule.get(r.code, [])
        if not fs:
            continue
        body = "\n".join(f"{f.severity}: {f.location()}: {f.message}" for f in fs)
        if any(severity_rank(f.severity) >= level for f in fs):
            failures += 1
            fail = ET.SubElement(case, "failure", message=f"{len(fs)} finding(s): {r.summary}",
                                 type=fs[0].severity)
            fail.text = body
        else:
            out = ET.SubElement(case, "system-out")
            out.text = body
    for el in (suites, suite):
        el.set("tests", str(len(result.rules)))
        el.set("failures", str(failures))
        el.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
