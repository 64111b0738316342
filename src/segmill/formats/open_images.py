"""Open Images (v5 to v7) instance segmentation masks: read only.

Layout read (the official downloads, as Datumaro arranges them)::

    <root>/annotations/<split>-annotations-object-segmentation.csv   one row per mask
    <root>/annotations/oidv6-class-descriptions.csv                  MID -> display name
    <root>/masks/<split>/<MaskPath>                                   binary PNG (or masks/<MaskPath>)
    <root>/images/<split>/<ImageID>.jpg                               (or images/<ImageID>.jpg)

The path given is ``<root>``, or the ``annotations`` folder (the CSVs may
also lie in ``<root>`` itself). The class descriptions are the first of
``oidv7-class-descriptions.csv``, ``oidv6-class-descriptions.csv``,
``class-descriptions-boxable.csv`` and ``class-descriptions.csv`` found.
Box, image-level label and relationship CSVs are not read: this reader
gives the segmentation masks.

Each row is one annotation of image ``ImageID`` (the item id; its split from
the CSV's name): category id = ``LabelName`` (the MID, e.g. ``/m/01g317``),
category name = its display name (the MID itself when the class is not
described, said in a read note). Only classes that some row uses are
categories. ``BoxID``, the normalized box ``[XMin, XMax, YMin, YMax]``,
``PredictedIoU`` and ``Clicks`` go to ``attributes`` (``box_id``, ``box``,
``predicted_iou``, ``clicks``).

Masks are at their own resolution, not the image's: each is resized to the
image with nearest neighbour, OpenCV's ``INTER_NEAREST`` rule (as
``cv2.resize`` in Datumaro's reader; a read note counts them). The image
size comes from the image file's header, else from Datumaro's
``annotations/images.meta``; an image with neither is a bad record. Images
that no segmentation row names are not items.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import jsonio
from ..errors import InputError
from ..images import image_size as header_size
from ..model import Annotation, Category, Dataset, Item
from ..paths import confine, confined_glob, resolve_inside
from ..rle import encode
from ..validate import ErrorPolicy
from . import NO, Detection, FormatSpec, register_format
from ._open_images_csv import MaskRow, class_names, image_meta, mask_rows, read_csv, resize_nearest
from ._png import read_png
from .options import ERRORS

__all__ = ["detect", "read"]

SUFFIX = "-annotations-object-segmentation.csv"
CLASS_FILES = ("oidv7-class-descriptions.csv", "oidv6-class-descriptions.csv", "class-descriptions-boxable.csv",
               "class-descriptions.csv")
META = "images.meta"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_PREFIX = re.compile(r"^oidv\d+-")


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the file system refuses (too long, a NUL byte)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def _folders(p: Path) -> tuple[Path, Path]:
    """``(root, annotations folder)`` of the path given."""
    if (p / "annotations").is_dir():
        return p, p / "annotations"
    if p.name == "annotations":
        return p.parent, p
    return p, p


def detect(path) -> Detection:
    """A folder whose ``annotations/`` (or itself) holds ``*-annotations-object-segmentation.csv``."""
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        _, ann = _folders(p)
        csvs = sorted(f.name for f in ann.glob(f"*{SUFFIX}"))
    except OSError:
        return NO
    if not csvs:
        return NO
    return Detection(0.9, f"Open Images segmentation CSV {csvs[0]}" + (" in annotations/" if ann != p else ""))


class _Read:
    """One read: folders, classes, image sizes, the items by ImageID, the next annotation id."""

    def __init__(self, root: Path, ann: Path, policy: ErrorPolicy):
        self.root, self.ann, self.policy = root, ann, policy
        self.items: dict[str, Item] = {}
        self.used: dict[str, None] = {}
        self.meta_sizes: dict = {}
        self.resized = 0
        self.next_id = 1


def read(path, *, errors: str = "raise") -> Dataset:
    """Read Open Images segmentation masks (layout and mapping in the module docs).

    Parameters
    ----------
    path : path
        The dataset folder (with ``annotations/``, ``masks/``, ``images/``) or its ``annotations`` folder.
    errors : {"raise", "skip", "keep"}
        ``skip`` / ``keep`` drop a bad row (or an image whose size is
        unknown) and list it in ``meta["skipped"]``.

    Raises
    ------
    segmill.errors.InputError
        No segmentation CSV, a malformed CSV, or (``errors="raise"``) a bad
        row, a missing or unreadable mask, an image without a known size.
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    p = Path(path)
    if not p.is_dir():
        raise InputError("an Open Images dataset is a folder", p)
    root, ann = _folders(p)
    csvs = confined_glob(ann, f"*{SUFFIX}")
    if not csvs:
        raise InputError(f"no <split>{SUFFIX} (expected annotations/train{SUFFIX} beside masks/ and images/)", p)
    ds = Dataset(meta={"source_format": "open_images", "image_root": str(root)})
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    rd = _Read(root, ann, policy)
    if (ann / META).is_file():
        rd.meta_sizes = image_meta(jsonio.read_bytes(confine(ann, ann / META)), ann / META)
    for f in csvs:
        split = _PREFIX.sub("", f.name[: -len(SUFFIX)]) or "default"
        for row in mask_rows(read_csv(f), f):
            try:
                if isinstance(row, InputError):
                    raise row
                _add_row(row, split, f, rd)
            except InputError as exc:
                policy.drop(exc)
    ds.items = list(rd.items.values())
    ds.categories, notes = _categories(rd)
    ds.meta["read_notes"] = notes + [f"{rd.resized} mask(s) at another resolution than their image resized to it "
                                     "by nearest neighbour (OpenCV INTER_NEAREST)"]
    if not policy.keeping:
        ds.validate(p)
    return ds


