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

Layouts read: ``gtFine/<split>/<city>/`` (the official one), ``gtFine/<split>/``
(Datumaro writes ids without a city there), ``gtFine/<city>/``, a
``gtFine/<split>`` folder given directly, and a flat folder of ``*_gtFine_*``
files. A one-level folder is a city when the file names start with its name
(``aachen/aachen_000000_000019_...``), else a split. Item ids are the path of
the files below ``gtFine`` without the suffix. A folder with files but none
that can be read is an error, never an empty dataset.

Label tables: the official table (ids 0..33, ``isthing`` = hasInstances,
trainId / categoryId / ignoreInEval in ``extra["cityscapes"]``), or a custom
table from ``label_colors.txt`` in the dataset root (Datumaro's convention:
``r g b name`` a line, see
:func:`~segmill.formats._cityscapes_labels.parse_label_colors`) or from the
``labels`` option. ``meta["label_table"]`` says which was used. With a custom
table a plain value is an ordinary region (the table says nothing about
instances) and ``id * 1000 + k`` an instance. Value 0 (unlabeled) is
background, not an annotation.

The reader takes, per image, ``instanceIds`` if present, else ``labelIds``,
else ``polygons`` (``source=`` forces one). :func:`stream` gives the items of
:func:`read` one image at a time, in every ``errors`` mode: the label table
and the file names (for the layout notes) are read first, each image's file
when its item comes. The writer writes ``labelIds``, ``instanceIds`` and
``labelTrainIds``; with a custom table also ``label_colors.txt`` (then
``labelTrainIds`` equals ``labelIds``: there is no train-id mapping).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import jsonio
from ..errors import InputError, PolygonError
from ..geometry import Box, InvalidGeometry, Mask, Polygons
from ..losses import WriteReport, register_codes
from ..model import Annotation, Category, Dataset, Item, origin_of
from ..paths import confined_glob
from ..rle import RLE, decode, encode
from ..validate import ErrorPolicy, brief, finite, image_size, string
from . import NO, Detection, FormatSpec, register_format
from ._cityscapes_labels import (
    BY_NAME,
    LABEL_COLORS,
    LABELS,
    Entry,
    LabelTable,
    custom_table_needed,
    label_colors_text,
    label_name_ok,
    official_categories,
    parse_label_colors,
    read_label_table,
)
from ._file_runs import chosen, first_annotation_id, runs, size_of
from ._perfile_stream import validated
from ._png import read_png, voc_colormap
from ._stream_checks import checked_items
from ._voc_masks import dropped_fields
from ._voc_write import NAME_MAX, painted_size
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster, raster_rule

register_codes(
    {
        "L601": "annotation dropped: its category is not a Cityscapes label (matched by name)",
        "L602": "overlapping pixels overwritten by a later annotation",
        "L603": "instances of a class without instances merged into one region",
        "L604": "more than 1000 instances of one class in an image: instance dropped",
        "L605": "annotation attributes, extra fields, scores or crowd flags of stuff classes dropped",
        "L606": "categories replaced by the official Cityscapes label table (ids by name)",
        "L607": "custom label table (label_colors.txt): category ids renumbered to label values, or category "
                "order, colour, supercategory, isthing or other fields not kept",
        "L608": "crowd flag dropped: with a custom label table a plain class value reads back as an ordinary region",
        "L609": "instances of a class whose label value is over 65 merged into one region (value * 1000 + k "
                "does not fit 16 bits)",
        "L610": "annotation dropped: its category has no label value (labelIds are 8-bit) or is the background (0)",
    }
, changes={
    "classes": ("L601", "L606", "L607", "L610"),
    "crowd": ("L605", "L608"),
    "instance classes": ("L601", "L606", "L607", "L610"),
    "pixels": ("L601", "L602", "L603", "L604", "L609", "L610"),
})

SUFFIXES = ("instanceIds.png", "labelIds.png", "polygons.json")
_NAME = re.compile(r"^(?P<base>.+)_gtFine_(?P<kind>instanceIds\.png|labelIds\.png|polygons\.json)$")
TABLES = ("auto", "official", "custom")
SOURCES = ("auto", "instanceIds", "labelIds", "polygons")


#: Entries of one folder the detector looks at (a folder of 100k images is not listed to its end).
_DETECT_ENTRIES = 20_000


def _find_gtfine(folder: Path, depth: int):
    """A readable ``*_gtFine_*`` file at most ``depth`` folders below ``folder`` (a few per level), or None."""
    subs = []
    with os.scandir(folder) as it:
        for n, e in enumerate(it):
            if n >= _DETECT_ENTRIES:
                break
            if _NAME.match(e.name) and e.is_file():
                return Path(e.path)
            if len(subs) < 16 and e.is_dir():  # scandir's type: no stat per entry
                subs.append(Path(e.path))
    if depth > 0:
        for sub in sorted(subs)[:5]:
            hit = _find_gtfine(sub, depth - 1)
            if hit is not None:
                return hit
    return None


