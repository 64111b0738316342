"""CVAT groups: shapes sharing a label and a ``group_id`` are one object.

CVAT draws an object that the view splits (a car behind a pole) as several
shapes with one non-zero ``group_id``. segmill's reader makes the area shapes
(``<polygon>``, ``<mask>``) of one ``(label, group_id)`` in one image a single
instance, placed where its first shape was: all polygons give a multi-part
:class:`~segmill.geometry.Polygons`; a group holding a mask gives the union of
its members' pixels as a :class:`~segmill.geometry.Mask`. Boxes, polylines and
points keep their ``group_id`` but stay separate annotations (a box grouped
with a polygon is a second description of the object, not a part of it).

The member annotations are kept privately on the instance (``_cvat["parts"]``)
so that writing an unchanged instance gives back the same shapes, each with
its own attributes. The writer gives each multi-part instance a ``group_id``
of its own, and changes a ``group_id`` (``L506``) when two area annotations of
one label would otherwise read back as one instance.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Mask, Polygons
from ..model import origin_of
from ..rle import RLE, decode, merge

__all__ = ["GROUPED_TAGS", "GroupIds", "group_geometry", "merge_groups", "stored_parts"]

#: The elements whose shapes of one (label, group_id) are parts of one instance.
GROUPED_TAGS = ("polygon", "mask")
_INT64_MAX = 2**63 - 1


def merge_groups(shapes, height: int, width: int, raster: str = "coco") -> list:
    """The annotations of one image with each ``(label, group_id)`` group of area shapes made one.

    Parameters
    ----------
    shapes : list of (Annotation, str or None)
        Each shape's annotation in file order with its element tag (``None``
        for a shape kept as invalid geometry, which never joins a group).
    height, width : int
        The image size (needed only when a group holds a mask).
    raster : {"coco", "pil"}
        How the polygons of a group that also holds a mask become pixels.
    """
    groups: dict = {}
    order = []
    for ann, tag in shapes:
        gid = ann.attributes.get("group_id")  # an int from the XML attribute; an <attribute> child is text
        if tag not in GROUPED_TAGS or type(gid) is not int or gid == 0:
            order.append([(ann, tag)])
            continue
        key = (ann.category_id, gid)
        if key not in groups:
            groups[key] = []
            order.append(groups[key])
        groups[key].append((ann, tag))
    return [members[0][0] if len(members) == 1 else _instance(members, height, width, raster)
            for members in order]


def _instance(members, height, width, raster):
    """One annotation for the members of a group (two or more shapes)."""
    first = members[0][0]
    geom = group_geometry([(a.geometry, tag) for a, tag in members], height, width, raster)
    ann = type(first)(None, first.category_id, geom, attributes=dict(first.attributes))
    extra = dict(origin_of(first, "cvat") or {})
    extra["parts"] = ([a for a, _ in members], geom)
    ann.origin = ("cvat", extra)
    return ann


def group_geometry(parts, height, width, raster="coco"):
    """The geometry of a group from its members' ``(geometry, tag)``: Polygons, or a Mask when any is a mask."""
    if all(tag == "polygon" for _, tag in parts):
        return Polygons([p for g, _ in parts for p in g.parts])
    full = decode(merge([g.to_rle(height, width, raster) for g, _ in parts]))
    ys, xs = np.nonzero(full)
    if len(ys) == 0:
        return Mask(np.zeros((0, 0), bool))
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    return Mask(full[y0:y1, x0:x1], x0, y0)


def stored_parts(ann) -> list | None:
    """The shapes an instance was read from, if it is unchanged since (same label, attributes, geometry)."""
    stored = (origin_of(ann, "cvat") or {}).get("parts")
    if not stored:
        return None
    members, geom = stored
    first = members[0]
    same_geometry = ann.geometry is geom or (type(ann.geometry) is type(geom) and ann.geometry == geom)
    same = first.category_id == ann.category_id and first.attributes == ann.attributes and same_geometry
    return members if same else None


def _is_area(geometry) -> bool:
    return isinstance(geometry, (Polygons, Mask, RLE))


class GroupIds:
    """The ``group_id`` each annotation of one image is written with.

    A multi-part instance without a ``group_id`` gets a fresh one (greater
    than every integer ``group_id`` of the image); an area annotation whose
    ``(label, group_id)`` an earlier area annotation already took gets a
    fresh one too, reported as ``L506``, since the reader would merge them.
    """

    def __init__(self, given):
        self._taken = {g for g in given if isinstance(g, int)}
        self._next = max(self._taken | {0}) + 1
        self._used: set = set()

    def fresh(self) -> int:
        """A positive group id no annotation of the image uses, within the reader's 64-bit range."""
        while self._next in self._taken or self._next > _INT64_MAX:
            self._next = 1 if self._next > _INT64_MAX else self._next + 1
        self._taken.add(self._next)
        return self._next

    def assign(self, label: str, gid, geometry, n_shapes: int, report, item_id, ann_id):
        """The id to write (``None`` for none) for an annotation of ``n_shapes`` shapes."""
        if not _is_area(geometry):
            return gid
        if gid is not None and gid != 0 and (label, gid) in self._used:
            new = self.fresh()
            report.lose("L506", f"group_id {gid} already used by another {label!r} shape; written as {new}",
                        item_id, ann_id)
            gid = new
        elif (gid is None or gid == 0) and n_shapes > 1:
            gid = self.fresh()
        if gid:
            self._used.add((label, gid))
        return gid
