"""COCO instances JSON -> Dataset, keeping everything needed to write it back.

What is kept, beyond the model's fields: every unknown key in ``extra`` (in
source order), the key order of each record (``_coco_keys`` on the model
object, so key presence and order survive a round trip), the raw segmentation
values (see :mod:`._coco_geom`), the top-level key order and the annotation
order of the file (``dataset.meta["coco"]``).
"""

from __future__ import annotations

from array import array
from pathlib import Path

from .._progress import track
from ..errors import GeometryError, InputError
from ..geometry import InvalidGeometry
from ..limits import max_pixels
from ..model import Annotation, Category, Dataset, Item
from ..validate import brief, string
from . import _coco_json as J
from ._coco_checks import (FMAX, _Errors, _bbox_problem, _check_pack, _drop_duplicates, _integrity_ok, _is_id,
                           check_id, check_image_size, finite_values, image_record)
from ._coco_geom import CocoPolygons, PolygonPack, parse_segmentation, polygon_problem

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
        cat._coco_keys = keys_of(c)
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
        item._coco_keys = intern(keys, keys)
        add(item)
    return out


def read_annotations(raw, items: list[Item], cat_ids: set, err: _Errors, nonfinite: bool,
                     order: CocoOrder, results: bool = False, compact: bool = False) -> list[Item]:
    """Attach annotations to items; returns placeholder items made in keep mode.

    Well-formed records take a fast path: values are checked inline and the
    coordinates of polygon parts go straight into one :class:`PolygonPack`
    (``array('d').fromlist`` rejects what is not a number), whose numeric
    range is checked for all annotations at once at the end. Anything unusual
    takes :func:`_careful_annotation`, which words the error. Errors come in
    file order either way: before the careful path reports a record, the
    pack is checked for an earlier bad coordinate. ``compact`` (big files,
    parts may be ``array('d')``) checks each part on its own and packs
    nothing, so memory stays lean.
    """
    if raw is None:
        return []
    if type(raw) is not list:
        raise InputError(f"'annotations' must be a list, got {type(raw).__name__}", err.path)
    by_id: dict = {}
    for it in items:
        by_id.setdefault(it.id, it)
    placeholders: list[Item] = []
    seen_ann: set = set()
    skip = err.mode == "skip"
    o_anns, o_items = order.anns, order.items
    add_ann, add_item, add_id = o_anns.append, o_items.append, order.ids.append
    undeclared = False
    std = _ANN_KEYS
    keyinfo = _KEY_INFO.get
    intern = _interned.setdefault
    trusted = Annotation._trusted
    new = object.__new__
    pack = PolygonPack()
    buf = array("d")
    fromlist = buf.fromlist
    part_len: list = []
    add_len = part_len.append
    nparts: list = []
    add_nparts = nparts.append
    owners: list = []
    add_owner = owners.append
    packing = not compact
    for i, a in enumerate(track(raw, len(raw), "reading annotations")):
        if type(a) is dict and not skip:
            aid = a.get("id")
            iid = a.get("image_id")
            cid = a.get("category_id")
            try:
                item = by_id.get(iid)
            except TypeError:  # unhashable (a list, an object): the careful path words it
                item = None
            ta, tc = type(aid), type(cid)
            if (item is not None and (ta is int or aid is None or (ta is str and 0 < len(aid) <= 256))
                    and (tc is int or cid is None or (tc is str and 0 < len(cid) <= 256))):
                bbox = a.get("bbox")
                area = a.get("area")
                seg = a.get("segmentation")
                crowd = a.get("iscrowd", 0)
                score = a.get("score")
                geom = None
                # Floats must be finite (v - v == 0 fails for NaN and inf, which "1e999" parses to
                # without the parser saying so) and ints fit a float (the model's type).
                ok = type(crowd) is int and (crowd == 0 or crowd == 1) and (
                    score is None or (type(score) is float and score - score == 0)
                    or (type(score) is int and -FMAX <= score <= FMAX)) and (
                    area is None or (type(area) is float and area - area == 0)
                    or (type(area) is int and -FMAX <= area <= FMAX))
                if ok and bbox is not None:
                    if type(bbox) is list and len(bbox) == 4:
                        x, y, w, h = bbox
                        if type(x) is float and type(y) is float and type(w) is float and type(h) is float:
                            ok = x - x + y - y + w - w + h - h == 0
                        else:
                            ok = finite_values(bbox)
                        bbox = (x, y, w, h)
                    else:
                        ok = False
                if ok and seg is not None:
                    if type(seg) is list and seg and packing:
                        start, n0 = len(buf), len(part_len)
                        for part in seg:
                            n = len(part) if type(part) is list else 0
                            if n < 6 or n & 1:
                                ok = False
                                break
                            try:
                                fromlist(part)  # TypeError on anything but int/float/bool
                            except (TypeError, OverflowError):
                                ok = False
                                break
                            add_len(n)
                        if ok:
                            geom = new(CocoPolygons)
                            geom._src = seg
                            geom._parts = None
                            geom._cache = None
                            geom._pack = pack
                            geom._k = len(nparts)
                            add_nparts(len(seg))
                            add_owner(item)
                        else:
                            del buf[start:]
                            del part_len[n0:]
                    elif type(seg) is list and seg and polygon_problem(seg, nonfinite) is None:
                        geom = CocoPolygons(seg)
                    else:
                        try:
                            geom = parse_segmentation(seg, bbox, item.height, item.width, nonfinite)
                        except GeometryError:
                            ok = False
                if ok:
                    keys = tuple(a)
                    info = keyinfo(keys)  # one hash: the shared key tuple, and "only standard keys"
                    if info is None:
                        info = _KEY_INFO[keys] = (intern(keys, keys), std.issuperset(keys))
                    keys = info[0]
                    attrs = a.get("attributes")
                    if attrs is not None or not info[1]:
                        extra = {k: v for k, v in a.items() if k not in std}
                        if attrs is not None and type(attrs) is not dict:
                            extra["attributes"], attrs = attrs, None
                    else:
                        extra = None
                    ann = trusted(aid, cid, geom, crowd == 1, area, bbox, score, attrs, extra)
                    ann._coco_keys = keys
                    raw[i] = None  # the parsed dict is not needed any more: free it now
                    item.annotations.append(ann)
                    add_ann(ann)
                    add_item(item)
                    add_id(aid)
                    if cid not in cat_ids and cid is not None:
                        undeclared = True
                    continue
        try:
            ann, item = _careful_annotation(i, a, by_id, placeholders, seen_ann, cat_ids, err, nonfinite, results)
        except InputError:
            if nparts:  # an earlier record may hold a bad coordinate: that error comes first
                pack.fill(buf, part_len, nparts, owners)
                _check_pack(pack, o_anns, o_items, err)
            raise
        if ann is not None:
            raw[i] = None
            item.annotations.append(ann)
            add_ann(ann)
            add_item(item)
            add_id(ann.id)
            if ann.category_id not in cat_ids and ann.category_id is not None:
                undeclared = True
    order.undeclared = undeclared
    if nparts:
        pack.fill(buf, part_len, nparts, owners)
        _check_pack(pack, o_anns, o_items, err)
    return placeholders


