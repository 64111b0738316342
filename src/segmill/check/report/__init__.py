"""Render a :class:`~segmill.check.CheckResult` for people and for CI.

Every format is made as an iterable of string chunks (:func:`render_chunks`,
a finding or a line at a time, the summaries from the result's tally), so a
report of a million findings is written as it is made, never held whole;
:func:`render` joins them.
"""

from __future__ import annotations

from typing import Iterator

from ..._gc import no_gc
from ...errors import SegmillError

__all__ = ["FORMATS", "render", "render_chunks"]

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
    return "".join(render_chunks(result, output_format, **options))


def render_chunks(result, output_format: str = "text", **options) -> Iterator[str]:
    """:func:`render`'s text as chunks made one after the other (their concatenation is the text).

    An unknown ``output_format`` raises :class:`~segmill.errors.SegmillError`
    at once, before any chunk.
    """
    chunks = _chunks(result, output_format, **options)
    return _without_gc(chunks)


def _without_gc(chunks) -> Iterator[str]:
    """``chunks``, made with the cycle collector off (until the last is taken or the iterator is closed)."""
    with no_gc():  # a report of many findings allocates a dict or string per value, and no cycle
        yield from chunks


def _chunks(result, output_format: str, **options) -> Iterator[str]:
    """The chunks of the renderer of ``output_format`` (loaded only when asked for)."""
    if output_format == "text":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .text import text_chunks

        return text_chunks(result, **options)
    if output_format == "json":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .json import json_chunks

        return json_chunks(result)
    if output_format == "junit":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .junit import junit_chunks

        return junit_chunks(result)
    if output_format == "sarif":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .sarif import sarif_chunks

        return sarif_chunks(result)
    if output_format == "github":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .github import github_chunks

        return github_chunks(result)
    raise SegmillError(f"unknown output format {output_format!r}; use one of {', '.join(FORMATS)}")
