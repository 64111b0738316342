"""Dataset -> COCO instances JSON, losing nothing silently.

Records read from COCO are written back with their keys in the order found
and their values as found; geometry is converted only when the target
representation asks for it, and then ``area``/``bbox`` are recomputed by the
convention of docs/internals.md, "COCO area and bbox". Everything the target cannot hold is a
loss with a code (see :data:`LOSS_CODES`).
"""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass, replace
from operator import itemgetter

import numpy as np

from .._progress import track
from ..errors import GeometryError, UsageError
from ..geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from ..limits import check_pixels
from ..losses import Loss, WriteReport, register_codes
from ..model import Dataset, origin_of
from ..raster import rasterize_packed
from ..rle import RLE
from ..validate import brief
from . import _coco_json as J
from ._coco_geom import CocoBox, CocoPolygons, CocoRLE, is_valid_coco_source
from ._coco_read import ANN_KEYS, CocoOrder
from .options import RASTER_RULES, check_choice

LOSS_CODES = {
    "L101": "polygon vertices rasterized to an RLE (pixels exact under the raster rule; sub-pixel shape lost)",
    "L102": "an RLE or mask was kept as RLE although polygons were asked for (mask tracing unavailable or mask empty)",
    "L103": "polygons traced from a mask were simplified (pixels differ; IoU in the message)",
    "L104": "a box rasterized to an RLE (sub-pixel box edges lost)",
    "L105": "image split membership dropped (one COCO file holds images of several splits)",
}
register_codes(LOSS_CODES, changes={
    "pixels": ("L103",),
})

SEGMENTATION_MODES = ("keep", "polygon", "rle")
_IMG_ORDER = ("id", "file_name", "width", "height", "attributes")
_CAT_ORDER = ("id", "name", "supercategory", "isthing", "color")


def _int_ids(objs, what: str, report: WriteReport, attr: str = "id", top: int | None = None):
    """Map every object's id to an int COCO id: ints kept, others numbered after the largest int.

    ``top``: the number after which to number them (default: the largest
    int id of ``objs``; a part of a dataset is given its place, see
    :func:`render_part`).
    """
    ids = [getattr(o, attr) for o in objs]
    if all(type(i) is int for i in ids):
        return None
    if top is None:
        top = int_ids_top(ids)
    out = {}
    n = 0
    for o, i in zip(objs, ids):
        if type(i) is int:
            continue
        top += 1
        out[id(o)] = top
        n += 1
    report.notes.append(_ids_note(what, n, top - n + 1))
    return out


def int_ids_top(ids) -> int:
    """The largest int of ``ids`` (0 when none): ids that are not ints are numbered after it."""
    return max((i for i in ids if type(i) is int), default=0)


def _ids_note(what: str, n: int, first: int) -> str:
    return (f"{n} {what} without an integer id got ids from {first} in {what[:-1]} order"
            f" (original ids kept in the field 'segmill_id')")


def _annotation_ids(ds: Dataset, report: WriteReport):
    """Int ids for annotations with a str id, or with none when they did not come from COCO."""
    todo = [a for it in ds.items for a in it.annotations
            if type(a.id) is str or (a.id is None and origin_of(a, "coco") is None)]
    if not todo:
        return None
    top = max((a.id for it in ds.items for a in it.annotations if type(a.id) is int), default=0)
    out = {id(a): top + k for k, a in enumerate(todo, 1)}
    report.notes.append(f"{len(todo)} annotations without an integer id got ids {top + 1}..{top + len(todo)}"
                        " in item order (string ids kept in the field 'segmill_id')")
    return out


def _ordered(keys, fields: dict, extra: dict, canonical) -> dict:
    """A record with ``keys`` order first (fields or extras), then the rest."""
    out = {}
    if keys:
        for k in keys:
            # A standard key lands in extra only when its value had an odd type: extra wins.
            if k in extra:
                out[k] = extra[k]
            elif k in fields:
                out[k] = fields[k]
    for k in canonical:
        if k in fields and k not in out and k not in extra:
            out[k] = fields[k]
    for k, v in extra.items():
        if k not in out:
            out[k] = v
    return out


def _clean(d: dict, report: WriteReport, what: str, item_id=None, ann_id=None) -> dict:
    if not d or J.jsonable(d):
        return d
    out = {}
    for k, v in d.items():
        if J.jsonable({k: v}):
            out[k] = v
        else:
            report.lose("L001", f"{what} {brief(k)} ({type(v).__name__}) cannot be written as JSON", item_id, ann_id)
    return out


