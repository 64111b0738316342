"""Numba kernels: COCO's compressed counts string, both ways (and :func:`decode_strings`, a batch of them;
:func:`string_areas`, only their areas)."""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ._kernels import canonicalize, check_counts


@njit(cache=True, nogil=True, inline="always")
def _put(counts, s, m, out, p):
    """Write the compressed string of ``counts[s : s + m]`` into ``out`` from ``p``; the new end.

    ``out`` needs room for seven characters per count plus one. Deltas of one
    character (noisy masks) and of two or three (most others) are written
    without a loop: the three-character form writes three bytes and keeps
    the two or three it needs.
    """
    prev2 = np.int64(0)
    prev1 = np.int64(0)
    for i in range(m):
        v = np.int64(counts[s + i])
        x = v - prev2 if i > 2 else v
        prev2 = prev1
        prev1 = v
        if np.uint64(x + 16) < np.uint64(32):  # -16 <= x < 16
            out[p] = (x & 0x1F) + 48
            p += 1
            continue
        if np.uint64(x + 16384) < np.uint64(32768):  # two or three characters
            three = np.int64(np.uint64(x + 512) >= np.uint64(1024))
            out[p] = (x & 0x1F) + 80  # 48 + the continuation bit
            out[p + 1] = ((x >> 5) & 0x1F) + 48 + (three << 5)
            out[p + 2] = ((x >> 10) & 0x1F) + 48
            p += 2 + three
            continue
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            if c & 0x10:
                more = x != -1
            else:
                more = x != 0
            if more:
                c |= 0x20
            out[p] = c + 48
            p += 1
    return p


@njit(cache=True, nogil=True)
def to_string(counts):
    """COCO's compressed counts string, as uint8 character codes."""
    m = counts.shape[0]
    out = np.empty(m * 7 + 1, dtype=np.uint8)
    p = _put(counts, 0, m, out, 0)
    return out[:p].copy()


@njit(cache=True, nogil=True)
def from_string(chars):
    """Decode a compressed counts string (uint8 codes).

    Returns (counts, status): status 0 ok, 1 bad character at counts[0]
    (its index), 2 string ends inside a count, 3 a count is negative or too big.
    """
    n = chars.shape[0]
    out = np.empty(n, dtype=np.uint32)
    m = 0
    p = 0
    bad = np.empty(1, dtype=np.uint32)
    while p < n:
        x = np.int64(0)
        k = 0
        more = True
        while more:
            if p >= n:
                return out[:m].copy(), 2
            ch = np.int64(chars[p])
            if ch < 48 or ch > 111:
                bad[0] = p
                return bad, 1
            c = ch - 48
            if k < 13:
                x |= (c & 0x1F) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10):
                if 5 * k < 63:
                    x |= np.int64(-1) << (5 * k)
        if m > 2:
            x += np.int64(out[m - 2])
        if x < 0 or x > 0xFFFFFFFF:
            bad[0] = m
            return bad, 3
        out[m] = x
        m += 1
    return out[:m].copy(), 0


@njit(cache=True, nogil=True)
def to_string_batch(counts, offsets):
    """:func:`to_string` of every RLE of a batch: ``(characters, character offsets)``.

    The strings are concatenated in one uint8 array; string ``i`` is
    ``chars[char_off[i] : char_off[i + 1]]``.
    """
    n = offsets.shape[0] - 1
    out = np.empty(counts.shape[0] * 7 + 1, dtype=np.uint8)
    char_off = np.zeros(n + 1, dtype=np.int64)
    p = 0
    for k in range(n):
        p = _put(counts, offsets[k], offsets[k + 1] - offsets[k], out, p)
        char_off[k + 1] = p
    return out[:p].copy(), char_off


@njit(cache=True, nogil=True)
def _decode_into(chars, a, b, out, m0, total):
    # Decode chars[a:b] into out[m0:], check the sum, fold empty interior runs
    # in place. Returns (end, status) with status as from_string_checked.
    m = m0
    p = a
    s = np.int64(0)
    canonical = True
    while p < b:
        x = np.int64(0)
        shift = 0
        while True:
            if p >= b:
                return m0, 2
            c = np.int64(chars[p]) - 48
            if c < 0 or c > 63:
                return m0, 1
            p += 1
            if shift < 63:
                x |= (c & 0x1F) << shift
            shift += 5
            if (c & 0x20) == 0:
                if (c & 0x10) and shift < 63:
                    x |= np.int64(-1) << shift
                break
        if m - m0 > 2:
            x += np.int64(out[m - 2])
        if x < 0 or x > 0xFFFFFFFF:
            return m0, 3
        if x == 0 and m > m0:
            canonical = False
        out[m] = x
        s += x
        m += 1
        if s > total:  # (also keeps s from overflowing)
            return m0, 4
    if s != total:
        return m0, 4
    if m == m0:
        out[m] = 0
        return m + 1, 0
    if not canonical:
        folded = canonicalize(out[m0:m])
        out[m0:m0 + folded.shape[0]] = folded
        m = m0 + folded.shape[0]
    return m, 0


