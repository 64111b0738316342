"""What the reports of coded entries share (``L001`` losses, ``E001`` edits, ``M001`` merge notes).

An entry is a named tuple with a ``code`` and a ``message``; some say where
(``item_id``, ``annotation_id``). :func:`where_suffix` is how an entry's
text names that place; :func:`count_codes` is every report's ``summary()``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

__all__ = ["count_codes", "where_suffix"]


def where_suffix(item_id: Any = None, annotation_id: Any = None) -> str:
    """`` (image 'a', annotation 7)``: the known parts of a place, ids as their repr; ``""`` when none is."""
    where = []
    if item_id is not None:
        where.append(f"image {item_id!r}")
    if annotation_id is not None:
        where.append(f"annotation {annotation_id!r}")
    return f" ({', '.join(where)})" if where else ""


def count_codes(entries: Iterable) -> dict[str, int]:
    """Count of entries per code, sorted by code."""
    return dict(sorted(Counter(e.code for e in entries).items()))
