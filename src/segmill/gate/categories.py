"""Category map changes between two versions of a dataset.

Rules (ids and names are compared exactly, as found):

``added``
    A head category whose name and id are both new.
``removed``
    A base category whose name is gone from the head and whose id is gone or
    now names a class that already existed in the base. ``still_used`` counts
    head annotations that still point at the removed id.
``renamed``
    Same id, new name, where the old name is gone from the head and the new
    name did not exist in the base (the class kept its id).
``renumbered``
    Same name, new id.
``id_reused``
    An id that names a different class in the head, where that class (or the
    id's old class) also exists under another id: data keyed by id would now
    mean something else.
``merged``
    A base class that disappeared and whose matched annotations all moved to
    one class present in both versions (filled in after annotation matching).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model import Dataset

KINDS = ("added", "removed", "renamed", "renumbered", "id_reused", "merged")


@dataclass
class CategoryChange:
    """One change to the category map.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    base, head : dict or None
        ``{"id": ..., "name": ...}`` of the category on each side.
    still_used : int
        For ``removed``: head annotations still pointing at the base id.
    into : dict or None
        For ``merged``: the head class that absorbed the annotations.
    """

    kind: str
    base: dict | None = None
    head: dict | None = None
    still_used: int = 0
    into: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "base": self.base, "head": self.head}
        if self.kind == "removed":
            out["still_used"] = self.still_used
        if self.kind == "merged":
            out["into"] = self.into
            out["still_used"] = self.still_used
        return out

    def describe(self) -> str:
        b, h = self.base, self.head
        if self.kind == "added":
            return f"added {h['name']!r} (id {h['id']!r})"
        if self.kind == "removed":
            used = f", still used by {self.still_used} annotation(s)" if self.still_used else ""
            return f"removed {b['name']!r} (id {b['id']!r}){used}"
        if self.kind == "renamed":
            return f"renamed id {b['id']!r}: {b['name']!r} -> {h['name']!r}"
        if self.kind == "renumbered":
            return f"renumbered {b['name']!r}: id {b['id']!r} -> {h['id']!r}"
        if self.kind == "id_reused":
            return f"id {b['id']!r} reused: was {b['name']!r}, now {h['name']!r}"
        used = f", id still used by {self.still_used} annotation(s)" if self.still_used else ""
        return f"merged {b['name']!r} (id {b['id']!r}) into {self.into['name']!r} (id {self.into['id']!r}){used}"


@dataclass
class CategoryDiff:
    """All category map changes, and the base-to-head id correspondence.

    Attributes
    ----------
    changes : list of CategoryChange
    base_to_head : dict
        Base category id -> the head id of the same class (same name, or same
        id when the class was renamed). Used to tell a relabel from a rename.
    """

    changes: list[CategoryChange] = field(default_factory=list)
    base_to_head: dict = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def of_kind(self, kind: str) -> list[CategoryChange]:
        return [c for c in self.changes if c.kind == kind]

    def counts(self) -> dict[str, int]:
        return {k: self.count(k) for k in KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "changes": [c.to_dict() for c in self.changes]}


def _ref(c) -> dict:
    return {"id": c.id, "name": c.name}


#: Formats whose files name classes only; their readers number categories in
#: order of appearance, so ids carry no meaning and are not compared.
NAME_KEYED_FORMATS = frozenset({"labelme", "cvat"})


def ids_are_meaningful(ds: Dataset) -> bool:
    """Whether category ids come from the files (not numbered by the reader)."""
    return ds.meta.get("source_format") not in NAME_KEYED_FORMATS


def diff_categories(base: Dataset, head: Dataset) -> CategoryDiff:
    """Compare the category maps (everything but ``merged``, see :func:`infer_merges`).

    When either version comes from a format that names classes only
    (:data:`NAME_KEYED_FORMATS`), classes are compared by name alone: no
    ``renamed``, ``renumbered`` or ``id_reused`` changes are reported.
    """
    by_name_only = not (ids_are_meaningful(base) and ids_are_meaningful(head))
    b_id, h_id = base.category_by_id(), head.category_by_id()
    b_name, h_name = base.category_by_name(), head.category_by_name()
    out = CategoryDiff()
    used = Counter(a.category_id for _, a in head.annotations())

    for bc in base.categories:
        if b_id.get(bc.id) is not bc:
            continue  # duplicate id: check reports it
        hc_same_name = h_name.get(bc.name)
        hc_same_id = h_id.get(bc.id)
        if hc_same_name is not None:
            out.base_to_head[bc.id] = hc_same_name.id
            if hc_same_name.id != bc.id and not by_name_only:
                out.changes.append(CategoryChange("renumbered", _ref(bc), _ref(hc_same_name)))
        elif hc_same_id is not None and hc_same_id.name not in b_name and not by_name_only:
            out.base_to_head[bc.id] = bc.id
            out.changes.append(CategoryChange("renamed", _ref(bc), _ref(hc_same_id)))
        else:
            still = 0 if hc_same_id is not None else used.get(bc.id, 0)
            out.changes.append(CategoryChange("removed", _ref(bc), None, still_used=still))
        if hc_same_id is not None and hc_same_id.name != bc.name and not by_name_only:
            if bc.name in h_name or hc_same_id.name in b_name:
                out.changes.append(CategoryChange("id_reused", _ref(bc), _ref(hc_same_id)))

    for hc in head.categories:
        if h_id.get(hc.id) is not hc:
            continue
        if hc.name not in b_name and (by_name_only or hc.id not in b_id):
            out.changes.append(CategoryChange("added", None, _ref(hc)))
    return out


def infer_merges(cats: CategoryDiff, base: Dataset, head: Dataset, moves: Counter) -> None:
    """Turn ``removed`` classes whose matched annotations all moved to one surviving class into ``merged``.

    Parameters
    ----------
    moves : Counter
        ``(base category id, head category id) -> n`` over matched annotation pairs.
    """
    h_id = head.category_by_id()
    surviving_head_ids = set(cats.base_to_head.values())
    by_source: dict[Any, Counter] = {}
    for (bcid, hcid), n in moves.items():
        if hcid != bcid:  # still pointing at the removed id: counted in still_used, not a destination
            by_source.setdefault(bcid, Counter())[hcid] += n
    for ch in list(cats.changes):
        if ch.kind != "removed":
            continue
        targets = by_source.get(ch.base["id"])
        if not targets or len(targets) != 1:
            continue
        (target,) = targets
        if target in surviving_head_ids and target in h_id and target != ch.base["id"]:
            ch.kind = "merged"
            ch.into = _ref(h_id[target])
            ch.head = None
