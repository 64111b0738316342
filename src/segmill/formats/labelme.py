"""LabelMe JSON: one ``<name>.json`` per image (labelme 4.x / 5.x).

Reading
-------
A path is a folder (every ``*.json`` below it, sorted) or one ``.json`` file.
Shapes become instances: shapes with the same ``(label, group_id)`` form one
annotation (a shape without ``group_id`` is its own instance), in order of
first appearance. Area shapes (``polygon``, ``rectangle``, ``circle``,
``mask``) give the instance's geometry:

* only polygons: :class:`~segmill.geometry.Polygons`, one part per shape;
* one ``rectangle`` (``raster="coco"``): :class:`~segmill.geometry.Box`;
* one ``mask``: :class:`~segmill.geometry.Mask` patch at the first point;
* anything else (circles, mixtures, rectangles under ``raster="pil"``): a
  :class:`~segmill.geometry.Mask` of the union, drawn with the raster rule.

``line``, ``linestrip``, ``point`` and ``points`` shapes are carried as
:class:`~segmill.geometry.Shape` annotations of their own and never rasterized.
With ``raster="pil"`` polygons are later drawn the way labelme draws them
(Pillow, boundary included) and every area annotation carries labelme's own
``area`` / ``bbox`` (pixel count and toBbox of the Pillow-drawn union), which
is what ``labelme2coco.py`` writes. The original shapes are kept in a
private attribute of each annotation (``_labelme``, not part of the model's
equality and never seen by other writers) so a LabelMe -> LabelMe round trip
writes them back verbatim as long as the geometry was not changed; non-empty
``flags`` / ``description`` also go to ``attributes``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from ..errors import GeometryError, InputError
from ..geometry import InvalidGeometry, Shape
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from . import NO, Detection, FormatSpec, register_format
from ._labelme_geometry import instance_geometry, pil_union
from ._labelme_shapes import AREA_TYPES, LINE_TYPES, _b64_image, _parse_shape
from ._labelme_write import write
from ..paths import resolve_inside

register_codes(
    {
        "L401": "crowd flag dropped (LabelMe has no crowd regions)",
        "L402": "category ids and supercategories dropped (LabelMe keeps label names only)",
        "L403": "group_id changed so that two annotations do not merge into one instance",
        "L404": "detection score dropped (LabelMe has no scores)",
    }
)

__all__ = ["detect", "read", "write", "AREA_TYPES", "LINE_TYPES", "MAX_PIXELS"]

MAX_PIXELS = 2**31


# ------------------------------------------------------------------ detection
def detect(path) -> Detection:
    """A ``.json`` with ``shapes`` and ``imagePath`` keys (or a folder of them)."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(p.glob("*.json"))[:3] if p.is_dir() else []
    for f in files:
        if f.suffix.lower() != ".json":
            continue
        with open(f, "rb") as fh:
            head = fh.read(4096)
        if b'"shapes"' in head and (b'"imagePath"' in head or b'"imageHeight"' in head):
            where = "file" if p.is_file() else f"folder ({f.name})"
            return Detection(0.9, f"LabelMe JSON {where}: has 'shapes' and 'imagePath'")
    return NO


# ------------------------------------------------------------------ helpers
def _keep_shapes(ann, entries) -> None:
    """Remember the shapes an annotation came from (private: not model data)."""
    object.__setattr__(ann, "_labelme", [e["raw"] for e in entries])
    first = entries[0]["raw"]
    if first.get("flags"):
        ann.attributes["flags"] = first["flags"]
    if first.get("description"):
        ann.attributes["description"] = first["description"]


# ------------------------------------------------------------------ reading
def _read_labels(path) -> list[Category]:
    p = Path(path)
    try:
        names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except OSError as exc:
        raise InputError(f"cannot read the label list: {exc.strerror}", p) from None
    labelme_style = names[:1] == ["__ignore__"]
    cats = []
    for i, name in enumerate(names):
        # labelme's convention: __ignore__ first (written as 255), _background_ = 0.
        cid = (255 if i == 0 else i - 1) if labelme_style else i
        cats.append(Category(cid, name))
    return cats


