"""``segmill check``: a dataset linter with rule codes, configuration and reports.

Rules have stable codes like ruff's: ``S`` structure (ids, references, image
files), ``G`` geometry (malformed or inconsistent shapes), ``C`` consistency
(overlaps, duplicates, category names, outliers). ``segmill rules`` prints the
catalogue.

Public API
----------
:func:`check`, :func:`check_path`, :func:`check_datasets`
    Run the rules; get a :class:`CheckResult` (findings as data).
:func:`fix`
    Apply the safe automatic fixes of the rules that have one (``segmill fix``);
    get the fixed copy and a :class:`FixReport`.
:func:`rules`
    The catalogue (:class:`Rule`).
:func:`segmill.check.config.load_config`
    ``[tool.segmill]`` from ``pyproject.toml`` or ``segmill.toml``.
:func:`render`
    A result as text, json, junit, sarif or github annotations.
"""

from __future__ import annotations

from .config import Config, load_config
from .engine import check, check_datasets, check_path
from .finding import SEVERITIES, Finding, severity_rank
from .fixes import FixReport, fix
from .registry import Fix, Rule, all_rules, get_rule, is_fixable, is_unsafe_fixable, select_rules
from .report import FORMATS as OUTPUT_FORMATS
from .report import render
from .result import SCHEMA, CheckResult

__all__ = [
    "check",
    "check_path",
    "check_datasets",
    "fix",
    "FixReport",
    "Fix",
    "is_fixable",
    "is_unsafe_fixable",
    "rules",
    "get_rule",
    "select_rules",
    "render",
    "Finding",
    "CheckResult",
    "Rule",
    "Config",
    "load_config",
    "SEVERITIES",
    "SCHEMA",
    "OUTPUT_FORMATS",
    "severity_rank",
]


def rules() -> list[Rule]:
    """Every rule in the catalogue, sorted by code."""
    return all_rules()