class _Opts:
    __slots__ = ("mode", "recompute", "raster", "polygon_mode", "tolerance", "trace", "pixels")

    def __init__(self, mode, recompute, raster, polygon_mode, tolerance):
        if mode not in SEGMENTATION_MODES:
            raise UsageError(f"segmentation must be one of {SEGMENTATION_MODES}, got {brief(mode)}")
        if polygon_mode not in ("exact", "simplified"):
            raise UsageError(f"polygon_mode must be 'exact' or 'simplified', got {brief(polygon_mode)}")
        check_choice("raster", raster, RASTER_RULES)
        try:
            tol = float(tolerance)
        except (TypeError, ValueError, OverflowError):
            tol = float("nan")
        if not tol >= 0 or tol == float("inf"):
            raise UsageError(f"tolerance must be a finite number of pixels >= 0, got {brief(tolerance)}")
        self.mode, self.recompute, self.raster = mode, bool(recompute), raster
        self.polygon_mode, self.tolerance = polygon_mode, tol
        self.trace = None
        self.pixels = _Pixels(mode, raster)
        if mode == "polygon":
            try:  # the exact mask tracer lives in segmill.bridges (issue 4)
                from ..bridges.trace import trace
            except ImportError:  # pragma: no cover - depends on what is installed
                trace = None
            self.trace = trace


class _Written:
    """Area and bbox of a rasterized annotation, read from its image's batch (what :func:`_derived` asks)."""

    __slots__ = ("area", "bbox")

    def __init__(self, area: int, bbox: list):
        self.area = area
        self.bbox = bbox


_SHIFT = 12  # _Image.BLOCK is 1 << _SHIFT
_LOW = (1 << _SHIFT) - 1


class _Image:
    """One image's rasterized annotations: a batch, its compressed strings, areas and boxes.

    Python values are made :attr:`BLOCK` annotations at a time, as the
    records are written, so the image never holds a million small objects.
    """

    __slots__ = ("anns", "batch", "errors", "text", "char_off", "areas", "bboxes", "cursor", "index", "left",
                 "size", "block", "b_area", "b_bbox", "b_seg")

    BLOCK = 1 << 12

    def __init__(self, anns: list, geoms: list, size: tuple, rule: str):
        self.anns = anns
        self.batch, self.errors = rasterize_packed(geoms, size, rule)
        self.text, self.char_off = self.batch.joined_strings()
        self.areas = self.batch.areas()
        self.bboxes = self.batch.bboxes()
        self.size = list(size)  # shared by the records: they are written, never changed
        self.cursor = 0
        self.index = None
        self.left = len(anns)
        self.block = -1
        self.b_area = self.b_bbox = self.b_seg = None

    def _find(self, ann) -> int:
        if self.index is None:
            self.index = {}
            for j, a in enumerate(self.anns):
                self.index.setdefault(id(a), j)
        return self.index[id(ann)]

    def _load(self, b: int) -> None:
        s = b * self.BLOCK
        e = s + self.BLOCK
        self.b_area = self.areas[s:e].tolist()
        self.b_bbox = self.bboxes[s:e].tolist()
        off = self.char_off[s:e + 1].tolist()
        text, size = self.text, self.size
        self.b_seg = [{"size": size, "counts": text[a:z]} for a, z in zip(off, off[1:])]  # crowd ones: see written
        self.block = b

    def written(self, k: int, crowd: bool) -> tuple[dict, int, list]:
        """``(segmentation, area, bbox)`` of annotation ``k`` (uncompressed for crowd regions, as :func:`_rle_out`)."""
        b = k >> _SHIFT
        j = k & _LOW
        if b != self.block:
            self._load(b)
        if crowd:
            return {"size": self.size, "counts": self.batch[k].counts.tolist()}, self.b_area[j], self.b_bbox[j]
        return self.b_seg[j], self.b_area[j], self.b_bbox[j]


