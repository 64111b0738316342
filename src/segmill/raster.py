"""The one rasterization service: geometries -> RLEs, batched, cached per geometry.

Everything that needs pixels of geometries (``Polygons.to_rle``, the COCO
writer, ``segmill check``, ``agree``, ``compose``) comes here:

* :func:`rasterize` gives one :class:`~segmill.rle.RLE` or one error per
  geometry, never raising for a bad geometry;
* :func:`rasterize_packed` gives the same as one :class:`~segmill.rle.RLEBatch`
  and a dict of errors, without a Python object per mask (a million
  polygons cost one kernel call and a few arrays).

Polygons and boxes under the COCO rule go to the polygon kernel in one call
for the whole request (split over two threads when big, see
:class:`~segmill.rle.FlatBatch`); the kernel checks every value again, and a
refused annotation is isolated by splitting the batch, then worded by the
careful path of :func:`segmill.rle.from_polygons` (docs/internals.md, "The
pixel rule"). The ``pil`` rule and masks go one by one.

The cache: a :class:`~segmill.geometry.Polygons`, :class:`~segmill.geometry.Box`
or :class:`~segmill.geometry.Mask` keeps the RLEs made of it per
``(height, width, rule)``; only this module reads and writes it
(:func:`forget` empties it).

This module does not import :mod:`segmill.geometry` (which imports it): the
geometry classes declare a ``raster_kind`` (``"polygons"``, ``"box"``,
``"mask"``), and this module dispatches on it.
"""

from __future__ import annotations

from array import array
from typing import Union

import numpy as np

from ._arrays import ranges as _ranges
from .errors import GeometryError, SegmillError, UsageError
from .rle import RLE, RULES, RLEBatch, from_polygons
from .rle.kernels import check_rule, check_size, flat_runs
from .validate import brief

__all__ = ["rasterize", "rasterize_packed", "forget", "uncached", "first_error"]

Result = Union[RLE, SegmillError]
_CACHED = frozenset(("polygons", "box", "mask"))  # the raster_kind of the geometries that keep RLEs


def _kind(g) -> str:
    """The ``raster_kind`` a geometry class declares, or ``""``."""
    return getattr(type(g), "raster_kind", "")


def rasterize(geometries, sizes, rule: str = "coco", *, cache: bool = True) -> list[Result]:
    """Pixels of each geometry, or why it has none.

    Parameters
    ----------
    geometries : sequence
        :class:`~segmill.geometry.Polygons`, :class:`~segmill.geometry.Box`,
        :class:`~segmill.geometry.Mask` or :class:`~segmill.rle.RLE` (taken
        as it is when its size is the image's); anything else (a
        :class:`~segmill.geometry.Shape`, invalid geometry, ``None``) gets
        an error.
    sizes : (int, int) or sequence of (int, int)
        ``(height, width)`` of the image, one for all or one per geometry.
    rule : {"coco", "pil"}
        Polygon rule (docs/internals.md, "The pixel rule").
    cache : bool, default True
        Keep each RLE on its geometry (and use the ones kept).

    Returns
    -------
    list
        Per geometry an :class:`~segmill.rle.RLE`, or the
        :class:`~segmill.errors.SegmillError` (``GeometryError``,
        ``PolygonError``, ``RLEError``) that it raised.

    Raises
    ------
    segmill.errors.UsageError
        An unknown rule, or a number of sizes that is not one per geometry.

    Examples
    --------
    >>> from segmill.geometry import Polygons, Shape
    >>> [type(r).__name__ for r in rasterize([Polygons([[0, 0, 4, 0, 4, 4]]), Shape("point", [1, 1])], (5, 5))]
    ['RLE', 'GeometryError']
    """
    return _results(geometries, sizes, rule, cache)[0]


def _results(geometries, sizes, rule, cache: bool):
    """:func:`rasterize`'s list, and the plan that made it."""
    geoms, plan = _plan(geometries, sizes, rule)
    out = plan.found
    if plan.pending:
        for idx, counts, off in plan.run():
            hs, ws = plan.sizes_of(idx)
            views = RLEBatch._trusted(counts, off, hs, ws).rles()
            for i, r in zip(idx, views):
                if out[i] is None:
                    out[i] = r
    if cache:
        for i, g in enumerate(geoms):
            r = out[i]
            if isinstance(r, RLE) and r is not g and _kind(g) in _CACHED:
                _store(g, plan.key(i), r)
    return out, plan


