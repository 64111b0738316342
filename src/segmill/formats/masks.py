"""Plain PNG mask folders: semantic label maps with a class list, optional instance id maps.

Layout (read and written)::

    <root>/
      classes.txt            one class name a line; line order = label value (0, 1, ...);
                             a line "__ignore__" (or "ignored") names void, which is
                             ``ignore_value`` (255) and takes no value
      semantic/<stem>.png    label map: 8-bit grey, 16-bit grey or paletted (index = value)
      instances/<stem>.png   optional instance id map, 8- or 16-bit, 0 = no instance
      instances.json         optional {"<stem>": {"<instance id>": "<class name>"}}: the
                             class of each instance when there is no semantic map

An instance's class comes from the semantic map under it (one annotation per
class found there) or, without a semantic map, from ``instances.json``.
Class pixels outside every instance become one annotation per class
(``extra["voc_semantic"]``); void pixels one void annotation. Items are named
by the PNG stem; the image is ``images/<stem>.*`` when present.

The writer paints every area annotation (polygons, boxes, masks) with
:func:`segmill.bridges.compose.compose`; a polygon or box reads back as a
mask, so each is reported (``L705``), like overwritten pixels (``L701``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..losses import WriteReport
from ..model import Dataset, Item
from . import Detection, FormatSpec, NO, register_format
from ._png import read_label_png, write_png
from ._voc_masks import dropped_fields, masks_to_annotations, read_class_names

__all__ = ["read", "write", "detect"]


def detect(path) -> Detection:
    p = Path(path)
    if p.is_dir() and (p / "classes.txt").is_file() and ((p / "semantic").is_dir() or (p / "instances").is_dir()):
        return Detection(0.85, "classes.txt with semantic/ or instances/ PNG folders")
    return NO


def read(path, *, labels=None, ignore_value: int = 255, background: int = 0, errors: str = "raise",
         raster: str = "coco") -> Dataset:
    """Read a mask folder (layout in the module docs).

    Parameters
    ----------
    labels : path, optional
        Class list (default ``<root>/classes.txt``).
    ignore_value : int, default 255
        Void value in the semantic maps.
    background : int, default 0
        Label value that is not an object (still a category).
    """
    root = Path(path)
    cl = read_class_names(Path(labels) if labels else root / "classes.txt")
    if ignore_value < len(cl.names):
        raise InputError(f"ignore value {ignore_value} collides with class {cl.names[ignore_value]!r}",
                         labels or root / "classes.txt")
    name_to_value = {n: i for i, n in enumerate(cl.names)}
    inst_doc = {}
    if (root / "instances.json").is_file():
        try:
            inst_doc = json.loads((root / "instances.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"invalid JSON: {exc}", root / "instances.json") from None
    stems = sorted({f.stem for d in ("semantic", "instances") if (root / d).is_dir()
                    for f in (root / d).glob("*.png")})
    ds = Dataset(categories=cl.categories())
    ds.meta.update({"voc_class_values": True, "voc_classes": cl, "source_format": "masks"})
    if errors == "skip":
        ds.meta.setdefault("skipped", [])
    nid = 1
    modes = set()
    for stem in stems:
        try:
            item, nid, mode = _item(root, stem, cl, name_to_value, inst_doc, ignore_value, background, nid)
        except InputError as exc:
            if errors == "raise":
                raise
            # skip: listed and dropped; keep: listed for `segmill check` (S014)
            ds.meta.setdefault("skipped", []).append(
                {"path": exc.path, "record": exc.record, "reason": exc.message})
            continue
        modes.add(mode)
        ds.items.append(item)
    if len(modes) == 1:
        ds.meta["masks_mode"] = modes.pop()
    if errors != "keep":
        ds.validate(root)
    return ds


def _item(root, stem, cl, name_to_value, inst_doc, ignore_value, background, nid):
    sem_p, ins_p = root / "semantic" / f"{stem}.png", root / "instances" / f"{stem}.png"
    cmap = imap = None
    size = None
    mode = None
    if sem_p.is_file():
        img = read_label_png(sem_p, allow_16bit=True)
        cmap, size, mode = img.array, img.size, img.mode
    if ins_p.is_file():
        img = read_label_png(ins_p, size=size, allow_16bit=True, modes=("L", "I;16", "P"))
        imap, size = img.array, img.size
    classes = None
    if cmap is None and imap is not None:
        raw = inst_doc.get(stem, {})
        classes = {}
        for k, name in raw.items():
            if name not in name_to_value:
                raise InputError(f"instance {k} has class {name!r}, which is not in the class list",
                                 root / "instances.json", stem)
            classes[int(k)] = name_to_value[name]
    pairs = masks_to_annotations(cmap, imap, len(cl.names), sem_p if cmap is not None else ins_p,
                                 void_value=ignore_value, background=background, next_id=nid,
                                 instance_classes=classes)
    image = next((f.name for f in sorted((root / "images").glob(f"{stem}.*"))), f"{stem}.png") \
        if (root / "images").is_dir() else f"{stem}.png"
    item = Item(stem, image, width=size[1], height=size[0], annotations=[a for a, _ in pairs])
    return item, nid + len(pairs), mode


def write(dataset: Dataset, path, *, raster: str = "coco", overlap: str = "zorder", mode: str | None = None,
          instances: bool | None = None) -> WriteReport:
    """Write a mask folder.

    Parameters
    ----------
    mode : {"L", "P", "I;16"}, optional
        Semantic map encoding: 8-bit grey, paletted (VOC colours) or 16-bit;
        default: as read, else 8-bit (16-bit when a label value exceeds 254).
    instances : bool, optional
        Write ``instances/`` (default: when some annotation is an instance).

    Polygons and boxes are painted with the ``raster`` rule and reported
    (``L705``); ``report.annotations`` counts the annotations painted.
    """
    from ..bridges.compose import compose
    from .._progress import track
    from ._voc_write import _class_values, _voc_id

    out = Path(path)
    report = WriteReport()
    values, cl = _class_values(dataset, report)
    names = {c.id: c.name for c in dataset.categories}
    top = max(values.values(), default=0)
    mode = mode or dataset.meta.get("masks_mode") or ("I;16" if top > 254 else "L")
    if mode not in ("L", "P", "I;16"):
        raise ValueError(f"mode must be 'L', 'P' or 'I;16', got {mode!r}")
    void_value = 255 if mode != "I;16" else 65535
    (out / "semantic").mkdir(parents=True)
    lines = list(cl.names) + ([cl.void_name] if cl.void_name else [])
    (out / "classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    want_inst = instances if instances is not None else any(
        a.category_id is not None and not a.extra.get("voc_semantic") for _, a in dataset.annotations())
    if want_inst:
        (out / "instances").mkdir()
    inst_doc = {}
    seen: set = set()
    for item in track(dataset.items, desc="masks"):
        stem = _voc_id(item, seen)
        if item.height is None or item.width is None:
            report.lose("L005", "image size unknown: no mask written", item.id)
            continue
        if item.extra or item.attributes:
            report.lose("L001", f"image fields {sorted(list(item.extra) + list(item.attributes))} have no place "
                        "in a mask folder", item.id)
        ivals, k = [], 0
        cls_of = {}
        from ..geometry import AREA_KINDS

        for a in item.annotations:
            # points/lines are reported by compose (L703); polygons and boxes are painted (L705)
            if not isinstance(a.geometry, AREA_KINDS):
                ivals.append(0)
            elif a.category_id is None or a.extra.get("voc_semantic") or a.category_id not in values:
                ivals.append(0)
            else:
                k += 1
                ivals.append(k)
                cls_of[str(k)] = names.get(a.category_id)
            if a.score is not None:
                report.lose("L204", f"score {a.score} dropped", item.id, a.id)
            lost = dropped_fields(a)
            if lost:
                report.lose("L001", f"fields {lost} have no place in a mask folder", item.id, a.id)
            if a.iscrowd:
                report.lose("L203", "crowd region written as an ordinary region", item.id, a.id)
        cmap, imap, losses = compose(item, values, overlap=overlap, raster=raster, instance_values=ivals,
                                     void_value=void_value, category_names=names, paint_boxes=True)
        unpainted = set()
        for l in losses:
            report.lose(l.code, l.message, l.item_id, l.annotation_id)
            if l.code in ("L702", "L703"):
                unpainted.add(l.annotation_id)
        if mode == "P":
            write_png(out / "semantic" / f"{stem}.png", cmap, cl.color_table())
        else:
            write_png(out / "semantic" / f"{stem}.png", cmap.astype(np.uint16 if mode == "I;16" else np.uint8))
        report.files += 1
        if want_inst:
            write_png(out / "instances" / f"{stem}.png", imap.astype(np.uint16) if imap.max() > 255 else imap)
            inst_doc[stem] = cls_of
            report.files += 1
        report.items += 1
        report.annotations += sum(1 for a in item.annotations if isinstance(a.geometry, AREA_KINDS)
                                  and a.id not in unpainted)
    if want_inst:
        (out / "instances.json").write_text(json.dumps(inst_doc, indent=1), encoding="utf-8")
    return report


register_format(
    FormatSpec(
        name="masks",
        description="plain PNG mask folder: classes.txt + semantic/*.png label maps (+ instances/*.png id maps)",
        detect=detect,
        read=read,
        write=write,
        output="dir",
        options={
            "labels": "reader: class list file (default classes.txt)",
            "ignore_value": "reader: void value of the semantic maps (default 255)",
            "background": "reader: label value that is not an object (default 0)",
            "mode": "writer: L (8-bit), P (paletted) or I;16 (16-bit) semantic maps",
            "instances": "writer: also write instances/ id maps (default: when there are instances)",
            "overlap": "writer: zorder (default) or last",
            "raster": "reader/writer: coco (default) or pil",
            "errors": "reader: raise | skip | keep (see segmill.formats)",
        },
    )
)
