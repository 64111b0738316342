"""Numba kernel: the nesting depth of a JSON document, without parsing it.

Kept apart from :mod:`segmill.jsonio` so that importing the loader does not
import numba; the kernel is compiled (and cached) on first use.
"""

from __future__ import annotations

import numpy as np
from ._jit import njit


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


#: What :func:`split_array` found (its first result).
SPLIT_OK, SPLIT_TOO_DEEP, SPLIT_NONE = 0, 1, 2


@njit(cache=True, nogil=True)
def split_array(buf, limit, key, step, cuts, ints, deep):
    """Locate the array under ``key`` in a top-level object, for parsing it a slice at a time.

    One pass over ``buf`` (uint8) that also answers :func:`exceeds_depth`.
    ``key`` is the key's bytes with its quotes; ``cuts`` (int64, at least
    ``buf.shape[0] // step + 1`` long) receives the position of every
    ``step``-th comma between the array's elements; ``ints`` (int64, one
    longer, zeros) counts per slice the integer literals (no fraction, no
    exponent) nested ``deep`` levels or more (the document's object is level
    1): a slice without any holds only floats there.

    Returns ``(status, start, end, commas, ncuts)``: ``SPLIT_TOO_DEEP`` when
    brackets nest deeper than ``limit``; ``SPLIT_NONE`` when there is no
    plan (the document is not an object, the key's last value is not an
    array or is closed by ``}``, a key holds an escape, or a number runs to
    19 digits or more, which parsers may read differently); else
    ``SPLIT_OK`` with the positions of the array's ``[`` and ``]``, the count
    of its element commas and of ``cuts`` filled. Nothing here checks that
    the document is valid JSON: the parser of the slices does.
    """
    n = buf.shape[0]
    klen = key.shape[0]
    depth = 0
    in_string = escaped = False
    str_start = -1
    str_escape = False
    key_match = False  # the last string at depth 1 was the key (if a ':' follows)
    after_string = False  # a string at depth 1 just ended: is it a key?
    want_value = False  # the key and its ':' were seen: the next token is the value
    top_seen = False
    special = True  # one of the three flags above needs the next token
    start = end = -1
    commas = ncuts = 0
    inside = False  # within the candidate array
    digits = 0
    num = 0  # within a number: 1 an integer so far, 2 a fraction or an exponent seen
    for i in range(n):
        c = buf[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:
                escaped = str_escape = True
            elif c == 34:
                in_string = False
                if depth == 1:
                    after_string = special = True
                    key_match = not str_escape and i - str_start + 1 == klen
                    if key_match:
                        for j in range(klen):
                            if buf[str_start + j] != key[j]:
                                key_match = False
                                break
            continue
        if 48 <= c <= 57:
            digits += 1
            if digits >= 19:
                return SPLIT_NONE, -1, -1, 0, 0
            if num == 0:
                num = 1
            if not special:
                continue
        else:
            digits = 0
            if num:
                if c == 46 or c == 101 or c == 69:  # . e E
                    num = 2
                    continue
                if c == 43 or c == 45:  # an exponent's sign
                    continue
                if num == 1 and inside and depth >= deep:
                    ints[ncuts] += 1
                num = 0
            if c == 45:  # a negative number starts
                num = 1
                if not special:
                    continue
            elif c == 32 or c == 10 or c == 13 or c == 9:
                continue
        if special:
            if not top_seen:
                if c != 123:  # the document is not an object
                    return SPLIT_NONE, -1, -1, 0, 0
                top_seen = True
            if after_string:
                after_string = False
                if c == 58:  # ':' makes the string a key
                    if str_escape:
                        return SPLIT_NONE, -1, -1, 0, 0
                    if key_match:  # a later duplicate key wins, as in the parsers
                        want_value = True
                        start = end = -1
                        for q in range(ncuts + 1):
                            ints[q] = 0
                        commas = ncuts = 0
                        continue
            elif want_value:
                want_value = False
                if c == 91:
                    start = i
                    inside = True
                else:  # the key's value is not an array
                    start = -2
            special = False
        if c == 34:
            in_string = True
            str_start = i
            str_escape = False
        elif c == 91 or c == 123:
            depth += 1
            if depth > limit:
                return SPLIT_TOO_DEEP, -1, -1, 0, 0
        elif c == 93 or c == 125:
            depth -= 1
            if inside and depth == 1:
                if c != 93:  # '[' closed by '}': the whole-document parser words it
                    return SPLIT_NONE, -1, -1, 0, 0
                end = i
                inside = False
        elif c == 44 and inside and depth == 2:
            commas += 1
            if commas % step == 0:
                cuts[ncuts] = i
                ncuts += 1
    if start < 0 or end < 0:
        return SPLIT_NONE, -1, -1, 0, 0
    return SPLIT_OK, start, end, commas, ncuts
