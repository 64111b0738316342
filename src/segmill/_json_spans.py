"""Numba kernel: where the members of a top-level JSON object and the elements of its arrays are, without parsing.

The streaming COCO reader (:mod:`segmill.formats._coco_stream`) indexes a
file with it a block at a time: the state that carries over from one block
to the next lives in a small int64 array, so the file is never in memory
whole. Nothing here checks that the text is JSON: the parser of each span
does, and the spans must account for the whole document (see the reader).
"""

from __future__ import annotations

import numpy as np

from ._jit import njit

__all__ = ["new_state", "scan_block", "ST_DEPTH", "ST_BAD", "ST_MEMBER"]

# Slots of the state array.
ST_DEPTH, ST_STRING, ST_ESCAPE, ST_MEMBER, ST_ARRAY, ST_OPEN, ST_START, ST_BAD, ST_EXPECT = range(9)
_ST_SIZE = 9


def new_state() -> np.ndarray:
    """The state before the first byte of a document."""
    st = np.zeros(_ST_SIZE, np.int64)
    st[ST_MEMBER] = -1
    st[ST_EXPECT] = 1  # at depth 1, the next string is a key
    return st


@njit(cache=True, nogil=True)
def scan_block(buf, n, base, st, members, elements, limit):
    """Record spans in ``buf[:n]`` (uint8), the bytes at file offset ``base``, until ``elements`` is full.

    ``members`` (int64, k x 3) receives per member of the top-level object
    ``(key start, value start, value end)``; ``elements`` (int64, m x 3)
    per element of a top-level array ``(member, start, end)``; offsets are
    file offsets, ends exclusive. ``st`` is the carried state (slot
    ``ST_MEMBER``: the members recorded so far, minus one). Brackets nested
    deeper than ``limit`` set ``ST_BAD`` and stop.

    Returns ``(bytes consumed, elements recorded)``: fewer than ``n``
    bytes when ``elements`` filled up (call again with the rest).
    """
    depth, in_string, escaped = st[ST_DEPTH], st[ST_STRING] != 0, st[ST_ESCAPE] != 0
    member, is_array, open_, start = st[ST_MEMBER], st[ST_ARRAY] != 0, st[ST_OPEN] != 0, st[ST_START]
    expect = st[ST_EXPECT] != 0
    cap = elements.shape[0]
    ne = 0
    i = 0
    while i < n:
        c = buf[i]
        pos = base + i
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:
                escaped = True
            elif c == 34:
                in_string = False
            i += 1
            continue
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
            continue
        if depth == 2 and is_array and not open_ and c != 93 and c != 44:
            if ne == cap:
                break
            open_ = True
            start = pos
        if c == 34:
            in_string = True
            if depth == 1:
                if expect:
                    member += 1
                    if member < members.shape[0]:
                        members[member, 0] = pos
                        members[member, 1] = -1
                        members[member, 2] = -1
                    expect = False
                elif 0 <= member < members.shape[0] and members[member, 1] < 0:
                    members[member, 1] = pos  # a string value
        elif c == 123 or c == 91:
            if depth == 1 and 0 <= member < members.shape[0] and members[member, 1] < 0:
                members[member, 1] = pos
                is_array = c == 91
            depth += 1
            if depth > limit:
                st[ST_BAD] = 1
                break
        elif c == 125 or c == 93:
            if depth == 2 and is_array and open_:  # a scalar element ends at the array's close
                elements[ne, 0] = member
                elements[ne, 1] = start
                elements[ne, 2] = pos
                ne += 1
                open_ = False
            depth -= 1
            if depth == 2 and is_array and open_:
                elements[ne, 0] = member
                elements[ne, 1] = start
                elements[ne, 2] = pos + 1
                ne += 1
                open_ = False
            elif depth == 1 and 0 <= member < members.shape[0]:
                members[member, 2] = pos + 1
                is_array = False
            elif depth == 0 and 0 <= member < members.shape[0] and members[member, 2] < 0:
                members[member, 2] = pos  # a scalar value ends at the document's close
        elif c == 44:
            if depth == 1:
                if 0 <= member < members.shape[0] and members[member, 2] < 0:
                    members[member, 2] = pos  # a scalar value ends at the comma
                expect = True
            elif depth == 2 and is_array and open_:
                elements[ne, 0] = member
                elements[ne, 1] = start
                elements[ne, 2] = pos
                ne += 1
                open_ = False
        elif c == 58:
            pass
        elif depth == 1 and 0 <= member < members.shape[0] and members[member, 1] < 0:
            members[member, 1] = pos  # a scalar value starts
        i += 1
    st[ST_DEPTH] = depth
    st[ST_STRING] = 1 if in_string else 0
    st[ST_ESCAPE] = 1 if escaped else 0
    st[ST_MEMBER] = member
    st[ST_ARRAY] = 1 if is_array else 0
    st[ST_OPEN] = 1 if open_ else 0
    st[ST_START] = start
    st[ST_EXPECT] = 1 if expect else 0
    return i, ne


