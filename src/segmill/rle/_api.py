"""Public verbs of :mod:`segmill.rle` on masks and RLEs: encode, decode, from_coco,
area, bbox, merge, iou. Polygons are in :mod:`segmill.rle._polygons`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import RLEError
from ..limits import COUNTS_MAX
from ..validate import brief
from . import _codec as C
from . import _iou as I
from . import _kernels as K
from ._batch import RLEBatch
from ._rle import RLE, _dim, _pixel_limit, check_size, flag, short, string_to_counts

_BITSET_BUDGET = 64 << 20  # bytes of bitsets iou may build


# --------------------------------------------------------------------- encode
def encode(mask) -> RLE:
    """Run-length encode one binary mask.

    Parameters
    ----------
    mask : array_like, shape (height, width)
        Any memory order; nonzero means foreground.

    Returns
    -------
    RLE

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((3, 4), bool); m[1:, 2] = True
    >>> encode(m).to_coco(compressed=False)
    {'size': [3, 4], 'counts': [7, 2, 3]}
    """
    arr = mask if type(mask) is np.ndarray else _as_mask(mask)
    if arr.ndim != 2:
        raise RLEError(f"encode expects a 2-D mask, got shape {brief(arr.shape)}")
    if arr.dtype.kind not in _MASK_KINDS:
        raise RLEError(f"encode expects a numeric or bool mask, got dtype {brief(str(arr.dtype))}")
    h, w = check_size(arr.shape[0], arr.shape[1], "mask")
    if arr.dtype != np.uint8:
        arr = arr.view(np.uint8) if arr.dtype == np.bool_ else (arr != 0).view(np.uint8)
    if arr.flags.f_contiguous:
        flat = arr.T.reshape(-1)
        counts = K.encode_fortran(flat, flat[: flat.shape[0] // 8 * 8].view(np.uint64))
    else:
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        words = _NO_WORDS
        if w % 8 == 0 and h * w >= _WORDS_MIN:  # rows start on whole words: view them all at once
            words = arr.reshape(-1).view(np.uint64).reshape(h, w // 8)
        counts = K.encode_c(arr, words)
    if h * w == 0:
        counts = np.zeros(1, np.uint32)
    return RLE._trusted(counts, h, w)


_MASK_KINDS = "biufc"  # bool, integers, floats, complex: nonzero is foreground
_NO_WORDS = np.zeros((0, 0), np.uint64)  # encode_c: view the rows one at a time
_WORDS_MIN = 1 << 16  # pixels from which viewing a C-ordered mask as words pays for its microsecond


def _as_mask(mask) -> np.ndarray:
    try:
        return np.asarray(mask)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise RLEError(f"encode expects a 2-D array, got {brief(mask)}: {short(exc)}") from None


def encode_batch(masks) -> list[RLE]:
    """Encode a sequence of 2-D masks (or a ``(n, height, width)`` array)."""
    return [encode(m) for m in _items(masks, "encode_batch", "masks")]


def _items(values, verb: str, what: str):
    """``values`` as something to iterate over, or an RLEError naming the verb."""
    if isinstance(values, (list, tuple)):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 0:
        raise RLEError(f"{verb} expects a sequence of {what}, got a 0-d array")
    try:
        return iter(values)
    except TypeError:
        raise RLEError(f"{verb} expects a sequence of {what}, got {type(values).__name__}") from None


# --------------------------------------------------------------------- decode
def decode(rle: RLE) -> np.ndarray:
    """Decode one RLE to a ``(height, width)`` bool mask.

    The array is Fortran-ordered (a transposed view of the column-major
    buffer): index it as ``mask[row, col]`` like any other.
    """
    rle = _as_rle(rle)
    flat = np.zeros(rle.height * rle.width, dtype=np.bool_)
    K.decode_into(rle.counts, flat)
    return flat.reshape(rle.width, rle.height).T


def decode_batch(rles: Sequence[RLE]) -> np.ndarray:
    """Decode RLEs of one size to a ``(n, height, width)`` bool array."""
    rles = [_as_rle(r) for r in _items(rles, "decode_batch", "RLEs")]
    if not rles:
        return np.zeros((0, 0, 0), bool)
    h, w = _common_size(rles, "decode_batch")
    out = np.zeros((len(rles), w * h), dtype=np.bool_)
    for i, r in enumerate(rles):
        K.decode_into(r.counts, out[i])
    return out.reshape(len(rles), w, h).transpose(0, 2, 1)


# ----------------------------------------------------------------- from_coco
def from_coco(obj, height: int | None = None, width: int | None = None):
    """Build an RLE from a COCO segmentation dict, or a list of RLEs from a list of them.

    Parameters
    ----------
    obj : dict or list of dict
        ``{"size": [h, w], "counts": ...}`` with counts a compressed ``str``
        or ``bytes``, or an uncompressed list of ints. A list (or tuple) of
        such dicts is decoded in one kernel call over all its strings.
    height, width : int, optional
        When given, every RLE's ``size`` must match (the image it belongs to).

    Returns
    -------
    RLE, or list of RLE for a list

    Raises
    ------
    segmill.errors.RLEError
        Missing keys, malformed counts, wrong sum, or a size mismatch (for a
        list, the message starts with the position of the first bad RLE).
    """
    if isinstance(obj, (list, tuple)):
        return _from_coco_list(obj, height, width)
    return _from_coco_one(obj, height, width)


def _from_coco_one(obj, height, width) -> RLE:
    if not isinstance(obj, dict):
        raise RLEError(f"an RLE must be a dict with 'size' and 'counts', got {type(obj).__name__}")
    if "size" not in obj or "counts" not in obj:
        missing = [k for k in ("size", "counts") if k not in obj]
        raise RLEError(f"RLE is missing {' and '.join(repr(k) for k in missing)}")
    size = obj["size"]
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise RLEError(f"RLE 'size' must be [height, width], got {brief(size)}")
    h, w = check_size(size[0], size[1])
    if height is not None and width is not None and (h, w) != (
        _dim(height, "image", height, width), _dim(width, "image", height, width)
    ):
        raise RLEError(f"RLE size [{h}, {w}] does not match the image size [{brief(height)}, {brief(width)}]")
    counts = obj["counts"]
    if isinstance(counts, (str, bytes)):
        try:
            raw = counts.encode("ascii") if isinstance(counts, str) else counts
        except UnicodeEncodeError:
            raw = None
        if raw is not None:
            arr, status = C.from_string_checked(np.frombuffer(raw, np.uint8), h * w)
            if status == 0:
                return RLE._trusted(arr, h, w)
        counts = string_to_counts(counts)  # words the error
    elif isinstance(counts, bytearray):
        counts = string_to_counts(counts)
    return RLE(counts, h, w)


def _gather(objs):
    """The common case of COCO RLE dicts: ``(fast, strings, totals, shapes)``.

    ``fast`` are the positions of the dicts whose counts is a ``str`` and
    whose size is a list of two ints within the limits; the others (and the
    error of a bad size) are left to the one-by-one path.
    """
    fast, strings, totals, shapes = [], [], [], []
    if not objs:
        return fast, strings, totals, shapes
    limit = min(_pixel_limit(), COUNTS_MAX)
    for i, o in enumerate(objs):
        if type(o) is dict:
            c = o.get("counts")
            size = o.get("size")
            if type(c) is str and type(size) is list and len(size) == 2:
                h, w = size
                if type(h) is not int or type(w) is not int or h < 0 or w < 0 or h * w > limit \
                        or h > limit or w > limit:
                    try:
                        h, w = check_size(h, w)
                    except RLEError as exc:
                        raise RLEError(f"RLE {i}: {exc}") from None
                fast.append(i)
                strings.append(c)
                totals.append(h * w)
                shapes.append((h, w))
    return fast, strings, totals, shapes


def _decode_strings(objs):
    """The common case of a list of COCO RLE dicts (str counts, a size of two ints) in one kernel call.

    Returns ``(fast, counts, bounds, status, shapes)``: ``fast`` the positions
    decoded this way, RLE ``fast[k]`` being ``counts[bounds[k]:bounds[k + 1]]``
    when ``status[k] == 0``; or ``None`` when no item is of that form.
    """
    fast, strings, totals, shapes = _gather(objs)
    decoded = C.decode_strings(strings, totals) if fast else None
    return None if decoded is None else (fast, *decoded, shapes)


def _dict_areas(objs):
    """Areas of a list of COCO RLE dicts straight from their strings (no counts kept), or None.

    None unless every item is of the common form and decodes: the general
    path then handles (and words) the rest.
    """
    fast, strings, totals, _ = _gather(objs)
    if len(fast) != len(objs):
        return None
    got = C.string_areas(strings, totals)
    if got is None or not got[1].all():
        return None
    return got[0]


def _packed_dicts(objs):
    """An :class:`RLEBatch` of a list of COCO RLE dicts when every one takes the one-call path, else None."""
    if not objs or type(objs[0]) is not dict:
        return None
    decoded = _decode_strings(objs)
    if decoded is None:
        return None
    fast, counts, count_off, status, shapes = decoded
    if len(fast) != len(objs) or status.any():
        return None
    hs = np.fromiter((h for h, _ in shapes), np.int64, len(shapes))
    ws = np.fromiter((w for _, w in shapes), np.int64, len(shapes))
    return RLEBatch._trusted(counts, count_off, hs, ws)


def _from_coco_list(objs, height, width) -> list[RLE]:
    # The common case in one kernel call over one byte buffer (_decode_strings); anything else,
    # and any string the kernel refuses, goes through the one-by-one path, which words the error.
    n = len(objs)
    out: list = [None] * n
    decoded = _decode_strings(objs)
    if decoded is not None:
        fast, counts, count_off, status, shapes = decoded
        bounds = count_off.tolist()
        trusted = RLE._trusted
        for k, i in enumerate(fast):
            if status[k] == 0:
                h, w = shapes[k]
                out[i] = trusted(counts[bounds[k]:bounds[k + 1]], h, w)
    for i, o in enumerate(objs):
        if out[i] is None:
            try:
                out[i] = _from_coco_one(o, None, None)
            except RLEError as exc:
                raise RLEError(f"RLE {i}: {exc}") from None
    if height is not None and width is not None:
        shape = (_dim(height, "image", height, width), _dim(width, "image", height, width))
        for i, r in enumerate(out):
            if r.shape != shape:
                raise RLEError(f"RLE {i}: size [{r.height}, {r.width}] does not match the image size "
                               f"[{brief(height)}, {brief(width)}]")
    return out


# ------------------------------------------------------- area / bbox / merge
def _as_rle(r) -> RLE:
    if isinstance(r, RLE):
        return r
    if isinstance(r, dict):
        return from_coco(r)
    raise RLEError(f"expected an RLE (or a COCO RLE dict), got {type(r).__name__}")


def _as_rles(rles, verb: str) -> list[RLE]:
    """A sequence of RLEs (or of COCO RLE dicts) as a list of RLEs; a single one is a list of one."""
    if isinstance(rles, (RLE, dict)):
        return [_as_rle(rles)]
    items = _items(rles, verb, "RLEs")
    if not isinstance(items, (list, tuple)):
        items = list(items)
    if items and all(type(r) is RLE for r in items):
        return items
    if items and all(type(r) is dict for r in items):
        return from_coco(items)
    return [_as_rle(r) for r in items]


def _as_batch(rles, verb: str) -> RLEBatch:
    """A sequence of RLEs (or COCO RLE dicts) packed; a list of dicts is decoded straight into the batch."""
    if type(rles) is list:
        batch = _packed_dicts(rles)
        if batch is not None:
            return batch
    return RLEBatch._pack(_as_rles(rles, verb))


def _common_size(rles, verb):
    shape = rles[0].shape
    for i, r in enumerate(rles):
        if r.shape != shape:
            raise RLEError(f"{verb}: RLE {i} is {r.height}x{r.width}, RLE 0 is {shape[0]}x{shape[1]}")
    return shape


def area(rles):
    """Foreground pixel count of one RLE (int) or of each of a sequence (uint64 array)."""
    if isinstance(rles, (RLE, dict)):
        return _as_rle(rles).area
    if type(rles) is list and rles and type(rles[0]) is dict:
        areas = _dict_areas(rles)
        if areas is not None:
            return areas
    return _as_batch(rles, "area").areas()


def bbox(rles):
    """``[x, y, w, h]`` of one RLE (tuple) or of each of a sequence ((n, 4) float64 array).

    Integer pixel extents as pycocotools' ``toBbox``; an empty mask gives
    ``[0, 0, 0, 0]``.
    """
    if isinstance(rles, (RLE, dict)):
        return _as_rle(rles).bbox
    return _as_batch(rles, "bbox").bboxes()


def merge(rles: Sequence[RLE], intersect: bool = False) -> RLE:
    """Union (or intersection) of RLEs of one size, as pycocotools' ``merge``."""
    intersect = flag(intersect, "merge: intersect")
    rles = _as_rles(rles, "merge")
    if not rles:
        raise RLEError("merge needs at least one RLE")
    h, w = _common_size(rles, "merge")
    if len(rles) == 1:
        return rles[0]
    if h * w == 0:
        return RLE._trusted(np.zeros(1, np.uint32), h, w)
    b = RLEBatch._pack(rles)
    return RLE._trusted(K.merge_batch(b.counts, b.offsets, intersect), h, w)


