"""LabelMe writer: one ``<item id>.json`` per item (see :mod:`segmill.formats.labelme`)."""

from __future__ import annotations

import base64
import io
import json
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import GeometryError, InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset
from ..rle import RLE, decode
from ..validate import brief
from ._labelme_geometry import crop, instance_geometry
from ._labelme_shapes import LINE_TYPES, _parse_shape
from ..paths import output_name
from ._yolo_write import write_text

_KNOWN_TOP = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")


def _png_b64(arr: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=bool)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _stored_shapes(ann, item, rule):
    """The shapes this annotation was read from, if its geometry is unchanged."""
    stored = getattr(ann, "_labelme", None)
    if not stored:
        return None
    if item.size is not None and any(s.get("shape_type") not in (None, "", "polygon") for s in stored):
        check_pixels(item.height, item.width, None, f"image id {brief(item.id)}")  # circles, masks are drawn
    try:
        entries = [_parse_shape(dict(s, label=""), None, "") for s in stored]
        if isinstance(ann.geometry, Shape):
            same = len(entries) == 1 and ann.geometry == Shape(entries[0]["kind"], entries[0]["points"])
        else:
            triples = [(e["kind"], e["points"], e["mask"]) for e in entries]
            same = instance_geometry(triples, item.height, item.width, rule) == ann.geometry
    except (InputError, GeometryError):
        return None
    return [dict(s) for s in stored] if same else None


def _shapes_from_geometry(g, item, report, ann):
    """LabelMe shape dicts (without label/group_id) for a geometry."""
    base = {"description": "", "flags": {}}
    if isinstance(g, Polygons):
        return [dict(base, points=p.tolist(), shape_type="polygon") for p in g.parts]
    if isinstance(g, Box):
        pts = [[g.x, g.y], [g.x + g.w, g.y + g.h]]
        return [dict(base, points=pts, shape_type="rectangle")]
    if isinstance(g, Shape):
        kind = {"polyline": "linestrip"}.get(g.kind, g.kind)
        if kind not in LINE_TYPES:
            report.lose("L002", f"a {g.kind!r} shape has no LabelMe equivalent", item.id, ann.id)
            return []
        if kind == "point" and len(g.points) != 1:
            kind = "points"
        return [dict(base, points=g.points.tolist(), shape_type=kind)]
    if isinstance(g, (RLE, Mask)):
        if item.size is None:
            report.lose("L005", "mask written without a known image size", item.id, ann.id)
            return []
        check_pixels(item.height, item.width, None, f"image id {brief(item.id)}")  # before decoding
        m = crop(decode(g.to_rle(item.height, item.width)) if isinstance(g, Mask) else decode(g))
        if m.array.size == 0:
            report.lose("L002", "an empty mask has no LabelMe shape", item.id, ann.id)
            return []
        ph, pw = m.array.shape
        pts = [[m.left, m.top], [m.left + pw - 1, m.top + ph - 1]]
        return [dict(base, points=pts, shape_type="mask", mask=_png_b64(m.array))]
    report.lose("L002", f"geometry {type(g).__name__} has no LabelMe shape", item.id, ann.id)
    return []


