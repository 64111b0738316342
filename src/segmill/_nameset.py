"""A set of names held as 64-bit digests: what a writer needs to keep its file names unique, in 16 bytes a name.

A writer that names a file after each image (VOC ids, mask stems) must know
every name it has given, to suffix a repeated one. A Python ``set`` of the
names costs about 100 bytes an image and grows with the stream; this set
keeps an 8-byte BLAKE2b digest of each name in an open-addressing table
(NumPy, at most half full). Two different names share a digest with
probability about ``n**2 / 2**65`` (1e-8 for 600,000 names); the only effect
would be one name suffixed that need not have been, the same in a streamed
and a whole write, since both use this set.
"""

from __future__ import annotations

from hashlib import blake2b

import numpy as np

__all__ = ["NameSet"]

_EMPTY = 0


def _digest(name: str) -> int:
    """The name's nonzero 64-bit digest (0 marks an empty slot)."""
    d = int.from_bytes(blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return d or 1


class NameSet:
    """``name in s`` and ``s.add(name)`` for strings, in 16 bytes a name.

    Examples
    --------
    >>> s = NameSet()
    >>> s.add("a"); "a" in s, "b" in s, len(s)
    (True, False, 1)
    """

    __slots__ = ("_slots", "_n")

    def __init__(self, names=()):
        self._slots = np.zeros(1024, dtype=np.uint64)
        self._n = 0
        for name in names:
            self.add(name)

    def __len__(self) -> int:
        return self._n

    def _find(self, d: int) -> tuple[int, bool]:
        """The slot holding digest ``d``, or the empty slot where it would go; and whether it is there."""
        slots = self._slots
        mask = slots.shape[0] - 1
        i = d & mask
        while True:
            v = int(slots[i])
            if v == d:
                return i, True
            if v == _EMPTY:
                return i, False
            i = (i + 1) & mask

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self._find(_digest(name))[1]

    def add(self, name: str) -> None:
        """Add ``name`` (a string)."""
        d = _digest(name)
        i, there = self._find(d)
        if there:
            return
        self._slots[i] = d
        self._n += 1
        if 2 * self._n > self._slots.shape[0]:
            self._grow()

    def _grow(self) -> None:
        old = self._slots[self._slots != _EMPTY]
        self._slots = np.zeros(self._slots.shape[0] * 2, dtype=np.uint64)
        for v in old.tolist():
            self._slots[self._find(v)[0]] = v
