"""Per-dataset tables the rules share: annotations, polygons and their numbers, packed.

Rules on a million annotations must not walk a million Python objects each:
:class:`AnnotationTable` walks them once and keeps what the rules ask about
(geometry kind, crowd and void flags, image sizes) as numpy arrays, one row
per annotation in dataset order (items in order, each item's annotations in
order, as :meth:`segmill.model.Dataset.annotations` yields them).
:class:`PolygonTable` flattens every polygon's coordinates for vectorized
areas, extents and the self-intersection pre-test.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter, is_

import numpy as np

from .._arrays import ranges as _ranges
from ..geometry import Box, InvalidGeometry, Mask, Polygons
from ..rle import RLE

__all__ = ["AnnotationTable", "PolygonTable", "polygon_table_of", "KIND_NONE", "KIND_POLY", "KIND_RLE",
           "KIND_MASK", "KIND_BOX", "KIND_OTHER", "KIND_INVALID"]

KIND_NONE, KIND_POLY, KIND_RLE, KIND_MASK, KIND_BOX, KIND_OTHER, KIND_INVALID = range(7)

#: Geometry type -> kind code (filled on first sight of a type; subclasses included).
_KINDS: dict = {type(None): KIND_NONE}


def _kind_of_type(t) -> int:
    k = _KINDS.get(t)
    if k is None:
        # The order of the isinstance tests the rules have always used.
        for base, code in ((Polygons, KIND_POLY), (RLE, KIND_RLE), (Mask, KIND_MASK), (Box, KIND_BOX),
                           (InvalidGeometry, KIND_INVALID)):
            if issubclass(t, base):
                k = code
                break
        else:
            k = KIND_OTHER
        _KINDS[t] = k
    return k


class AnnotationTable:
    """Every annotation of some items, one row each, with per-row facts as arrays.

    Parameters
    ----------
    items : list of Item
        Usually ``dataset.items``; an item listed twice has rows twice.

    Attributes
    ----------
    items, anns, geoms : list
        The items, and every annotation and its geometry in row order.
    start : numpy.ndarray
        ``items[p]`` holds rows ``start[p] .. start[p + 1]``.
    kind : numpy.ndarray of int8
        ``KIND_*`` code of each row's geometry.
    """

    def __init__(self, items):
        self.items = list(items)
        anns: list = []
        ext = anns.extend
        for it in self.items:
            ext(it.annotations)
        self.anns = anns
        lens = np.fromiter((len(it.annotations) for it in self.items), np.int64, len(self.items))
        self.start = np.zeros(len(self.items) + 1, np.int64)
        np.cumsum(lens, out=self.start[1:])
        self.geoms = list(map(attrgetter("geometry"), anns))
        types = list(map(type, self.geoms))
        for t in set(types):
            _kind_of_type(t)
        self.kind = np.fromiter(map(_KINDS.__getitem__, types), np.int8, len(types))
        self._item_of = self._sizes = self._first = self._crowd = self._void = None

    def __len__(self) -> int:
        return len(self.anns)

    @property
    def item_of(self) -> np.ndarray:
        """Item position of each row."""
        if self._item_of is None:
            self._item_of = np.repeat(np.arange(len(self.items)), np.diff(self.start))
        return self._item_of

    def item(self, row: int):
        """The item holding ``row``."""
        return self.items[int(self.item_of[row])]

    def rows(self, kind: int) -> np.ndarray:
        """Rows of one geometry kind, in order."""
        return np.flatnonzero(self.kind == kind)

    @property
    def sizes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per item: ``(sized, height, width)``; sized as :meth:`Context.size` says (both known and
        positive); the sizes as float64 (0 where unsized), for comparisons with coordinates."""
        if self._sizes is None:
            n = len(self.items)
            sized = np.zeros(n, bool)
            hs = np.zeros(n)
            ws = np.zeros(n)
            raw: list = [None] * n
            for p, it in enumerate(self.items):
                s = it.size
                if s is not None and s[0] > 0 and s[1] > 0:
                    sized[p] = True
                    hs[p] = s[0]
                    ws[p] = s[1]
                    raw[p] = s
            self._sizes = (sized, hs, ws)
            self._raw_sizes = raw
        return self._sizes

    @property
    def raw_sizes(self) -> list:
        """Per item: ``(height, width)`` as the item gives them, or None where unsized."""
        self.sizes
        return self._raw_sizes

    @property
    def first(self) -> np.ndarray:
        """Per item: whether this is the first listing of the Item object (pixels and pairs are per object)."""
        if self._first is None:
            seen: set = set()
            out = np.zeros(len(self.items), bool)
            for p, it in enumerate(self.items):
                if id(it) not in seen:
                    seen.add(id(it))
                    out[p] = True
            self._first = out
        return self._first

    @property
    def crowd(self) -> np.ndarray:
        """Per row: ``bool(annotation.iscrowd)``."""
        if self._crowd is None:
            # Truthiness, as the rules have always tested it (one C loop).
            self._crowd = np.fromiter(map(bool, map(attrgetter("iscrowd"), self.anns)), bool, len(self.anns))
        return self._crowd

    @property
    def void(self) -> np.ndarray:
        """Per row: whether the annotation is a void region (``attributes["void"]`` true)."""
        if self._void is None:
            anns = self.anns
            void = np.zeros(len(anns), bool)
            # Only annotations with attributes at all are asked (most have none).
            for r in compress(range(len(anns)), map(attrgetter("attributes"), anns)):
                if anns[r].attributes.get("void"):
                    void[r] = True
            self._void = void
        return self._void

    @property
    def area_flags(self) -> np.ndarray:
        """Per row: true for annotations that are neither crowd nor void (the ones that are objects)."""
        return ~(self.crowd | self.void)


