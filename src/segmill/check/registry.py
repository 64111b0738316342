"""The rule catalogue: every rule registers itself here with its code and doc."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import SegmillError
from .finding import SEVERITIES

__all__ = ["Rule", "Hit", "rule", "all_rules", "get_rule", "select_rules", "FAMILIES"]

FAMILIES = {"S": "structure", "G": "geometry", "C": "consistency"}
_CODE = re.compile(r"^[SGC]\d{3}$")


@dataclass(frozen=True)
class Hit:
    """What a rule function yields; the engine adds code, severity and file."""

    message: str
    item_id: Any = None
    annotation_id: Any = None
    data: dict = field(default_factory=dict)
    key: str = ""
    file: str | None = None


@dataclass(frozen=True)
class Rule:
    """A rule in the catalogue.

    Attributes
    ----------
    code : str
        Stable code (``"G005"``); never reused for another meaning.
    name : str
        Kebab-case name (``"self-intersection"``).
    severity : {"error", "warning", "info"}
        Default severity (configurable per rule).
    default : bool
        Whether the rule runs when nothing is selected explicitly.
    summary : str
        One line.
    doc : str
        A paragraph with a bad and a good example.
    options : dict
        Threshold name -> default value (configurable per rule).
    option_docs : dict
        Threshold name -> one-line doc.
    func : callable
        ``func(ctx, **options) -> iterable of Hit``.
    """

    code: str
    name: str
    severity: str
    default: bool
    summary: str
    doc: str
    options: dict = field(default_factory=dict)
    option_docs: dict = field(default_factory=dict)
    func: Callable[..., Iterable[Hit]] | None = field(default=None, compare=False, repr=False)

    @property
    def family(self) -> str:
        """``"structure"``, ``"geometry"`` or ``"consistency"``."""
        return FAMILIES[self.code[0]]

    def to_dict(self) -> dict[str, Any]:
        """The catalogue entry as JSON-ready data (``segmill rules --json``)."""
        return {
            "code": self.code,
            "name": self.name,
            "family": self.family,
            "severity": self.severity,
            "default": self.default,
            "summary": self.summary,
            "doc": self.doc,
            "options": {k: {"default": v, "doc": self.option_docs.get(k, "")} for k, v in self.options.items()},
        }


_RULES: dict[str, Rule] = {}


def rule(code: str, name: str, *, severity: str, summary: str, doc: str, default: bool = True,
         options: dict | None = None, option_docs: dict | None = None):
    """Register a rule function (decorator).

    The function is called as ``func(ctx, **options)`` and yields :class:`Hit`.
    """
    if not _CODE.match(code):
        raise ValueError(f"rule code {code!r} must be S, G or C and 3 digits")
    if severity not in SEVERITIES:
        raise ValueError(f"rule {code}: unknown severity {severity!r}")

    def deco(func):
        if code in _RULES:
            raise ValueError(f"rule code {code} registered twice")
        import textwrap

        _RULES[code] = Rule(code, name, severity, default, summary, textwrap.dedent(doc).strip(),
                            dict(options or {}), dict(option_docs or {}), func)
        return func

    return deco


def _load() -> None:
    import importlib

    # A subpackage named "rules" would shadow the public function segmill.check.rules().
    importlib.import_module(f"{__package__}.ruleset")


def all_rules() -> list[Rule]:
    """Every rule, sorted by code."""
    _load()
    return [_RULES[c] for c in sorted(_RULES)]


def get_rule(code: str) -> Rule:
    """The rule with ``code`` (or kebab-case ``name``); :class:`SegmillError` if none."""
    _load()
    code_u = code.strip().upper()
    if code_u in _RULES:
        return _RULES[code_u]
    for r in _RULES.values():
        if r.name == code.strip().lower():
            return r
    raise SegmillError(f"unknown rule {code!r}; `segmill rules` lists them")


def _matches(code: str, selector: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _check_selectors(selectors: Iterable[str], what: str) -> list[str]:
    _load()
    out = []
    for s in selectors:
        s = s.strip().upper()
        if not s:
            continue
        if s != "ALL" and not any(c.startswith(s) for c in _RULES):
            raise SegmillError(f"{what}: {s!r} matches no rule code; `segmill rules` lists them")
        out.append(s)
    return out


def select_rules(select=None, ignore=None, extend_select=None) -> list[Rule]:
    """The rules to run, as ruff selects them.

    Parameters
    ----------
    select : list of str, optional
        Codes or code prefixes (``"G"``, ``"C00"``, ``"ALL"``); replaces the
        default set (rules with ``default=True``).
    ignore : list of str, optional
        Codes or prefixes removed after selection.
    extend_select : list of str, optional
        Codes or prefixes added to the selection (default or explicit).

    Raises
    ------
    segmill.errors.SegmillError
        A selector that matches no rule (a typo must not silently check nothing).
    """
    rules = all_rules()
    if select is None:
        chosen = {r.code for r in rules if r.default}
    else:
        sel = _check_selectors(select, "select")
        chosen = {r.code for r in rules if any(_matches(r.code, s) for s in sel)}
    for s in _check_selectors(extend_select or (), "extend-select"):
        chosen |= {r.code for r in rules if _matches(r.code, s)}
    for s in _check_selectors(ignore or (), "ignore"):
        chosen -= {r.code for r in rules if _matches(r.code, s)}
    return [r for r in rules if r.code in chosen]
