"""The rule catalogue: every check and gate rule registers itself here with its code and doc.

Check rules (codes ``S``/``G``/``C`` and three digits) are functions the check
engine runs; gate rules (``GATE`` and three digits, declared in
:mod:`segmill.gate.rules`) are evaluated by :func:`segmill.gate.gate` and carry
no function. Both share one severity order (:data:`segmill.check.finding.SEVERITIES`),
one way to be selected, re-graded and documented, and the docs tables are
generated from this catalogue (``tools/gen_docs.py``).
"""

from __future__ import annotations

import importlib
import re
import textwrap
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from .._fields import fields_dict

from ..errors import SegmillError
from .finding import SEVERITIES

__all__ = ["Rule", "Hit", "Fix", "rule", "register", "all_rules", "get_rule", "select_rules", "is_fixable",
           "is_unsafe_fixable",
           "FAMILIES", "KINDS"]

FAMILIES = {"S": "structure", "G": "geometry", "C": "consistency", "GATE": "gate"}
#: Which rules :func:`all_rules` returns: the check engine's, the gate's, or both.
KINDS = ("check", "gate", "all")
_CODE = re.compile(r"^(?:[SGC]\d{3}|GATE\d{3})$")
#: Modules whose import registers rules (a subpackage named "rules" would shadow
#: the public function segmill.check.rules(), hence "ruleset").
_RULE_MODULES = ("segmill.check.ruleset", "segmill.gate.rules")


@dataclass(frozen=True)
class Hit:
    """What a rule function yields; the engine adds code, severity and file."""

    message: str
    item_id: Any = None
    annotation_id: Any = None
    data: dict = field(default_factory=dict)
    key: str = ""
    file: str | None = None


def _always(finding) -> bool:
    return True


