"""Numba kernel: the nesting depth of a JSON document, without parsing it.

Kept apart from :mod:`segmill.jsonio` so that importing the loader does not
import numba; the kernel is compiled (and cached) on first use.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def exceeds_depth(buf, limit):
    """Whether brackets outside strings nest deeper than ``limit`` in ``buf`` (uint8)."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(buf.shape[0]):
        c = buf[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:  # backslash
                escaped = True
            elif c == 34:  # quote
                in_string = False
        elif c == 34:
            in_string = True
        elif c == 91 or c == 123:  # [ {
            depth += 1
            if depth > limit:
                return True
        elif c == 93 or c == 125:  # ] }
            depth -= 1
    return False


def too_deep(data: bytes, limit: int) -> bool:
    """Python face of :func:`exceeds_depth` for any bytes-like ``data``."""
    return bool(exceeds_depth(np.frombuffer(data, np.uint8), limit))