@dataclass
class PolygonTable:
    """Every polygon of a dataset flattened for vectorized work.

    Polygon ``k`` is row ``rows[k]`` of the :class:`AnnotationTable`; its
    parts are ``gstart[k] .. gstart[k] + gcount[k]``; part ``p``'s vertices
    are ``xy[pstart[p] : pstart[p] + plen[p]]``.
    """

    table: AnnotationTable
    rows: np.ndarray
    xy: np.ndarray
    pstart: np.ndarray
    plen: np.ndarray
    gstart: np.ndarray
    gcount: np.ndarray
    part_area: np.ndarray
    area: np.ndarray
    bounds: np.ndarray  # (n, 4) x, y, w, h
    _index: dict | None = None

    def owner(self, k: int):
        """``(item, annotation)`` of polygon ``k``."""
        row = int(self.rows[k])
        return self.table.item(row), self.table.anns[row]

    @property
    def owners(self) -> list:
        """``(item, annotation)`` of every polygon (built when asked: a million tuples cost)."""
        return [self.owner(k) for k in range(len(self.rows))]

    @property
    def index(self) -> dict:
        """``id(geometry) -> k`` (built when asked)."""
        if self._index is None:
            geoms = self.table.geoms
            self._index = {id(geoms[r]): k for k, r in enumerate(self.rows.tolist())}
        return self._index


def _coco_polygons_type():
    from ..formats.coco import CocoPolygons  # the COCO reader's polygons (public); loaded when a check runs

    return CocoPolygons


def _raw_parts(geoms) -> list:
    """Per polygon: its parts as flat coordinate sequences (lists, ``array('d')`` or arrays).

    Polygons read from COCO keep the parts as read (validated by the
    reader); other polygons give their ``source`` when it is a list of flat
    number lists, else their validated parts.
    """
    coco = _coco_polygons_type()
    if coco is not None and set(map(type, geoms)) == {coco}:
        srcs = list(map(attrgetter("_src"), geoms))  # one C loop for the common case: all read from COCO
        if set(map(type, srcs)) == {list}:
            return srcs
    out = []
    add = out.append
    for g in geoms:
        if type(g) is coco:
            src = getattr(g, "_src", None)  # the parts as read: lists or array('d')
            if type(src) is list:
                add(src)
                continue
        src = g.source
        if type(src) is list and all(type(p) is list and p and type(p[0]) in (int, float) for p in src):
            add(src)  # raw lists as read (validated by the reader)
        else:
            add([p.reshape(-1) for p in g.parts])
    return out


