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
from .base import Step, Stepped, category_names, with_annotations
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


class _Remove(Step):
    """Remove the categories named by ``filt`` and their annotations (see the module docs)."""

    def __init__(self, filt: "_ClassFilter"):
        self.filt = filt
        self.report = EditReport()
        self.counts: Counter = Counter()

    def begin(self, header: Dataset) -> list:
        f = self.filt
        named = _checked_names(f.names, header, "keep" if f.keeping else "drop")
        self.removed = [c for c in header.categories if (c.name in named) != f.keeping]
        self.gone = {c.id for c in self.removed}
        self.declared = {c.id for c in header.categories}
        self.names = {c.id: c.name for c in header.categories}
        out = {id(c) for c in self.removed}
        return [c for c in header.categories if id(c) not in out]

    def edit(self, items: list) -> list:
        gone, declared, keep_uncategorized, why = self.gone, self.declared, not self.filt.keeping, self.filt.flag
        out = []
        for item in items:
            kept = []
            for a in item.annotations:
                self.counts[a.category_id] += 1
                orphan = a.category_id is None or a.category_id not in declared
                if a.category_id in gone or (orphan and not keep_uncategorized):
                    what = f"class {brief(self.names[a.category_id])}" if a.category_id in gone \
                        else "no declared class"
                    self.report.add("E003", f"annotation of {what} dropped by {why}", item_id=item.id,
                                    annotation_id=a.id, category_id=a.category_id)
                else:
                    kept.append(a)
            out.append(item if len(kept) == len(item.annotations) else with_annotations(item, kept))
        return out

    def end(self) -> EditReport:
        report = EditReport()
        for c in self.removed:
            report.add("E007", f"class {brief(c.name)} (id {brief(c.id)}) removed by {self.filt.flag}, with its "
                       f"{self.counts.get(c.id, 0)} annotation(s)", category_id=c.id)
        report.extend(self.report)
        return report


@dataclass(frozen=True)
class _ClassFilter(Stepped):
    """Keep (``keeping``) or remove the classes named, through :class:`_Remove` (the two differ only there).

    Parameters
    ----------
    names : tuple of str
        Class names; one that names no category is a
        :class:`~segmill.errors.UsageError`.
    """

    names: tuple[str, ...]

    keeping = True  # class attributes, not fields: set by each subclass
    flag = ""

    def step(self) -> Step:
        return _Remove(self)


class KeepClasses(_ClassFilter):
    """Keep only the classes named (and their annotations); every other class goes (``names`` as in the base)."""

    keeping = True
    flag = "--keep-class"


class DropClasses(_ClassFilter):
    """Remove the classes named and their annotations (``names`` as in the base)."""

    keeping = False
    flag = "--drop-class"
