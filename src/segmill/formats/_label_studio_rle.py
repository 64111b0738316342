"""Label Studio's brush ``rle``: its own bit-packed run-length codec, both ways (numba kernels).

Label Studio stores a brush region as the RGBA bytes of a mask image the
size of the original image (row-major, 4 values per pixel), packed by the
``rle-pack`` scheme its front end uses. This is not COCO's RLE.

The stream, most significant bit of each byte first:

* a header: the number of values ``num`` (32 bits), the word size minus one
  (5 bits), and four run-length field sizes minus one (4 bits each);
* records until ``num`` values are out: a flag bit, a 2-bit index choosing
  one of the four field sizes, a run length minus one in that many bits;
  with the flag set, one word repeated that many times, otherwise that many
  words one after the other.

Decoding follows the front end's decoder: a repeated run that passes
``num`` is cut there, and words of a literal run beyond ``num`` are read and
dropped. Encoding reproduces ``label_studio_converter.brush.encode_rle``
bit for bit (word size 8, field sizes 3, 4, 8, 16; a single value as a
literal run of one; runs over 65,536 split; the last byte padded with zero
bits, a whole zero byte when the stream already ends on a byte).

A pixel belongs to the brush region when its alpha value (the fourth of its
four values) is not 0; segmill writes a region's pixels as four 255 values.
"""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ..errors import InputError

__all__ = ["HEADER_BITS", "header", "decode_values", "decode_mask", "encode_values", "encode_mask"]

#: Bits of the header: ``num`` (32), word size (5), four field sizes (4 x 4).
HEADER_BITS = 53
#: The field sizes and word size segmill (and label-studio-converter) encode with.
_SIZES = (3, 4, 8, 16)
_WORD = 8
#: The longest run one record holds with a 16-bit field.
_LONGEST = 1 << 16


# ------------------------------------------------------------------ kernels
@njit(cache=True, nogil=True, inline="always")
def _bits(data, pos, n):
    """``n`` bits (n <= 32) of ``data`` from bit ``pos``, most significant first."""
    v = np.int64(0)
    for k in range(n):
        p = pos + k
        v = (v << 1) | ((np.int64(data[p >> 3]) >> (7 - (p & 7))) & 1)
    return v


@njit(cache=True, nogil=True, inline="always")
def _put(out, i, v, binary):
    """Value ``i`` of the stream: every value, or (``binary``) whether every fourth (alpha) is not 0."""
    if binary:
        if (i & 3) == 3:
            out[i >> 2] = 1 if v != 0 else 0
    else:
        out[i] = v & 0xFF


@njit(cache=True, nogil=True, inline="always")
def _fill(out, i, end, v, binary):
    """Values ``i`` to ``end - 1`` all equal to ``v`` (see :func:`_put`)."""
    if binary:
        b = 1 if v != 0 else 0
        p = i + ((3 - (i & 3)) & 3)  # the first alpha position at or after i
        while p < end:
            out[p >> 2] = b
            p += 4
    else:
        for p in range(i, end):
            out[p] = v & 0xFF


@njit(cache=True, nogil=True)
def _decode(data, num, word, sizes, out, binary):
    """Decode the records after the header into ``out``; 0, or 1 when the stream ends too soon."""
    nbits = np.int64(data.shape[0]) * 8
    pos = np.int64(53)
    i = np.int64(0)
    while i < num:
        if pos + 3 > nbits:
            return 1
        flag = _bits(data, pos, 1)
        size = sizes[_bits(data, pos + 1, 2)]
        pos += 3
        if pos + size > nbits:
            return 1
        j = i + 1 + _bits(data, pos, size)
        pos += size
        if flag:
            if pos + word > nbits:
                return 1
            v = _bits(data, pos, word)
            pos += word
            _fill(out, i, min(j, num), v, binary)
            i = j
        else:
            while i < j:
                if pos + word > nbits:
                    return 1
                v = _bits(data, pos, word)
                pos += word
                if i < num:
                    _put(out, i, v, binary)
                i += 1
    return 0


@njit(cache=True, nogil=True, inline="always")
def _write(out, pos, value, n):
    """Write the ``n`` low bits of ``value`` at bit ``pos`` (``out`` starts zeroed); the new position."""
    for k in range(n):
        if (value >> (n - 1 - k)) & 1:
            p = pos + k
            out[p >> 3] |= np.uint8(1 << (7 - (p & 7)))
    return pos + n


