"""Assigning every image to a split: :class:`Split` (``--split train=0.8,val=0.2 --seed N [--stratify]``).

How many images each split gets is fixed first: ``floor(fraction * n)``,
then the images left over go one each to the splits with the largest
remainders (the first named wins a tie), so every split is within one image
of its fraction.

Which images: without ``stratify``, the images in the seeded order of
:mod:`segmill.transforms.stable` are dealt to the splits in a fixed
interleaving that keeps every prefix proportional. With ``stratify``, images
are grouped by their *set of classes* (the names of the classes their
annotations have; images with none form one group):

1. coverage: from the smallest group to the largest (ties in seeded order),
   a group with at least as many images as there are splits gives one image
   to each split that still has room, so every such group is in every
   split when the split sizes allow it;
2. the other images, group after group (groups in seeded order, images in
   seeded order within a group), are dealt as above, so each group is
   spread over the splits in about the requested fractions.

The split sizes are the same with or without ``stratify``. Every image gets
a split (an image's earlier split is replaced); one E010 edit reports the
counts.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..model import Dataset
from ..validate import brief
from .base import Step, Stepped, with_annotations
from .report import EditReport
from .stable import checked_seed, seeded_order

__all__ = ["Split", "parse_split", "quotas", "SPLIT_NAME"]

#: What a split name may be: it names folders and files.
SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TOLERANCE = 1e-6


def parse_split(text: str) -> tuple[tuple[str, float], ...]:
    """``"train=0.8,val=0.2"`` as ``(("train", 0.8), ("val", 0.2))``, checked (see :class:`Split`).

    Examples
    --------
    >>> parse_split("train=0.7, val=0.2, test=0.1")
    (('train', 0.7), ('val', 0.2), ('test', 0.1))
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"expected NAME=FRACTION[,NAME=FRACTION...], got {brief(text)}")
    pairs = []
    for part in text.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq:
            raise UsageError(f"expected NAME=FRACTION, got {brief(part.strip())} in {brief(text)}")
        try:
            frac = float(value.strip())
        except ValueError:
            raise UsageError(f"the fraction of {brief(name.strip())} is not a number: {brief(value)}") from None
        pairs.append((name.strip(), frac))
    return checked_fractions(pairs)


def checked_fractions(pairs) -> tuple[tuple[str, float], ...]:
    """``(name, fraction)`` pairs checked: names unique and plain, fractions in (0, 1] summing to 1 (within 1e-6)."""
    out = []
    try:
        pairs = [(n, f) for n, f in pairs]
    except (TypeError, ValueError):
        raise UsageError(f"splits must be (name, fraction) pairs, got {brief(pairs)}") from None
    if not pairs:
        raise UsageError("no split given")
    for name, frac in pairs:
        if not isinstance(name, str) or not SPLIT_NAME.fullmatch(name):
            raise UsageError(f"split name {brief(name)} must be letters, digits, '_', '.' or '-' "
                             "(starting with a letter or digit, at most 64)")
        if any(name == n for n, _ in out):
            raise UsageError(f"split {brief(name)} is named twice")
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not math.isfinite(frac) \
                or not 0 < frac <= 1:
            raise UsageError(f"the fraction of split {brief(name)} must be in (0, 1], got {brief(frac)}")
        out.append((name, float(frac)))
    total = math.fsum(f for _, f in out)
    if abs(total - 1.0) > _TOLERANCE:
        raise UsageError(f"the split fractions sum to {total:.6g}, not 1")
    return tuple(out)


def quotas(fractions, n: int) -> list[int]:
    """How many of ``n`` images each fraction gets: floors, then the largest remainders (first wins ties)."""
    exact = [f * n for f in fractions]
    out = [math.floor(x) for x in exact]
    left = n - sum(out)
    by_remainder = sorted(range(len(out)), key=lambda j: (-(exact[j] - out[j]), j))
    for j in by_remainder[:max(left, 0)]:
        out[j] += 1
    return out


def _deal(order, room: list[int], assigned: list) -> None:
    """Give the images ``order`` to splits with ``room`` (summing to ``len(order)``), interleaved.

    Image t goes to the split furthest behind its share ``room[j] * t / len(order)``
    (integer arithmetic; the first split wins a tie), so any run of images
    is split in about the proportions of ``room``.
    """
    total = len(order)
    given = [0] * len(room)
    if isinstance(order, np.ndarray):
        order = array("q", order.astype(np.int64).tobytes())  # plain ints as they are read, 8 bytes each
    for t, idx in enumerate(order, 1):
        best = max((j for j in range(len(room)) if given[j] < room[j]),
                   key=lambda j: (room[j] * t - given[j] * total, -j))
        assigned[idx] = best
        given[best] += 1


