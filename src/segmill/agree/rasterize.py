"""One annotator's view of one image: instance RLEs and a composed label map.

Overlap policy (for the pixel metrics, which need one label per pixel): the
``"zorder"`` policy of :func:`segmill.bridges.compose.compose`, so that
``segmill agree`` and the semantic writers see the same pixels: annotations
are painted in ascending ``z_order`` attribute (missing = 0), then descending
area (a smaller region over a larger one), then file order; the last painted
owns the pixel. Void pixels (categories listed as void) are painted last and
win. Crowd regions are painted with their category like any other region.
(The painting itself is a small run-length kernel here, not ``compose``:
agreement needs flat label maps of the common category index, never the
dense per-format maps and loss records ``compose`` makes.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import rle as R
from ..geometry import AREA_KINDS
from ..raster import forget, rasterize, uncached
from ..rle import RLE
from . import _kernels as K
from .settings import UNLABELED  # noqa: F401  (re-exported: older imports find it here)


@dataclass
class ImageAnnotations:
    """The annotations of one annotator on one image, rasterized.

    Attributes
    ----------
    rles : list of RLE
        Every rasterizable, non-void annotation (crowd included).
    labels : numpy.ndarray of int
        Category index (into the common category list) per RLE.
    crowd : numpy.ndarray of bool
    z : list of int
        Painting order key per RLE.
    void : list of RLE
        Void regions.
    unusable : list of str
        Why annotations were left out (no area, unknown category...).
    """

    height: int
    width: int
    rles: list = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    crowd: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    z: list = field(default_factory=list)
    void: list = field(default_factory=list)
    unusable: list = field(default_factory=list)
    fresh: list = field(default_factory=list)

    def release(self) -> None:
        """Drop the RLEs this image's rasterization cached on its geometries.

        Keeps a dataset-wide comparison from accumulating every mask in the
        geometry caches: only the image at hand is held.
        """
        forget(self.fresh)
        self.fresh = []

    def void_union(self):
        """The union of the void regions, or ``None``."""
        return R.merge(self.void) if self.void else None

    def label_map(self, out=None) -> np.ndarray:
        """Flat column-major ``int32`` label map (0 background, k+1 category k, -1 void).

        ``out``, when given, is a zero-filled ``int32`` array of ``height * width`` to paint into.
        """
        flat = np.zeros(self.height * self.width, np.int32) if out is None else out
        order = sorted(range(len(self.rles)), key=lambda i: (self.z[i], -self.rles[i].area, i))
        for i in order:
            K.paint_runs(self.rles[i].counts, flat, np.int32(self.labels[i] + 1))
        for v in self.void:
            K.paint_runs(v.counts, flat, np.int32(-1))
        return flat

    def class_union(self, k: int):
        """Union RLE of every region (crowd included) of category index ``k``, or ``None``."""
        sel = [r for r, lab in zip(self.rles, self.labels) if lab == k]
        if not sel:
            return None
        return R.merge(sel)



def prepare(item, category_index: dict, height: int, width: int, rule: str = "coco",
            unlabeled: str = "background") -> ImageAnnotations:
    """Rasterize one annotator's item.

    Annotations without an area (points, lines, invalid geometry, no
    geometry) or whose category is not declared are left out and listed in
    :attr:`ImageAnnotations.unusable`, never dropped silently.

    With ``unlabeled="void"`` (panoptic data, where every pixel is meant to
    be labelled) the pixels no annotation covers are void for this
    annotator, as panopticapi treats segment id 0.
    """
    out = ImageAnnotations(height, width)
    if item is None:
        return out
    geoms, labels, crowd, z, ids = [], [], [], [], []
    void_geoms = []
    for ann in item.annotations:
        g = ann.geometry
        k = category_index.get(ann.category_id)
        if k is None:
            out.unusable.append(f"annotation {ann.id!r}: category {ann.category_id!r} is not declared")
            continue
        if not isinstance(g, AREA_KINDS):
            what = "no geometry" if g is None else f"a {type(g).__name__} has no area"
            out.unusable.append(f"annotation {ann.id!r}: {what}")
            continue
        if k < 0:
            void_geoms.append(g)
            continue
        geoms.append(g)
        ids.append(ann.id)
        labels.append(k)
        crowd.append(bool(ann.iscrowd))
        zo = ann.attributes.get("z_order", 0)
        z.append(zo if isinstance(zo, (int, float)) else 0)
    out.fresh = uncached(geoms + void_geoms)
    got = rasterize(geoms + void_geoms, (height, width), rule)
    keep = [i for i in range(len(geoms)) if isinstance(got[i], RLE)]
    for i in range(len(geoms)):
        if not isinstance(got[i], RLE):
            out.unusable.append(f"annotation {ids[i]!r}: {got[i]}")
    out.rles = [got[i] for i in keep]
    out.void = []
    for r in got[len(geoms):]:
        if isinstance(r, RLE):
            out.void.append(r)
        else:
            out.unusable.append(f"void annotation: {r}")
    if len(keep) < len(geoms):
        labels = [labels[i] for i in keep]
        crowd = [crowd[i] for i in keep]
        z = [z[i] for i in keep]
        ids = [ids[i] for i in keep]
    empty = [i for i, r in enumerate(out.rles) if r.is_empty()]
    if empty:
        # nothing to match or paint: listed, not counted as a FP/FN
        for i in empty:
            out.unusable.append(f"annotation {ids[i]!r}: rasterizes to no pixels")
        keep = [i for i in range(len(out.rles)) if not out.rles[i].is_empty()]
        out.rles = [out.rles[i] for i in keep]
        labels = [labels[i] for i in keep]
        crowd = [crowd[i] for i in keep]
        z = [z[i] for i in keep]
    out.labels = np.asarray(labels, np.int64)
    out.crowd = np.asarray(crowd, bool)
    out.z = z
    if unlabeled == "void":
        covered = np.zeros(height * width, np.int32)
        for r in out.rles + out.void:
            K.paint_runs(r.counts, covered, np.int32(1))
        if not covered.all():
            out.void.append(R.encode(covered.reshape(width, height).T == 0))
    return out
