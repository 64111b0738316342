"""LabelMe writer: one ``<image stem>.json`` beside each image (see :mod:`segmill.formats.labelme`)."""

from __future__ import annotations

import base64
import io
import json
from functools import partial
from pathlib import Path

import numpy as np

from .._atomic import write_bytes
from ..errors import GeometryError, InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..images import image_size
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset, origin_of
from ..rle import RLE, decode
from ..validate import brief
from ._image_files import find_image, place_image
from ._labelme_geometry import crop, instance_geometry
from ._labelme_layout import image_roots, place, plan
from ._labelme_losses import annotation_losses, item_losses
from ._labelme_order import ReadingOrder
from ._labelme_shapes import LINE_TYPES, VOID_LABEL, _b64_image, _parse_shape
from ._stream_checks import checked_items
from .options import raster_rule

_KNOWN_TOP = ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth")
#: ``version`` of a file segmill makes from another format (a labelme 5.x file; labelme 6 reads it).
VERSION = "5.5.0"


def _png_b64(arr: np.ndarray) -> str:
    # lazy: start-up time (PIL is only needed to embed image data)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=bool)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _stored_shapes(ann, item, rule):
    """The shapes this annotation was read from, if its geometry is unchanged."""
    stored = origin_of(ann, "labelme")
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


def write(dataset: Dataset, path, indent: int = 2, image_root=None, copy_images: bool = True,
          link_images: bool = False, embed_images: bool = False) -> WriteReport:
    """Write one LabelMe JSON per item, beside its image, under the folder ``path``.

    Each item goes to ``<image's folders>/<image stem>.json`` with its image
    beside it (see :mod:`segmill.formats._labelme_layout`); ``imagePath`` is
    the image's name, relative to the JSON, as labelme writes it.

    Parameters
    ----------
    indent : int, default 2
        JSON indentation (labelme's own).
    image_root : path, optional
        Where the source images are. Default: ``meta["image_root"]`` and the
        folder of the source (and the one above, with ``images/`` and
        ``JPEGImages/``).
    copy_images : bool, default True
        Put each image beside its JSON. A JSON whose image cannot be found
        (nor rebuilt from the source's ``imageData``) is still written and
        reported (L405): labelme cannot open it until the image is there.
    link_images : bool, default False
        Hard-link images instead of copying them (a copy, noted, when the
        file system cannot link).
    embed_images : bool, default False
        Store the image file's bytes in ``imageData`` (base64), as labelme
        does with its "save image data" setting; ``null`` otherwise.
    """
    dataset.validate(path)
    places = plan(dataset, path)  # every name is checked before anything is written
    return _write_placed(dataset, zip(dataset.items, places), path, indent, image_root,
                         (copy_images, link_images, embed_images))


