"""COCO panoptic: RGB segment-id PNGs + a JSON of ``segments_info``.

Layout read: a panoptic JSON file (its PNGs in the folder named like the file
without ``.json``, as in ``annotations/panoptic_val2017.json`` +
``annotations/panoptic_val2017/``), or a folder holding ``annotations/panoptic_*.json``
(one split each). Layout written: ``<dst>/annotations/panoptic_<split>.json``
and ``<dst>/annotations/panoptic_<split>/<name>.png``.

Segment id = R + 256 G + 256^2 B (computed in int32); 0 is void. Each
segment becomes an annotation with an RLE mask, its ``iscrowd``, stored
``area``/``bbox`` (pixel count and toBbox), and ``extra["panoptic_id"]``
(segment ids are unique per image only, so annotation ids are renumbered
dataset-wide; the writer reuses ``panoptic_id`` so panoptic -> instances ->
panoptic gives the same PNGs). Categories carry ``isthing`` and ``color``.
The writer (:mod:`._panoptic_write`) writes a dataset or any reader's stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import jsonio
from ..errors import InputError
from ..geometry import InvalidGeometry
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import confined_glob, resolve_inside
from ..rle import encode
from ..validate import (
    ErrorPolicy,
    brief,
    finite,
    hashable_id,
    image_size,
    int_in,
    string,
)
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import first_annotation_id, runs
from ._panoptic_ids import MAX_ID, ids_from_rgb, rgb_from_ids
from ._panoptic_stream import RecordLookup, distinct, index_split
from ._panoptic_write import write, write_stream
from ._perfile_stream import UniqueIds, validated
from ._png import read_png
from .options import ERRORS, Option, overlap, raster

__all__ = ["CODES", "MAX_ID", "detect", "ids_from_rgb", "read", "rgb_from_ids", "stream", "write", "write_stream"]

CODES = {
    "L251": "an annotation without pixels (box, point, line) has no place in a panoptic PNG and was dropped",
    "L252": "a detection score has no place in COCO panoptic and was dropped",
    "L253": "a segment id was renumbered (duplicate or out of range): PNG colours differ from the source",
    "L254": "a void region was painted as unlabeled (0) pixels: it reads back as no annotation",
    "L255": "an annotation without pixels under the raster rule (degenerate polygon, empty mask) has no "
            "segment and was dropped",
}
register_codes(CODES, changes={
    "pixels": ("L251", "L254", "L255"),
})
_CAT_KEYS = ("id", "name", "supercategory", "isthing", "color")
_SEG_KEYS = ("id", "category_id", "area", "bbox", "iscrowd")


def _panoptic_jsons(p: Path) -> list[Path]:
    """The panoptic JSON files of ``p``: itself, or the ``*.json`` of its folder that have a PNG folder beside them.

    Listed entries that are symlinks out of the folder are refused
    (:func:`segmill.paths.confined_glob`).
    """
    if p.is_file():
        return [p]
    d = p / "annotations" if (p / "annotations").is_dir() else p
    return [f for f in confined_glob(d, "*.json") if f.with_suffix("").is_dir()]


def detect(path) -> Detection:
    p = Path(path)
    try:
        files = _panoptic_jsons(p) if p.exists() else []
    except InputError:  # a listed file links out of the folder: not ours to read
        return NO
    for f in files[:1]:
        try:
            with open(f, "rb") as fh:
                head = fh.read(65536)
        except OSError:
            return NO
        beside = f.with_suffix("").is_dir()
        where = "file" if p.is_file() else "folder"
        if b'"segments_info"' in head:
            return Detection(0.9, f"{where} with a JSON holding segments_info" +
                             (" and a PNG folder beside it" if beside else ""))
        if b'"isthing"' in head and beside:
            return Detection(0.9, f"{where} with a JSON holding isthing and a PNG folder {f.stem}/ beside it")
        if f.stem.startswith("panoptic") and beside:
            return Detection(0.6, f"{f.name} with a PNG folder {f.stem}/ beside it")
    return NO


def read(path, *, png_dir=None, errors: str = "raise", raster: str = "coco") -> Dataset:
    """Read COCO panoptic annotations (a JSON file, or a folder of ``annotations/panoptic_*.json``).

    Parameters
    ----------
    png_dir : path, optional
        Folder of the segment PNGs (default: the JSON's path without ``.json``).
        PNG names found in the JSON must resolve inside it.
    errors : {"raise", "skip", "keep"}
        ``skip`` and ``keep`` drop a bad image (or category, or annotation
        record) and list it in ``dataset.meta["skipped"]``; ``keep`` also
        keeps the segments of a PNG whose size does not match its image as
        invalid geometry (for ``segmill check``) and does not validate the dataset.

    Raises
    ------
    segmill.errors.InputError
        Unreadable or invalid JSON, a wrong value anywhere, a PNG that is
        missing, outside its folder, not RGB, over the pixel limit, or whose
        segments do not match ``segments_info``.
    """
    p = Path(path)
    policy = ErrorPolicy.of(errors)  # an unknown mode is a UsageError before anything is read
    files, ds = _start(p)
    state = {"next_id": 1}
    ds.items = list(_items(_whole_splits(files, ds, policy, {}), png_dir, policy, state))
    if policy.skipped or policy.mode == "skip":
        ds.meta["skipped"] = policy.skipped
    if not policy.keeping:
        ds.validate(p)
    return ds


def stream(path, *, png_dir=None, errors: str = "raise", raster: str = "coco", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come). Each JSON is indexed first
    (:mod:`segmill.formats._panoptic_stream`: the byte span of every image
    and annotation record, every record parsed once to check it, nothing of
    it kept but the spans and the annotation records' image ids); its
    header (categories, ``info``, other keys) is read then, and each image's
    records are parsed again, and its PNG decoded, when its item is built.
    ``None`` (read whole: the same items, more memory) for ``errors`` other
    than ``"raise"``, and where the index cannot vouch for what the read
    gives: an error before the first image of a file (invalid JSON, a bad
    category or annotation record, which the read words), image ids that
    repeat or an image or annotation record whose id is a string or beyond
    64 bits, JSON that only the standard library parses at the top level.
    ``selection``: one part of :func:`shards`, a run of the image records
    of the files in reading order (see :mod:`segmill.formats._file_runs`);
    every file is still indexed for the header and the image ids.
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    p = Path(path)
    files, ds = _start(p)
    indexes = _indexes(files, ds)
    if indexes is None:
        return None
    state = {"next_id": first_annotation_id(selection)}
    splits = _indexed_splits(indexes, len(files), selection)
    return ds, UniqueIds(validated(_items(splits, png_dir, policy, state), ds.categories, p))


def shards(path, n: int, *, png_dir=None, errors: str = "raise", raster: str = "coco") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of about equal numbers of image records.

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    if not ErrorPolicy.of(errors).raising:
        return None
    files, ds = _start(Path(path))
    indexes = _indexes(files, ds)
    if indexes is None:
        return None
    return runs([1] * sum(len(index.images) for _, index, _ in indexes), n)


def _start(p: Path) -> tuple[list[Path], Dataset]:
    """``(panoptic JSON files, dataset without items)``."""
    files = _panoptic_jsons(p)
    if not files:
        raise InputError("no panoptic JSON (with a PNG folder named like it) found", p)
    ds = Dataset()
    ds.meta["source_format"] = "coco_panoptic"
    return files, ds


class _Split(NamedTuple):
    """One panoptic JSON as the items are read from it."""

    jf: Path
    split: str | None
    images: Iterable  # (position, image record)
    records: dict | RecordLookup  # .get(image id): the annotation record of the image, or None
    cats: dict  # the categories declared in this file and the ones before it, by id


def _whole_splits(files: list[Path], ds: Dataset, policy: ErrorPolicy, cats: dict):
    """Each JSON loaded whole in turn, its header added to ``ds`` and its categories to ``cats``."""
    for jf in files:
        doc, _ = jsonio.load(jf)
        if type(doc) is not dict:
            raise InputError(f"top level is a {type(doc).__name__}, expected an object", jf)
        for key in ("images", "annotations", "categories"):
            if type(doc.get(key)) is not list:
                raise InputError(f"'{key}' is missing or not a list", jf)
        _add_header(doc, jf, ds, policy, cats)
        yield _Split(jf, _split_name(jf, len(files)), enumerate(doc["images"]), _records(doc["annotations"], jf, policy),
                     cats)


def _indexes(files: list[Path], ds: Dataset) -> list[tuple] | None:
    """``(file, index, categories up to it)`` of each JSON, its header added to ``ds``; ``None`` where the
    index cannot vouch for the read."""
    cats: dict = {}
    out, ids = [], []
    for jf in files:
        index = index_split(jf, _record_key)
        if index is None or type(index.top.get("categories")) is not list:
            return None
        try:
            _add_header(index.top, jf, ds, ErrorPolicy.of("raise"), cats)
        except InputError:  # the read words it, after the items of the files before
            return None
        ids.append(index.image_ids)
        index.image_ids = None  # kept until checked below, not while streaming
        out.append((jf, index, dict(cats)))
    if not distinct(ids):
        return None  # the read's validation words it
    return out


def _indexed_splits(indexes: list[tuple], n_files: int, selection: dict | None) -> list[_Split]:
    """The :class:`_Split` of each indexed JSON, its image records those of ``selection`` (a run of the image
    records of every file in order), else all."""
    splits, offset = [], 0
    for jf, index, cats in indexes:
        n = len(index.images)
        a, b = (0, n) if selection is None else (min(max(selection["start"] - offset, 0), n),
                                                  min(max(selection["stop"] - offset, 0), n))
        offset += n
        if a < b:
            splits.append(_Split(jf, _split_name(jf, n_files), index.image_records(a, b), index.lookup(), cats))
    return splits


def _split_name(jf: Path, n_files: int) -> str | None:
    """The split of the items of ``jf``: none when it is the only file."""
    split = jf.stem[len("panoptic_"):] if jf.stem.startswith("panoptic_") and n_files > 1 else None
    if split is None and n_files > 1:
        split = jf.stem
    return split


def _add_header(doc: dict, jf: Path, ds: Dataset, policy: ErrorPolicy, cats: dict) -> None:
    """``info``, ``licenses``, the other top-level keys and the new categories of one JSON, added to ``ds``."""
    ds.info = doc.get("info", ds.info)
    ds.licenses = doc.get("licenses", ds.licenses)
    for k, v in doc.items():
        if k not in ("info", "licenses", "images", "annotations", "categories"):
            ds.extra[k] = v
    for i, c in enumerate(doc["categories"]):
        try:
            cat = _category(c, jf, i)
        except InputError as exc:
            policy.drop(exc)
            continue
        if cat.id not in cats:
            cats[cat.id] = cat
            ds.categories.append(cat)


def _items(splits, png_dir, policy: ErrorPolicy, state: dict):
    """Yield the item of each image record of each JSON in turn (annotation ids 1, 2, ... in ``state``)."""
    for s in splits:
        pngs = Path(png_dir) if png_dir is not None else s.jf.with_suffix("")
        for i, im in s.images:
            try:
                item = _item(im, i, s.records, pngs, s.jf, s.cats, state, policy.keeping)
            except InputError as exc:
                if exc.record is None and not policy.raising:
                    # skip: listed and dropped; keep: listed for `segmill check` (S014)
                    exc.record = _image_where(im, i)
                policy.drop(exc)
                continue
            item.split = s.split
            yield item


def _image_where(im, i: int) -> str:
    iid = im.get("id") if type(im) is dict else None
    return f"images[{i}]" if iid is None else f"image id {brief(iid)}"


def _category(c, jf, i: int) -> Category:
    """A category record, checked; odd optional values are carried in ``extra`` as found."""
    rec = f"categories[{i}]"
    if type(c) is not dict or "id" not in c or "name" not in c:
        raise InputError("category needs 'id' and 'name'", jf, rec)
    cid = hashable_id(c["id"], "category id", jf, rec)
    rec = f"category id {brief(cid)}"
    name = string(c["name"], "category name", jf, rec)
    extra = {k: v for k, v in c.items() if k not in _CAT_KEYS}
    sup, isthing, color = c.get("supercategory"), c.get("isthing"), c.get("color")
    if sup is not None and type(sup) is not str:
        extra["supercategory"], sup = sup, None
    if isthing is not None:
        if type(isthing) in (bool, int, float) and isthing in (0, 1):
            isthing = bool(isthing)
        else:
            extra["isthing"], isthing = isthing, None
    if color is not None:
        if type(color) is list and len(color) == 3 and all(type(v) is int and 0 <= v <= 255 for v in color):
            color = tuple(color)
        else:
            extra["color"], color = color, None
    return Category(cid, name, sup, isthing, color, extra)


def _records(raw: list, jf, policy: ErrorPolicy) -> dict:
    """The annotation records by image id (the last one wins, as before)."""
    records = {}
    for i, a in enumerate(raw):
        try:
            records[_record_key(a, i, jf)] = a
        except InputError as exc:
            policy.drop(exc)
    return records


def _record_key(a, i: int, jf) -> int | str:
    """The image id of annotation record ``i``, checked."""
    rec = f"annotations[{i}]"
    if type(a) is not dict or "image_id" not in a:
        raise InputError("annotation record has no image_id", jf, rec)
    return hashable_id(a["image_id"], "image_id", jf, rec)


def _item(im, i: int, records: dict, pngs: Path, jf, cats: dict, state: dict, keep: bool) -> Item:
    """An image record and, when it has an annotation record, its segments from the PNG."""
    if type(im) is not dict or "id" not in im:
        raise InputError("image record has no id", jf, f"images[{i}]")
    iid = hashable_id(im["id"], "image id", jf, f"images[{i}]")
    where = f"image id {brief(iid)}"
    w, h = im.get("width"), im.get("height")
    if w is not None and h is not None:
        h, w = image_size(h, w, jf, where, allow_zero=False)  # every panoptic image has a PNG: never 0 pixels
    elif w is not None or h is not None:
        name, v = ("width", w) if w is not None else ("height", h)
        int_in(v, f"image {name}", jf, where, lo=1)
    fn = string(im.get("file_name", ""), "file_name", jf, where)
    extra = {k: v for k, v in im.items() if k not in ("id", "file_name", "width", "height")}
    item = Item(iid, fn, width=w, height=h, extra=extra)
    rec = records.get(iid)
    if rec is None:
        return item
    segs = _segments(rec.get("segments_info"), jf, where)
    png_name = rec.get("file_name") or _png_from_image_name(fn, jf, where)
    png = resolve_inside(pngs, png_name, jf, where)
    item.extra["panoptic_file_name"] = png_name
    rest = {k: v for k, v in rec.items() if k not in ("image_id", "file_name", "segments_info")}
    if rest:
        item.extra["panoptic_record"] = rest
    img = read_png(png)
    if img.mode != "RGB" or img.array.ndim != 3:
        raise InputError(f"panoptic PNG must be RGB, got mode {img.mode}", png)
    if h is not None and w is not None and img.size != (h, w):
        msg = f"PNG is {img.size[1]}x{img.size[0]} (width x height) but the JSON says {w}x{h}"
        if not keep:
            raise InputError(msg, png)
        # keep: every segment stays, as invalid geometry the check reports (G008)
        for sid, cid, *_ in segs:
            raw = {"png": png_name, "segment_id": sid, "png_size": list(img.size)}
            item.annotations.append(Annotation(state["next_id"], cid, InvalidGeometry(
                raw, f"{msg}: the PNG size does not match the image size", code="G008")))
            state["next_id"] += 1
        return item
    _add_segments(item, ids_from_rgb(img.array), segs, png, jf, where, cats, state)
    if h is None or w is None:
        item.height, item.width = img.size
    return item


def _png_from_image_name(fn: str, jf, where: str) -> str:
    """The PNG name an annotation record without ``file_name`` implies: the image's, with ``.png``."""
    try:
        return Path(fn).with_suffix(".png").name
    except ValueError:  # "" or "/": no name to derive one from
        raise InputError(f"the annotation record has no file_name and the image's file_name {brief(fn)} "
                         "gives none", jf, where) from None


def _segments(raw, jf, where: str) -> list[tuple]:
    """``segments_info``, checked: ``(id, category_id, iscrowd, area, bbox, extra)`` per segment."""
    if raw is None:
        return []
    if type(raw) is not list:
        raise InputError(f"segments_info must be a list, got {brief(raw)}", jf, where)
    out = []
    for k, s in enumerate(raw):
        rec = f"{where}, segments_info[{k}]"
        if type(s) is not dict or "id" not in s or "category_id" not in s:
            raise InputError("segment needs 'id' and 'category_id'", jf, rec)
        sid = int_in(s["id"], "segment id", jf, rec, lo=1, hi=MAX_ID, integral_floats=True)
        cid = hashable_id(s["category_id"], "category_id", jf, rec)
        crowd = s.get("iscrowd", 0)
        if type(crowd) not in (bool, int, float):
            raise InputError(f"iscrowd must be a number, got {brief(crowd)}", jf, rec)
        area = s.get("area")
        if area is not None:
            finite(area, "area", jf, rec)  # the stored value is kept as written
        bbox = s.get("bbox")
        if bbox is not None:
            if type(bbox) is not list or len(bbox) != 4:
                raise InputError(f"bbox must be four finite numbers [x, y, w, h], got {brief(bbox)}", jf, rec)
            for v in bbox:
                finite(v, "bbox value", jf, rec)
            bbox = tuple(bbox)
        extra = {k2: v for k2, v in s.items() if k2 not in _SEG_KEYS}
        extra["panoptic_id"] = sid
        out.append((sid, cid, bool(crowd), area, bbox, extra))
    return out


def _add_segments(item: Item, ids: np.ndarray, segs: list, png, jf, where: str, cats: dict, state: dict) -> None:
    """One annotation per segment, after checking that the PNG and ``segments_info`` agree."""
    declared = [s[0] for s in segs]
    present = set(np.unique(ids).tolist()) - {0}
    missing_json = sorted(present - set(declared))
    if missing_json:
        raise InputError(f"segment id(s) {missing_json[:5]} appear in the PNG but not in segments_info", png, where)
    missing_png = sorted(set(declared) - present)
    if missing_png:
        raise InputError(f"segments_info id(s) {missing_png[:5]} have no pixel in the PNG", png, where)
    if len(set(declared)) != len(declared):
        raise InputError("duplicate segment id in segments_info", jf, where)
    for sid, cid, crowd, area, bbox, extra in segs:
        if cid not in cats:
            raise InputError(f"category_id {brief(cid)} is not a declared category", jf, f"{where}, segment {sid}")
        item.annotations.append(Annotation(state["next_id"], cid, encode(ids == sid), iscrowd=crowd, area=area,
                                           bbox=bbox, extra=extra))
        state["next_id"] += 1


register_format(
    FormatSpec(
        name="coco_panoptic",
        example="panoptic",
        description="COCO panoptic: RGB segment-id PNGs (id = R + 256 G + 256^2 B) + segments_info JSON",
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
            Option("png_dir", "reader", "folder of the segment PNGs (default: the JSON path without .json)",
                   kind="path"),
            overlap(),
            raster("both"),
        ),
    )
)