def detect(path) -> Detection:
    """A folder holding ``*_gtFine_*`` files: below ``gtFine/`` (or in a folder named ``gtFine``), or flat.

    A folder whose ``gtFine/`` is empty (the writer's output for a dataset
    without images) is Cityscapes too, with a lower confidence.
    """
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        gt = p / "gtFine" if (p / "gtFine").is_dir() else p
        hit = _find_gtfine(gt, 3)
    except OSError:  # a folder that cannot be listed: not recognisably Cityscapes
        return NO
    if hit is None:
        if gt is not p and not any(True for _ in gt.iterdir()):  # what the writer makes of a dataset without images
            return Detection(0.6, "an empty gtFine/ folder (Cityscapes without images)")
        return NO
    where = hit.parent.relative_to(p).as_posix()
    if gt is not p or p.name == "gtFine" or p.parent.name == "gtFine":
        return Detection(0.9, f"{where} holds *_gtFine_* files (Cityscapes)")
    return Detection(0.8, f"*_gtFine_* files in {where} (a Cityscapes folder without gtFine/)")


def categories() -> list[Category]:
    """The official label table as categories (ids 0..33)."""
    return official_categories()


# ------------------------------------------------------------------ reading
def _load_png(f: Path) -> np.ndarray:
    """A label PNG's pixels (8- or 16-bit grey, or palette indices); the pixel limit is checked first."""
    img = read_png(f)
    if img.mode not in ("L", "I;16", "I;16B", "I;16L", "P"):
        raise InputError(f"unexpected PNG mode {img.mode!r} (expected 8- or 16-bit grey)", f)
    return img.array


class _Place(NamedTuple):
    """Where the files of one image are: the folders below ``gtFine`` and the base name."""

    dirs: tuple
    base: str
    split: str | None
    city: str | None


def _folders(p: Path):
    """``(gt, root, prefix, split)``: the folder scanned, the dataset root, the folders from ``gtFine`` to
    ``gt`` and the split they name (a ``gtFine/<split>`` folder given directly)."""
    if (p / "gtFine").is_dir():
        return p / "gtFine", p, (), None
    if p.name == "gtFine":
        return p, p.parent, (), None
    if p.parent.name == "gtFine":
        return p, p.parent.parent, (p.name,), p.name
    return p, p, None, None  # a flat folder: no gtFine anywhere


def _place(dirs: tuple, base: str, split_hint) -> _Place:
    """Split and city of the files in ``dirs`` (a one-level folder is a city when the base starts with it)."""
    if split_hint is not None:
        return _Place(dirs, base, split_hint, "/".join(dirs) or None)
    if not dirs:
        return _Place(dirs, base, None, None)
    if len(dirs) == 1:
        d = dirs[0]
        if base.startswith(d + "_"):
            return _Place(dirs, base, None, d)
        return _Place(dirs, base, d, None)
    return _Place(dirs, base, dirs[0], "/".join(dirs[1:]))


def _scan(gt: Path, split_hint) -> dict:
    """``{_Place: {kind: file}}`` of the readable ``*_gtFine_*`` files below ``gt``, in sorted order."""
    found: dict = {}
    # confined to gt itself: a gtFine folder that is a symbolic link to the real data still reads
    for f in confined_glob(gt, "*_gtFine_*", recursive=True):
        m = _NAME.match(f.name)
        if m is None:
            continue
        place = _place(f.relative_to(gt).parts[:-1], m["base"], split_hint)
        found.setdefault(place, {})[m["kind"].split(".")[0]] = f
    return found


def _nothing_readable(gt: Path, p: Path):
    """The error for a folder with files but no readable annotation file (None when it is truly empty)."""
    # hidden files (.keep, .DS_Store) are not data
    files = [f for f in confined_glob(gt, "*", recursive=True) if not f.name.startswith(".")]
    if not files and gt.name == "gtFine":
        return None  # an empty gtFine folder: an empty dataset (what the writer makes of one)
    if not files:
        return InputError("no *_gtFine_labelIds.png, *_gtFine_instanceIds.png or *_gtFine_polygons.json file "
                          "(expected gtFine/<split>/<city>/<base>_gtFine_labelIds.png)", p)
    some = ", ".join(f.relative_to(gt).as_posix() for f in files[:3])
    return InputError(f"{len(files)} file(s) (e.g. {some}) but no *_gtFine_labelIds.png, *_gtFine_instanceIds.png "
                      "or *_gtFine_polygons.json among them (expected gtFine/<split>/<city>/"
                      "<base>_gtFine_labelIds.png; labelTrainIds and color PNGs are not read)", gt)


