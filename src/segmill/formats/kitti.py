"""KITTI semantic / instance segmentation (the 2015 semantics benchmark layout, as Datumaro reads it).

Layout::

    <root>/
      label_colors.txt          optional custom label table ("r g b name" a line, line order = value)
      training/                 a split (testing/ too; Datumaro writes any subset name)
        image_2/<stem>.png      images
        semantic/<stem>.png     8-bit class map (label value per pixel)
        instance/<stem>.png     16-bit: class value * 256 + k
        semantic_rgb/<stem>.png colour view of semantic/ (written, never read)

Facts (KITTI devkit_semantics, Datumaro ``kitti_segmentation``):

* Label values are the Cityscapes label ids (the devkit ships cityscapesScripts'
  ``labels.py``), so the default table is :func:`segmill.formats.cityscapes.categories`
  (ids 0..33); ``label_colors.txt`` in the root replaces it (values in line
  order, Datumaro's rule for KITTI).
* ``instance/``: ``k = value % 256`` is the instance number of class
  ``value // 256``; ``k = 0`` of a class with instances (official table) is a
  crowd region, of any other class a plain region; value 0 is unlabeled, no
  annotation. ``k`` is kept (``origin``) and written back.
* Per image the reader takes ``instance/`` if present, else ``semantic/``
  (``source=`` forces one); an image in ``image_2/`` without a map is an item
  without annotations, sized from its header.

Item ids are ``<split>/<stem>``; ``file_name`` is the image path from the
root. A split folder given directly (holding ``instance/`` or ``image_2/``)
is read alone, with ``label_colors.txt`` from its parent.

:func:`stream` gives the items of :func:`read` one image at a time, in every
``errors`` mode: the label table is read first, a split's file names when
its first image is read, each map when its item comes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..images import image_size
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import confine, confined_glob
from ..rle import encode
from ..validate import ErrorPolicy
from . import NO, Detection, FormatSpec, register_format
from ._cityscapes_labels import Entry, LabelTable, official_categories, read_label_table
from ._file_runs import chosen, first_annotation_id, runs, size_of
from ._kitti_write import TABLES, write, write_stream
from ._perfile_stream import validated
from ._png import read_png
from ._semantic_maps import BACKGROUND_KEY, class_annotations, read_label_lines
from .options import ERRORS, Option, check_choice, overlap, raster

__all__ = ["categories", "detect", "read", "stream", "write"]

register_codes({
    "L820": "category supercategory / isthing / extra fields dropped (label_colors.txt holds names and colours)",
    "L821": "categories written as the official KITTI (Cityscapes) label table: ids follow the table by name, "
            "other fields and categories are not kept",
    "L822": "more than 255 instances of one class in an image: the extra ones are merged into the class's k = 0 "
            "region",
    "L823": "crowd flag dropped: only k = 0 of a class with instances (official table) is a crowd region",
    "L824": "several crowd regions of one class in an image merged into its one k = 0 region",
    "L825": "void region written as unlabeled (value 0): it does not read back",
}, changes={
    "classes": ("L821",),
    "crowd": ("L823",),
    "instance classes": ("L821",),
    "pixels": ("L822", "L824", "L825"),
})

SPLITS = ("training", "testing")
MAPS = ("instance", "semantic")
SOURCES = ("auto", "instance", "semantic")
#: Image file extensions looked for in ``image_2/``.
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Sub-folders of the root the detector looks at.
_DETECT_DIRS = 32


def categories() -> list[Category]:
    """The default KITTI label table: the official Cityscapes labels (ids 0..33)."""
    return official_categories()


def _holds_split(d: Path) -> bool:
    """Whether ``d`` is read as a split folder: it holds ``instance/`` or ``image_2/``."""
    return (d / "instance").is_dir() or (d / "image_2").is_dir()


def _maps_in(d: Path) -> bool:
    """Whether ``d`` holds KITTI maps (``instance/``, or ``semantic/`` beside ``image_2/``)."""
    return (d / "instance").is_dir() or ((d / "semantic").is_dir() and (d / "image_2").is_dir())


def detect(path) -> Detection:
    """A folder with ``training/`` or ``testing/`` holding ``instance/`` (or ``semantic/`` and ``image_2/``).

    ``image_2/`` alone is a weak hint (other writers mirror image folders).
    """
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        if _maps_in(p):
            return Detection(0.7, f"{p.name}/ holds instance/ or semantic/ + image_2/ (a KITTI split folder)")
        for name in SPLITS:
            if _maps_in(p / name):
                return Detection(0.9, f"{name}/ with instance/ or semantic/ + image_2/ (KITTI segmentation)")
        with os.scandir(p) as it:
            subs = sorted(Path(e.path) for n, e in zip(range(_DETECT_DIRS * 8), it) if e.is_dir())
        hit = next((d for d in subs[:_DETECT_DIRS] if _maps_in(d)), None)
        weak = any((p / name / "image_2").is_dir() for name in SPLITS)
    except OSError:
        return NO
    if hit is not None:
        return Detection(0.7, f"{hit.name}/ holds instance/ or semantic/ + image_2/ (a KITTI split)")
    if weak:
        return Detection(0.4, "training/ or testing/ with image_2/ only (KITTI images without maps)")
    return NO


# ------------------------------------------------------------------ label tables
def _custom_entries(path: Path) -> list[Entry]:
    """A custom table: values in line order (Datumaro's rule for KITTI), at most 256 labels."""
    lines = read_label_lines(path)
    if len(lines) > 256:
        raise InputError(f"{len(lines)} labels: KITTI maps hold label values 0..255", path)
    return [Entry(i, n, c, None) for i, (n, c) in enumerate(lines)]


# ------------------------------------------------------------------ reading
def _layout(p: Path) -> tuple[Path, list[tuple[str, Path]]]:
    """``(root, [(split, folder)])``: the split folders below ``p``, or ``p`` itself when it is one."""
    if _holds_split(p):
        return p.parent, [(p.name, p)]
    try:
        subs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    except OSError as exc:
        raise InputError(f"cannot list the folder: {exc.strerror or exc}", p) from None
    splits = [(d.name, confine(p, d)) for d in subs if _holds_split(d) or (d / "semantic").is_dir()]
    return p, splits


def _scan(folder: Path) -> dict:
    """``{stem: {"instance"|"semantic"|"image": path}}`` of one split folder, in stem order."""
    found: dict = {}
    for kind in MAPS:
        for f in confined_glob(folder, f"{kind}/*.png"):
            found.setdefault(f.stem, {})[kind] = f
    for f in confined_glob(folder, "image_2/*"):
        if f.suffix.lower() in IMAGE_EXTS and not f.name.startswith("."):
            found.setdefault(f.stem, {}).setdefault("image", f)
    return dict(sorted(found.items()))


def _instance_annotations(arr: np.ndarray, table: LabelTable, f: Path, policy: ErrorPolicy) -> list[Annotation]:
    """One annotation per value of an instance map: class ``value // 256``, instance ``value % 256``."""
    out = []
    for v in np.unique(arr).tolist():
        if v == 0:
            continue
        cls, k = v >> 8, v & 0xFF
        entry = table.by_value.get(cls)
        if entry is None:
            if not policy.keeping:
                row, col = np.argwhere(arr == v)[0]
                what = "a KITTI (Cityscapes) label id" if table.official else f"a label value of {table.name}"
                raise InputError(f"pixel value {v} (class {cls}, instance {k}): class {cls} is not {what} "
                                 f"(first at row {row}, col {col})", f)
            out.append(Annotation(None, cls, encode(arr == v)))  # keep: a dangling category for `segmill check`
            continue
        ann = Annotation(None, cls, encode(arr == v), iscrowd=k == 0 and entry.has_instances is True)
        ann.origin = ("kitti", k)
        out.append(ann)
    return out


def _map(f: Path, kind: str) -> np.ndarray:
    img = read_png(f)
    modes = ("L", "I;16") if kind == "instance" else ("L", "P", "I;16")
    if img.mode not in modes:
        want = "16-bit (or 8-bit) grey" if kind == "instance" else "8-bit grey, paletted or 16-bit"
        raise InputError(f"{kind} map mode is {img.mode}; expected {want}", f)
    return img.array


def _read_item(split: str, stem: str, files: dict, root: Path, table: LabelTable, source: str, policy) -> Item:
    image = files.get("image")
    file_name = image.relative_to(root).as_posix() if image is not None else f"{split}/image_2/{stem}.png"
    item = Item(f"{split}/{stem}", file_name, split=split)
    order = MAPS if source == "auto" else (source,)
    kind = next((k for k in order if k in files), None)
    if kind is None:
        if source != "auto" and any(k in files for k in MAPS):
            raise InputError(f"no {source}/ map for this image (source={source!r})", image or root, stem)
        item.height, item.width = image_size(image, image, stem)  # an image without annotations
        return item
    f = files[kind]
    arr = _map(f, kind)
    item.height, item.width = int(arr.shape[0]), int(arr.shape[1])
    if kind == "instance":
        item.annotations = _instance_annotations(arr, table, f, policy)
    else:
        item.annotations = class_annotations(arr, table.by_value, 0, f)
    return item


def read(path, errors: str = "raise", source: str = "auto", labels=None, label_table: str = "auto") -> Dataset:
    """Read a KITTI segmentation dataset (layout in the module docs).

    Parameters
    ----------
    path : path
        The root (holding ``training/``, ``testing/``) or one split folder.
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` an unreadable image is dropped and listed in
        ``meta["skipped"]``.
    source : {"auto", "instance", "semantic"}
        Which map to read per image (auto: ``instance/``, else ``semantic/``).
    labels : path, optional
        A custom label table (``label_colors.txt`` form).
    label_table : {"auto", "official", "custom"}
        auto: ``label_colors.txt`` in the root when present, else the
        official table.
    """
    policy = ErrorPolicy.of(errors)
    p, root, splits, table, ds = _start(path, policy, source, labels, label_table)
    ds.items = list(_items(root, splits, table, source, policy))
    if not policy.keeping:
        ds.validate(p)
    return ds


def stream(path, errors: str = "raise", source: str = "auto", labels=None, label_table: str = "auto",
           selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`).

    The items, categories, meta and errors of :func:`read`, in every
    ``errors`` mode (the validation made as the items come, a failure
    raised once every image was read; none under ``"keep"``, as in the
    read). The label table is fixed before the first item; a split's file
    names are listed when its first item is read, each image's map decoded
    when its item comes. ``selection``: one part of :func:`shards`, a run
    of the images in reading order (see :mod:`segmill.formats._file_runs`).
    """
    policy = ErrorPolicy.of(errors)
    p, root, splits, table, ds = _start(path, policy, source, labels, label_table)
    items = _items(root, splits, table, source, policy, selection)
    return ds, items if policy.keeping else validated(items, ds.categories, p)


def shards(path, n: int, errors: str = "raise", source: str = "auto", labels=None,
           label_table: str = "auto") -> list[dict]:
    """At most ``n`` selections of :func:`stream`: runs of images of about equal bytes (their maps and image).

    Annotation ids run across the whole dataset: a part numbers from 1 and
    a sharded run renumbers.
    """
    _, _, splits, _, _ = _start(path, ErrorPolicy.of(errors), source, labels, label_table)
    return runs([sum(size_of(f) for f in files.values()) for *_, files in _images(splits)], n)


def _images(splits):
    """``(split, stem, {kind: file})`` of every image, split by split (each listed when reached)."""
    for split, folder in splits:
        for stem, files in _scan(folder).items():
            yield split, stem, files


def _start(path, policy: ErrorPolicy, source: str, labels, label_table: str):
    """``(path, root, [(split, folder)], table, dataset without items)``: what a read reads before the first
    image (the options checked, the split folders, the label table); lenient drops listed in its meta."""
    check_choice("source", source, SOURCES)
    check_choice("label_table", label_table, TABLES)
    p = Path(path)
    if not p.is_dir():
        raise InputError("a KITTI dataset is a folder", p)
    root, splits = _layout(p)
    if not splits:
        raise InputError("no training/ or testing/ folder holding instance/, semantic/ or image_2/ (KITTI "
                         "segmentation is <root>/training/{image_2,instance,semantic}/<stem>.png)", p)
    table = read_label_table(root, labels, label_table, _custom_entries)
    note = ("label table: the official KITTI (Cityscapes) labels (ids 0..33)" if table.official else
            f"label table: {table.name} ({len(table.by_value)} labels, values in line order)")
    ds = Dataset(categories=table.categories(),
                 meta={"image_root": str(root), "label_table": table.name, "read_notes": [note],
                       "voc_class_values": True, BACKGROUND_KEY: 0})
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    return p, root, splits, table, ds


def _items(root: Path, splits, table: LabelTable, source: str, policy: ErrorPolicy, selection=None):
    """Yield the item of each image of each split in turn (its map decoded then), annotation ids 1, 2, ...
    (those of ``selection`` only, numbered from its first id)."""
    nid = first_annotation_id(selection)
    for split, stem, files in chosen(_images(splits), selection):
        try:
            item = _read_item(split, stem, files, root, table, source, policy)
        except InputError as exc:
            policy.drop(exc)
            continue
        for ann in item.annotations:
            ann.id, nid = nid, nid + 1
        yield item


register_format(
    FormatSpec(
        name="kitti",
        example="kitti",
        description="KITTI segmentation: <split>/instance/*.png (class * 256 + k), semantic/, image_2/; Cityscapes "
                    "label ids or label_colors.txt",
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
            raster("writer"),
            Option("source", "reader", "which map to read per image: auto (instance/, else semantic/), instance or "
                   "semantic", kind="choice", choices=SOURCES, default="auto"),
            Option("labels", "reader", "custom label table file ('r g b name' a line, line order = value); default: "
                   "label_colors.txt in the dataset root", kind="path"),
            Option("label_table", "both", "reader: auto (label_colors.txt when present), official or custom; writer: "
                   "auto (custom when a category is not an official label), official or custom", kind="choice",
                   choices=TABLES, default="auto"),
            overlap(),
            Option("split", "writer", "split folder of items without a split", default="training"),
            Option("copy_images", "writer", "copy images into <split>/image_2/", kind="bool", default=True),
            Option("image_root", "writer", "where the source images are (default: meta image_root)", kind="path"),
        ),
    )
)
