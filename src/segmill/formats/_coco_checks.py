"""Checks behind the COCO instances reader.

The ``errors=raise|skip|keep`` policy (:class:`_Errors`, a thin layer over
:class:`segmill.validate.ErrorPolicy`), value problems worded for the user,
and the checks run in bulk once per file: the numeric range of packed
polygon coordinates, id integrity in raise mode, and skip-mode removal of
duplicate category and image ids.

Untrusted values appear in messages only through
:func:`segmill.validate.brief` (bounded, one line, never recursing).
"""

from __future__ import annotations

import sys
from itertools import chain
from typing import TYPE_CHECKING

from ..errors import InputError, LimitError
from ..geometry import InvalidGeometry
from ..limits import COUNTS_MAX, check_pixels
from ..model import Dataset
from ..validate import ErrorPolicy, brief, hashable_id, int_in
from ._coco_geom import CocoPolygons, PolygonPack, _part_problem

if TYPE_CHECKING:
    from ._coco_read import CocoOrder


class _Errors:
    """The ``errors=`` policy of one file: raise, or list the skipped record (skip and keep modes).

    Parameters
    ----------
    mode : {"raise", "skip", "keep"} or ErrorPolicy
        An unknown mode is a :class:`~segmill.errors.UsageError`.
    path : path
        The file read, named in every message.
    """

    __slots__ = ("policy", "mode", "path", "skipped")

    def __init__(self, mode, path):
        self.policy = ErrorPolicy.of(mode)
        self.mode = self.policy.mode
        self.path = str(path)
        self.skipped: list[dict[str, str]] = self.policy.skipped

    def bad(self, record: str, reason: str) -> None:
        """Raise (raise mode) or record a skipped record (skip and keep modes)."""
        self.policy.drop(InputError(reason, self.path, record))

    def drop(self, exc: InputError) -> None:
        """The same for an error a validator raised (it names the file and record already)."""
        self.policy.drop(exc)


def _is_id(v) -> bool:
    """An id the fast paths take as is: an int, or a str :func:`~segmill.validate.hashable_id` accepts."""
    t = type(v)
    return t is int or (t is str and 0 < len(v) <= 256)


def check_id(v, what: str, path, record: str) -> None:
    """Raise the validator's :class:`InputError` for an id :func:`_is_id` refused."""
    hashable_id(v, what, path, record)


def image_record(iid) -> str:
    """``image id 42`` for messages, whatever the id is."""
    return f"image id {brief(iid)}"


def check_image_size(w, h, path, record: str) -> None:
    """Width and height of an image record: each absent or a non-negative int, together within the pixel limit.

    Sizes beyond what an RLE can count (2**32 - 1 pixels) are absurd whatever
    the limit; others over :func:`segmill.limits.max_pixels` are a
    :class:`~segmill.errors.LimitError`.
    """
    if w is not None:
        int_in(w, "image width", path, record, lo=0)
    if h is not None:
        int_in(h, "image height", path, record, lo=0)
    if w is not None and h is not None:
        if w * h > COUNTS_MAX:
            raise LimitError(f"image size {w}x{h} is absurd (more than 2**32 - 1 pixels)", path, record)
        check_pixels(h, w, path, record)


def _bbox_problem(b) -> str | None:
    """Why ``b`` is not a COCO bbox, or ``None``.

    Always checks finiteness: this is the careful path, and a literal such as
    ``1e999`` parses to infinity without the parser reporting it.
    """
    if type(b) is list and len(b) == 4 and finite_values(b):
        return None
    return f"bbox must be four finite numbers [x, y, w, h], got {brief(b)}"


#: The largest float: an integer beyond it cannot be a coordinate, an area or a score.
FMAX = sys.float_info.max


def finite_values(values) -> bool:
    """Every value is a finite float or an int within the float range (not a bool, not NaN, not inf).

    As :func:`segmill.validate.finite` decides, without raising: for the
    fast paths, where a value that fails takes the careful path.
    """
    for v in values:
        t = type(v)
        if t is float:
            if v - v != 0:  # NaN or infinity
                return False
        elif t is not int or not -FMAX <= v <= FMAX:
            return False
    return True


# --------------------------------------------------------------- column checks
# The fast path's tests, made over a column of a slice of records at once (see
# _coco_read._AnnotationReader._columns): each passes only if every value would.

#: ``odd(n)``: true for an odd int (a C call, for ``map``).
odd = (1).__and__
_NONE = type(None)


def ids_ok(col) -> bool:
    """Every value is an int, None or a str of 1 to 256 characters (what the fast path takes as an id)."""
    types = set(map(type, col))
    if types <= {int, _NONE}:
        return True
    if not types <= {int, _NONE, str}:
        return False
    lens = [len(v) for v in col if type(v) is str]
    return min(lens) > 0 and max(lens) <= 256


def crowds_ok(col) -> bool:
    """Every ``iscrowd`` is the int 0 or 1."""
    return set(map(type, col)) == {int} and set(col) <= {0, 1}


def finite_column(col, optional: bool = True) -> bool:
    """Every value is a finite float or an int within the float range (as the fast path tests one), or None
    where ``optional``."""
    types = set(map(type, col))
    if not types <= ({float, int, _NONE} if optional else {float, int}):
        return False
    if _NONE in types:
        col = [v for v in col if v is not None]
        if not col:
            return True
    try:
        total = sum(col)
    except OverflowError:  # an int beyond the float range among floats
        return False
    if total - total != 0:  # a NaN or an infinity somewhere (or a sum beyond the range: the record path decides)
        return False
    return int not in types or (-FMAX <= min(col) and max(col) <= FMAX)


def bbox_column(col):
    """The bboxes of a slice as the model holds them (tuples or None), or None if one is not four finite numbers."""
    types = set(map(type, col))
    if not types <= {list, _NONE}:
        return None
    boxes = col if _NONE not in types else [b for b in col if b is not None]
    if boxes and (set(map(len, boxes)) != {4} or not finite_column(list(chain.from_iterable(boxes)), False)):
        return None
    if _NONE not in types:
        return list(map(tuple, col))
    return [None if b is None else tuple(b) for b in col]


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
            rec = (f"annotation id {brief(ann.id)} (image id {brief(iid)})" if ann.id is not None
                   else f"annotations[{pos}] (image id {brief(iid)})")
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
            err.bad(f"category id {brief(c.id)}", f"duplicate category id {brief(c.id)}")
            continue
        seen.add(c.id)
        cats.append(c)
    ds.categories = cats
    seen = set()
    items = []
    for it in ds.items:
        if it.id in seen:
            err.bad(image_record(it.id), f"duplicate image id {brief(it.id)} ({len(it.annotations)} annotations)")
            continue
        seen.add(it.id)
        items.append(it)
    ds.items = items
    if err.skipped:
        ds.meta["skipped"] = err.skipped
