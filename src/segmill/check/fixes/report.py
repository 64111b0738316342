"""A :class:`~segmill.check.fixes.FixReport` for people: one line per fix, then a summary."""

from __future__ import annotations

from collections import Counter

__all__ = ["render_fix_text", "fix_summary"]


def fix_summary(report, dry_run: bool = False) -> str:
    """``Fixed 9 findings (G001 x1, G006 x1, ...); 3 findings of fixable rules left (...).``"""
    verb = "Would fix" if dry_run else "Fixed"
    n = len(report.changes)
    if n:
        parts = ", ".join(f"{code} x{k}" for code, k in report.by_rule().items())
        head = f"{verb} {n} finding{'' if n == 1 else 's'} ({parts})"
    else:
        head = "Nothing to fix" if not dry_run else "Nothing would be fixed"
    left = len(report.left)
    if left:
        parts = ", ".join(f"{code} x{k}" for code, k in report.left_by_rule().items())
        head += (f"; {left} finding{'' if left == 1 else 's'} of fixable rules left ({parts}): "
                 "not safe to fix automatically (segmill check lists them)")
    return head + "."


def render_fix_text(report, dry_run: bool = False, max_left: int = 10) -> str:
    """``file:record: CODE fixed: what`` per fix, then the findings left with their reasons, and the summary.

    Parameters
    ----------
    dry_run : bool
        Word the summary as what would be fixed.
    max_left : int, default 10
        Findings left listed per rule; the rest are counted.
    """
    lines = [c.line() for c in report.changes]
    shown: Counter = Counter()
    for f, why in report.left:
        shown[f.code] += 1
        if shown[f.code] <= max_left:
            lines.append(f"{f.location()}: {f.code} not fixed: {f.message} ({why})")
    for code, n in shown.items():
        if n > max_left:
            lines.append(f"... and {n - max_left} more {code} finding(s) not fixed")
    lines.append(fix_summary(report, dry_run))
    return "\n".join(lines) + "\n"
