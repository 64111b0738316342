"""One ADE20K object record (an entry of ``annotation.object`` in a per-image JSON), checked.

Every value comes from an untrusted file: each passes a validator of
:mod:`segmill.validate` here, and a bad one raises
:class:`~segmill.errors.InputError` naming the file and the object.

Facts of the 2021 release (``utils_ade20k.py`` of the ADE20K toolkit, and the
files themselves):

* ``name_ndx`` is the class index, the value ``R / 10 * 256 + G`` of the
  ``_seg.png`` (or ``_parts_N.png``) pixels of that class; ``name`` is its
  WordNet-style name (``"car, auto, automobile, machine, motorcar"``),
  ``raw_name`` the annotator's word (``"car"``);
* ``parts.part_level`` is 0 for a whole object and N for a part drawn in
  ``_parts_N.png``; ``parts.ispartof`` is the ``id`` of the object it belongs
  to (``[]`` for a whole);
* ``occluded`` is ``"yes"``, ``"no"`` or ``[]``; ``crop`` 0 or 1;
  ``attributes`` a list of words (or one word);
* ``polygon`` is ``{"x": [...], "y": [...]}`` in pixel coordinates (empty
  when the object has a mask only); ``instance_mask`` the object's binary
  PNG, relative to the JSON's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import GeometryError, InputError
from ..geometry import Polygons
from ..rle import MAX_COORD
from ..validate import brief, finite, int_in, string

__all__ = ["AdeObject", "parse_object", "polygon_of"]


@dataclass
class AdeObject:
    """The checked fields of one object record.

    Attributes
    ----------
    oid : int
        The record's ``id`` (unique within its image).
    class_id : int
        ``name_ndx``: the category id.
    name : str
        ``name``: the category name.
    part_level : int
        0 for a whole object, N for a part of level N.
    part_of : int or None
        ``parts.ispartof``: the ``id`` of the whole.
    attributes : dict
        What the model keeps of the record (``raw_name``, ``occluded``,
        ``crop``, ``attributes``, ``depth_ordering_rank``).
    xs, ys : list of float
        The polygon's vertices (empty when there is none).
    mask : str or None
        ``instance_mask``, as written.
    """

    oid: int
    class_id: int
    name: str
    part_level: int = 0
    part_of: int | None = None
    attributes: dict = field(default_factory=dict)
    xs: list = field(default_factory=list)
    ys: list = field(default_factory=list)
    mask: str | None = None


def _empty(value) -> bool:
    """``[]``, ``""`` and ``null``: ADE20K's spellings of "not set"."""
    return value is None or (type(value) in (list, str, dict) and len(value) == 0)


def parse_object(raw, f, index: int) -> AdeObject:
    """Check one object record of file ``f`` (the ``index``-th of its list).

    Raises
    ------
    segmill.errors.InputError
        A missing or mistyped field, naming the file and the object.
    """
    rec = f"object {index}"
    if type(raw) is not dict:
        raise InputError(f"an object record must be a JSON object, got {brief(raw)}", f, rec)
    oid = int_in(raw.get("id"), "id", f, rec, lo=0)
    rec = f"object id {oid}"
    obj = AdeObject(oid, int_in(raw.get("name_ndx"), "name_ndx", f, rec, lo=1),
                    string(raw.get("name"), "name", f, rec, allow_empty=False))
    _parts(raw.get("parts"), obj, f, rec)
    obj.attributes = _attributes(raw, f, rec)
    obj.xs, obj.ys = _polygon(raw.get("polygon"), f, rec)
    mask = raw.get("instance_mask")
    if not _empty(mask):
        obj.mask = string(mask, "instance_mask", f, rec, allow_empty=False)
    return obj


def _parts(parts, obj: AdeObject, f, rec) -> None:
    if _empty(parts):
        return
    if type(parts) is not dict:
        raise InputError(f"parts must be an object, got {brief(parts)}", f, rec)
    level = parts.get("part_level")
    obj.part_level = 0 if _empty(level) else int_in(level, "parts.part_level", f, rec, lo=0, hi=1000)
    whole = parts.get("ispartof")
    if not _empty(whole):
        obj.part_of = int_in(whole, "parts.ispartof", f, rec, lo=0)
    if obj.part_level > 0 and obj.part_of is None:
        raise InputError(f"a part (part_level {obj.part_level}) must name its whole in parts.ispartof", f, rec)
    if obj.part_of == obj.oid:
        raise InputError("an object cannot be a part of itself", f, rec)


def _attributes(raw: dict, f, rec) -> dict:
    """The model attributes of one record: ``raw_name``, ``occluded``, ``crop``, ``attributes``, depth rank."""
    out = {}
    if not _empty(raw.get("raw_name")):
        out["raw_name"] = string(raw["raw_name"], "raw_name", f, rec)
    occ = raw.get("occluded")
    if not _empty(occ):
        if occ not in ("yes", "no"):
            raise InputError(f"occluded must be 'yes', 'no' or [], got {brief(occ)}", f, rec)
        out["occluded"] = occ == "yes"
    crop = raw.get("crop")
    if not _empty(crop):
        out["crop"] = bool(int_in(crop, "crop", f, rec, lo=0, hi=1))
    words = raw.get("attributes")
    if not _empty(words):
        words = [words] if type(words) is str else words
        if type(words) is not list:
            raise InputError(f"attributes must be a list of words, got {brief(words)}", f, rec)
        out["attributes"] = [string(w, "attribute", f, rec) for w in words]
    rank = raw.get("depth_ordering_rank")
    if not _empty(rank):
        out["depth_ordering_rank"] = int_in(rank, "depth_ordering_rank", f, rec)
    return out


def _polygon(poly, f, rec) -> tuple[list, list]:
    if _empty(poly):
        return [], []
    if type(poly) is not dict:
        raise InputError(f"polygon must be an object {{x: [...], y: [...]}}, got {brief(poly)}", f, rec)
    xs, ys = poly.get("x", []), poly.get("y", [])
    if type(xs) is not list or type(ys) is not list or len(xs) != len(ys):
        raise InputError(f"polygon x and y must be two lists of one length, got {brief(xs)} and {brief(ys)}",
                         f, rec)
    bound = {"lo": -MAX_COORD, "hi": MAX_COORD}
    return ([finite(v, "polygon x", f, rec, **bound) for v in xs],
            [finite(v, "polygon y", f, rec, **bound) for v in ys])


def polygon_of(obj: AdeObject, f) -> Polygons:
    """The object's polygon as :class:`~segmill.geometry.Polygons` (an InputError when it has none)."""
    if len(obj.xs) < 3:
        raise InputError(f"the polygon has {len(obj.xs)} point(s); a region needs at least 3", f,
                         f"object id {obj.oid}")
    flat = [v for xy in zip(obj.xs, obj.ys) for v in xy]
    try:
        return Polygons([flat])
    except GeometryError as exc:
        raise InputError(str(exc), f, f"object id {obj.oid}") from None
