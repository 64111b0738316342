"""The working copy a fix changes, where each change is recorded: :class:`FixState` and :class:`Change`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator

from ..._coded import place

from ...model import Annotation, Dataset, Item
from ..finding import Finding, jsonable

__all__ = ["Change", "FixState", "Spot", "working_copy"]


@dataclass(frozen=True)
class Change:
    """One fix applied: which rule, where, and what was done.

    Attributes
    ----------
    code : str
        The rule whose finding was fixed.
    message : str
        What was done, for a person (``"dropped polygon part 0 (2 points)"``).
    file : str, optional
        The dataset file, as the finding names it.
    item_id, annotation_id : int or str, optional
        Where (``None`` for dataset-level fixes such as a dropped category).
    key : str
        The finding's discriminator (a part, a category).
    data : dict
        The numbers behind the change (old and new values, the IoU of a
        repair with the original pixels).
    """

    code: str
    message: str
    file: str | None = None
    item_id: Any = None
    annotation_id: Any = None
    key: str = ""
    data: dict = field(default_factory=dict, compare=False)

    def record(self) -> str:
        """``image 3, annotation 7`` (or the key, or ``dataset``)."""
        return place(self.item_id, self.annotation_id) or self.key or "dataset"

    def line(self) -> str:
        """``file:record: CODE fixed: message``, the text report's line."""
        prefix = f"{self.file}:" if self.file else ""
        return f"{prefix}{self.record()}: {self.code} fixed: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``segmill fix --output-format json``)."""
        return {"code": self.code, "file": self.file, "item_id": self.item_id, "annotation_id": self.annotation_id,
                "key": self.key, "message": self.message, "data": jsonable(self.data)}


@dataclass(frozen=True)
class Spot:
    """Where an annotation sits in the working copy: item position ``p``, annotation position ``k``."""

    p: int
    k: int
    item: Item
    annotation: Annotation


def working_copy(dataset: Dataset) -> Dataset:
    """A copy of ``dataset`` whose lists a fix may change without touching the original.

    Categories and items are copied shallowly (an item keeps its ``origin``:
    its own record does not change when its annotation list does);
    annotations are shared until a fix replaces one (:func:`dataclasses.replace`,
    which drops its ``origin``: a changed annotation is written anew).
    """
    items = []
    for it in dataset.items:
        c = copy.copy(it)
        c.annotations = list(it.annotations)
        items.append(c)
    return replace(dataset, categories=list(dataset.categories), items=items, extra=dict(dataset.extra),
                   meta=dict(dataset.meta))


class FixState:
    """A dataset being fixed: the working copy, where findings point in it, and the changes made.

    Fixes find the annotation of a finding with :meth:`locate`, replace or
    drop it with :meth:`replace` / :meth:`drop` (drops take effect at
    :meth:`settle`, so positions stay valid while a stage runs) and record
    what they did with :meth:`record`; a finding they cannot fix goes to
    :meth:`skip` with the reason.

    Parameters
    ----------
    dataset : Dataset
        The input; never changed (see :func:`working_copy`).
    file : str, optional
        How changes name the dataset file.
    """

    def __init__(self, dataset: Dataset, file: str | None = None):
        self.dataset = working_copy(dataset)
        self.file = file
        self.changes: list[Change] = []
        self.skipped: dict[tuple, str] = {}  # finding identity -> why it was not fixed
        self.dirty = False
        self._drops: set[tuple[int, int]] = set()
        self._index: dict | None = None

    # ------------------------------------------------------------ locating
    def _annotation_index(self) -> dict:
        if self._index is None:
            index: dict = {}
            for p, it in enumerate(self.dataset.items):
                for k, a in enumerate(it.annotations):
                    index.setdefault((it.id, a.id), []).append((p, k))
            self._index = index
        return self._index

    def locate(self, finding: Finding, annotation_id=None) -> Spot | None:
        """Where the annotation ``finding`` names is, or None.

        ``annotation_id`` names another annotation of the same image (the
        first of a duplicate pair). None when no annotation or several match
        (duplicate ids: S001/S002 first), or when it is dropped already; the
        finding is then recorded as skipped, with the reason.
        """
        aid = finding.annotation_id if annotation_id is None else annotation_id
        where = self._annotation_index().get((finding.item_id, aid), [])
        if len(where) != 1:
            why = "no such annotation" if not where else "its image and annotation ids are not unique (S001, S002)"
            self.skip(finding, why)
            return None
        p, k = where[0]
        if (p, k) in self._drops:
            self.skip(finding, "the annotation was dropped by another fix")
            return None
        it = self.dataset.items[p]
        return Spot(p, k, it, it.annotations[k])

    # ------------------------------------------------------------- changes
    def replace(self, spot: Spot, **changes) -> Annotation:
        """Put a copy of the annotation at ``spot`` with ``changes`` in its place; the new annotation."""
        old = spot.item.annotations[spot.k]
        new = replace(old, attributes=dict(old.attributes), extra=dict(old.extra), **changes)
        spot.item.annotations[spot.k] = new
        self.dirty = True
        return new

    def located(self, findings: Iterable[Finding]) -> Iterator[tuple[Finding, Spot]]:
        """``(finding, spot)`` for each finding whose annotation :meth:`locate` finds, one at a time (a
        change made for one is seen by the next); the others are skipped."""
        for f in findings:
            spot = self.locate(f)
            if spot is not None:
                yield f, spot

    def by_annotation(self, findings: Iterable[Finding]) -> list[tuple[Spot, list[Finding]]]:
        """The located findings per annotation, in the order first met: ``[(spot, [findings])]``."""
        groups: dict = {}
        for f, spot in self.located(findings):
            groups.setdefault((spot.p, spot.k), (spot, []))[1].append(f)
        return list(groups.values())

    def current(self, spot: Spot) -> Annotation:
        """The annotation at ``spot`` now (an earlier fix of the stage may have replaced it)."""
        return spot.item.annotations[spot.k]

    def drop(self, spot: Spot) -> None:
        """Drop the annotation at ``spot`` when the stage ends (see :meth:`settle`)."""
        self._drops.add((spot.p, spot.k))
        self.dirty = True

    def dropped(self, spot: Spot) -> bool:
        """Whether the annotation at ``spot`` is to be dropped."""
        return (spot.p, spot.k) in self._drops

    def record(self, finding: Finding, message: str, data: dict | None = None) -> Change:
        """Record that ``finding`` was fixed, with what was done."""
        ch = Change(finding.code, message, finding.file if finding.file is not None else self.file,
                    finding.item_id, finding.annotation_id, finding.key, dict(data or {}))
        self.changes.append(ch)
        self.skipped.pop(_identity(finding), None)
        return ch

    def skip(self, finding: Finding, why: str) -> None:
        """Record that ``finding`` was left as it is, and why."""
        self.skipped[_identity(finding)] = why

    def reason(self, finding: Finding) -> str | None:
        """Why ``finding`` was skipped, if it was."""
        return self.skipped.get(_identity(finding))

    def settle(self) -> None:
        """Apply the pending drops; positions and the index are rebuilt."""
        by_item: dict = {}
        for p, k in self._drops:
            by_item.setdefault(p, set()).add(k)
        for p, gone in by_item.items():
            it = self.dataset.items[p]
            it.annotations = [a for k, a in enumerate(it.annotations) if k not in gone]
        self._drops = set()
        self._index = None


def _identity(f: Finding) -> tuple:
    return (f.code, f.item_id, f.annotation_id, f.key)
