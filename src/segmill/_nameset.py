"""A set of names held as 64-bit digests: what a writer needs to keep its file names unique, in 8 bytes a name.

A writer that names a file after each image (VOC ids, mask stems) must know
every name it has given, to suffix a repeated one. A Python ``set`` of the
names costs about 100 bytes an image and grows with the stream; this set
keeps an 8-byte BLAKE2b digest of each name. Two different names share a
digest with probability about ``n**2 / 2**65`` (1e-8 for 600,000 names); the
only effect would be one name suffixed that need not have been, the same in a
streamed and a whole write, since both use this set.

The digests live in sorted NumPy runs of at most :data:`RUN` digests each
(a lookup is a binary search in each run), the newest :data:`RECENT` in a
small Python set. A full recent set is merged into the last run (or starts a
new one), so adding a name never copies more than one run: the set holds 8
bytes a name and a fixed amount besides, with no table that doubles.
"""

from __future__ import annotations

from hashlib import blake2b

import numpy as np

__all__ = ["NameSet", "RECENT", "RUN"]

#: Digests in one sorted run (2 MiB).
RUN = 1 << 18
#: Digests held in a Python set before they are merged into the runs.
RECENT = 1 << 10


def _digest(name: str) -> int:
    """The name's 64-bit digest."""
    return int.from_bytes(blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class NameSet:
    """``name in s`` and ``s.add(name)`` for strings, in 8 bytes a name.

    Examples
    --------
    >>> s = NameSet()
    >>> s.add("a"); "a" in s, "b" in s, len(s)
    (True, False, 1)
    """

    __slots__ = ("_runs", "_recent", "_n")

    def __init__(self, names=()):
        self._runs: list[np.ndarray] = []
        self._recent: set[int] = set()
        self._n = 0
        for name in names:
            self.add(name)

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes of the sorted runs (the recent digests are not counted)."""
        return sum(run.nbytes for run in self._runs)

    def _has(self, d: int) -> bool:
        if d in self._recent:
            return True
        key = np.uint64(d)
        for run in self._runs:
            i = int(run.searchsorted(key))
            if i < run.shape[0] and run[i] == key:
                return True
        return False

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self._has(_digest(name))

    def add(self, name: str) -> None:
        """Add ``name`` (a string)."""
        d = _digest(name)
        if self._has(d):
            return
        self._recent.add(d)
        self._n += 1
        if len(self._recent) >= RECENT:
            self._merge()

    def _merge(self) -> None:
        """Move the recent digests into the last run, or into a new one when it is full."""
        new = np.fromiter(self._recent, np.uint64, len(self._recent))
        new.sort()
        self._recent = set()
        last = self._runs[-1] if self._runs else None
        if last is None or last.shape[0] + new.shape[0] > RUN:
            self._runs.append(new)
        else:
            self._runs[-1] = np.insert(last, last.searchsorted(new), new)
