"""COCO segmentation values <-> segmill geometry, exactly and cheaply.

Reading keeps what is needed to write the very same JSON back:

* :class:`CocoPolygons` keeps COCO's list of flat coordinate lists (ints stay
  ints) and builds numpy parts only when something asks for them, so a
  dataset of a million polygons costs no more memory than the parsed JSON.
* :class:`CocoRLE` remembers the RLE object as found (compressed string or
  uncompressed list, any key order); :class:`segmill.rle.RLE` itself keeps
  canonical counts, which may differ from the file's.
* :class:`CocoBox` stands for ``"segmentation": []`` (a box-only
  annotation, common in detection exports), so it is written back as ``[]``.
* :class:`PolygonPack` holds every polygon coordinate of one read in one
  float64 array: the reader checks their range there in one go, and
  :class:`PolygonPack` can hand it to the kernel without converting a
  single Python float again.

Writing turns any geometry into a COCO segmentation value and says whether
the representation changed (then area and bbox are recomputed).
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from ..errors import GeometryError, RLEError
from ..geometry import Box, Polygons
from ..limits import COUNTS_MAX, check_pixels, max_pixels
from ..raster import first_error, rasterize
from ..rle import MAX_COORD, RLE, from_coco
from ..rle.kernels import decode_strings
from ..validate import brief

__all__ = ["CocoPolygons", "CocoRLE", "CocoBox", "PolygonPack", "parse_segmentation", "polygon_problem",
           "rasterize_items", "is_valid_coco_source"]


class CocoPolygons(Polygons):
    """Polygons read from COCO: the coordinates as read are the truth, arrays come lazily.

    Each part is kept as the list read from the file (ints stay ints) or, for
    big files read with compaction, as an ``array('d')`` of its coordinates
    when they were all floats (8 bytes a coordinate instead of 32).
    :attr:`source` gives COCO's list of lists either way. The caller has
    validated the parts (see :func:`polygon_problem`).

    A reader may also file the coordinates in a :class:`PolygonPack`
    (``_pack``, at annotation index ``_k``); the pack is a cache of
    :attr:`source` for the kernel, never the truth, and copies
    leave it behind. Rasterization (:mod:`segmill.raster`) takes the parts
    as read (:meth:`_flat_parts`).
    """

    __slots__ = ("_src", "_parts", "_pack", "_k")

    def __init__(self, source):  # noqa: D107 - trusted, validated input
        self._src = source
        self._parts = None
        self._cache = None
        self._pack = None
        self._k = -1

    @property
    def source(self):  # type: ignore[override]
        """COCO's list of flat coordinate lists, as read."""
        s = self._src
        for p in s:
            if type(p) is not list:
                return [q if type(q) is list else q.tolist() for q in s]
        return s

    @property
    def num_parts(self) -> int:
        return len(self._src)

    @property
    def parts(self):  # type: ignore[override]
        p = self._parts
        if p is None:
            arrs = []
            for s in self._src:
                if type(s) is list:
                    a = np.array(s, dtype=np.float64).reshape(-1, 2)
                else:
                    a = np.frombuffer(s, dtype=np.float64).reshape(-1, 2)
                a.flags.writeable = False
                arrs.append(a)
            p = self._parts = tuple(arrs)
        return p

    def _flat_parts(self):
        """The parts as read (lists or ``array('d')``): :mod:`segmill.raster` packs them without arrays."""
        return self._src

    def __reduce__(self):
        # The base slots are shadowed by properties: copy and pickle by the raw parts.
        return (CocoPolygons, (self._src,))

    def __repr__(self):
        return f"CocoPolygons(parts={len(self._src)}, points={[len(s) // 2 for s in self._src]})"


