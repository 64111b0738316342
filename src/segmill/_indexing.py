"""Indexing of the read-only sequences that make their items when asked (spilled items, rows, groups)."""

from __future__ import annotations

import operator
from collections.abc import Callable

__all__ = ["item_at"]


def item_at(key, n: int, get: Callable, what: str = "item"):
    """``seq[key]`` of a sequence of ``n`` items whose item ``k`` is ``get(k)``.

    A slice gives a list; a negative index counts from the end; an index
    out of range raises ``IndexError`` (``"<what> index out of range"``).

    Examples
    --------
    >>> item_at(-1, 3, str), item_at(slice(1, None), 3, str)
    ('2', ['1', '2'])
    """
    if isinstance(key, slice):
        return [get(k) for k in range(*key.indices(n))]
    k = operator.index(key)
    k += n if k < 0 else 0
    if not 0 <= k < n:
        raise IndexError(f"{what} index out of range")
    return get(k)
