"""COCO instances JSON -> Dataset, keeping everything needed to write it back.

What is kept, beyond the model's fields: every unknown key in ``extra`` (in
source order), the key order of each record (``origin`` ``("coco", keys)`` on the model
object, so key presence and order survive a round trip), the raw segmentation
values (see :mod:`._coco_geom`), the top-level key order and the annotation
order of the file (``dataset.meta["coco"]``).
"""

from __future__ import annotations

from array import array
from collections import deque
from itertools import accumulate, chain, repeat
from pathlib import Path

from .._progress import track
from ..errors import GeometryError, InputError, SegmillError
from ..geometry import InvalidGeometry
from ..limits import max_pixels
from ..model import Annotation, Category, Dataset, Item
from ..validate import brief, string
from . import _coco_json as J
from ._coco_checks import (
    FMAX,
    _bbox_problem,
    _check_pack,
    _drop_duplicates,
    _Errors,
    _integrity_ok,
    _is_id,
    bbox_column,
    check_id,
    check_image_size,
    crowds_ok,
    finite_column,
    finite_values,
    ids_ok,
    image_record,
    odd,
)
from ._coco_geom import CocoPolygons, CocoRLE, PolygonPack, decode_compressed, parse_segmentation, polygon_problem

__all__ = ["read_instances", "CocoOrder", "build_dataset_meta"]

_CAT_KEYS = {"id", "name", "supercategory", "isthing", "color"}
_IMG_KEYS = {"id", "file_name", "width", "height", "attributes"}
ANN_KEYS = ("id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd", "score", "attributes")
_ANN_KEYS = set(ANN_KEYS)
_KEY_INFO: dict = {}  # annotation key tuple -> (its interned copy, holds only standard keys)
_interned: dict[tuple, tuple] = {}


def keys_of(d: dict) -> tuple:
    """The record's key order, shared between records with the same order."""
    k = tuple(d)
    return _interned.setdefault(k, k)


_origins: dict = {}


def coco_origin(keys: tuple) -> tuple:
    """The model ``origin`` of a record read with key order ``keys``: ``("coco", keys)``, shared."""
    o = _origins.get(keys)
    if o is None:
        o = _origins.setdefault(keys, ("coco", keys))
    return o


class CocoOrder:
    """The annotations in file order, with the item each belonged to."""

    __slots__ = ("anns", "items", "ids", "undeclared")

    def __init__(self):
        self.anns: list = []
        self.items: list = []
        self.ids: list = []  # the annotation ids, parallel to anns (for the integrity check)
        self.undeclared = False  # an annotation names a category that is not declared

    def __repr__(self):
        return f"CocoOrder({len(self.anns)} annotations)"

    def __eq__(self, other):
        # Two reads of one file give equal datasets (Dataset equality compares meta).
        if not isinstance(other, CocoOrder):
            return NotImplemented
        return self.anns == other.anns and [i.id for i in self.items] == [i.id for i in other.items]

    __hash__ = None

    def restricted(self, items) -> "CocoOrder | None":
        """The file order of the annotations of ``items`` (an edit of the dataset read: annotations dropped
        or replaced, but never a new id), by annotation id; ``None`` when ids do not say it."""
        rank: dict = {}
        for r, aid in enumerate(self.ids):
            if aid is None or rank.setdefault(aid, r) != r:
                return None
        anns = [a for it in items for a in it.annotations]
        owners = [it for it in items for _ in it.annotations]
        ranks = [rank.get(a.id, -1) for a in anns]
        if ranks and min(ranks) < 0:
            return None
        out = CocoOrder()
        for k in sorted(range(len(anns)), key=ranks.__getitem__):
            out.anns.append(anns[k])
            out.items.append(owners[k])
            out.ids.append(anns[k].id)
        out.undeclared = self.undeclared
        return out


