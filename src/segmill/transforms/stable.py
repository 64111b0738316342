"""Seeded orders that do not depend on Python's hash seed, the platform or the input order.

An image's place is a BLAKE2b digest of the seed and its id (the id's type
included: ``1`` and ``"1"`` differ), so the same seed orders the same images
the same way in every run, and adding an image does not move the others.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import UsageError
from ..validate import brief

__all__ = ["stable_key", "seeded_order", "checked_seed"]


def checked_seed(seed) -> int:
    """``seed`` as a non-negative int; a :class:`~segmill.errors.UsageError` otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"the seed must be an integer >= 0, got {brief(seed)}")
    return int(seed)


def stable_key(seed: int, value) -> bytes:
    """A 16-byte digest of ``seed`` and ``value`` (an id: ``int`` or ``str``, or a tuple of names)."""
    text = f"{seed}\x1f{type(value).__name__}\x1f{value!r}"
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def seeded_order(seed: int, values) -> np.ndarray:
    """Indices of ``values`` (int64) sorted by :func:`stable_key` (ties, equal values, by index).

    The digests are sorted as two big-endian 64-bit columns (the same order
    as the bytes), 16 bytes an image, with a stable sort; ``values`` is read
    once and no digest is kept as an object.
    """
    buf = bytearray()
    for v in values:
        buf += stable_key(seed, v)
    cols = np.frombuffer(bytes(buf), ">u8").reshape(-1, 2)
    return np.lexsort((cols[:, 1], cols[:, 0]))
