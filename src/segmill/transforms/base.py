"""The :class:`Transform` protocol, :func:`apply_all`, :class:`Editor`, and the copying rules.

A transform never modifies the dataset it is given. It returns a new
:class:`~segmill.model.Dataset` whose lists are new; objects it did not change
(categories, annotations, and items whose annotations and split are
unchanged) are shared with the input, so a caller that edits the output in
place edits the input's objects too (copy them first if that matters).

What is rebuilt keeps or loses its ``origin`` (the format's round-trip data,
see docs/internals.md, "Layers") as follows: a renamed category and an
annotation moved to another class are made with :func:`dataclasses.replace`
and lose it (they are written anew); an item keeps it when only its
annotation list or its split changes, since no format keeps either there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence, runtime_checkable

from ..errors import LossError
from ..model import Dataset, Item
from ..validate import brief
from .report import EditReport

__all__ = ["Transform", "apply_all", "Editor", "derive", "with_annotations", "category_names"]


@runtime_checkable
class Transform(Protocol):
    """A dataset edit: ``apply(dataset) -> (new dataset, EditReport)``.

    ``apply`` raises :class:`~segmill.errors.UsageError` when its settings do
    not fit the dataset (a class that is not there), before changing anything.
    """

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        ...


def apply_all(dataset: Dataset, transforms: Iterable[Transform]) -> tuple[Dataset, EditReport]:
    """Apply ``transforms`` in order; the edited dataset and every edit, in order.

    Examples
    --------
    >>> from segmill.model import Category, Dataset
    >>> from segmill.transforms import MapClasses
    >>> ds, rep = apply_all(Dataset([Category(1, "car")]), [MapClasses({"car": "vehicle"})])
    >>> [c.name for c in ds.categories], rep.summary()
    (['vehicle'], {'E001': 1})
    """
    report = EditReport()
    for t in transforms:
        dataset, step = t.apply(dataset)
        report.extend(step)
    return dataset, report


@dataclass
class Editor:
    """``Dataset -> Dataset`` for :func:`segmill.convert` (``ConvertOptions(edit=...)``).

    Parameters
    ----------
    transforms : sequence of Transform
        Applied in order.
    strict : bool, default False
        Raise :class:`~segmill.errors.LossError` (so nothing is written) when
        any edit drops an annotation, a class or an image.

    Attributes
    ----------
    report : EditReport
        The edits of the last call.
    """

    transforms: Sequence[Transform] = ()
    strict: bool = False
    report: EditReport = field(default_factory=EditReport, init=False)

    def __call__(self, dataset: Dataset) -> Dataset:
        out, self.report = apply_all(dataset, self.transforms)
        if self.strict and self.report.drops:
            raise LossError(self.report.drop_message())
        return out


def derive(dataset: Dataset, *, categories=None, items=None) -> Dataset:
    """A new dataset like ``dataset`` with new ``categories`` / ``items`` lists (the old ones when omitted)."""
    out = copy.copy(dataset)
    out.categories = list(dataset.categories if categories is None else categories)
    out.items = list(dataset.items if items is None else items)
    out.meta = dict(dataset.meta)
    return out


def with_annotations(item: Item, annotations: list, split=...) -> Item:
    """A copy of ``item`` (its ``origin`` kept) with another annotation list, and another split if given."""
    out = copy.copy(item)
    out.annotations = annotations
    if split is not ...:
        out.split = split
    return out


def category_names(dataset: Dataset) -> str:
    """The class names for a message: ``'a', 'b', 'c'`` (at most 20)."""
    names = [brief(c.name) for c in dataset.categories[:20]]
    more = f" and {len(dataset.categories) - 20} more" if len(dataset.categories) > 20 else ""
    return (", ".join(names) + more) if names else "none"