#: The keys :func:`record_ids` looks for, as they are written between quotes.
ID_KEYS = (b"id", b"image_id", b"category_id")
#: What :func:`record_ids` found for a key: absent, an integer, anything else, or a key with an escape (unsure).
ABSENT, INTEGER, OTHER, UNSURE = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _key_is(buf, a, b, k):
    """``buf[a:b]`` (a key without its quotes) is ``ID_KEYS[k]``."""
    if k == 0:
        return b - a == 2 and buf[a] == 105 and buf[a + 1] == 100
    if k == 1:  # image_id
        if b - a != 8:
            return False
        word = (105, 109, 97, 103, 101, 95, 105, 100)
        for j in range(8):
            if buf[a + j] != word[j]:
                return False
        return True
    if b - a != 11:  # category_id
        return False
    word = (99, 97, 116, 101, 103, 111, 114, 121, 95, 105, 100)
    for j in range(11):
        if buf[a + j] != word[j]:
            return False
    return True


@njit(cache=True, nogil=True)
def record_ids(buf, starts, ends, out):
    """The integer ``id``, ``image_id`` and ``category_id`` of each object ``buf[starts[r]:ends[r]]``.

    ``out`` (int64, n x 6) receives per record the kind (``ABSENT``,
    ``INTEGER``, ``OTHER``, ``UNSURE``) and the value of each key, at the
    record's own level (a later duplicate key wins, as in the parsers). An
    integer is at most 18 digits with no fraction or exponent. Nothing else
    is checked: the records are parsed when they are read.
    """
    for r in range(starts.shape[0]):
        for k in range(6):
            out[r, k] = 0
        i, end = starts[r], ends[r]
        depth = 0
        key_pos = False
        while i < end:
            c = buf[i]
            if c == 34:  # a string: a key when at the record's level in key position
                j = i + 1
                escaped = False
                while j < end and buf[j] != 34:
                    if buf[j] == 92:
                        escaped = True
                        j += 1
                    j += 1
                if depth == 1 and key_pos:
                    key_pos = False
                    for k in range(3):
                        if escaped:
                            break
                        if _key_is(buf, i + 1, j, k):
                            i = _value(buf, j + 1, end, out, r, k)
                            break
                    if escaped:
                        out[r, 0] = UNSURE  # an escaped key may spell one of ours
                i = max(i, j) + 1
                continue
            if c == 123 or c == 91:
                depth += 1
                key_pos = depth == 1 and c == 123
            elif c == 125 or c == 93:
                depth -= 1
            elif c == 44 and depth == 1:
                key_pos = True
            i += 1


@njit(cache=True, nogil=True)
def _value(buf, i, end, out, r, k):
    """Read the value after a key (from just past its closing quote); the position to go on scanning from."""
    while i < end and buf[i] != 58:
        i += 1
    i += 1
    while i < end and (buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9):
        i += 1
    neg = i < end and buf[i] == 45
    j = i + 1 if neg else i
    v = 0
    digits = 0
    while j < end and 48 <= buf[j] <= 57 and digits < 19:
        v = v * 10 + (buf[j] - 48)
        digits += 1
        j += 1
    nxt = buf[j] if j < end else 44
    if 0 < digits <= 18 and nxt != 46 and nxt != 101 and nxt != 69 and not (48 <= nxt <= 57):
        out[r, 2 * k] = INTEGER
        out[r, 2 * k + 1] = -v if neg else v
        return j - 1
    out[r, 2 * k] = OTHER
    return i - 1
