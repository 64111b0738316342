"""What rules see: the dataset plus shared, cached work (pixels, candidate pairs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GeometryError
from ..geometry import Box, Mask, Polygons, rasterize_many
from ..model import Annotation, Dataset, Item
from ..rle import RLE, from_polygons_batch
from ..rle import _kernels as rle_kernels
from ._kernels import intersecting_pairs

__all__ = ["Context", "Pair"]


@dataclass(frozen=True)
class Pair:
    """Two non-crowd, non-void area annotations of one image whose pixels intersect.

    ``i`` and ``j`` index ``item.annotations`` (``i < j``); ``inter`` is the
    number of shared pixels, ``iou`` the intersection over union and
    ``overlap`` the intersection over the smaller annotation's pixel area.
    """

    i: int
    j: int
    inter: int
    iou: float
    overlap: float


class Context:
    """The dataset under check and caches shared by rules.

    Parameters
    ----------
    dataset : Dataset
    file : str, optional
        How findings name the annotation file.
    root : pathlib.Path, optional
        The dataset root (folder of the annotation file, or the dataset folder).
    image_root : pathlib.Path, optional
        Where image files are looked up (default: the reader's
        ``meta["image_root"]``, else ``root``).
    """

    def __init__(self, dataset: Dataset, file: str | None = None, root: Path | None = None,
                 image_root: Path | None = None):
        self.dataset = dataset
        self.file = file
        self.root = root
        meta_root = dataset.meta.get("image_root")
        self.image_root = Path(image_root) if image_root else (Path(meta_root) if meta_root else root)
        self._pixels: dict[int, list] = {}
        self._pairs: dict[int, list[Pair]] = {}
        #: Mask pairs whose runs were intersected (boxes overlapping), for tests and benchmarks.
        self.pairs_tested = 0
        self._poly_stats: PolygonTable | None = None
        self._rasterized = False
        #: Every dataset checked in the same run (for cross-file rules).
        self.siblings: list[Context] = [self]
        #: Free cache for rule modules (keyed by the module's own names).
        self.cache: dict = {}
        #: Ids of placeholder images a lenient reader made for annotations whose
        #: image is not listed (COCO: ``meta["coco_missing_images"]``).
        self.placeholders: set = set(dataset.meta.get("coco_missing_images", ()) or ())

    def real_items(self):
        """Items that are listed images (placeholders for dangling references left out)."""
        if not self.placeholders:
            return self.dataset.items
        return [it for it in self.dataset.items if it.id not in self.placeholders or it.file_name]

    # ------------------------------------------------------------ locations
    def file_of(self, item: Item | None = None) -> str | None:
        """The file holding ``item``'s record (per-image formats set ``source_file``)."""
        if item is not None:
            src = item.attributes.get("source_file")
            if src:
                return str(src)
        return self.file

    @staticmethod
    def size(item: Item) -> tuple[int, int] | None:
        """``(height, width)`` when both are known and positive."""
        s = item.size
        if s is None or s[0] <= 0 or s[1] <= 0:
            return None
        return s

    # ------------------------------------------------------ polygon numbers
    def polygon_stats(self, geom: Polygons) -> tuple[float, tuple, np.ndarray]:
        """``(shoelace area, vertex-extent bbox, area of each part)`` of a polygon.

        Computed for every polygon of the dataset in one vectorized pass the
        first time it is asked for (the same numbers as
        :attr:`Polygons.area` and :attr:`Polygons.bounds`).
        """
        t = self.polygons()
        k = t.index.get(id(geom))
        if k is None:
            parts = np.array([_shoelace(p) for p in geom.parts])
            return float(parts.sum()), geom.bounds, parts
        s = t.gstart[k]
        return float(t.area[k]), tuple(t.bounds[k].tolist()), t.part_area[s:s + t.gcount[k]]

    def polygons(self) -> "PolygonTable":
        """The dataset's :class:`PolygonTable` (built once)."""
        if self._poly_stats is None:
            self._poly_stats = polygon_table(self.dataset)
        return self._poly_stats

    # --------------------------------------------------------------- pixels
    def _rasterize_all(self) -> None:
        """Rasterize every polygon of every sized item, one batched call per image size (fills caches).

        Polygons read from a file keep their raw lists in ``source``; those go
        to the kernel as they are (its packed fast path).
        """
        groups: dict[tuple[int, int], list] = {}
        for it in self.dataset.items:
            size = self.size(it)
            if size is None:
                continue
            for a in it.annotations:
                g = a.geometry
                if isinstance(g, Polygons) and (g._cache is None or (size[0], size[1], "coco") not in g._cache):
                    groups.setdefault(size, []).append(g)
        for (h, w), geoms in groups.items():
            src = [g.source if type(g.source) is list else list(g.parts) for g in geoms]
            try:
                rles = from_polygons_batch(src, h, w)
            except GeometryError:
                continue  # rasterize_many retries per image and isolates the culprit
            key = (h, w, "coco")
            for g, r in zip(geoms, rles):
                if g._cache is None:
                    g._cache = {}
                g._cache[key] = r

    def pixels(self, item: Item) -> list[RLE | None]:
        """Each annotation's pixels (``None`` where it has none to give).

        Polygons, boxes, masks and RLEs of the image's size are rasterized
        with the COCO rule in one batched call; invalid geometry, shapes and
        RLEs of another size give ``None``.
        """
        key = id(item)
        got = self._pixels.get(key)
        if got is not None:
            return got
        if not self._rasterized:
            self._rasterized = True
            self._rasterize_all()
        out: list[RLE | None] = [None] * len(item.annotations)
        size = self.size(item)
        if size is not None:
            h, w = size
            key = (h, w, "coco")
            idx, geoms = [], []
            for k, a in enumerate(item.annotations):
                g = a.geometry
                if isinstance(g, Polygons) and g._cache is not None and key in g._cache:
                    out[k] = g._cache[key]  # rasterized in the batched pass
                elif isinstance(g, RLE):
                    if g.shape == (h, w):
                        out[k] = g
                elif isinstance(g, (Polygons, Box, Mask)):
                    idx.append(k)
                    geoms.append(g)
            if geoms:
                try:
                    rles = rasterize_many(geoms, h, w)
                except GeometryError:
                    rles = []
                    for g in geoms:
                        try:
                            rles.append(rasterize_many([g], h, w)[0])
                        except GeometryError:
                            rles.append(None)
                for k, r in zip(idx, rles):
                    out[k] = r
        self._pixels[key] = out
        return out

    def pairs(self, item: Item) -> list[Pair]:
        """Intersecting pairs of non-crowd annotations, pruned by bounding box.

        Worked out for every image of the dataset at once the first time it
        is asked for (see :meth:`_all_pairs`): per image, boxes are sorted by
        left edge and swept, and runs are intersected only for pairs whose
        pixel boxes overlap, so the work grows with the number of
        overlapping boxes, not with the square of the image's annotations.
        """
        if not self._pairs:
            self._all_pairs()
        got = self._pairs.get(id(item))
        if got is None:  # an item added after the first call
            got = self._pairs[id(item)] = self._all_pairs([item])[id(item)]
        return got

    def _all_pairs(self, items=None) -> dict[int, list[Pair]]:
        """Fill the pair cache for ``items`` (default: every item) in one kernel call."""
        items = self.dataset.items if items is None else items
        out: dict[int, list[Pair]] = {id(it): [] for it in items}
        owners: list[tuple[int, int]] = []  # (item position, annotation index) per mask
        rles: list[RLE] = []
        gstart = [0]
        seen: set[int] = set()
        for pos, it in enumerate(items):
            if self.size(it) is None or id(it) in seen:  # an Item object listed twice is paired once
                continue
            seen.add(id(it))
            pix = self.pixels(it)
            for k, (a, r) in enumerate(zip(it.annotations, pix)):
                if r is not None and not a.iscrowd and not a.attributes.get("void") and not r.is_empty():
                    owners.append((pos, k))
                    rles.append(r)
            if len(rles) > gstart[-1]:
                gstart.append(len(rles))
        self.pairs_tested = 0
        if rles:
            offsets = np.zeros(len(rles) + 1, np.int64)
            np.cumsum([r.counts.shape[0] for r in rles], out=offsets[1:])
            counts = np.concatenate([r.counts for r in rles])
            hs = np.array([r.height for r in rles], np.int64)
            ws = np.array([r.width for r in rles], np.int64)
            bb = rle_kernels.bbox_batch(counts, offsets, hs, ws)
            areas = rle_kernels.area_batch(counts, offsets).astype(np.float64)
            lo, hi, inter, union, self.pairs_tested = intersecting_pairs(counts, offsets, bb,
                                                                         np.array(gstart, np.int64))
            order = np.lexsort((hi, lo))  # masks are numbered item by item: this is (item, i, j) order
            lo, hi = lo[order], hi[order]
            ious = inter[order] / union[order]
            for a, b, v in zip(lo.tolist(), hi.tolist(), ious.tolist()):
                # The same arithmetic as Pair values have always had (from the IoU).
                ar, br = areas[a], areas[b]
                n = int(round(v * (ar + br) / (1.0 + v)))
                small = min(ar, br)
                pos, i = owners[a]
                out[id(items[pos])].append(Pair(i, owners[b][1], n, v, n / small if small else 0.0))
        self._pairs.update(out)
        return out

    # -------------------------------------------------------------- helpers
    @staticmethod
    def ann_label(ann: Annotation) -> str:
        return f"annotation {ann.id}" if ann.id is not None else "an annotation without id"


