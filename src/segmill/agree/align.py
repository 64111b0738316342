"""The one image pairer: line up the same images across several lists of items.

Used by :mod:`segmill.agree.pairing` (N annotators, one key, a duplicate key
is an error) and by ``segmill diff`` / ``segmill gate`` (two versions of one
dataset: :data:`VERSION_RULES`, file name first, id last). Each caller states
its rules as :class:`KeyRule` values; this module holds the one algorithm:

1. The rules are tried in order. A rule keys the items no earlier rule
   placed (those its ``when`` accepts); items of different lists with equal
   keys form a row, one item per list.
2. Within one list, a key seen twice is handled by the rule's
   ``duplicates``: ``"first"`` (the first item keeps the key, the others
   wait for the next rule), ``"skip"`` (no item of that list is keyed by it)
   or a callable, called with ``(list index, key)``, that raises.
3. An item no rule placed is a row of its own (the image only one list has).
4. Rows come in order of first appearance: the items of list 0 in order,
   then those of list 1, and so on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

__all__ = ["KeyRule", "Row", "align", "VERSION_RULES", "image_base_name", "image_stem", "DUPLICATE_POLICIES"]

DUPLICATE_POLICIES = ("first", "skip")

#: What formats append to an image's stem in their own names (Cityscapes: ``<stem>_leftImg8bit.png``).
STEM_SUFFIXES = ("_leftImg8bit",)


@dataclass(frozen=True)
class KeyRule:
    """One way of telling that two items are the same image.

    Attributes
    ----------
    key : callable
        ``key(item) -> hashable``.
    when : callable, optional
        ``when(item) -> bool``: whether this rule keys the item at all.
    duplicates : {"first", "skip"} or callable
        What a key repeated within one list means (see the module doc).
    """

    key: Callable[[Any], Hashable]
    when: Callable[[Any], bool] | None = None
    duplicates: str | Callable[[int, Hashable], None] = "first"

    def __post_init__(self):
        if not callable(self.duplicates) and self.duplicates not in DUPLICATE_POLICIES:
            raise UsageError(f"duplicates must be one of {DUPLICATE_POLICIES} or a callable, got {self.duplicates!r}")


class Row:
    """One image across the lists: ``items[i]`` from list ``i`` (``None`` where absent).

    ``key`` is the key the row was formed on; for an item no rule paired, its
    key under the first rule that keyed it (``None`` when none did).
    ``positions[i]`` is the index of the item in list ``i`` (``None`` where
    absent). The items are taken from the lists when asked for: from a
    :class:`segmill.spilled.SpilledItems`, each access reads them again.
    """

    __slots__ = ("key", "positions", "_lists", "_keyed")

    def __init__(self, key, positions: tuple, lists, keyed):
        self.key, self.positions, self._lists, self._keyed = key, positions, lists, keyed

    @property
    def items(self) -> list:
        """The items, one per list (``None`` where absent)."""
        return [None if j is None else self._lists[li][j] for li, j in enumerate(self.positions)]

    @property
    def skeletons(self) -> list:
        """What the items were keyed by: the items, or a spilled list's skeletons (no annotations)."""
        return [None if j is None else self._keyed[li][j] for li, j in enumerate(self.positions)]

    def __repr__(self) -> str:
        return f"Row({self.key!r}, {self.positions!r})"


def align(lists, rules) -> list[Row]:
    """Line up the items of ``lists`` by ``rules`` (see the module doc).

    Parameters
    ----------
    lists : sequence of sequence
        The items of each list (e.g. each annotator's ``Dataset.items``). A
        :class:`segmill.spilled.SpilledItems` is keyed by its skeletons and
        its items are read only when a row's ``items`` are asked for.
    rules : sequence of KeyRule

    Returns
    -------
    list of Row

    Examples
    --------
    >>> by_name = KeyRule(key=lambda s: s.lower())
    >>> [(r.key, r.items) for r in align([["a", "B"], ["b", "c"]], [by_name])]
    [('a', ['a', None]), ('b', ['B', 'b']), ('c', [None, 'c'])]
    """
    lists = [items if isinstance(items, Sequence) else list(items) for items in lists]
    keyed = [getattr(items, "skeletons", items) for items in lists]  # a spilled list keys its skeletons
    row_of = [[None] * len(items) for items in lists]  # row index of each item, once placed
    first_key: dict[tuple[int, int], Hashable] = {}
    rows: list[Row] = []
    for rule in rules:
        slots: dict[Hashable, list] = {}  # key -> item index per list, in order of first appearance
        for li, items in enumerate(keyed):
            for j, k in _keyed(items, row_of[li], rule, li):
                first_key.setdefault((li, j), k)
                slots.setdefault(k, [None] * len(lists))[li] = j
        for k, slot in slots.items():
            if sum(j is not None for j in slot) < 2:
                continue  # nothing to pair with under this rule: a later rule may
            for li, j in enumerate(slot):
                if j is not None:
                    row_of[li][j] = len(rows)
            rows.append(Row(k, tuple(slot), lists, keyed))
    for li, placed in enumerate(row_of):
        for j, r in enumerate(placed):
            if r is None:
                placed[j] = len(rows)
                alone = [None] * len(lists)
                alone[li] = j
                rows.append(Row(first_key.get((li, j)), tuple(alone), lists, keyed))
    order: list[int] = []
    seen: set[int] = set()
    for placed in row_of:
        for r in placed:
            if r not in seen:
                seen.add(r)
                order.append(r)
    return [rows[r] for r in order]


def _keyed(items, placed, rule: KeyRule, li: int) -> list[tuple[int, Hashable]]:
    """``(item index, key)`` of the items of one list that ``rule`` keys, duplicates resolved."""
    cand = [(j, rule.key(it)) for j, it in enumerate(items)
            if placed[j] is None and (rule.when is None or rule.when(it))]
    if not callable(rule.duplicates) and rule.duplicates == "skip":
        n = Counter(k for _, k in cand)
        return [(j, k) for j, k in cand if n[k] == 1]
    out, seen = [], set()
    for j, k in cand:
        if k in seen:
            if callable(rule.duplicates):
                rule.duplicates(li, k)
            continue
        seen.add(k)
        out.append((j, k))
    return out


def image_base_name(item) -> str:
    """The last component of ``item.file_name`` (``/`` or ``\\`` separated); ``""`` when it has none."""
    return (item.file_name or "").replace("\\", "/").rsplit("/", 1)[-1]


def image_stem(item) -> str:
    """:func:`image_base_name` without its extension and without a format's suffix (:data:`STEM_SUFFIXES`).

    ``images/train/a.png``, ``a.jpg`` and ``leftImg8bit/train/x/a_leftImg8bit.png`` all give ``a``.
    """
    name = image_base_name(item)
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    for suffix in STEM_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


#: How two versions of one dataset line up their images (``segmill diff``, ``segmill gate``).
#: A conversion or a round trip renumbers image ids and may move files under a split folder or
#: change their extension, but keeps the name: so the whole file name first, then its last
#: component, then its stem, each only when unique on both sides; the id only for what is left
#: (a renamed file).
VERSION_RULES = (
    KeyRule(key=lambda item: item.file_name, when=lambda item: bool(item.file_name), duplicates="skip"),
    KeyRule(key=lambda item: ("name", image_base_name(item)), when=lambda item: bool(image_base_name(item)),
            duplicates="skip"),
    KeyRule(key=lambda item: ("stem", image_stem(item)), when=lambda item: bool(image_stem(item)),
            duplicates="skip"),
    KeyRule(key=lambda item: ("id", item.id), duplicates="first"),
)
