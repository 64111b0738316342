"""Numba kernels: COCO's compressed counts string, both ways (and :func:`decode_strings`, a batch of them)."""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ._kernels import canonicalize, check_counts


@njit(cache=True, nogil=True, inline="always")
def _put(counts, s, m, out, p):
    """Write the compressed string of ``counts[s : s + m]`` into ``out`` from ``p``; the new end."""
    for i in range(m):
        x = np.int64(counts[s + i])
        if i > 2:
            x -= np.int64(counts[s + i - 2])
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
def from_string_checked(chars, total):
    """from_string, then the sum check and canonical form, in one call.

    Returns (counts, status, index): status as from_string, or 4 when the
    counts do not sum to total (index then holds nothing useful).
    """
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
    out = np.empty(chars.shape[0] + n, dtype=np.uint32)  # a character ends at most one count; +1 for ""
    count_off = np.zeros(n + 1, dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    m = 0
    for i in range(n):
        m, st = _decode_into(chars, char_off[i], char_off[i + 1], out, m, totals[i])
        status[i] = st
        count_off[i + 1] = m
    return out[:m], count_off, status


def decode_strings(strings: list, totals) -> tuple | None:
    """Decode and check many compressed counts strings in one :func:`from_strings_checked` call.

    ``strings`` are ``str``; ``totals`` the pixel count each must sum to.
    Returns ``(counts, count_offsets, status)`` as the kernel does (counts
    read-only), or ``None`` when a string is not ASCII (the caller's
    one-by-one path words that).
    """
    joined = "".join(strings)
    if not joined.isascii():
        return None
    n = len(strings)
    char_off = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), np.int64, n), out=char_off[1:])
    counts, count_off, status = from_strings_checked(np.frombuffer(joined.encode("ascii"), np.uint8), char_off,
                                                     np.asarray(totals, np.int64))
    counts.flags.writeable = False
    return counts, count_off, status
