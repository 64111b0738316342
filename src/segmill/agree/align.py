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

import hashlib
from array import array
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._indexing import item_at
from ..errors import UsageError

__all__ = ["KeyRule", "Row", "Rows", "align", "VERSION_RULES", "image_base_name", "image_stem", "DUPLICATE_POLICIES"]

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
    absent). The key and the items are taken from the lists when asked for:
    from a :class:`segmill.spilled.SpilledItems`, each access reads them again.
    """

    __slots__ = ("_rows", "_k")

    def __init__(self, rows: "Rows", k: int):
        self._rows, self._k = rows, k

    @property
    def index(self) -> int:
        """The row's position in the line-up."""
        return self._k

    @property
    def positions(self) -> tuple:
        """The index of the item in each list (``None`` where absent)."""
        return tuple(None if j < 0 else j for j in self._rows.positions[self._k].tolist())

    @property
    def key(self):
        """The key the row was formed on (see the class doc)."""
        rule = int(self._rows.rule_of[self._k])
        if rule < 0:
            return None
        li, j = next((li, j) for li, j in enumerate(self.positions) if j is not None)
        return self._rows.rules[rule].key(self._rows.keyed[li][j])

    @property
    def items(self) -> list:
        """The items, one per list (``None`` where absent)."""
        return [None if j is None else self._rows.lists[li][j] for li, j in enumerate(self.positions)]

    @property
    def skeletons(self) -> list:
        """What the items were keyed by: the items, or a spilled list's skeletons (no annotations)."""
        return [None if j is None else self._rows.keyed[li][j] for li, j in enumerate(self.positions)]

    def __repr__(self) -> str:
        return f"Row({self.key!r}, {self.positions!r})"


class Rows(Sequence):
    """The rows :func:`align` gives, kept as arrays (17 bytes a row for two lists); a :class:`Row` is made
    when one is asked for.

    Attributes
    ----------
    positions : numpy.ndarray
        ``(rows, lists)`` ``int64``: each row's item index per list, -1 where absent.
    rule_of : numpy.ndarray
        ``int8``: the index of the rule each row's key is under, -1 for none.
    """

    def __init__(self, positions, rule_of, lists, keyed, rules):
        self.positions, self.rule_of = positions, rule_of
        self.lists, self.keyed, self.rules = lists, keyed, rules

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, k):
        return item_at(k, len(self), lambda j: Row(self, j), "row")


def align(lists, rules) -> Rows:
    """Line up the items of ``lists`` by ``rules`` (see the module doc).

    Memory holds arrays, not the keys: each rule reads every list once
    (a spilled list's skeletons, from disk) and keeps a 16-byte digest of
    each key (:func:`_digest`); the digests are sorted to find equal keys.

    Parameters
    ----------
    lists : sequence of sequence
        The items of each list (e.g. each annotator's ``Dataset.items``). A
        :class:`segmill.spilled.SpilledItems` is keyed by its skeletons and
        its items are read only when a row's ``items`` are asked for.
    rules : sequence of KeyRule
        At most 127. Keys are compared by their ``repr`` (str, int, None
        and tuples of them: equal keys, equal ``repr``).

    Returns
    -------
    Rows
        A sequence of :class:`Row`.

    Examples
    --------
    >>> by_name = KeyRule(key=lambda s: s.lower())
    >>> [(r.key, r.items) for r in align([["a", "B"], ["b", "c"]], [by_name])]
    [('a', ['a', None]), ('b', ['B', 'b']), ('c', [None, 'c'])]
    """
    lists = [items if isinstance(items, Sequence) else list(items) for items in lists]
    keyed = [getattr(items, "skeletons", items) for items in lists]  # a spilled list keys its skeletons
    row_of = [np.full(len(items), -1, np.int64) for items in keyed]  # row of each item, once placed
    first_rule = [np.full(len(items), -1, np.int8) for items in keyed]  # the first rule that keyed each item
    rule_of = array("b")  # per row formed
    for r, rule in enumerate(rules):
        kept = [_keyed(items, row_of[li], rule, li) for li, items in enumerate(keyed)]
        for (js, _), first in zip(kept, first_rule):
            first[js[first[js] < 0]] = r
        formed = _pair(kept, row_of, len(rule_of))
        rule_of.extend([r] * formed)
    for placed, first in zip(row_of, first_rule):
        alone = np.flatnonzero(placed < 0)
        placed[alone] = np.arange(len(rule_of), len(rule_of) + len(alone))
        rule_of.extend(first[alone].tolist())
    order = _first_appearance(row_of, len(rule_of))
    positions = np.full((len(rule_of), len(lists)), -1, np.int64)
    for li, placed in enumerate(row_of):
        positions[placed, li] = np.arange(len(placed))
    return Rows(positions[order], np.frombuffer(rule_of, np.int8)[order], lists, keyed, tuple(rules))