class PolygonPack:
    """The polygon coordinates of many annotations, packed for the kernel.

    ``coords`` holds every coordinate of every part (float64, read-only),
    ``part_len`` the coordinates per part, ``nparts`` the parts per
    annotation, ``heights``/``widths`` the size of the image each annotation
    was read into (lists of the items' values), in the order the reader met
    them. The pack references no model object, so a dropped dataset is freed
    at once (no reference cycle). Only values already checked
    by the reader go in (structure per part; the numeric range of all of
    them at once, see :meth:`bad_annotations`). ``usable`` is false when the
    reader found a bad value in it (the annotations concerned were then
    handled one by one); :meth:`start` then refuses the pack.
    """

    __slots__ = ("coords", "part_len", "nparts", "heights", "widths", "usable", "_starts")

    def __init__(self):
        self.coords = np.zeros(0)
        self.part_len = np.zeros(0, np.int64)
        self.nparts = np.zeros(0, np.int64)
        self.heights: list = []
        self.widths: list = []
        self.usable = False
        self._starts = None

    def fill(self, coords: array, part_len: list, nparts: list, owners: list) -> None:
        """Take the reader's buffers (the ``array('d')`` is shared, not copied) and its items' sizes."""
        c = np.frombuffer(coords, np.float64) if len(coords) else np.zeros(0)
        c.flags.writeable = False
        self.coords = c
        self.part_len = np.array(part_len, np.int64)
        self.nparts = np.array(nparts, np.int64)
        self.heights = [it.height for it in owners]
        self.widths = [it.width for it in owners]
        self.usable = True
        self._starts = None

    def starts(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first part of each annotation, first coordinate of each part)``, computed once."""
        if self._starts is None:
            p_at = np.zeros(self.nparts.shape[0] + 1, np.int64)
            np.cumsum(self.nparts, out=p_at[1:])
            c_at = np.zeros(self.part_len.shape[0] + 1, np.int64)
            np.cumsum(self.part_len, out=c_at[1:])
            self._starts = (p_at, c_at)
        return self._starts

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(heights, widths)`` as arrays; 0 x 0 where unknown or absurd (never used then)."""
        try:
            hs = np.array(self.heights, np.int64)
            ws = np.array(self.widths, np.int64)
        except (TypeError, ValueError, OverflowError):  # an image without a size
            hs = np.array([v if type(v) is int else -1 for v in self.heights], np.int64)
            ws = np.array([v if type(v) is int else -1 for v in self.widths], np.int64)
        bad = (hs < 0) | (ws < 0) | (hs * ws > max_pixels())
        if bad.any():
            hs[bad] = 0
            ws[bad] = 0
        return hs, ws

    def __len__(self) -> int:
        return self.nparts.shape[0]

    def bad_annotations(self) -> np.ndarray:
        """Indices of the annotations holding a coordinate beyond +/-MAX_COORD (or NaN/inf), sorted."""
        c = self.coords
        if not c.size:
            return np.zeros(0, np.int64)
        lo, hi = c.min(), c.max()  # NaN propagates, and fails both tests
        if lo >= -MAX_COORD and hi <= MAX_COORD:
            return np.zeros(0, np.int64)
        bad = np.flatnonzero(~((c >= -MAX_COORD) & (c <= MAX_COORD)))
        part_end = np.cumsum(self.part_len)
        parts = np.searchsorted(part_end, bad, side="right")
        ann_end = np.cumsum(self.nparts)
        return np.unique(np.searchsorted(ann_end, parts, side="right"))

    def __repr__(self):
        return f"PolygonPack({len(self)} annotations, {self.coords.size} coordinates)"


class CocoRLE(RLE):
    """An RLE read from COCO, remembering the object as found for exact write-back."""

    __slots__ = ("raw",)

    @classmethod
    def from_raw(cls, raw: dict, height=None, width=None) -> "CocoRLE":
        base = from_coco(raw, height, width)
        self = object.__new__(cls)
        self._counts, self._h, self._w = base._counts, base._h, base._w
        self.raw = raw
        return self

    @classmethod
    def decoded(cls, raw: dict, counts, height: int, width: int) -> "CocoRLE":
        """The RLE of ``raw`` from counts already decoded and checked (:func:`decode_compressed`)."""
        self = object.__new__(cls)
        self._counts, self._h, self._w, self.raw = counts, height, width, raw
        return self

    @property
    def compressed(self) -> bool:
        return not isinstance(self.raw.get("counts"), list)

    def __reduce__(self):
        return (_coco_rle, (self.raw, self._counts.copy(), self._h, self._w))


