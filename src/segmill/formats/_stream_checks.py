"""The checks a whole-dataset writer makes with :meth:`~segmill.model.Dataset.validate`, made on a stream.

A writer whose ``write`` validates the whole dataset before writing
(:meth:`Dataset.validate <segmill.model.Dataset.validate>`) validates a
stream's header first and then each item as it comes (:func:`checked_items`),
with the same code and so the same messages: declared categories, no
:class:`~segmill.geometry.InvalidGeometry`, RLE sizes equal to the image's,
annotation ids unique within the image. Image ids are unique across the
stream (:class:`~segmill.streaming.Stream` checks them); annotation ids across
images are left to the reader (COCO's index and SA-1B's numbering make them
unique), so memory holds no id of an annotation.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Dataset, Item

__all__ = ["checked_items", "planned_items"]


def checked_items(stream, path) -> Iterator[Item]:
    """The items of ``stream``, each checked as :meth:`Dataset.validate` checks it, the categories first.

    Raises
    ------
    segmill.errors.InputError
        A duplicate category id (before the first item), or an item the
        whole dataset's validation refuses (when that item comes).
    """
    categories = stream.header.categories
    Dataset(categories=categories).validate(path)
    for item in stream:
        Dataset(categories=categories, items=[item]).validate(path)
        yield item


def planned_items(stream, path, place, split):
    """``plan(report)`` for a writer whose per-image plan is ``place(item, split, seen, report)``: the
    stream's items, each checked (:func:`checked_items`) and placed as it comes, ``seen`` shared."""
    seen: dict = {}
    return lambda report: (place(item, split, seen, report) for item in checked_items(stream, path))