def iou(dt: Sequence[RLE], gt: Sequence[RLE], iscrowd=None) -> np.ndarray:
    """IoU of every (dt, gt) pair, shape ``(len(dt), len(gt))``.

    As pycocotools' ``iou``: for a crowd ground truth the value is
    ``|d & g| / |d|``. Unlike pycocotools, RLEs of different sizes raise
    :class:`~segmill.errors.RLEError` instead of yielding -1.

    Parameters
    ----------
    dt, gt : sequence of RLE (or a single RLE)
    iscrowd : sequence of bool, optional
        One flag per ground truth (default all False).
    """
    dt = _as_rles(dt, "iou")
    gt = _as_rles(gt, "iou")
    if iscrowd is None:
        crowd = np.zeros(len(gt), np.uint8)
    else:
        crowd = _crowd_flags(iscrowd)
        if crowd.shape[0] != len(gt):
            raise RLEError(f"iscrowd has {crowd.shape[0]} flags for {len(gt)} ground truths")
    if not dt or not gt:
        return np.zeros((len(dt), len(gt)))
    h, w = _common_size(dt + gt, "iou")
    d, g = RLEBatch._pack(dt), RLEBatch._pack(gt)
    # Many short runs (noisy masks): popcount over bitsets beats walking runs;
    # the kernel picks per call, within a memory budget.
    return I.iou_all(d.counts, d.offsets, g.counts, g.offsets, h, w, crowd, _BITSET_BUDGET)


def _crowd_flags(iscrowd) -> np.ndarray:
    """``iscrowd`` as one uint8 flag per ground truth (nonzero is crowd)."""
    try:
        return np.asarray(iscrowd, dtype=bool).astype(np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise RLEError(f"iscrowd must be a sequence of flags, got {brief(iscrowd)}") from None
