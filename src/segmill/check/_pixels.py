"""Pixels of every annotation and the intersecting pairs, packed (no Python object per annotation).

:func:`pixel_table` rasterizes every polygon of every sized image in one
kernel call straight from the :class:`~segmill.check._tables.PolygonTable`
coordinates, and keeps the result as one counts array with offsets; other
geometries (RLEs, boxes, masks) are looked at one by one, as they always were.
:func:`pair_table` intersects the masks whose boxes overlap and keeps every
pair's numbers as arrays, so rules select pairs with numpy masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._arrays import ranges as _ranges
from ..errors import GeometryError
from ..raster import rasterize
from ..rle import RLE, FlatBatch
from ..rle import kernels as rle_kernels
from ..rle.kernels import check_size
from ._kernels import pairs_sharing_pixels
from ._tables import (
    KIND_BOX,
    KIND_MASK,
    KIND_POLY,
    KIND_RLE,
    AnnotationTable,
    PolygonTable,
)

__all__ = ["PixelTable", "PairTable", "pixel_table", "pair_table"]


@dataclass
class PixelTable:
    """Run-length counts of every annotation that has pixels.

    ``row[r]`` is the pixel index of annotation row ``r`` (-1: no pixels to
    give); pixel index ``i`` has runs ``counts[offsets[i] : offsets[i + 1]]``
    in an image of ``heights[i] x widths[i]``. ``objects`` maps the pixel
    indices that came from an RLE object (an RLE geometry, a rasterized box
    or mask) to that object, so :meth:`rle` hands back the very object.
    """

    row: np.ndarray
    counts: np.ndarray
    offsets: np.ndarray
    heights: np.ndarray
    widths: np.ndarray
    objects: dict
    _area: np.ndarray | None = None
    _boxes: np.ndarray | None = None

    def rle(self, i: int) -> RLE:
        """Pixel index ``i`` as an :class:`RLE` (a view of the packed counts, or the original object)."""
        got = self.objects.get(i)
        if got is not None:
            return got
        r = object.__new__(RLE)
        counts = self.counts[self.offsets[i] : self.offsets[i + 1]]
        counts.flags.writeable = False  # an RLE is immutable (the table itself feeds kernels)
        r._counts = counts
        r._h = int(self.heights[i])
        r._w = int(self.widths[i])
        return r

    @property
    def area(self) -> np.ndarray:
        """Foreground pixels of each pixel index (uint64)."""
        if self._area is None:
            self._area = rle_kernels.area_batch(self.counts, self.offsets)
        return self._area

    def boxes(self) -> np.ndarray:
        """Pixel box ``(x, y, w, h)`` of each pixel index, float64 (cached)."""
        if self._boxes is None:
            self._boxes = rle_kernels.bbox_batch(self.counts, self.offsets, self.heights, self.widths)
        return self._boxes

    def runs(self) -> np.ndarray:
        """Number of runs of each pixel index (1 or 0: an empty mask)."""
        return np.diff(self.offsets)


def _select_polygons(ptab: PolygonTable, keep: np.ndarray):
    """``(coords, part_len, nparts)`` of the polygons where ``keep`` is true, for :class:`FlatBatch`."""
    if keep.all():
        return ptab.xy.reshape(-1), ptab.plen * 2, ptab.gcount
    ks = np.flatnonzero(keep)
    parts = _ranges(ptab.gstart[ks], ptab.gcount[ks])
    verts = _ranges(ptab.pstart[parts], ptab.plen[parts])
    return ptab.xy[verts].reshape(-1), ptab.plen[parts] * 2, ptab.gcount[ks]


def _rasterize_polygons(table: AnnotationTable, ptab: PolygonTable):
    """Kernel output for the polygons of sized images: ``(polygon indices, counts, offsets, hs, ws)``, or None.

    One call for every image size together. None when the kernel refuses a
    value (then the caller rasterizes image by image, which isolates it).
    """
    raw = table.raw_sizes
    # Each image size checked once (as the per-size batches always did); polygons of
    # a size it refuses are left to the image-by-image path, where they get None.
    checked: dict = {}
    for s in set(raw) - {None}:
        try:
            checked[s] = check_size(s[0], s[1], "polygon image")
        except GeometryError:
            pass
    n = len(raw)
    ok_item = np.zeros(n, bool)
    ih = np.zeros(n, np.int64)
    iw = np.zeros(n, np.int64)
    for p, s in enumerate(raw):
        got = checked.get(s) if s is not None else None
        if got is not None:
            ok_item[p] = True
            ih[p], iw[p] = got
    item = table.item_of[ptab.rows]
    keep = ok_item[item]
    hs, ws = ih[item], iw[item]
    good_sizes = set(checked.values())
    ks = np.flatnonzero(keep)
    if ks.size == 0:
        return ks, np.zeros(0, np.uint32), np.zeros(1, np.int64), hs[ks], ws[ks]
    coords, part_len, nparts = _select_polygons(ptab, keep)
    one = len(good_sizes) == 1
    kh = hs[ks[:1]] if one else hs[ks]
    kw = ws[ks[:1]] if one else ws[ks]
    out = FlatBatch(np.ascontiguousarray(coords), part_len, nparts, kh, kw).finish()
    if out is None:
        return None
    counts, offsets = out
    # A writable copy: the kernels downstream then see the array types they always have (one
    # compiled signature each), and the kernel's read-only result is dropped at once.
    return ks, np.array(counts), offsets, hs[ks], ws[ks]


def pixel_table(table: AnnotationTable, ptab: PolygonTable) -> PixelTable:
    """Pixels of every annotation row of a sized image (see :class:`PixelTable`).

    Polygons go through one kernel call; RLEs of the image's size are taken
    as they are; boxes, masks and any polygon the kernel refused are
    rasterized image by image with :func:`segmill.raster.rasterize`,
    each failing geometry alone giving no pixels (as before).
    """
    n = len(table)
    row = np.full(n, -1, np.int64)
    res = _rasterize_polygons(table, ptab)
    if res is None:
        counts, offsets = np.zeros(0, np.uint32), np.zeros(1, np.int64)
        hs = ws = np.zeros(0, np.int64)
    else:
        ks, counts, offsets, hs, ws = res
        row[ptab.rows[ks]] = np.arange(ks.size)
    sized = table.sizes[0]
    raw = table.raw_sizes
    kind = table.kind
    todo = ((kind == KIND_RLE) | (kind == KIND_MASK) | (kind == KIND_BOX) | ((kind == KIND_POLY) & (row < 0)))
    todo = np.flatnonzero(todo & sized[table.item_of])
    if todo.size == 0:
        return PixelTable(row, counts, offsets, hs, ws, {})
    objects: dict = {}
    extra: list = []
    nxt = offsets.shape[0] - 1
    items_of = table.item_of[todo]
    for group in np.split(todo, np.flatnonzero(np.diff(items_of)) + 1):  # rows of one item at a time
        rows = group.tolist()
        h, w = raw[int(table.item_of[rows[0]])]
        for r, rle in zip(rows, _item_pixels([table.geoms[r] for r in rows], h, w)):
            if rle is not None:
                row[r] = nxt
                objects[nxt] = rle
                extra.append(rle)
                nxt += 1
    if extra:
        lens = np.fromiter((x.counts.shape[0] for x in extra), np.int64, len(extra))
        offsets = np.concatenate([offsets, offsets[-1] + np.cumsum(lens)])
        counts = np.concatenate([counts] + [x.counts for x in extra]).astype(np.uint32, copy=False)
        hs = np.concatenate([hs, np.fromiter((x.height for x in extra), np.int64, len(extra))])
        ws = np.concatenate([ws, np.fromiter((x.width for x in extra), np.int64, len(extra))])
    return PixelTable(row, counts, offsets, hs, ws, objects)


def _item_pixels(geoms, h: int, w: int) -> list:
    """Pixels of one image's RLEs, boxes, masks (and refused polygons); None where there are none."""
    out: list = [None] * len(geoms)
    idx, todo = [], []
    for k, g in enumerate(geoms):
        if isinstance(g, RLE):
            if g.shape == (h, w):
                out[k] = g
        else:
            idx.append(k)
            todo.append(g)
    if todo:
        rles = rasterize(todo, (h, w))  # an error per geometry: a geometry that has no pixels is None here
        for r in rles:
            if not isinstance(r, (RLE, GeometryError)):
                raise r
        rles = [r if isinstance(r, RLE) else None for r in rles]
        for k, r in zip(idx, rles):
            out[k] = r
    return out


