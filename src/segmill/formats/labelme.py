"""LabelMe JSON: one ``<name>.json`` per image (labelme 4.x, 5.x and 6.x).

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
annotation's ``origin`` (``("labelme", shapes)``: not part of the model's
equality and never read by other writers) so a LabelMe -> LabelMe round trip
writes them back verbatim as long as the geometry was not changed; non-empty
``flags`` / ``description`` also go to ``attributes``.

Void regions
------------
Shapes labelled ``__ignore__`` (labelme's void label: line 1 of its
``labels.txt``, class -1 in ``labelme2voc.py``, left out by
``labelme2coco.py``) are grouped like any instance and become annotations
without a category and with ``attributes["void"] = True``, the model's void
region (VOC's 255). Other writers treat them as void (VOC paints 255; COCO,
which has no void, drops them with a loss); the LabelMe writer writes them
back as ``__ignore__`` shapes.

Writing
-------
One ``<image stem>.json`` beside each image, mirroring the image's path
inside the output folder, ``imagePath`` the image's name; images copied (or
hard-linked) there; ``imageData`` ``null`` unless ``embed_images``. What a
re-read would not give back is reported: image and annotation ids (L406,
L407), stored area / bbox that differ from the recomputed ones (L408), a
missing image (L405), categories (L402), see :func:`register_codes` below.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import jsonio
from ..errors import GeometryError, InputError, LimitError, UsageError
from ..geometry import InvalidGeometry, Shape
from ..images import image_size
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import confined_glob, resolve_inside
from ..validate import ErrorPolicy, brief
from ..validate import image_size as checked_size
from . import NO, Detection, FormatSpec, register_format
from ._folder_scan import scan_levels
from ._labelme_geometry import instance_geometry, pil_union
from ._labelme_shapes import (
    AREA_TYPES,
    LINE_TYPES,
    VOID_LABEL,
    _parse_shape,
    b64_image_size,
)
from ._labelme_write import write, write_stream
from ._file_runs import chosen, first_annotation_id, header_of, runs, size_of, with_header
from ._perfile_stream import validated
from ._text import read_utf8
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster

register_codes(
    {
        "L401": "crowd flag dropped (LabelMe has no crowd regions)",
        "L402": "category ids and supercategories dropped (LabelMe keeps label names only)",
        "L403": "group_id changed so that two annotations do not merge into one instance",
        "L404": "detection score dropped (LabelMe has no scores)",
        "L405": "image not found: the JSON names it in imagePath, but labelme cannot open the JSON until it is there",
        "L406": "image id not kept (LabelMe names an image by its JSON file's path)",
        "L407": "annotation id not kept (LabelMe numbers annotations in file order)",
        "L408": "stored area / bbox dropped (LabelMe keeps shapes; a re-read recomputes other values)",
        "L409": "image file name changed (kept inside the output folder, or made unique)",
        "L410": "group_id that is not an integer dropped (labelme reads integer group ids only)",
        "L411": "image size differs from the annotations' imageHeight / imageWidth (labelme refuses the JSON)",
    }
, changes={
    "classes": ("L402",),
    "crowd": ("L401",),
})

__all__ = ["AREA_TYPES", "LINE_TYPES", "VOID_LABEL", "detect", "read", "stream", "write"]


# ------------------------------------------------------------------ detection
def detect(path) -> Detection:
    """A ``.json`` with a ``shapes`` key and ``imagePath`` / ``imageHeight`` (or a folder of them).

    A folder is recognized by its first ``*.json`` files at the shallowest
    level that has some, down to :data:`_DETECT_DEPTH` levels (segmill
    mirrors the images' folders). Only the first and last 4 KiB of a file
    are read: labelme writes ``imagePath`` and the size after the shapes.
    """
    p = Path(path)
    files = [p] if p.is_file() else _first_jsons(p) if p.is_dir() else []
    for f in files:
        if f.suffix.lower() != ".json" or not f.is_file():
            continue
        head, tail = _ends(f)
        if b'"shapes"' in head and any(k in head or k in tail for k in (b'"imagePath"', b'"imageHeight"')):
            where = "file" if p.is_file() else f"folder ({f.relative_to(p).as_posix()})"
            return Detection(0.9, f"LabelMe JSON {where}: has 'shapes' and 'imagePath'")
    return NO


#: How deep, and through how many folder entries, detection looks for a ``*.json``.
_DETECT_DEPTH = 4
_DETECT_ENTRIES = 5000


def _is_json(e: os.DirEntry) -> bool:
    return e.name.lower().endswith(".json")


def _first_jsons(root: Path, n: int = 3) -> list[Path]:
    """The first ``n`` ``*.json`` files (sorted) of the shallowest level below ``root`` that has some."""
    found, at = [], None
    for level, entries in scan_levels(root, _DETECT_DEPTH, _DETECT_ENTRIES, descend=lambda e: not _is_json(e)):
        if found and level != at:  # the shallowest level with some is done
            break
        jsons = [Path(e.path) for e in entries if _is_json(e)]
        if jsons:
            found, at = found + jsons, level
    return found[:n]


def _ends(f: Path, n: int = 4096) -> tuple[bytes, bytes]:
    """The first and the last ``n`` bytes of a file."""
    with open(f, "rb") as fh:
        head = fh.read(n)
        size = fh.seek(0, os.SEEK_END)
        if size <= n:
            return head, head
        fh.seek(max(size - n, n))
        return head, fh.read(n)


# ------------------------------------------------------------------ helpers
def _keep_shapes(ann, entries) -> None:
    """Remember the shapes an annotation came from (private: not model data)."""
    ann.origin = ("labelme", [e["raw"] for e in entries])
    first = entries[0]["raw"]
    if first.get("flags"):
        ann.attributes["flags"] = first["flags"]
    if first.get("description"):
        ann.attributes["description"] = first["description"]


# ------------------------------------------------------------------ reading
def _read_labels(path) -> list[Category]:
    """Categories of a class list: labelme's convention when it starts with ``__ignore__``.

    ``__ignore__`` is never a category (void: see :data:`VOID_LABEL`);
    in labelme's convention ``_background_`` is 0 and the classes 1, 2, ...
    (as ``labelme2coco.py`` numbers them), otherwise ids are line numbers from 0.
    """
    try:
        p = Path(path)
    except TypeError:
        raise UsageError(f"labels must be a path, got {brief(path)}") from None
    text = read_utf8(p, "the label list")
    names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    labelme_style = names[:1] == [VOID_LABEL]
    cats = []
    for i, name in enumerate(names):
        if name == VOID_LABEL:
            continue
        cats.append(Category(i - 1 if labelme_style else i, name))
    return cats


def read(path, errors: str = "raise", raster: str = "coco", labels=None) -> Dataset:
    """Read LabelMe JSON files.

    Parameters
    ----------
    path : path
        A folder of ``*.json`` (searched recursively) or one ``.json`` file;
        the folder is the dataset root (images must lie inside it).
    errors : {"raise", "skip", "keep"}
        See :mod:`segmill.formats`; any other value is a
        :class:`~segmill.errors.UsageError`.
    raster : {"coco", "pil"}
        How polygons become pixels later (stored in ``meta["raster_rule"]``);
        ``"pil"`` reproduces labelme's own masks and sets labelme's
        ``area`` / ``bbox`` on each area annotation.
    labels : path, optional
        A class list, one name a line. When it starts with ``__ignore__``
        (labelme's convention) ``_background_`` gets id 0 and the others 1,
        2, ... (``labelme2coco.py``'s ids); otherwise ids are line numbers
        from 0. ``__ignore__`` is never a category (see below). Without a
        list, ids are 1, 2, ... in order of first appearance.

    Raises
    ------
    segmill.errors.InputError
        Invalid JSON (or nested too deeply), a shape of the wrong types, an
        ``imagePath`` leaving the dataset folder, an image size that is not
        a pair of integers within the pixel limit, ``imageData`` or a
        ``mask`` that is not a PNG/JPEG within the pixel limit (checked from
        its header, before decoding), a JSON file that is a symbolic link out
        of the folder.
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    check_choice("raster", raster, RASTER_RULES)
    p = Path(path)
    root, files, ds = _start(p, raster, labels)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    ds.items = list(_items(files, root, raster, policy, ds.categories, labels))
    if not policy.keeping:
        ds.validate(p)
    return ds


def _start(p: Path, raster: str, labels):
    """``(root, JSON files, dataset without items)``: the label list's categories, if any, and the meta."""
    root = p.parent if p.is_file() else p
    files = [p] if p.is_file() else _json_files(p)
    fixed = labels is not None
    ds = Dataset(categories=_read_labels(labels) if fixed else [],
                 meta={"raster_rule": raster, "image_root": str(root)})
    if fixed:
        ds.meta["labelme_labels"] = str(labels)
    return root, files, ds


def _items(files, root: Path, raster: str, policy: ErrorPolicy, cats: list, labels, first: int = 1):
    """Yield the item of each file in turn, annotation ids ``first``, ``first + 1``, ...; a new label is added
    to ``cats``."""
    by_name = {c.name: c for c in cats}
    next_ann = first
    for f in files:
        data = _load_json(f)  # a file that is not JSON at all raises in every mode
        try:
            item, anns = _read_file(f, data, root, raster, policy)
        except InputError as exc:
            if policy.raising:
                raise
            # skip: listed and dropped; keep: listed for `segmill check` (S014)
            policy.drop(InputError(exc.message, f, exc.record or f.name))
            continue
        for ann, label in anns:
            cid = _category_id(ann, label, f, (by_name, cats, labels), policy)
            if cid is _DROP:
                continue
            ann.category_id = cid
            ann.id = next_ann
            next_ann += 1
            item.annotations.append(ann)
        yield item


def stream(path, errors: str = "raise", raster: str = "coco", labels=None, selection: dict | None = None):
    """The header and a generator of the items, one JSON file at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories and errors of :func:`read` (the validation made
    as the items come). Without a label list the categories are the labels
    in order of first appearance across the files: a first pass reads each
    file's shape labels (keeping the label names only). ``None`` (read
    whole) for ``errors`` other than ``"raise"``, where the categories
    depend on which shapes every file drops or keeps. ``selection``: one part
    of :func:`shards` (see :mod:`segmill.formats._file_runs`), which carries
    the labels of every file.
    """
    opened = _streamable(path, errors, raster, labels)
    if opened is None:
        return None
    p, root, files, ds = opened
    cats = ds.categories
    if labels is None:
        cats += [Category(k, name) for k, name in enumerate(header_of(selection, lambda: _first_labels(files)), 1)]
    part = _streamed_items(chosen(files, selection), root, raster, cats, labels, first_annotation_id(selection))
    return ds, validated(part, cats, p)


def _streamable(path, errors: str, raster: str, labels):
    """``(path, root, JSON files, dataset without items)`` of a dataset :func:`stream` reads, else ``None``."""
    policy = ErrorPolicy.of(errors)
    check_choice("raster", raster, RASTER_RULES)
    if not policy.raising:
        return None
    p = Path(path)
    return (p, *_start(p, raster, labels))


def shards(path, n: int, errors: str = "raise", raster: str = "coco", labels=None):
    """At most ``n`` selections of :func:`stream`: runs of JSON files of about equal bytes.

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    opened = _streamable(path, errors, raster, labels)
    if opened is None:
        return None
    sels = runs([size_of(f) for f in opened[2]], n)
    return sels if labels is not None else with_header(sels, _first_labels(opened[2]))


def _first_labels(files) -> list[str]:
    """Every shape label but the void one, in order of first appearance; a file or shape :func:`read`
    refuses is passed over (the read raises there, whatever the categories)."""
    found: dict = {}
    for f in files:
        try:
            data = _load_json(f)
        except InputError:
            continue
        for shape in data["shapes"]:
            label = shape.get("label") if isinstance(shape, dict) else None
            if isinstance(label, str) and label != VOID_LABEL:
                found.setdefault(label, None)
    return list(found)


def _streamed_items(files, root: Path, raster: str, cats: list, labels, first: int = 1):
    """The items of :func:`_items` under ``raise``, with the categories found first."""
    n = len(cats)
    for item in _items(files, root, raster, ErrorPolicy.of("raise"), cats, labels, first):
        if len(cats) != n:  # the first pass saw every label
            raise InputError("the JSON files changed while they were read", root)
        yield item


_DROP = object()  # _category_id: the annotation is dropped (skip mode)


def _category_id(ann, label, f, names, policy):
    """The category id of one annotation read with ``label``: ``None`` for a void region (``__ignore__``)
    and for a bad shape kept without a usable label, :data:`_DROP` when it is dropped.

    ``names`` is ``(categories by name, categories, label list or None)``; a
    new label becomes a category (ids 1, 2, ...) unless a label list is given.
    """
    by_name, cats, labels = names
    fixed = labels is not None
    if label == VOID_LABEL:  # labelme's void region: no category (docs of this module)
        ann.attributes["void"] = True
        return None
    if isinstance(ann.geometry, InvalidGeometry) and label not in by_name and (fixed or not label):
        # kept for `segmill check` without a category: its label is missing or not in the list
        # (a bad shape with a usable label keeps it, like any other shape)
        return None
    cat = by_name.get(label)
    if cat is None:
        if fixed and not policy.keeping:
            msg = f"label {brief(label)} is not in the label list {str(labels)!r}"
            policy.drop(InputError(msg, f, f"shape label {brief(label)}"))
            return _DROP
        cat = Category(len(cats) + 1, label)
        cats.append(cat)
        by_name[label] = cat
    return cat.id


def _json_files(root: Path) -> list[Path]:
    """Every ``*.json`` below ``root``, sorted; one that is a symbolic link out of ``root`` is refused."""
    try:
        return confined_glob(root, "**/*.json")
    except RecursionError:  # pathlib walks "**" recursively: a folder tree thousands deep
        raise LimitError("folders nested too deeply", root) from None


def _load_json(f):
    data, _ = jsonio.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise InputError("not a LabelMe file: no 'shapes' list", f)
    return data


def _image_size(data, target, f):
    """``(height, width)``: imageHeight/imageWidth, else imageData's header, else the image file's."""
    h, w = data.get("imageHeight"), data.get("imageWidth")
    if h is not None or w is not None:
        try:
            return checked_size(h, w, f, "imageHeight/imageWidth")
        except LimitError as exc:
            raise LimitError(f"image size is not plausible: {exc.message}", f, exc.record) from None
    if data.get("imageData"):
        return b64_image_size(data["imageData"], f, "imageData")
    if target is not None and _is_file(target):
        return image_size(target, f, "imagePath")
    raise InputError("no imageHeight/imageWidth, no imageData and the image is missing", f)


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        return False


def _image_path(f, data, root, policy):
    """``(resolved image or None, file_name)`` from ``imagePath`` (relative to the JSON's folder)."""
    rel_json = f.relative_to(root)
    image_path = data.get("imagePath")
    if image_path is None:
        return None, rel_json.with_suffix("").as_posix()
    if not isinstance(image_path, str):
        raise InputError(f"imagePath must be a string, got {brief(image_path)}", f)
    cleaned = image_path.replace("\\", "/")
    absolute = cleaned.startswith("/") or cleaned[1:2] == ":"  # POSIX or Windows drive
    # an absolute path is refused below as such, never silently read relative to the JSON
    joined = image_path if absolute else (rel_json.parent / cleaned).as_posix()
    try:
        os.fsencode(joined)  # a lone surrogate (JSON "\ud800") names no file; paths.resolve_inside would crash
    except UnicodeError:
        raise InputError(f"imagePath {brief(image_path)} is not valid Unicode", f, "imagePath") from None
    try:
        target = resolve_inside(root, joined, f, "imagePath")
    except InputError:
        if not policy.keeping:
            raise
        # keep: the item stays with its unsafe name, which S012 reports
        return None, joined
    return target, target.relative_to(Path(root).resolve()).as_posix()


def _read_file(f, data, root, rule, policy):
    target, file_name = _image_path(f, data, root, policy)
    bad_data = None
    if data.get("imageData") is not None:
        try:
            b64_image_size(data["imageData"], f, "imageData")
        except InputError as exc:
            if policy.raising:
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
        policy.skipped.append({"path": str(f), "record": "imageData",
                               "reason": f"{bad_data.message}; imageData dropped, the shapes were read"})
    item = Item(f.relative_to(root).with_suffix("").as_posix(), file_name, w, h)
    if data.get("flags"):
        item.attributes["flags"] = data["flags"]
    item.origin = ("labelme", top)
    return item, _instances(f, data["shapes"], h, w, rule, policy)


def _instances(f, shapes, h, w, rule, policy):
    """``(annotation, label)`` pairs of one file's shapes, grouped by ``(label, group_id)``."""
    groups: dict = {}
    order = []
    for i, shape in enumerate(shapes):
        rec = f"shape {i}"
        try:
            entry = _parse_shape(shape, f, rec)
        except InputError as exc:
            if policy.keep_or_drop(exc):  # keep: for segmill check
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
        ann = _area_instance(f, groups[key], z, h, w, rule, policy)
        if ann is not None:
            anns.append((ann, groups[key][0]["label"]))
    return anns


def _area_instance(f, members, z, h, w, rule, policy):
    """The annotation of one instance's area shapes; ``None`` when dropped (skip mode)."""
    label, gid = members[0]["label"], members[0]["group_id"]
    triples = [(e["kind"], e["points"], e["mask"]) for e in members]
    try:
        geom = instance_geometry(triples, h, w, rule)
    except GeometryError as exc:
        bad = InputError(str(exc), f, f"instance {brief(label)} group_id {brief(gid)}")
        if policy.keep_or_drop(bad):  # keep: for segmill check
            raw = {"shapes": [e["raw"] for e in members]}  # a dict: check classifies it by the reason
            return Annotation(None, None, InvalidGeometry(raw, str(exc)))
        return None
    attrs = {"z_order": z}
    if gid is not None:
        attrs["group_id"] = gid
    ann = Annotation(None, None, geom, attributes=attrs)
    _keep_shapes(ann, members)
    if rule == "pil":
        r = pil_union(triples, h, w)
        ann.area = float(r.area)
        ann.bbox = tuple(float(v) for v in r.bbox)
    return ann


register_format(
    FormatSpec(
        name="labelme",
        example="labelme/basic",
        description="LabelMe JSON, one file per image (polygons, rectangles, circles, masks, lines, points)",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        write_stream=write_stream,
        write_stream_any=True,
        output="dir",
        options=(
            ERRORS,
            raster("reader", "coco, or pil to draw polygons like labelme (Pillow, boundary included)"),
            Option("labels", "reader", "class list file; labelme's convention (__ignore__ = void, "
                   "_background_ -> 0) when it starts with __ignore__", kind="path"),
            Option("indent", "writer", "JSON indentation (labelme's own is 2)", kind="int", default=2),
            Option("image_root", "writer", "where the source images are (default: meta image_root and the usual "
                   "layouts beside the annotations: images/, JPEGImages/)", kind="path"),
            Option("copy_images", "writer", "put each image beside its JSON (labelme opens a JSON only with its "
                   "image)", kind="bool", default=True),
            Option("link_images", "writer", "hard-link images beside their JSON instead of copying them",
                   kind="bool", default=False),
            Option("embed_images", "writer", "store each image's bytes in the JSON's imageData (base64), as "
                   "labelme's 'save image data'", kind="bool", default=False),
        ),
    )
)
