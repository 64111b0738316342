"""Polygons -> RLE: :func:`from_polygons`, its batched forms and :class:`FlatBatch`.

COCO's rule runs in the numba kernels of :mod:`segmill.rle._raster`, bit for
bit with pycocotools; the ``pil`` rule draws with Pillow.
"""

from __future__ import annotations

import math
import os
import threading
from itertools import chain

import numpy as np

from ..errors import PolygonError, RLEError, SegmillError, UsageError
from ..validate import brief
from . import _raster as R
from ._api import encode
from ._batch import RLEBatch
from ._rle import RLE, _pixel_limit, check_size

RULES = ("coco", "pil")
# |5x + 0.5| must stay well inside int32 so that edge deltas cannot overflow,
# which is where pycocotools' own arithmetic stops being defined.
MAX_COORD = 2.0e8


# ------------------------------------------------------------- from_polygons
def _as_parts(polygons) -> list[np.ndarray]:
    """Normalize polygon input to a list of (k, 2) float64 arrays."""
    if isinstance(polygons, np.ndarray):
        if polygons.ndim == 2 and polygons.shape[1] == 2:
            polygons = [polygons]
        elif polygons.ndim == 1:
            polygons = [polygons]
    elif isinstance(polygons, (list, tuple)) and polygons and np.isscalar(polygons[0]):
        polygons = [polygons]
    if not isinstance(polygons, (list, tuple)):
        raise PolygonError(f"polygons must be a list of parts, got {type(polygons).__name__}")
    if len(polygons) == 0:
        raise PolygonError("polygon has no parts")
    parts = []
    for i, part in enumerate(polygons):
        try:
            arr = np.asarray(part, dtype=np.float64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise PolygonError(f"polygon part {i} is not a list of numbers") from None
        if arr.ndim == 1:
            if arr.shape[0] % 2:
                raise PolygonError(f"polygon part {i} has an odd number of coordinates ({arr.shape[0]})")
            arr = arr.reshape(-1, 2)
        elif arr.ndim != 2 or arr.shape[1] != 2:
            raise PolygonError(f"polygon part {i} must be flat [x1, y1, ...] or (N, 2), got shape {brief(arr.shape)}")
        if arr.shape[0] < 3:
            raise PolygonError(f"polygon part {i} has {arr.shape[0]} points; at least 3 are needed")
        if not np.all(np.isfinite(arr)):
            raise PolygonError(f"polygon part {i} has a NaN or infinite coordinate")
        if np.abs(arr).max() > MAX_COORD:
            raise PolygonError(f"polygon part {i} has a coordinate beyond +/-{MAX_COORD:g}")
        parts.append(np.ascontiguousarray(arr))
    return parts


def from_polygons(polygons, height: int, width: int, rule: str = "coco") -> RLE:
    """Rasterize a polygon annotation (the union of its parts).

    Parameters
    ----------
    polygons : list
        Parts, each a flat ``[x1, y1, x2, y2, ...]`` list or an ``(N, 2)``
        array, in pixel-corner coordinates. A single flat list or ``(N, 2)``
        array is taken as one part.
    height, width : int
        Image size.
    rule : {"coco", "pil"}
        ``"coco"`` (default) is pycocotools' ``frPyObjects`` + ``merge``, bit
        for bit; ``"pil"`` draws each part with Pillow's
        ``ImageDraw.polygon(outline=1, fill=1)``, as labelme does.

    Raises
    ------
    segmill.errors.PolygonError
        No parts, a part with fewer than 3 points or an odd number of
        coordinates, NaN/inf, coordinates beyond +/-2e8, or (rule "coco")
        edges so long that tracing them, as pycocotools does on its 5x grid,
        would take more steps than the pixel limit
        (:func:`segmill.limits.max_pixels`): refused before allocating.
    segmill.errors.RLEError
        A size that is not two non-negative integers within the pixel limit.
    segmill.errors.UsageError
        An unknown ``rule``.

    Examples
    --------
    >>> from_polygons([[0, 0, 9, 0, 9, 9, 0, 9]], 10, 10).area
    81
    """
    h, w = check_size(height, width, "polygon image")
    if type(rule) is str and rule == "coco":
        if type(polygons) is list and len(polygons) == 1 and type(polygons[0]) is list:
            one = _raster_one(polygons[0], h, w)
            if one is not None:
                return RLE._trusted(one, h, w)
        fast = _raster_fast([polygons], (h,), (w,))
        if fast is None:
            fast = _raster_batch([_as_parts(polygons)], [h], [w])
            if fast is None:  # pragma: no cover - _as_parts checks what the kernel does
                raise PolygonError("polygon refused by the rasterizer")
        return RLE._trusted(fast[0], h, w)
    _check_rule(rule)
    return _pil_polygons(_as_parts(polygons), h, w)


def _check_rule(rule) -> None:
    if type(rule) is not str or rule not in RULES:
        raise UsageError(f"unknown rasterization rule {brief(rule)}; choose one of {RULES}")


def from_polygons_batch(annotations, heights, widths, rule: str = "coco") -> list[RLE]:
    """Rasterize many polygon annotations in one kernel call.

    Parameters
    ----------
    annotations : sequence
        Each item as accepted by :func:`from_polygons`.
    heights, widths : int or sequence of int
        Image size per annotation (or one for all).
    """
    if type(annotations) is not list:
        annotations = _listed(annotations, "annotations")
    n = len(annotations)
    sizes = _batch_sizes(heights, widths, n)[2]
    _check_rule(rule)
    if rule == "pil":
        return [_pil_polygons(_as_parts(a), h, w) for a, (h, w) in zip(annotations, sizes)]
    if n and len(set(sizes)) == 1:
        hcol, wcol = (sizes[0][0],), (sizes[0][1],)
    else:
        hcol = [s[0] for s in sizes]
        wcol = [s[1] for s in sizes]
    fast = _raster_fast(annotations, hcol, wcol)
    if fast is None:
        parts = []
        for i, a in enumerate(annotations):
            try:
                parts.append(_as_parts(a))
            except PolygonError as exc:
                raise PolygonError(f"annotation {i}: {exc}") from None
        out = _raster_batch(parts, hcol, wcol)
        if out is None:  # pragma: no cover - _as_parts checks what the kernel does
            raise PolygonError("polygons refused by the rasterizer")
        counts, off = out
    else:
        counts, off = fast
    return _wrap_batch(counts, off, sizes)


def _listed(values, what: str) -> list:
    """``values`` (any iterable but a string or a mapping) as a list, or a PolygonError."""
    if isinstance(values, (str, bytes, dict)) or (isinstance(values, np.ndarray) and values.ndim == 0):
        raise PolygonError(f"{what} must be a sequence, got {type(values).__name__}")
    try:
        return list(values)
    except TypeError:
        raise PolygonError(f"{what} must be a sequence, got {type(values).__name__}") from None


def _batch_sizes(heights, widths, n: int):
    """``(heights, widths, sizes)`` of a batch of n: one size for all or one per annotation, checked."""
    hs = [heights] * n if np.isscalar(heights) else _listed(heights, "heights")
    ws = [widths] * n if np.isscalar(widths) else _listed(widths, "widths")
    if len(hs) != n or len(ws) != n:
        raise PolygonError(f"{n} annotations but {len(hs)} heights and {len(ws)} widths")
    if not n:
        return hs, ws, []
    try:
        uniform = len(set(hs)) == 1 and len(set(ws)) == 1
    except TypeError:  # an unhashable value: check_size words it below
        uniform = False
    if uniform:
        return hs, ws, [check_size(hs[0], ws[0], "polygon image")] * n
    return hs, ws, [check_size(h, w, "polygon image") for h, w in zip(hs, ws)]


def _wrap_batch(counts: np.ndarray, off: np.ndarray, sizes) -> list[RLE]:
    """RLEs viewing slices of one batch counts array (made read-only once)."""
    return _as_batch(counts, off, sizes).rles()


def _as_batch(counts: np.ndarray, off: np.ndarray, sizes) -> RLEBatch:
    """Kernel output and its ``(height, width)`` pairs as an :class:`RLEBatch`."""
    n = len(sizes)
    if n and len(set(sizes)) == 1:
        hs = np.full(n, sizes[0][0], np.int64)
        ws = np.full(n, sizes[0][1], np.int64)
    else:
        hs = np.fromiter((s[0] for s in sizes), np.int64, n)
        ws = np.fromiter((s[1] for s in sizes), np.int64, n)
    return RLEBatch._trusted(counts, off, hs, ws)


_scratch = threading.local()


def _work() -> np.ndarray:
    w = getattr(_scratch, "work", None)
    if w is None:
        w = _scratch.work = np.empty(1 << 16, np.int64)
    return w


def _raster_batch(parts_per_ann, hs, ws):
    """``(counts, offsets)`` of validated ``(k, 2)`` parts, or None when the
    kernel refuses a value (it checks every one again).

    Raises :class:`~segmill.errors.PolygonError` for an annotation whose
    tracing would take more work than the pixel limit allows.
    """
    arrays = [a for parts in parts_per_ann for a in parts]
    flat = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
    lens = np.fromiter((a.size for a in arrays), np.int64, len(arrays))
    nparts = np.fromiter((len(p) for p in parts_per_ann), np.int64, len(parts_per_ann))
    counts, off, status, index, amount = _kernel(
        np.ascontiguousarray(flat, np.float64), lens, nparts, np.asarray(hs, np.int64), np.asarray(ws, np.int64))
    if status == 5:
        where = f"annotation {index}: " if len(parts_per_ann) > 1 else ""
        raise PolygonError(
            f"{where}polygon too long to rasterize: tracing its edges takes {amount:,} steps, more than "
            f"the pixel limit of {_pixel_limit():,} (SEGMILL_MAX_PIXELS); its coordinates lie far outside the image"
        )
    return None if status else (counts, off)


def _flat_floats(values, count: int):
    """``count`` numbers from an iterable as a 1-D float64 array, or None when they are not
    numbers (the careful path words it). (``np.fromiter`` converts each item as ``np.array``
    does, without its search for nested sequences: a nested one fails here.)"""
    try:
        return np.fromiter(values, np.float64, count)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return None


def _raster_one(part: list, h: int, w: int):
    """The counts of one part given as a flat list, in one kernel call; None when the kernel refuses it."""
    try:  # _flat_floats inline: this is the per-call path
        arr = np.fromiter(part, np.float64, len(part))
    except (TypeError, ValueError, OverflowError, RecursionError):
        return None
    work = getattr(_scratch, "work", None)
    if work is None:
        work = _work()
    counts, most = R.polygon_one(arr, h, w, work, MAX_COORD, _pixel_limit())
    if not counts.shape[0]:
        return None
    if most > work.shape[0]:
        _keep_scratch(work, most)
    return counts


def _raster_fast(annotations, hs, ws):
    """Rasterize COCO-style input (lists of flat lists) in one kernel call.

    Returns ``(counts, offsets)``, or None when the input is not in that form
    or is invalid: the caller then takes the general path, which also words
    the precise error.
    """
    parts: list = []
    nparts: list = []
    for ann in annotations:
        if type(ann) is not list or not ann:
            return None
        parts.extend(ann)
        nparts.append(len(ann))
    lens = [len(p) if type(p) is list else -1 for p in parts]
    if min(lens, default=0) < 0:
        return None
    arr = _flat_floats(chain.from_iterable(parts), sum(lens))
    if arr is None:
        return None
    return FlatBatch._start(arr, np.array(lens, np.int64), np.array(nparts, np.int64),
                            np.asarray(hs, np.int64), np.asarray(ws, np.int64)).finish()


class FlatBatch:
    """Packed polygons being rasterized under the COCO rule.

    The input is COCO's polygons flattened: ``coords`` every coordinate of
    every part (float64, ``x1, y1, x2, ...``), ``part_len`` the number of
    coordinates of each part, ``nparts`` the number of parts of each
    annotation, and ``heights`` / ``widths`` the image size of each
    annotation (or arrays of length 1 for all). The kernel checks every value.

    Arguments that are not 1-D numeric arrays, or that do not fit together
    (part lengths not adding up to the coordinates, ...), raise
    :class:`~segmill.errors.PolygonError`; a negative size or one over the
    pixel limit raises :class:`~segmill.errors.RLEError`. A bad coordinate
    (or a polygon whose tracing would take more work than the pixel limit
    allows) makes :meth:`finish` return None: the caller then takes the
    careful path of :func:`from_polygons_batch`, which words the error.

    A large batch (at least 200,000 coordinates, two or more threads, see
    ``SEGMILL_THREADS``) runs in two parts side by side, because the kernel
    releases the GIL. ``worker_share`` of the coordinates goes to a worker
    thread, started on construction. The rest runs on the caller's thread in
    :meth:`finish_parts`, so the caller may do Python work in between.

    Examples
    --------
    >>> job = FlatBatch(np.array([0., 0, 4, 0, 4, 4]), np.array([6]), np.array([1]),
    ...                 np.array([5]), np.array([5]))
    >>> [r.area for r in job.rles([(5, 5)])]
    [6]
    """

    def __init__(self, coords, part_len, nparts, heights, widths, worker_share: float = 0.5):
        coords = _vector(coords, np.float64, "coords", keep_readonly=True)
        part_len = _vector(part_len, np.int64, "part_len")
        nparts = _vector(nparts, np.int64, "nparts")
        heights = _vector(heights, np.int64, "heights")
        widths = _vector(widths, np.int64, "widths")
        try:
            share = float(worker_share)
        except (TypeError, ValueError, OverflowError):
            share = math.nan
        if not 0.0 <= share <= 1.0:
            raise PolygonError(f"FlatBatch: worker_share must be a number in [0, 1], got {brief(worker_share)}")
        problem = R._batch_problem(coords, part_len, nparts, heights, widths, _pixel_limit())
        if problem == 6:
            raise PolygonError("FlatBatch: part_len must add up to the coordinates, nparts to the parts, and "
                               "heights/widths must hold one size for all or one per annotation")
        if problem:
            raise RLEError("FlatBatch: a height or width is negative, or a size is over the pixel limit "
                           f"of {_pixel_limit():,}")
        self._begin(coords, part_len, nparts, heights, widths, share)

    @classmethod
    def _start(cls, coords, part_len, nparts, heights, widths, worker_share: float = 0.5) -> FlatBatch:
        # For this module's callers, whose arrays are built right: no checks.
        self = object.__new__(cls)
        self._begin(coords, part_len, nparts, heights, widths, worker_share)
        return self

    def _begin(self, coords, part_len, nparts, heights, widths, worker_share: float) -> None:
        self.future = None
        n = nparts.shape[0]
        self._sizes = (heights, widths, n)
        self.mine = (coords, part_len, nparts, heights, widths)
        if coords.size < _PARALLEL_MIN_COORDS or n < 2:
            return
        threads = _threads()  # after the size test: reading the environment costs microseconds
        if threads < 2:
            return
        # Split at an annotation boundary: the caller's thread takes the
        # first part, the worker the rest. (The leading 0 keeps annotations
        # without parts in place.)
        ann_end = np.concatenate(([0], np.cumsum(part_len)))[np.cumsum(nparts)]
        cut = min(max(int(np.searchsorted(ann_end, coords.size * (1.0 - worker_share))), 1), n - 1)
        p_cut = int(nparts[:cut].sum())
        c_cut = int(ann_end[cut - 1])
        h_per, w_per = heights.shape[0] > 1, widths.shape[0] > 1
        self.future = _pool(threads).submit(
            _run_flat, coords[c_cut:], part_len[p_cut:], nparts[cut:],
            heights[cut:] if h_per else heights, widths[cut:] if w_per else widths,
        )
        self.mine = (coords[:c_cut], part_len[:p_cut], nparts[:cut],
                     heights[:cut] if h_per else heights, widths[:cut] if w_per else widths)

    def finish_parts(self):
        """``[(counts, offsets, first annotation), ...]`` per part run (read-only counts).

        Returns None when a value is invalid: the caller then takes the
        careful path, which words the error.
        """
        first = _run_flat(*self.mine)
        rest = None if self.future is None else self.future.result()
        if first is None or (self.future is not None and rest is None):
            return None
        first[0].flags.writeable = False
        out = [(first[0], first[1], 0)]
        if rest is not None:
            rest[0].flags.writeable = False
            out.append((rest[0], rest[1], self.mine[2].shape[0]))
        return out

    def finish(self):
        """``(counts, offsets)`` for the whole batch, or None (see :meth:`finish_parts`)."""
        parts = self.finish_parts()
        if parts is None:
            return None
        if len(parts) == 1:
            return parts[0][:2]
        (c1, o1, _), (c2, o2, _) = parts
        return np.concatenate([c1, c2]), np.concatenate([o1[:-1], o2 + c1.shape[0]])

    def rles(self, sizes) -> list[RLE] | None:
        """One :class:`RLE` per annotation; ``sizes`` are their ``(height, width)``.

        They must be the batch's own sizes (an RLE's counts sum to its
        size): anything else raises :class:`~segmill.errors.PolygonError`.
        """
        pairs = self._same_sizes(sizes)
        out = self.finish()
        return None if out is None else _wrap_batch(out[0], out[1], pairs)

    def _same_sizes(self, sizes) -> list:
        heights, widths, n = self._sizes
        try:
            arr = np.asarray(sizes, dtype=np.int64)
        except (TypeError, ValueError, OverflowError, RecursionError):
            arr = None
        if arr is None or arr.shape != (n, 2) or not (
            np.array_equal(np.broadcast_to(heights, (n,)), arr[:, 0])
            and np.array_equal(np.broadcast_to(widths, (n,)), arr[:, 1])
        ):
            raise PolygonError(f"FlatBatch.rles: sizes must be the batch's {n} (height, width) pairs, "
                               f"got {brief(sizes)}")
        return [tuple(pair) for pair in arr.tolist()]


def flat_runs(coords, part_len, nparts, heights, widths):
    """Rasterize packed polygons (as :class:`FlatBatch` takes them), isolating the ones the kernel refuses.

    For :mod:`segmill.raster`, whose arrays are built right. Returns
    ``(counts, offsets, refused)``: the runs of every annotation, where the
    annotations listed in ``refused`` (sorted) have none. The whole batch
    goes to the kernel first (two threads when it is big); only when a value
    is refused is it split in halves, again and again, so a few bad
    annotations among many cost a few dozen kernel calls, not one per
    annotation.
    """
    out = FlatBatch._start(coords, part_len, nparts, heights, widths).finish()
    if out is not None:
        return out[0], out[1], []
    n = nparts.shape[0]
    p_at = np.zeros(n + 1, np.int64)
    np.cumsum(nparts, out=p_at[1:])
    c_at = np.zeros(part_len.shape[0] + 1, np.int64)
    np.cumsum(part_len, out=c_at[1:])
    per_h, per_w = heights.shape[0] > 1, widths.shape[0] > 1
    pieces: list = []
    refused: list = []
    stack = [(0, n)]
    while stack:  # depth first, left half first: pieces come out in annotation order
        a, b = stack.pop()
        pa, pb = p_at[a], p_at[b]
        got = _run_flat(coords[c_at[pa]:c_at[pb]], part_len[pa:pb], nparts[a:b],
                        heights[a:b] if per_h else heights, widths[a:b] if per_w else widths)
        if got is not None:
            pieces.append((a, b, got[0], got[1]))
        elif b - a == 1:
            refused.append(a)
        else:
            m = (a + b) // 2
            stack.append((m, b))
            stack.append((a, m))
    lens = np.zeros(n, np.int64)
    for a, b, _, off in pieces:
        lens[a:b] = np.diff(off)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    counts = np.concatenate([c for _, _, c, _ in pieces]) if pieces else np.zeros(0, np.uint32)
    return counts, offsets, refused


def from_parts_batch(parts_per_ann, heights, widths) -> list[RLE]:
    """Rasterize already-validated parts under the COCO rule, in one kernel call.

    For :class:`segmill.geometry.Polygons`, whose parts were checked when it
    was built: each annotation a sequence of ``(k, 2)`` float64 arrays with
    ``k >= 3`` finite points. Skips the per-part Python validation of
    :func:`from_polygons_batch` (the kernel still checks every value).
    """
    parts_per_ann = _listed(parts_per_ann, "annotations")
    n = len(parts_per_ann)
    hs, ws, sizes = _batch_sizes(heights, widths, n)
    uniform = n > 0 and len(set(sizes)) == 1
    hcol = [sizes[0][0]] if uniform else [s[0] for s in sizes]
    wcol = [sizes[0][1]] if uniform else [s[1] for s in sizes]
    try:
        out = _raster_batch(parts_per_ann, hcol, wcol)
    except SegmillError:
        raise
    except (AttributeError, TypeError, ValueError):  # not arrays after all
        out = None
    if out is None:  # not what the caller promised: take the careful path
        return from_polygons_batch([_listed(p, "polygon parts") for p in parts_per_ann], hs, ws)
    return _wrap_batch(out[0], out[1], sizes)


# Batches with at least this many coordinates are split over two threads.
_PARALLEL_MIN_COORDS = 200_000
_executor = None


def _threads() -> int:
    """Threads for large polygon batches: ``SEGMILL_THREADS``, else min(2, CPUs)."""
    env = os.environ.get("SEGMILL_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        ncpu = os.cpu_count() or 1
    return min(2, ncpu)


def _pool(threads: int):
    global _executor
    if _executor is None:
        # lazy: start-up time (concurrent.futures.thread is only needed by big batches)
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=max(1, threads - 1), thread_name_prefix="segmill-raster")
    return _executor


def _kernel(arr, lens_a, nparts_a, hs_a, ws_a):
    """``polygons_flat`` with this thread's scratch: ``(counts, offsets, status, index, amount)``."""
    work = _work()
    counts, off, most, status, index = R.polygons_flat(arr, lens_a, nparts_a, hs_a, ws_a, work, MAX_COORD,
                                                       _pixel_limit())
    if status:
        return counts, off, status, index, most
    _keep_scratch(work, most)
    return counts, off, 0, -1, 0


def _keep_scratch(work: np.ndarray, most: int) -> None:
    """After a call that wanted ``most`` scratch words: keep a scratch that size (up to 64 MiB) for the next."""
    if most > work.shape[0]:
        _scratch.work = np.empty(min(most, 1 << 23), np.int64)


def _run_flat(arr, lens_a, nparts_a, hs_a, ws_a):
    """``(counts, offsets)``, or None when the kernel refuses a value."""
    counts, off, status, _, _ = _kernel(arr, lens_a, nparts_a, hs_a, ws_a)
    return None if status else (counts, off)


def _vector(a, dtype, what: str, keep_readonly: bool = False) -> np.ndarray:
    """A FlatBatch argument as a C-contiguous 1-D array of ``dtype``, or a PolygonError.

    Read-only arrays are copied (a new array type would make numba compile
    the kernel again), except ``coords``, which readers pass read-only.
    """
    if type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous and (
        keep_readonly or a.flags.writeable
    ):
        return a
    kinds = "iuf" if dtype == np.float64 else "iu"
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in kinds:
        shape = f"shape {a.shape}, dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
        raise PolygonError(f"FlatBatch: {what} must be a 1-D numpy array of {np.dtype(dtype).name}, got "
                           f"{brief(shape)}")
    out = np.ascontiguousarray(a, dtype=dtype)
    if not out.flags.writeable and not keep_readonly:
        out = out.copy()
    return out


def _pil_polygons(parts, h, w) -> RLE:
    # lazy: start-up time (PIL is only needed by the pil rule)
    from PIL import Image, ImageDraw

    if h * w == 0:
        return RLE._trusted(np.zeros(1, np.uint32), h, w)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    for p in parts:
        draw.polygon([tuple(pt) for pt in p.tolist()], outline=1, fill=1)
    return encode(np.asarray(img))


def from_bbox(bbox, height: int, width: int) -> RLE:
    """Rasterize an ``[x, y, w, h]`` box as pycocotools' ``frBbox`` does."""
    if isinstance(bbox, (str, bytes, dict)):
        raise PolygonError(f"a bbox must be four numbers [x, y, w, h], got {brief(bbox)}")
    try:
        x, y, bw, bh = (float(v) for v in bbox)
    except (TypeError, ValueError, OverflowError):
        raise PolygonError(f"a bbox must be four numbers [x, y, w, h], got {brief(bbox)}") from None
    xe, ye = x + bw, y + bh
    return from_polygons([[x, y, x, ye, xe, ye, xe, y]], height, width)
