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
  :func:`rasterize_items` hands it to the kernel without converting a single
  Python float again.

Writing turns any geometry into a COCO segmentation value and says whether
the representation changed (then area and bbox are recomputed).
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import numpy as np

from ..errors import GeometryError, RLEError
from ..geometry import Box, Polygons
from ..limits import COUNTS_MAX, check_pixels, max_pixels
from ..rle import MAX_COORD, RLE, FlatBatch, from_coco, from_polygons_batch
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
    :attr:`source` for :func:`rasterize_items`, never the truth, and copies
    leave it behind.
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
    handled one by one); :func:`rasterize_items` then ignores the pack.
    """

    __slots__ = ("coords", "part_len", "nparts", "heights", "widths", "usable")

    def __init__(self):
        self.coords = np.zeros(0)
        self.part_len = np.zeros(0, np.int64)
        self.nparts = np.zeros(0, np.int64)
        self.heights: list = []
        self.widths: list = []
        self.usable = False

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

    def rasterize(self, heights: np.ndarray, widths: np.ndarray):
        """Kernel output ``(counts, offsets)`` for every annotation, or None (then rasterize one by one)."""
        return self.start(heights, widths).finish()

    def start(self, heights: np.ndarray, widths: np.ndarray, worker_share: float = 0.5):
        """Start rasterizing; the job's ``finish`` completes it and returns what :meth:`rasterize` does.

        Big packs run in two parts side by side (the kernel releases the
        GIL): ``worker_share`` of the coordinates on :mod:`segmill.rle`'s
        worker thread, started now, the rest on this thread in ``finish``,
        so the caller may do Python work in between.
        """
        if not self.usable:
            return _Unusable()
        return FlatBatch(self.coords, self.part_len, self.nparts, heights, widths, worker_share)

    def __repr__(self):
        return f"PolygonPack({len(self)} annotations, {self.coords.size} coordinates)"


class _Unusable:
    """The job of a pack that cannot go to the kernel: every answer is None."""

    def finish(self):
        return None

    def finish_parts(self):
        return None


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

    @property
    def compressed(self) -> bool:
        return not isinstance(self.raw.get("counts"), list)

    def __reduce__(self):
        return (_coco_rle, (self.raw, self._counts.copy(), self._h, self._w))


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
    """RLE of every annotation of every item, polygons batched across images.

    Parameters
    ----------
    items : sequence of Item
        Every item with annotations needs ``height`` and ``width``.
    rule : {"coco", "pil"}

    Returns
    -------
    list of list of RLE
        Parallel to ``items`` and their annotations.

    Notes
    -----
    COCO polygons filed in a reader's :class:`PolygonPack` and still in an
    image of the size they were read with are rasterized in one kernel call
    per pack, straight from its float64 array (when
    fewer than a quarter of a pack's annotations are asked for, they take
    the list path instead). Other COCO polygons go to
    :func:`segmill.rle.from_polygons_batch` as the lists they were read as,
    one call per distinct image size; every other geometry goes through
    :func:`segmill.geometry.to_rle`.
    """
    from ..geometry import to_rle
    from ..rle._rle import check_size
    from ._coco_json import no_gc

    out: list[list[Any]] = [[None] * len(it.annotations) for it in items]
    groups: dict[tuple[int, int], tuple[list, list]] = {}
    total = sum(len(row) for row in out)
    coco = rule == "coco"
    # The pack of the first packed polygon (usually the only one): the worker thread starts
    # on its kernel now, while this thread walks the items (pass A); pass B makes its RLEs.
    main = _first_pack(items) if coco else None
    job = None
    if main is not None and 4 * total >= len(main):
        job = main.start(*main.sizes(), worker_share=0.55)
        m_hs, m_ws = main.heights, main.widths
    done: dict[int, tuple] = {}
    todo_r: list = []  # RLEs still without counts, for pass B ...
    todo_k: list = []  # ... and their index in the main pack
    add_r, add_k = todo_r.append, todo_k.append
    sizes: dict = {}
    new = object.__new__
    cur: Any = groups  # another pack met last (a sentinel at first) ...
    res: Any = None  # ... and its kernel output: (pack, counts, offsets, heights, widths) or None
    counts = off = hs = ws = None
    with no_gc():
        for i, it in enumerate(items):
            anns = it.annotations
            if not anns:
                continue
            h, w = it.height, it.width
            sized = h is not None and w is not None
            row = out[i]
            if sized:
                hw = sizes.get((h, w))
                if hw is None:
                    hw = sizes[(h, w)] = check_size(h, w, "polygon image")
                h, w = hw
            for j, ann in enumerate(anns):
                g = ann.geometry
                if type(g) is CocoPolygons and coco and sized:
                    pk = g._pack
                    k = g._k
                    if pk is main and job is not None:
                        if m_hs[k] == h and m_ws[k] == w:
                            # Everything but the counts now, while the kernel runs.
                            r = new(RLE)
                            r._h = h
                            r._w = w
                            row[j] = r
                            add_r(r)
                            add_k(k)
                            continue
                    elif pk is not None:
                        if pk is not cur:
                            cur = pk
                            res = _pack_result(pk, done, total)
                            if res is not None:
                                _, counts, off, hs, ws = res
                        if res is not None and hs[k] == h and ws[k] == w:
                            r = new(RLE)
                            r._counts = counts[off[k]:off[k + 1]]
                            r._h = h
                            r._w = w
                            row[j] = r
                            continue
                    grp = groups.get((h, w))
                    if grp is None:
                        grp = groups[(h, w)] = ([], [])
                    grp[0].append((i, j))
                    grp[1].append(g.source)
                else:
                    if not sized:
                        raise GeometryError(f"image {brief(it.id)} has no size; cannot rasterize")
                    row[j] = to_rle(g, h, w, rule)
        if job is not None:
            kparts = job.finish_parts()
            if kparts is None:  # the kernel refused the pack (never expected): the general path
                _refill(items, out, set(map(id, todo_r)), rule)
            else:
                views: list = []  # counts of every annotation of the pack, in pack order
                for c, o, _ in kparts:
                    o = o.tolist()
                    views += [c[a:b] for a, b in zip(o, o[1:])]
                for r, k in zip(todo_r, todo_k):
                    r._counts = views[k]
        for (h, w), (where, srcs) in groups.items():
            for (i, j), r in zip(where, from_polygons_batch(srcs, h, w)):
                out[i][j] = r
    return out


def _refill(items, out, unfinished: set, rule: str) -> None:
    """Replace the RLEs in ``out`` whose ids are in ``unfinished`` by the general path's."""
    from ..geometry import to_rle

    for it, row in zip(items, out):
        for j, r in enumerate(row):
            if id(r) in unfinished:
                row[j] = to_rle(it.annotations[j].geometry, r._h, r._w, rule)


def _first_pack(items):
    """The usable pack of the first packed polygon of ``items``, or None."""
    for it in items:
        for ann in it.annotations:
            g = ann.geometry
            if type(g) is CocoPolygons:
                pk = g._pack
                if pk is not None and pk.usable:
                    return pk
    return None


def _pack_result(pk: PolygonPack, done: dict, total: int):
    """Kernel output for a pack met besides the first one, computed once: (pack, counts, offsets, hs, ws)."""
    if not pk.usable or 4 * total < len(pk):
        return None
    key = id(pk)
    if key not in done:
        kout = pk.rasterize(*pk.sizes())
        if kout is None:
            done[key] = None
        else:
            kout[0].flags.writeable = False
            done[key] = (pk, kout[0], kout[1].tolist(), pk.heights, pk.widths)
    return done[key]


# ------------------------------------------------------------------- writing
def is_valid_coco_source(p: Polygons) -> bool:
    """``p.source`` is a COCO list of flat lists matching ``p.parts``."""
    src = p.source
    if type(p) is CocoPolygons:
        return True
    if not isinstance(src, list) or len(src) != len(p.parts):
        return False
    return all(isinstance(s, list) and len(s) == 2 * len(a) for s, a in zip(src, p.parts))