def _categories(rd: _Read) -> tuple[list, list]:
    """The classes the rows use, in the description file's order; undescribed ones named by their MID."""
    names: dict = {}
    found = next((rd.ann / n for n in CLASS_FILES if (rd.ann / n).is_file()), None)
    if found is not None:
        names = class_names(read_csv(confine(rd.ann, found)), found)
    cats = [Category(mid, name) for mid, name in names.items() if mid in rd.used]
    missing = [mid for mid in rd.used if mid not in names]
    cats += [Category(mid, mid) for mid in missing]
    notes = [f"classes named from {found.name}" if found else "no class description file: classes named by MID"]
    if missing and found:
        notes.append(f"{len(missing)} class(es) not in {found.name} named by their MID (e.g. {missing[0]!r})")
    return cats, notes


def _add_row(row: MaskRow, split: str, f: Path, rd: _Read) -> None:
    """The annotation of one CSV row, added to its image's item (made on its first row)."""
    item = rd.items.get(row.image_id)
    if item is None:
        item = _item(row, split, f, rd)
        rd.items[row.image_id] = item
    elif item.split != split:
        raise InputError(f"ImageID {row.image_id!r} is also in the {item.split} split", f, f"line {row.line}")
    png = _first(rd.root, [f"masks/{split}/{row.mask_path}", f"masks/{row.mask_path}"], f, row)
    if png is None:
        raise InputError(f"mask {row.mask_path!r} not found in masks/{split}/ or masks/", f, f"line {row.line}")
    arr = read_png(png).array
    mask = arr.any(axis=2) if arr.ndim == 3 else arr != 0
    if mask.shape != (item.height, item.width):
        rd.resized += 1
        mask = resize_nearest(mask, item.height, item.width)
    item.annotations.append(Annotation(rd.next_id, row.label, encode(mask), attributes=dict(row.attributes)))
    rd.next_id += 1
    rd.used.setdefault(row.label)


def _first(root: Path, names: list, f, row: MaskRow):
    """The first of ``names`` (relative to ``root``) that is a file, confined to ``root``; or None."""
    for name in names:
        cand = resolve_inside(root, name, f, f"line {row.line}")
        if _is_file(cand):
            return cand
    return None


def _item(row: MaskRow, split: str, f: Path, rd: _Read) -> Item:
    """The item of ``row.image_id``: its image file (for the name and size) or its images.meta size."""
    names = [f"images/{split}/{row.image_id}{s}" for s in IMAGE_SUFFIXES]
    names += [f"images/{row.image_id}{s}" for s in IMAGE_SUFFIXES]
    image = _first(rd.root, names, f, row)
    if image is not None:
        h, w = header_size(image, image)
        name = image.relative_to(rd.root.resolve()).as_posix()
    elif row.image_id in rd.meta_sizes:
        h, w = rd.meta_sizes[row.image_id]
        name = names[0]
    else:
        raise InputError(f"image {row.image_id!r} not found in images/{split}/ and not in {META}: its size (which "
                         "the mask is resized to) is unknown", f, f"line {row.line}")
    return Item(row.image_id, name, width=w, height=h, split=split)


register_format(
    FormatSpec(
        name="open_images",
        example="open_images/basic",
        description="Open Images v5-v7 segmentation (<split>-annotations-object-segmentation.csv + masks/ PNGs, "
                    "resized to the image by nearest neighbour); read only",
        detect=detect,
        read=read,
        write=None,
        output="dir",
        options=(ERRORS,),
    )
)
