"""What a reader of one file per image checks at the end of :func:`read`, made on its stream (YOLO, LabelMe).

A whole read (``read``) raises the first error of its files as it reads
them, and only then the dataset-level checks (:meth:`Dataset.validate
<segmill.model.Dataset.validate>`, a format's own). A stream makes those
checks on each item as it comes; when one fails it reads the remaining files
without yielding them (a file's error comes first, as in the whole read)
and then raises the failure: the same :class:`~segmill.errors.InputError`
as :func:`read`, after some items were used (which the
:class:`~segmill.streaming.Stream` contract allows). Memory holds one item.

Annotation ids across items are the reader's numbering (1, 2, ... in
reading order), unique by construction: no id is kept.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import InputError
from ..model import Category, Dataset, Item

__all__ = ["UniqueIds", "validated"]


def validated(items: Iterator[Item], categories: list[Category], path, ids: bool = False) -> Iterator[Item]:
    """``items`` checked as :meth:`Dataset.validate` checks the whole dataset, a failure raised at the end.

    Parameters
    ----------
    items : iterator of Item
        The reader's items; the errors it raises propagate as they come.
    categories : list of Category
        The header's categories (checked once, before the first item).
    path : path
        What the whole read's ``ds.validate(path)`` names.
    ids : bool, default False
        Check that item ids are unique too (for a reader whose ids can
        repeat), with :meth:`Dataset.validate`'s message, in its order; the
        iterator then says ``ids_unique`` (the stream need not check them).

    Raises
    ------
    segmill.errors.InputError
        An error of the items, else the first failure of the validation,
        once every item was read.
    """
    checked = _validated(items, categories, path, set() if ids else None)
    return UniqueIds(checked) if ids else checked


def _validated(items, categories, path, seen: set | None):
    failure = _failure(Dataset(categories=categories), path)
    by_id = {c.id: c for c in categories} if failure is None else {}
    for item in items:
        if failure is None and seen is not None:
            if item.id in seen:  # Dataset.validate's words
                failure = InputError(f"duplicate image id {item.id!r}", path, f"image {item.file_name!r}")
            seen.add(item.id)
        if failure is None:
            # the item's own categories only: the same findings as the whole list, without its cost per item
            used = {a.category_id for a in item.annotations}
            failure = _failure(Dataset(categories=[by_id[c] for c in used if c in by_id], items=[item]), path)
            if failure is None:
                yield item
    if failure is not None:
        raise failure


def _failure(ds: Dataset, path) -> InputError | None:
    try:
        ds.validate(path)
    except InputError as exc:
        return exc
    return None


class UniqueIds:
    """A stream's items whose image ids are unique by construction (no set of the ids seen is needed).

    :class:`~segmill.streaming.Stream` checks ids unless its items say
    ``ids_unique``: a reader that names each item after a file, or a file and
    a position in it, that it reads once.
    """

    ids_unique = True

    def __init__(self, items: Iterator[Item]):
        self._items = iter(items)

    def __iter__(self):
        return self

    def __next__(self) -> Item:
        return next(self._items)