def _shoelace(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@dataclass
class PolygonTable:
    """Every polygon of a dataset flattened for vectorized work.

    ``owners[k]`` is ``(item, annotation)`` of polygon ``k``; its parts are
    ``gstart[k] .. gstart[k] + gcount[k]``; part ``p``'s vertices are
    ``xy[pstart[p] : pstart[p] + plen[p]]``.
    """

    owners: list
    xy: np.ndarray
    pstart: np.ndarray
    plen: np.ndarray
    gstart: np.ndarray
    gcount: np.ndarray
    part_area: np.ndarray
    area: np.ndarray
    bounds: np.ndarray  # (n, 4) x, y, w, h
    index: dict  # id(geometry) -> k


def polygon_table(dataset: Dataset) -> PolygonTable:
    """Build the :class:`PolygonTable` of ``dataset`` (shoelace areas and extents included)."""
    from itertools import chain

    owners = [(it, a) for it, a in dataset.annotations() if isinstance(a.geometry, Polygons)]
    flat = []
    gcount = np.zeros(len(owners), np.int64)
    for k, (_, a) in enumerate(owners):
        g = a.geometry
        src = g.source
        if type(src) is list and all(type(p) is list and p and type(p[0]) in (int, float) for p in src):
            parts = src  # raw lists as read (validated by the reader)
        else:
            parts = [p.reshape(-1) for p in g.parts]
        flat.extend(parts)
        gcount[k] = len(parts)
    plen = np.fromiter((len(p) // 2 for p in flat), np.int64, len(flat))
    xy = np.fromiter(chain.from_iterable(flat), np.float64, int(plen.sum()) * 2).reshape(-1, 2)
    pstart = np.zeros(len(flat), np.int64)
    if len(flat):
        np.cumsum(plen[:-1], out=pstart[1:])
    gstart = np.zeros(len(owners), np.int64)
    if len(owners):
        np.cumsum(gcount[:-1], out=gstart[1:])
    if not len(owners):
        z = np.zeros(0)
        return PolygonTable(owners, xy, pstart, plen, gstart, gcount, z, z, np.zeros((0, 4)), {})
    nxt = np.arange(1, xy.shape[0] + 1)
    nxt[pstart + plen - 1] = pstart  # each ring closes on its first vertex
    x, y = xy[:, 0], xy[:, 1]
    cross = x * y[nxt] - x[nxt] * y
    part_area = 0.5 * np.abs(np.add.reduceat(cross, pstart))
    area = np.add.reduceat(part_area, gstart)
    vstart = pstart[gstart]
    x0 = np.minimum.reduceat(x, vstart)
    y0 = np.minimum.reduceat(y, vstart)
    bounds = np.column_stack([x0, y0, np.maximum.reduceat(x, vstart) - x0, np.maximum.reduceat(y, vstart) - y0])
    index = {id(a.geometry): k for k, (_, a) in enumerate(owners)}
    return PolygonTable(owners, xy, pstart, plen, gstart, gcount, part_area, area, bounds, index)
