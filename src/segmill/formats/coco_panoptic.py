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
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import numpy as np

from .. import jsonio
from .._progress import track
from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS, Box, InvalidGeometry, to_rle
from ..limits import check_pixels
from ..losses import WriteReport, register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import confined_glob, output_name, resolve_inside
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
from ._png import read_png, write_png
from ._voc_masks import STRUCTURAL_KEYS, dropped_fields
from .options import ERRORS, Option, overlap, raster, raster_rule

__all__ = ["read", "write", "detect", "CODES", "ids_from_rgb", "rgb_from_ids"]

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
MAX_ID = 256**3 - 1
_CAT_KEYS = ("id", "name", "supercategory", "isthing", "color")
_SEG_KEYS = ("id", "category_id", "area", "bbox", "iscrowd")


def ids_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Segment ids of an ``(h, w, 3)`` uint8 array, ``R + 256 G + 256^2 B`` in int32."""
    a = rgb.astype(np.int32)
    return a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]


def rgb_from_ids(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ids_from_rgb`."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


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
    files = _panoptic_jsons(p)
    if not files:
        raise InputError("no panoptic JSON (with a PNG folder named like it) found", p)
    ds = Dataset()
    ds.meta["source_format"] = "coco_panoptic"
    state = {"next_id": 1, "cats": {}}
    for jf in files:
        _read_json(jf, len(files), png_dir, ds, policy, state)
    if policy.skipped or policy.mode == "skip":
        ds.meta["skipped"] = policy.skipped
    if not policy.keeping:
        ds.validate(p)
    return ds


def _read_json(jf: Path, n_files: int, png_dir, ds: Dataset, policy: ErrorPolicy, state: dict) -> None:
    """Add one panoptic JSON (a split when there are several) to ``ds``."""
    doc, _ = jsonio.load(jf)
    if type(doc) is not dict:
        raise InputError(f"top level is a {type(doc).__name__}, expected an object", jf)
    for key in ("images", "annotations", "categories"):
        if type(doc.get(key)) is not list:
            raise InputError(f"'{key}' is missing or not a list", jf)
    split = jf.stem[len("panoptic_"):] if jf.stem.startswith("panoptic_") and n_files > 1 else None
    if split is None and n_files > 1:
        split = jf.stem
    ds.info = doc.get("info", ds.info)
    ds.licenses = doc.get("licenses", ds.licenses)
    for k, v in doc.items():
        if k not in ("info", "licenses", "images", "annotations", "categories"):
            ds.extra[k] = v
    cats = state["cats"]
    for i, c in enumerate(doc["categories"]):
        try:
            cat = _category(c, jf, i)
        except InputError as exc:
            policy.drop(exc)
            continue
        if cat.id not in cats:
            cats[cat.id] = cat
            ds.categories.append(cat)
    pngs = Path(png_dir) if png_dir is not None else jf.with_suffix("")
    records = _records(doc["annotations"], jf, policy)
    for i, im in enumerate(doc["images"]):
        try:
            item = _item(im, i, records, pngs, jf, cats, state, policy.keeping)
        except InputError as exc:
            if exc.record is None and not policy.raising:
                # skip: listed and dropped; keep: listed for `segmill check` (S014)
                exc.record = _image_where(im, i)
            policy.drop(exc)
            continue
        item.split = split
        ds.items.append(item)


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
        rec = f"annotations[{i}]"
        try:
            if type(a) is not dict or "image_id" not in a:
                raise InputError("annotation record has no image_id", jf, rec)
            records[hashable_id(a["image_id"], "image_id", jf, rec)] = a
        except InputError as exc:
            policy.drop(exc)
    return records


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


# ------------------------------------------------------------------- write
def write(dataset: Dataset, path, *, raster: str | None = None, overlap: str = "zorder") -> WriteReport:
    """Write ``<path>/annotations/panoptic_<split>.json`` and its PNG folder.

    Overlapping annotations are painted with ``overlap`` (see
    :func:`segmill.bridges.compose.compose`); every overwritten pixel is
    reported (``L701``) and the overwritten segments' area/bbox recomputed.
    Every polygon painted is reported too (``L705``: it reads back as a mask).

    Raises
    ------
    segmill.errors.InputError
        Before anything is painted: an image of zero pixels or over the pixel
        limit (:class:`~segmill.errors.LimitError`), a PNG name or split that
        is not a plain file name (NUL byte, absolute, escaping with ``..``),
        or values that cannot be written as JSON.
    """
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import OVERLAP_POLICIES, compose

    raster = raster_rule(dataset, raster)
    if overlap not in OVERLAP_POLICIES:
        raise UsageError(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {brief(overlap)}")
    out = Path(path)
    report = WriteReport()
    cats = [_category_record(c) for c in dataset.categories]
    known = {c.id for c in dataset.categories}
    by_split: dict = {}
    for item in dataset.items:
        by_split.setdefault(_split_name(item.split), []).append(item)
    by_split = by_split or {_split_name(None): []}  # no images: a JSON all the same, holding the categories
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, items in by_split.items():
        name = f"panoptic_{split}"
        png_dir = out / "annotations" / name
        png_dir.mkdir()
        images, records = [], []
        used_png: set = set()
        for item in track(items, desc=f"panoptic {split}"):
            im = {"id": item.id, "width": item.width, "height": item.height, "file_name": item.file_name}
            im.update({k: v for k, v in item.extra.items() if not (isinstance(k, str) and k.startswith("panoptic_"))})
            images.append(im)
            rec = _write_item(item, png_dir, used_png, known, raster, overlap, report, compose)
            if rec is not None:
                records.append(rec)
            report.items += 1
        doc = {}
        if dataset.info is not None:
            doc["info"] = dataset.info
        if dataset.licenses is not None:
            doc["licenses"] = dataset.licenses
        doc.update({"images": images, "annotations": records, "categories": cats})
        doc.update(dataset.extra)
        _write_json(out / "annotations" / f"{name}.json", doc)
        report.files += 1
    return report


def _category_record(c: Category) -> dict:
    d = {"id": c.id, "name": c.name}
    if c.supercategory is not None:
        d["supercategory"] = c.supercategory
    # panoptic files hold 0/1; a category of unknown kind is written as a thing
    d["isthing"] = int(c.isthing) if c.isthing is not None else 1
    if c.color is not None:
        d["color"] = list(c.color)
    d.update(c.extra)  # odd values the reader carried through, as found
    return d


def _write_json(path: Path, doc: dict) -> None:
    """``json.dump`` with values no JSON can hold (from another format's extras) refused as an InputError."""
    try:
        text = json.dumps(doc)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InputError(f"the dataset holds a value that cannot be written as JSON: {exc}", path) from None
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _split_name(split) -> str:
    """The split as it names files (``panoptic_<split>.json`` and its folder): refused unless a plain name."""
    if split is None:
        return "default"
    output_name(f"panoptic_{split}", "split", None, f"split {brief(split)}", suffix=".json")
    return str(split)


def _png_name(item: Item, used: set) -> str:
    """The file name of ``item``'s PNG: its panoptic name (or its image's stem) as a plain name, unique.

    Directories are dropped (PNGs are written flat), but a name that is not a
    string, is absolute or climbs out with ``..`` is refused: it was never a
    PNG of this dataset. The rest is :func:`segmill.paths.output_name`'s to
    refuse (NUL byte, ``.``, a lone surrogate, more than 255 bytes).
    """
    where = f"image id {brief(item.id)}"
    name = item.extra.get("panoptic_file_name") or (Path(str(item.file_name)).stem + ".png")
    if not isinstance(name, str):
        raise InputError(f"PNG name {brief(name)} is not a file name", None, where)
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InputError(f"PNG name {brief(name)} is absolute; only plain file names are written", None, where)
    norm = posixpath.normpath(cleaned)
    if norm == ".." or norm.startswith("../"):
        raise InputError(f"PNG name {brief(name)} points outside the PNG folder", None, where)
    base = output_name(posixpath.basename(norm), "PNG name", None, where)
    if base in used:
        stem = posixpath.splitext(base)[0][:120]
        tag = re.sub(r"[^A-Za-z0-9_.-]", "_", str(item.id))[:64]  # an id may hold '/', '..', NUL
        base, k = f"{stem}_{tag}.png", 1
        while base in used:
            base, k = f"{stem}_{tag}_{k}.png", k + 1
    used.add(base)
    return base


def _check_canvas(item: Item) -> None:
    """Refuse, before anything is allocated, an image no PNG can hold: zero pixels, or over the pixel limit."""
    h, w = item.height, item.width
    where = f"image id {brief(item.id)}"
    if h == 0 or w == 0:
        raise InputError(f"image size {w}x{h}: a panoptic PNG cannot have zero pixels", None, where)
    check_pixels(h, w, None, where)


def _write_item(item, png_dir, used_png, known, raster, overlap, report, compose):
    if item.height is None or item.width is None:
        if item.annotations:
            report.lose("L005", "image size unknown: no panoptic PNG written", item.id)
        return None
    _check_canvas(item)
    png_name = _png_name(item, used_png)
    anns = item.annotations
    keep = []
    for a in anns:
        if a.score is not None:
            report.lose("L252", f"score {brief(a.score)} dropped", item.id, a.id)
        if not isinstance(a.geometry, AREA_KINDS) or isinstance(a.geometry, Box):
            report.lose("L251", f"{type(a.geometry).__name__} annotation dropped", item.id, a.id)
        elif a.category_id is None and not a.attributes.get("void"):
            report.lose("L003", "annotation without a category dropped", item.id, a.id)
        elif a.category_id is not None and a.category_id not in known:
            report.lose("L003", f"category {brief(a.category_id)} is not declared; annotation dropped", item.id, a.id)
        else:
            if a.category_id is None:
                report.lose("L254", "void region painted as unlabeled pixels, not kept as a segment", item.id, a.id)
            keep.append(a)
    things = [a for a in keep if a.category_id is not None]
    src = [a.extra.get("panoptic_id") for a in things]
    if all(type(s) is int and 0 < s <= MAX_ID for s in src) and len(set(src)) == len(src):
        seg_ids = src
    else:
        seg_ids = list(range(1, len(things) + 1))
        for a, s in zip(things, src):
            if s is not None:
                report.lose("L253", f"segment id {brief(s)} renumbered", item.id, a.id)
    sid_of = {id(a): s for a, s in zip(things, seg_ids)}
    values = [sid_of.get(id(a), 0) for a in keep]
    sub = type(item)(item.id, item.file_name, item.width, item.height, annotations=keep)
    _, idmap, losses = compose(sub, {a.category_id: 1 for a in things}, overlap=overlap, raster=raster,
                               instance_values=values, void_value=0)
    hit = set()
    for l in losses:
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
        hit.add(l.annotation_id)
    write_png(png_dir / png_name, rgb_from_ids(idmap))
    report.files += 1
    segs = []
    for a, s in zip(things, seg_ids):
        m = encode(idmap == s)
        if m.area == 0:
            if to_rle(a.geometry, item.height, item.width, raster).area == 0:
                report.lose("L255", "no pixels under the raster rule: no segment written", item.id, a.id)
            else:
                report.lose("L701", "segment completely hidden by overlapping annotations; dropped", item.id, a.id)
            continue
        stored = "panoptic_id" in a.extra and a.id not in hit
        seg = {"id": s, "category_id": a.category_id,
               "area": a.area if stored and a.area is not None else int(m.area),
               "bbox": list(a.bbox) if stored and a.bbox is not None else list(m.bbox),
               "iscrowd": int(a.iscrowd)}
        seg.update({k: v for k, v in a.extra.items()
                    if k not in STRUCTURAL_KEYS and not (isinstance(k, str) and k.startswith("voc_"))})
        lost = [f for f in dropped_fields(a) if f.startswith(("attributes.", "voc_"))]
        if lost:
            report.lose("L001", f"fields {brief(lost)} have no place in COCO panoptic", item.id, a.id)
        segs.append(seg)
        report.annotations += 1
    rec = {"image_id": item.id, "file_name": png_name, "segments_info": segs}
    extra_rec = item.extra.get("panoptic_record")
    if isinstance(extra_rec, dict):
        rec.update(extra_rec)
    return rec


register_format(
    FormatSpec(
        name="coco_panoptic",
        example="panoptic",
        description="COCO panoptic: RGB segment-id PNGs (id = R + 256 G + 256^2 B) + segments_info JSON",
        detect=detect,
        read=read,
        write=write,
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
