"""Apply the fixes of the selected rules, in their fixed order, and re-check: :func:`fix`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from ...model import Dataset
from ..config import Config
from ..engine import check
from ..finding import Finding
from ..registry import Fix, Rule, get_rule, is_fixable, is_unsafe_fixable, select_rules
from .state import Change, FixState

__all__ = ["fix", "FixReport", "SCHEMA", "MAX_ROUNDS"]

#: Identifies the JSON layout of :meth:`FixReport.to_dict`.
SCHEMA = "segmill.fix/1"
#: Passes over the stages at most: a fix can leave work for an earlier stage (a clipped sliver
#: that covers no pixel any more), which the next pass does.
MAX_ROUNDS = 3


@dataclass
class FixReport:
    """What :func:`fix` did.

    Attributes
    ----------
    changes : list of Change
        Every fix applied, in the order applied.
    left : list of (Finding, str)
        Findings of the selected fixable rules still found in the result,
        each with why it was not fixed (not safe to fix automatically, ids
        not unique...).
    rules : list of Rule
        The selected rules that have a fix.
    rounds : int
        Passes over the stages (0 when there was nothing to fix).
    unsafe : bool
        Whether the unsafe fixes ran too (``--unsafe-fixes``).
    """

    changes: list[Change] = field(default_factory=list)
    left: list[tuple[Finding, str]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    rounds: int = 0
    unsafe: bool = False

    def by_rule(self) -> dict[str, int]:
        """Number of fixes per rule code, in code order."""
        return dict(sorted(Counter(c.code for c in self.changes).items()))

    def left_by_rule(self) -> dict[str, int]:
        """Number of findings left per rule code, in code order."""
        return dict(sorted(Counter(f.code for f, _ in self.left).items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: ``schema``, ``summary``, ``rules``, ``fixes`` and ``left``."""
        return {
            "schema": SCHEMA,
            "summary": {"fixes": len(self.changes), "by_rule": self.by_rule(), "left": len(self.left),
                        "left_by_rule": self.left_by_rule(), "rounds": self.rounds, "unsafe_fixes": self.unsafe},
            "rules": [{"code": r.code, "name": r.name, "fix": " + ".join(fx.name for fx in r.fixes(self.unsafe))}
                      for r in self.rules],
            "fixes": [c.to_dict() for c in self.changes],
            "left": [{**f.to_dict(), "reason": why} for f, why in self.left],
        }