@njit(cache=True, nogil=True, inline="always")
def _next_count(chars, p, b):
    """Read the count delta starting at ``chars[p]``: ``(delta, new p, flags)``.

    ``flags`` is nonzero when the count runs past ``b`` (bit 8) or has more
    than seven characters (bit 9, never so in a well-formed string: the
    careful :func:`_decode_into` then decides), or ORed with a character
    outside the alphabet (bits above 5). One character is the common case,
    taken without a loop.
    """
    c = np.int64(chars[p]) - 48
    bad = c
    p += 1
    x = c & 0x1F
    if c & 0x20:
        shift = 5
        while True:
            if p >= b:
                return x, p, bad | 0x100
            c = np.int64(chars[p]) - 48
            bad |= c
            p += 1
            x |= (c & 0x1F) << shift
            shift += 5
            if (c & 0x20) == 0:
                break
            if shift >= 35:
                return x, p, bad | 0x200
        if c & 0x10:
            x |= np.int64(-1) << shift
    elif c & 0x10:
        x |= np.int64(-1) << 5
    return x, p, bad


@njit(cache=True, nogil=True, inline="always")
def _first_counts(chars, p, b):
    """The first three counts of a string (not deltas; 0 for those missing): ``(c0, c1, c2, k, p, flags)``.

    ``k`` is how many there are; ``p`` and ``flags`` as :func:`_next_count`.
    """
    c0 = c1 = c2 = np.int64(0)
    k = 0
    flags = np.int64(0)
    if p < b:
        c0, p, f = _next_count(chars, p, b)
        flags |= f
        k = 1
    if p < b:
        c1, p, f = _next_count(chars, p, b)
        flags |= f
        k = 2
    if p < b:
        c2, p, f = _next_count(chars, p, b)
        flags |= f
        k = 3
    return c0, c1, c2, k, p, flags


@njit(cache=True, nogil=True)
def _fast_into(chars, a, b, out, m0, total):
    # The common case of _decode_into (out needs room for three counts from m0 whatever the string):
    # the last odd and even counts kept in registers (no load after a
    # store), counts taken in pairs (odd, then even) after the first three, which are not deltas, and
    # every check folded into one test at the end. Returns (end, ok); not ok means "ask _decode_into"
    # (it words the status), and out[m0:] is then garbage.
    c0, od, ev, k, p, bad = _first_counts(chars, a, b)
    out[m0] = c0
    out[m0 + 1] = od
    out[m0 + 2] = ev
    m = m0 + k
    zero = (k > 1 and od == 0) or (k > 2 and ev == 0)
    rng = c0 | od | ev
    s = c0 + od + ev
    while p < b:
        x, p, f = _next_count(chars, p, b)
        bad |= f
        od += x
        rng |= od
        s += od
        zero |= od == 0
        out[m] = od
        m += 1
        if p >= b:
            break
        x, p, f = _next_count(chars, p, b)
        bad |= f
        ev += x
        rng |= ev
        s += ev
        zero |= ev == 0
        out[m] = ev
        m += 1
    if (rng >> 32) != 0 or s != total or (bad & ~np.int64(63)) != 0:
        return m0, False
    if m == m0:
        out[m] = 0
        return m + 1, True
    if zero:
        folded = canonicalize(out[m0:m])
        out[m0:m0 + folded.shape[0]] = folded
        m = m0 + folded.shape[0]
    return m, True