def _digest(key) -> bytes:
    """16 bytes standing for ``key``: equal for equal ``repr`` (a collision is a chance of about 2**-128)."""
    return hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _keyed(items, placed, rule: KeyRule, li: int):
    """``(item indexes, key digests)`` of the items of one list that ``rule`` keys, duplicates resolved.

    The digests are an ``(n, 2)`` ``uint64`` array; the indexes ascend.
    """
    js, digests = array("q"), bytearray()
    free = (placed < 0).tolist()
    if any(free):
        key, when = rule.key, rule.when
        for j, it in enumerate(items):  # a sequential pass: a spilled list reads its skeletons in order
            if free[j] and (when is None or when(it)):
                js.append(j)
                digests += _digest(key(it))
    js = np.frombuffer(js, np.int64)
    keys = np.frombuffer(digests, np.uint64).reshape(-1, 2)  # a view: no copy of the digests
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # by key; stable, so by position within a key
    starts = _group_starts(keys[order])
    if not callable(rule.duplicates) and rule.duplicates == "skip":
        first = np.flatnonzero(starts)
        counts = np.diff(np.append(first, len(order)))
        keep = order[first[counts == 1]]
    else:
        keep = order[starts]
        if callable(rule.duplicates):
            for j in np.sort(js[order[~starts]]).tolist():  # every repeat, in list order
                rule.duplicates(li, rule.key(items[j]))
    keep.sort()
    return js[keep], keys[keep]


def _pair(kept: list, row_of, first_row: int) -> int:
    """Make a row of each key that more than one list holds (at most once each); the rows formed.

    ``kept`` (each list's :func:`_keyed`) is emptied once joined: its arrays are not held twice.
    """
    ends = np.cumsum([len(js) for js, _ in kept])  # where each list's entries end in the joined arrays
    js = np.concatenate([js for js, _ in kept]) if kept else np.zeros(0, np.int64)
    keys = np.concatenate([k for _, k in kept]) if kept else np.zeros((0, 2), np.uint64)
    kept.clear()
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: within a key, the lists in order
    starts = _group_starts(keys[order])
    del keys
    group = np.cumsum(starts) - 1
    shared = np.bincount(group)[group] > 1  # per sorted entry: its key is in another list too
    rows = np.cumsum(starts & shared)[shared] - 1 + first_row
    entries = order[shared]
    lis = np.searchsorted(ends, entries, side="right")  # the list of each joined entry
    js = js[entries]
    for li, placed in enumerate(row_of):
        mine = lis == li
        placed[js[mine]] = rows[mine]
    return int((starts & shared).sum())


def _group_starts(sorted_keys):
    """Per sorted key: whether it starts a run of equal keys (differs from the one before)."""
    starts = np.ones(len(sorted_keys), bool)
    starts[1:] = (sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)
    return starts


def _first_appearance(row_of, n_rows: int):
    """The rows in order of first appearance: list 0's items in order, then those of list 1, and so on."""
    seen = np.zeros(n_rows, bool)
    out = []
    for placed in row_of:
        out.append(placed[~seen[placed]])
        seen[placed] = True
    return np.concatenate(out) if out else np.zeros(0, np.int64)


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
