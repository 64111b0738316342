"""The JSON parts of Mapillary Vistas: the label table, panoptic segments and v2.0 polygons.

Every value comes from an untrusted file and passes a validator of
:mod:`segmill.validate`; a bad one raises :class:`~segmill.errors.InputError`
naming the file and the record.

* ``config_v1.2.json`` / ``config_v2.0.json``: ``{"labels": [{"name",
  "readable", "color", "instances", "evaluate"}, ...]}``; a label's position
  is its value in ``labels/`` and the class part of ``instances/``
  (``value // 256``). The label whose last ``--`` part is ``unlabeled``
  (``void--unlabeled``) is void.
* ``panoptic/panoptic_2018.json`` (v1.2) / ``panoptic_2020.json`` (v2.0):
  COCO panoptic (``images``, ``annotations`` with ``file_name`` and
  ``segments_info``, ``categories``); segment id ``R + 256 G + 256^2 B``.
  Categories are matched to the label table by name.
* ``polygons/<stem>.json`` (v2.0): ``{"width", "height", "objects": [{"id",
  "label", "polygon"}]}``; a polygon is a list of ``[x, y]`` points (the
  official files) or of flat ``[x1, y1, x2, y2, ...]`` parts (Datumaro's
  export, which also spells ``height`` as ``heigth``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import GeometryError, InputError
from ..geometry import Polygons
from ..model import Category
from ..rle import MAX_COORD
from ..validate import brief, finite, hashable_id, image_size, int_in, string

__all__ = ["LabelTable", "Segment", "is_void_name", "parse_config", "panoptic_categories", "segments",
           "polygon_size", "polygon_parts"]

#: Largest panoptic segment id (three 8-bit channels).
MAX_SEGMENT = 256**3 - 1


def is_void_name(name: str) -> bool:
    """Whether a label name means "unlabeled" (void): ``unlabeled`` or ``<group>--unlabeled``."""
    return name.split("--")[-1] == "unlabeled"


@dataclass
class LabelTable:
    """A ``config_v*.json``: categories (void left out), names by value and the void values."""

    categories: list
    names: list
    void: frozenset

    def value_of(self, name: str):
        """The label value called ``name``, or None."""
        try:
            return self.names.index(name)
        except ValueError:
            return None


def parse_config(doc, f) -> LabelTable:
    """Check a ``config_v*.json`` document.

    Raises
    ------
    segmill.errors.InputError
        No ``labels`` list, a label without a name, a bad colour or flag, or
        more labels than a 16-bit instance map can number (256).
    """
    labels = doc.get("labels") if type(doc) is dict else None
    if type(labels) is not list or not labels:
        raise InputError("a Mapillary config needs a non-empty 'labels' list", f)
    if len(labels) > 256:
        raise InputError(f"{len(labels)} labels: a 16-bit instances/ map numbers at most 256 classes", f)
    cats, names, void = [], [], set()
    for i, lab in enumerate(labels):
        rec = f"labels[{i}]"
        if type(lab) is not dict:
            raise InputError(f"a label must be an object, got {brief(lab)}", f, rec)
        name = string(lab.get("name"), "name", f, rec, allow_empty=False)
        if name in names:
            raise InputError(f"label name {brief(name)} appears twice", f, rec)
        names.append(name)
        if is_void_name(name):
            void.add(i)
            continue
        cats.append(_category(i, name, lab, f, rec))
    return LabelTable(cats, names, frozenset(void))


def _category(i: int, name: str, lab: dict, f, rec) -> Category:
    color = lab.get("color")
    if color is not None:
        if type(color) is not list or len(color) != 3:
            raise InputError(f"color must be [r, g, b], got {brief(color)}", f, rec)
        color = tuple(int_in(c, "color value", f, rec, lo=0, hi=255) for c in color)
    isthing = lab.get("instances")
    if isthing is not None and type(isthing) is not bool:
        raise InputError(f"instances must be true or false, got {brief(isthing)}", f, rec)
    extra = {}
    if lab.get("readable") is not None:
        extra["readable"] = string(lab["readable"], "readable", f, rec)
    if lab.get("evaluate") is not None:
        if type(lab["evaluate"]) is not bool:
            raise InputError(f"evaluate must be true or false, got {brief(lab['evaluate'])}", f, rec)
        extra["evaluate"] = lab["evaluate"]
    sup = name.split("--")[0] if "--" in name else None
    return Category(i, name, sup, isthing, color, extra)


def panoptic_categories(doc, table: LabelTable, f) -> dict:
    """``{panoptic category id: label value}``, matched by name to the label table."""
    cats = doc.get("categories") if type(doc) is dict else None
    if type(cats) is not list:
        raise InputError("a panoptic JSON needs a 'categories' list", f)
    out = {}
    for i, c in enumerate(cats):
        rec = f"categories[{i}]"
        if type(c) is not dict:
            raise InputError(f"a category must be an object, got {brief(c)}", f, rec)
        cid = hashable_id(c.get("id"), "category id", f, rec)
        name = string(c.get("name"), "category name", f, rec)
        value = table.value_of(name)
        if value is None:
            raise InputError(f"category {brief(name)} is not a label of the config", f, rec)
        out[cid] = value
    return out


@dataclass
class Segment:
    """One checked ``segments_info`` entry."""

    id: int
    value: int
    iscrowd: bool
    area: float | None
    bbox: tuple | None


def segments(raw, cats: dict, f, where: str) -> list[Segment]:
    """The checked ``segments_info`` of one image (``cats``: panoptic category id -> label value)."""
    if type(raw) is not list:
        raise InputError(f"segments_info must be a list, got {brief(raw)}", f, where)
    out, seen = [], set()
    for k, s in enumerate(raw):
        rec = f"{where}, segments_info[{k}]"
        if type(s) is not dict:
            raise InputError(f"a segment must be an object, got {brief(s)}", f, rec)
        sid = int_in(s.get("id"), "segment id", f, rec, lo=1, hi=MAX_SEGMENT, integral_floats=True)
        if sid in seen:
            raise InputError(f"duplicate segment id {sid}", f, rec)
        seen.add(sid)
        cid = hashable_id(s.get("category_id"), "category_id", f, rec)
        if cid not in cats:
            raise InputError(f"category_id {brief(cid)} is not a declared category", f, rec)
        crowd = int_in(s.get("iscrowd", 0), "iscrowd", f, rec, lo=0, hi=1, integral_floats=True)
        area = s.get("area")
        area = None if area is None else finite(area, "area", f, rec, lo=0)
        out.append(Segment(sid, cats[cid], bool(crowd), area, _bbox(s.get("bbox"), f, rec)))
    return out


def _bbox(bbox, f, rec):
    """Four finite numbers, or None (absent or ``[]``, as Datumaro writes it)."""
    if bbox is None or bbox == []:
        return None
    if type(bbox) is not list or len(bbox) != 4:
        raise InputError(f"bbox must be [x, y, w, h] or [], got {brief(bbox)}", f, rec)
    return tuple(finite(v, "bbox value", f, rec) for v in bbox)


def polygon_size(doc, f) -> tuple[int, int]:
    """``(height, width)`` of a polygons file (``heigth`` accepted for ``height``)."""
    h = doc.get("height", doc.get("heigth"))
    return image_size(h, doc.get("width"), f, "height/width", allow_zero=False)


def polygon_parts(raw, f, rec) -> Polygons:
    """A ``polygon`` value: ``[[x, y], ...]`` points, or flat ``[x1, y1, ...]`` parts."""
    if type(raw) is not list or not raw or any(type(p) is not list for p in raw):
        raise InputError(f"polygon must be a list of [x, y] points or of flat parts, got {brief(raw)}", f, rec)
    bound = {"lo": -MAX_COORD, "hi": MAX_COORD}
    if all(len(p) == 2 for p in raw):
        parts = [[finite(v, "polygon coordinate", f, rec, **bound) for p in raw for v in p]]
    else:
        parts = [[finite(v, "polygon coordinate", f, rec, **bound) for v in p] for p in raw]
    try:
        return Polygons(parts)
    except GeometryError as exc:
        raise InputError(str(exc), f, rec) from None
