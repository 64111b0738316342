"""Pairing images and annotations of two dataset versions.

Images
    Paired by :func:`segmill.gate.diff.match_images` (segmill's one image
    pairer, :func:`segmill.agree.align.align` with its ``VERSION_RULES``).
Annotations (inside a pair of images)
    ``"id"``: paired by annotation id; ``"iou"``: one-to-one optimal
    assignment on mask IoU (segmill's one instance matcher,
    :func:`segmill.agree.matching.match`, with ``comparison=">="`` and
    ``objective="total_iou"``), a pair needing IoU >= ``match_iou``, ties
    broken toward the same class;
    geometries without pixels (points, lines, invalid) are paired only when
    exactly equal. ``"auto"`` (default) uses ids when they are stable: every
    annotation has a unique id on both sides, some ids occur in both versions,
    and at least 90 % of those sit on the same image in both with an equal
    geometry or one overlapping it with IoU >= ``match_iou``. Otherwise a re-export that renumbered the ids
    (or a format whose reader numbers annotations in file order, after an
    insertion) would show as everything removed and re-added or reshaped.
"""

from __future__ import annotations

from array import array

import numpy as np

from ..agree.matching import match
from ..geometry import AREA_KINDS, Polygons
from ..model import Annotation, Dataset, Item
from ..raster import first_error, rasterize
from ..rle import RLE
from ..rle import iou as rle_iou

STABLE_ID_SHARE = 0.9
# COCOeval-style inclusive threshold: an annotation pair needs IoU >= match_iou (and > 0)
DIFF_COMPARISON = ">="


def ids_are_stable(pairs, base: Dataset, head: Dataset, min_iou: float = 0.5) -> bool:
    """Whether annotation ids identify the same object in both versions (see module doc).

    One pass over each dataset for the ids (kept as packed integers when
    they are), one over the pairs of images for the annotations an id names
    on both sides: memory holds the ids and one pair of images.
    """
    b_ids, h_ids = _unique_ids(base), _unique_ids(head)
    if b_ids is None or h_ids is None:
        return False
    shared = _shared_count(b_ids, h_ids)
    if not shared:
        return not len(b_ids) or not len(h_ids)
    allowed = (1.0 - STABLE_ID_SHARE) * shared
    bad = shared  # an id counts as good once found on a pair of images with the same object
    for bi, hi in pairs:
        if bad <= allowed:
            break
        if bi is None or hi is None:
            continue
        on_head = {a.id: a for a in hi.annotations}
        for ba in bi.annotations:
            ha = on_head.get(ba.id)
            # Same image, and the same object: an equal or overlapping shape. Ids a
            # reader numbered in file order shift when one annotation is inserted,
            # and then point at a neighbour elsewhere in the image.
            if ha is not None and _same_object(ba, ha, bi, hi, min_iou):
                bad -= 1
    return bad <= allowed


def _same_object(ba, ha, bi, hi, min_iou: float) -> bool:
    if geometry_same(ba, ha):
        return True
    iou = pair_iou(ba, ha, bi, hi)
    return iou is None or iou >= min_iou  # no pixels to compare: give the id the benefit of the doubt


def _unique_ids(ds: Dataset):
    """The annotation ids of ``ds`` (a sorted ``int64`` array, or a set), or ``None`` when one is missing or repeated."""
    ids = array("q")
    loose = None  # the ids once one is not a machine integer
    for _, ann in ds.annotations():
        i = ann.id
        if i is None:
            return None
        if loose is None:
            try:
                ids.append(i)
                continue
            except (TypeError, OverflowError):
                loose = set(ids.tolist())
                if len(loose) != len(ids):
                    return None
        if i in loose:
            return None
        loose.add(i)
    if loose is not None:
        return loose
    packed = np.frombuffer(ids, np.int64) if len(ids) else np.zeros(0, np.int64)
    # the ids sorted in 4 bytes each where they fit (they do in every dataset seen): half the memory
    fits = not packed.size or (packed.min() >= -(1 << 31) and packed.max() < (1 << 31))
    packed = packed.astype(np.int32 if fits else np.int64)
    del ids
    packed.sort()
    if packed.size > 1 and not np.all(packed[1:] != packed[:-1]):
        return None
    return packed


#: Ids of one side looked up in the other at a time (:func:`_shared_count`): no copy of both sides.
_LOOKUP_RUN = 1 << 20


