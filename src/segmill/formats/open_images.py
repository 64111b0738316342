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

:func:`stream` gives the same items one image at a time, from a compact
index of the CSVs (:mod:`segmill.formats._open_images_stream`); a mask PNG
is decoded only when its item is built.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path

import numpy as np

from .. import jsonio
from ..errors import InputError
from ..images import image_size as header_size
from ..model import Annotation, Category, Dataset, Item
from ..paths import confine, confined_glob, resolve_inside
from ..rle import encode
from ..validate import ErrorPolicy
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import header_of, runs, unchanged, with_headers
from ._open_images_csv import MaskRow, class_names, image_meta, mask_rows, read_csv, resize_nearest
from ._open_images_stream import RowIndex, build_index, other_split
from ._perfile_stream import UniqueIds, validated
from ._png import read_png
from .options import ERRORS

__all__ = ["detect", "read", "stream"]

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
    """One read: folders, image sizes, the items by ImageID, the classes used, the next annotation id."""

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
    rd, csvs, ds = _start(p, policy)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    ds.items = list(_items(csvs, rd))
    ds.categories, notes = _categories(rd.ann, rd.used)
    ds.meta["read_notes"] = notes + [_resized_note(rd.resized)]
    if not policy.keeping:
        ds.validate(p)
    return ds


def _start(p: Path, policy: ErrorPolicy) -> tuple[_Read, list, Dataset]:
    """``(read state, segmentation CSVs, dataset without items)``: what a read reads before the first row."""
    if not p.is_dir():
        raise InputError("an Open Images dataset is a folder", p)
    root, ann = _folders(p)
    csvs = confined_glob(ann, f"*{SUFFIX}")
    if not csvs:
        raise InputError(f"no <split>{SUFFIX} (expected annotations/train{SUFFIX} beside masks/ and images/)", p)
    ds = Dataset(meta={"source_format": "open_images", "image_root": str(root)})
    rd = _Read(root, ann, policy)
    if (ann / META).is_file():
        rd.meta_sizes = image_meta(jsonio.read_bytes(confine(ann, ann / META)), ann / META)
    return rd, csvs, ds


def _split(f: Path) -> str:
    """The split of a segmentation CSV, from its name."""
    return _PREFIX.sub("", f.name[: -len(SUFFIX)]) or "default"


def _items(csvs: list, rd: _Read):
    """Every row of the CSVs, in reading order, added to its image's item: the items, in order of first appearance."""
    for f in csvs:
        split = _split(f)
        for row in mask_rows(read_csv(f), f):
            try:
                if isinstance(row, InputError):
                    raise row
                _add_row(row, split, f, rd)
            except InputError as exc:
                rd.policy.drop(exc)
    return rd.items.values()


def _resized_note(n: int) -> str:
    return f"{n} mask(s) at another resolution than their image resized to it by nearest neighbour (OpenCV INTER_NEAREST)"


def _categories(ann: Path, used: dict) -> tuple[list, list]:
    """The classes used, in the description file's order; undescribed ones named by their MID."""
    names: dict = {}
    found = next((ann / n for n in CLASS_FILES if (ann / n).is_file()), None)
    if found is not None:
        names = class_names(read_csv(confine(ann, found)), found)
    cats = [Category(mid, name) for mid, name in names.items() if mid in used]
    missing = [mid for mid in used if mid not in names]
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
        raise other_split(row, item.split, f)
    ann, resized = _annotation(row, split, f, item, rd.root, rd.next_id)
    item.annotations.append(ann)
    rd.resized += resized
    rd.next_id += 1
    rd.used.setdefault(row.label)


def _mask_file(row: MaskRow, split: str, f: Path, root: Path) -> Path:
    """The mask PNG of a row: ``masks/<split>/<MaskPath>``, else ``masks/<MaskPath>``."""
    png = _first(root, [f"masks/{split}/{row.mask_path}", f"masks/{row.mask_path}"], f, row)
    if png is None:
        raise InputError(f"mask {row.mask_path!r} not found in masks/{split}/ or masks/", f, f"line {row.line}")
    return png


def _mask(row: MaskRow, split: str, f: Path, root: Path) -> np.ndarray:
    """The decoded mask of a row, at its own resolution."""
    arr = read_png(_mask_file(row, split, f, root)).array
    return arr.any(axis=2) if arr.ndim == 3 else arr != 0


def _annotation(row: MaskRow, split: str, f: Path, item: Item, root: Path, ann_id: int) -> tuple[Annotation, bool]:
    """``(annotation of a row, whether its mask was resized to the item)``."""
    mask = _mask(row, split, f, root)
    resized = mask.shape != (item.height, item.width)
    if resized:
        mask = resize_nearest(mask, item.height, item.width)
    return Annotation(ann_id, row.label, encode(mask), attributes=dict(row.attributes)), resized


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