@njit(cache=True, nogil=True)
def _encode(num, lengths, values, out):
    """The stream of runs ``(lengths[k], values[k])`` into ``out`` (zeroed); the number of bytes used."""
    pos = _write(out, np.int64(0), num, 32)
    pos = _write(out, pos, 7, 5)  # word size 8
    pos = _write(out, pos, 2, 4)  # field sizes 3, 4, 8, 16
    pos = _write(out, pos, 3, 4)
    pos = _write(out, pos, 7, 4)
    pos = _write(out, pos, 15, 4)
    for k in range(lengths.shape[0]):
        n = np.int64(lengths[k])
        v = np.int64(values[k])
        if n == 1:
            pos = _write(out, pos, 0, 6)  # literal, field 0 (3 bits), length 1
            pos = _write(out, pos, v, 8)
        elif n <= 8:
            pos = _write(out, pos, 0b100, 3)
            pos = _write(out, pos, n - 1, 3)
            pos = _write(out, pos, v, 8)
        elif n <= 16:
            pos = _write(out, pos, 0b101, 3)
            pos = _write(out, pos, n - 1, 4)
            pos = _write(out, pos, v, 8)
        elif n <= 256:
            pos = _write(out, pos, 0b110, 3)
            pos = _write(out, pos, n - 1, 8)
            pos = _write(out, pos, v, 8)
        else:
            while n > 65536:
                pos = _write(out, pos, 0b111, 3)
                pos = _write(out, pos, 65535, 16)
                pos = _write(out, pos, v, 8)
                n -= 65536
            pos = _write(out, pos, 0b111, 3)
            pos = _write(out, pos, n - 1, 16)
            pos = _write(out, pos, v, 8)
    pos += 8 - (pos & 7)  # zero padding; a whole byte when already aligned
    return pos >> 3


# ------------------------------------------------------------------ Python face
def as_bytes(rle, path=None, record: str | None = None) -> np.ndarray:
    """A brush ``rle`` list as uint8; an InputError unless it is a list of integers 0-255."""
    if not isinstance(rle, list):
        raise InputError(f"brush rle must be a list of byte values, got {type(rle).__name__}", path, record)
    kinds = set(map(type, rle))
    if not kinds <= {int}:
        bad = next(v for v in rle if type(v) is not int)
        raise InputError(f"brush rle must hold integers 0-255, found {type(bad).__name__}", path, record)
    if not rle:
        raise InputError("brush rle is empty", path, record)
    if max(rle) > 255 or min(rle) < 0:
        raise InputError("brush rle holds a value outside 0-255", path, record)
    return np.array(rle, dtype=np.uint8)


def header(data: np.ndarray, path=None, record: str | None = None) -> tuple[int, int, np.ndarray]:
    """``(num, word size, field sizes)`` of a stream; an InputError when it is shorter than the header."""
    if data.shape[0] * 8 < HEADER_BITS:
        raise InputError(f"brush rle of {data.shape[0]} bytes is shorter than its header", path, record)
    num = int.from_bytes(bytes(data[:4]), "big")
    bits = int.from_bytes(bytes(data[4:7]), "big")  # 24 bits: word size (5), field sizes (16), 3 more
    word = (bits >> 19) + 1
    sizes = np.array([((bits >> (15 - 4 * k)) & 0xF) + 1 for k in range(4)], dtype=np.int64)
    return num, word, sizes


def decode_values(data: np.ndarray, path=None, record: str | None = None) -> np.ndarray:
    """Every value of a stream, as uint8 (the low 8 bits of each word), like ``brush.decode_rle``."""
    num, word, sizes = header(data, path, record)
    out = np.zeros(num, dtype=np.uint8)
    if _decode(data, num, word, sizes, out, False):
        raise InputError("brush rle ends before all its values are decoded", path, record)
    return out


def decode_mask(data: np.ndarray, height: int, width: int, path=None, record: str | None = None) -> np.ndarray:
    """The ``(height, width)`` boolean mask of a stream: pixels whose alpha value is not 0.

    Raises
    ------
    segmill.errors.InputError
        A header whose value count is not ``4 * height * width``, or a stream
        that ends too soon. The size must already be within the pixel limit.
    """
    num, word, sizes = header(data, path, record)
    want = 4 * height * width
    if num != want:
        raise InputError(f"brush rle holds {num} values; a {width}x{height} RGBA image has {want}", path, record)
    out = np.zeros(height * width, dtype=np.uint8)
    if _decode(data, num, word, sizes, out, True):
        raise InputError("brush rle ends before all its values are decoded", path, record)
    return out.reshape(height, width).view(bool)


def _runs(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, values)`` of the runs of equal values in a 1-D array."""
    n = flat.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [n]))).astype(np.int64)
    return lengths, flat[starts]


def _pack(num: int, lengths: np.ndarray, values: np.ndarray) -> list[int]:
    """The encoded stream as a list of byte values (how the JSON holds it)."""
    if num >= 1 << 32:
        raise ValueError(f"{num} values do not fit the 32-bit count of a brush rle")
    bound = HEADER_BITS + int(np.sum(27 * (lengths // _LONGEST + 1))) + 8
    out = np.zeros(bound // 8 + 1, dtype=np.uint8)
    used = _encode(np.int64(num), lengths, values.astype(np.uint8), out)
    return out[:used].tolist()


def encode_values(values) -> list[int]:
    """A stream of uint8 ``values`` (``brush.encode_rle``'s output for the same array)."""
    flat = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1)
    lengths, vals = _runs(flat)
    return _pack(flat.shape[0], lengths, vals)


def encode_mask(mask) -> list[int]:
    """The brush ``rle`` of a 2-D mask: each pixel as four values, 255 where the mask is set, else 0.

    The same bytes as ``brush.mask2rle(mask * 255)``, without building the
    four-times larger array: each run of the mask is a run four times longer.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {m.shape}")
    flat = np.ascontiguousarray(m != 0).reshape(-1).view(np.uint8)
    lengths, vals = _runs(flat)
    return _pack(4 * flat.shape[0], lengths * 4, vals * np.uint8(255))