def read_categories(raw, err: _Errors) -> list[Category]:
    if raw is None:
        return []
    if type(raw) is not list:
        raise InputError(f"'categories' must be a list, got {type(raw).__name__}", err.path)
    out = []
    for i, c in enumerate(raw):
        rec = f"categories[{i}]"
        if type(c) is not dict:
            err.bad(rec, "a category must be an object")
            continue
        cid, name = c.get("id"), c.get("name")
        try:
            if not _is_id(cid):
                check_id(cid, "category id", err.path, rec)
            rec = f"category id {brief(cid)}"
            string(name, "category name", err.path, rec)
        except InputError as exc:
            err.drop(exc)
            continue
        sup = c.get("supercategory")
        color = c.get("color")
        isthing = c.get("isthing")
        extra = {k: v for k, v in c.items() if k not in _CAT_KEYS}
        if sup is not None and type(sup) is not str:
            extra["supercategory"], sup = sup, None
        if color is not None and not (type(color) is list and len(color) == 3
                                      and all(type(v) is int and 0 <= v <= 255 for v in color)):
            extra["color"], color = color, None  # carried through as found
        if isthing is not None and isthing not in (0, 1):
            extra["isthing"], isthing = isthing, None
        cat = Category(cid, name, sup, None if isthing is None else bool(isthing), color, extra)
        cat.origin = coco_origin(keys_of(c))
        out.append(cat)
    return out


def read_images(raw, err: _Errors) -> list[Item]:
    if type(raw) is not list:
        what = "missing" if raw is None else f"a {type(raw).__name__}"
        raise InputError(f"'images' must be a list of image records, it is {what}", err.path)
    out = []
    add = out.append
    trusted = Item._trusted
    intern = _interned.setdefault
    limit = max_pixels()
    for i, im in enumerate(raw):
        if type(im) is not dict:
            err.bad(f"images[{i}]", "an image must be an object")
            continue
        iid = im.get("id")
        fn = im.get("file_name", "")
        w, h = im.get("width"), im.get("height")
        if not (_is_id(iid) and type(w) is int and type(h) is int and w >= 0 and h >= 0 and w * h <= limit
                and type(fn) is str and len(fn) <= 4096):
            try:  # the validators word the problem (sizes may also be absent)
                if not _is_id(iid):
                    check_id(iid, "image id", err.path, f"images[{i}]")
                rec = image_record(iid)
                check_image_size(w, h, err.path, rec)
                string(fn, "file_name", err.path, rec)
            except InputError as exc:
                err.drop(exc)
                continue
        attrs = im.get("attributes")
        extra = {k: v for k, v in im.items() if k not in _IMG_KEYS}
        if attrs is not None and type(attrs) is not dict:
            extra["attributes"], attrs = attrs, None
        item = trusted(iid, fn, w, h, [], None, attrs, extra)
        keys = tuple(im)
        item.origin = coco_origin(intern(keys, keys))
        add(item)
    return out


