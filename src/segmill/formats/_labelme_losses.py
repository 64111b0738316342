"""What a LabelMe re-read would not give back: the writer's loss checks.

The LabelMe reader names an item by its JSON's path, numbers annotations 1,
2, ... in file order (files sorted by path), gives categories ids 1, 2, ...
by first appearance (or from a class list), and keeps no stored
``area``/``bbox`` beyond what it recomputes. Each check here compares the
model with what that re-read yields and reports a loss where they differ.
"""

from __future__ import annotations

from ..geometry import Shape
from ..losses import Loss
from ..validate import brief
from ._stored_values import coco_area_bbox, rle_area_bbox, stored_differs

__all__ = ["KEPT_ATTRS", "annotation_losses", "category_changes", "dataset_losses", "id_loss", "item_losses",
           "item_names"]

#: Annotation attributes LabelMe holds (``void`` as the ``__ignore__`` label, ``z_order`` as the file order).
KEPT_ATTRS = ("group_id", "z_order", "flags", "description", "void")
#: Item attributes LabelMe holds.
_KEPT_ITEM_ATTRS = ("flags",)


def item_names(item, cats) -> tuple:
    """The category names of an item's annotations, each once, in the order they first appear."""
    names: dict = {}
    for a in item.annotations:
        c = cats.get(a.category_id)
        if c is not None:
            names.setdefault(c.name)
    return tuple(names)


def category_changes(dataset, names) -> str | None:
    """Categories whose id, details or presence a re-read would not give back; ``None`` when all come back.

    ``names`` gives the :func:`item_names` of every item in reading order
    (the reader numbers categories by first appearance).
    """
    if dataset.meta.get("labelme_labels"):
        return None  # ids came from a class list; reading with the same list restores them
    seen: dict = {}
    for item_seen in names:
        for name in item_seen:
            seen.setdefault(name, len(seen) + 1)
    bad = [c.name for c in dataset.categories
           if seen.get(c.name) != c.id or c.supercategory or c.isthing is not None or c.color or c.extra]
    if not bad:
        return None
    more = " ..." if len(bad) > 5 else ""
    return f"categories {bad[:5]}{more}: ids, supercategory, colour or unused categories not kept"


def dataset_losses(dataset, report) -> None:
    """Dataset-level fields LabelMe has no place for (one JSON per image, nothing above)."""
    dropped = [k for k in ("info", "licenses") if getattr(dataset, k)] + [str(k) for k in dataset.extra]
    if dropped:
        report.lose("L001", f"dataset fields dropped: {', '.join(dropped)}")


def item_losses(item, place, report) -> None:
    """Item id, file name, split and fields a re-read would not give back."""
    if item.id != place.item_id:
        report.lose("L406", f"image id {brief(item.id)} reads back as {place.item_id!r}", item.id)
    if place.renamed:
        report.lose("L409", f"image {brief(item.file_name)} written as {place.file_name!r}", item.id)
    dropped = [f"split {item.split!r}"] if item.split is not None else []
    # segmill_id: the string id the COCO writer had to renumber; kept when it is the JSON's own path
    dropped += [str(k) for k, v in item.extra.items() if not (k == "segmill_id" and v == place.item_id)]
    dropped += [str(k) for k in item.attributes if k not in _KEPT_ITEM_ATTRS]
    if dropped:
        report.lose("L001", f"image fields dropped: {', '.join(dropped)}", item.id)


def id_loss(item_id, ann_id, expected_id) -> Loss | None:
    """L407 when the annotation id ``ann_id`` reads back as ``expected_id`` (the reader numbers 1, 2, ...)."""
    if ann_id != expected_id:
        return Loss("L407", f"annotation id {brief(ann_id)} reads back as {expected_id}", item_id, ann_id)
    return None


def annotation_losses(ann, item, rule, report) -> None:
    """Stored area/bbox, score, crowd flag and fields of one written annotation (its id: :func:`id_loss`)."""
    if ann.iscrowd:
        report.lose("L401", "crowd region written as an ordinary instance", item.id, ann.id)
    if ann.score is not None:
        report.lose("L404", f"score {ann.score} dropped", item.id, ann.id)
    dropped = [str(k) for k in ann.attributes if k not in KEPT_ATTRS] + [str(k) for k in ann.extra]
    if dropped:
        report.lose("L001", f"annotation fields dropped: {', '.join(dropped)}", item.id, ann.id)
    if (ann.area is not None or ann.bbox is not None) and _stored_differs(ann, item, rule):
        report.lose("L408", f"stored area {brief(ann.area)} / bbox {brief(ann.bbox)} differ from what a "
                            f"re-read recomputes", item.id, ann.id)


def _stored_differs(ann, item, rule) -> bool:
    """Whether the stored ``area``/``bbox`` differ from what the LabelMe reader (and COCO's convention) give."""
    g = ann.geometry
    if isinstance(g, Shape) or g is None:
        return True
    if rule != "pil":
        return stored_differs(ann, lambda: coco_area_bbox(g, item))
    # the reader stores labelme's own values: the Pillow-drawn pixels
    return item.size is None or stored_differs(ann, lambda: rle_area_bbox(ann.to_rle(item.height, item.width,
                                                                                    "pil")))