def _flat_coords(flat: list, total: int) -> np.ndarray:
    """Every coordinate of ``flat`` (parts as lists, ``array('d')`` or arrays) as one float64 array."""
    if not flat:
        return np.zeros(0)
    kinds = set(map(type, flat))
    if kinds <= {list}:
        return np.fromiter(chain.from_iterable(flat), np.float64, total)
    if kinds <= {array} and set(map(attrgetter("typecode"), flat)) <= {"d"}:
        # Joined into a bytearray: writable, like every table array (one numba signature), and no copy.
        return np.frombuffer(bytearray().join(flat), np.float64)
    # Buffers joined as bytes: array('d') parts as they are (8 bytes a coordinate), the rest converted.
    bufs = [p if type(p) is array and p.typecode == "d" else
            (array("d", p) if type(p) is list else np.ascontiguousarray(p, np.float64).reshape(-1)) for p in flat]
    return np.frombuffer(bytearray().join(bufs), np.float64)


def _from_pack(geoms):
    """``(gcount, plen, xy)`` straight from the polygon pack of a COCO read, or None.

    Only when every polygon was read from COCO into the same usable pack
    (:class:`segmill.formats._coco_geom.PolygonPack`, which holds what the
    parts hold, as float64); the pack's annotations are taken in the
    polygons' order.
    """
    coco = _coco_polygons_type()
    if coco is None or not geoms or set(map(type, geoms)) != {coco}:
        return None
    pack = geoms[0]._pack
    if pack is None or not pack.usable or not all(map(is_, repeat(pack), map(attrgetter("_pack"), geoms))):
        return None
    ks = np.fromiter(map(attrgetter("_k"), geoms), np.int64, len(geoms))
    nparts, part_len = pack.nparts, pack.part_len
    if len(ks) == len(nparts) and np.array_equal(ks, np.arange(len(ks))):
        return nparts.copy(), part_len // 2, np.array(pack.coords).reshape(-1, 2)  # writable, like every table array
    part_start = np.zeros(len(nparts), np.int64)
    np.cumsum(nparts[:-1], out=part_start[1:])
    parts = _ranges(part_start[ks], nparts[ks])
    coord_start = np.zeros(len(part_len), np.int64)
    np.cumsum(part_len[:-1], out=coord_start[1:])
    xy = pack.coords[_ranges(coord_start[parts], part_len[parts])].reshape(-1, 2)
    return nparts[ks], part_len[parts] // 2, xy


def polygon_table_of(table: AnnotationTable) -> PolygonTable:
    """Build the :class:`PolygonTable` of the polygon rows of ``table`` (shoelace areas and extents included)."""
    rows = table.rows(KIND_POLY)
    geoms = table.geoms
    chosen = geoms if len(rows) == len(geoms) else [geoms[r] for r in rows.tolist()]
    packed = _from_pack(chosen)
    if packed is not None:
        gcount, plen, xy = packed
    else:
        srcs = _raw_parts(chosen)
        gcount = np.fromiter(map(len, srcs), np.int64, len(srcs))
        flat = list(chain.from_iterable(srcs))
        del srcs
        plen = np.fromiter(map(len, flat), np.int64, len(flat)) // 2
        xy = _flat_coords(flat, int(plen.sum()) * 2).reshape(-1, 2)
        del flat
    del chosen
    pstart = np.zeros(len(plen), np.int64)
    if len(plen):
        np.cumsum(plen[:-1], out=pstart[1:])
    gstart = np.zeros(len(rows), np.int64)
    if len(rows):
        np.cumsum(gcount[:-1], out=gstart[1:])
    if not len(rows):
        z = np.zeros(0)
        return PolygonTable(table, rows, xy, pstart, plen, gstart, gcount, z, z, np.zeros((0, 4)))
    nxt = np.arange(1, xy.shape[0] + 1)
    nxt[pstart + plen - 1] = pstart  # each ring closes on its first vertex
    x, y = xy[:, 0], xy[:, 1]
    # x * y[nxt] - x[nxt] * y, with one temporary at a time (the same products, the same difference)
    cross = y[nxt]
    cross *= x
    other = x[nxt]
    other *= y
    cross -= other
    del other, nxt
    part_area = 0.5 * np.abs(np.add.reduceat(cross, pstart))
    area = np.add.reduceat(part_area, gstart)
    vstart = pstart[gstart]
    x0 = np.minimum.reduceat(x, vstart)
    y0 = np.minimum.reduceat(y, vstart)
    bounds = np.column_stack([x0, y0, np.maximum.reduceat(x, vstart) - x0, np.maximum.reduceat(y, vstart) - y0])
    return PolygonTable(table, rows, xy, pstart, plen, gstart, gcount, part_area, area, bounds)
