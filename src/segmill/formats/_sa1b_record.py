"""One SA-1B per-image JSON document -> one :class:`~segmill.model.Item`, every value checked.

The document is ``{"image": {image_id, width, height, file_name, ...},
"annotations": [{id, segmentation, bbox, area, predicted_iou,
stability_score, point_coords, crop_box, ...}, ...]}``. All compressed RLE
strings of a document are decoded in one kernel call
(:func:`segmill.rle.from_coco` on the list); a bad one is then found and
reported by itself.

What is kept where (see :mod:`segmill.formats.sa1b`):

* ``image_id`` -> ``Item.id``; ``file_name`` (relative to the JSON's folder)
  -> ``Item.file_name`` relative to the dataset root; other image keys ->
  ``Item.extra``.
* ``segmentation`` -> an :class:`~segmill.rle.RLE`; ``area`` / ``bbox`` ->
  the stored ``Annotation.area`` / ``bbox``; SA-1B's ``id`` ->
  ``extra["sa1b_id"]``; ``predicted_iou``, ``stability_score``,
  ``point_coords``, ``crop_box`` and unknown keys -> ``Annotation.extra``
  under their own names.
* ``origin`` (private to this format): the key orders, the raw values of
  ``segmentation``, ``area``, ``bbox`` and ``file_name``, and where the JSON
  came from, so that the SA-1B writer gives back the same JSON values.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass

from ..errors import InputError, RLEError
from ..geometry import InvalidGeometry
from ..model import Annotation, Item
from ..rle import from_coco
from ..validate import ErrorPolicy, brief, finite, hashable_id, image_size, string

__all__ = ["ANN_KEYS", "CATEGORY_ID", "IMAGE_KEYS", "AnnOrigin", "ImageOrigin", "is_sa1b_shape", "parse_document"]

#: The one implicit category every SA-1B mask belongs to (see :mod:`segmill.formats.sa1b`).
CATEGORY_ID = 1
IMAGE_KEYS = ("image_id", "width", "height", "file_name")
ANN_KEYS = ("id", "segmentation", "bbox", "area")
#: SA-1B's own annotation fields kept in ``Annotation.extra`` under their names.
SCORE_KEYS = ("predicted_iou", "stability_score")
BOX_KEYS = ("crop_box",)
#: Where SA-1B's annotation ``id`` is kept (``Annotation.id`` is a dataset-wide running number).
ID_FIELD = "sa1b_id"
_MAX_POINTS = 1_000_000


@dataclass(frozen=True)
class ImageOrigin:
    """Where an item's JSON came from and its image record's raw shape (private to the SA-1B format)."""

    keys: tuple
    json_name: str
    tar: str | None
    file_name: str


@dataclass(frozen=True)
class AnnOrigin:
    """An annotation's key order and raw values; ``rle`` is the geometry they were read as."""

    keys: tuple
    rle: object
    segmentation: object
    area: object
    bbox: object


def is_sa1b_shape(data) -> bool:
    """Whether a parsed document looks like SA-1B: an ``image`` object and an ``annotations`` list."""
    return isinstance(data, dict) and isinstance(data.get("image"), dict) and isinstance(data.get("annotations"),
                                                                                         list)


def _image(doc, path, where) -> tuple:
    """``(id, file_name as written, height, width)`` of the document's image record."""
    data = doc.data
    if not is_sa1b_shape(data):
        raise InputError("not an SA-1B file: no 'image' object and 'annotations' list", path, where or None)
    im = data["image"]
    rec = _join(where, "image")
    for k in IMAGE_KEYS:
        if k not in im:
            raise InputError(f"the image record has no {k!r}", path, rec)
    iid = hashable_id(im["image_id"], "image_id", path, rec)
    h, w = image_size(im["height"], im["width"], path, rec)
    fn = string(im["file_name"], "file_name", path, rec, allow_empty=False)
    return iid, fn, h, w


def _join(where: str, what: str) -> str:
    return f"{where}, {what}" if where else what


def _file_name(doc, fn: str, path, rec) -> str:
    """The image's path relative to the dataset root: ``file_name`` is relative to the JSON's folder."""
    cleaned = fn.replace("\\", "/")
    if "\0" in cleaned or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InputError(f"file_name {brief(fn)} must be a relative path", path, rec)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(doc.name), cleaned))
    if joined == ".." or joined.startswith("../"):
        raise InputError(f"file_name {brief(fn)} points outside the dataset", path, rec)
    return joined


