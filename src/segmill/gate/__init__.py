"""``segmill diff`` and ``segmill gate``: what changed in a dataset, and may it merge.

Public API
----------
:func:`diff`
    Compare two :class:`~segmill.model.Dataset` versions -> :class:`DatasetDiff`.
:func:`gate`
    Diff, check both versions and apply the gate rules -> :class:`GateResult`.
:data:`RULES`, :class:`GateConfig`, :func:`load_gate_config`
    The rule catalogue (codes ``GATE0xx``) and ``[tool.segmill.gate]``.
:class:`Baseline`, :func:`load_baseline`
    Accepted findings.
:func:`checkout_path`
    A path as it was at a git revision, in a temporary folder.
:func:`open_versions`
    Read two versions from paths or a git revision.
:func:`render_diff`, :func:`render_gate`
    Reports (text, json, markdown; gate also junit, sarif, github); their
    ``_chunks`` forms give them as chunks (JSON written a change at a time).
"""

from __future__ import annotations

from ._load import Versions, open_versions
from .baseline import Baseline, load_baseline
from .categories import CategoryChange, CategoryDiff
from .diff import AnnotationChange, DatasetDiff, ImageChange, diff
from .evaluate import GateResult, Origin, gate, new_findings
from .gitrev import checkout_path
from .policy import RULES, GateConfig, load_configs, load_gate_config
from .render import DIFF_FORMATS, GATE_FORMATS, render_diff, render_diff_chunks, render_gate, render_gate_chunks

__all__ = [
    "diff",
    "gate",
    "new_findings",
    "DatasetDiff",
    "AnnotationChange",
    "ImageChange",
    "CategoryChange",
    "CategoryDiff",
    "GateResult",
    "Origin",
    "GateConfig",
    "RULES",
    "load_gate_config",
    "load_configs",
    "Baseline",
    "load_baseline",
    "checkout_path",
    "open_versions",
    "Versions",
    "render_diff",
    "render_diff_chunks",
    "render_gate",
    "render_gate_chunks",
    "DIFF_FORMATS",
    "GATE_FORMATS",
]
