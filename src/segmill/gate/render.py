"""One entry point per report kind: ``render_diff`` and ``render_gate``."""

from __future__ import annotations

import json

from ..check.finding import jsonable
from .diff import DatasetDiff
from .evaluate import GateResult

DIFF_FORMATS = ("text", "json", "markdown")
GATE_FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")


def render_diff(d: DatasetDiff, output_format: str = "text", limit: int = 20) -> str:
    """A :class:`DatasetDiff` as ``text``, ``json`` or ``markdown``."""
    if output_format == "text":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .report_text import render_diff_text

        return render_diff_text(d, limit)
    if output_format == "markdown":
        # lazy: start-up time (only the renderer asked for is loaded)
        from .report_markdown import render_diff_markdown

        return render_diff_markdown(d, limit)
    if output_format == "json":
        return json.dumps(jsonable(d.to_dict()), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown diff output format {output_format!r}; choose one of {', '.join(DIFF_FORMATS)}")


def render_gate(res: GateResult, output_format: str = "text", limit: int = 20) -> str:
    """A :class:`GateResult` in one of :data:`GATE_FORMATS`."""
    # lazy: start-up time (only the renderers of gate reports are loaded)
    from . import report_ci, report_markdown, report_text

    makers = {
        "text": lambda: report_text.render_gate_text(res, limit),
        "markdown": lambda: report_markdown.render_gate_markdown(res, limit),
        "json": lambda: report_ci.render_json(res),
        "junit": lambda: report_ci.render_junit(res),
        "sarif": lambda: report_ci.render_sarif(res),
        "github": lambda: report_ci.render_github(res),
    }
    if output_format not in makers:
        raise ValueError(f"unknown gate output format {output_format!r}; choose one of {', '.join(GATE_FORMATS)}")
    return makers[output_format]()
