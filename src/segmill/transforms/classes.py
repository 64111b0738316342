"""Keeping or dropping classes: :class:`KeepClasses` (``--keep-class``) and :class:`DropClasses` (``--drop-class``).

A removed class is reported once (E007, with how many annotations it had)
and each of its annotations once (E003). Images stay, even when no
annotation is left on them. An annotation without a category (or with one
the dataset does not declare) is dropped by :class:`KeepClasses`, which keeps
only the classes it names, and kept by :class:`DropClasses`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..errors import UsageError
from ..model import Dataset
from ..validate import brief
from .base import category_names, derive, with_annotations
from .report import EditReport

__all__ = ["KeepClasses", "DropClasses"]


def _checked_names(names, dataset: Dataset, verb: str) -> set[str]:
    if isinstance(names, str):
        names = (names,)
    wanted = list(names)
    have = {c.name for c in dataset.categories}
    for n in wanted:
        if not isinstance(n, str) or n not in have:
            raise UsageError(f"no class named {brief(n)} to {verb} (the classes are: {category_names(dataset)})")
    return set(wanted)


def _remove(dataset: Dataset, removed: list, keep_uncategorized: bool, why: str) -> tuple[Dataset, EditReport]:
    """``dataset`` without the categories ``removed`` and their annotations."""
    report = EditReport()
    gone = {c.id for c in removed}
    declared = {c.id for c in dataset.categories}
    counts = Counter(a.category_id for _, a in dataset.annotations())
    for c in removed:
        report.add("E007", f"class {brief(c.name)} (id {brief(c.id)}) removed by {why}, with its "
                   f"{counts.get(c.id, 0)} annotation(s)", category_id=c.id)
    names = {c.id: c.name for c in dataset.categories}
    items = []
    for item in dataset.items:
        kept = []
        for a in item.annotations:
            orphan = a.category_id is None or a.category_id not in declared
            if a.category_id in gone or (orphan and not keep_uncategorized):
                what = f"class {brief(names[a.category_id])}" if a.category_id in gone else "no declared class"
                report.add("E003", f"annotation of {what} dropped by {why}", item_id=item.id,
                           annotation_id=a.id, category_id=a.category_id)
            else:
                kept.append(a)
        items.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
    out = {id(c) for c in removed}
    return derive(dataset, categories=[c for c in dataset.categories if id(c) not in out], items=items), report


@dataclass(frozen=True)
class _ClassFilter:
    """Keep (``keeping``) or remove the classes named, through :func:`_remove` (the two differ only there).

    Parameters
    ----------
    names : tuple of str
        Class names; one that names no category is a
        :class:`~segmill.errors.UsageError`.
    """

    names: tuple[str, ...]

    keeping = True  # class attributes, not fields: set by each subclass
    flag = ""

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        named = _checked_names(self.names, dataset, "keep" if self.keeping else "drop")
        removed = [c for c in dataset.categories if (c.name in named) != self.keeping]
        return _remove(dataset, removed, keep_uncategorized=not self.keeping, why=self.flag)


class KeepClasses(_ClassFilter):
    """Keep only the classes named (and their annotations); every other class goes (``names`` as in the base)."""

    keeping = True
    flag = "--keep-class"


class DropClasses(_ClassFilter):
    """Remove the classes named and their annotations (``names`` as in the base)."""

    keeping = False
    flag = "--drop-class"