def write_stream(stream, path, indent: int = 2, image_root=None, copy_images: bool = True,
                 link_images: bool = False, embed_images: bool = False) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset: each
    file is written as its item comes, the report is put in the reader's
    order at the end (:class:`~._labelme_order.ReadingOrder`). An image the
    write refuses (a name no file system holds, an invalid geometry) stops
    it there (the caller stages the folder, so nothing is left of it).
    Memory holds one image, each image's names and the report.
    """
    taken: set = set()
    placed = ((item, place(item, taken, path)) for item in checked_items(stream, path))
    return _write_placed(stream.header, placed, path, indent, image_root, (copy_images, link_images, embed_images))


def _write_placed(dataset: Dataset, placed, path, indent: int, image_root, how) -> WriteReport:
    """Write the ``(item, Place)`` pairs of ``placed`` (in any order) with the categories and meta of ``dataset``;
    ``how`` is ``(copy_images, link_images, embed_images)``."""
    copy_images, _, embed_images = how
    out = Path(path)
    out.mkdir(parents=True)
    report = WriteReport()
    rule = raster_rule(dataset)  # what a re-read would draw with
    cats = dataset.category_by_id()
    roots = image_roots(dataset, image_root) if copy_images or embed_images else []
    order = ReadingOrder(dataset, report)
    for item, where in placed:
        own, marks = WriteReport(), []  # the item's losses and notes; where each annotation's id loss goes
        item_losses(item, where, own)
        data = _image_bytes(item, roots, out, where, how, own)
        doc = _item_doc(item, cats, rule, own, marks)
        doc["imagePath"] = where.image_path
        doc["imageData"] = base64.b64encode(data).decode("ascii") if data is not None else None
        dst = out.joinpath(*where.json)
        # JSON text holding lone surrogates (read from "\ud800" escapes) is written escaped, as it was read
        _write_text(dst, _dumps(doc, indent, item) + "\n", partial(_dumps, doc, indent, item, True, "\n"))
        own.files += 1
        own.items += 1
        order.add(item, where, own, marks)
    order.finish(() if copy_images else
                 ["images not copied (copy_images off): labelme opens a JSON only with its image beside it"])
    return report


def _image_bytes(item, roots, out, where, how, report) -> bytes | None:
    """Put the item's image beside its JSON; its bytes when they go to ``imageData``, else ``None``.

    ``how`` is ``(copy, link, embed)``. The image is the file found under
    ``roots``, else the source JSON's own ``imageData``; neither is loss L405.
    """
    copy, link, embed = how
    if not (copy or embed):
        return None
    src = find_image(item, roots)
    dst = out.joinpath(*where.image)
    if src is not None:
        if copy:
            place_image(src, dst, link, report)
            _check_size(item, dst, report)
        return src.read_bytes() if embed else None
    stored = (origin_of(item, "labelme") or {}).get("imageData")
    data = None
    if isinstance(stored, str):
        try:
            data = _b64_image(stored, None, "imageData")
        except InputError:
            data = None
    if data is None:
        report.lose("L405", f"image {brief(item.file_name)} not found: {where.file_name!r} is missing", item.id)
        return None
    if copy:
        write_bytes(dst, data)
        report.files += 1
        report.notes.append(f"image {where.file_name!r} written from the source's imageData")
    return data if embed else None


def _check_size(item, image, report) -> None:
    """labelme refuses a JSON whose imageHeight/imageWidth differ from its image's: report it (L411)."""
    if item.size is None:
        return
    try:
        size = image_size(image, image, "imagePath")
    except InputError as exc:
        report.lose("L411", f"image {image.name!r} cannot be read: {exc.message}", item.id)
        return
    if size != item.size:
        report.lose("L411", f"image {image.name!r} is {size[1]}x{size[0]}, the annotations "
                            f"{item.width}x{item.height}", item.id)