@dataclass
class PairTable:
    """Intersecting pairs of non-crowd, non-void annotations of one image, as arrays.

    Pairs are sorted by (item, i, j); ``item`` is the position in the
    annotation table's items (the first listing of the Item object), ``i <
    j`` index that item's annotations, ``inter`` is the number of shared
    pixels, ``iou`` the intersection over union and ``overlap`` the
    intersection over the smaller annotation's pixel area.
    """

    item: np.ndarray
    i: np.ndarray
    j: np.ndarray
    inter: np.ndarray
    iou: np.ndarray
    overlap: np.ndarray
    tested: int

    def span(self, pos: int) -> tuple[int, int]:
        """Pairs ``s .. e`` of the item at position ``pos``."""
        s, e = np.searchsorted(self.item, [pos, pos + 1])
        return int(s), int(e)


def pair_table(table: AnnotationTable, pix: PixelTable) -> PairTable:
    """Every intersecting pair of every sized image, pruned by bounding box (see :func:`pairs_sharing_pixels`)."""
    sized = table.sizes[0]
    item_of = table.item_of
    prow = pix.row
    m = (prow >= 0) & (sized & table.first)[item_of]
    idx = np.flatnonzero(m)
    idx = idx[table.area_flags[idx]]
    runs = pix.runs()
    idx = idx[runs[prow[idx]] > 1]  # an empty mask shares nothing
    z = np.zeros(0, np.int64)
    if idx.size < 2:
        return PairTable(z, z, z, z, np.zeros(0), np.zeros(0), 0)
    pi = prow[idx]
    # Masks are read in place (by start and end), their boxes and areas taken from the whole table.
    bb = pix.boxes()[pi]
    areas = pix.area[pi].astype(np.int64)
    owner = item_of[idx]
    gstart = np.r_[np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]), owner.size].astype(np.int64)
    lo, hi, inter, tested = pairs_sharing_pixels(pix.counts, pix.offsets[pi], pix.offsets[pi + 1],
                                                 pix.heights[pi], bb, gstart)
    union = areas[lo] + areas[hi] - inter
    areas = areas.astype(np.float64)
    order = np.lexsort((hi, lo))  # masks are numbered item by item: this is (item, i, j) order
    lo, hi = lo[order], hi[order]
    iou = inter[order] / union[order]
    # The arithmetic pairs have always had: the intersection from the IoU, rounded half to even.
    ar, br = areas[lo], areas[hi]
    n = np.rint(iou * (ar + br) / (1.0 + iou)).astype(np.int64)
    small = np.minimum(ar, br)
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = np.where(small != 0, n / np.where(small != 0, small, 1.0), 0.0)
    item = owner[lo]
    start = table.start[item]
    return PairTable(item, idx[lo] - start, idx[hi] - start, n, iou, overlap, int(tested))