def decode_compressed(pending: list) -> dict:
    """Decode many compressed RLEs in one kernel call: ``{id(raw): counts}`` of those that decode.

    ``pending`` holds ``(raw, height, width)`` of RLE objects whose ``counts``
    is a ``str`` and whose ``size`` is ``[height, width]`` (checked by the
    caller). A string that does not decode to exactly ``height * width``
    pixels is left out: the record-by-record path words its error. Counts
    are read-only views of one array.
    """
    decoded = decode_strings([raw["counts"] for raw, _, _ in pending], [h * w for _, h, w in pending]) \
        if pending else None
    if decoded is None:
        return {}
    counts, off, status = decoded
    bounds, ok = off.tolist(), (status == 0).tolist()
    return {id(raw): counts[bounds[k]:bounds[k + 1]] for k, (raw, _, _) in enumerate(pending) if ok[k]}


def _coco_rle(raw, counts, h, w) -> CocoRLE:
    self = object.__new__(CocoRLE)
    counts.flags.writeable = False
    self._counts, self._h, self._w, self.raw = counts, h, w, raw
    return self


class CocoBox(Box):
    """The box of an annotation stored with ``"segmentation": []`` (box only)."""

    __slots__ = ()


def polygon_problem(seg, check_finite: bool = False) -> str | None:
    """Why a COCO polygon list is invalid, or ``None`` when it is fine.

    Checks structure (a non-empty list of flat lists of an even number >= 6
    of coordinates) and values (numbers within +/-2e8). ``check_finite`` is
    needed only when the JSON parser accepted NaN/Infinity.

    Examples
    --------
    >>> polygon_problem([[0, 0, 4, 0, 4, 4]]) is None
    True
    >>> polygon_problem([[0, 0, 4, 0]])
    'polygon part 0 has 2 points; at least 3 are needed'
    """
    for part in seg:
        if (type(part) is not list and type(part) is not array) or len(part) < 6 or len(part) & 1:
            return _part_problem(seg)
        try:
            lo = min(part)
            hi = max(part)
        except TypeError:
            return _part_problem(seg)
        tl, th = type(lo), type(hi)
        if (tl is not float and tl is not int) or (th is not float and th is not int):
            return _part_problem(seg)
        if lo < -MAX_COORD or hi > MAX_COORD or (check_finite and not _all_finite(part)):
            return _part_problem(seg, check_finite)
    return None


def _part_problem(seg, check_finite: bool = True) -> str | None:
    """The precise complaint about the first bad part (slow path)."""
    for i, part in enumerate(seg):
        if type(part) is not list and type(part) is not array:
            return f"polygon part {i} is not a list of coordinates"
        n = len(part)
        if n % 2:
            return f"polygon part {i} has an odd number of coordinates ({n})"
        if n < 6:
            return f"polygon part {i} has {n // 2} points; at least 3 are needed"
        if not all(type(v) is int or type(v) is float for v in part):
            return f"polygon part {i} has a value that is not a number"
        if not all(type(v) is int or math.isfinite(v) for v in part):  # ints are finite (and may be huge)
            return f"polygon part {i} has a NaN or infinite coordinate"
        if min(part) < -MAX_COORD or max(part) > MAX_COORD:
            return f"polygon part {i} has a coordinate beyond +/-{MAX_COORD:g}"
    return None  # pragma: no cover - only called when something is wrong


def _all_finite(part) -> bool:
    """No NaN or infinity among the coordinates (ints are finite however big; ``math.fsum`` may overflow)."""
    return all(type(v) is int or v - v == 0 for v in part)