def _careful_annotation(i, a, by_id, placeholders, seen_ann, cat_ids, err: _Errors, nonfinite: bool,
                        results: bool):
    """One annotation record, checked field by field; (None, None) when it is skipped."""
    if type(a) is not dict:
        err.bad(f"annotations[{i}]", "an annotation must be an object")
        return None, None
    aid = a.get("id")
    iid = a.get("image_id")
    cid = a.get("category_id")
    rec = (f"annotation id {brief(aid)} (image id {brief(iid)})" if aid is not None
           else f"annotations[{i}] (image id {brief(iid)})")
    item = _careful_item(rec, aid, iid, cid, by_id, placeholders, seen_ann, cat_ids, err, results)
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
            geom = parse_segmentation(seg, bbox, item.height, item.width, nonfinite)
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
    ann._coco_keys = keys_of(a)
    return ann, item


def _careful_item(rec, aid, iid, cid, by_id, placeholders, seen_ann, cat_ids, err: _Errors, results: bool):
    """The item an annotation belongs to, once its ids are checked; None when the record is skipped."""
    for value, what, optional in ((aid, "annotation id", True), (iid, "image_id", False),
                                  (cid, "category_id", True)):
        if not (optional and value is None) and not _is_id(value):
            try:
                check_id(value, what, err.path, rec)
            except InputError as exc:
                err.drop(exc)
                return None
    item = by_id.get(iid)
    if item is None:
        if err.mode != "keep":
            err.bad(rec, f"image_id {brief(iid)} is not a listed image")
            return None
        err.bad(rec, f"image_id {brief(iid)} is not a listed image (kept under a placeholder image)")
        item = by_id[iid] = Item(iid, "", None, None)
        placeholders.append(item)
    if err.mode == "skip":
        if cid not in cat_ids and not (results and cid is not None):
            err.bad(rec, f"category_id {brief(cid)} is not a declared category")
            return None
        if aid is not None:
            if aid in seen_ann:
                err.bad(rec, f"duplicate annotation id {brief(aid)}")
                return None
            seen_ann.add(aid)
    return item


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

    See :func:`segmill.formats.coco.read`.
    """
    err = _Errors(errors, path)
    compact = _big(path)
    with J.no_gc():
        top, nonfinite = J.load(path, compact=compact)
        if type(top) is not dict:
            hint = " (a detection results list? use the coco_results format)" if type(top) is list else ""
            raise InputError(f"the top-level JSON value must be an object, got a {type(top).__name__}{hint}", path)
        cats = read_categories(top.get("categories"), err)
        items = read_images(top.get("images"), err)
        order = CocoOrder()
        extra_top = {k: v for k, v in top.items()
                     if k not in ("info", "licenses", "images", "annotations", "categories")}
        cat_ids = {c.id for c in cats}
        placeholders = read_annotations(top.get("annotations"), items, cat_ids, err, nonfinite, order,
                                        compact=compact)
        info = top.get("info")
        lic = top.get("licenses")
        ds = Dataset(cats, items + placeholders, info, lic, extra_top)
        if placeholders:
            ds.meta["coco_missing_images"] = [it.id for it in placeholders]
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