def _table_note(table: LabelTable) -> str:
    if table.official:
        return "label table: the official Cityscapes labels (ids 0..33)"
    return f"label table: {table.name} ({len(table.entries)} custom labels, values {table.entries[0].value}.." \
           f"{table.entries[-1].value})"


def _layout(places) -> str:
    """The layouts found, e.g. ``"split/city"`` or ``"city, flat"``."""
    def one(pl):
        return "/".join(k for k, v in (("split", pl.split), ("city", pl.city)) if v) or "flat"

    return ", ".join(sorted({one(pl) for pl in places}))


def read(path, errors: str = "raise", raster: str = "coco", source: str = "auto", labels=None,
         label_table: str = "auto") -> Dataset:
    """Read Cityscapes gtFine annotations.

    Parameters
    ----------
    path : path
        The dataset root (holding ``gtFine/``), the ``gtFine`` folder, one
        ``gtFine/<split>`` folder, or a flat folder of ``*_gtFine_*`` files.
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` (and ``"keep"``) an unreadable image is dropped and
        listed in ``meta["skipped"]``.
    raster : {"coco", "pil"}
        Rule for polygons from ``polygons.json``; ``pil`` is what the
        official scripts use.
    source : {"auto", "instanceIds", "labelIds", "polygons"}
        With a forced source, an image without that file is a bad record.
    labels : path, optional
        A custom label table in ``label_colors.txt`` form.
    label_table : {"auto", "official", "custom"}
        ``auto``: ``label_colors.txt`` in the dataset root when present,
        else the official table.

    An unknown option value is a :class:`~segmill.errors.UsageError`. A
    ``*_gtFine_*`` file that is a symbolic link out of the scanned folder
    is refused; one that is a directory is left out. ``meta["label_table"]``
    names the table used, ``meta["cityscapes_layout"]`` the layout found, and
    ``meta["read_notes"]`` says both in words (for the command line).
    """
    policy = ErrorPolicy.of(errors)  # unknown option values are refused before any work
    p, prefix, found, table, ds = _start(path, policy, raster, source, labels, label_table)
    ds.items = list(_items(found, prefix, table, source, policy))
    if not policy.keeping:
        ds.validate(p)
    return ds


