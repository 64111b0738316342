"""A report's list of coded entries (losses, edits) that does not grow in memory with the dataset.

A conversion of a big dataset can report a loss for most annotations (VOC
reports every polygon it paints, L705): a list of them is hundreds of bytes
an annotation, the largest thing a streamed conversion would hold.
:class:`Entries` keeps at most :data:`SPILL_ENTRIES` of them in memory; the
older ones wait in an unnamed temporary file, pickled a run at a time, and
are read back in order when the entries are iterated. The count of each
code is kept as entries come, so a summary never reads them back.

It behaves as the list it replaces where reports use one: ``append``,
``extend``, ``+=``, iteration, ``len``, truth, indexing and slicing
(reading back), ``==`` with a list, ``+`` (a list); :meth:`prepend` stands for
``entries[:0] = more``. A pickled or copied :class:`Entries` carries its
entries (the file stays with its owner).

A report that summarizes its entries by more than their code (a check's
findings by severity and fixability) gives a ``tally``: a function of an
entry whose values are counted as entries come (:meth:`Entries.tallies`),
and :meth:`Entries.runs` says whether the entries of each code come
together, so a summary and a writer grouping by code need no extra pass.
"""

from __future__ import annotations

import operator
import pickle
import tempfile
from collections import Counter
from itertools import islice
from typing import Any, Iterable, Iterator

from .budget import scaled

__all__ = ["Entries", "SPILL_ENTRIES", "spill_limit"]

#: Entries kept in memory before a run of them is written to the temporary file.
SPILL_ENTRIES = 50_000

_NO_CODE = object()  # the code before the first entry: equal to none


def spill_limit(share: int = 1) -> int:
    """Entries kept in memory by each of ``share`` lists filled together (the budget's :data:`SPILL_ENTRIES`)."""
    return max(1, scaled(SPILL_ENTRIES, 64) // max(1, share))


class Entries:
    """Coded entries in the order added (see the module docs).

    Parameters
    ----------
    entries : iterable, optional
        Named tuples (or objects) with a ``code``.
    tally : callable, optional
        ``tally(entry) -> hashable``: the values counted by :meth:`tallies`.
        A module-level function (a pickled :class:`Entries` carries it).
    limit : int, optional
        Entries kept in memory (default: :func:`spill_limit`, read once).
    coded : bool, default True
        Whether the entries have a ``code`` to count (``False``: any
        picklable values, a report's per-image records; :meth:`counts` is
        then empty).
    """

    def __init__(self, entries: Iterable = (), *, tally=None, limit: int | None = None, coded: bool = True):
        self._coded = coded
        self._tail: list = []
        self._spill = None
        self._spilled = 0
        self._tally = tally
        self._reset_counts()
        self._limit = spill_limit() if limit is None else max(1, limit)  # once: the budget is read from the env
        self.extend(entries)

    def _reset_counts(self) -> None:
        self._counts: Counter = Counter()
        self._tallies: Counter = Counter()
        self._runs, self._last = 0, _NO_CODE

    def _count(self, entry) -> None:
        if not self._coded:
            return
        code = entry.code
        self._counts[code] += 1
        if code != self._last:
            self._runs += 1
            self._last = code
        if self._tally is not None:
            self._tallies[self._tally(entry)] += 1

    def append(self, entry) -> None:
        """Add one entry at the end."""
        self._tail.append(entry)
        self._count(entry)
        if len(self._tail) >= self._limit:
            self._write_run()

    def _write_run(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()
        self._spill.seek(0, 2)
        pickle.dump(self._tail, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled += len(self._tail)
        self._tail = []

    def extend(self, entries: Iterable) -> None:
        """Add entries at the end, in order."""
        for e in entries:
            self.append(e)

    def __iadd__(self, entries: Iterable) -> "Entries":
        self.extend(entries)
        return self

    def __add__(self, other: Iterable) -> list:
        return list(self) + list(other)

    def __radd__(self, other: Iterable) -> list:
        return list(other) + list(self)

    def prepend(self, entries: Iterable) -> None:
        """Put ``entries`` before the others (what ``list[:0] = entries`` does)."""
        head = list(entries)
        if not head:
            return
        if self._spill is None:
            self._tail[:0] = head
            self._reset_counts()
            for e in self._tail:
                self._count(e)
            return
        old_spill, old_tail = self._spill, self._tail
        self._spill, self._spilled, self._tail = None, 0, []
        self._reset_counts()
        self.extend(head)
        try:
            self.extend(_runs(old_spill))
        finally:
            old_spill.close()
        self.extend(old_tail)

    def __iter__(self) -> Iterator:
        if self._spill is not None:
            yield from _runs(self._spill)
        yield from list(self._tail)

    def __len__(self) -> int:
        return self._spilled + len(self._tail)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, key):
        if self._spill is None:
            return self._tail[key]
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:  # the first few (a summary's examples) read only as far as they go
                return list(islice(iter(self), start, max(start, stop)))
            return list(self)[key]
        k = operator.index(key)
        k += n if k < 0 else 0
        if not 0 <= k < n:
            raise IndexError("entries index out of range")
        if k >= self._spilled:
            return self._tail[k - self._spilled]
        return next(islice(iter(self), k, None))

    def counts(self) -> dict[str, int]:
        """Count of entries per code, sorted by code (what ``summary()`` gives)."""
        return {c: n for c, n in sorted(self._counts.items()) if n}

    def tallies(self) -> dict | None:
        """Count of each value of ``tally(entry)``, in order of first appearance (``None`` without a tally)."""
        return None if self._tally is None else dict(self._tallies)

    @property
    def tally(self):
        """The ``tally`` function given (or ``None``)."""
        return self._tally

    def runs(self) -> int:
        """Number of runs of entries of one code (as many as codes when each code's entries come together)."""
        return self._runs

    def __eq__(self, other: Any):
        if isinstance(other, (Entries, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Entries({list(self)!r})" if len(self) <= 20 else f"Entries({len(self)} entries)"

    def __reduce__(self):
        if self._tally is None and self._coded:
            return (Entries, (list(self),))
        return (_tallied, (list(self), self._tally, self._coded))


def _tallied(entries: list, tally, coded: bool = True) -> Entries:
    """An unpickled :class:`Entries` with a tally, or of entries without a code."""
    return Entries(entries, tally=tally, coded=coded)


def _runs(f) -> Iterator:
    """The entries pickled in ``f``, run after run, from the start."""
    f.flush()
    end, at = f.seek(0, 2), 0
    while at < end:
        f.seek(at)
        run = pickle.load(f)
        at = f.tell()
        yield from run
