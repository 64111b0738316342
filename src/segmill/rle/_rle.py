"""The :class:`RLE` value type and its COCO (de)serialization."""

from __future__ import annotations

import array
import math
import operator
import os
import sys
from typing import Any

import numpy as np

from .. import limits
from ..errors import RLEError, one_line
from ..limits import COUNTS_MAX
from ..validate import brief
from . import _codec as C
from . import _kernels as K

# os.environ.get of a missing key costs microseconds (it raises and catches
# KeyError); the raw dict behind os.environ answers in a probe. Used only to
# notice a change, see _pixel_limit.
_ENV = getattr(os.environ, "_data", None)
_ENV_KEY = os.environ.encodekey("SEGMILL_MAX_PIXELS") if _ENV is not None else None
_UNSET = object()  # no such variable / Pillow not loaded
_limit_seen: list = [object(), object(), 0]  # SEGMILL_MAX_PIXELS, Pillow's limit, the limit they gave


def _pixel_limit() -> int:
    """:func:`segmill.limits.max_pixels`, recomputed only when one of its inputs changed.

    Every RLE built from untrusted values checks its size, so the check must
    cost next to nothing: the environment variable and Pillow's
    ``MAX_IMAGE_PIXELS`` are compared with the values last seen, and the
    limit is asked from :mod:`segmill.limits` again only when they differ.
    """
    if _ENV is None:  # pragma: no cover - not CPython's os.environ
        return limits.max_pixels()
    env = _ENV.get(_ENV_KEY, _UNSET)
    image = sys.modules.get("PIL.Image")
    pil = _UNSET if image is None else getattr(image, "MAX_IMAGE_PIXELS", _UNSET)
    seen = _limit_seen
    if env is not seen[0] or pil is not seen[1]:
        seen[2] = limits.max_pixels()  # raises LimitError on a malformed variable, every time
        seen[0] = env
        seen[1] = pil
    return seen[2]


