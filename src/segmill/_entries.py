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
"""

from __future__ import annotations

import operator
import pickle
import tempfile
from collections import Counter
from itertools import islice
from typing import Any, Iterable, Iterator

from .budget import scaled

__all__ = ["Entries", "SPILL_ENTRIES"]

#: Entries kept in memory before a run of them is written to the temporary file.
SPILL_ENTRIES = 50_000


class Entries:
    """Coded entries in the order added (see the module docs).

    Parameters
    ----------
    entries : iterable, optional
        Named tuples with a ``code``.
    """

    def __init__(self, entries: Iterable = ()):
        self._tail: list = []
        self._spill = None
        self._spilled = 0
        self._counts: Counter = Counter()
        self._limit = scaled(SPILL_ENTRIES, 64)  # once: the budget is read from the environment
        self.extend(entries)

    def append(self, entry) -> None:
        """Add one entry at the end."""
        self._tail.append(entry)
        self._counts[entry.code] += 1
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
            self._counts.update(e.code for e in head)
            return
        old_spill, old_tail = self._spill, self._tail
        self._spill, self._spilled, self._tail, self._counts = None, 0, [], Counter()
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

    def __eq__(self, other: Any):
        if isinstance(other, (Entries, list, tuple)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Entries({list(self)!r})" if len(self) <= 20 else f"Entries({len(self)} entries)"

    def __reduce__(self):
        return (Entries, (list(self),))


def _runs(f) -> Iterator:
    """The entries pickled in ``f``, run after run, from the start."""
    f.flush()
    end, at = f.seek(0, 2), 0
    while at < end:
        f.seek(at)
        run = pickle.load(f)
        at = f.tell()
        yield from run
