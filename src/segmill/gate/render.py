"""One entry point per report kind: ``render_diff`` and ``render_gate``, each with its ``_chunks`` form.

The ``_chunks`` forms give the report as string chunks made one after the
other (their concatenation is the text): the JSON reports write a diff's
changes one at a time (:func:`segmill.check.report.json.document_chunks`),
so the command's output never holds them whole.
"""

from __future__ import annotations

from typing import Iterator

from ..check.finding import jsonable
from .diff import DatasetDiff
from .evaluate import GateResult

DIFF_FORMATS = ("text", "json", "markdown")
GATE_FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")


def render_diff(d: DatasetDiff, output_format: str = "text", limit: int = 20) -> str:
    """A :class:`DatasetDiff` as ``text``, ``json`` or ``markdown``."""
    return "".join(render_diff_chunks(d, output_format, limit))


def render_diff_chunks(d: DatasetDiff, output_format: str = "text", limit: int = 20) -> Iterator[str]:
    """:func:`render_diff`'s text as chunks."""
    if output_format == "text":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .report_text import render_diff_text

        return iter((render_diff_text(d, limit),))
    if output_format == "markdown":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .report_markdown import render_diff_markdown

        return iter((render_diff_markdown(d, limit),))
    if output_format == "json":
        # lazy: start-up time (only the renderer asked for is loaded)
        from ..check.report.json import document_chunks

        return document_chunks(d.to_dict(spliced=True), jsonable)
    raise ValueError(f"unknown diff output format {output_format!r}; choose one of {', '.join(DIFF_FORMATS)}")


def render_gate(res: GateResult, output_format: str = "text", limit: int = 20) -> str:
    """A :class:`GateResult` in one of :data:`GATE_FORMATS`."""
    return "".join(render_gate_chunks(res, output_format, limit))


def render_gate_chunks(res: GateResult, output_format: str = "text", limit: int = 20) -> Iterator[str]:
    """:func:`render_gate`'s text as chunks."""
    # lazy: start-up time (only the renderers of gate reports are loaded)
    from . import report_ci, report_markdown, report_text

    makers = {
        "text": lambda: (report_text.render_gate_text(res, limit),),
        "markdown": lambda: (report_markdown.render_gate_markdown(res, limit),),
        "json": lambda: report_ci.json_chunks(res),
        "junit": lambda: (report_ci.render_junit(res),),
        "sarif": lambda: (report_ci.render_sarif(res),),
        "github": lambda: (report_ci.render_github(res),),
    }
    if output_format not in makers:
        raise ValueError(f"unknown gate output format {output_format!r}; choose one of {', '.join(GATE_FORMATS)}")
    return iter(makers[output_format]())
