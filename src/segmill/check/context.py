"""What rules see: the dataset plus shared, cached work (pixels, candidate pairs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..geometry import Polygons
from ..model import Annotation, Dataset, Item
from ..rle import RLE
from ._pixels import PairTable, PixelTable, pair_table, pixel_table
from ._tables import AnnotationTable, PolygonTable, polygon_table_of

__all__ = ["Context", "Pair", "PolygonTable", "polygon_table"]


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
        #: Mask pairs whose runs were intersected (boxes overlapping), for tests and benchmarks.
        self.pairs_tested = 0
        self._table: AnnotationTable | None = None
        self._poly_stats: PolygonTable | None = None
        self._pix: PixelTable | None = None
        self._pairtab: PairTable | None = None
        self._positions: dict | None = None
        self._own: dict = {}  # id(item) -> Context of an item that is not in the dataset
        #: Every dataset checked in the same run (for cross-file rules).
        self.siblings: list[Context] = [self]
        #: Free cache for rule modules (keyed by the module's own names).
        self.cache: dict = {}
        #: Seconds spent building each shared table (the engine's profile reads it).
        self.build_seconds: dict[str, float] = {}
        #: Ids of placeholder images a lenient reader made for annotations whose
        #: image is not listed (COCO: ``meta["placeholder_images"]``).
        self.placeholders: set = set(dataset.meta.get("placeholder_images", ()) or ())

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

    # ---------------------------------------------------------------- tables
    def table(self) -> AnnotationTable:
        """Every annotation of the dataset, one row each, in dataset order (built once)."""
        if self._table is None:
            t0 = time.perf_counter()
            self._table = AnnotationTable(self.dataset.items)
            self._timed("annotation table", t0)
        return self._table

    def _timed(self, name: str, t0: float) -> None:
        """Add the seconds since ``t0`` to :attr:`build_seconds` ``[name]``."""
        self.build_seconds[name] = self.build_seconds.get(name, 0.0) + time.perf_counter() - t0

    def polygons(self) -> PolygonTable:
        """The dataset's :class:`PolygonTable` (built once)."""
        if self._poly_stats is None:
            table = self.table()
            t0 = time.perf_counter()
            self._poly_stats = polygon_table_of(table)
            self._timed("polygon table", t0)
        return self._poly_stats

    def pixel_table(self) -> PixelTable:
        """Pixels of every annotation of every sized image, packed (built once, see :func:`pixel_table`)."""
        if self._pix is None:
            table, polygons = self.table(), self.polygons()
            t0 = time.perf_counter()
            self._pix = pixel_table(table, polygons)
            self._timed("pixels (rasterize once)", t0)
        return self._pix

    def pair_table(self) -> PairTable:
        """Every intersecting pair of the dataset as arrays (built once, see :func:`pair_table`)."""
        if self._pairtab is None:
            table, pix = self.table(), self.pixel_table()
            t0 = time.perf_counter()
            self._pairtab = pair_table(table, pix)
            self._timed("pairs (box sweep)", t0)
            self.pairs_tested = self._pairtab.tested
        return self._pairtab

    def pair_spans(self) -> list[tuple[Item, int, int]]:
        """``(item, s, e)``: the pairs ``s .. e`` of the pair table for each sized item that has any.

        In dataset order; an Item object listed twice comes twice (as its
        pairs always did).
        """
        pt = self.pair_table()
        t = self.table()
        if not pt.item.size:
            return []
        has = set(np.unique(pt.item).tolist())
        if t.first.all():
            return [(t.items[p], *pt.span(p)) for p in sorted(has)]
        first_pos: dict = {}
        out = []
        for p, it in enumerate(t.items):  # later listings of an Item object share the first one's pairs
            q = first_pos.setdefault(id(it), p)
            if q in has:
                out.append((it, *pt.span(q)))
        return out

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
        return self.polygon_row_stats(k)

    def polygon_row_stats(self, k: int) -> tuple[float, tuple, np.ndarray]:
        """:meth:`polygon_stats` of polygon ``k`` of :meth:`polygons`."""
        t = self.polygons()
        s = t.gstart[k]
        return float(t.area[k]), tuple(t.bounds[k].tolist()), t.part_area[s:s + t.gcount[k]]

    # --------------------------------------------------------------- pixels
    def _position(self, item: Item) -> tuple[AnnotationTable, int]:
        """The table holding ``item`` and its position there (its first listing).

        An item that is not in the dataset (added after the tables were
        built) gets a table of its own.
        """
        t = self.table()
        pos = self._positions
        if pos is None:
            pos = self._positions = {}
            for p, it in enumerate(t.items):
                pos.setdefault(id(it), p)
        p = pos.get(id(item))
        if p is not None:
            return t, p
        own = self._own.get(id(item))
        if own is None:
            own = self._own[id(item)] = Context(Dataset(items=[item]), self.file, self.root, self.image_root)
        return own.table(), -1

    def pixels(self, item: Item) -> list[RLE | None]:
        """Each annotation's pixels (``None`` where it has none to give).

        Polygons, boxes, masks and RLEs of the image's size are rasterized
        with the COCO rule (see :meth:`pixel_table`); invalid geometry, shapes
        and RLEs of another size give ``None``.
        """
        key = id(item)
        got = self._pixels.get(key)
        if got is not None:
            return got
        t, p = self._position(item)
        if p < 0:
            return self._own[id(item)].pixels(item)
        pix = self.pixel_table()
        out = [None if r < 0 else pix.rle(r) for r in pix.row[t.start[p]:t.start[p + 1]].tolist()]
        self._pixels[key] = out
        return out

    def pairs(self, item: Item) -> list[Pair]:
        """Intersecting pairs of non-crowd annotations, pruned by bounding box.

        Worked out for every image of the dataset at once the first time it
        is asked for (see :func:`segmill.check._pixels.pair_table`): per
        image, boxes are bucketed into strips and swept, and runs are
        intersected only for pairs whose pixel boxes overlap, so the work
        grows with the number of overlapping boxes, not with the square of
        the image's annotations. Rules read :meth:`pair_table` instead (no
        object per pair).
        """
        _, p = self._position(item)
        if p < 0:
            return self._own[id(item)].pairs(item)
        pt = self.pair_table()
        if self.size(item) is None:
            return []
        s, e = pt.span(p)
        return [Pair(i, j, n, v, o) for i, j, n, v, o in zip(pt.i[s:e].tolist(), pt.j[s:e].tolist(),
                                                            pt.inter[s:e].tolist(), pt.iou[s:e].tolist(),
                                                            pt.overlap[s:e].tolist())]

    # -------------------------------------------------------------- helpers
    @staticmethod
    def ann_label(ann: Annotation) -> str:
        return f"annotation {ann.id}" if ann.id is not None else "an annotation without id"


def _shoelace(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def polygon_table(dataset: Dataset) -> PolygonTable:
    """Build the :class:`PolygonTable` of ``dataset`` (shoelace areas and extents included)."""
    return polygon_table_of(AnnotationTable(dataset.items))