@dataclass(frozen=True)
class Fix:
    """The safe automatic fix of one or more rules (``segmill fix``), declared with ``fix=`` on :func:`rule`.

    Attributes
    ----------
    stage : int
        Where the fix runs in the fixed order of :func:`segmill.check.fix`
        (lower first); rules sharing a fix share its stage.
    name : str
        Kebab-case name (``"recompute-stored-values"``).
    summary : str
        What the fix does, one line (``segmill rules CODE``, docs/fix.md).
    apply : callable
        ``apply(state, findings)``: changes the working copy
        (:class:`segmill.check.fixes.FixState`) for the findings it is given,
        recording each change there.
    applies : callable
        ``applies(finding) -> bool``: whether this finding can be fixed safely,
        decided from the finding alone (its ``data``); ``segmill check``
        counts the fixable findings with it.
    when : str
        The condition of :attr:`applies`, read after "the fix applies only"
        (``"to exact copies"``), or ``""`` when every finding of the rule is
        fixable (the docs' "fixable" column).
    unsafe : bool
        Whether the fix changes what the dataset says rather than how it
        says it (drops a record no reader keeps, renumbers a repeated id):
        it runs only with ``segmill fix --unsafe-fixes``, and is declared
        with ``unsafe_fix=`` on :func:`rule`.
    """

    stage: int
    name: str
    summary: str
    apply: Callable = field(compare=False, repr=False)
    applies: Callable = field(default=_always, compare=False, repr=False)
    when: str = ""
    unsafe: bool = False


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
    fix : Fix, optional
        The rule's safe automatic fix (``segmill fix``), if it has one.
    unsafe_fix : Fix, optional
        Its fix for the findings :attr:`fix` does not take, run only with
        ``segmill fix --unsafe-fixes`` (a :class:`Fix` with ``unsafe=True``).
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
    fix: Fix | None = field(default=None, compare=False, repr=False)
    unsafe_fix: Fix | None = field(default=None, compare=False, repr=False)

    @property
    def fixable(self) -> bool:
        """Whether ``segmill fix`` can fix (some of) this rule's findings."""
        return self.fix is not None

    @property
    def unsafe_fixable(self) -> bool:
        """Whether ``segmill fix --unsafe-fixes`` can fix findings of this rule that ``segmill fix`` leaves."""
        return self.unsafe_fix is not None

    def fixes(self, unsafe: bool = False) -> list[Fix]:
        """The rule's fixes ``segmill fix`` runs (with ``unsafe``: its unsafe fix too)."""
        return [f for f in (self.fix, self.unsafe_fix if unsafe else None) if f is not None]

    @property
    def family(self) -> str:
        """``"structure"``, ``"geometry"``, ``"consistency"`` or ``"gate"``."""
        return FAMILIES["GATE" if self.is_gate else self.code[0]]

    @property
    def is_gate(self) -> bool:
        """Whether this is a gate rule (evaluated by ``segmill gate``, not by the check engine)."""
        return self.code.startswith("GATE")

    def anchor(self) -> str:
        """The heading anchor of this rule in the generated docs (``g005-self-intersection``)."""
        return f"{self.code.lower()}-{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """The catalogue entry as JSON-ready data (``segmill rules --json``)."""
        return {
            **fields_dict(self, ("code", "name", "family", "severity", "default", "summary", "doc")),
            "options": {k: {"default": v, "doc": self.option_docs.get(k, "")} for k, v in self.options.items()},
            "fixable": self.fixable,
            "fix": None if self.fix is None else {"name": self.fix.name, "summary": self.fix.summary,
                                                  "when": self.fix.when},
            "unsafe_fix": None if self.unsafe_fix is None else {
                "name": self.unsafe_fix.name, "summary": self.unsafe_fix.summary, "when": self.unsafe_fix.when},
        }


_RULES: dict[str, Rule] = {}


def rule(code: str, name: str, *, severity: str, summary: str, doc: str, default: bool = True,
         options: dict | None = None, option_docs: dict | None = None, fix: Fix | None = None,
         unsafe_fix: Fix | None = None):
    """Register a rule function (decorator).

    The function is called as ``func(ctx, **options)`` and yields :class:`Hit`.
    ``fix`` declares the rule's safe automatic fix, ``unsafe_fix`` the one
    run only with ``--unsafe-fixes`` (see :class:`Fix`).
    """
    def deco(func):
        register(Rule(code, name, severity, default, summary, doc, dict(options or {}), dict(option_docs or {}),
                      func, fix, unsafe_fix))
        return func

    return deco


def register(entry: Rule) -> Rule:
    """Add ``entry`` to the catalogue (its doc dedented); the entry as stored.

    Raises
    ------
    ValueError
        A malformed code, an unknown severity, a code registered twice, or a
        check rule without a function (a bug in a rule module, found at import).
    """
    if not _CODE.match(entry.code):
        raise ValueError(f"rule code {entry.code!r} must be S, G or C and 3 digits, or GATE and 3 digits")
    if entry.severity not in SEVERITIES:
        raise ValueError(f"rule {entry.code}: unknown severity {entry.severity!r}")
    if entry.code in _RULES:
        raise ValueError(f"rule code {entry.code} registered twice")
    if (entry.func is None) != entry.is_gate:
        raise ValueError(f"rule {entry.code}: check rules have a function, gate rules none")
    if (entry.fix is not None or entry.unsafe_fix is not None) and entry.is_gate:
        raise ValueError(f"rule {entry.code}: gate rules have no fix")
    if ((entry.fix is not None and entry.fix.unsafe)
            or (entry.unsafe_fix is not None and not entry.unsafe_fix.unsafe)):
        raise ValueError(f"rule {entry.code}: fix= takes a safe Fix, unsafe_fix= an unsafe one")
    stored = replace(entry, doc=textwrap.dedent(entry.doc).strip())
    _RULES[entry.code] = stored
    return stored


def _load(kind: str = "all") -> None:
    """Import the modules that register rules: for ``kind="check"`` the check rules only (the gate
    rules are codes ``GATE*`` of ``segmill.gate.rules``, whose package import costs a check's start-up)."""
    for module in _RULE_MODULES if kind != "check" else _RULE_MODULES[:1]:
        importlib.import_module(module)


def all_rules(kind: str = "check") -> list[Rule]:
    """The rules of ``kind`` (``"check"``, ``"gate"`` or ``"all"``), sorted by code."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    _load(kind)
    return [_RULES[c] for c in sorted(_RULES) if kind == "all" or _RULES[c].is_gate == (kind == "gate")]


def get_rule(code: str) -> Rule:
    """The rule with ``code`` (or kebab-case ``name``); :class:`SegmillError` if none."""
    _load()
    code_u = str(code).strip().upper()
    if code_u in _RULES:
        return _RULES[code_u]
    for r in _RULES.values():
        if r.name == code.strip().lower():
            return r
    raise SegmillError(f"unknown rule {code!r}; `segmill rules` lists them")


def is_fixable(finding) -> bool:
    """Whether ``segmill fix`` would fix ``finding`` (its rule has a fix that applies to it)."""
    _load()
    r = _RULES.get(finding.code)
    return r is not None and r.fix is not None and bool(r.fix.applies(finding))


def is_unsafe_fixable(finding) -> bool:
    """Whether only ``segmill fix --unsafe-fixes`` would fix ``finding`` (the safe fix does not take it)."""
    _load()
    r = _RULES.get(finding.code)
    return (r is not None and r.unsafe_fix is not None and not is_fixable(finding)
            and bool(r.unsafe_fix.applies(finding)))


def _matches(code: str, selector: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _check_selectors(selectors: Iterable[str], what: str, rules: list[Rule]) -> list[str]:
    out = []
    for s in selectors:
        s = s.strip().upper()
        if not s:
            continue
        if s != "ALL" and not any(r.code.startswith(s) for r in rules):
            raise SegmillError(f"{what}: {s!r} matches no rule code; `segmill rules` lists them")
        out.append(s)
    return out


def select_rules(select=None, ignore=None, extend_select=None, kind: str = "check") -> list[Rule]:
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
    kind : {"check", "gate"}
        Which rules to select among.

    Raises
    ------
    segmill.errors.SegmillError
        A selector that matches no rule (a typo must not silently check nothing).
    """
    rules = all_rules(kind)
    if select is None:
        chosen = {r.code for r in rules if r.default}
    else:
        sel = _check_selectors(select, "select", rules)
        chosen = {r.code for r in rules if any(_matches(r.code, s) for s in sel)}
    for s in _check_selectors(extend_select or (), "extend-select", rules):
        chosen |= {r.code for r in rules if _matches(r.code, s)}
    for s in _check_selectors(ignore or (), "ignore", rules):
        chosen -= {r.code for r in rules if _matches(r.code, s)}
    return [r for r in rules if r.code in chosen]