def parse_segmentation(seg, bbox, height, width, check_finite: bool = False):
    """A COCO ``segmentation`` value as geometry; raises GeometryError when malformed.

    An RLE's ``size`` is checked (integers, the pixel limit of
    :mod:`segmill.limits`) before its counts are decoded; ``"segmentation": []``
    with a bbox becomes a :class:`CocoBox` only when the bbox is four finite numbers.
    """
    if type(seg) is list:
        if not seg:
            if bbox is None:
                return None
            return _coco_box(bbox)
        why = polygon_problem(seg, check_finite)
        if why:
            raise GeometryError(why)
        return CocoPolygons(seg)
    if type(seg) is dict:
        check_rle_size(seg, height, width)
        if height is None or width is None:
            return CocoRLE.from_raw(seg)
        return CocoRLE.from_raw(seg, height, width)
    raise GeometryError(f"segmentation must be a list of polygons or an RLE object, got {type(seg).__name__}")


def check_rle_size(seg: dict, height=None, width=None) -> None:
    """Refuse an RLE whose ``size`` is not two non-negative integers within the pixel limit.

    Runs before :func:`segmill.rle.from_coco` decodes anything. Integral
    floats (``6.0``) pass, as ``from_coco`` reads them; a size equal to the
    image's was checked with the image. A missing key is left to
    ``from_coco``, which names it.
    """
    size = seg.get("size")
    if size is None or "counts" not in seg:
        return
    if type(size) is not list or len(size) != 2:
        raise RLEError(f"RLE 'size' must be [height, width], got {brief(size)}")
    dims = []
    for v in size:
        if type(v) is float and math.isfinite(v) and v == int(v):
            v = int(v)
        if type(v) is not int or v < 0:
            raise RLEError(f"RLE 'size' must be two non-negative integers [height, width], got {brief(size)}")
        dims.append(v)
    h, w = dims
    if h == height and w == width:
        return
    if h * w > COUNTS_MAX:
        raise RLEError(f"RLE size [{h}, {w}] has more than 2**32 - 1 pixels")
    check_pixels(h, w, error=RLEError, what="RLE")


def _coco_box(bbox) -> CocoBox:
    """The box of a ``"segmentation": []`` annotation; GeometryError unless it is four finite numbers."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise GeometryError(f"bbox must be [x, y, w, h], got {brief(bbox)}")
    if not all(type(v) is int or type(v) is float for v in bbox):
        raise GeometryError(f"bbox must be four finite numbers [x, y, w, h], got {brief(bbox)}")
    try:
        return CocoBox(*bbox)
    except OverflowError:  # an integer beyond the float range
        raise GeometryError(f"bbox must be four finite numbers [x, y, w, h], got {brief(bbox)}") from None


# ----------------------------------------------------------------- rasterize
def rasterize_items(items, rule: str = "coco") -> list[list[RLE]]:
    """RLE of every annotation of every item: one :func:`segmill.raster.rasterize` call for them all.

    Kept for its callers (tests, benchmarks); new code calls the service.

    Parameters
    ----------
    items : sequence of Item
        Every item with annotations needs ``height`` and ``width``.
    rule : {"coco", "pil"}

    Returns
    -------
    list of list of RLE
        Parallel to ``items`` and their annotations.

    Raises
    ------
    segmill.errors.GeometryError
        The first annotation (in item order) that cannot be rasterized, or
        an item with annotations but no size.
    """
    geoms: list = []
    sizes: list = []
    for it in items:
        anns = it.annotations
        if anns and (it.height is None or it.width is None):
            raise GeometryError(f"image {brief(it.id)} has no size; cannot rasterize")
        hw = (it.height, it.width)
        for ann in anns:
            geoms.append(ann.geometry)
            sizes.append(hw)
    flat = rasterize(geoms, sizes, rule, cache=False)
    err = first_error(flat)
    if err is not None:
        raise err
    out = []
    k = 0
    for it in items:
        n = len(it.annotations)
        out.append(flat[k:k + n])
        k += n
    return out


# ------------------------------------------------------------------- writing
def is_valid_coco_source(p: Polygons) -> bool:
    """``p.source`` is a COCO list of flat lists matching ``p.parts``."""
    src = p.source
    if type(p) is CocoPolygons:
        return True
    if not isinstance(src, list) or len(src) != len(p.parts):
        return False
    return all(isinstance(s, list) and len(s) == 2 * len(a) for s, a in zip(src, p.parts))