class _Pixels:
    """Rasterization for one write: the first annotation of an image that needs pixels gets them for all.

    Every annotation of the image that the target asks to rasterize goes
    through :func:`segmill.raster.rasterize_packed` in one call (one kernel
    call for the polygons); the compressed strings, areas and boxes are
    computed for the batch, and dropped when the image's last one is written.
    """

    def __init__(self, mode: str, rule: str):
        self.mode = mode
        self.rule = rule
        self.images: dict = {}
        self.checked: set = set()  # (id, height, width) of the items whose size was checked

    def check_size(self, item) -> None:
        """Refuse (:class:`~segmill.errors.LimitError`) an image too big to rasterize into, once per item."""
        key = (id(item), item.height, item.width)
        if key not in self.checked:
            check_pixels(item.height, item.width, None, f"image id {brief(item.id)}")
            self.checked.add(key)

    def _take(self, ann, item) -> tuple[_Image, int]:
        """``(image, position)`` of ``ann`` (annotations usually come in order); raises the error that kept it
        from pixels. The image is rasterized when first asked for, and let go after its last annotation."""
        key = id(item)
        img = self.images.get(key)
        if img is None:
            self.check_size(item)
            kinds = (Mask, Polygons, Box) if self.mode == "rle" else Mask
            anns = [a for a in item.annotations if isinstance(a.geometry, kinds)]
            img = self.images[key] = _Image(anns, [a.geometry for a in anns], (item.height, item.width), self.rule)
        k = img.cursor
        if k < len(img.anns) and img.anns[k] is ann:
            img.cursor = k + 1
        else:
            k = img._find(ann)
        img.left -= 1
        if img.left <= 0:
            del self.images[key]
        if img.errors and k in img.errors:
            raise img.errors[k]
        return img, k

    def rle(self, ann, item) -> RLE:
        """The pixels of a mask annotation."""
        img, k = self._take(ann, item)
        return img.batch[k]

    def written(self, ann, item):
        """``(segmentation value, _Written)`` of a polygon or box written as RLE."""
        img, k = self._take(ann, item)
        seg, area, bbox = img.written(k, ann.iscrowd)
        return seg, _Written(area, bbox)

    def values(self, ann, item):
        """``(segmentation value, area, bbox)`` of a polygon or box written as RLE (:meth:`_Image.written`, inlined:
        this runs once per annotation)."""
        img, k = self._take(ann, item)
        j = k & _LOW
        if k >> _SHIFT != img.block:
            img._load(k >> _SHIFT)
        if ann.iscrowd:
            return {"size": img.size, "counts": img.batch[k].counts.tolist()}, img.b_area[j], img.b_bbox[j]
        return img.b_seg[j], img.b_area[j], img.b_bbox[j]


def _rle_out(r: RLE, crowd: bool):
    # COCO's own files store crowd regions uncompressed, everything else compressed.
    return r.to_coco(compressed=not crowd)


def _to_polygons(r: RLE, opts: _Opts, report: WriteReport, iid, aid):
    """Polygons for a mask, or None (then the caller keeps the RLE and a loss is recorded)."""
    if opts.trace is None:
        report.lose("L102", "RLE kept: no mask tracer is available in this installation", iid, aid)
        return None
    if r.area == 0:
        report.lose("L102", "RLE kept: an empty mask has no polygon", iid, aid)
        return None
    if opts.polygon_mode == "exact":
        return opts.trace(r, mode="exact")
    poly, iou = opts.trace(r, mode="simplified", tolerance=opts.tolerance)
    if iou < 1.0:
        report.lose("L103", f"simplified with tolerance {opts.tolerance:g} px: IoU {iou:.4f}", iid, aid)
    return poly


def _as_rle(ann, item, opts: _Opts, report: WriteReport, loss: tuple[str, str, str]):
    """``--segmentation rle`` for a polygon or a box: :func:`_segmentation`'s result, or None to keep the shape.

    Parameters
    ----------
    ann, item
        The annotation and its image.
    opts : _Opts
    report : WriteReport
    loss : tuple of str
        ``(code, message when rasterized, what happens without an image size)``.

    Returns
    -------
    tuple or None
        ``(segmentation, "rle", written geometry, True)``; None (an ``L005``
        reported) when the image has no size to rasterize into.
    """
    code, done_msg, kept_msg = loss
    if item.height is None or item.width is None:
        report.lose("L005", f"{kept_msg}: the image has no size to rasterize into", item.id, ann.id)
        return None
    report.lose(code, done_msg, item.id, ann.id)
    seg, done = opts.pixels.written(ann, item)
    return seg, "rle", done, True


