"""Instance -> semantic: paint an item's annotations into a class map and an instance map.

Overlap policies (the annotation painted last owns a pixel):

``"zorder"`` (default)
    Ascending ``attributes["z_order"]`` (missing = 0), then descending area
    (a smaller region is painted over a larger one), then ascending annotation
    id (list position when the ids are not all integers). So the highest z
    wins, then the smallest region, then the highest id.
``"last"``
    List order: later annotations overwrite earlier ones (labelme's VOC export).

Every overwritten pixel is reported: one loss ``L701`` per annotation that
lost pixels, saying how many. Every painted polygon or box is reported too:
one loss ``L705`` per annotation, because a label map holds its pixels (exact
under the raster rule) but not its vertices, so it reads back as a mask.
Masks and RLEs are painted without loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..geometry import AREA_KINDS, Box, Polygons
from ..losses import Loss, register_codes
from ..model import Category, Item
from ..raster import first_error, rasterize
from ..rle import RLE, RLEBatch
from . import _paint

__all__ = ["compose", "Paint", "rasterized_loss", "OVERLAP_POLICIES", "VOID_CATEGORY_NAMES", "RASTERIZED"]

OVERLAP_POLICIES = ("zorder", "last")
#: Category names painted as void (labelme's convention).
VOID_CATEGORY_NAMES = ("__ignore__",)

register_codes(
    {
        "L701": "pixels of an annotation were overwritten by an overlapping annotation when painting a label map",
        "L702": "an annotation was not painted: its category has no value in the label map",
        "L703": "an annotation was not painted: its geometry has no area (point, line) or is invalid",
        "L704": "a connected component smaller than min_area was dropped when splitting instances",
        "L705": "polygon or box rasterized into a mask: pixels exact under the raster rule, vertices lost",
    },
    changes={"pixels": ("L701", "L702", "L703", "L704")},
)

#: Loss code of a polygon or box painted into a label map (also used by writers that paint on their own).
RASTERIZED = "L705"


def rasterized_loss(geometry, rule: str, item_id=None, annotation_id=None) -> Loss | None:
    """The ``L705`` loss of painting ``geometry`` into a mask, or None for masks and RLEs.

    Parameters
    ----------
    geometry : geometry
        What is about to be painted.
    rule : str
        Raster rule used (named in the message).
    item_id, annotation_id : optional
        Where.

    Returns
    -------
    Loss or None
        A loss for :class:`~segmill.geometry.Polygons` and
        :class:`~segmill.geometry.Box` (their vertices / sub-pixel edges do
        not survive in a label map); None for pixel geometries.
    """
    if isinstance(geometry, Polygons):
        what = f"polygon ({len(geometry.parts)} part{'s' if len(geometry.parts) != 1 else ''})"
    elif isinstance(geometry, Box):
        what = "box"
    else:
        return None
    return Loss(RASTERIZED, f"{what} rasterized into the mask ({rule} rule); vertices lost", item_id, annotation_id)


def _class_values(categories) -> dict:
    if isinstance(categories, Mapping):
        return dict(categories)
    out = {}
    for i, c in enumerate(categories):
        key = c.id if isinstance(c, Category) else c
        out.setdefault(key, i)
    return out


@dataclass(frozen=True)
class Paint:
    """How :func:`compose` paints: overlap policy, raster rule, void and background values.

    The fields are :func:`compose`'s keyword options (see there).
    """

    overlap: str = "zorder"
    raster: str = "coco"
    void_value: int = 255
    void_instance_value: int = 0
    background: int = 0
    paint_boxes: bool = False
    void_names: Sequence[str] = VOID_CATEGORY_NAMES
    category_names: Mapping | None = None

    def __post_init__(self):
        if self.overlap not in OVERLAP_POLICIES:
            raise ValueError(f"overlap must be one of {OVERLAP_POLICIES}, got {self.overlap!r}")

    @classmethod
    def of(cls, paint: "Paint | None" = None, **options) -> "Paint":
        """``paint`` (or the defaults) with ``options`` in place; an unknown option is a TypeError."""
        return replace(paint, **options) if paint is not None else cls(**options)


def compose(item: Item, categories, paint: Paint | None = None, *, instance_values: Sequence[int] | None = None,
            **options):
    """Paint ``item``'s annotations into a class map and an instance map.

    Parameters
    ----------
    item : Item
        Must know its ``height`` and ``width``.
    categories : mapping or sequence
        ``{category_id: class value}``, or a sequence of :class:`Category`
        (or ids) whose positions are the class values.
    paint : Paint, optional
        The painting settings as one object (those listed below); keyword
        options override it.
    instance_values : sequence of int, optional
        Instance value of each annotation (same length as
        ``item.annotations``; 0 keeps it out of the instance map). Default:
        position + 1.
    **options
        :class:`Paint` fields:
    overlap : {"zorder", "last"}
        Which annotation owns a pixel several cover (module docs).
    raster : {"coco", "pil"}
        Polygon rasterization rule.
    void_value : int, default 255
        Class value of void pixels: annotations without a category that
        carry ``attributes["void"]``, and categories named in ``void_names``.
        Void pixels get instance value 0 (a category in ``void_names``, as in
        labelme's export) or ``void_instance_value`` (void annotations; VOC
        writes 255 there).
    void_instance_value : int, default 0
        Instance value of void annotations.
    background : int, default 0
        Class value of unpainted pixels.
    paint_boxes : bool, default False
        Paint :class:`~segmill.geometry.Box` geometries (labelme rectangles)
        instead of skipping them (VOC keeps boxes in XML, not in masks).
    category_names : mapping, optional
        ``{category_id: name}`` used to recognise ``void_names``.

    Returns
    -------
    class_map : numpy.ndarray (h, w)
        uint8, or uint16 when a value exceeds 255.
    instance_map : numpy.ndarray (h, w)
        uint8, uint16 or uint32: the smallest that holds every value.
    losses : list of Loss
        ``L701`` overwritten pixels, ``L702`` category without a class value,
        ``L703`` geometry without area, ``L705`` polygon or box rasterized
        (one per painted annotation).
    """
    p = Paint.of(paint, **options)
    if item.size is None:
        raise ValueError(f"image {item.id!r} has no known size; cannot paint its annotations")
    h, w = item.size
    anns = item.annotations
    if instance_values is None:
        instance_values = list(range(1, len(anns) + 1))
    elif len(instance_values) != len(anns):
        raise ValueError("instance_values needs one value per annotation")
    losses: list[Loss] = []
    painted, geoms, cls, inst = _paintable(item, categories, p, instance_values, losses)
    rles: list[RLE] = rasterize(geoms, (h, w), p.raster) if geoms else []
    err = first_error(rles)
    if err is not None:
        raise err
    owner = _owners(anns, painted, rles, p.overlap, item, losses)
    class_map, instance_map = _maps(owner, cls, inst, p)
    return class_map, instance_map, losses


def _paintable(item: Item, categories, p: Paint, instance_values, losses: list):
    """``(positions, geometries, class values, instance values)`` of the annotations to paint; losses noted."""
    values = _class_values(categories)
    names = dict(p.category_names or {})
    if not isinstance(categories, Mapping):
        names.update({c.id: c.name for c in categories if isinstance(c, Category)})
    painted, geoms, cls, inst = [], [], [], []
    for k, ann in enumerate(item.annotations):
        g = ann.geometry
        if isinstance(g, Box) and not p.paint_boxes:
            continue
        if not isinstance(g, AREA_KINDS):
            losses.append(Loss("L703", f"{type(g).__name__} geometry not painted", item.id, ann.id))
            continue
        if ann.category_id is None:
            if not ann.attributes.get("void"):
                losses.append(Loss("L702", "annotation without a category not painted", item.id, ann.id))
                continue
            value, iv = p.void_value, int(p.void_instance_value)
        elif names.get(ann.category_id) in p.void_names:
            value, iv = p.void_value, 0
        elif ann.category_id in values:
            value, iv = values[ann.category_id], int(instance_values[k])
        else:
            losses.append(Loss("L702", f"category {ann.category_id!r} has no class value", item.id, ann.id))
            continue
        lost = rasterized_loss(g, p.raster, item.id, ann.id)
        if lost is not None:
            losses.append(lost)
        painted.append(k)
        geoms.append(g)
        cls.append(int(value))
        inst.append(iv)
    return painted, geoms, cls, inst


def _owners(anns, painted: list, rles: list, overlap: str, item: Item, losses: list) -> np.ndarray:
    """Per pixel, 1 + the index (into ``rles``) of the annotation painted last there (0: none)."""
    h, w = item.size
    n = len(rles)
    if overlap == "zorder":
        z = [_z_order(anns[k]) for k in painted]
        ids = [anns[k].id for k in painted]
        # ties: the larger annotation id on top (list position when ids are not all ints)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            ids = list(range(n))
        order = sorted(range(n), key=lambda i: (z[i], -rles[i].area, ids[i], i))
    else:
        order = list(range(n))
    owner = np.zeros((h, w), np.int32)
    hidden = np.zeros(n, np.int64)
    if n:
        batch = RLEBatch.from_rles(rles)
        _paint.paint_runs(batch.counts, batch.offsets, np.asarray(order, np.int64), owner, hidden)
    for i in np.flatnonzero(hidden).tolist():
        ann = anns[painted[i]]
        losses.append(
            Loss("L701", f"{int(hidden[i])} of {rles[i].area} pixels overwritten by overlapping annotations",
                 item.id, ann.id)
        )
    return owner


def _maps(owner: np.ndarray, cls: list, inst: list, p: Paint):
    """``(class map, instance map)`` from the owner map, in the smallest dtypes that hold the values."""
    h, w = owner.shape
    cdt = np.uint16 if max(cls + [p.void_value, p.background]) > 255 else np.uint8
    top = max(inst + [0, int(p.void_instance_value)])
    idt = np.uint8 if top <= 255 else np.uint16 if top <= 0xFFFF else np.uint32
    lut_c = np.array([p.background] + cls, cdt)
    lut_i = np.array([0] + inst, idt)
    class_map = np.empty((h, w), cdt)
    instance_map = np.empty((h, w), idt)
    _paint.apply_luts(owner, lut_c, lut_i, class_map, instance_map)
    return class_map, instance_map


def _z_order(ann) -> float:
    """``attributes["z_order"]`` as a number; a missing or non-numeric value (``"top"``, NaN) counts as 0."""
    z = ann.attributes.get("z_order", 0)
    if isinstance(z, bool) or not isinstance(z, (int, float)) or z != z or z in (float("inf"), float("-inf")):
        return 0.0
    return float(z)
