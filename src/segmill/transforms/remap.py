"""Renaming and merging classes: :func:`remap_categories` and the :class:`MapClasses` transform.

A mapping ``{OLD: NEW}`` is applied all at once (``{"a": "b", "b": "a"}``
swaps two names). For each category named OLD:

* when another category, not itself renamed, is already named NEW, OLD's
  annotations move to it and OLD is removed (E002, a merge);
* otherwise OLD is renamed NEW, keeping its id (E001); when several mapped
  categories end up with the same NEW, the first (in category order) is
  renamed and the others are merged into it (E002).

Ids of the categories the mapping does not name are kept, and so are the
annotations of every renamed category.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from ..errors import UsageError
from ..model import Dataset
from ..validate import brief
from .base import Step, Stepped, category_names, run_steps, with_annotations
from .report import EditReport

__all__ = ["remap_categories", "MapClasses", "checked_mapping"]


def checked_mapping(mapping: Mapping) -> dict[str, str]:
    """``mapping`` as a ``{str: str}`` dict; a :class:`~segmill.errors.UsageError` for anything else."""
    try:
        pairs = list(mapping.items())
    except AttributeError:
        raise UsageError(f"a class mapping must be a mapping of names, got {brief(mapping)}") from None
    out: dict[str, str] = {}
    for old, new in pairs:
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise UsageError(f"a class mapping maps non-empty names to names, got {brief(old)}: {brief(new)}")
        out[old] = new
    return out


def remap_categories(dataset: Dataset, mapping: Mapping[str, str], *,
                     missing: str = "error") -> tuple[Dataset, EditReport]:
    """Rename classes and merge them into others, by name (see the module docs).

    Parameters
    ----------
    dataset : Dataset
        Not modified.
    mapping : mapping of str to str
        ``{old name: new name}``.
    missing : {"error", "ignore"}, default "error"
        What an old name that names no category is: a
        :class:`~segmill.errors.UsageError` naming it, or nothing.

    Returns
    -------
    (Dataset, EditReport)
        The edited dataset; an E001 edit per renamed category, an E002 per
        merged one (with how many annotations moved).

    Examples
    --------
    >>> from segmill.model import Annotation, Category, Dataset, Item
    >>> ds = Dataset([Category(1, "car"), Category(2, "vehicle")], [Item(1, "a.png", 4, 4, [Annotation(7, 1)])])
    >>> out, rep = remap_categories(ds, {"car": "vehicle"})
    >>> [(c.id, c.name) for c in out.categories], out.items[0].annotations[0].category_id, rep.summary()
    ([(2, 'vehicle')], 2, {'E002': 1})
    """
    return run_steps(dataset, [_Remap(mapping, missing)])


class _Remap(Step):
    """:func:`remap_categories` as a step: the categories at :meth:`begin`, the annotations as they come."""

    def __init__(self, mapping: Mapping, missing: str):
        if missing not in ("error", "ignore"):
            raise UsageError(f"missing must be 'error' or 'ignore', got {brief(missing)}")
        self.mapping, self.missing = checked_mapping(mapping), missing
        self.counts: Counter = Counter()

    def begin(self, header: Dataset) -> list:
        mapping = self.mapping
        names = {c.name for c in header.categories}
        unknown = [old for old in mapping if old not in names]
        if unknown and self.missing == "error":
            raise UsageError(f"no class named {brief(unknown[0])} to map (the classes are: {category_names(header)})")
        survivor = _survivors(header, mapping)
        categories, self.moved, self.changes = [], {}, []
        for c in header.categories:
            if c.name not in mapping:
                categories.append(c)
                continue
            new, keep = mapping[c.name], survivor[mapping[c.name]]
            if keep is c:
                categories.append(dataclasses.replace(c, name=new) if new != c.name else c)
                if new != c.name:
                    self.changes.append(("E001", c, new, keep))
            else:
                self.moved[c.id] = keep.id
                self.changes.append(("E002", c, new, keep))
        return categories

    def edit(self, items: list) -> list:
        for item in items:
            self.counts.update(a.category_id for a in item.annotations)
        return [_moved(item, self.moved) for item in items] if self.moved else items

    def end(self) -> EditReport:
        report = EditReport()
        for code, c, new, keep in self.changes:
            n = self.counts.get(c.id, 0)
            if code == "E001":
                report.add("E001", f"class {brief(c.name)} (id {brief(c.id)}) renamed {brief(new)}; its {n} "
                           "annotation(s) kept", category_id=c.id)
            else:
                report.add("E002", f"class {brief(c.name)} (id {brief(c.id)}) merged into {brief(new)} "
                           f"(id {brief(keep.id)}): {n} annotation(s) moved", category_id=c.id)
        return report


def _survivors(dataset: Dataset, mapping: dict[str, str]) -> dict:
    """For each new name, the category that holds it afterwards: an unmapped one so named, else the first mapped."""
    survivor: dict = {}
    for c in dataset.categories:
        if c.name not in mapping:
            survivor.setdefault(c.name, c)
    for c in dataset.categories:
        if c.name in mapping:
            survivor.setdefault(mapping[c.name], c)
    return survivor


def _moved(item, moved: dict):
    """``item`` with the annotations of merged categories pointing at their new category."""
    if not any(a.category_id in moved for a in item.annotations):
        return item
    anns = [dataclasses.replace(a, category_id=moved[a.category_id]) if a.category_id in moved else a
            for a in item.annotations]
    return with_annotations(item, anns)


@dataclass(frozen=True)
class MapClasses(Stepped):
    """The ``--map OLD=NEW`` / ``--map-file`` transform: :func:`remap_categories` with ``mapping``.

    Parameters
    ----------
    mapping : mapping of str to str
        ``{old name: new name}``, applied all at once.
    missing : {"error", "ignore"}, default "error"
        An old name that names no category: a usage error, or ignored.
    """

    mapping: Mapping[str, str]
    missing: str = "error"

    def step(self) -> Step:
        return _Remap(self.mapping, self.missing)
