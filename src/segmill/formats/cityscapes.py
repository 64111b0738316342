"""Cityscapes gtFine: ``gtFine/<split>/<city>/<base>_gtFine_*.{png,json}``.

Facts (cityscapesScripts):

* ``*_gtFine_labelIds.png``: 8-bit, one label ``id`` per pixel (table in
  :mod:`segmill.formats._cityscapes_labels`), 0 = unlabeled.
* ``*_gtFine_instanceIds.png``: 16-bit (8-bit files are accepted too); a pixel
  of an instance of a class with instances holds ``id * 1000 + k``; any other
  pixel holds the plain ``id`` (for a class with instances that is a group
  region, which segmill reads as a crowd annotation).
* ``*_gtFine_polygons.json``: ``imgHeight``, ``imgWidth``, ``objects`` of
  ``{label, polygon}``, drawn in order (later over earlier) with Pillow by
  ``json2labelImg.py``, so ``raster="pil"`` reproduces the official PNGs;
  a ``<name>group`` label is a crowd region of ``<name>``.
* Images: ``leftImg8bit/<split>/<city>/<base>_leftImg8bit.png``.

The reader takes, per image, ``instanceIds`` if present, else ``labelIds``,
else ``polygons`` (``source=`` forces one). Categories are the official table
(ids 0..33, ``isthing`` = hasInstances, trainId / categoryId / ignoreInEval in
``extra["cityscapes"]``). Value 0 (unlabeled) is background, not an annotation.
The writer writes ``labelIds``, ``instanceIds`` and ``labelTrainIds``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError, PolygonError
from ..geometry import Box, InvalidGeometry, Mask, Polygons
from ..losses import WriteReport, register_codes
from ..model import Annotation, Category, Dataset, Item
from ..rle import RLE, decode, encode
from . import NO, Detection, FormatSpec, register_format
from ._cityscapes_labels import BY_ID, BY_NAME, LABELS

register_codes(
    {
        "L601": "annotation dropped: its category is not a Cityscapes label (matched by name)",
        "L602": "overlapping pixels overwritten by a later annotation",
        "L603": "instances of a class without instances merged into one region",
        "L604": "more than 1000 instances of one class in an image: instance dropped",
        "L605": "annotation attributes, scores or crowd flags of stuff classes dropped",
        "L606": "categories replaced by the official Cityscapes label table (ids by name)",
    }
)

SUFFIXES = ("instanceIds.png", "labelIds.png", "polygons.json")
_NAME = re.compile(r"^(?P<base>.+)_gtFine_(?P<kind>instanceIds\.png|labelIds\.png|polygons\.json)$")


def detect(path) -> Detection:
    """A folder with ``gtFine/`` (or one named ``gtFine``) holding ``*_gtFine_*`` files."""
    p = Path(path)
    if not p.is_dir():
        return NO
    gt = p if p.name == "gtFine" else p / "gtFine"
    if not gt.is_dir():
        return NO
    for sub in sorted(gt.iterdir())[:5]:
        for city in sorted(sub.iterdir())[:3] if sub.is_dir() else []:
            if city.is_dir() and any(_NAME.match(f.name) for f in city.iterdir()):
                return Detection(0.9, f"gtFine/{sub.name}/{city.name} holds *_gtFine_* files (Cityscapes)")
    return NO


def categories() -> list[Category]:
    """The official label table as categories (ids 0..33)."""
    out = []
    for lab in LABELS:
        if lab.id < 0:
            continue
        extra = {"cityscapes": {"trainId": lab.train_id, "categoryId": lab.category_id,
                                "ignoreInEval": lab.ignore_in_eval}}
        out.append(Category(lab.id, lab.name, lab.category, lab.has_instances, lab.color, extra))
    return out


# ------------------------------------------------------------------ reading
def _load_png(f: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(f) as im:
            if im.mode not in ("L", "I;16", "I;16B", "I", "P"):
                raise InputError(f"unexpected PNG mode {im.mode!r} (expected 8- or 16-bit grey)", f)
            arr = np.asarray(im)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read PNG: {exc}", f) from None
    return arr.astype(np.int64)


def read(path, errors: str = "raise", raster: str = "coco", source: str = "auto") -> Dataset:
    """Read Cityscapes gtFine annotations.

    Parameters
    ----------
    path : path
        The dataset root (holding ``gtFine/``) or the ``gtFine`` folder.
    errors : {"raise", "skip", "keep"}
    raster : {"coco", "pil"}
        Rule for polygons from ``polygons.json``; ``pil`` is what the
        official scripts use.
    source : {"auto", "instanceIds", "labelIds", "polygons"}
    """
    if errors not in ("raise", "skip", "keep"):
        raise ValueError(f"errors must be 'raise', 'skip' or 'keep', got {errors!r}")
    if source not in ("auto", "instanceIds", "labelIds", "polygons"):
        raise ValueError(f"unknown source {source!r}")
    p = Path(path)
    gt = p if p.name == "gtFine" else p / "gtFine"
    root = gt.parent
    if not gt.is_dir():
        raise InputError("no gtFine folder", p)
    found: dict[tuple, dict] = {}
    for f in sorted(gt.rglob("*_gtFine_*")):
        m = _NAME.match(f.name)
        rel = f.relative_to(gt).parts
        if m is None or len(rel) != 3:
            continue
        found.setdefault((rel[0], rel[1], m["base"]), {})[m["kind"].split(".")[0]] = f
    ds = Dataset(categories=categories(), meta={"raster_rule": raster, "image_root": str(root)})
    skipped = ds.meta.setdefault("skipped", []) if errors == "skip" else None
    next_ann = 1
    for (split, city, base), files in found.items():
        order = [source] if source != "auto" else ["instanceIds", "labelIds", "polygons"]
        kind = next((k for k in order if k in files), None)
        if kind is None:
            continue
        try:
            item = _read_item(split, city, base, kind, files[kind], errors)
        except InputError as exc:
            if errors != "skip":
                raise
            skipped.append({"path": str(files[kind]), "record": base, "reason": exc.message})
            continue
        for ann in item.annotations:
            ann.id = next_ann
            next_ann += 1
        ds.items.append(item)
    if errors != "keep":
        ds.validate(p)
    return ds


def _read_item(split, city, base, kind, f, errors="raise"):
    item = Item(f"{split}/{city}/{base}", f"leftImg8bit/{split}/{city}/{base}_leftImg8bit.png", split=split)
    if kind == "polygons":
        return _read_polygons(item, f, errors)
    arr = _load_png(f)
    if arr.ndim != 2:
        raise InputError(f"expected a single-channel PNG, got shape {arr.shape}", f)
    item.height, item.width = int(arr.shape[0]), int(arr.shape[1])
    for v in np.unique(arr).tolist():
        if v == 0:
            continue
        cls = v // 1000 if (kind == "instanceIds" and v >= 1000) else v
        lab = BY_ID.get(cls)
        if (lab is None or lab.id < 0) and errors != "keep":
            raise InputError(f"pixel value {v} is not a Cityscapes label id (class {cls})", f)
        if lab is None or lab.id < 0:  # keep: a dangling category for `segmill check`
            item.annotations.append(Annotation(None, cls, encode(arr == v)))
            continue
        crowd = kind == "instanceIds" and v < 1000 and lab.has_instances
        ann = Annotation(None, cls, encode(arr == v), iscrowd=crowd)
        if kind == "instanceIds" and v >= 1000:
            object.__setattr__(ann, "_cityscapes_value", v)  # private: keeps k on a round trip
        item.annotations.append(ann)
    return item


def _read_polygons(item, f, errors="raise"):
    try:
        doc = json.loads(f.read_bytes())
        h, w = int(doc["imgHeight"]), int(doc["imgWidth"])
        objects = doc["objects"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a Cityscapes polygons file: {exc}", f) from None
    item.height, item.width = h, w
    for n, obj in enumerate(objects):
        rec = f"object {n}"
        if not isinstance(obj, dict) or obj.get("deleted"):
            continue
        name = obj.get("label")
        crowd = False
        lab = BY_NAME.get(name)
        if lab is None and isinstance(name, str) and name.endswith("group"):
            lab = BY_NAME.get(name[: -len("group")])
            crowd = lab is not None and lab.has_instances
            lab = lab if crowd else None
        try:
            if lab is None or lab.id < 0:
                raise InputError(f"label {name!r} is not a Cityscapes label", f, rec)
            try:
                geom = Polygons([obj.get("polygon")])
            except PolygonError as exc:
                raise InputError(str(exc), f, rec) from None
        except InputError as exc:
            if errors != "keep":
                raise
            item.annotations.append(Annotation(None, None, InvalidGeometry(obj, exc.message)))
            continue
        item.annotations.append(Annotation(None, lab.id, geom, iscrowd=crowd, attributes={"z_order": n}))
    return item


# ------------------------------------------------------------------ writing
_IMAGE = re.compile(r"^leftImg8bit/(?P<split>[^/]+)/(?P<city>[^/]+)/(?P<base>[^/]+)_leftImg8bit\.[A-Za-z]+$")


def _split_id(item, default_split):
    """``(split, city, base)``: from a Cityscapes id or image path, else from the file name."""
    parts = str(item.id).split("/")
    if len(parts) == 3 and all(parts):
        return tuple(_safe(p) for p in parts)
    m = _IMAGE.match(item.file_name or "")
    if m:
        return _safe(m["split"]), _safe(m["city"]), _safe(m["base"])
    stem = Path(item.file_name).stem if item.file_name else str(item.id)
    return _safe(item.split or default_split), "default", _safe(stem)


def _safe(name: str) -> str:
    """One path component: no separators, never ``.`` or ``..``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip(".")
    return cleaned or "_"


