"""Checks behind the COCO instances reader.

The ``errors=raise|skip|keep`` policy (:class:`_Errors`), value problems
worded for the user, and the checks run in bulk once per file: the numeric
range of packed polygon coordinates, id integrity in raise mode, and
skip-mode removal of duplicate category and image ids.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import InputError
from ..geometry import InvalidGeometry
from ..model import Dataset
from ..rle._rle import MAX_PIXELS
from ._coco_geom import CocoPolygons, PolygonPack, _part_problem

if TYPE_CHECKING:
    from ._coco_read import CocoOrder


class _Errors:
    """Applies the errors=raise|skip|keep convention and records skipped records."""

    def __init__(self, mode: str, path):
        if mode not in ("raise", "skip", "keep"):
            raise ValueError(f"errors must be 'raise', 'skip' or 'keep', got {mode!r}")
        self.mode = mode
        self.path = str(path)
        self.skipped: list[dict[str, str]] = []

    def bad(self, record: str, reason: str) -> None:
        """Raise (raise mode) or record a skipped record (skip and keep modes)."""
        if self.mode == "raise":
            raise InputError(reason, self.path, record)
        self.skipped.append({"path": self.path, "record": record, "reason": reason})


def _is_id(v) -> bool:
    return (type(v) is int) or (type(v) is str)


def _size_problem(w, h) -> str | None:
    for name, v in (("width", w), ("height", h)):
        if v is not None and (type(v) is not int or v < 0):
            return f"image {name} must be a non-negative integer, got {v!r}"
    if w is not None and h is not None and w * h > MAX_PIXELS:
        return f"image size {w}x{h} is absurd (more than 2**32 - 1 pixels)"
    return None


def _bbox_problem(b, nonfinite: bool) -> str | None:
    if type(b) is list and len(b) == 4:
        x, y, w, h = b
        tx, ty, tw, th = type(x), type(y), type(w), type(h)
        if ((tx is float or tx is int) and (ty is float or ty is int) and (tw is float or tw is int)
                and (th is float or th is int)) and not (nonfinite and not all(map(math.isfinite, b))):
            return None
    return f"bbox must be four finite numbers [x, y, w, h], got {b!r}"


def _check_pack(pack: PolygonPack, anns: list, items: list, err: _Errors) -> None:
    """The numeric check of every packed coordinate: raise on the first bad one, or keep them as invalid."""
    bad = pack.bad_annotations()
    if not bad.size:
        return
    pack.usable = False
    wanted = set(bad.tolist())
    for pos, ann in enumerate(anns):
        g = ann.geometry
        if type(g) is not CocoPolygons or g._pack is not pack or g._k not in wanted:
            continue
        g._pack = None
        why = _part_problem(g._src)
        if err.mode == "raise":
            # Raise mode skips no record, so the position in file order is the record's index.
            iid = items[pos].id
            rec = (f"annotation id {ann.id!r} (image id {iid!r})" if ann.id is not None
                   else f"annotations[{pos}] (image id {iid!r})")
            err.bad(rec, why)
        ann.geometry = InvalidGeometry(g._src, why)


def _integrity_ok(cats: list, cat_ids: set, items: list, order: CocoOrder) -> bool:
    """What :meth:`Dataset.validate` checks, answered cheaply in bulk: True when it would pass.

    Valid only right after :func:`read_annotations` in raise mode (no
    placeholders, no :class:`InvalidGeometry`; RLE sizes were matched against
    their image while parsing, see :func:`parse_segmentation`).
    """
    if order.undeclared or len(cat_ids) != len(cats) or len({it.id for it in items}) != len(items):
        return False
    ids = order.ids
    unnamed = ids.count(None)
    return len(set(ids)) == len(ids) - unnamed + (1 if unnamed else 0)


def _drop_duplicates(ds: Dataset, err: _Errors) -> None:
    """Skip mode: keep the first of duplicate category and image ids, report the rest."""
    seen: set = set()
    cats = []
    for c in ds.categories:
        if c.id in seen:
            err.bad(f"category id {c.id!r}", f"duplicate category id {c.id!r}")
            continue
        seen.add(c.id)
        cats.append(c)
    ds.categories = cats
    seen = set()
    items = []
    for it in ds.items:
        if it.id in seen:
            err.bad(f"image id {it.id!r}", f"duplicate image id {it.id!r} ({len(it.annotations)} annotations)")
            continue
        seen.add(it.id)
        items.append(it)
    ds.items = items
    if err.skipped:
        ds.meta["skipped"] = err.skipped