def stream(path, errors: str = "raise", raster: str = "coco", source: str = "auto", labels=None,
           label_table: str = "auto", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`).

    The items, categories, meta and errors of :func:`read`, in every
    ``errors`` mode (the validation made as the items come, a failure
    raised once every image was read; none under ``"keep"``, as in the
    read). The label table is fixed before the first item; the layout
    notes come from the file names, all listed first (no file is opened
    then); each image's file is decoded when its item comes. ``selection``:
    one part of :func:`shards`, a run of the images in reading order (see
    :mod:`segmill.formats._file_runs`).
    """
    policy = ErrorPolicy.of(errors)
    p, prefix, found, table, ds = _start(path, policy, raster, source, labels, label_table)
    items = _items(found, prefix, table, source, policy, selection)
    return ds, items if policy.keeping else validated(items, ds.categories, p)


def shards(path, n: int, errors: str = "raise", raster: str = "coco", source: str = "auto", labels=None,
           label_table: str = "auto") -> list[dict]:
    """At most ``n`` selections of :func:`stream`: runs of images of about equal bytes (their gtFine files).

    Annotation ids run across the whole dataset: a part numbers from 1 and
    a sharded run renumbers.
    """
    _, _, found, _, _ = _start(path, ErrorPolicy.of(errors), raster, source, labels, label_table)
    return runs([sum(size_of(f) for f in files.values()) for files in found.values()], n)


def _start(path, policy: ErrorPolicy, raster: str, source: str, labels, label_table: str):
    """``(path, prefix, {_Place: files}, table, dataset without items)``: what a read reads before the first
    image (the options checked, the label table, every file name); lenient drops listed in its meta."""
    check_choice("raster", raster, RASTER_RULES)
    check_choice("source", source, SOURCES)
    check_choice("label_table", label_table, TABLES)
    p = Path(path)
    if not p.is_dir():
        raise InputError("a Cityscapes dataset is a folder", p)
    gt, root, prefix, split_hint = _folders(p)
    table = read_label_table(root, labels, label_table, parse_label_colors)
    found = _scan(gt, split_hint)
    if not found:
        err = _nothing_readable(gt, p)
        if err is not None:
            raise err
    meta = {"raster_rule": raster, "image_root": str(root), "label_table": table.name,
            "read_notes": [_table_note(table)]}
    if found:
        meta["cityscapes_layout"] = _layout(found)
        if meta["cityscapes_layout"] != "split/city":
            meta["read_notes"].append(f"Cityscapes layout without the usual gtFine/<split>/<city>/ levels: "
                                      f"{meta['cityscapes_layout']}")
    ds = Dataset(categories=table.categories(), meta=meta)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    return p, prefix, found, table, ds


def _items(found: dict, prefix, table: LabelTable, source: str, policy: ErrorPolicy, selection=None):
    """Yield the item of each image of ``found`` in turn (its file decoded then), annotation ids 1, 2, ...
    (those of ``selection`` only, numbered from its first id)."""
    next_ann = first_annotation_id(selection)
    for place, files in chosen(list(found.items()), selection):
        order = [source] if source != "auto" else ["instanceIds", "labelIds", "polygons"]
        kind = next((k for k in order if k in files), None)
        try:
            if kind is None:
                raise InputError(f"no {source} file for this image (source={source!r})", next(iter(files.values())),
                                 place.base)
            item = _read_item(place, prefix, kind, files[kind], table, policy)
        except InputError as exc:
            if exc.path is None or exc.record is None:  # name the file and the image (same class: LimitError stays)
                exc = type(exc)(exc.message, exc.path or files[kind], exc.record or place.base)
            policy.drop(exc)
            continue
        for ann in item.annotations:
            ann.id = next_ann
            next_ann += 1
        yield item


def _image_path(place: _Place, prefix) -> str:
    """The image beside ``place``: under ``leftImg8bit/`` (mirroring gtFine), or in a flat folder itself."""
    name = f"{place.base}_leftImg8bit.png"
    if prefix is None:
        return "/".join((*place.dirs, name))
    return "/".join(("leftImg8bit", *prefix, *place.dirs, name))


def _read_item(place, prefix, kind, f, table, policy):
    item = Item("/".join((*place.dirs, place.base)), _image_path(place, prefix), split=place.split)
    if kind == "polygons":
        return _read_polygons(item, f, policy, table)
    arr = _load_png(f)
    if arr.ndim != 2:
        raise InputError(f"expected a single-channel PNG, got shape {arr.shape}", f)
    item.height, item.width = int(arr.shape[0]), int(arr.shape[1])
    for v in _values(arr):
        if v == 0:
            continue
        instance = kind == "instanceIds" and v >= 1000
        cls = v // 1000 if instance else v
        entry = table.by_value.get(cls)
        if entry is None and not policy.keeping:
            what = "a Cityscapes label id" if table.official else f"a label value of {table.name}"
            raise InputError(f"pixel value {v} is not {what} (class {cls})", f)
        if entry is None:  # keep: a dangling category for `segmill check`
            item.annotations.append(Annotation(None, cls, encode(arr == v)))
            continue
        crowd = kind == "instanceIds" and not instance and entry.has_instances is True
        ann = Annotation(None, cls, encode(arr == v), iscrowd=crowd)
        if instance:
            ann.origin = ("cityscapes", v)  # keeps k on a round trip
        item.annotations.append(ann)
    return item


def _values(arr: np.ndarray) -> list[int]:
    """The distinct values of a label map, ascending, as ``np.unique`` gives them; by counting when they
    are non-negative integers below 2**20 (a third of the cost of ``np.unique``'s sort or hash)."""
    if arr.dtype.kind in "ui" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi < 1 << 20:
            return np.flatnonzero(np.bincount(arr.reshape(-1), minlength=hi + 1)).tolist()
    return np.unique(arr).tolist()


def _whole(value, what, f) -> int:
    """``int(value)`` as cityscapesScripts reads ``imgHeight``/``imgWidth`` (numbers and numeric strings)."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise InputError(f"{what} must be an integer, got {brief(value)}", f) from None
    if isinstance(value, float):
        return int(finite(value, what, f))
    if isinstance(value, int):  # bool included, as int() takes it
        return int(value)
    raise InputError(f"{what} must be an integer, got {brief(value)}", f)


def _polygon(raw, f, rec) -> Polygons:
    """A polygon from ``[[x, y], ...]`` (or a flat ``[x1, y1, ...]``) of finite numbers."""
    if not isinstance(raw, list):
        raise InputError(f"polygon must be a list of [x, y] points, got {brief(raw)}", f, rec)
    flat = raw
    if raw and all(isinstance(pt, list) for pt in raw):
        flat = []
        for pt in raw:
            if len(pt) != 2:
                raise InputError(f"polygon point {brief(pt)} is not [x, y]", f, rec)
            flat.extend(pt)
    coords = []
    for v in flat:
        if isinstance(v, bool):  # a JSON boolean is 0/1 to Pillow's drawing, as to the official scripts
            v = int(v)
        coords.append(finite(v, "polygon coordinate", f, rec))
    try:
        return Polygons([coords])
    except PolygonError as exc:
        raise InputError(str(exc), f, rec) from None


def _read_polygons(item, f, policy, table):
    doc, _ = jsonio.load(f)
    if not isinstance(doc, dict) or not all(k in doc for k in ("imgHeight", "imgWidth", "objects")):
        raise InputError("not a Cityscapes polygons file: expected an object with imgHeight, imgWidth and "
                         f"objects, got {brief(doc)}", f)
    h = _whole(doc["imgHeight"], "imgHeight", f)
    w = _whole(doc["imgWidth"], "imgWidth", f)
    # polygons are painted at this size: the pixel limit applies, and an empty image has no pixel to paint
    item.height, item.width = image_size(h, w, f, None, allow_zero=False)
    objects = doc["objects"]
    by_name = table.by_name
    if not isinstance(objects, list):
        raise InputError(f"objects must be a list, got {brief(objects)}", f)
    for n, obj in enumerate(objects):
        rec = f"object {n}"
        if isinstance(obj, dict) and obj.get("deleted"):
            continue
        try:
            if not isinstance(obj, dict):
                raise InputError(f"an object must be {{label, polygon}}, got {brief(obj)}", f, rec)
            name = string(obj.get("label"), "label", f, rec)
            crowd = False
            lab = by_name.get(name)
            if lab is None and name.endswith("group"):
                lab = by_name.get(name[: -len("group")])
                crowd = lab is not None and lab.has_instances is True
                lab = lab if crowd else None
            if lab is None:
                what = "a Cityscapes label" if table.official else f"a label of {table.name}"
                raise InputError(f"label {brief(name)} is not {what}", f, rec)
            geom = _polygon(obj.get("polygon"), f, rec)
        except InputError as exc:
            if not policy.keeping:
                raise
            item.annotations.append(Annotation(None, None, InvalidGeometry(obj, exc.message)))
            continue
        item.annotations.append(Annotation(None, lab.value, geom, iscrowd=crowd, attributes={"z_order": n}))
    return item


# ------------------------------------------------------------------ writing
_IMAGE = re.compile(r"^leftImg8bit/(?P<split>[^/]+)/(?P<city>[^/]+)/(?P<base>[^/]+)_leftImg8bit\.[A-Za-z]+$")


def _split_id(item, default_split):
    """``(split, city, base)``: from a Cityscapes id or image path, else from the file name."""
    parts = str(item.id).split("/")
    if len(parts) >= 3 and all(parts):
        return _safe(item.split or parts[0]), _safe("_".join(parts[1:-1])), _safe(parts[-1])
    m = _IMAGE.match(item.file_name or "")
    if m:
        return _safe(item.split or m["split"]), _safe(m["city"]), _safe(m["base"])
    if len(parts) == 2 and all(parts):  # <split>/<base> or <city>/<base> (read from a layout without one level)
        if parts[0] == item.split:
            return _safe(parts[0]), "default", _safe(parts[1])
        return _safe(item.split or default_split), _safe(parts[0]), _safe(parts[1])
    stem = Path(item.file_name).stem if item.file_name else str(item.id)
    return _safe(item.split or default_split), "default", _safe(stem)


def _safe(name: str) -> str:
    """One path component: no separators, never ``.`` or ``..``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip(".")
    return cleaned or "_"


class _Slot(NamedTuple):
    """How one category is painted: its value, whether it gets ``value * 1000 + k`` instances, and flags."""

    value: int
    name: str
    instances: bool
    crowd_ok: bool = True  # a plain value of the class reads back as a crowd region (official table)
    too_high: bool = False  # a custom class over 65: its instances cannot be numbered
    official: bool = True


def _custom_wanted(dataset: Dataset, label_table: str) -> bool:
    """Whether to write a custom table: asked for, read from one, or a category the official table lacks."""
    if not dataset.categories:
        return False  # no label to list: label_colors.txt cannot be empty
    if label_table != "auto":
        return label_table == "custom"
    return custom_table_needed(dataset)


def _official_slots(dataset: Dataset, report: WriteReport) -> dict:
    if dataset.categories != categories():
        report.lose("L606", "categories written as the official label table: ids follow the table, "
                    "other fields and categories are not kept")
    slots = {}
    for c in dataset.categories:
        lab = BY_NAME.get(c.name)
        if lab is not None and lab.id >= 0:
            slots[c.id] = _Slot(lab.id, lab.name, lab.has_instances, lab.has_instances)
    return slots


def _label_name_ok(name: str, colored: bool) -> bool:
    """Whether ``name`` reads back from a ``label_colors.txt`` line as itself."""
    if not label_name_ok(name):
        return False
    tokens = name.split()
    # a bare name of three or more words starting with a number would read back as a colour and a name
    return colored or len(tokens) < 3 or not tokens[0].lstrip("+-").isdigit()


def _custom_slots(dataset: Dataset, report: WriteReport):
    """``({category id: _Slot}, [Entry])`` of a custom table: ``background`` at 0, the others 1, 2, ...

    Colours: none when no category has one (bare names), else every label gets
    one (the VOC colour of its value when missing; black only for the
    background, so that Datumaro's value rule keeps the line order).
    """
    cats = dataset.categories
    colored = any(c.color is not None for c in cats)
    cmap = voc_colormap()
    bg = next((c for c in cats if c.name == "background"), None)
    slots, entries, by_name = {}, [], {}
    if bg is not None:
        entries.append(Entry(0, "background", (0, 0, 0) if colored else None, None))
        slots[bg.id] = _Slot(0, "background", False, official=False)
        by_name["background"] = slots[bg.id]
    for c in cats:
        if c is bg:
            continue
        if c.name in by_name:
            report.lose("L607", f"category {brief(c.name)} (id {brief(c.id)}) merged with the category of the "
                        "same name (a label table lists a name once)")
            slots[c.id] = by_name[c.name]
            continue
        if not _label_name_ok(c.name, colored):
            raise InputError(f"category name {brief(c.name)} cannot be written in {LABEL_COLORS} (one name a line)")
        v = len(entries) + (0 if bg is not None else 1)
        if v > 255:
            report.lose("L610", f"category {brief(c.name)}: no label value left (labelIds are 8-bit)")
            continue
        color = None
        if colored:
            color = tuple(c.color) if c.color is not None and tuple(c.color) != (0, 0, 0) else \
                tuple(int(x) for x in cmap[v])
        entries.append(Entry(v, c.name, color, None))
        thing = c.isthing is not False
        slots[c.id] = by_name[c.name] = _Slot(v, c.name, thing and v <= 65, False, thing and v > 65, False)
    expected = [Category(e.value, e.name, color=e.color) for e in entries]
    if cats != expected:
        report.lose("L607", _table_change(cats, expected))
    return slots, entries


def _table_change(cats, expected) -> str:
    """What writing ``expected`` changes about ``cats`` (for the L607 message)."""
    got = {(c.name): c for c in expected}
    what = []
    if any(c.name in got and got[c.name].id != c.id for c in cats):
        what.append("ids renumbered to label values")
    if any(c.supercategory is not None or c.isthing is not None or c.extra for c in cats):
        what.append("supercategory / isthing / extra fields dropped")
    if any(c.name in got and got[c.name].color != c.color for c in cats):
        what.append("colours assigned or changed")
    if not what:
        what.append("category order or background entry changed")
    return f"categories written as a custom label table ({LABEL_COLORS}): " + ", ".join(what)


def write(dataset: Dataset, path, split: str = "train", label_table: str = "auto",
          raster: str | None = None) -> WriteReport:
    """Write ``gtFine/<split>/<city>/<base>_gtFine_{labelIds,instanceIds,labelTrainIds}.png``.

    Parameters
    ----------
    split : str
        Split of items whose id is not ``<split>/<city>/<base>``.
    label_table : {"auto", "official", "custom"}
        ``official``: categories matched to the official table by name
        (others dropped, ``L601``). ``custom``: the dataset's categories as
        a custom table written to ``label_colors.txt`` (``background`` is
        value 0, the others 1, 2, ... in order; categories with
        ``isthing`` not False get ``value * 1000 + k`` instances).
        ``auto`` (default): custom when the dataset was read with a custom
        table or a category name is not an official label, else official.
    raster : {"coco", "pil"}, optional
        How polygons and boxes are painted; default: the rule the dataset was
        read with, else ``coco``.

    Annotations are painted in ``z_order`` (then file) order, later over
    earlier; instance numbers ``k`` start at 0 per class and image
    (cityscapesScripts' ``json2instanceImg``) unless the annotation was read
    from Cityscapes. ``polygons.json`` is not written: a polygon or box is
    painted with the dataset's raster rule and reported (``L705``, its
    vertices are lost). A note in the report names the table written.
    """
    check_choice("label_table", label_table, TABLES)
    dataset.validate(path)
    plan = _plan(dataset, split, path)  # every name and size checked before anything is written
    return _write_planned(dataset, plan, path, label_table, raster)


def write_stream(stream, path, split: str = "train", label_table: str = "auto",
                 raster: str | None = None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image the write refuses (its name, its size, what
    :meth:`~segmill.model.Dataset.validate` refuses) stops it there (the
    caller stages the folder, so nothing is left of it). Memory holds one
    image and each image's names.
    """
    check_choice("label_table", label_table, TABLES)
    written: set = set()
    plan = (_planned(item, split, path, written) for item in checked_items(stream, path))
    return _write_planned(stream.header, plan, path, label_table, raster)


def _write_planned(dataset: Dataset, plan, path, label_table: str, raster) -> WriteReport:
    """Write the ``(item, names or None)`` pairs of ``plan`` with the categories and meta of ``dataset``."""
    report = WriteReport()
    rule = raster_rule(dataset, raster)
    entries = None
    if _custom_wanted(dataset, label_table):
        slots, entries = _custom_slots(dataset, report)  # refuses a name the table cannot hold before writing
    else:
        slots = _official_slots(dataset, report)
    out = Path(path)
    (out / "gtFine").mkdir(parents=True)
    for item, names in plan:
        if names is None:
            report.lose("L005", "image size unknown: nothing written", item.id)
            continue
        _write_item(out, names, _paint(item, slots, rule, report), entries is None)
        report.files += 3
        report.items += 1
    if entries is None:
        report.notes.append("label table: the official Cityscapes labels (ids 0..33)")
    else:
        (out / LABEL_COLORS).write_text(label_colors_text(entries), encoding="utf-8")
        report.files += 1
        report.notes.append(f"label table: custom, {len(entries)} labels written to {LABEL_COLORS} (values "
                            f"{entries[0].value}..{entries[-1].value}); labelTrainIds = labelIds")
        if any(len(e.name.split()) > 1 for e in entries):
            report.notes.append(f"a label name with spaces is read whole by segmill; Datumaro's {LABEL_COLORS} "
                                "reader takes its first word only")
    return report


def _write_item(out: Path, names, inst: np.ndarray, official: bool) -> None:
    """The three PNGs of one image from its painted instance values."""
    # lazy: start-up time (PIL is only needed by writing)
    from PIL import Image

    sp, city, base = names
    ids = np.where(inst >= 1000, inst // 1000, inst)
    if official:
        train = np.full(ids.shape, 255, np.uint8)
        for lab in LABELS:
            if lab.id >= 0:
                train[ids == lab.id] = lab.train_id if 0 <= lab.train_id < 255 else 255
    else:
        train = ids.astype(np.uint8)  # no train-id mapping in a custom table
    d = out / "gtFine" / sp / city
    d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8)).save(d / f"{base}_gtFine_labelIds.png")
    Image.fromarray(inst.astype(np.uint16)).save(d / f"{base}_gtFine_instanceIds.png")
    Image.fromarray(train).save(d / f"{base}_gtFine_labelTrainIds.png")


#: The longest file-name suffix written after ``<base>``.
_LONGEST_SUFFIX = "_gtFine_labelTrainIds.png"


def _plan(dataset, split, path) -> list:
    """``[(item, (split, city, base) or None)]``: names and sizes checked before anything is written."""
    written: set = set()
    return [_planned(item, split, path, written) for item in dataset.items]


def _planned(item, split, path, written: set) -> tuple:
    """``(item, (split, city, base) or None)``, its names unique among ``written`` and its size checked."""
    if item.size is None:
        return item, None
    rec = f"image {brief(item.id)}"
    painted_size(item, rec)
    names = _split_id(item, split)
    if (len(names[0]) > NAME_MAX or len(names[1]) > NAME_MAX
            or len(names[2]) + len(_LONGEST_SUFFIX) > NAME_MAX):  # _safe names are ASCII: bytes = characters
        raise InputError(f"the file name {brief(names[2] + _LONGEST_SUFFIX)} (or its folders) would be longer "
                         f"than a file name can be ({NAME_MAX} bytes)", path, rec)
    if names in written:
        raise InputError(f"two items would both be written as {'/'.join(names)}", path, rec)
    written.add(names)
    return item, names


def _z_order(ann):
    """The drawing order key: ``attributes["z_order"]`` when it is a real number, else 0."""
    z = ann.attributes.get("z_order", 0)
    if isinstance(z, int) and not isinstance(z, bool):
        return z
    return z if isinstance(z, float) and not math.isnan(z) else 0


def _paint(item, slots, rule, report):
    """The ``instanceIds`` values of one image (``value * 1000 + k`` for instances, plain values otherwise)."""
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import rasterized_loss

    h, w = item.height, item.width
    inst = np.zeros((h, w), np.int32)  # values up to 65 * 1000 + 999
    owner = np.zeros((h, w), np.int32)  # 1-based index of the annotation painted last
    order = sorted(range(len(item.annotations)), key=lambda i: _z_order(item.annotations[i]))
    used: dict[int, set] = {}
    stuff_seen: set = set()
    for i in order:
        ann = item.annotations[i]
        slot = slots.get(ann.category_id)
        if slot is None:
            report.lose("L601", f"category {ann.category_id!r} has no Cityscapes label", item.id, ann.id)
            continue
        if slot.value == 0:
            report.lose("L610", f"category {slot.name!r} is the background (value 0): not painted", item.id, ann.id)
            continue
        if not isinstance(ann.geometry, (Polygons, RLE, Mask, Box)):
            report.lose("L002", f"{type(ann.geometry).__name__} geometry dropped", item.id, ann.id)
            continue
        dropped = dropped_fields(ann, keep_attributes=("z_order",))  # the drawing order is used, void is not
        if ann.score is not None or dropped:
            report.lose("L605", f"dropped: {', '.join(dropped + (['score'] if ann.score is not None else []))}",
                        item.id, ann.id)
        lost = rasterized_loss(ann.geometry, rule, item.id, ann.id)
        if lost is not None:  # polygons.json is not written: only the painted pixels survive
            report.lose(lost.code, lost.message, lost.item_id, lost.annotation_id)
        m = decode(ann.to_rle(h, w, rule))
        if not m.any():
            report.lose("L703", f"no pixels under the {rule} rule: nothing painted", item.id, ann.id)
            continue
        value = _value(ann, slot, used, stuff_seen, m.any(), item, report)
        if value is None:
            continue
        over = m & (owner > 0)
        if over.any():
            report.lose("L602", f"{int(over.sum())} pixels painted over an earlier annotation", item.id, ann.id)
        inst[m] = value
        owner[m] = i + 1
        report.annotations += 1
    return inst


def _value(ann, slot, used, stuff_seen, any_pixels, item, report):
    """The pixel value of one annotation (None: dropped, reported)."""
    stored = origin_of(ann, "cityscapes")
    if slot.instances and not ann.iscrowd:
        taken = used.setdefault(slot.value, set())
        if isinstance(stored, int) and stored // 1000 == slot.value and stored % 1000 not in taken:
            k = stored % 1000
        else:
            k = next((j for j in range(1000) if j not in taken), None)
        if k is None:
            report.lose("L604", "instance number over 999", item.id, ann.id)
            return None
        taken.add(k)
        return slot.value * 1000 + k
    if isinstance(stored, int) and stored >= 1000 and not slot.too_high:
        report.lose("L603", f"instance value {stored} written as plain id {slot.value} ({slot.name!r} has no "
                    "instances in the label table)", item.id, ann.id)
    if ann.iscrowd and not slot.crowd_ok:
        if slot.official:
            report.lose("L605", "crowd flag of a class without instances dropped", item.id, ann.id)
        else:
            report.lose("L608", "crowd flag dropped: written as a plain class value", item.id, ann.id)
    if slot.value in stuff_seen and any_pixels:
        code = "L609" if slot.too_high and not ann.iscrowd else "L603"
        report.lose(code, f"merged with another {slot.name!r} region", item.id, ann.id)
    stuff_seen.add(slot.value)
    return slot.value


register_format(
    FormatSpec(
        name="cityscapes",
        example="cityscapes/basic",
        description="Cityscapes gtFine (labelIds, instanceIds = id*1000+k, polygons.json), official or custom label table "
                    "(label_colors.txt)",
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
            raster("reader", "coco, or pil (the official json2labelImg drawing of polygons.json)"),
            raster("writer", "how polygons and boxes are painted: coco (pycocotools) or pil (json2labelImg)"),
            Option("source", "reader", "which files to read: auto prefers instanceIds, then labelIds, then "
                   "polygons", kind="choice", choices=("auto", "instanceIds", "labelIds", "polygons"),
                   default="auto"),
            Option("labels", "reader", "custom label table file ('r g b name' a line, Datumaro's label_colors.txt); "
                   "default: label_colors.txt in the dataset root", kind="path"),
            Option("label_table", "both", "reader: auto (label_colors.txt when present) or official or custom; "
                   "writer: auto (custom when a category is not an official label) or official or custom "
                   "(written to label_colors.txt)", kind="choice", choices=TABLES, default="auto"),
            Option("split", "writer", "split for items whose id is not <split>/<city>/<base>", default="train"),
        ),
    )
)
