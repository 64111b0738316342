"""Text report: findings grouped by rule, counts, first locations, a summary line."""

from __future__ import annotations

from ..finding import SEVERITIES
from ..registry import is_fixable, is_unsafe_fixable

__all__ = ["render_text", "summary_line", "fixable_count", "unsafe_fixable_count"]


def _plural(n: int, word: str) -> str:
    if word == "info":
        return f"{n} info"
    return f"{n} {word}{'' if n == 1 else 's'}"


def fixable_count(result) -> int:
    """How many of ``result``'s findings ``segmill fix`` would fix."""
    return sum(map(is_fixable, result.findings))


def unsafe_fixable_count(result) -> int:
    """How many of ``result``'s findings only ``segmill fix --unsafe-fixes`` would fix."""
    return sum(map(is_unsafe_fixable, result.findings))


def _fixable_note(n: int, unsafe: int = 0) -> str:
    """`` 2 findings fixable with segmill fix (3 more with --unsafe-fixes).``, or what of it applies."""
    more = f"{unsafe} more with --unsafe-fixes" if unsafe else ""
    if n:
        return f" {_plural(n, 'finding')} fixable with segmill fix" + (f" ({more})." if more else ".")
    return f" {_plural(unsafe, 'finding')} fixable with segmill fix --unsafe-fixes." if unsafe else ""


def summary_line(result) -> str:
    """``Found 7 findings (2 errors, 5 warnings, 0 info) in 3 of 38 rules; failed (fail-on error).``

    When some findings can be fixed automatically, the line ends with
    ``2 findings fixable with segmill fix.`` (and ``(3 more with
    --unsafe-fixes)`` when unsafe fixes would take others).
    """
    n = len(result.findings)
    if n == 0:
        return (f"All checks passed: {len(result.rules)} rules on {result.images} images, "
                f"{result.annotations} annotations.")
    counts = result.counts()
    sev = ", ".join(_plural(counts[s], s) for s in SEVERITIES)
    verdict = "failed" if result.failed() else "passed"
    return (f"Found {_plural(n, 'finding')} ({sev}) in {len(result.by_rule())} of {len(result.rules)} rules "
            f"on {result.images} images, {result.annotations} annotations; {verdict} (fail-on {result.fail_on})."
            + _fixable_note(fixable_count(result), unsafe_fixable_count(result)))


def render_text(result, max_locations: int = 10, statistics: bool = False) -> str:
    """The human report.

    Parameters
    ----------
    max_locations : int, default 10
        Findings listed per rule; the rest are counted.
    statistics : bool, default False
        Only a count per rule (like ``ruff --statistics``), then the summary.
    """
    names = {r.code: r.name for r in result.rules}
    lines: list[str] = []
    if statistics:
        for row in result.statistics():
            lines.append(f"{row['count']:>7}  {row['code']}  {row['name']:<28} [{row['severity']}]")
    else:
        for code, fs in result.by_rule().items():
            fixable, unsafe = sum(map(is_fixable, fs)), sum(map(is_unsafe_fixable, fs))
            notes = [f"{fixable} fixable"] if fixable else []
            notes += [f"{unsafe} fixable with --unsafe-fixes"] if unsafe else []
            note = f" ({', '.join(notes)})" if notes else ""
            lines.append(f"{code} {names.get(code, '')} [{fs[0].severity}]: {_plural(len(fs), 'finding')}{note}")
            for f in fs[:max_locations]:
                lines.append(f"  {f.location()}: {f.message}")
            if len(fs) > max_locations:
                lines.append(f"  ... and {len(fs) - max_locations} more")
            lines.append("")
    if lines and lines[-1] != "":
        lines.append("")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"
