"""What a LabelMe re-read would not give back: the writer's loss checks.

The LabelMe reader names an item by its JSON's path, numbers annotations 1,
2, ... in file order (files sorted by path), gives categories ids 1, 2, ...
by first appearance (or from a class list), and keeps no stored
``area``/``bbox`` beyond what it recomputes. Each check here compares the
model with what that re-read yields and reports a loss where they differ.
"""

from __future__ import annotations

from pathlib import Path

from ..geometry import Shape
from ..validate import brief
from ._stored_values import coco_area_bbox, rle_area_bbox, stored_differs

__all__ = ["KEPT_ATTRS", "annotation_losses", "category_changes", "dataset_losses", "item_losses", "reading_order"]

#: Annotation attributes LabelMe holds (``void`` as the ``__ignore__`` label, ``z_order`` as the file order).
KEPT_ATTRS = ("group_id", "z_order", "flags", "description", "void")
#: Item attributes LabelMe holds.
_KEPT_ITEM_ATTRS = ("flags",)


def reading_order(places) -> list[int]:
    """Item indices in the order the LabelMe reader finds their JSON files (sorted paths)."""
    return sorted(range(len(places)), key=lambda k: Path(*places[k].json))


def category_changes(dataset, order) -> str | None:
    """Categories whose id, details or presence a re-read would not give back; ``None`` when all come back."""
    if dataset.meta.get("labelme_labels"):
        return None  # ids came from a class list; reading with the same list restores them
    cats = dataset.category_by_id()
    seen: list = []
    for k in order:
        for a in dataset.items[k].annotations:
            c = cats.get(a.category_id)
            if c is not None and c.name not in seen:
                seen.append(c.name)
    expect = {name: i for i, name in enumerate(seen, 1)}
    bad = [c.name for c in dataset.categories
           if expect.get(c.name) != c.id or c.supercategory or c.isthing is not None or c.color or c.extra]
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


def annotation_losses(ann, item, expected_id, rule, report) -> None:
    """Id, stored area/bbox, score, crowd flag and fields of one written annotation."""
    if ann.id != expected_id:
        report.lose("L407", f"annotation id {brief(ann.id)} reads back as {expected_id}", item.id, ann.id)
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