def _write_text(path: Path, text: str, fallback) -> None:
    """Write UTF-8 ``text``; text holding lone surrogates is written as ``fallback()`` (escaped)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = fallback().encode("utf-8")
    write_bytes(path, data)


def _dumps(doc, indent, item, ascii: bool = False, end: str = "") -> str:
    try:
        return json.dumps(doc, indent=indent, ensure_ascii=ascii) + end
    except (TypeError, ValueError, RecursionError) as exc:  # values another format put in attributes
        raise InputError(f"cannot write as JSON: {exc}", None, f"image id {brief(item.id)}") from None


def _item_doc(item, cats, rule, report, marks):
    """The JSON document of one item (``imagePath`` and ``imageData`` are set by the caller).

    ``marks`` gets ``(position among the losses, id)`` of each annotation written: where the loss of its
    re-read id goes (:class:`~._labelme_order.ReadingOrder`).
    """
    meta = dict(origin_of(item, "labelme") or {})
    used: dict = {}
    taken = {_gid(a) for a in item.annotations}
    shapes = []
    for ann in item.annotations:
        label = _label(ann, cats, item, report)
        if label is None:
            continue
        body = _stored_shapes(ann, item, rule) or _shapes_from_geometry(ann.geometry, item, report, ann)
        if not body:
            continue
        marks.append((len(report.losses), ann.id))
        annotation_losses(ann, item, rule, report)
        gid = _group_id(ann, label, len(body), used, taken, item, report)
        flags, description = _shape_extras(ann, item, report)
        for s in body:
            if flags is not None and not s.get("flags"):
                s["flags"] = flags
            if description is not None and not s.get("description"):
                s["description"] = description
            shapes.append(_ordered_shape(label, gid, s))
        report.annotations += 1
    flags = meta.get("flags", item.attributes.get("flags", {}))
    if not _is_flags(flags):
        report.lose("L001", f"image flags {brief(flags)} dropped: labelme reads a mapping of names to booleans",
                    item.id)
        flags = {}
    doc = {"version": meta.get("version", VERSION), "flags": flags, "shapes": shapes,
           "imagePath": None, "imageData": None, "imageHeight": item.height, "imageWidth": item.width}
    for k, v in meta.items():
        if k not in _KNOWN_TOP:
            doc[k] = v
    return doc


def _label(ann, cats, item, report) -> str | None:
    """The shape label of an annotation: its category's name, ``__ignore__`` for a void region; ``None``: dropped."""
    if ann.category_id is None:
        if ann.attributes.get("void"):
            return VOID_LABEL
        report.lose("L003", "annotation without a category", item.id, ann.id)
        return None
    cat = cats.get(ann.category_id)
    if cat is None:  # pragma: no cover - Dataset.validate refuses it first
        report.lose("L003", f"category {brief(ann.category_id)} is not declared", item.id, ann.id)
        return None
    if cat.name == VOID_LABEL:
        report.lose("L004", f"category {VOID_LABEL!r} is labelme's void label: it reads back as a void region",
                    item.id, ann.id)
    return cat.name


def _group_id(ann, label, n_shapes, used, taken, item, report):
    """The group_id written for an annotation's shapes (an integer, or ``None`` for one shape without one).

    Several shapes need a group_id to stay one instance; labelme reads
    integers only; two annotations must not share ``(label, group_id)``.
    """
    gid = ann.attributes.get("group_id")
    if gid is not None and _gid(ann) is None:
        report.lose("L410", f"group_id {brief(gid)} is not an integer", item.id, ann.id)
    gid = _gid(ann)
    if isinstance(ann.geometry, Shape):
        return gid
    if n_shapes == 1 and gid is None:
        return None
    if gid is None or (label, gid) in used:
        if gid is not None:
            report.lose("L403", f"group_id {gid!r} already used by another {label!r}", item.id, ann.id)
        gid = 0
        while gid in taken:
            gid += 1
        taken.add(gid)
    used[(label, gid)] = ann.id
    return gid


def _shape_extras(ann, item, report):
    """``(flags, description)`` from the annotation's attributes, each ``None`` when absent or unusable."""
    flags = ann.attributes.get("flags")
    if flags is not None and not _is_flags(flags):
        report.lose("L001", f"flags {brief(flags)} dropped: labelme reads a mapping of names to booleans",
                    item.id, ann.id)
        flags = None
    description = ann.attributes.get("description")
    if description is not None and not isinstance(description, str):
        report.lose("L001", f"description {brief(description)} dropped: not text", item.id, ann.id)
        description = None
    return flags, description


def _is_flags(flags) -> bool:
    return isinstance(flags, dict) and all(isinstance(k, str) and isinstance(v, bool) for k, v in flags.items())


def _gid(ann):
    """The annotation's group_id when labelme can hold it (an integer), else ``None``."""
    gid = ann.attributes.get("group_id")
    return gid if isinstance(gid, int) and not isinstance(gid, bool) else None


def _ordered_shape(label, gid, s):
    """A shape with labelme's keys in labelme's order (``shape_type`` always set: labelme 6 requires it)."""
    shape = {"label": label, "points": s.get("points"), "group_id": gid, "description": s.get("description", ""),
             "shape_type": s.get("shape_type") or "polygon", "flags": s.get("flags", {}), "mask": s.get("mask")}
    for k, v in s.items():
        if k not in shape:
            shape[k] = v
    return shape
