"""Datasets read one item at a time: :class:`Stream`, what :func:`segmill.stream` returns.

A format whose reader can yield items one by one declares ``stream`` on its
:class:`~segmill.formats.FormatSpec` (``stream(path, **reader_options) ->
(header, items)``: the dataset without items, then an iterator of
:class:`~segmill.model.Item`; or ``None`` for "read me whole", when the
reader cannot stream that input); memory then holds one item (one image's file)
at a time, whatever the dataset's size. Other formats are read whole and
their items handed out one by one (``Stream.bounded`` is False), so callers
have one way to consume any dataset.

Each item is checked as the reader checks it; of the dataset-wide checks of
:meth:`~segmill.model.Dataset.validate` a stream makes the one a reader
cannot make item by item, unique image ids, with a set of the ids seen
(unless the items say ``ids_unique``: their reader checked every id before
the first item, as COCO's index does).
"""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator

from .errors import InputError, UsageError
from .model import Dataset, Item
from .validate import brief

__all__ = ["Stream", "batched"]


class Stream:
    """The header of a dataset (categories, dataset-level fields) and its items, read once, in order.

    Parameters
    ----------
    header : Dataset
        Everything but the items. Records a lenient reader drops are added to
        ``header.meta["skipped"]`` as the items are read.
    items : iterator of Item
    bounded : bool
        Whether the reader yields items as it reads them (memory bounded by
        one item), or read the whole dataset first.
    path : path, optional
        For messages.
    """

    #: Whether no source file orders the annotations apart from the items (a dataset made, not read:
    #: a consensus): a COCO stream write then writes them in item order, as :func:`segmill.write` does.
    item_order = False

    def __init__(self, header: Dataset, items: Iterator[Item], bounded: bool, path=None):
        self.header, self.bounded, self.path = header, bounded, path
        self._items = items
        self._used = False

    def __iter__(self) -> Iterator[Item]:
        if self._used:
            raise UsageError("a stream is read once; call segmill.stream again to read it again")
        self._used = True
        if getattr(self._items, "ids_unique", False):  # the reader checked them all up front (COCO's index)
            yield from self._items
            return
        seen: set = set()
        for item in self._items:
            if item.id in seen:
                raise InputError(f"image id {brief(item.id)} is used twice", self.path, f"image {item.id!r}")
            seen.add(item.id)
            yield item

    @property
    def annotation_positions(self):
        """``positions(k)``: where the annotations of the ``k``-th item stood in a file that keeps them apart
        from their images (COCO), for a writer that puts them back in that order; ``None`` for other formats."""
        return getattr(self._items, "annotation_positions", None)

    @property
    def annotation_total(self):
        """How many annotations the source file holds, where :attr:`annotation_positions` counts them."""
        return getattr(self._items, "annotation_total", None)

    def batches(self, size: int = 1000) -> Iterator[list[Item]]:
        """The items in lists of ``size`` (the last one shorter)."""
        return batched(self, size)

    def to_dataset(self) -> Dataset:
        """Every item in one :class:`~segmill.model.Dataset` (what :func:`segmill.read` returns)."""
        ds = self.header
        ds.items = list(self)
        finish = getattr(self._items, "finish_dataset", None)
        if finish is not None:  # the format completes what only the whole dataset has (COCO's file order)
            finish(ds)
        return ds


def batched(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