def _shared_count(a, b) -> int:
    """How many ids two :func:`_unique_ids` results share."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if not a.size:
            return 0
        if a.dtype != b.dtype:  # one side's ids need 8 bytes: compare both so (rare)
            a, b = a.astype(np.int64), b.astype(np.int64)
        shared = 0
        for k in range(0, b.size, _LOOKUP_RUN):  # sorted a, unique ids: b's found in a, a run at a time
            run = b[k:k + _LOOKUP_RUN]
            at = np.searchsorted(a, run)
            inside = at < a.size
            shared += int(np.count_nonzero(a[at[inside]] == run[inside]))
        return shared
    a = set(a.tolist()) if isinstance(a, np.ndarray) else a
    b = set(b.tolist()) if isinstance(b, np.ndarray) else b
    return len(a & b)


def _rasterizable(ann: Annotation, item: Item) -> bool:
    g = ann.geometry
    if not isinstance(g, AREA_KINDS) or item.size is None:
        return False
    return not isinstance(g, RLE) or g.shape == item.size


def geometry_equal(ga, gb) -> bool:
    """Same geometry value: same kind (reader subclasses included), equal coordinates / counts."""
    if isinstance(ga, Polygons) and isinstance(gb, Polygons):
        # Fast path: the lists as read (COCO keeps them) are equal.
        if ga.source is not None and gb.source is not None and ga.source == gb.source:
            return True
        return ga == gb
    if isinstance(ga, RLE) and isinstance(gb, RLE):
        return ga == gb
    return type(ga) is type(gb) and ga == gb


def geometry_same(a: Annotation, b: Annotation) -> bool:
    """Whether two annotations have the same geometry value (see :func:`geometry_equal`)."""
    return geometry_equal(a.geometry, b.geometry)


def pair_iou_possible(a: Annotation, b: Annotation, a_item: Item, b_item: Item) -> bool:
    """Whether :func:`pair_iou` can compute a value."""
    return _rasterizable(a, a_item) and _rasterizable(b, b_item) and a_item.size == b_item.size


def pair_iou(a: Annotation, b: Annotation, a_item: Item, b_item: Item) -> float | None:
    """Mask IoU of two annotations, ``None`` when either has no pixels or sizes differ."""
    if not pair_iou_possible(a, b, a_item, b_item):
        return None
    h, w = a_item.size
    return float(rle_iou([a.to_rle(h, w)], [b.to_rle(h, w)])[0, 0])


def match_by_id(b_anns, h_anns):
    """``(pairs, removed, added)`` pairing annotations with equal ids (first with first on duplicates)."""
    h_by_id: dict = {}
    for a in h_anns:
        h_by_id.setdefault(a.id, []).append(a)
    pairs, removed, used = [], [], set()
    for a in b_anns:
        cands = h_by_id.get(a.id)
        if a.id is not None and cands:
            h = cands.pop(0)
            pairs.append((a, h, None))
            used.add(id(h))
        else:
            removed.append(a)
    added = [a for a in h_anns if id(a) not in used]
    return pairs, removed, added


def _same_quick(a: Annotation, b: Annotation) -> bool:
    return a.category_id == b.category_id and geometry_equal(a.geometry, b.geometry)


def _pixels(geometries, size) -> list[RLE]:
    """RLEs of ``geometries`` (all rasterizable: see :func:`_rasterizable`); the first error otherwise."""
    out = rasterize(geometries, size)
    err = first_error(out)
    if err is not None:
        raise err
    return out


def match_by_iou(b_anns, h_anns, b_item: Item, h_item: Item, same_class, threshold: float):
    """``(pairs, removed, added)`` by optimal IoU assignment; pairs carry their IoU.

    ``same_class(a, b)`` tells whether two annotations have the same class
    (after category renames), used to break ties.
    """
    if len(b_anns) == len(h_anns) and all(_same_quick(a, b) for a, b in zip(b_anns, h_anns)):
        return [(a, b, 1.0 if _rasterizable(a, b_item) else None) for a, b in zip(b_anns, h_anns)], [], []
    pairs = []
    bi = [i for i, a in enumerate(b_anns) if _rasterizable(a, b_item)]
    hi = [i for i, a in enumerate(h_anns) if _rasterizable(a, h_item)]
    done_b, done_h = set(), set()
    if bi and hi and b_item.size == h_item.size:
        h, w = h_item.size
        br = _pixels([b_anns[i].geometry for i in bi], (h, w))
        hr = _pixels([h_anns[i].geometry for i in hi], (h, w))
        m = rle_iou(br, hr)
        bonus = np.array([[1e-9 if same_class(b_anns[i], h_anns[j]) else 0.0 for j in hi] for i in bi])
        rows, cols, ious = match(m, threshold, comparison=DIFF_COMPARISON, objective="total_iou", tie_break=bonus)
        for r, c, v in zip(rows, cols, ious):
            pairs.append((b_anns[bi[r]], h_anns[hi[c]], float(v)))
            done_b.add(bi[r])
            done_h.add(hi[c])
    # What IoU cannot pair (no pixels, or the image was resized): exact equality only.
    for i, a in enumerate(b_anns):
        if i in done_b:
            continue
        for j, b in enumerate(h_anns):
            if j not in done_h and geometry_equal(a.geometry, b.geometry):
                pairs.append((a, b, pair_iou(a, b, b_item, h_item)))
                done_b.add(i)
                done_h.add(j)
                break
    removed = [a for i, a in enumerate(b_anns) if i not in done_b]
    added = [a for j, a in enumerate(h_anns) if j not in done_h]
    return pairs, removed, added