def _dim(value, what: str, height, width) -> int:
    """One side of a size as a Python int: an integer, or a float with an integral value."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
        if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
            return int(value)
    raise RLEError(f"{what}: size must be two integers, got {brief(height)}, {brief(width)}")


def check_size(height, width, what: str = "RLE") -> tuple[int, int]:
    """Validate an image size; return it as two Python ints.

    Raises :class:`~segmill.errors.RLEError` for anything but two
    non-negative integers (integral floats pass) whose product is within the
    pixel limit (:func:`segmill.limits.max_pixels`; counts are ``uint32``, so
    never more than ``2**32 - 1`` either).
    """
    if type(height) is int and type(width) is int:
        h, w = height, width
    else:
        h = _dim(height, what, height, width)
        w = _dim(width, what, height, width)
    if h < 0 or w < 0:
        raise RLEError(f"{what}: size must not be negative, got height={brief(h)}, width={brief(w)}")
    if h > COUNTS_MAX or w > COUNTS_MAX or h * w > COUNTS_MAX:
        raise RLEError(f"{what}: {brief(h)}x{brief(w)} has more than 2**32 - 1 pixels")
    limit = _pixel_limit()
    if h * w > limit or h > limit or w > limit:
        raise RLEError(f"{what}: size {h}x{w} ({h * w:,} pixels) is over the pixel limit of {limit:,}; "
                       "set SEGMILL_MAX_PIXELS to raise it if the data is trusted")
    return h, w


def short(exc) -> str:
    """A third-party error message on one line, at most 100 characters."""
    text = one_line(exc)
    return text if len(text) <= 100 else text[:97] + "..."


def flag(value, what: str) -> bool:
    """``bool(value)``, or an :class:`~segmill.errors.RLEError` when it has no truth value (an array)."""
    if value is True or value is False:
        return value
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - numpy's ValueError, or anything a __bool__ raises
        raise RLEError(f"{what} must be true or false, got {brief(value)}") from None


class RLE:
    """An immutable run-length encoded binary mask in COCO semantics.

    Parameters
    ----------
    counts : array_like of int
        Run lengths over the column-major flattening of the mask, alternating
        background and foreground, starting with a background run (which may
        be empty). Must sum to ``height * width``. Empty interior runs are
        folded away, so equal masks have equal counts.
    height, width : int
        Mask size.

    Attributes
    ----------
    height, width : int
    counts : numpy.ndarray
        Read-only ``uint32`` array of canonical counts.

    Examples
    --------
    >>> r = RLE([1, 2, 3], height=2, width=3)
    >>> r.area, r.bbox
    (2, (0.0, 0.0, 2.0, 2.0))
    >>> r.to_coco()
    {'size': [2, 3], 'counts': '123'}
    """

    __slots__ = ("_counts", "_h", "_w")

    def __init__(self, counts, height: int, width: int):
        h, w = check_size(height, width)
        arr = _as_counts(counts)
        # numpy, not the check_counts kernel: building an RLE must not load numba (start-up time)
        total = int(arr.sum(dtype=np.uint64))
        if total != h * w:
            raise RLEError(f"RLE counts sum to {total}, but a {h}x{w} mask has {h * w} pixels")
        if arr.shape[0] > 1 and not arr[1:].all():
            arr = K.canonicalize(arr)
        if arr.shape[0] == 0:
            arr = np.zeros(1, np.uint32)
        arr.flags.writeable = False
        self._counts = arr
        self._h = h
        self._w = w

    @classmethod
    def _trusted(cls, counts: np.ndarray, h: int, w: int) -> "RLE":
        # For kernel output already known to be canonical and complete.
        self = object.__new__(cls)
        counts.flags.writeable = False
        self._counts = counts
        self._h = h
        self._w = w
        return self

    @property
    def height(self) -> int:
        return self._h

    @property
    def width(self) -> int:
        return self._w

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``, like a numpy mask."""
        return (self._h, self._w)

    @property
    def counts(self) -> np.ndarray:
        return self._counts

    @property
    def area(self) -> int:
        """Number of foreground pixels."""
        return int(self._counts[1::2].sum(dtype=np.uint64))

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` of the foreground pixels (pycocotools' toBbox)."""
        out = K.bbox_batch(self._counts, np.array([0, self._counts.shape[0]], np.int64),
                           np.array([self._h], np.int64), np.array([self._w], np.int64))
        return tuple(float(v) for v in out[0])

    def is_empty(self) -> bool:
        return self._counts.shape[0] <= 1

    def to_coco(self, compressed: bool = True) -> dict[str, Any]:
        """COCO's ``{"size": [h, w], "counts": ...}``.

        Parameters
        ----------
        compressed : bool, default True
            A ``str`` of COCO's compressed counts (write it through a JSON
            encoder: it may contain a backslash); otherwise a list of ints.
        """
        if flag(compressed, "to_coco: compressed"):
            counts: Any = C.to_string(self._counts).tobytes().decode("ascii")
        else:
            counts = self._counts.tolist()
        return {"size": [self._h, self._w], "counts": counts}

    def decode(self) -> np.ndarray:
        """The ``(height, width)`` bool mask (see :func:`segmill.rle.decode`)."""
        # lazy: import cycle _rle -> _api (_api imports RLE from here)
        from ._api import decode

        return decode(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RLE):
            return NotImplemented
        return (
            self._h == other._h
            and self._w == other._w
            and np.array_equal(self._counts, other._counts)
        )

    def __hash__(self) -> int:
        return hash((self._h, self._w, self._counts.tobytes()))

    def __repr__(self) -> str:
        return f"RLE(height={self._h}, width={self._w}, area={self.area}, runs={self._counts.shape[0]})"

    def __reduce__(self):
        return (RLE, (self._counts.copy(), self._h, self._w))


_U32 = "I"  # array typecode of C unsigned int: 32 bits wherever CPython runs


def _as_counts(counts) -> np.ndarray:
    arr = None
    if isinstance(counts, np.ndarray):
        arr = counts
    elif type(counts) is list:
        # Python ints straight into uint32 words (array.fromlist: four times as fast as np.asarray's type
        # inference), and strict: a float, a string, a negative or a too large count raises, and then goes
        # the slow way below, which words the error.
        words = array.array(_U32)
        try:
            words.fromlist(counts)
            return np.frombuffer(words, np.uint32) if counts else np.zeros(0, np.uint32)
        except (TypeError, OverflowError):
            arr = None
    if arr is None:
        try:
            arr = np.asarray(counts)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise RLEError(f"RLE counts are not a list of integers: {short(exc)}") from None
    if arr.ndim != 1:
        raise RLEError(f"RLE counts must be one-dimensional, got shape {brief(arr.shape)}")
    if arr.size == 0:
        return np.zeros(0, np.uint32)
    kind = arr.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            raise RLEError("RLE counts must be whole numbers")
    elif kind not in "iub":
        raise RLEError(f"RLE counts must be integers, got dtype {brief(str(arr.dtype))}")
    if kind in "if" and (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise RLEError(f"RLE counts must not be negative (counts[{i}] = {brief(arr[i].item())})")
    if arr.dtype != np.uint32:
        if kind != "b" and arr.max() > COUNTS_MAX:
            raise RLEError("RLE count larger than 2**32 - 1")
        arr = arr.astype(np.uint32)
    return np.ascontiguousarray(arr)


def string_to_counts(s) -> np.ndarray:
    """Decode COCO's compressed counts string (``str`` or ``bytes``)."""
    if isinstance(s, str):
        try:
            raw = s.encode("ascii")
        except UnicodeEncodeError:
            bad = next(i for i, ch in enumerate(s) if ord(ch) > 127)
            raise RLEError(
                f"compressed RLE string has character {s[bad]!r} at position {bad}, "
                "outside the codec alphabet '0'..'o'"
            ) from None
    elif isinstance(s, (bytes, bytearray, memoryview)):
        raw = bytes(s)
    else:
        raise RLEError(f"compressed RLE counts must be str or bytes, got {type(s).__name__}")
    chars = np.frombuffer(raw, dtype=np.uint8)
    counts, status = C.from_string(chars)
    if status == 1:
        p = int(counts[0])
        raise RLEError(
            f"compressed RLE string has character {chr(raw[p])!r} at position {p}, "
            "outside the codec alphabet '0'..'o'"
        )
    if status == 2:
        raise RLEError("compressed RLE string ends in the middle of a count")
    if status == 3:
        raise RLEError(f"compressed RLE string decodes to a negative or too large count (counts[{int(counts[0])}])")
    return counts