def rasterize_packed(geometries, sizes, rule: str = "coco", *,
                     cache: bool = False) -> tuple[RLEBatch, dict[int, SegmillError]]:
    """:func:`rasterize`, packed: ``(batch, errors)``.

    ``batch`` holds one entry per geometry (sizes as requested); the entries
    whose index is a key of ``errors`` hold no runs at all and must not be
    used. With ``cache`` (off by default here: a caller asking for packed
    output usually has too many masks to keep), new RLEs are kept on their
    geometries as :func:`rasterize` does; kept ones are always used.
    """
    if cache:
        results, plan = _results(geometries, sizes, rule, True)
        return _pack_results(results, *plan.sizes_of(range(len(results))))
    geoms, plan = _plan(geometries, sizes, rule)
    n = len(geoms)
    found = plan.found
    jobs = plan.run() if plan.pending else []
    hs, ws = plan.sizes_of(range(n))
    if len(jobs) == 1 and len(jobs[0][0]) == n:  # every geometry went to the kernel, in order
        errors = {i: found[i] for i in range(n) if found[i] is not None}
        return RLEBatch._trusted(jobs[0][1], jobs[0][2], hs, ws), errors
    lens = np.zeros(n, np.int64)
    for idx, _, off in jobs:
        lens[np.asarray(idx, np.int64)] = np.diff(off)
    errors = {}
    others = []
    for i, r in enumerate(found):
        if isinstance(r, RLE):
            lens[i] = r.counts.shape[0]
            others.append(i)
        elif r is not None:
            errors[i] = r
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), np.uint32)
    for idx, counts, off in jobs:
        at = np.asarray(idx, np.int64)
        out[np.repeat(offsets[at] - off[:-1], np.diff(off)) + np.arange(counts.shape[0])] = counts
    for i in others:
        out[offsets[i]:offsets[i + 1]] = found[i].counts
    return RLEBatch._trusted(out, offsets, hs, ws), errors


def forget(geometries) -> None:
    """Drop the RLEs kept on ``geometries`` (a comparison that moves on frees the image it is done with)."""
    for g in geometries:
        if _kind(g) in _CACHED:
            g._cache = None


def uncached(geometries) -> list:
    """The cacheable geometries among ``geometries`` that keep no RLE yet (to :func:`forget` them later)."""
    return [g for g in geometries if _kind(g) in _CACHED and g._cache is None]


def first_error(results) -> SegmillError | None:
    """The first error among :func:`rasterize` results, or None."""
    for r in results:
        if isinstance(r, SegmillError):
            return r
    return None


def _store(g, key, r: RLE) -> None:
    c = g._cache
    if c is None:
        c = g._cache = {}
    c.setdefault(key, r)