def _numbers(value, n, what, path, rec):
    if type(value) is list and len(value) == n and all(type(v) is float or type(v) is int for v in value):
        try:  # the common case: plain numbers; anything else words its error below
            t = tuple(map(float, value))
        except OverflowError:
            t = ()
        if t and all(map(math.isfinite, t)):
            return t
    if not isinstance(value, list) or len(value) != n:
        raise InputError(f"{what} must be a list of {n} numbers, got {brief(value)}", path, rec)
    return tuple(finite(v, what, path, rec) for v in value)


def _check_fields(a: dict, path, rec) -> None:
    """Validate SA-1B's own annotation fields (kept as found in ``extra``)."""
    for k in SCORE_KEYS:
        if k in a:
            finite(a[k], k, path, rec)
    for k in BOX_KEYS:
        if k in a:
            _numbers(a[k], 4, k, path, rec)
    pts = a.get("point_coords")
    if "point_coords" in a:
        if not isinstance(pts, list) or len(pts) > _MAX_POINTS:
            raise InputError(f"point_coords must be a list of [x, y] points, got {brief(pts)}", path, rec)
        for p in pts:
            _numbers(p, 2, "point_coords", path, rec)


def _annotation(a, rle, path, rec) -> Annotation:
    """The model annotation of one checked record ``a`` with its decoded ``rle``."""
    if "id" in a:
        sid = hashable_id(a["id"], "annotation id", path, rec)
    area = finite(a["area"], "area", path, rec, lo=0) if "area" in a else None
    bbox = _numbers(a["bbox"], 4, "bbox", path, rec) if "bbox" in a else None
    _check_fields(a, path, rec)
    extra = {k: v for k, v in a.items() if k not in ANN_KEYS}
    if "id" in a:
        extra[ID_FIELD] = sid
    ann = Annotation._trusted(None, CATEGORY_ID, rle, False, area, bbox, None, (None, extra))
    ann.origin = ("sa1b", AnnOrigin(tuple(a), rle, a["segmentation"], a.get("area"), a.get("bbox")))
    return ann


def _segmentations(anns, h, w, path, where) -> list:
    """The RLE of each annotation (one kernel call for the document), or the error found for it."""
    segs = [a.get("segmentation") if isinstance(a, dict) else None for a in anns]
    try:
        return from_coco(segs, h, w) if segs else []
    except RLEError:
        pass
    out: list = []
    for i, s in enumerate(segs):
        rec = _join(where, f"annotation {i}")
        if s is None:
            why = "has no 'segmentation'" if isinstance(anns[i], dict) else f"is not an object: {brief(anns[i])}"
            out.append(InputError(f"the annotation {why}", path, rec))
            continue
        try:
            out.append(from_coco(s, h, w))
        except RLEError as exc:
            out.append(InputError(f"segmentation: {exc}", path, rec))
    return out


def parse_document(doc, policy: ErrorPolicy) -> Item:
    """The item of one document; a bad annotation is raised, dropped or kept per ``policy``.

    Raises
    ------
    segmill.errors.InputError
        A bad image record (every mode: the caller drops the document under
        ``skip`` / ``keep``), or a bad annotation under ``raise``.
    """
    path, where = doc.path, doc.where
    iid, fn, h, w = _image(doc, path, where)
    item = Item._trusted(iid, _file_name(doc, fn, path, _join(where, "image")), w, h)
    im = doc.data["image"]
    item.extra = {k: v for k, v in im.items() if k not in IMAGE_KEYS}
    item.origin = ("sa1b", ImageOrigin(tuple(im), doc.name, None if doc.tar is None else str(doc.tar), fn))
    anns = doc.data["annotations"]
    for i, (a, rle) in enumerate(zip(anns, _segmentations(anns, h, w, path, where))):
        rec = _join(where, f"annotation {i}")
        try:
            if isinstance(rle, InputError):
                raise rle
            item.annotations.append(_annotation(a, rle, path, rec))
        except InputError as exc:
            if policy.keep_or_drop(exc):
                item.annotations.append(Annotation(None, CATEGORY_ID, InvalidGeometry(a, exc.message)))
    return item
