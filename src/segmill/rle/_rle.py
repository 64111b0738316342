"""The :class:`RLE` value type and its COCO (de)serialization."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RLEError
from . import _codec as C
from . import _kernels as K

MAX_PIXELS = 0xFFFFFFFF  # counts are uint32, as in pycocotools


def check_size(height, width, what: str = "RLE") -> tuple[int, int]:
    """Validate an image size; return it as two Python ints."""
    try:
        h = int(height)
        w = int(width)
    except (TypeError, ValueError):
        raise RLEError(f"{what}: size must be two integers, got {height!r}, {width!r}") from None
    if h != height or w != width or isinstance(height, bool) or isinstance(width, bool):
        raise RLEError(f"{what}: size must be two integers, got {height!r}, {width!r}")
    if h < 0 or w < 0:
        raise RLEError(f"{what}: size must not be negative, got height={h}, width={w}")
    if h * w > MAX_PIXELS:
        raise RLEError(f"{what}: {h}x{w} has more than 2**32 - 1 pixels")
    return h, w


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
        status = K.check_counts(arr, h * w)
        if status < 0:
            raise RLEError(
                f"RLE counts sum to {int(arr.astype(np.int64).sum())}, "
                f"but a {h}x{w} mask has {h * w} pixels"
            )
        if status == 1:
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
        if compressed:
            counts: Any = C.to_string(self._counts).tobytes().decode("ascii")
        else:
            counts = self._counts.tolist()
        return {"size": [self._h, self._w], "counts": counts}

    def decode(self) -> np.ndarray:
        """The ``(height, width)`` bool mask (see :func:`segmill.rle.decode`)."""
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


def _as_counts(counts) -> np.ndarray:
    if isinstance(counts, np.ndarray):
        arr = counts
    else:
        try:
            arr = np.asarray(counts)
        except (TypeError, ValueError) as exc:
            raise RLEError(f"RLE counts are not a list of integers: {exc}") from None
    if arr.ndim != 1:
        raise RLEError(f"RLE counts must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, np.uint32)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            raise RLEError("RLE counts must be whole numbers")
    elif arr.dtype.kind not in "iub":
        raise RLEError(f"RLE counts must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind in "if" and (arr < 0).any():
        i = int(np.argmax(arr < 0))
        raise RLEError(f"RLE counts must not be negative (counts[{i}] = {arr[i]})")
    if arr.dtype != np.uint32:
        if arr.max() > 0xFFFFFFFF:
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