def write(dataset: Dataset, path, split: str = "train") -> WriteReport:
    """Write ``gtFine/<split>/<city>/<base>_gtFine_{labelIds,instanceIds,labelTrainIds}.png``.

    Categories are matched to the official table by name. Annotations are
    painted in ``z_order`` (then file) order, later over earlier; instance
    numbers ``k`` start at 0 per class and image (cityscapesScripts'
    ``json2instanceImg``) unless the annotation was read from Cityscapes.
    ``polygons.json`` is not written: a polygon or box is painted with the
    dataset's raster rule and reported (``L705``, its vertices are lost).
    """
    from PIL import Image

    dataset.validate(path)
    out = Path(path)
    out.mkdir(parents=True)
    report = WriteReport()
    rule = dataset.meta.get("raster_rule", "coco")
    if dataset.categories != categories():
        report.lose("L606", "categories written as the official label table: ids follow the table, "
                    "other fields and categories are not kept")
    label_of = {}
    for c in dataset.categories:
        lab = BY_NAME.get(c.name)
        if lab is not None and lab.id >= 0:
            label_of[c.id] = lab
    written: set = set()
    for item in dataset.items:
        if item.size is None:
            report.lose("L005", "image size unknown: nothing written", item.id)
            continue
        sp, city, base = _split_id(item, split)
        if (sp, city, base) in written:
            raise InputError(f"two items would both be written as {sp}/{city}/{base}", path, f"image {item.id!r}")
        written.add((sp, city, base))
        inst = _paint(item, label_of, rule, report)
        ids = np.where(inst >= 1000, inst // 1000, inst)
        train = np.full(ids.shape, 255, np.uint8)
        for lab in LABELS:
            if lab.id >= 0:
                train[ids == lab.id] = lab.train_id if 0 <= lab.train_id < 255 else 255
        d = out / "gtFine" / sp / city
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ids.astype(np.uint8)).save(d / f"{base}_gtFine_labelIds.png")
        Image.fromarray(inst.astype(np.uint16)).save(d / f"{base}_gtFine_instanceIds.png")
        Image.fromarray(train).save(d / f"{base}_gtFine_labelTrainIds.png")
        report.files += 3
        report.items += 1
    return report