def _segmentation(ann, item, opts: _Opts, report: WriteReport):
    """(segmentation value or None, kind, written geometry, converted) for an annotation.

    ``kind`` None means drop the annotation. ``converted`` is True when the
    written geometry is a different shape description than the model's
    (rasterized or traced), so area and bbox must follow it.
    """
    g = ann.geometry
    iid, aid = item.id, ann.id
    mode = opts.mode
    h, w = item.height, item.width
    if g is None:
        return None, "none", None, False
    if h is not None and w is not None and (mode != "keep" or isinstance(g, Mask)):
        opts.pixels.check_size(item)  # before anything is rasterized or decoded at that size
    t = type(g)
    if t is CocoPolygons or (isinstance(g, Polygons) and t is not CocoPolygons):
        native = t is CocoPolygons
        if mode == "rle":
            out = _as_rle(ann, item, opts, report, ("L101", "polygon written as RLE", "polygon kept"))
            if out is not None:
                return out
        if native:
            return g.source, "polygon", g, False
        src = g.source if is_valid_coco_source(g) else [p.reshape(-1).tolist() for p in g.parts]
        return src, "polygon", g, False
    if isinstance(g, RLE):
        native = t is CocoRLE
        if mode == "polygon":
            poly = _to_polygons(g, opts, report, iid, aid)
            if poly is not None:
                return poly.to_coco(), "polygon", poly, True
        if native:
            return g.raw, "rle", g, False
        return _rle_out(g, ann.iscrowd), "rle", g, False
    if isinstance(g, Box):
        if t is CocoBox and mode == "keep":
            return [], "empty", None, False
        if mode == "rle":
            out = _as_rle(ann, item, opts, report, ("L104", "box written as RLE", "box kept as a polygon"))
            if out is not None:
                return out
        p = g.to_polygons()
        return p.to_coco(), "polygon", p, False
    if isinstance(g, Mask):
        if h is None or w is None:
            report.lose("L005", "mask dropped: the image has no size", iid, aid)
            return None, "none", None, False
        r = opts.pixels.rle(ann, item)
        if mode == "polygon":
            poly = _to_polygons(r, opts, report, iid, aid)
            if poly is not None:
                return poly.to_coco(), "polygon", poly, True
        return _rle_out(r, ann.iscrowd), "rle", r, False
    if isinstance(g, Shape):
        report.lose("L002", f"a {brief(g.kind)} shape has no area; COCO instances cannot hold it", iid, aid)
        return None, None, None, False
    if isinstance(g, InvalidGeometry):  # pragma: no cover - validate() refuses these first
        raise GeometryError(g.reason)
    raise GeometryError(f"unsupported geometry {t.__name__}")  # pragma: no cover


def _derived(kind: str, geom):
    """(area, bbox) of a written geometry (docs/internals.md, "COCO area and bbox")."""
    if kind == "polygon":
        x, y, w, h = geom.bounds
        return geom.area, [x, y, w, h]
    if kind == "rle":
        return int(geom.area), list(geom.bbox)
    return None, None


# The seven keys of a plain COCO annotation; a record read with exactly these
# (in any order) and nothing else takes the fast path of _plain_record.
_PLAIN = ("id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd")
_PLAIN_SET = frozenset(_PLAIN)
_plain_orders: dict = {}  # key tuple -> itemgetter putting _PLAIN-ordered values in its order, or None


# COCO's own files list the keys in this order.
_COCO_ORDER = ("segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id")


def _plain_order(keys):
    """How to build a record with ``keys`` from values in ``_PLAIN`` order, or None (not plain keys)."""
    got = _plain_orders.get(keys, _plain_orders)
    if got is _plain_orders:
        got = None
        if keys == _PLAIN:
            got = _in_plain_order
        elif keys == _COCO_ORDER:
            got = _in_coco_order
        elif len(keys) == len(_PLAIN) and _PLAIN_SET.issuperset(keys):
            pick = itemgetter(*(_PLAIN.index(k) for k in keys))
            got = lambda *v: dict(zip(keys, pick(v)))
        _plain_orders[keys] = got
    return got


def _in_plain_order(i, image_id, category_id, seg, area, bbox, crowd):
    return {"id": i, "image_id": image_id, "category_id": category_id, "segmentation": seg, "area": area,
            "bbox": bbox, "iscrowd": crowd}


def _in_coco_order(i, image_id, category_id, seg, area, bbox, crowd):
    return {"segmentation": seg, "area": area, "iscrowd": crowd, "image_id": image_id, "bbox": bbox,
            "category_id": category_id, "id": i}


def _plain_record(ann, item, image_id, order, opts: _Opts, report: WriteReport):
    """The record of a COCO polygon annotation with the plain keys and nothing else, or None.

    What :func:`_annotation_record` would build (the same values, keys in the
    order read), without its general bookkeeping: polygons kept or rasterized
    through the image's batch.
    """
    g = ann.geometry
    if type(g) is not CocoPolygons or ann.score is not None or ann.attributes or ann.extra:
        return None
    h, w = item.height, item.width
    sized = h is not None and w is not None
    mode = opts.mode
    if mode == "rle":
        if not sized:
            return None
        seg, area, bbox = opts.pixels.values(ann, item)  # checks the image's size first
        report.losses.append(Loss("L101", "polygon written as RLE", item.id, ann.id))
    else:
        area, bbox = ann.area, ann.bbox
        if area is None or bbox is None or opts.recompute:
            return None
        if sized and mode != "keep":
            opts.pixels.check_size(item)
        seg = g.source
        bbox = list(bbox)
    return order(ann.id, image_id, ann.category_id, seg, area, bbox, int(ann.iscrowd))


