"""The state of one GeoJSON read: the categories met so far, the annotation numbering, the policy.

:class:`Reader` turns features into annotations (:mod:`segmill.formats.geojson`
reads the files and the scenes); :func:`properties` is the first check of a
feature, which a stream's first pass for the categories makes too.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..geometry import InvalidGeometry
from ..model import Annotation, Category
from ..validate import ErrorPolicy, brief, finite, hashable_id, string
from ._geo_features import parse_geometry

__all__ = ["RESERVED", "Reader", "properties"]

#: Properties that are not annotation attributes.
RESERVED = ("iscrowd", "score", "category_id")


class Reader:
    """The state of one read: categories, numbering, policy."""

    def __init__(self, root: Path, class_field: str, image_field: str, policy: ErrorPolicy):
        self.root, self.class_field, self.image_field, self.policy = root, class_field, image_field, policy
        self.cats: list[Category] = []
        self.by_name: dict[str, Category] = {}
        self.by_id: dict = {}
        self.next_ann = 1

    def categories(self, doc, f: Path) -> None:
        """Categories declared in the file's ``categories`` member (segmill writes one)."""
        decl = doc.get("categories")
        if decl is None:
            return
        if not isinstance(decl, list):
            raise InputError(f"categories must be a list, got {brief(decl)}", f, "categories")
        for i, c in enumerate(decl):
            rec = f"categories[{i}]"
            if not isinstance(c, dict):
                raise InputError(f"a category must be an object, got {brief(c)}", f, rec)
            cid = hashable_id(c.get("id"), "category id", f, rec)
            name = string(c.get("name"), "category name", f, rec, max_len=1024)
            sup = c.get("supercategory")
            sup = None if sup is None else string(sup, "supercategory", f, rec, max_len=1024)
            if cid in self.by_id:
                if self.by_id[cid].name != name:
                    raise InputError(f"category id {cid!r} is declared with two names", f, rec)
                continue
            cat = Category(cid, name, sup)
            self.cats.append(cat)
            self.by_id[cid] = cat
            self.by_name.setdefault(name, cat)

    def category(self, props, f, rec):
        cid = props.get("category_id")
        if cid is not None and not isinstance(cid, bool) and isinstance(cid, (int, str)) and cid in self.by_id:
            return cid
        if self.class_field not in props:
            raise InputError(f"the feature has no {self.class_field!r} property naming its class (name the "
                             "property with class_field / --class-field)", f, rec)
        value = props[self.class_field]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InputError(f"property {self.class_field!r} must be a string or an integer, got {brief(value)}",
                             f, rec)
        name = string(str(value), self.class_field, f, rec, max_len=1024, allow_empty=False)
        cat = self.by_name.get(name)
        if cat is None:
            ids = [c.id for c in self.cats if isinstance(c.id, int)]
            cat = Category(max(ids, default=0) + 1, name)
            self.cats.append(cat)
            self.by_name[name] = cat
            self.by_id[cat.id] = cat
        return cat.id

    def annotation(self, feat, f, rec, to_px):
        """One feature as an annotation (InputError when malformed; kept as invalid geometry under keep)."""
        props = properties(feat, f, rec)
        cid = self.category(props, f, rec)
        try:
            geom = parse_geometry(feat.get("geometry"), f, rec, to_px)
        except InputError as exc:
            if not self.policy.keeping:
                raise
            geom = InvalidGeometry(feat.get("geometry"), exc.message)
        crowd = props.get("iscrowd", False)
        if crowd not in (True, False, 0, 1):
            raise InputError(f"iscrowd must be true, false, 0 or 1, got {brief(crowd)}", f, rec)
        score = props.get("score")
        score = None if score is None else finite(score, "score", f, rec)
        skip = {self.class_field, self.image_field, *RESERVED}
        attrs = {k: v for k, v in props.items() if k not in skip}
        if "id" in feat:
            attrs["feature_id"] = feat["id"]
        ann = Annotation(self.next_ann, cid, geom, bool(crowd), None, None, score, attrs)
        self.next_ann += 1
        return ann


def properties(feat, f, rec) -> dict:
    """A feature's properties (``{}`` for null); InputError unless it is a Feature object with an object there."""
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        raise InputError(f"a feature must be an object of type 'Feature', got {brief(feat)}", f, rec)
    props = feat.get("properties")
    props = {} if props is None else props
    if not isinstance(props, dict):
        raise InputError(f"properties must be an object, got {brief(props)}", f, rec)
    return props
