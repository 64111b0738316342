"""The COCO panoptic writer: a PNG per image as the image comes, then each split's JSON.

Layout written: ``<dst>/annotations/panoptic_<split>.json`` and
``<dst>/annotations/panoptic_<split>/<name>.png``, one JSON and one PNG
folder per split (``default`` for items without one), in the order the
splits first appear.

:func:`write` (a dataset) and :func:`write_stream` (any reader's stream) share
one code path, :class:`_Panoptic`: each image's PNG is painted and written as
the image comes, its image record and annotation record go to one of its
split's two spill files (:class:`_Records`, the JSON text of the records), its
losses to its split's report; when a split is done (the whole write: its
last image; a stream: its end) the split's JSON is put together from the
spills, byte for byte what ``json.dumps`` of the whole document gives, and
its losses follow the earlier splits'. So the stream's files and report are
the whole write's, split by split, whatever order the splits' images come in.
Memory holds one image and, per split, the PNG names used.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from .._progress import track
from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS, Box, to_rle
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Category, Dataset, Item
from ..paths import output_name
from ..rle import encode
from ..validate import brief
from ._panoptic_ids import MAX_ID, rgb_from_ids
from ._png import write_png
from ._coco_write_stream import Sequential
from ._voc_masks import STRUCTURAL_KEYS, dropped_fields
from .options import raster_rule

__all__ = ["write", "write_stream"]

_JSON_ERRORS = (TypeError, ValueError, RecursionError)


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
    with _Panoptic(dataset, Path(path), raster, overlap) as w:
        by_split: dict = {}
        for item in dataset.items:
            by_split.setdefault(_split_name(item.split), []).append(item)
        for split, items in by_split.items():
            for item in track(items, desc=f"panoptic {split}"):
                w.add(item, split)
            w.close(split)
        return w.finish()


def write_stream(stream, path, *, raster: str | None = None, overlap: str = "zorder") -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset (see the
    module docs); an image the write refuses stops it there (the caller
    stages the folder, so nothing is left of it).
    """
    with _Panoptic(stream.header, Path(path), raster, overlap) as w:
        for item in track(stream, desc="panoptic"):
            w.add(item, _split_name(item.split))
        return w.finish()


class _Records:
    """JSON records joined by ``", "`` (``json.dumps``'s list separator) in a temporary file.

    A record JSON cannot hold is not written; the first such error is kept
    and raised when the list is put in its document (:meth:`text_or_raise`),
    where ``json.dumps`` of the whole document would have raised it.
    """

    def __init__(self, folder: Path):
        self.list = Sequential(folder, b", ")
        self.error: Exception | None = None

    def add(self, record) -> None:
        if self.error is not None:
            return
        try:
            text = json.dumps(record)
        except _JSON_ERRORS as exc:
            self.error = exc
            return
        self.list.add(text.encode("utf-8"))

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def copy_to(self, fh) -> None:
        """The list's JSON text (brackets included) written to ``fh``, a block at a time."""
        fh.write(b"[")
        for block in self.list.chunks():
            fh.write(block)
        fh.write(b"]")

    def close(self) -> None:
        self.list.f.close()


class _Split:
    """One split's PNG folder, its two spills (image and annotation records), its PNG names and its losses."""

    def __init__(self, out: Path, name: str):
        (out / "annotations").mkdir(parents=True, exist_ok=True)
        self.name = f"panoptic_{name}"
        self.png_dir = out / "annotations" / self.name
        self.png_dir.mkdir()
        self.images = _Records(out)
        self.records = _Records(out)
        self.used_png: set = set()
        self.report = WriteReport()
        self.closed = False

    def close(self) -> None:
        self.images.close()
        self.records.close()


class _Panoptic:
    """The write of one dataset or stream, split by split (see the module docs); a context that removes its spills."""

    def __init__(self, dataset: Dataset, out: Path, raster, overlap: str):
        # lazy: start-up time (the paint kernels are only needed by writing)
        from ..bridges.compose import OVERLAP_POLICIES, compose

        self.raster = raster_rule(dataset, raster)
        if overlap not in OVERLAP_POLICIES:
            raise UsageError(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {brief(overlap)}")
        self.dataset, self.out, self.overlap, self.compose = dataset, out, overlap, compose
        self.cats = [_category_record(c) for c in dataset.categories]
        self.known = {c.id for c in dataset.categories}
        self.splits: dict[str, _Split] = {}
        self.report = WriteReport()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for s in self.splits.values():
            s.close()

    def add(self, item: Item, split: str) -> None:
        """Write ``item``'s PNG and spill its records into ``split`` (a name :func:`_split_name` gave)."""
        s = self.splits.get(split)
        if s is None:
            s = self.splits[split] = _Split(self.out, split)
        im = {"id": item.id, "width": item.width, "height": item.height, "file_name": item.file_name}
        im.update({k: v for k, v in item.extra.items() if not (isinstance(k, str) and k.startswith("panoptic_"))})
        s.images.add(im)
        rec = _write_item(item, s.png_dir, s.used_png, self.known, self.raster, self.overlap, s.report, self.compose)
        if rec is not None:
            s.records.add(rec)
        s.report.items += 1

    def close(self, split: str) -> None:
        """Write ``split``'s JSON; its counts and losses join the report's."""
        s = self.splits[split]
        _write_json(self.out / "annotations" / f"{s.name}.json", self._doc(s))
        s.report.files += 1
        s.closed = True
        s.close()
        r = self.report
        r.losses.extend(s.report.losses)
        r.items += s.report.items
        r.annotations += s.report.annotations
        r.files += s.report.files

    def finish(self) -> WriteReport:
        """Close the splits not closed yet, in the order they came (none: an empty ``default``); the report."""
        if not self.splits:  # no images: a JSON all the same, holding the categories
            self.splits[_split_name(None)] = _Split(self.out, _split_name(None))
        for name, s in self.splits.items():
            if not s.closed:
                self.close(name)
        return self.report

    def _doc(self, s: _Split) -> dict:
        """The split's document, its image and annotation lists the spills themselves."""
        ds = self.dataset
        doc: dict = {}
        if ds.info is not None:
            doc["info"] = ds.info
        if ds.licenses is not None:
            doc["licenses"] = ds.licenses
        doc.update({"images": s.images, "annotations": s.records, "categories": self.cats})
        doc.update(ds.extra)
        return doc


def _write_json(path: Path, doc: dict) -> None:
    """The text ``json.dumps(doc)`` gives, its :class:`_Records` lists copied from their spills.

    Values no JSON can hold (from another format's extras) are refused as an
    InputError before the file is opened, the first in document order.
    """
    parts = []
    try:
        for k, v in doc.items():
            if isinstance(v, _Records):
                v.check()
                parts.append((json.dumps({k: None})[1:-len("null}")].encode("utf-8"), v))
            else:
                parts.append((json.dumps({k: v})[1:-1].encode("utf-8"), None))
    except _JSON_ERRORS as exc:
        raise InputError(f"the dataset holds a value that cannot be written as JSON: {exc}", path) from None
    with open(path, "wb") as fh:
        fh.write(b"{")
        for i, (text, records) in enumerate(parts):
            fh.write(b", " + text if i else text)
            if records is not None:
                records.copy_to(fh)
        fh.write(b"}")


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

