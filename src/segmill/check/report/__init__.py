"""Render a :class:`~segmill.check.CheckResult` for people and for CI."""

from __future__ import annotations

from ..._gc import no_gc
from ...errors import SegmillError

__all__ = ["FORMATS", "render"]

#: Output formats and their one-line docs.
FORMATS = {
    "text": "grouped by rule, with counts, the first locations and a summary line",
    "json": "the result as JSON (schema segmill.check/1, see CheckResult.to_dict)",
    "junit": "JUnit XML, one testcase per rule that ran",
    "sarif": "SARIF 2.1.0 (GitHub code scanning and other viewers)",
    "github": "GitHub Actions workflow commands (::error file=...::...)",
}


def render(result, output_format: str = "text", **options) -> str:
    """``result`` as a string in ``output_format`` (one of :data:`FORMATS`).

    Parameters
    ----------
    result : CheckResult
    output_format : str
    **options
        ``text``: ``max_locations`` (default 10), ``statistics`` (bool).
    """
    with no_gc():  # a report of many findings allocates a dict or string per value, and no cycle
        return _render(result, output_format, **options)


def _render(result, output_format: str, **options) -> str:
    if output_format == "text":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .text import render_text

        return render_text(result, **options)
    if output_format == "json":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .json import render_json

        return render_json(result)
    if output_format == "junit":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .junit import render_junit

        return render_junit(result)
    if output_format == "sarif":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .sarif import render_sarif

        return render_sarif(result)
    if output_format == "github":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .github import render_github

        return render_github(result)
    raise SegmillError(f"unknown output format {output_format!r}; use one of {', '.join(FORMATS)}")