class SplitKeys:
    """Each image's ``(id, class set)`` in order, packed: what a split chooses with, 6 bytes an image.

    The ids are kept as ``int64`` while every one is a plain ``int`` (else
    as a list), the class sets as an index into the distinct ones (in order
    of first appearance). Behaves as the list of pairs it stands for where a
    split uses it: ``append``, ``extend``, ``len``, indexing.
    """

    def __init__(self, keys=()):
        self.ids = array("q")
        self.loose: list | None = None  # the ids, once one is not a plain machine integer
        self.group_of = array("i")
        self.groups: list[tuple] = []
        self._where: dict = {}
        self.extend(keys)

    def append(self, key) -> None:
        i, group = key
        if self.loose is not None:
            self.loose.append(i)
        elif type(i) is int and -(1 << 63) <= i < (1 << 63):
            self.ids.append(i)
        else:  # a str, a bool, a huge int: its digest depends on its type, kept as it is
            self.loose = self.ids.tolist() + [i]
            self.ids = array("q")
        g = self._where.get(group)
        if g is None:
            g = self._where[group] = len(self.groups)
            self.groups.append(group)
        self.group_of.append(g)

    def extend(self, keys) -> None:
        for key in keys:
            self.append(key)

    def __len__(self) -> int:
        return len(self.group_of)

    def id_values(self):
        """The ids in order (the packed array, or the list)."""
        return self.loose if self.loose is not None else self.ids

    def __getitem__(self, k: int) -> tuple:
        return self.id_values()[k], self.groups[self.group_of[k]]


def _stratified(keys: SplitKeys, seed: int, room: list[int], assigned) -> int:
    """Fill ``assigned`` group by group (see the module docs); the number of groups."""
    n_groups = len(keys.groups)
    of = np.frombuffer(keys.group_of, np.int32) if len(keys) else np.zeros(0, np.int32)
    by_group = np.argsort(of, kind="stable")  # the images of each group together, in order
    bounds = np.searchsorted(of[by_group], np.arange(n_groups + 1)).tolist()
    ids = keys.id_values()
    members = []  # arrays of positions (8 bytes an image, not a Python int each)
    for g in range(n_groups):
        ks = by_group[bounds[g]:bounds[g + 1]]
        members.append(ks[seeded_order(seed, map(ids.__getitem__, ks.tolist()))])  # ties: by position
    rank = [0] * n_groups
    for r, g in enumerate(seeded_order(seed, keys.groups)):
        rank[g] = r
    room = list(room)
    start = [0] * n_groups  # members given away by the coverage pass
    for g in sorted(range(n_groups), key=lambda g: (len(members[g]), rank[g])):
        if len(members[g]) < len(room):
            continue
        for j in range(len(room)):
            if room[j] > 0:
                assigned[members[g][start[g]]] = j
                start[g] += 1
                room[j] -= 1
    rest = [members[g][start[g]:] for g in sorted(range(n_groups), key=rank.__getitem__)]
    _deal(np.concatenate(rest) if rest else np.zeros(0, np.int64), room, assigned)
    return n_groups


class _Split(Step):
    selects = True

    def __init__(self, splits, seed: int, stratify: bool):
        self.splits = checked_fractions(splits)
        self.seed, self.stratify = checked_seed(seed), stratify
        self.names = [s for s, _ in self.splits]
        self.seen = self.moved = 0

    def begin(self, header: Dataset) -> None:
        self.class_names = {c.id: c.name for c in header.categories}
        self.interned: dict = {}

    def key(self, item):
        if not self.stratify:
            return (item.id, None)
        names = self.class_names
        group = tuple(sorted({names[a.category_id] for a in item.annotations if a.category_id in names}))
        return (item.id, self.interned.setdefault(group, group))  # one tuple a class set, however many images

    def new_keys(self) -> SplitKeys:
        return SplitKeys()

    def decide(self, keys) -> None:
        if not isinstance(keys, SplitKeys):
            keys = SplitKeys(keys)
        n = len(keys)
        room = quotas([f for _, f in self.splits], n)
        self.assigned = assigned = array("h", bytes(2 * n))  # every image is dealt a split below
        if self.stratify:
            self.groups = _stratified(keys, self.seed, room, assigned)
        else:
            _deal(seeded_order(self.seed, keys.id_values()), room, assigned)

    def split_of(self, k: int) -> str:
        """The split of the ``k``-th image :meth:`decide` saw."""
        return self.names[self.assigned[k]]

    def edit(self, items: list) -> list:
        first, self.seen = self.seen, self.seen + len(items)
        out = []
        for k, item in enumerate(items, first):
            name = self.split_of(k)
            self.moved += item.split is not None and item.split != name
            out.append(item if item.split == name else with_annotations(item, item.annotations, name))
        return out

    def end(self) -> EditReport:
        counts = Counter(self.names[j] for j in self.assigned)
        how = f"stratified by class set, {self.groups} group(s)" if self.stratify else "not stratified"
        text = ", ".join(f"{s} {counts.get(s, 0)}" for s in self.names)
        report = EditReport()
        report.add("E010", f"{len(self.assigned)} image(s) assigned: {text} (seed {self.seed}, {how})"
                   + (f"; {self.moved} had another split before" if self.moved else ""))
        return report


@dataclass(frozen=True)
class Split(Stepped):
    """Assign every image to one of ``splits`` (see the module docs).

    Parameters
    ----------
    splits : tuple of (str, float)
        ``(name, fraction)`` pairs, fractions in (0, 1] summing to 1 within
        1e-6; names of letters, digits, ``_``, ``.``, ``-``. See
        :func:`parse_split` for the command-line form.
    seed : int, default 0
    stratify : bool, default False
        Spread each class-set group over the splits.
    """

    splits: tuple
    seed: int = 0
    stratify: bool = False

    def step(self) -> Step:
        return _Split(self.splits, self.seed, self.stratify)
