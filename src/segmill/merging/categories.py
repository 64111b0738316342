"""Categories matched by name across sources: one merged category per name, each source's ids mapped to it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..model import Category, Dataset
from ..validate import brief
from .fields import COMBINED, CONFLICT, Fields, MergeConflictError
from .ids import IdPool
from .report import MergeReport, named

__all__ = ["CategoryTable"]


@dataclass
class _Merged:
    """One merged category while sources are added: its id, the first source's object, the fields so far."""

    id: object
    first: Category
    fields: Fields
    extra: Fields
    ids: dict = field(default_factory=dict)  # source -> the id that source gives this name (its first one)

    def build(self) -> Category:
        """The merged :class:`Category`: a copy of the first one (keeping its origin) when nothing changed."""
        if not (self.fields.changed or self.extra.changed) and self.id == self.first.id:
            out = copy.copy(self.first)
            out.extra = dict(self.first.extra)
            return out
        return Category(self.id, self.first.name, extra=dict(self.extra.values), **self.fields.values)


_SCALARS = ("supercategory", "isthing", "color")


class CategoryTable:
    """The merged categories, in order: the first source's, then each new name of later sources.

    Parameters
    ----------
    policy : str
        ``on_conflict`` (see :mod:`segmill.merging.fields`).
    report : MergeReport
        Where remaps (``M001``), conflicts (``M007``, ``M010``) and merged
        same-name categories (``M011``) go.
    labels : list of str
        The sources' names, for messages.
    """

    def __init__(self, policy: str, report: MergeReport, labels: list[str]):
        self.policy, self.report, self.labels = policy, report, labels
        self.by_name: dict[str, _Merged] = {}
        self.ids = IdPool()

    def add_source(self, s: int, ds: Dataset) -> dict:
        """Add source ``s`` (from 1); its map ``{category id: merged id}``."""
        cmap: dict = {}
        for c in ds.categories:
            m = self.by_name.get(c.name)
            if m is None:
                m = self.by_name[c.name] = _Merged(self.ids.claim(c.id), c,
                                                   Fields({f: getattr(c, f) for f in _SCALARS}, s), Fields(c.extra, s))
            elif s in m.ids:
                self._same_name(s, c, m)
            self._meet(s, c, m)
            m.ids.setdefault(s, c.id)
            cmap[c.id] = m.id
            if c.id != m.id:
                self.report.renamed.append((s, c.name, c.id, m.id))
                self.report.note("M001", f"source {s}: category {brief(c.name)} {brief(c.id)} -> {brief(m.id)}", s)
        return cmap

    def categories(self) -> list[Category]:
        """The merged categories, in order."""
        return [m.build() for m in self.by_name.values()]

    def _same_name(self, s: int, c: Category, m: _Merged) -> None:
        what = (f"categories {brief(m.ids[s])} and {brief(c.id)} of {named(self.labels, s)} share the "
                f"name {brief(c.name)}")
        if self.policy == "error":
            raise MergeConflictError(f"{what}; merge matches categories by name (--on-conflict first|last|union "
                                     "merges them into one)")
        self.report.note("M011", f"{what}: merged into id {brief(m.id)}", s)

    def _meet(self, s: int, c: Category, m: _Merged) -> None:
        """Resolve ``c``'s fields against the merged ones, reporting or raising on each conflict."""
        for f in _SCALARS:
            self._outcome(s, c, f, getattr(c, f), m.fields.meet(f, getattr(c, f), s, self.policy), m.fields)
        for k, v in c.extra.items():
            self._outcome(s, c, f"extra[{brief(k)}]", v, m.extra.meet(k, v, s, self.policy), m.extra, k)

    def _outcome(self, s, c, name, value, met, fields: Fields, key=None) -> None:
        outcome, old, old_s = met
        if outcome is None:
            return
        where = (f"category {brief(c.name)}: {name} is {brief(old)} in {named(self.labels, old_s)} "
                 f"but {brief(value)} in {named(self.labels, s)}")
        if outcome == CONFLICT:
            raise MergeConflictError(f"{where} (--on-conflict first|last|union chooses)")
        kept = fields.values[name if key is None else key]
        if outcome == COMBINED:
            self.report.note("M010", f"{where}: combined into {brief(kept)}", s)
        else:
            self.report.note("M007", f"{where}: {brief(kept)} kept", s)