def _annotation_record(ann, item, image_id, cat_map, ann_map, opts: _Opts, report: WriteReport):
    keys = origin_of(ann, "coco")
    if keys is not None and ann_map is None and cat_map is None:
        order = _plain_orders.get(keys) or _plain_order(keys)
        if order is not None:
            rec = _plain_record(ann, item, image_id, order, opts, report)
            if rec is not None:
                return rec
    if ann.category_id is None and keys is None:
        # pycocotools indexes every annotation by category: one without is unusable.
        report.lose("L003", "annotation without a category dropped", item.id, ann.id)
        return None
    seg, kind, geom, converted = _segmentation(ann, item, opts, report)
    if kind is None:
        return None
    fields: dict = {}
    aid = ann.id if ann_map is None or id(ann) not in ann_map else ann_map[id(ann)]
    extra = ann.extra
    if aid is not ann.id:
        extra = dict(extra)
        if ann.id is not None:
            extra["segmill_id"] = ann.id
    if ann.id is not None or aid is not None or (keys and "id" in keys):
        fields["id"] = aid
    fields["image_id"] = image_id
    cid = ann.category_id
    if cat_map is not None:
        cid = cat_map.get(cid, cid)
    if cid is not None or (keys and "category_id" in keys):
        fields["category_id"] = cid
    if seg is not None:
        fields["segmentation"] = seg
    area, bbox = ann.area, ann.bbox
    if geom is not None:
        native = type(ann.geometry) in (CocoPolygons, CocoRLE, CocoBox)
        if converted or opts.recompute or (keys is not None and not native):
            # Asked for, or the shape changed (rasterized, traced, replaced): follow the written geometry.
            area, bbox = _derived(kind, geom)
        elif keys is None and (area is None or bbox is None):
            # Another format's annotation: keep what its reader stored, compute what is missing.
            d_area, d_bbox = _derived(kind, geom)
            area = d_area if area is None else area
            bbox = d_bbox if bbox is None else bbox
    if area is not None:
        fields["area"] = area
    if bbox is not None:
        fields["bbox"] = list(bbox)
    if ann.iscrowd or seg is not None or (keys and "iscrowd" in keys):
        fields["iscrowd"] = int(ann.iscrowd)
    if ann.score is not None:
        fields["score"] = ann.score
    if ann.attributes or (keys and "attributes" in keys):
        fields["attributes"] = ann.attributes if keys else _clean(ann.attributes, report, "attribute", item.id, ann.id)
    if keys is None and extra:
        extra = _clean(extra, report, "field", item.id, ann.id)
    return _ordered(keys, fields, extra, ANN_KEYS)


def _file_order(ds: Dataset):
    """(annotation, item) pairs in the order the annotations were read, if the model still matches."""
    meta = ds.meta.get("coco")
    order = meta.get("order") if isinstance(meta, dict) else None
    if not isinstance(order, CocoOrder):
        return None
    n = ds.num_annotations
    if n != len(order.anns):
        return None
    if n == 0:
        return []
    items = ds.items
    per_item = np.fromiter((len(it.annotations) for it in items), np.int64, len(items))
    model = np.empty((n, 2), np.uint64)
    model[:, 0] = np.fromiter((id(a) for it in items for a in it.annotations), np.uint64, n)
    model[:, 1] = np.repeat(np.fromiter(map(id, items), np.uint64, len(items)), per_item)
    stored = np.empty((n, 2), np.uint64)
    stored[:, 0] = np.fromiter(map(id, order.anns), np.uint64, n)
    stored[:, 1] = np.fromiter(map(id, order.items), np.uint64, n)
    a = model[np.lexsort((model[:, 1], model[:, 0]))]
    b = stored[np.lexsort((stored[:, 1], stored[:, 0]))]
    if not np.array_equal(a, b):
        return None
    return zip(order.anns, order.items)


def lose_splits(splits: list, report: WriteReport) -> None:
    """L105 for every image of ``splits`` (``(split, image id)`` pairs) when they name more than one split."""
    if len({s for s, _ in splits}) > 1:
        for split, image_id in splits:
            report.lose("L105", f"split {brief(split)} not recorded", image_id)


def _in_item_order(ds: Dataset) -> bool:
    """Whether the file order of the annotations (see :func:`_file_order`) is the items' own order."""
    order = ds.meta["coco"]["order"]
    flat = (a for it in ds.items for a in it.annotations)
    return all(a is b for a, b in zip(order.anns, flat))