def write(dataset: Dataset, path, indent: int = 2) -> WriteReport:
    """Write one LabelMe JSON per item under the folder ``path``.

    ``imagePath`` is the one read from LabelMe when known, else the item's
    file name relative to the JSON's folder; images are not copied.
    """
    dataset.validate(path)
    out = Path(path)
    names = _output_names(dataset, path)  # every name is checked before anything is written
    out.mkdir(parents=True)
    report = WriteReport()
    rule = dataset.meta.get("raster_rule", "coco")
    cats = dataset.category_by_id()
    changed = _category_changes(dataset)
    if changed:
        report.lose("L402", changed)
    for item, rel in zip(dataset.items, names):
        doc = _item_doc(item, cats, rule, report)
        dst = out.joinpath(*rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        # JSON text holding lone surrogates (read from "\ud800" escapes) is written escaped, as it was read
        write_text(dst, _dumps(doc, indent, item) + "\n", fallback=partial(_dumps, doc, indent, item, True, "\n"))
        report.files += 1
        report.items += 1
    return report


def _output_names(dataset, path) -> list[tuple[str, ...]]:
    """The relative path (folder parts, ``<name>.json``) of each item's file, from its id.

    An id naming a place outside the output folder (``..``, an absolute
    path), holding a NUL byte, or with a part too long for the file system
    is refused, as are two ids that would share one file (``1`` and ``"1"``).
    """
    seen: dict = {}
    names = []
    for item in dataset.items:
        rec = f"image id {brief(item.id)}"
        parts = [q for q in str(item.id).replace("\\", "/").split("/") if q not in ("", ".")]
        if not parts or ".." in parts:
            raise InputError(f"item id {brief(item.id)} would be written outside the output folder", path, rec)
        parts[-1] += ".json"
        for q in parts:
            output_name(q, "item id part", path, rec)
        rel = tuple(parts)
        if rel in seen:
            raise InputError(f"item ids {brief(seen[rel])} and {brief(item.id)} would both be written to "
                             f"{brief('/'.join(rel))}", path, rec)
        seen[rel] = item.id
        names.append(rel)
    return names


def _dumps(doc, indent, item, ascii: bool = False, end: str = "") -> str:
    try:
        return json.dumps(doc, indent=indent, ensure_ascii=ascii) + end
    except (TypeError, ValueError, RecursionError) as exc:  # values another format put in attributes
        raise InputError(f"cannot write as JSON: {exc}", None, f"image id {brief(item.id)}") from None


def _category_changes(dataset) -> str | None:
    """What a re-read would not give back: LabelMe ids are 1, 2, ... by first appearance."""
    if dataset.meta.get("labelme_labels"):
        return None  # ids came from a class list; reading with the same list restores them
    cats = dataset.category_by_id()
    order: list = []
    for item in sorted(dataset.items, key=lambda i: Path(str(i.id) + ".json")):
        for a in item.annotations:
            c = cats.get(a.category_id)
            if c is not None and c.name not in order:
                order.append(c.name)
    expect = {name: i for i, name in enumerate(order, 1)}
    bad = [c.name for c in dataset.categories
           if expect.get(c.name) != c.id or c.supercategory or c.isthing is not None or c.color or c.extra]
    if not bad:
        return None
    more = " ..." if len(bad) > 5 else ""
    return f"categories {bad[:5]}{more}: ids, supercategory, colour or unused categories not kept"


def _item_doc(item, cats, rule, report):
    meta = dict(getattr(item, "_labelme", None) or {})
    used = {}
    taken = {_gid(a) for a in item.annotations}
    fresh = 0
    shapes = []
    for ann in item.annotations:
        cat = cats.get(ann.category_id)
        if cat is None:
            report.lose("L003", "annotation without a category", item.id, ann.id)
            continue
        if ann.iscrowd:
            report.lose("L401", "crowd region written as an ordinary instance", item.id, ann.id)
        if ann.score is not None:
            report.lose("L404", f"score {ann.score} dropped", item.id, ann.id)
        dropped = [k for k in ann.attributes if k not in ("group_id", "z_order", "flags", "description")]
        if dropped:
            report.lose("L001", f"attributes dropped: {', '.join(map(str, dropped))}", item.id, ann.id)
        body = _stored_shapes(ann, item, rule) or _shapes_from_geometry(ann.geometry, item, report, ann)
        if not body:
            continue
        gid = _gid(ann)
        if gid is None and ann.attributes.get("group_id") is not None:
            report.lose("L403", f"group_id {brief(ann.attributes['group_id'])} is not an integer or a string",
                        item.id, ann.id)
        is_area = not isinstance(ann.geometry, Shape)
        if is_area and (len(body) > 1 or gid is not None):
            if gid is None or (cat.name, gid) in used:
                if gid is not None:
                    report.lose("L403", f"group_id {gid!r} already used by another {cat.name!r}", item.id, ann.id)
                while fresh in taken:
                    fresh += 1
                gid = fresh
                taken.add(gid)
            used[(cat.name, gid)] = ann.id
        elif is_area:
            gid = None
        for s in body:
            if "flags" in ann.attributes and not s.get("flags"):
                s["flags"] = ann.attributes["flags"]
            if "description" in ann.attributes and not s.get("description"):
                s["description"] = ann.attributes["description"]
            shapes.append(_ordered_shape(cat.name, gid, s))
        report.annotations += 1
    flags = meta.get("flags", item.attributes.get("flags", {}))
    doc = {"version": meta.get("version", "5.5.0"), "flags": flags, "shapes": shapes}
    doc["imagePath"] = meta["imagePath"] if "imagePath" in meta else _rel_image(item)
    doc["imageData"] = meta.get("imageData")
    doc["imageHeight"] = item.height
    doc["imageWidth"] = item.width
    for k, v in meta.items():
        if k not in _KNOWN_TOP:
            doc[k] = v
    return doc


def _gid(ann):
    """The annotation's group_id when LabelMe can hold it (an integer or a string), else ``None``."""
    gid = ann.attributes.get("group_id")
    return gid if isinstance(gid, (int, str)) and not isinstance(gid, bool) else None


def _rel_image(item):
    import posixpath

    name = posixpath.normpath(item.file_name.replace("\\", "/"))
    if name.startswith(("../", "/")) or name == "..":
        # a path LabelMe would resolve outside the dataset: keep the bare file name
        name = posixpath.basename(name)
    json_dir = posixpath.dirname(str(item.id))
    return posixpath.relpath(name, json_dir or ".")


def _ordered_shape(label, gid, s):
    shape = {"label": label, "points": s.get("points"), "group_id": gid}
    for k in ("description", "shape_type", "flags", "mask"):
        if k in s:
            shape[k] = s[k]
    for k, v in s.items():
        if k not in shape:
            shape[k] = v
    return shape