def read(path, errors: str = "raise", raster: str = "coco", labels=None) -> Dataset:
    """Read LabelMe JSON files.

    Parameters
    ----------
    path : path
        A folder of ``*.json`` (searched recursively) or one ``.json`` file;
        the folder is the dataset root (images must lie inside it).
    errors : {"raise", "skip", "keep"}
        See :mod:`segmill.formats`.
    raster : {"coco", "pil"}
        How polygons become pixels later (stored in ``meta["raster_rule"]``);
        ``"pil"`` reproduces labelme's own masks and sets labelme's
        ``area`` / ``bbox`` on each area annotation.
    labels : path, optional
        A class list, one name a line. When it starts with ``__ignore__``
        (labelme's convention) ``__ignore__`` gets id 255, ``_background_`` 0
        and the others 1, 2, ...; otherwise ids are line numbers from 0.
        Without it, ids are 1, 2, ... in order of first appearance.
    """
    if errors not in ("raise", "skip", "keep"):
        raise ValueError(f"errors must be 'raise', 'skip' or 'keep', got {errors!r}")
    if raster not in ("coco", "pil"):
        raise ValueError(f"raster must be 'coco' or 'pil', got {raster!r}")
    p = Path(path)
    root = p.parent if p.is_file() else p
    files = [p] if p.is_file() else sorted(p.rglob("*.json"))
    fixed = labels is not None
    cats = _read_labels(labels) if fixed else []
    by_name = {c.name: c for c in cats}
    ds = Dataset(categories=cats, meta={"raster_rule": raster, "image_root": str(root)})
    if fixed:
        ds.meta["labelme_labels"] = str(labels)
    skipped = ds.meta.setdefault("skipped", []) if errors == "skip" else None

    def unreadable(entry):  # a record dropped from a file whose other records are read
        ds.meta.setdefault("skipped", []).append(entry)

    next_ann = 1
    for f in files:
        data = _load_json(f)  # a file that is not JSON at all raises in every mode
        try:
            item, anns = _read_file(f, data, root, raster, errors, skipped, unreadable)
        except InputError as exc:
            if errors == "raise":
                raise
            # skip: listed and dropped; keep: listed for `segmill check` (S014)
            ds.meta.setdefault("skipped", []).append(
                {"path": str(f), "record": exc.record or f.name, "reason": exc.message})
            continue
        if item is None:
            continue
        for ann, label in anns:
            if isinstance(ann.geometry, InvalidGeometry) and label not in by_name and (fixed or not label):
                # kept for `segmill check` without a category: its label is missing or not in the list
                # (a bad shape with a usable label keeps it, like any other shape)
                ann.id = next_ann
                next_ann += 1
                item.annotations.append(ann)
                continue
            cat = by_name.get(label)
            if cat is None:
                if fixed:
                    msg = f"label {label!r} is not in the label list {str(labels)!r}"
                    if errors == "raise":
                        raise InputError(msg, f, f"shape label {label!r}")
                    if errors == "skip":
                        skipped.append({"path": str(f), "record": f"label {label!r}", "reason": msg})
                        continue
                cat = Category(len(cats) + 1, label)
                cats.append(cat)
                by_name[label] = cat
            ann.category_id = cat.id
            ann.id = next_ann
            next_ann += 1
            item.annotations.append(ann)
        ds.items.append(item)
    if errors != "keep":
        ds.validate(p)
    return ds


def _load_json(f):
    try:
        with open(f, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError) as exc:
        raise InputError(f"not valid JSON: {exc}", f) from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise InputError("not a LabelMe file: no 'shapes' list", f)
    return data


def _image_size(data, target, f):
    h, w = data.get("imageHeight"), data.get("imageWidth")
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (h, w))
    if ok:
        if h * w > MAX_PIXELS:
            raise InputError(f"image size {w}x{h} is not plausible", f, "imageHeight/imageWidth")
        return h, w
    if h is not None or w is not None:
        raise InputError(f"imageHeight/imageWidth must be non-negative integers, got {h!r}/{w!r}", f)
    from PIL import Image

    src = None
    if data.get("imageData"):
        src = io.BytesIO(_b64_image(data["imageData"], f, "imageData"))
    elif target is not None and target.is_file():
        src = target
    if src is None:
        raise InputError("no imageHeight/imageWidth, no imageData and the image is missing", f)
    try:
        with Image.open(src) as im:
            w, h = im.size
    except Exception as exc:
        raise InputError(f"cannot read the image size: {exc}", f) from None
    return h, w


