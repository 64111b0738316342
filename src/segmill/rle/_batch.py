""":class:`RLEBatch`: many RLEs packed in one counts array, the form the kernels take."""

from __future__ import annotations

import numpy as np
from .._jit import njit

from ..errors import RLEError
from ..validate import brief
from . import _codec as C
from . import _kernels as K
from ._rle import RLE, _as_counts, check_size


class RLEBatch:
    """Many RLEs packed: one ``uint32`` counts array and ``int64`` offsets.

    RLE ``i`` has the runs ``counts[offsets[i] : offsets[i + 1]]`` and the
    size ``heights[i] x widths[i]``. This is how rasterization hands out many
    masks at once (:func:`segmill.raster.rasterize_packed`) and how the
    kernels take them, so no Python object per mask is needed until one is
    asked for.

    Parameters
    ----------
    counts : array_like of int
        Every RLE's canonical counts, concatenated.
    offsets : array_like of int
        ``n + 1`` non-decreasing offsets into ``counts``, from 0 to ``len(counts)``.
    heights, widths : int or array_like of int
        One size for all, or one per RLE.

    Raises
    ------
    segmill.errors.RLEError
        Arrays that do not fit together, a bad size, or an RLE whose counts
        do not sum to its size or are not canonical (empty interior runs).

    Examples
    --------
    >>> b = RLEBatch([1, 2, 3, 6], [0, 3, 4], 2, 3)
    >>> b.areas().tolist(), b.strings()
    ([2, 0], ['123', '6'])
    """

    __slots__ = ("_counts", "_offsets", "_heights", "_widths")

    def __init__(self, counts, offsets, heights, widths):
        arr = _as_counts(counts)
        off = _offsets(offsets, arr.shape[0])
        n = off.shape[0] - 1
        hs = _sizes(heights, n, "heights")
        ws = _sizes(widths, n, "widths")
        for h, w in set(zip(hs.tolist(), ws.tolist())):
            check_size(h, w, "RLEBatch")
        bad, status = _check_batch(arr, off, hs, ws)
        if status < 0:
            raise RLEError(f"RLEBatch: RLE {bad} has counts that do not sum to its "
                           f"{int(hs[bad])}x{int(ws[bad])} pixels")
        if status > 0:
            raise RLEError(f"RLEBatch: RLE {bad} has an empty run inside its counts (not canonical)")
        self._set(arr, off, hs, ws)

    @classmethod
    def _trusted(cls, counts: np.ndarray, offsets: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> RLEBatch:
        # Kernel output: canonical, complete, arrays of the right types and lengths.
        self = object.__new__(cls)
        self._set(counts, offsets, heights, widths)
        return self

    def _set(self, counts, offsets, heights, widths) -> None:
        for a in (counts, offsets, heights, widths):
            a.flags.writeable = False
        self._counts, self._offsets, self._heights, self._widths = counts, offsets, heights, widths

    @classmethod
    def from_rles(cls, rles) -> RLEBatch:
        """Pack a sequence of :class:`RLE` (sizes may differ)."""
        if isinstance(rles, RLE) or not isinstance(rles, (list, tuple)):
            raise RLEError(f"RLEBatch.from_rles expects a list of RLEs, got {type(rles).__name__}")
        for i, r in enumerate(rles):
            if not isinstance(r, RLE):
                raise RLEError(f"RLEBatch.from_rles: item {i} is a {type(r).__name__}, not an RLE")
        self = cls._pack(list(rles))
        self._counts.flags.writeable = False
        self._offsets.flags.writeable = False
        return self

    @classmethod
    def _pack(cls, rles) -> RLEBatch:
        # Trusted: a list of RLE objects. Sizes are gathered when first asked for
        # (area, merge and iou never ask).
        self = object.__new__(cls)
        n = len(rles)
        if n == 1:
            c = rles[0]._counts
            offsets = np.array([0, c.shape[0]], np.int64)
        else:
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(np.fromiter((r._counts.shape[0] for r in rles), np.int64, n), out=offsets[1:])
            c = np.concatenate([r._counts for r in rles]) if n else np.zeros(0, np.uint32)
        self._counts, self._offsets = c, offsets  # fresh arrays the verbs hand to kernels, left writable
        self._heights = self._widths = rles
        return self

    def _sizes(self) -> None:
        rles = self._heights
        if type(rles) is list:  # packed by _pack: gather the sizes now
            n = len(rles)
            hs = np.fromiter((r._h for r in rles), np.int64, n)
            ws = np.fromiter((r._w for r in rles), np.int64, n)
            self._heights, self._widths = hs, ws

    # ------------------------------------------------------------ accessors
    @property
    def counts(self) -> np.ndarray:
        """Every RLE's counts, concatenated (read-only ``uint32``)."""
        return self._counts

    @property
    def offsets(self) -> np.ndarray:
        """``n + 1`` offsets into :attr:`counts` (read-only ``int64``)."""
        return self._offsets

    @property
    def heights(self) -> np.ndarray:
        """Height of each RLE (read-only ``int64``)."""
        self._sizes()
        self._heights.flags.writeable = False
        return self._heights

    @property
    def widths(self) -> np.ndarray:
        """Width of each RLE (read-only ``int64``)."""
        self._sizes()
        self._widths.flags.writeable = False
        return self._widths

    def __len__(self) -> int:
        return self._offsets.shape[0] - 1

    def __getitem__(self, i) -> RLE:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise RLEError(f"RLEBatch index must be an integer, got {brief(i)}")
        k = int(i) + n if i < 0 else int(i)
        if not 0 <= k < n:
            raise RLEError(f"RLEBatch index {brief(i)} out of range for {n} RLEs")
        self._sizes()
        r = object.__new__(RLE)
        r._counts = self._counts[self._offsets[k] : self._offsets[k + 1]]
        r._h = int(self._heights[k])
        r._w = int(self._widths[k])
        return r

    def rles(self) -> list[RLE]:
        """Every RLE as an :class:`RLE` (views of :attr:`counts`, no copy)."""
        self._sizes()
        new = object.__new__
        c = self._counts
        bounds = self._offsets.tolist()
        out = []
        for k, (h, w) in enumerate(zip(self._heights.tolist(), self._widths.tolist())):
            r = new(RLE)
            r._counts = c[bounds[k] : bounds[k + 1]]
            r._h = h
            r._w = w
            out.append(r)
        return out

    def __iter__(self):
        return iter(self.rles())

    def areas(self) -> np.ndarray:
        """Foreground pixels of each RLE (``uint64``)."""
        return K.area_batch(self._counts, self._offsets)

    def bboxes(self) -> np.ndarray:
        """``(n, 4)`` float64 ``[x, y, w, h]`` of each RLE (pycocotools' ``toBbox``)."""
        self._sizes()
        return K.bbox_batch(self._counts, self._offsets, self._heights, self._widths)

    def strings(self) -> list[str]:
        """COCO's compressed counts string of each RLE (as :meth:`RLE.to_coco` gives it)."""
        text, off = self.joined_strings()
        b = off.tolist()
        return [text[b[k] : b[k + 1]] for k in range(len(b) - 1)]

    def joined_strings(self) -> tuple[str, np.ndarray]:
        """``(text, offsets)``: every compressed counts string in one ``str``; string ``i`` is
        ``text[offsets[i]:offsets[i + 1]]`` (cut them one at a time to hold one copy of them all)."""
        chars, off = C.to_string_batch(self._counts, self._offsets)
        return chars.tobytes().decode("ascii"), off

    def __repr__(self) -> str:
        return f"RLEBatch({len(self)} RLEs, {self._counts.shape[0]} runs)"


def _offsets(offsets, total: int) -> np.ndarray:
    try:
        off = np.asarray(offsets)
    except (TypeError, ValueError, OverflowError, RecursionError):
        off = None
    if off is None or off.ndim != 1 or off.shape[0] < 1 or off.dtype.kind not in "iu":
        raise RLEError(f"RLEBatch: offsets must be a 1-D array of n + 1 integers, got {brief(offsets)}")
    off = off.astype(np.int64)
    if off[0] != 0 or off[-1] != total or (np.diff(off) < 0).any():
        raise RLEError(f"RLEBatch: offsets must rise from 0 to the {total} counts")
    return off


def _sizes(values, n: int, what: str) -> np.ndarray:
    if np.isscalar(values) and not isinstance(values, (str, bytes)):
        values = [values] * n
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError, RecursionError):
        arr = None
    if arr is None or arr.ndim != 1 or arr.shape[0] != n or (n and arr.dtype.kind not in "iu"):
        raise RLEError(f"RLEBatch: {what} must be one integer or one per RLE ({n}), got {brief(values)}")
    if (arr < 0).any() or (n and arr.max() > np.iinfo(np.int64).max):
        raise RLEError(f"RLEBatch: {what} must not be negative")
    return arr.astype(np.int64)


@njit(cache=True, nogil=True)
def _check_batch(counts, offsets, hs, ws):
    """``(index, status)`` of the first RLE that is not complete and canonical (status as check_counts)."""
    for k in range(offsets.shape[0] - 1):
        st = K.check_counts(counts[offsets[k] : offsets[k + 1]], hs[k] * ws[k])
        if st != 0:
            return k, -1 if st < 0 else 1
    return -1, 0