def fix(dataset: Dataset, select=None, ignore=None, *, config: Config | None = None,
        path=None, unsafe_fixes: bool = False) -> tuple[Dataset, FixReport]:
    """Apply the safe automatic fix of every selected rule that has one.

    The input is not changed: the result is a copy sharing what no fix
    touched. Fixes run in a fixed order (their :attr:`~segmill.check.registry.Fix.stage`:
    drop malformed parts, drop empty annotations, RLE sizes, repair
    self-crossing rings, clip to the image, recompute stored values, drop
    exact copies, drop unused categories); each stage works on what the
    stages before it left, then the result is checked again and, if a fix
    left work for an earlier stage, the stages run once more (at most
    :data:`MAX_ROUNDS` passes). A second ``fix`` of the result changes nothing.

    Parameters
    ----------
    dataset : Dataset
        Best read with ``errors="keep"`` so that malformed geometry reaches the fixes.
    select, ignore : list of str, optional
        Rule codes or prefixes, as :func:`segmill.check.check` takes them; only
        selected rules that have a fix run.
    config : Config, optional
        Selection and rule thresholds (see :func:`segmill.check.config.load_config`).
    path : path, optional
        Where the dataset was read from (names the file in the report).
    unsafe_fixes : bool, default False
        Run the unsafe fixes too (:attr:`~segmill.check.registry.Fix.unsafe`,
        run first): drop records no reader keeps (S014), annotations of
        unlisted images (S005) or undeclared categories (S004) and geometry
        that cannot be decoded (G008, G009, G010), renumber repeated ids
        (S001, S002, S003). Each is a reported change.

    Returns
    -------
    (Dataset, FixReport)

    Examples
    --------
    >>> from segmill import Dataset, Category, Item, Annotation
    >>> from segmill.geometry import Polygons
    >>> ann = Annotation(1, 1, Polygons([[0, 0, 4, 0, 4, 4, 0, 4]]), area=99.0, bbox=(0, 0, 4, 4))
    >>> ds = Dataset([Category(1, "cat")], [Item(1, "a.png", 8, 8, [ann])])
    >>> fixed, report = fix(ds)
    >>> fixed.items[0].annotations[0].area, [c.code for c in report.changes], ds.items[0].annotations[0].area
    (16.0, ['G012'], 99.0)
    """
    cfg = config or Config()
    if select is not None or ignore is not None:
        cfg = cfg.override(select=select, ignore=ignore)
    rules = [r for r in select_rules(cfg.select, cfg.ignore, cfg.extend_select) if r.fixes(unsafe_fixes)]
    state = FixState(dataset, None if path is None else str(path))
    report = FixReport(rules=rules, unsafe=unsafe_fixes)
    if not rules:
        return state.dataset, report
    stages = _stages(rules, unsafe_fixes)
    codes = [r.code for r in rules]
    found = _check(state, cfg, codes)
    while report.rounds < MAX_ROUNDS and any(_to_fix(state, f, unsafe_fixes) for f in found):
        report.rounds += 1
        done = len(state.changes)
        _round(state, cfg, stages, found)
        found = _check(state, cfg, codes)
        if len(state.changes) == done:
            break
    report.changes = state.changes
    report.left = [(f, _why(state, f, unsafe_fixes)) for f in found]
    return state.dataset, report


def _stages(rules: list[Rule], unsafe: bool = False) -> list[tuple[Fix, list[str]]]:
    """Each fix with the codes of its selected rules, in stage order."""
    out: dict = {}
    for r in rules:
        for fx in r.fixes(unsafe):
            out.setdefault(id(fx), (fx, []))[1].append(r.code)
    return sorted(out.values(), key=lambda fc: (fc[0].stage, fc[0].name))


def _check(state: FixState, cfg: Config, codes: list[str]) -> list[Finding]:
    """The findings of ``codes`` in the working copy now."""
    only = replace(cfg, select=list(codes), extend_select=[], ignore=[])
    state.dirty = False
    return check(state.dataset, config=only, path=state.file).findings


def _round(state: FixState, cfg: Config, stages, found: list[Finding]) -> None:
    """One pass over the stages; ``found`` describes the working copy until a stage changes it."""
    fresh = True
    for fx, codes in stages:
        fs = [f for f in found if f.code in codes] if fresh else _check(state, cfg, codes)
        todo = [f for f in fs if _takes(fx, f)]
        if todo:
            fx.apply(state, todo)
            state.settle()
            fresh = fresh and not state.dirty


def _takes(fx: Fix, f: Finding) -> bool:
    """Whether fix ``fx`` takes ``f``: an unsafe fix only what its rule's safe fix does not."""
    if fx.unsafe:
        return not is_fixable(f) and bool(fx.applies(f))
    return bool(fx.applies(f))


def _to_fix(state: FixState, f: Finding, unsafe: bool = False) -> bool:
    """Whether ``f`` is one a fix should take (it applies, and no fix has given up on it)."""
    return state.reason(f) is None and any(_takes(fx, f) for fx in get_rule(f.code).fixes(unsafe))


def _why(state: FixState, f: Finding, unsafe: bool = False) -> str:
    """Why ``f`` is still there."""
    why = state.reason(f)
    if why:
        return why
    fx = get_rule(f.code).fix
    if fx is not None and fx.applies(f):
        return f"still found after {MAX_ROUNDS} rounds of fixes"
    why = f"the fix applies only {fx.when}" if fx is not None and fx.when else "not safe to fix automatically"
    return why + ("; fixable with --unsafe-fixes" if not unsafe and is_unsafe_fixable(f) else "")