def _bulk_rle(item, image_id, opts: _Opts, report: WriteReport):
    """The records of an image whose annotations are all plain polygons written as RLE, block by block; or None.

    What :func:`_plain_record` gives one annotation at a time (same values,
    same key order, one L101 each), for the common case of a whole image:
    the image is rasterized in one batch and its records are made
    :attr:`_Image.BLOCK` at a time. ``None`` (the caller goes one by one, and
    words any error) when an annotation is not plain, is a crowd region, or
    cannot be rasterized.
    """
    anns = item.annotations
    if not anns or item.height is None or item.width is None:
        return None
    keys = origin_of(anns[0], "coco")
    order = _plain_orders.get(keys) or _plain_order(keys) if keys is not None else None
    if order is None:
        return None
    for a in anns:
        if (type(a.geometry) is not CocoPolygons or a.iscrowd or a.score is not None or a.attributes or a.extra
                or a.origin is not anns[0].origin):
            return None
    opts.pixels.check_size(item)
    img = _Image(anns, [a.geometry for a in anns], (item.height, item.width), opts.raster)
    if img.errors:
        return None
    report.losses.extend(Loss("L101", "polygon written as RLE", item.id, a.id) for a in anns)
    return _bulk_records(img, image_id, order, report)


def _bulk_records(img: _Image, image_id, order, report: WriteReport):
    anns, text, size, step = img.anns, img.text, img.size, _Image.BLOCK
    for s in range(0, len(anns), step):
        block = anns[s:s + step]
        off = img.char_off[s:s + len(block) + 1].tolist()
        areas = img.areas[s:s + step].tolist()
        boxes = img.bboxes[s:s + step].tolist()
        report.annotations += len(block)
        yield from (order(a.id, image_id, a.category_id, {"size": size, "counts": text[b:e]}, ar, bb, 0)
                    for a, b, e, ar, bb in zip(block, off, off[1:], areas, boxes))


def write_instances(ds: Dataset, path, *, segmentation: str = "keep", recompute: bool = False,
                    raster: str = "coco", polygon_mode: str = "exact", tolerance: float = 1.0) -> WriteReport:
    """See :func:`segmill.formats.coco.write`."""
    opts = _Opts(segmentation, recompute, raster, polygon_mode, tolerance)
    report = WriteReport()
    with J.no_gc():
        ds.validate(ds.meta.get("source_path"))
        w = _Write(ds, opts, report)
        with open(path, "wb") as fh:
            out = J.ChunkedWriter(fh)
            for k in section_order(ds):
                w.section(out, k, top_keys(ds))
            out.close()
    report.files = 1
    return report


def splits_of(items) -> list:
    """``(split, image id)`` of the items that have a split (what :func:`lose_splits` takes)."""
    return [(it.split, it.id) for it in items if it.split is not None]


@dataclass
class Part:
    """The images and annotations of some items as :func:`write_instances` writes them (see :func:`render_part`).

    Attributes
    ----------
    images, annotations : bytes or Spilled
        The JSON text of the records, joined by commas (no brackets; empty
        when there is none), or where it was put (:meth:`spill`).
    image_losses, annotation_losses : list of Loss
        What writing each list lost, in order.
    items, annotation_count : int
        Records written.
    """

    images: bytes | Spilled
    annotations: bytes | Spilled
    image_losses: list
    annotation_losses: list
    items: int
    annotation_count: int

    def spill(self, path) -> Part:
        """This part with its text moved to the new file ``path`` (:func:`write_parts` copies it from there).

        A sharded conversion's workers keep the output's text on disk
        instead of sending it to the driver (which would hold all of it).
        """
        with open(path, "wb") as fh:
            fh.write(self.images)
            fh.write(self.annotations)
        path, n = str(path), len(self.images)
        return replace(self, images=Spilled(path, 0, n), annotations=Spilled(path, n, len(self.annotations)))


@dataclass(frozen=True)
class Spilled:
    """``length`` bytes of text at ``offset`` in the file ``path`` (a :meth:`Part.spill`)."""

    path: str
    offset: int
    length: int

    def __len__(self) -> int:
        return self.length

    def copy_to(self, fh) -> None:
        """Append the text to the binary file ``fh`` (copied in the kernel where it can be)."""
        fh.flush()
        with open(self.path, "rb") as src:
            done = _sent(src, fh, self.offset, self.length)
            src.seek(self.offset + done)
            left = self.length - done
            while left:
                chunk = src.read(min(left, 1 << 22))
                if not chunk:
                    raise OSError(f"{self.path} ends before byte {self.offset + self.length}")
                fh.write(chunk)
                left -= len(chunk)


#: What ``os.sendfile`` raises where it cannot write to a file (the copy then goes through Python).
_NO_SENDFILE = {None, errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP}


