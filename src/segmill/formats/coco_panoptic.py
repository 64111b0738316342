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
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry import InvalidGeometry
from ..losses import WriteReport, register_codes
from ..model import Annotation, Category, Dataset, Item
from ..rle import encode
from . import Detection, FormatSpec, NO, register_format
from ..paths import resolve_inside
from ._png import read_png, write_png
from ._voc_masks import STRUCTURAL_KEYS, dropped_fields

__all__ = ["read", "write", "detect", "CODES", "ids_from_rgb", "rgb_from_ids"]

CODES = {
    "L251": "an annotation without pixels (box, point, line) has no place in a panoptic PNG and was dropped",
    "L252": "a detection score has no place in COCO panoptic and was dropped",
    "L253": "a segment id was renumbered (duplicate or out of range): PNG colours differ from the source",
    "L254": "a void region was painted as unlabeled (0) pixels: it reads back as no annotation",
}
register_codes(CODES)
MAX_ID = 256**3 - 1


def ids_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Segment ids of an ``(h, w, 3)`` uint8 array, ``R + 256 G + 256^2 B`` in int32."""
    a = rgb.astype(np.int32)
    return a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]


def rgb_from_ids(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ids_from_rgb`."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def _panoptic_jsons(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    d = p / "annotations" if (p / "annotations").is_dir() else p
    return sorted(f for f in d.glob("*.json") if f.with_suffix("").is_dir())


def detect(path) -> Detection:
    p = Path(path)
    files = _panoptic_jsons(p) if p.exists() else []
    for f in files[:1]:
        try:
            with open(f, "rb") as fh:
                head = fh.read(65536)
        except OSError:
            return NO
        if b'"segments_info"' in head or b'"isthing"' in head:
            where = "file" if p.is_file() else "folder"
            return Detection(0.9, f"{where} with a JSON holding segments_info/isthing and a PNG folder beside it")
        if f.stem.startswith("panoptic"):
            return Detection(0.6, f"{f.name} with a PNG folder {f.stem}/ beside it")
    return NO


def _load_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path) from None


def read(path, *, png_dir=None, errors: str = "raise", raster: str = "coco") -> Dataset:
    """Read COCO panoptic annotations (a JSON file, or a folder of ``annotations/panoptic_*.json``).

    Parameters
    ----------
    png_dir : path, optional
        Folder of the segment PNGs (default: the JSON's path without ``.json``).
    errors : {"raise", "skip", "keep"}
    """
    p = Path(path)
    files = _panoptic_jsons(p)
    if not files:
        raise InputError("no panoptic JSON (with a PNG folder named like it) found", p)
    ds = Dataset()
    ds.meta["source_format"] = "coco_panoptic"
    if errors == "skip":
        ds.meta.setdefault("skipped", [])
    next_id = 1
    cat_seen: dict = {}
    for jf in files:
        doc = _load_json(jf)
        if not isinstance(doc, dict):
            raise InputError(f"top level is a {type(doc).__name__}, expected an object", jf)
        for key in ("images", "annotations", "categories"):
            if not isinstance(doc.get(key), list):
                raise InputError(f"'{key}' is missing or not a list", jf)
        split = jf.stem[len("panoptic_"):] if jf.stem.startswith("panoptic_") and len(files) > 1 else None
        if split is None and len(files) > 1:
            split = jf.stem
        ds.info = doc.get("info", ds.info)
        ds.licenses = doc.get("licenses", ds.licenses)
        for k, v in doc.items():
            if k not in ("info", "licenses", "images", "annotations", "categories"):
                ds.extra[k] = v
        for c in doc["categories"]:
            cat = _category(c, jf)
            if cat.id not in cat_seen:
                cat_seen[cat.id] = cat
                ds.categories.append(cat)
        pngs = Path(png_dir) if png_dir is not None else jf.with_suffix("")
        records = {}
        for i, a in enumerate(doc["annotations"]):
            if not isinstance(a, dict) or "image_id" not in a:
                raise InputError("annotation record has no image_id", jf, f"annotations[{i}]")
            records[a["image_id"]] = a
        for im in doc["images"]:
            try:
                item, next_id = _item(im, records.get(im.get("id")), pngs, jf, cat_seen, next_id, errors)
            except InputError as exc:
                if errors == "raise":
                    raise
                # skip: listed and dropped; keep: listed for `segmill check` (S014)
                ds.meta.setdefault("skipped", []).append(
                    {"path": exc.path, "record": exc.record or f"image id {im.get('id')!r}", "reason": exc.message})
                continue
            item.split = split
            ds.items.append(item)
    if errors != "keep":
        ds.validate(p)
    return ds


def _category(c, jf) -> Category:
    if not isinstance(c, dict) or "id" not in c or "name" not in c:
        raise InputError("category needs 'id' and 'name'", jf, f"category {c!r}")
    extra = {k: v for k, v in c.items() if k not in ("id", "name", "supercategory", "isthing", "color")}
    isthing = c.get("isthing")
    return Category(c["id"], c["name"], c.get("supercategory"), None if isthing is None else bool(isthing),
                    tuple(c["color"]) if isinstance(c.get("color"), list) and len(c["color"]) == 3 else None,
                    extra)


def _item(im, rec, pngs: Path, jf, cats, next_id, errors="raise"):
    if not isinstance(im, dict) or "id" not in im:
        raise InputError("image record has no id", jf)
    iid = im["id"]
    where = f"image id {iid!r}"
    w, h = im.get("width"), im.get("height")
    extra = {k: v for k, v in im.items() if k not in ("id", "file_name", "width", "height")}
    item = Item(iid, im.get("file_name", ""), width=w, height=h, extra=extra)
    if rec is None:
        return item, next_id
    png_name = rec.get("file_name") or Path(item.file_name).with_suffix(".png").name
    item.extra["panoptic_file_name"] = png_name
    rest = {k: v for k, v in rec.items() if k not in ("image_id", "file_name", "segments_info")}
    if rest:
        item.extra["panoptic_record"] = rest
    png = resolve_inside(pngs, png_name, jf, where)
    img = read_png(png)
    if img.mode != "RGB" or img.array.ndim != 3:
        raise InputError(f"panoptic PNG must be RGB, got mode {img.mode}", png)
    if h is not None and w is not None and img.size != (h, w):
        msg = f"PNG is {img.size[1]}x{img.size[0]} (width x height) but the JSON says {w}x{h}"
        if errors != "keep":
            raise InputError(msg, png)
        # keep: every segment stays, as invalid geometry the check reports (G008)
        for s in rec.get("segments_info") or []:
            sid = s.get("id") if isinstance(s, dict) else None
            cid = s.get("category_id") if isinstance(s, dict) else None
            raw = {"png": png_name, "segment_id": sid, "png_size": list(img.size)}
            item.annotations.append(Annotation(next_id, cid, InvalidGeometry(
                raw, f"{msg}: the PNG size does not match the image size", code="G008")))
            next_id += 1
        return item, next_id
    ids = ids_from_rgb(img.array)
    segs = rec.get("segments_info") or []
    declared = []
    for k, s in enumerate(segs):
        if not isinstance(s, dict) or "id" not in s or "category_id" not in s:
            raise InputError("segment needs 'id' and 'category_id'", jf, f"{where}, segments_info[{k}]")
        declared.append(s["id"])
    present = set(np.unique(ids).tolist()) - {0}
    missing_json = sorted(present - set(declared))
    if missing_json:
        raise InputError(f"segment id(s) {missing_json[:5]} appear in the PNG but not in segments_info", png, where)
    missing_png = sorted(set(declared) - present)
    if missing_png:
        raise InputError(f"segments_info id(s) {missing_png[:5]} have no pixel in the PNG", png, where)
    if len(set(declared)) != len(declared):
        raise InputError("duplicate segment id in segments_info", jf, where)
    for s in segs:
        if s["category_id"] not in cats:
            raise InputError(f"category_id {s['category_id']!r} is not a declared category", jf,
                             f"{where}, segment {s['id']}")
        extra = {k: v for k, v in s.items() if k not in ("id", "category_id", "area", "bbox", "iscrowd")}
        extra["panoptic_id"] = s["id"]
        bbox = tuple(s["bbox"]) if isinstance(s.get("bbox"), list) else None
        item.annotations.append(Annotation(next_id, s["category_id"], encode(ids == s["id"]),
                                           iscrowd=bool(s.get("iscrowd", 0)), area=s.get("area"), bbox=bbox,
                                           extra=extra))
        next_id += 1
    if h is None or w is None:
        item.height, item.width = img.size
    return item, next_id


# ------------------------------------------------------------------- write
def write(dataset: Dataset, path, *, raster: str = "coco", overlap: str = "zorder") -> WriteReport:
    """Write ``<path>/annotations/panoptic_<split>.json`` and its PNG folder.

    Overlapping annotations are painted with ``overlap`` (see
    :func:`segmill.bridges.compose.compose`); every overwritten pixel is
    reported (``L701``) and the overwritten segments' area/bbox recomputed.
    Every polygon painted is reported too (``L705``: it reads back as a mask).
    """
    from ..bridges.compose import compose
    from .._progress import track

    out = Path(path)
    report = WriteReport()
    cats = []
    for c in dataset.categories:
        d = {"id": c.id, "name": c.name}
        if c.supercategory is not None:
            d["supercategory"] = c.supercategory
        # panoptic files hold 0/1; a category of unknown kind is written as a thing
        d["isthing"] = int(c.isthing) if c.isthing is not None else 1
        if c.color is not None:
            d["color"] = list(c.color)
        d.update(c.extra)
        cats.append(d)
    known = {c.id for c in dataset.categories}
    by_split: dict = {}
    for item in dataset.items:
        by_split.setdefault(item.split or "default", []).append(item)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for split, items in by_split.items():
        name = f"panoptic_{split}"
        png_dir = out / "annotations" / name
        png_dir.mkdir()
        images, records = [], []
        used_png: set = set()
        for item in track(items, desc=f"panoptic {split}"):
            im = {"id": item.id, "width": item.width, "height": item.height, "file_name": item.file_name}
            im.update({k: v for k, v in item.extra.items() if not k.startswith("panoptic_")})
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
        with open(out / "annotations" / f"{name}.json", "w", encoding="utf-8") as f:
            json.dump(doc, f)
        report.files += 1
    return report


def _write_item(item, png_dir, used_png, known, raster, overlap, report, compose):
    from ..geometry import AREA_KINDS, Box

    if item.height is None or item.width is None:
        if item.annotations:
            report.lose("L005", "image size unknown: no panoptic PNG written", item.id)
        return None
    anns = item.annotations
    keep = []
    for a in anns:
        if a.score is not None:
            report.lose("L252", f"score {a.score} dropped", item.id, a.id)
        if not isinstance(a.geometry, AREA_KINDS) or isinstance(a.geometry, Box):
            report.lose("L251", f"{type(a.geometry).__name__} annotation dropped", item.id, a.id)
        elif a.category_id is None and not a.attributes.get("void"):
            report.lose("L003", "annotation without a category dropped", item.id, a.id)
        elif a.category_id is not None and a.category_id not in known:
            report.lose("L003", f"category {a.category_id!r} is not declared; annotation dropped", item.id, a.id)
        else:
            if a.category_id is None:
                report.lose("L254", "void region painted as unlabeled pixels, not kept as a segment", item.id, a.id)
            keep.append(a)
    things = [a for a in keep if a.category_id is not None]
    src = [a.extra.get("panoptic_id") for a in things]
    if all(isinstance(s, int) and 0 < s <= MAX_ID for s in src) and len(set(src)) == len(src):
        seg_ids = src
    else:
        seg_ids = list(range(1, len(things) + 1))
        for a, s in zip(things, src):
            if s is not None:
                report.lose("L253", f"segment id {s!r} renumbered", item.id, a.id)
    sid_of = {id(a): s for a, s in zip(things, seg_ids)}
    values = [sid_of.get(id(a), 0) for a in keep]
    sub = type(item)(item.id, item.file_name, item.width, item.height, annotations=keep)
    _, idmap, losses = compose(sub, {a.category_id: 1 for a in things}, overlap=overlap, raster=raster,
                               instance_values=values, void_value=0)
    hit = set()
    for l in losses:
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
        hit.add(l.annotation_id)
    png_name = item.extra.get("panoptic_file_name") or (Path(item.file_name).stem + ".png")
    png_name = Path(str(png_name).replace("\\", "/")).name
    if png_name in used_png:
        png_name = f"{Path(png_name).stem}_{item.id}.png"
    used_png.add(png_name)
    write_png(png_dir / png_name, rgb_from_ids(idmap))
    report.files += 1
    segs = []
    for a, s in zip(things, seg_ids):
        m = encode(idmap == s)
        if m.area == 0:
            report.lose("L701", "segment completely hidden by overlapping annotations; dropped", item.id, a.id)
            continue
        stored = "panoptic_id" in a.extra and a.id not in hit
        seg = {"id": s, "category_id": a.category_id,
               "area": a.area if stored and a.area is not None else int(m.area),
               "bbox": list(a.bbox) if stored and a.bbox is not None else list(m.bbox),
               "iscrowd": int(a.iscrowd)}
        seg.update({k: v for k, v in a.extra.items() if k not in STRUCTURAL_KEYS and not k.startswith("voc_")})
        lost = [f for f in dropped_fields(a) if f.startswith(("attributes.", "voc_"))]
        if lost:
            report.lose("L001", f"fields {lost} have no place in COCO panoptic", item.id, a.id)
        segs.append(seg)
        report.annotations += 1
    rec = {"image_id": item.id, "file_name": png_name, "segments_info": segs}
    rec.update(item.extra.get("panoptic_record") or {})
    return rec


register_format(
    FormatSpec(
        name="coco_panoptic",
        description="COCO panoptic: RGB segment-id PNGs (id = R + 256 G + 256^2 B) + segments_info JSON",
        detect=detect,
        read=read,
        write=write,
        output="dir",
        options={
            "png_dir": "reader: folder of the segment PNGs (default: the JSON path without .json)",
            "overlap": "writer: zorder (default) or last, for overlapping instances",
            "raster": "reader/writer: polygon rasterization rule, coco (default) or pil",
            "errors": "reader: raise | skip | keep (see segmill.formats)",
        },
    )
)