@njit(cache=True, nogil=True)
def from_string_checked(chars, total):
    """from_string, then the sum check and canonical form, in one call.

    Returns (counts, status, index): status as from_string, or 4 when the
    counts do not sum to total (index then holds nothing useful).
    """
    out = np.empty(chars.shape[0] + 3, dtype=np.uint32)  # _fast_into writes the first three counts always
    m, good = _fast_into(chars, 0, chars.shape[0], out, 0, total)
    if good:  # (a copy when the buffer is mostly unused: an RLE may live long)
        return (out[:m].copy() if 2 * m < out.shape[0] else out[:m]), 0
    counts, status = from_string(chars)
    if status != 0:
        return counts, status
    st = check_counts(counts, total)
    if st < 0:
        return counts, 4
    if st == 1:
        return canonicalize(counts), 0
    if counts.shape[0] == 0:
        return np.zeros(1, dtype=np.uint32), 0
    return counts, 0


@njit(cache=True, nogil=True)
def areas_of_strings(chars, char_off, totals):
    """Foreground area of every compressed string of a batch, without building counts.

    As :func:`from_strings_checked`, string ``i`` is ``chars[char_off[i] :
    char_off[i + 1]]`` and must sum to ``totals[i]``. Returns ``(areas,
    ok)``: ``areas[i]`` (uint64) holds when ``ok[i]``; a string not ok is
    malformed or unusual, and the caller takes the careful path for it.
    (Folding empty runs joins two runs of one colour, so the area of the raw
    counts is the area of the canonical ones.) Decoded as :func:`_fast_into`.
    """
    n = char_off.shape[0] - 1
    areas = np.zeros(n, np.uint64)
    ok = np.zeros(n, np.bool_)
    for i in range(n):
        b = char_off[i + 1]
        c0, od, ev, _, p, bad = _first_counts(chars, char_off[i], b)
        rng = c0 | od | ev
        s = c0 + od + ev
        fg = od
        while p < b:
            x, p, f = _next_count(chars, p, b)
            bad |= f
            od += x
            rng |= od
            s += od
            fg += od
            if p >= b:
                break
            x, p, f = _next_count(chars, p, b)
            bad |= f
            ev += x
            rng |= ev
            s += ev
        if (rng >> 32) == 0 and s == totals[i] and (bad & ~np.int64(63)) == 0:
            areas[i] = fg
            ok[i] = True
    return areas, ok


@njit(cache=True, nogil=True)
def from_strings_checked(chars, char_off, totals):
    """:func:`from_string_checked` of every string of a batch, in one call.

    String ``i`` is ``chars[char_off[i] : char_off[i + 1]]`` and must sum to
    ``totals[i]``. Returns ``(counts, count_offsets, status)``: the counts of
    RLE ``i`` are ``counts[count_offsets[i] : count_offsets[i + 1]]`` when
    ``status[i] == 0``; otherwise ``status[i]`` is as from
    :func:`from_string_checked` and RLE ``i`` holds no counts.
    """
    n = char_off.shape[0] - 1
    # a character ends at most one count; +1 for "", +2 as _fast_into writes the first three counts always
    out = np.empty(chars.shape[0] + n + 2, dtype=np.uint32)
    count_off = np.zeros(n + 1, dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    m = 0
    for i in range(n):
        m1, good = _fast_into(chars, char_off[i], char_off[i + 1], out, m, totals[i])
        if good:
            m = m1
        else:
            m, st = _decode_into(chars, char_off[i], char_off[i + 1], out, m, totals[i])
            status[i] = st
        count_off[i + 1] = m
    return out[:m], count_off, status


def _joined(strings: list):
    """``(characters, character offsets)`` of ``strings`` in one uint8 buffer, or None if one is not ASCII."""
    joined = "".join(strings)
    if not joined.isascii():
        return None
    n = len(strings)
    char_off = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), np.int64, n), out=char_off[1:])
    return np.frombuffer(joined.encode("ascii"), np.uint8), char_off


def string_areas(strings: list, totals) -> tuple | None:
    """:func:`areas_of_strings` of ``str`` strings: ``(areas, ok)``, or None when one is not ASCII."""
    buf = _joined(strings)
    return None if buf is None else areas_of_strings(buf[0], buf[1], np.asarray(totals, np.int64))


def decode_strings(strings: list, totals) -> tuple | None:
    """Decode and check many compressed counts strings in one :func:`from_strings_checked` call.

    ``strings`` are ``str``; ``totals`` the pixel count each must sum to.
    Returns ``(counts, count_offsets, status)`` as the kernel does (counts
    read-only), or ``None`` when a string is not ASCII (the caller's
    one-by-one path words that).
    """
    buf = _joined(strings)
    if buf is None:
        return None
    counts, count_off, status = from_strings_checked(buf[0], buf[1], np.asarray(totals, np.int64))
    counts.flags.writeable = False
    return counts, count_off, status
