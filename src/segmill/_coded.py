"""What the reports of coded entries share (``L001`` losses, ``E001`` edits, ``M001`` merge notes).

An entry is a named tuple with a ``code`` and a ``message``; some say where
(``item_id``, ``annotation_id``). :func:`entry_text` is every entry's
``__str__``, :func:`where_suffix` how it names that place (:func:`place`
names it for findings and fixes too); :func:`count_codes` is every report's
``summary()``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

__all__ = ["count_codes", "entry_text", "place", "where_suffix"]


def place(item_id: Any = None, annotation_id: Any = None, ids=str) -> str:
    """``image 3, annotation 7``: the known parts of a place, ``""`` when none is.

    Parameters
    ----------
    item_id, annotation_id : int or str, optional
    ids : callable
        How an id is written (``str``, or ``repr`` to quote string ids).

    Returns
    -------
    str
    """
    where = []
    if item_id is not None:
        where.append(f"image {ids(item_id)}")
    if annotation_id is not None:
        where.append(f"annotation {ids(annotation_id)}")
    return ", ".join(where)


def where_suffix(item_id: Any = None, annotation_id: Any = None) -> str:
    """`` (image 'a', annotation 7)``: the known parts of a place, ids as their repr; ``""`` when none is."""
    where = place(item_id, annotation_id, repr)
    return f" ({where})" if where else ""


def entry_text(entry) -> str:
    """``L101 polygon written as RLE (image 3, annotation 7)``: an entry's ``__str__``.

    Parameters
    ----------
    entry : named tuple
        With ``code`` and ``message``, and optionally ``item_id`` and
        ``annotation_id``.

    Returns
    -------
    str
    """
    return (f"{entry.code} {entry.message}"
            f"{where_suffix(getattr(entry, 'item_id', None), getattr(entry, 'annotation_id', None))}")


def count_codes(entries: Iterable) -> dict[str, int]:
    """Count of entries per code, sorted by code."""
    return dict(sorted(Counter(e.code for e in entries).items()))