def read_annotations(raw, items: list[Item], cat_ids: set, err: _Errors, nonfinite: bool,
                     order: CocoOrder, results: bool = False, compact: bool = False) -> list[Item]:
    """Attach annotations to items; returns placeholder items made in keep mode.

    ``raw`` is the parsed ``annotations`` list, or a
    :class:`~._coco_json.SplitDocument` whose annotations are parsed a
    slice at a time. Records are read a slice at a time either way, by
    :class:`_AnnotationReader`. ``compact`` (big files parsed by the
    standard library, parts may be ``array('d')``) checks each part on its
    own and packs nothing, so memory stays lean.
    """
    if raw is None:
        return []
    split = type(raw) is J.SplitDocument
    reader = _AnnotationReader(items, cat_ids, err, nonfinite, order, results, not compact, split)
    if split:
        for base, recs, floats in track(raw.slices(), -(-len(raw) // J.SLICE), "reading annotations"):
            reader.feed(recs, base, floats)
        return reader.finish()
    if type(raw) is not list:
        raise InputError(f"'annotations' must be a list, got {type(raw).__name__}", err.path)
    for base in track(range(0, len(raw), J.SLICE), -(-len(raw) // J.SLICE), "reading annotations"):
        recs = raw[base:base + J.SLICE]
        reader.feed(recs, base)
        raw[base:base + len(recs)] = [None] * len(recs)  # the parsed dicts are not needed any more
    return reader.finish()


class _AnnotationReader:
    """Annotation records -> the model, a slice of records at a time, keeping the file order.

    A slice whose records are all plain polygon annotations in good order is
    checked column by column (:meth:`_columns`: one C loop per field over
    the slice, not a dozen Python calls per record) and built in one tight
    loop. Any other slice goes record by record (:meth:`_records`):
    well-formed records take a fast path whose values are checked inline,
    anything unusual takes :func:`_careful_annotation`, which words the
    error. Either way the coordinates of polygon parts go into one
    :class:`PolygonPack` (``array('d').fromlist`` rejects what is not a
    number) whose numeric range is checked for all annotations at once by
    :meth:`finish`; errors still come in file order: before the careful
    path reports a record, the pack is checked for an earlier bad
    coordinate.
    """

    def __init__(self, items, cat_ids: set, err: _Errors, nonfinite: bool, order: CocoOrder, results: bool,
                 packing: bool, lean: bool = False):
        self.by_id: dict = {}
        for it in items:
            self.by_id.setdefault(it.id, it)
        self.cat_ids = cat_ids
        self.err = err
        self.nonfinite = nonfinite
        self.order = order
        self.results = results
        self.packing = packing  # False: parts may be array('d') (compacted while parsing); nothing is packed
        self.lean = lean  # big file: all-float parts become array('d') copies out of the pack (8 bytes a coordinate)
        self.placeholders: list[Item] = []
        self.seen_ann: set = set()
        self.pack = PolygonPack()
        self.buf = array("d")  # every packed coordinate ...
        self.part_len: list = []  # ... coordinates per part ...
        self.nparts: list = []  # ... parts per packed annotation ...
        self.owners: list = []  # ... and the item it was read into
        self.decoded: dict = {}  # id(RLE object) -> its counts, for the slice being read (see _predecode)

    def feed(self, recs: list, base: int, floats: bool = False) -> None:
        """Read the records ``recs``, the first of which is ``annotations[base]``.

        ``floats``: every coordinate of their polygon parts is a float (the
        parts may be replaced by ``array('d')`` copies when the reader is lean).
        """
        if not recs:
            return
        if self.packing and self.err.mode != "skip" and self._columns(recs, floats and self.lean):
            return
        self._records(recs, base)

    def finish(self) -> list[Item]:
        """Check the packed coordinates (raise on the first bad one, or keep them as invalid); the placeholders."""
        if self.nparts:
            self._check_pack()
        return self.placeholders

    def _check_pack(self) -> None:
        self.pack.fill(self.buf, self.part_len, self.nparts, self.owners)
        _check_pack(self.pack, self.order.anns, self.order.items, self.err)

    def _records(self, recs: list, base: int) -> None:
        """Read ``recs`` record by record (see the class docs).

        A well-formed record takes the fast path, its values checked inline
        (:func:`_plain_values`, :meth:`_fast_geometry`, :func:`_keys_and_owned`);
        anything else :meth:`_careful_record`.
        """
        by_id, cat_ids = self.by_id, self.cat_ids
        skip = self.err.mode == "skip"
        order = self.order
        add_ann, add_item, add_id = order.anns.append, order.items.append, order.ids.append
        undeclared = False
        plain, geometry, keys_and_owned = _plain_values, self._fast_geometry, _keys_and_owned
        trusted = Annotation._trusted
        self.decoded = self._predecode(recs) if not skip else {}
        for i, a in enumerate(recs, base):
            if type(a) is dict and not skip:
                aid = a.get("id")
                iid = a.get("image_id")
                cid = a.get("category_id")
                try:
                    item = by_id.get(iid)
                except TypeError:  # unhashable (a list, an object): the careful path words it
                    item = None
                ta, tc = type(aid), type(cid)
                values = plain(a) if (
                    item is not None and (ta is int or aid is None or (ta is str and 0 < len(aid) <= 256))
                    and (tc is int or cid is None or (tc is str and 0 < len(cid) <= 256))) else None
                if values is not None:
                    crowd, area, bbox, score = values
                    seg = a.get("segmentation")
                    geom = None if seg is None else geometry(seg, bbox, item)
                    if geom is not False:
                        keys, owned = keys_and_owned(a)
                        ann = trusted(aid, cid, geom, crowd == 1, area, bbox, score, owned)
                        ann.origin = coco_origin(keys)
                        item.annotations.append(ann)
                        add_ann(ann)
                        add_item(item)
                        add_id(aid)
                        if cid not in cat_ids and cid is not None:
                            undeclared = True
                        continue
            ann, item = self._careful_record(i, a)
            if ann is not None:
                item.annotations.append(ann)
                add_ann(ann)
                add_item(item)
                add_id(ann.id)
                if ann.category_id not in cat_ids and ann.category_id is not None:
                    undeclared = True
        if undeclared:
            order.undeclared = True

    def _predecode(self, recs: list) -> dict:
        """The compressed RLEs of ``recs`` sized as their image, decoded in one kernel call (see decode_compressed).

        Only the common form is taken (``counts`` a ``str``, ``size`` two ints
        equal to the image's, which was checked with the image); the rest, and
        any string that does not decode, go through :func:`parse_segmentation`
        record by record as before, in file order.
        """
        by_id = self.by_id
        pending = []
        for a in recs:
            if type(a) is not dict:
                continue
            seg = a.get("segmentation")
            if type(seg) is not dict or type(seg.get("counts")) is not str:
                continue
            size = seg.get("size")
            if type(size) is not list or len(size) != 2 or type(size[0]) is not int or type(size[1]) is not int:
                continue
            try:
                item = by_id.get(a.get("image_id"))
            except TypeError:
                continue
            if item is not None and size[0] == item.height and size[1] == item.width:
                pending.append((seg, size[0], size[1]))
        return decode_compressed(pending) if len(pending) > 1 else {}

    def _fast_geometry(self, seg, bbox, item):
        """The geometry of a plain ``segmentation``; False for the careful path.

        Polygon parts are filed in the pack (``array('d').fromlist`` refuses
        what is not a number; the range is checked by :meth:`finish`).
        """
        if type(seg) is list and seg:
            if self.packing:
                buf, part_len = self.buf, self.part_len
                start, n0 = len(buf), len(part_len)
                for part in seg:
                    n = len(part) if type(part) is list else 0
                    if n < 6 or n & 1:
                        break
                    try:
                        buf.fromlist(part)  # TypeError on anything but int/float/bool
                    except (TypeError, OverflowError):
                        break
                    part_len.append(n)
                else:
                    geom = object.__new__(CocoPolygons)
                    geom._src = seg
                    geom._parts = None
                    geom._cache = None
                    geom._pack = self.pack
                    geom._k = len(self.nparts)
                    self.nparts.append(len(seg))
                    self.owners.append(item)
                    return geom
                del buf[start:]
                del part_len[n0:]
                return False
            if polygon_problem(seg, self.nonfinite) is None:
                return CocoPolygons(seg)
        elif type(seg) is dict and self.decoded:
            counts = self.decoded.get(id(seg))
            if counts is not None:
                return CocoRLE.decoded(seg, counts, item.height, item.width)
        try:
            return parse_segmentation(seg, bbox, item.height, item.width, self.nonfinite)
        except GeometryError:
            return False

    def _careful_record(self, i: int, a):
        """:meth:`_careful_annotation`; when it raises, an earlier bad coordinate in the pack is raised first."""
        try:
            return self._careful_annotation(i, a)
        except InputError:
            if self.nparts:  # an earlier record may hold a bad coordinate: that error comes first
                self._check_pack()
            raise

    def _careful_annotation(self, i: int, a):
        """One annotation record, checked field by field: ``(annotation, item)``; (None, None) when it is skipped."""
        err = self.err
        if type(a) is not dict:
            err.bad(f"annotations[{i}]", "an annotation must be an object")
            return None, None
        aid = a.get("id")
        iid = a.get("image_id")
        cid = a.get("category_id")
        rec = (f"annotation id {brief(aid)} (image id {brief(iid)})" if aid is not None
               else f"annotations[{i}] (image id {brief(iid)})")
        item = self._careful_item(rec, aid, iid, cid)
        if item is None:
            return None, None
        keep = err.mode == "keep"
        odd: dict = {}  # standard keys whose values the model cannot hold: carried through as found
        bbox = _careful_bbox(rec, a.get("bbox"), keep, odd, err)
        if bbox is False:
            return None, None
        area = a.get("area")
        if area is not None and not finite_values((area,)):
            if not keep:
                err.bad(rec, f"area must be a finite number, got {brief(area)}")
                return None, None
            if type(area) is not float:  # not a float-sized number: the model's area cannot hold it
                err.bad(rec, f"area must be a finite number, got {brief(area)}; carried through as found")
                odd["area"], area = area, None
        seg = a.get("segmentation")
        geom = None
        if seg is not None:
            try:
                geom = parse_segmentation(seg, bbox, item.height, item.width, self.nonfinite)
            except GeometryError as exc:
                if not keep:
                    err.bad(rec, str(exc))
                    return None, None
                if type(seg) is list:  # compacted parts back to the lists found in the file
                    seg = [p.tolist() if type(p) is array else p for p in seg]
                geom = InvalidGeometry(seg, str(exc))
        crowd = a.get("iscrowd", 0)
        if type(crowd) is not int or crowd not in (0, 1):
            why = f"iscrowd must be 0 or 1, got {brief(crowd)}"
            if not keep:
                err.bad(rec, why)
                return None, None
            # Kept as found (written back unchanged); the model reads it as pycocotools does: truthy = crowd.
            odd["iscrowd"], crowd = crowd, bool(crowd)
            err.bad(rec, f"{why}; carried through as found, read as {'crowd' if crowd else 'not crowd'}")
        score = a.get("score")
        if score is not None and not finite_values((score,)):
            err.bad(rec, f"score must be a finite number, got {brief(score)}")
            return None, None
        attrs = a.get("attributes")
        extra = {k: v for k, v in a.items() if k not in _ANN_KEYS or k in odd}
        if attrs is not None and type(attrs) is not dict:
            extra["attributes"], attrs = attrs, None
        ann = Annotation(aid, cid, geom, bool(crowd), area, bbox, score, attrs if attrs is not None else {}, extra)
        ann.origin = coco_origin(keys_of(a))
        return ann, item

    def _careful_item(self, rec: str, aid, iid, cid):
        """The item an annotation belongs to, once its ids are checked; None when the record is skipped."""
        err = self.err
        for value, what, optional in ((aid, "annotation id", True), (iid, "image_id", False),
                                      (cid, "category_id", True)):
            if not (optional and value is None) and not _is_id(value):
                try:
                    check_id(value, what, err.path, rec)
                except InputError as exc:
                    err.drop(exc)
                    return None
        item = self.by_id.get(iid)
        if item is None:
            if err.mode != "keep":
                err.bad(rec, f"image_id {brief(iid)} is not a listed image")
                return None
            err.bad(rec, f"image_id {brief(iid)} is not a listed image (kept under a placeholder image)")
            item = self.by_id[iid] = Item(iid, "", None, None)
            self.placeholders.append(item)
        if err.mode == "skip":
            if cid not in self.cat_ids and not (self.results and cid is not None):
                err.bad(rec, f"category_id {brief(cid)} is not a declared category")
                return None
            if aid is not None:
                if aid in self.seen_ann:
                    err.bad(rec, f"duplicate annotation id {brief(aid)}")
                    return None
                self.seen_ann.add(aid)
        return item

    def _columns(self, recs: list, lean: bool = False) -> bool:
        """Read ``recs`` column by column if every record would take the fast path as a polygon; else do nothing.

        Every test is the fast path's, made over a whole column: a slice
        passes only when each of its records would have passed, so the
        model built is the one :meth:`_records` builds (same objects, same
        values, same order), and a slice that fails any test is left to it.
        """
        if set(map(type, recs)) != {dict}:
            return False
        cols = _slice_columns(recs)
        if cols is None:
            return False
        keys, aids, iids, cids, segs, areas, bboxes, crowds, scores = cols
        try:
            owners = list(map(self.by_id.get, iids))
        except TypeError:  # an unhashable image_id
            return False
        if not (all(owners) and ids_ok(aids) and ids_ok(cids) and crowds_ok(crowds)
                and finite_column(areas) and finite_column(scores)):
            return False
        bboxes = bbox_column(bboxes)
        if bboxes is None or not self._pack_column(segs, owners, lean):
            return False
        pack = self.pack
        k = len(self.nparts) - len(segs)
        new = object.__new__
        anns = []
        add = anns.append
        for aid, cid, seg, crowd, area, bbox, score, ks, item in zip(aids, cids, segs, crowds, areas, bboxes,
                                                                       scores, keys, owners):
            g = new(CocoPolygons)
            g._src = seg
            g._parts = None
            g._cache = None
            g._pack = pack
            g._k = k
            k += 1
            # Annotation._trusted, inlined: the same attributes in the same order.
            ann = new(Annotation)
            ann.id = aid
            ann.category_id = cid
            ann.geometry = g
            ann.iscrowd = crowd == 1
            ann.area = area
            ann.bbox = bbox
            ann.score = score
            ann.attributes = {}
            ann.extra = {}
            ann.origin = coco_origin(ks)
            item.annotations.append(ann)
            add(ann)
        order = self.order
        order.anns += anns
        order.items += owners
        order.ids += aids
        named = set(cids)
        named.discard(None)
        if not named <= self.cat_ids:
            order.undeclared = True
        return True

    def _pack_column(self, segs, owners, lean: bool) -> bool:
        """File the polygon parts of a slice in the pack, if each is a list of an even number >= 6 of numbers.

        ``lean``: the parts are all floats; they become their ``array('d')`` copies in the pack.
        """
        if set(map(type, segs)) != {list}:
            return False
        counts = list(map(len, segs))
        if 0 in counts:
            return False
        parts = list(chain.from_iterable(segs))
        if set(map(type, parts)) != {list}:
            return False
        lens = list(map(len, parts))
        if min(lens) < 6 or any(map(odd, lens)):
            return False
        buf = self.buf
        start = len(buf)
        try:
            deque(map(buf.fromlist, parts), 0)  # TypeError on anything but int/float/bool, as per record
        except (TypeError, OverflowError):
            del buf[start:]
            return False
        if lean:
            _compact_parts(segs, counts, buf, start, lens)
        self.part_len += lens
        self.nparts += counts
        self.owners += owners
        return True


def _compact_parts(segs, counts, buf: array, start: int, lens) -> None:
    """Replace the parts of ``segs`` (all floats, as parsed) by their ``array('d')`` copies in ``buf``."""
    ends = list(accumulate(lens, initial=start))
    copies = list(map(buf.__getitem__, map(slice, ends, ends[1:])))
    if len(copies) == len(segs):  # one part each
        deque(map(list.__setitem__, segs, repeat(0), copies), 0)
        return
    k = 0
    for seg, n in zip(segs, counts):
        seg[:] = copies[k:k + n]
        k += n


def _slice_columns(recs: list):
    """``(keys, id, image_id, category_id, segmentation, area, bbox, iscrowd, score)`` columns of a slice.

    ``keys`` holds each record's shared key tuple. None when a record has a
    key beyond the standard ones or ``attributes`` (the record path builds
    their ``extra``).
    """
    rows = list(map(tuple, recs))
    kinds = set(rows)
    shared = {}
    for k in kinds:
        info = _KEY_INFO.get(k)
        if info is None:
            info = _KEY_INFO[k] = (_interned.setdefault(k, k), _ANN_KEYS.issuperset(k))
        if not info[1] or "attributes" in k:
            return None
        shared[k] = info[0]
    n = len(recs)
    if len(kinds) == 1:
        (k,) = kinds
        keys = [shared[k]] * n
        cols = dict(zip(k, zip(*map(dict.values, recs))))
        none = (None,) * n
        get = cols.get
        return (keys, get("id", none), get("image_id", none), get("category_id", none), get("segmentation", none),
                get("area", none), get("bbox", none), get("iscrowd", (0,) * n), get("score", none))
    keys = list(map(shared.__getitem__, rows))
    del rows
    g = dict.get
    return (keys, *(list(map(g, recs, repeat(name))) for name in ("id", "image_id", "category_id", "segmentation",
                                                                   "area", "bbox")),
            list(map(g, recs, repeat("iscrowd"), repeat(0))), list(map(g, recs, repeat("score"))))


def _plain_values(a: dict):
    """``(iscrowd, area, bbox, score)`` of a record when each is plain (the bbox as a tuple); None otherwise.

    Floats must be finite (v - v == 0 fails for NaN and inf, which "1e999"
    parses to without the parser saying so) and ints fit a float (the model's type).
    """
    crowd = a.get("iscrowd", 0)
    score = a.get("score")
    area = a.get("area")
    if not (type(crowd) is int and (crowd == 0 or crowd == 1) and (
            score is None or (type(score) is float and score - score == 0)
            or (type(score) is int and -FMAX <= score <= FMAX)) and (
            area is None or (type(area) is float and area - area == 0)
            or (type(area) is int and -FMAX <= area <= FMAX))):
        return None
    bbox = a.get("bbox")
    if bbox is not None:
        if type(bbox) is not list or len(bbox) != 4:
            return None
        x, y, w, h = bbox
        if type(x) is float and type(y) is float and type(w) is float and type(h) is float:
            if not x - x + y - y + w - w + h - h == 0:
                return None
        elif not finite_values(bbox):
            return None
        bbox = (x, y, w, h)
    return crowd, area, bbox, score


def _keys_and_owned(a: dict):
    """The record's shared key tuple, and ``(attributes, extra)`` for the model (None: standard keys only)."""
    keys = tuple(a)
    info = _KEY_INFO.get(keys)  # one hash: the shared key tuple, and "only standard keys"
    if info is None:
        info = _KEY_INFO[keys] = (_interned.setdefault(keys, keys), _ANN_KEYS.issuperset(keys))
    attrs = a.get("attributes")
    if attrs is None and info[1]:
        return info[0], None
    extra = {k: v for k, v in a.items() if k not in _ANN_KEYS}
    if attrs is not None and type(attrs) is not dict:
        extra["attributes"], attrs = attrs, None
    return info[0], (attrs, extra)


def _careful_bbox(rec, bbox, keep: bool, odd: dict, err: _Errors):
    """The bbox as the model holds it (a tuple or None); False when the record is skipped."""
    if bbox is None:
        return None
    why = _bbox_problem(bbox)
    if not why:
        return tuple(bbox)
    if not keep:
        err.bad(rec, why)
        return False
    if type(bbox) is list and all(type(v) is float or (type(v) is int and -FMAX <= v <= FMAX) for v in bbox):
        err.bad(rec, why + " (kept)")  # the model holds it (floats, maybe NaN); segmill check reports it (G015)
        return tuple(bbox)
    # Not a list of numbers: the model's bbox cannot hold it. Not "(kept": no rule sees extra.
    err.bad(rec, why + "; carried through as found, the annotation has no usable bbox")
    odd["bbox"] = bbox
    return None


def build_dataset_meta(ds: Dataset, top: dict, order: CocoOrder, err: _Errors) -> None:
    ds.meta["coco"] = {"keys": list(top), "order": order}
    if err.skipped:
        ds.meta["skipped"] = err.skipped


def read_instances(path, errors: str = "raise") -> Dataset:
    """Read a COCO instances file (also captions, keypoints, labels: any object-shaped COCO file).

    See :func:`segmill.formats.coco.read`. A big file is parsed but for its
    annotations, which are parsed and read a slice at a time
    (:func:`._coco_json.load_split`); when that cannot be done, or a slice
    turns out not to parse, the whole file is parsed at once with polygon
    compaction (:func:`._coco_json.load`), whose parser words the error.
    """
    err = _Errors(errors, path)
    compact = _big(path)
    with J.no_gc():
        if compact:
            doc = J.load_split(path)
            if type(doc) is not J.SplitDocument:
                return _build(path, *doc, err, compact)
            try:
                return _build(path, doc.top, False, err, False, doc)
            except J.Reparse:
                pass
            except SegmillError:
                if doc.rest_parses():
                    raise
            # Invalid JSON further on: its error comes first, as when the file is parsed at once.
            del doc
            err = _Errors(errors, path)
        top, nonfinite = J.load(path, compact=compact)
        return _build(path, top, nonfinite, err, compact)


def _build(path, top, nonfinite: bool, err: _Errors, compact: bool, split=None) -> Dataset:
    """The dataset of a parsed file (``split``: its annotations, when ``top`` holds ``[]`` in their place)."""
    if type(top) is not dict:
        hint = " (a detection results list? use the coco_results format)" if type(top) is list else ""
        raise InputError(f"the top-level JSON value must be an object, got a {type(top).__name__}{hint}", path)
    cats = read_categories(top.get("categories"), err)
    items = read_images(top.get("images"), err)
    order = CocoOrder()
    extra_top = {k: v for k, v in top.items()
                 if k not in ("info", "licenses", "images", "annotations", "categories")}
    cat_ids = {c.id for c in cats}
    placeholders = read_annotations(split if split is not None else top.get("annotations"), items, cat_ids, err,
                                    nonfinite, order, compact=compact)
    info = top.get("info")
    lic = top.get("licenses")
    ds = Dataset(cats, items + placeholders, info, lic, extra_top)
    if placeholders:
        ds.meta["placeholder_images"] = [it.id for it in placeholders]
    build_dataset_meta(ds, top, order, err)
    del top
    if err.mode == "raise":
        if not _integrity_ok(cats, cat_ids, items, order):
            ds.validate(path)  # words the first problem exactly as it always has
    elif err.mode == "skip":
        _drop_duplicates(ds, err)
    return ds


#: Files at least this big are parsed with polygon compaction (see _coco_json.load):
#: a little slower, but peak memory stays below what pycocotools needs.
COMPACT_BYTES = 64 << 20


def _big(path) -> bool:
    try:
        return Path(path).stat().st_size >= COMPACT_BYTES
    except OSError:
        return False

