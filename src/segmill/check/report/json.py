"""JSON report: :meth:`CheckResult.to_dict`, pretty-printed."""

from __future__ import annotations

import json

__all__ = ["render_json"]


def render_json(result) -> str:
    """The result as indented JSON with a trailing newline."""
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