def _sent(src, dst, offset: int, count: int) -> int:
    """How many bytes ``os.sendfile`` copied from ``src`` at ``offset`` to ``dst`` (0 where it cannot)."""
    done = 0
    try:
        while done < count:
            n = os.sendfile(dst.fileno(), src.fileno(), offset + done, count - done)
            if not n:
                break
            done += n
    except (AttributeError, OSError) as exc:  # AttributeError: no os.sendfile on this system
        if done or getattr(exc, "errno", None) not in _NO_SENDFILE:
            raise
    return done


def render_part(ds: Dataset, image_top: int = 0, *, segmentation: str = "keep", recompute: bool = False,
                raster: str = "coco", polygon_mode: str = "exact", tolerance: float = 1.0) -> Part | None:
    """The records of ``ds``'s items as :func:`write_instances` writes them in a file with more items (or ``None``).

    The records are made by the writer's own code; :func:`write_parts` puts
    the parts of a dataset together. ``image_top``: the number after which
    this part's image ids that are not ints are numbered (the whole
    dataset's largest int image id, see :func:`int_ids_top`, plus the number
    of such ids in the parts before). ``None`` when this text may depend on
    the other parts' items: an annotation without an int id, an annotation
    order kept from a file, or records the first-choice JSON encoder
    refused. The items are not validated here.
    """
    opts = _Opts(segmentation, recompute, raster, polygon_mode, tolerance)
    coco = ds.meta.get("coco")
    order = coco.get("order") if isinstance(coco, dict) else None
    if isinstance(order, CocoOrder) or not (order is None or order.in_item_order()):
        return None  # the whole file's annotation order (a sharded read's first part has a FileOrder)
    report = WriteReport()
    with J.no_gc():
        w = _Write(ds, opts, report, whole=False, image_top=image_top)
        if w.ann_map is not None:
            return None
        images, fast_images = _list_text(w.images())
        n = len(report.losses)
        annotations, fast_annotations = _list_text(w.annotations())
    if not (fast_images and fast_annotations):
        return None
    losses = list(report.losses)
    return Part(images, annotations, losses[:n], losses[n:], report.items, report.annotations)


def _list_text(records) -> tuple[bytes, bool]:
    buf = io.BytesIO()
    uniform = J.write_list(buf, records)
    return buf.getvalue()[1:-1], uniform


def _joined(texts):
    first = True
    for t in texts:
        if t:
            if not first:
                yield b","
            yield t
            first = False


def write_parts(header: Dataset, parts: list, path, splits: list, numbered: tuple[int, int] = (0, 0), *,
                segmentation: str = "keep", recompute: bool = False, raster: str = "coco",
                polygon_mode: str = "exact", tolerance: float = 1.0) -> WriteReport:
    """Write the file :func:`write_instances` writes for the dataset whose items the ``parts`` hold, in order.

    Parameters
    ----------
    header : Dataset
        The dataset without its items (categories, top-level fields, meta).
    parts : list of Part
        From :func:`render_part`, in item order.
    path : path
    splits : list
        ``(split, image id)`` of every item, in order (:func:`splits_of`).
    numbered : (int, int)
        How many images had an id that is not an int, and the first id they
        were given (see :func:`render_part`).

    Notes
    -----
    The items are not validated here (the caller checked them); the
    report is :func:`write_instances`'s, losses in the same order.
    """
    opts = _Opts(segmentation, recompute, raster, polygon_mode, tolerance)
    report = WriteReport()
    if numbered[0]:
        report.notes.append(_ids_note("images", *numbered))
    with J.no_gc():
        w = _Write(header, opts, report)  # no items: the categories' id map only
        lose_splits(splits, report)
        with open(path, "wb") as fh:
            out = J.ChunkedWriter(fh)
            for k in section_order(header):
                if k == "images":
                    out.raw_list(k, _joined(p.images for p in parts))
                    for p in parts:
                        report.losses.extend(p.image_losses)
                        report.items += p.items
                elif k == "annotations":
                    out.raw_list(k, _joined(p.annotations for p in parts))
                    for p in parts:
                        report.losses.extend(p.annotation_losses)
                        report.annotations += p.annotation_count
                else:
                    w.section(out, k, top_keys(header))
            out.close()
    report.files = 1
    return report


def top_keys(ds: Dataset) -> list:
    """The top-level keys of the file the dataset was read from (COCO's usual ones when it was not)."""
    meta = ds.meta.get("coco") if isinstance(ds.meta.get("coco"), dict) else {}
    return meta.get("keys") or ["info", "licenses", "images", "annotations", "categories"]


def section_order(ds: Dataset) -> list:
    """The top-level keys written, in order: the file's, then the standard ones and the dataset's extra fields."""
    return list(dict.fromkeys([*top_keys(ds), "info", "licenses", "images", "annotations", "categories",
                               *ds.extra]))


