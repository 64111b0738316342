"""The stored ``bbox`` and ``area`` of every annotation, checked once, as arrays (G011, G012, G015, G016).

A stored bbox is well-formed when it is ``[x, y, w, h]`` of finite numbers
(``int`` or ``float``, not ``bool``) with ``w, h >= 0``; a stored area when it
is such a number ``>= 0``. The common case (tuples of plain numbers, every
area a plain number or ``None``) is decided with numpy in one go; anything
else takes the per-annotation test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import numpy as np

__all__ = ["Stored", "stored", "check_stored"]


@dataclass
class Stored:
    """Per annotation row: the stored values as float64 (NaN where malformed) and whether they are well-formed."""

    box: np.ndarray  # (n, 4)
    box_ok: np.ndarray
    box_none: np.ndarray
    area: np.ndarray
    area_ok: np.ndarray
    area_none: np.ndarray


def _finite(v) -> bool:
    t = type(v)
    if t is float or t is int:  # the common case, without the isinstance chain
        return math.isfinite(v)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_stored(a) -> tuple[bool, bool]:
    """``(bbox well-formed, area well-formed)`` of one annotation."""
    b = a.bbox
    bbox_ok = b is not None and len(b) == 4 and all(_finite(v) for v in b) and b[2] >= 0 and b[3] >= 0
    area_ok = a.area is not None and _finite(a.area) and a.area >= 0
    return bbox_ok, area_ok


def _boxes_fast(bbs: list):
    """``(box, ok, none)`` when every bbox is None or 4 plain numbers, else None."""
    n = len(bbs)
    types = set(map(type, bbs))
    if not types <= {tuple, list, type(None)}:
        return None
    none = np.fromiter((b is None for b in bbs), bool, n) if type(None) in types else np.zeros(n, bool)
    present = [b for b in bbs if b is not None] if none.any() else bbs
    if not set(map(len, present)) <= {4} or not set(map(type, chain.from_iterable(present))) <= {int, float}:
        return None
    try:
        vals = np.fromiter(chain.from_iterable(present), np.float64, 4 * len(present)).reshape(-1, 4)
    except OverflowError:  # an int beyond the float range: the per-annotation test words it
        return None
    box = np.full((n, 4), np.nan)
    box[~none] = vals
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(box).all(axis=1) & (box[:, 2] >= 0) & (box[:, 3] >= 0)
    box[~ok] = np.nan
    return box, ok, none


def _areas_fast(areas: list):
    """``(area, ok, none)`` when every area is None or a plain number, else None."""
    n = len(areas)
    types = set(map(type, areas))
    if not types <= {int, float, type(None)}:
        return None
    none = np.fromiter((v is None for v in areas), bool, n) if type(None) in types else np.zeros(n, bool)
    try:
        if none.any():
            vals = np.fromiter((math.nan if v is None else v for v in areas), np.float64, n)
        else:
            vals = np.fromiter(areas, np.float64, n)
    except OverflowError:
        return None
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(vals) & (vals >= 0) & ~none
    vals[~ok] = np.nan
    return vals, ok, none


def stored(ctx) -> Stored:
    """The :class:`Stored` table of ``ctx``'s annotation rows (cached)."""
    got = ctx.cache.get("stored")
    if got is not None:
        return got
    anns = ctx.table().anns
    n = len(anns)
    bbs = list(map(attrgetter("bbox"), anns))
    areas = list(map(attrgetter("area"), anns))
    fb = _boxes_fast(bbs)
    fa = _areas_fast(areas)
    if fb is None or fa is None:
        flags = [check_stored(a) for a in anns]
    if fb is None:
        nan4 = [math.nan] * 4
        ok = np.fromiter((f[0] for f in flags), bool, n)
        box = np.array([b if k else nan4 for b, k in zip(bbs, ok.tolist())], np.float64).reshape(n, 4)
        fb = (box, ok, np.fromiter((b is None for b in bbs), bool, n))
    if fa is None:
        ok = np.fromiter((f[1] for f in flags), bool, n)
        area = np.array([v if k else math.nan for v, k in zip(areas, ok.tolist())], np.float64).reshape(n)
        fa = (area, ok, np.fromiter((v is None for v in areas), bool, n))
    got = ctx.cache["stored"] = Stored(*fb, *fa)
    return got
