"""Ids of the merged dataset: a source's id is kept while it is free, else the next free integer."""

from __future__ import annotations

__all__ = ["IdPool"]


class IdPool:
    """The ids taken so far in one id space (categories, images or annotations).

    >>> pool = IdPool()
    >>> pool.claim(3), pool.claim("a"), pool.claim(3), pool.claim(5), pool.claim(3)
    (3, 'a', 4, 5, 6)
    """

    def __init__(self):
        self._taken: set = set()
        self._next = 0

    def claim(self, wanted):
        """``wanted`` when no one has it yet, else the smallest integer above every integer taken."""
        if wanted not in self._taken:
            self._take(wanted)
            return wanted
        while self._next in self._taken:
            self._next += 1
        fresh = self._next
        self._take(fresh)
        return fresh

    def claim_all(self, wanted) -> dict:
        """Claim the ids of one source at once: ``{its id: merged id}``.

        The free ones are claimed first, so that a fresh id given to a taken
        one never takes another id of the same source (which would then move
        too).

        >>> pool = IdPool()
        >>> _ = pool.claim_all([1, 2])
        >>> pool.claim_all([2, 3])
        {3: 3, 2: 4}
        """
        wanted = list(wanted)
        out = {w: w for w in wanted if w not in self._taken}
        for w in out:
            self._take(w)
        for w in wanted:
            if w not in out:
                out[w] = self.claim(w)
        return out

    def _take(self, value) -> None:
        self._taken.add(value)
        if isinstance(value, int) and value >= self._next:
            self._next = value + 1
