"""How two values of one field meet: equal, filled, or in conflict (resolved by ``on_conflict``).

A value one side leaves empty (``None``, or a key it does not have) is filled
from the other side and is never a conflict. Two different values are a
conflict, which the policy resolves:

``error``
    the caller raises (:func:`resolve` says ``"conflict"``);
``first`` / ``last``
    the earlier / later source's value is kept, the other dropped;
``union``
    dicts are combined key by key and lists joined (each value once, in
    order); where two scalars still differ, the first is kept.

:class:`Fields` holds the values of one merged category or image while the
sources are added, with the source each value came from (for messages).
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError, UsageError
from ..validate import brief

__all__ = ["POLICIES", "check_policy", "same", "resolve", "resolve_keys", "Fields", "MergeConflictError"]

POLICIES = ("error", "first", "last", "union")

#: What :func:`resolve` says happened.
EQUAL, CONFLICT, DROPPED, COMBINED = None, "conflict", "dropped", "combined"


def check_policy(on_conflict) -> str:
    """``on_conflict`` when it is one of :data:`POLICIES`; a :class:`~segmill.errors.UsageError` otherwise."""
    if not isinstance(on_conflict, str) or on_conflict not in POLICIES:
        raise UsageError(f"on_conflict must be one of {', '.join(POLICIES)}; got {brief(on_conflict)}")
    return on_conflict


def same(a, b) -> bool:
    """Whether two field values are equal (``==``, and never raising: an odd ``__eq__`` means different)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # an array-like or hostile value: compare as different
        return False


def resolve(a, b, policy: str) -> tuple[Any, str | None]:
    """The merged value of ``a`` (earlier sources) and ``b`` (a later one), and what happened.

    Returns
    -------
    value, outcome
        ``outcome`` is ``None`` (equal, or one side empty), ``"conflict"``
        (policy ``error``: ``a`` returned, the caller raises), ``"dropped"``
        (a value was left out) or ``"combined"`` (union, nothing left out).
    """
    if b is None or same(a, b):
        return a, EQUAL
    if a is None:
        return b, EQUAL
    if policy == "error":
        return a, CONFLICT
    if policy == "first":
        return a, DROPPED
    if policy == "last":
        return b, DROPPED
    return _union(a, b)


def _union(a, b) -> tuple[Any, str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out, events = resolve_keys(a, b, "union")
        return out, DROPPED if any(e[1] == DROPPED for e in events) else COMBINED
    if isinstance(a, list) and isinstance(b, list):
        joined = list(a)
        for v in b:
            if not any(same(v, w) for w in joined):
                joined.append(v)
        return joined, COMBINED
    return a, DROPPED


def resolve_keys(a: dict, b: dict, policy: str) -> tuple[dict, list[tuple[str, str, Any, Any]]]:
    """Merge dict ``b`` into ``a`` key by key (``a`` is not changed).

    Returns
    -------
    merged, events
        ``events`` lists ``(key, outcome, a's value, b's value)`` for every key
        whose values differ (outcome as in :func:`resolve`, never ``None``).
    """
    out = dict(a)
    events = []
    for k, v in b.items():
        if k not in out:
            out[k] = v
            continue
        value, outcome = resolve(out[k], v, policy)
        if outcome is not None:
            events.append((k, outcome, out[k], v))
        out[k] = value
    return out, events


class MergeConflictError(InputError):
    """Two sources disagree on a field and ``on_conflict="error"`` (the default) forbids choosing."""


class Fields:
    """Named values met so far, each remembering the source that gave it (for messages).

    Parameters
    ----------
    values : dict
        ``{field name: value}`` of the first source.
    source : int
        That source (from 1).
    """

    def __init__(self, values: dict, source: int):
        self.values = dict(values)
        self.given_by = dict.fromkeys(self.values, source)
        self.changed = False

    def meet(self, name: str, value, s: int, policy: str):
        """Resolve ``value`` of source ``s`` against the one kept; ``(outcome, kept value, its source)``."""
        if name not in self.values:
            self.values[name], self.given_by[name] = value, s
            self.changed = self.changed or value is not None
            return None, None, None
        old, old_s = self.values[name], self.given_by[name]
        merged, outcome = resolve(old, value, policy)
        if merged is not old:
            self.values[name], self.given_by[name] = merged, s if merged is value else old_s
            self.changed = True
        return outcome, old, old_s