class _Write:
    """One COCO write: the id maps, the annotation order, and each top-level section.

    ``whole`` false: ``ds`` holds a part of the items (:func:`render_part`),
    whose split losses are the whole dataset's to tell; ``image_top``: see
    :func:`_int_ids`.
    """

    def __init__(self, ds: Dataset, opts: _Opts, report: WriteReport, whole: bool = True,
                 image_top: int | None = None):
        self.ds, self.opts, self.report = ds, opts, report
        item_map = _int_ids(ds.items, "images", report, top=image_top)
        cat_map_obj = _int_ids(ds.categories, "categories", report)
        self.cat_map = None
        if cat_map_obj is not None:
            self.cat_map = {c.id: cat_map_obj.get(id(c), c.id) for c in ds.categories}
        self.ann_map = _annotation_ids(ds, report)
        self.image_ids = {id(it): it.id if item_map is None else item_map.get(id(it), it.id) for it in ds.items}
        if whole:
            lose_splits(splits_of(ds.items), report)
        self.pairs = _file_order(ds)
        self.by_item = self.pairs is None or _in_item_order(ds)
        if self.by_item:
            self.pairs = ((a, it) for it in ds.items for a in it.annotations)

    def section(self, out, k: str, top_keys) -> None:
        """Write the top-level key ``k`` (streamed for images and annotations)."""
        ds, report = self.ds, self.report
        if k == "images":
            out.stream("images", self.images())
        elif k == "annotations":
            out.stream("annotations", self.annotations())
        elif k == "categories":
            out.key("categories", self.categories())
        elif k == "info":
            if ds.info is not None or "info" in top_keys:
                out.key("info", ds.info)
        elif k == "licenses":
            if ds.licenses is not None or "licenses" in top_keys:
                out.key("licenses", ds.licenses)
        elif k in ds.extra:
            v = ds.extra[k]
            if J.jsonable(v):
                out.key(k, v)
            else:
                report.lose("L001", f"top-level field {brief(k)} cannot be written as JSON")

    def images(self):
        for it in self.ds.items:
            yield self.image_record(it, self.image_ids[id(it)])

    def image_record(self, it, image_id) -> dict:
        """The record of image ``it``, written with id ``image_id`` (counted in the report)."""
        report = self.report
        keys = origin_of(it, "coco")
        f = {"id": image_id, "file_name": it.file_name}
        if it.width is not None or (keys and "width" in keys):
            f["width"] = it.width
        if it.height is not None or (keys and "height" in keys):
            f["height"] = it.height
        if it.attributes or (keys and "attributes" in keys):
            f["attributes"] = it.attributes if keys else _clean(it.attributes, report, "image attribute", it.id)
        extra = it.extra if keys else _clean(it.extra, report, "image field", it.id)
        if f["id"] is not it.id:
            extra = dict(extra, segmill_id=it.id)
        report.items += 1
        return _ordered(keys, f, extra, _IMG_ORDER)

    def one_by_one(self, pairs):
        for a, it in pairs:
            rec = _annotation_record(a, it, self.image_ids[id(it)], self.cat_map, self.ann_map, self.opts,
                                     self.report)
            if rec is not None:
                self.report.annotations += 1
                yield rec

    def annotations(self):
        if not (self.by_item and self.opts.mode == "rle" and self.cat_map is None and self.ann_map is None):
            yield from self.one_by_one(track(self.pairs, self.ds.num_annotations, "writing annotations"))
            return
        for it in track(self.ds.items, desc="writing annotations"):
            bulk = _bulk_rle(it, self.image_ids[id(it)], self.opts, self.report)
            yield from (self.one_by_one((a, it) for a in it.annotations) if bulk is None else bulk)

    def categories(self) -> list:
        out, cat_map, report = [], self.cat_map, self.report
        for c in self.ds.categories:
            keys = origin_of(c, "coco")
            f = {"id": c.id if cat_map is None else cat_map[c.id], "name": c.name}
            if c.supercategory is not None or (keys and "supercategory" in keys):
                f["supercategory"] = c.supercategory
            if c.isthing is not None or (keys and "isthing" in keys):
                f["isthing"] = None if c.isthing is None else int(c.isthing)
            if c.color is not None or (keys and "color" in keys):
                f["color"] = None if c.color is None else list(c.color)
            extra = c.extra if keys else _clean(c.extra, report, "category field")
            if f["id"] is not c.id:
                extra = dict(extra, segmill_id=c.id)
            out.append(_ordered(keys, f, extra, _CAT_ORDER))
        return out
