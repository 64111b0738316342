"""The :class:`Transform` protocol, its :class:`Step`, :func:`apply_all`, :class:`Editor`, and the copying rules.

Every transform does its work through a :class:`Step` (``transform.step()``),
which sees the dataset's header first and then its items a list at a time:
:func:`apply_all` gives a step the whole dataset as one list, and
:mod:`segmill.transforms.streamed` gives it a stream's batches, so an edit
means the same in memory and on a stream (the same items, the same report).

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
from ..model import Category, Dataset, Item, carried_meta
from ..validate import brief
from .report import EditReport

__all__ = ["Transform", "Step", "Stepped", "apply_all", "run_steps", "Editor", "derive", "with_annotations",
           "category_names"]


@runtime_checkable
class Transform(Protocol):
    """A dataset edit: ``apply(dataset) -> (new dataset, EditReport)``.

    ``apply`` raises :class:`~segmill.errors.UsageError` when its settings do
    not fit the dataset (a class that is not there), before changing anything.
    A transform that can also edit a stream has ``step() -> Step``.
    """

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        ...


class Step:
    """One run of a transform over one dataset: its header, then its items, a list at a time.

    The calls come in this order: :meth:`begin` once; for a step that
    :attr:`selects` (chooses among all the images: a sample, a split),
    :meth:`key` of every item and then :meth:`decide` with them all; then
    :meth:`edit` with the items in lists, in order; :meth:`end` once.
    A step is used once.
    """

    #: Whether :meth:`decide` must see every item (by its :meth:`key`) before :meth:`edit` sees one.
    selects = False

    def begin(self, header: Dataset) -> list[Category] | None:
        """Check the settings against ``header`` (its categories; its items are not looked at);
        the new category list, or ``None`` for the same one."""
        return None

    def key(self, item: Item):
        """What :meth:`decide` needs to know of ``item`` (a step that :attr:`selects`)."""
        return item.id

    def new_keys(self):
        """The empty container the :meth:`key` of every item is appended to for :meth:`decide`
        (a list; a step may pack its keys)."""
        return []

    def decide(self, keys: list) -> None:
        """Choose, knowing the :meth:`key` of every item in order (a step that :attr:`selects`)."""

    def edit(self, items: list[Item]) -> list[Item]:
        """The next items, edited (items left out are not in the list)."""
        return items

    def end(self) -> EditReport:
        """Every edit of the run, in the order :func:`apply_all` reports them."""
        return EditReport()


class Stepped:
    """``apply`` for a transform with ``step()``: the step run over the whole dataset."""

    def step(self) -> Step:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        """The edited dataset and the edits (see :class:`Transform`)."""
        return run_steps(dataset, [self.step()])


def run_steps(dataset: Dataset, steps: Iterable[Step]) -> tuple[Dataset, EditReport]:
    """Run ``steps`` one after the other over the whole of ``dataset`` (not modified)."""
    report = EditReport()
    for st in steps:
        categories = st.begin(dataset)
        if st.selects:
            keys = st.new_keys()
            keys.extend(st.key(it) for it in dataset.items)
            st.decide(keys)
        items = st.edit(list(dataset.items))
        report.extend(st.end())
        dataset = derive(dataset, categories=categories, items=items)
    return dataset, report


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
        out, report = apply_all(dataset, self.transforms)
        self._ended(report)
        return out

    def edit_stream(self, open_stream, by_split: bool = False):
        """The edits on a stream: :func:`segmill.transforms.streamed.edit_stream`, this editor's report
        kept (and ``strict`` applied) once the edited items are used up."""
        from .streamed import edit_stream  # lazy: streamed imports this module

        return edit_stream(self.transforms, open_stream, self._ended, by_split)

    def _ended(self, report: EditReport) -> None:
        self.report = report
        if self.strict and report.drop_count:
            raise LossError(report.drop_message())


def derive(dataset: Dataset, *, categories=None, items=None) -> Dataset:
    """A new dataset like ``dataset`` with new ``categories`` / ``items`` lists (the old ones when omitted).

    What its ``meta`` knows of the items follows them (:func:`segmill.model.carried_meta`: the file
    order of a COCO file's annotations stays, for the annotations kept).
    """
    out = copy.copy(dataset)
    out.categories = list(dataset.categories if categories is None else categories)
    out.items = list(dataset.items if items is None else items)
    out.meta = carried_meta(dataset.meta, out.items) if items is not None else dict(dataset.meta)
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