def _pack_results(results: list, hs: np.ndarray, ws: np.ndarray) -> tuple[RLEBatch, dict]:
    errors = {i: r for i, r in enumerate(results) if not isinstance(r, RLE)}
    ok = [r if isinstance(r, RLE) else None for r in results]
    n = len(results)
    lens = np.fromiter((0 if r is None else r.counts.shape[0] for r in ok), np.int64, n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    parts = [r.counts for r in ok if r is not None]
    counts = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
    return RLEBatch._trusted(counts.astype(np.uint32, copy=False), offsets, hs, ws), errors


# ---------------------------------------------------------------- planning
def _plan(geometries, sizes, rule):
    if type(rule) is not str or rule not in RULES:
        check_rule(rule)  # words the UsageError
    geoms = geometries if type(geometries) is list else _listed(geometries)
    plan = _Plan(geoms, sizes, rule)
    plan.walk()
    return geoms, plan


def _listed(values) -> list:
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise UsageError(f"rasterize expects a sequence of geometries, got {type(values).__name__}")
    return list(values)


def _is_pair(sizes) -> bool:
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 2:
        return False
    return all(not isinstance(v, (tuple, list, np.ndarray)) for v in sizes)


class _Plan:
    """What one request needs: results found at once, and polygons packed for the kernel."""

    def __init__(self, geoms: list, sizes, rule: str):
        self.geoms = geoms
        self.rule = rule
        n = len(geoms)
        self.found: list = [None] * n
        self.poly: list = []
        self._checked: dict = {}
        if _is_pair(sizes):
            self.one = self._check(sizes[0], sizes[1])
            self.per = None
        else:
            per = list(sizes) if not isinstance(sizes, list) else sizes
            if len(per) != n:
                raise UsageError(f"rasterize: {n} geometries but {len(per)} sizes")
            self.one = None
            self.per = self._check_all(per)
        self.packed: dict = {}  # id(pack) -> (pack, request indices, indices in the pack)
        self._coords: list = []  # float64 chunks
        self._part_len: list = []
        self._nparts: list = []

    def _check_all(self, per: list) -> list:
        """Each size checked (a tuple of two ints is looked up as it is: a dataset has few sizes)."""
        seen: dict = {}
        out = []
        for s in per:
            got = seen.get(s) if type(s) is tuple and len(s) == 2 and type(s[0]) is int and type(s[1]) is int \
                else None
            if got is None:
                got = self._check(*_pair(s))
                if type(s) is tuple and len(s) == 2 and type(s[0]) is int and type(s[1]) is int:
                    seen[s] = got
            out.append(got)
        return out

    def _check(self, h, w):
        key = (type(h), h, type(w), w) if _hashable(h, w) else None
        got = self._checked.get(key) if key is not None else None
        if got is None:
            try:
                got = check_size(h, w, "polygon image")
            except SegmillError as exc:
                got = exc
            if key is not None:
                self._checked[key] = got
        return got

    def size(self, i: int):
        return self.one if self.per is None else self.per[i]

    def key(self, i: int) -> tuple:
        s = self.size(i)
        return (s[0], s[1], self.rule)

    def sizes_of(self, idx) -> tuple[np.ndarray, np.ndarray]:
        idx = list(idx)
        if self.per is None:
            h, w = self.one if isinstance(self.one, tuple) else (0, 0)
            return np.full(len(idx), h, np.int64), np.full(len(idx), w, np.int64)
        pairs = [s if isinstance(s, tuple) else (0, 0) for s in (self.per[i] for i in idx)]
        return (np.fromiter((p[0] for p in pairs), np.int64, len(pairs)),
                np.fromiter((p[1] for p in pairs), np.int64, len(pairs)))

    def walk(self) -> None:
        """Fill :attr:`found` where the answer needs no kernel; pack the COCO-rule polygons."""
        coco = self.rule == "coco"
        found, poly = self.found, self.poly
        one = self.one
        if one is not None and not isinstance(one, tuple):  # the one size is bad: nothing to do
            self.found[:] = [one] * len(self.geoms)
            return
        key = None if one is None else (one[0], one[1], self.rule)
        lens, chunks, nparts = self._part_len.append, self._coords.extend, self._nparts.append
        ndarray = np.ndarray
        packed = self.packed
        last = at = ks = None  # the pack met last, and where its polygons go
        for i, g in enumerate(self.geoms):
            if one is None:
                s = self.per[i]
                if not isinstance(s, tuple):
                    found[i] = s
                    continue
                key = (s[0], s[1], self.rule)
            c = getattr(g, "_cache", None)
            if c is not None:
                r = c.get(key)
                if r is not None:
                    found[i] = r
                    continue
            kind = getattr(type(g), "raster_kind", "")
            if kind == "polygons":
                if not coco:
                    found[i] = _careful(g, key)
                    continue
                pk = getattr(g, "_pack", None)
                if pk is not None and pk.usable:
                    if pk is not last:  # usually one pack for the whole request
                        job = packed.get(id(pk))
                        if job is None:
                            job = packed[id(pk)] = (pk, [], [])
                        last, at, ks = pk, job[1].append, job[2].append
                    at(i)
                    ks(g._k)
                else:
                    parts = g._flat_parts()
                    for p in parts:
                        lens(p.size if type(p) is ndarray else len(p))
                    chunks(parts)
                    nparts(len(parts))
                    poly.append(i)
            elif kind == "box":
                if coco:
                    chunks((_box_ring(g),))
                    lens(8)
                    nparts(1)
                    poly.append(i)
                else:
                    found[i] = _careful(g, key)
            else:
                found[i] = _other(g, key)

    @property
    def pending(self) -> bool:
        """Polygons wait for the kernel."""
        return bool(self.poly or self.packed)

    def run(self) -> list:
        """Kernel output: ``[(request indices, counts, offsets), ...]``; refused polygons get their error in found."""
        jobs = []
        if self.poly:
            coords = _flatten(self._coords)
            self._coords = []
            jobs.append((self.poly, coords, np.array(self._part_len, np.int64), np.array(self._nparts, np.int64)))
        for pk, idx, ks in self.packed.values():
            jobs.append((idx, *_from_pack(pk, ks)))
        out = []
        for idx, coords, part_len, nparts in jobs:
            if self.per is None:
                hs = np.array([self.one[0]], np.int64)
                ws = np.array([self.one[1]], np.int64)
            else:
                hs, ws = self.sizes_of(idx)
            if coords is None:  # not numbers after all: every polygon by the careful path
                refused = list(range(len(idx)))
                counts, off = np.zeros(0, np.uint32), np.zeros(len(idx) + 1, np.int64)
            else:
                counts, off, refused = flat_runs(coords, part_len, nparts, hs, ws)
            for k in refused:
                i = idx[k]
                self.found[i] = _careful(self.geoms[i], self.key(i))
            out.append((idx, counts, off))
        return out


def _from_pack(pk, ks: list):
    """``(coords, part_len, nparts)`` of the annotations ``ks`` of a reader's polygon pack.

    A pack (:class:`segmill.formats._coco_geom.PolygonPack`) holds the
    coordinates of many polygons as read, in one float64 array: taken as it
    is when every annotation is asked for in order, gathered otherwise.
    """
    n = len(pk)
    if len(ks) == n and ks[0] == 0 and ks[-1] == n - 1 and np.array_equal(ks, np.arange(n)):
        return pk.coords, pk.part_len, pk.nparts
    p_at, c_at = pk.starts()
    k = np.asarray(ks, np.int64)
    parts = _ranges(p_at[k], pk.nparts[k])
    coords = pk.coords[_ranges(c_at[parts], pk.part_len[parts])]
    return coords, pk.part_len[parts], pk.nparts[k]


def _hashable(h, w) -> bool:
    try:
        hash((h, w))
    except TypeError:
        return False
    return True


def _pair(s):
    try:
        h, w = s
    except (TypeError, ValueError):
        raise UsageError(f"rasterize: a size must be (height, width), got {brief(s)}") from None
    return h, w


def _box_ring(b) -> list:
    """The ring of :meth:`Box.to_polygons`, flat (pycocotools' ``frBbox``)."""
    x0, y0, x1, y1 = b.x, b.y, b.x + b.w, b.y + b.h
    return [x0, y0, x0, y1, x1, y1, x1, y0]


def _flatten(chunks: list):
    """Every coordinate of ``chunks`` (flat lists, ``array('d')``, arrays of any shape) as one float64 array, or None."""
    out = []
    run: list = []
    kind = None  # of the run being gathered: "l" list, "a" array('d'), "n" numpy array
    try:
        for c in chunks:
            t = type(c)
            k = "l" if t is list else "n" if t is np.ndarray else "a" if t is array and c.typecode == "d" else None
            if k != kind and run:
                out.append(_run_array(run, kind))
                run = []
            kind = k
            if k == "l":
                run.extend(c)
            elif k is not None:
                run.append(c)
            else:
                out.append(np.asarray(c, np.float64).reshape(-1))
        if run:
            out.append(_run_array(run, kind))
        if not out:
            return np.zeros(0)
        arr = out[0] if len(out) == 1 else np.concatenate(out)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return None
    if arr.dtype != np.float64 or arr.ndim != 1:
        return None
    return arr


def _run_array(run: list, kind) -> np.ndarray:
    if kind == "a":
        return np.frombuffer(b"".join(run), np.float64)
    if kind == "n":
        return np.concatenate(run, axis=None, dtype=np.float64)
    return np.array(run, np.float64)


def _careful(g, key) -> Result:
    """One polygon or box by the careful path (validation words the error)."""
    h, w, rule = key
    try:
        if _kind(g) == "box":
            return from_polygons([_box_ring(g)], h, w, rule)
        try:
            parts = list(g.parts)
        except (TypeError, ValueError, OverflowError):
            return GeometryError("polygon has a part that is not a list of numbers")
        return from_polygons(parts, h, w, rule)
    except SegmillError as exc:
        return exc


def _other(g, key) -> Result:
    """Masks, RLEs, and what has no pixels."""
    h, w, _ = key
    if isinstance(g, RLE):
        if g.shape != (h, w):
            return GeometryError(f"RLE is {g.height}x{g.width}, image is {h}x{w}")
        return g
    if g is None:
        return GeometryError("annotation has no geometry")
    try:
        if _kind(g) == "mask":
            return g._encode(h, w)
        to_rle = getattr(g, "to_rle", None)
        if to_rle is None:
            return GeometryError(f"a {type(g).__name__} cannot be rasterized")
        got = to_rle(h, w, key[2])  # Shape and InvalidGeometry raise; anything else answers for itself
        return got if isinstance(got, RLE) else GeometryError(f"a {type(g).__name__} gave no RLE")
    except SegmillError as exc:
        return exc