def _paint(item, label_of, rule, report):
    from ..bridges.compose import rasterized_loss

    h, w = item.height, item.width
    inst = np.zeros((h, w), np.int64)
    owner = np.zeros((h, w), np.int64)  # 1-based index of the annotation painted last
    order = sorted(range(len(item.annotations)), key=lambda i: item.annotations[i].attributes.get("z_order", 0))
    used: dict[int, set] = {}
    stuff_seen: dict[int, int] = {}
    for i in order:
        ann = item.annotations[i]
        lab = label_of.get(ann.category_id)
        if lab is None:
            report.lose("L601", f"category {ann.category_id!r} has no Cityscapes label", item.id, ann.id)
            continue
        if not isinstance(ann.geometry, (Polygons, RLE, Mask, Box)):
            report.lose("L002", f"{type(ann.geometry).__name__} geometry dropped", item.id, ann.id)
            continue
        if ann.score is not None or [k for k in ann.attributes if k != "z_order"]:
            report.lose("L605", "attributes or score dropped", item.id, ann.id)
        lost = rasterized_loss(ann.geometry, rule, item.id, ann.id)
        if lost is not None:  # polygons.json is not written: only the painted pixels survive
            report.lose(lost.code, lost.message, lost.item_id, lost.annotation_id)
        m = decode(ann.to_rle(h, w, rule))
        if lab.has_instances and not ann.iscrowd:
            taken = used.setdefault(lab.id, set())
            stored = getattr(ann, "_cityscapes_value", None)
            if isinstance(stored, int) and stored // 1000 == lab.id and stored % 1000 not in taken:
                k = stored % 1000
            else:
                k = next((j for j in range(1000) if j not in taken), None)
            if k is None:
                report.lose("L604", "instance number over 999", item.id, ann.id)
                continue
            taken.add(k)
            value = lab.id * 1000 + k
        else:
            stored = getattr(ann, "_cityscapes_value", None)
            if isinstance(stored, int) and stored >= 1000:
                report.lose("L603", f"instance value {stored} written as plain id {lab.id} ({lab.name!r} has no "
                            "instances in the official table)", item.id, ann.id)
            if ann.iscrowd and not lab.has_instances:
                report.lose("L605", "crowd flag of a class without instances dropped", item.id, ann.id)
            value = lab.id
            if value in stuff_seen and m.any():
                report.lose("L603", f"merged with another {lab.name!r} region", item.id, ann.id)
            stuff_seen[value] = i
        over = m & (owner > 0)
        if over.any():
            report.lose("L602", f"{int(over.sum())} pixels painted over an earlier annotation", item.id, ann.id)
        inst[m] = value
        owner[m] = i + 1
        report.annotations += 1
    return inst


register_format(
    FormatSpec(
        name="cityscapes",
        description="Cityscapes gtFine (labelIds, instanceIds = id*1000+k, polygons.json), official label table",
        detect=detect,
        read=read,
        write=write,
        output="dir",
        options={
            "errors": "reader: raise | skip | keep (see segmill.formats)",
            "raster": "reader: coco | pil (pil = the official json2labelImg drawing of polygons.json)",
            "source": "reader: auto | instanceIds | labelIds | polygons (auto prefers instanceIds)",
            "split": "writer: split for items whose id is not <split>/<city>/<base>",
        },
    )
)