def _read_file(f, data, root, rule, errors, skipped, unreadable):
    rel_json = f.relative_to(root)
    image_path = data.get("imagePath")
    target = None
    if image_path is not None:
        if not isinstance(image_path, str):
            raise InputError("imagePath must be a string", f)
        joined = (rel_json.parent / image_path.replace("\\", "/")).as_posix()
        try:
            target = resolve_inside(root, joined, f, "imagePath")
        except InputError:
            if errors != "keep":
                raise
            # keep: the item stays with its unsafe name, which S012 reports
            target, file_name = None, joined
        else:
            file_name = target.relative_to(Path(root).resolve()).as_posix()
    else:
        file_name = rel_json.with_suffix("").as_posix()
    bad_data = None
    if data.get("imageData") is not None:
        try:
            _b64_image(data["imageData"], f, "imageData")
        except InputError as exc:
            if errors == "raise":
                raise
            bad_data = exc  # skip / keep: drop imageData alone when the size is known without it
    try:
        h, w = _image_size(dict(data, imageData=None) if bad_data else data, target, f)
    except InputError:
        if bad_data is not None:
            raise bad_data from None
        raise
    top = {k: v for k, v in data.items() if k not in ("shapes", "imageHeight", "imageWidth")}
    if bad_data is not None:
        top["imageData"] = None
        unreadable({"path": str(f), "record": "imageData",
                    "reason": f"{bad_data.message}; imageData dropped, the shapes were read"})
    item = Item(rel_json.with_suffix("").as_posix(), file_name, w, h)
    if data.get("flags"):
        item.attributes["flags"] = data["flags"]
    object.__setattr__(item, "_labelme", top)

    groups: dict = {}
    order = []
    for i, shape in enumerate(data["shapes"]):
        rec = f"shape {i}"
        try:
            entry = _parse_shape(shape, f, rec)
        except InputError as exc:
            if errors == "raise":
                raise
            if errors == "skip":
                skipped.append({"path": str(f), "record": rec, "reason": exc.message})
            else:  # keep: for segmill check
                label = shape.get("label") if isinstance(shape, dict) and isinstance(shape.get("label"), str) else ""
                order.append(("bad", i, (label, InvalidGeometry(shape, exc.message))))
            continue
        label, gid, kind = entry["label"], entry["group_id"], entry["kind"]
        if kind in LINE_TYPES:
            order.append(("line", i, entry))
            continue
        key = (label, gid) if gid is not None else ("\0", i)
        if key not in groups:
            groups[key] = []
            order.append(("area", key, None))
        groups[key].append(entry)

    anns = []
    for z, (what, key, entry) in enumerate(order):
        if what == "bad":
            anns.append((Annotation(None, None, entry[1]), entry[0]))
            continue
        if what == "line":
            attrs = {} if entry["group_id"] is None else {"group_id": entry["group_id"]}
            ann = Annotation(None, None, Shape(entry["kind"], entry["points"]), attributes=attrs)
            _keep_shapes(ann, [entry])
            anns.append((ann, entry["label"]))
            continue
        members = groups[key]
        label, gid = members[0]["label"], members[0]["group_id"]
        triples = [(e["kind"], e["points"], e["mask"]) for e in members]
        try:
            geom = instance_geometry(triples, h, w, rule)
        except GeometryError as exc:
            rec = f"instance {label!r} group_id {gid!r}"
            if errors == "raise":
                raise InputError(str(exc), f, rec) from None
            if errors == "skip":
                skipped.append({"path": str(f), "record": rec, "reason": str(exc)})
            else:  # keep: for segmill check
                raw = {"shapes": [e["raw"] for e in members]}  # a dict: check classifies it by the reason
                anns.append((Annotation(None, None, InvalidGeometry(raw, str(exc))), label))
            continue
        attrs = {"z_order": z}
        if gid is not None:
            attrs["group_id"] = gid
        ann = Annotation(None, None, geom, attributes=attrs)
        _keep_shapes(ann, members)
        if rule == "pil":
            r = pil_union(triples, h, w)
            ann.area = float(r.area)
            ann.bbox = tuple(float(v) for v in r.bbox)
        anns.append((ann, label))
    return item, anns


register_format(
    FormatSpec(
        name="labelme",
        description="LabelMe JSON, one file per image (polygons, rectangles, circles, masks, lines, points)",
        detect=detect,
        read=read,
        write=write,
        output="dir",
        options={
            "errors": "reader: raise | skip | keep (see segmill.formats)",
            "raster": "reader: coco (default) | pil: pil draws polygons like labelme (Pillow, boundary included)",
            "labels": "reader: class list file; labelme's convention (__ignore__ -> 255, _background_ -> 0) "
                      "when it starts with __ignore__",
            "indent": "writer: JSON indentation (default 2, labelme's own)",
        },
    )
)