# ------------------------------------------------------------------ streaming
def stream(path, *, errors: str = "raise", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come). The CSVs are indexed first
    (:mod:`segmill.formats._open_images_stream`: a few bytes a row); the
    count of resized masks in ``meta["read_notes"]`` comes from a first pass
    over the image and mask PNG headers. ``None`` (read whole) for ``errors``
    other than ``"raise"``, where the items' order, the annotation ids and
    the categories depend on which rows every mask's decoding drops.
    ``selection``: one part of :func:`shards`, a run of the images of the
    index in order, which carries the count of resized masks (the first
    pass, made once on the driver); the header still comes from every row
    (each part indexes every CSV), and the CSVs' error that the read raises
    after every row's is the last part's.
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    p = Path(path)
    rd, csvs, ds = _start(p, policy)
    index = build_index(csvs, _split)
    if index is None:
        return None
    late = None
    try:
        ds.categories, notes = _categories(rd.ann, dict.fromkeys(index.labels))
    except InputError as exc:  # the whole read raises it after the rows' errors: so does the stream
        late, notes = exc, []
    part = range(index.n_images)[slice(selection["start"], selection["stop"])] if selection else range(index.n_images)
    total, expected = header_of(selection, lambda: _resized_counts(index, rd, [part])[0])
    ds.meta["read_notes"] = notes + [_resized_note(total)]
    last = part.stop >= index.n_images  # the part that raises the CSVs' error, found after every row before it
    items = unchanged(_streamed_items(index, rd, part, late, last), lambda: rd.resized, expected, rd.root)
    return ds, UniqueIds(validated(items, ds.categories, p))


def shards(path, n: int, *, errors: str = "raise") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of images of the index of about equal numbers of rows.

    ``None`` where :func:`stream` reads whole. A selection is ``{"start",
    "stop", "header"}``: annotation ids are the read's own (each row's
    position in the CSVs), which a part gives as they are; the header is
    ``(masks resized, those of the part's images)``, found here once (a pass
    over every image's and mask's PNG header).
    """
    if not ErrorPolicy.of(errors).raising:
        return None
    rd, csvs, _ = _start(Path(path), ErrorPolicy.of(errors))
    index = build_index(csvs, _split)
    if index is None:
        return None
    sels = [{"start": s["start"], "stop": s["stop"]} for s in runs(np.diff(index.bounds).tolist(), n)]
    return with_headers(sels, _resized_counts(index, rd, [range(s["start"], s["stop"]) for s in sels]))


class _RowFailed(Exception):
    """A row's error while an item is built, with the row's position."""

    def __init__(self, pos: int, error: InputError):
        super().__init__(pos)
        self.pos, self.error = pos, error


def _streamed_items(index: RowIndex, rd: _Read, part: range, late, last: bool):
    """The item of each image at ``part`` in turn; then the errors a whole read raises after every row's: the
    CSVs' own (``index.error``) in the part of the last image (``last``) only, ``late`` (the class
    descriptions' error, which leaves the header without categories) in every part."""
    with index.opened() as fds:
        for k in part:
            try:
                item = _image(index, k, rd, fds)
            except _RowFailed as failed:
                raise _earliest(index, k, failed, rd, fds) from None
            yield item
    for exc in (index.error if last else None, late):
        if exc is not None:
            raise exc


def _image(index: RowIndex, k: int, rd: _Read, fds: dict) -> Item:
    """Image ``k``'s item from its rows read back; a row's error raised as :class:`_RowFailed`."""
    item = None
    for p in index.rows(k):
        row, c = index.row(p, fds)
        try:
            if item is None:
                item = _item(row, c.split, c.path, rd)
            ann, resized = _annotation(row, c.split, c.path, item, rd.root, int(p) + 1)  # the read's ids
        except InputError as exc:
            raise _RowFailed(int(p), exc) from None
        if row.image_id != item.id:
            raise InputError("the CSV file changed while it was read", c.path, f"line {row.line}")
        item.annotations.append(ann)
        rd.resized += resized
    return item


def _earliest(index: RowIndex, k: int, failed: _RowFailed, rd: _Read, fds: dict) -> InputError:
    """The error a whole read raises: that of the first row, in reading order, that fails (images after
    ``k`` may have rows before the failed one)."""
    later = index.by_image[index.bounds[k + 1]:]
    before = np.sort(later[later < failed.pos])
    first = np.isin(before, index.by_image[index.bounds[:-1]])
    for q, is_first in zip(before, first):
        row, c = index.row(q, fds)
        try:
            if is_first:
                _item(row, c.split, c.path, rd)
            _mask(row, c.split, c.path, rd.root)
        except InputError as exc:
            return exc
    return failed.error


def _resized_counts(index: RowIndex, rd: _Read, parts: list[range]) -> list[tuple[int, int]]:
    """``(how many masks a read resizes, how many of those of the images at the part)`` for each of ``parts``
    (runs of images, in order): their PNG headers against their images' sizes (a row a read refuses is
    passed over: the read raises there, whatever the count)."""
    starts = [part.start for part in parts]
    total, own = 0, [0] * len(parts)
    with index.opened() as fds:
        for k in range(index.n_images):
            rows = index.rows(k)
            row, c = index.row(rows[0], fds)
            try:
                item = _item(row, c.split, c.path, rd)
            except InputError:
                continue
            for p in rows:
                row, c = index.row(p, fds)
                try:
                    png = _mask_file(row, c.split, c.path, rd.root)
                    resized = header_size(png, png) != (item.height, item.width)
                except InputError:
                    continue
                if resized:
                    total += 1
                    j = bisect_right(starts, k) - 1
                    if j >= 0 and k in parts[j]:
                        own[j] += 1
    return [(total, n) for n in own]


register_format(
    FormatSpec(
        name="open_images",
        example="open_images/basic",
        description="Open Images v5-v7 segmentation (<split>-annotations-object-segmentation.csv + masks/ PNGs, "
                    "resized to the image by nearest neighbour); read only",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=None,
        output="dir",
        options=(ERRORS,),
    )
)
