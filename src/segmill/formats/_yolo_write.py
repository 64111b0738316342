"""YOLO writer: labels, images and ``data.yaml`` in the Ultralytics layout.

Coordinates are written with the precision rule described in
:mod:`segmill.formats.yolo` (6 decimals, more when a vertex would move to
another point of pycocotools' 1/5-pixel grid).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..geometry import Box, Mask, Polygons
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset
from ..paths import output_name, split_folder
from ..rle import RLE, from_polygons
from ..validate import brief
from ._image_files import find_image, place_image
from ._stream_checks import checked_items

DECIMALS = 6
#: Largest class id read or written (Ultralytics' ids index a names list; anything larger is hostile);
#: larger category ids are renumbered on writing (L306).
MAX_CLASS = 2**31 - 1


def write_text(path: Path, text: str, fallback=None) -> None:
    """Write UTF-8 ``text``; text holding lone surrogates is written as ``fallback()`` (escaped), or refused."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        if fallback is None:
            raise InputError("holds text that is not valid Unicode (a lone surrogate)", path) from None
        data = fallback().encode("utf-8")
    path.write_bytes(data)


def _snap(v: float) -> int:
    # pycocotools' vertex snap: C cast toward zero of 5x + 0.5.
    return int(5.0 * v + 0.5)


def format_coord(frac: float, scale: int, source: float | None = None) -> str:
    """Shortest decimal (6 places or more) that the reader maps to the COCO grid point of ``source``.

    The check is made on exactly what the YOLO reader computes,
    ``float(text) * scale``, against the 1/5-pixel point of the source vertex
    ``source`` (default ``frac * scale``). When no decimal string does (a
    vertex exactly on a grid boundary whose quotient does not multiply back),
    the nearest float fraction that does is written in full.

    Examples
    --------
    >>> format_coord(0.125, 8)
    '0.125'
    >>> format_coord(0.0999999 / 1000, 1000)  # "0.000100" would snap to another 1/5-pixel point
    '0.0000999999'
    >>> format_coord(1.7 / 6, 6, 1.7)  # 1.7 lies on a grid boundary: "0.283333" reads back as 1.699998
    '0.2833333333333333'
    """
    target = _snap(frac * scale if source is None else source)
    for d in range(DECIMALS, 18):
        s = f"{frac:.{d}f}"
        if _snap(float(s) * scale) == target:
            return _trim(s)
    return repr(_nudge(frac, scale, target))


def _nudge(frac: float, scale: int, target: int) -> float:
    """The float nearest ``frac`` (within [0, 1], a few ulps away) with ``_snap(f * scale) == target``."""
    f = float(frac)
    for _ in range(256):
        got = _snap(f * scale)
        if got == target:
            return f
        f = float(np.nextafter(f, 2.0 if got < target else -1.0))
        f = min(max(f, 0.0), 1.0)
    return float(frac)  # pragma: no cover - the gap is a few ulps; kept finite and in range regardless


def _clip(part: np.ndarray, h: int, w: int) -> tuple[np.ndarray, bool]:
    """Vertices clipped into the image ``[0, w] x [0, h]``, and whether any moved."""
    clipped = np.clip(part, 0.0, np.array([w, h], dtype=np.float64))
    return clipped, bool(np.any(clipped != part))


def _polygon_line(part: np.ndarray, h: int, w: int, rule: str) -> str:
    """One polygon as normalized text; ``part`` must lie inside the image (see :func:`_clip`)."""
    part = np.asarray(part, dtype=np.float64)
    fr = np.clip(part / np.array([w, h], dtype=np.float64), 0.0, 1.0)
    scales = (w, h)
    text = [format_coord(float(v), scales[i % 2], float(src))
            for i, (v, src) in enumerate(zip(fr.reshape(-1), part.reshape(-1)))]
    if rule == "pil":
        back = np.array([float(t) for t in text]).reshape(-1, 2) * np.array([w, h], dtype=np.float64)
        if from_polygons([back], h, w, "pil") != from_polygons([part], h, w, "pil"):
            text = [repr(float(v)) for v in fr.reshape(-1)]
    return " ".join(text)


def _box_line(g: Box, h, w) -> str:
    vals = [(g.x + g.w / 2) / w, (g.y + g.h / 2) / h, g.w / w, g.h / h]
    short = [_trim(f"{v:.{DECIMALS}f}") for v in vals]
    cx, cy, bw, bh = (float(s) for s in short)
    back = Box((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h)
    corners = lambda b: [_snap(v) for v in (b.x, b.y, b.x + b.w, b.y + b.h)]
    if corners(back) != corners(g) or not all(0.0 <= float(v) <= 1.0 for v in short):
        short = [repr(min(max(float(v), 0.0), 1.0)) for v in vals]
    return " ".join(short)


def _clip_box(g: Box, h: int, w: int) -> tuple[Box, bool]:
    """A box cut to the image, and whether it was cut."""
    x0, y0 = min(max(g.x, 0.0), w), min(max(g.y, 0.0), h)
    x1, y1 = min(max(g.x + g.w, 0.0), w), min(max(g.y + g.h, 0.0), h)
    cut = Box(x0, y0, x1 - x0, y1 - y0)
    return cut, (x0, y0, x1, y1) != (g.x, g.y, g.x + g.w, g.y + g.h)


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def write(dataset: Dataset, path, multipart: str = "largest", copy_images: bool = True,
          split: str | None = None, image_root=None, link_images: bool = False) -> WriteReport:
    """Write the Ultralytics layout under the folder ``path``.

    Class indices are ``0..n-1`` in category id order (Ultralytics and
    supervision require indices below the number of names); the source
    category ids are kept in data.yaml under :data:`IDS_KEY` for segmill.

    Parameters
    ----------
    multipart : {"largest", "lines"}
        A polygon with several parts: keep the largest part (L303), or write
        one line per part (L304; they read back as separate objects).
    copy_images : bool, default True
        Copy each image into ``images/<split>/``; YOLO cannot be read back
        without its images (a missing one is loss L307).
    split : str, optional
        The split of a single-split source (all items, whatever their own
        split); in a source with several splits, the split of items that have
        none. Default: the item's split, else the split named by a COCO file
        (``instances_val2017.json``: ``val``), else ``train``.
    image_root : path, optional
        Where the source images are. Default: ``meta["image_root"]``, and
        the usual layouts around the annotation file (its folder and the one
        above, with ``images/``, ``images/<split>/``, ``<split>2017/``,
        ``<split>/``, ``JPEGImages/``).
    link_images : bool, default False
        Hard-link images instead of copying them (a copy when the file system
        cannot link, noted in the report).
    """
    _check_multipart(multipart)
    dataset.validate(path)
    names = _Names(split, source_split(dataset), len({i.split for i in dataset.items if i.split}) <= 1)
    plan = [(item, names.place(item)) for item in dataset.items]  # every name is checked before anything is written
    return _write_planned(dataset, plan, path, names, multipart, copy_images, image_root, link_images)


def write_stream(stream, path, multipart: str = "largest", copy_images: bool = True, split: str | None = None,
                 image_root=None, link_images: bool = False) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image the write refuses (a name no file system holds, an invalid
    geometry) stops it there (the caller stages the folder, so nothing is
    left of it). Memory holds one image and each image's names.

    With ``split`` given, where an image goes depends on whether the whole
    dataset has more than one split; the images are written as if it had
    one, and those written so far are moved (and renamed as :func:`write`
    names them) when a second split shows.
    """
    _check_multipart(multipart)
    header = stream.header
    names = _Names(split, source_split(header), None)
    plan = ((item, names.place(item)) for item in checked_items(stream, path))
    return _write_planned(header, plan, path, names, multipart, copy_images, image_root, link_images)


def _check_multipart(multipart) -> None:
    if multipart not in ("largest", "lines"):
        raise UsageError(f"multipart must be 'largest' or 'lines', got {brief(multipart)}")


def _write_planned(dataset: Dataset, plan, path, names, multipart: str, copy_images: bool, image_root,
                   link_images: bool) -> WriteReport:
    """Write the ``(item, (split folder, stem, extension))`` pairs of ``plan`` with the categories and meta of
    ``dataset``; ``names`` is the :class:`_Names` that placed them."""
    out = Path(path)
    report = WriteReport()
    out.mkdir(parents=True)
    rule = dataset.meta.get("raster_rule", "coco")
    classes = _class_map(dataset, report)
    bad = [c.name for c in dataset.categories if c.supercategory or c.isthing is not None or c.color or c.extra]
    if bad:
        report.lose("L309", f"categories {bad[:5]}{' ...' if len(bad) > 5 else ''}: only names are kept")
    for item, (sp, stem, ext) in plan:
        if names.moves:
            _move(out, names)
        (out / "images" / sp).mkdir(parents=True, exist_ok=True)
        (out / "labels" / sp).mkdir(parents=True, exist_ok=True)
        if copy_images:
            src = find_image(item, _image_roots(dataset, image_root, item.split or sp))
            if src is not None:
                place_image(src, out / "images" / sp / (stem + ext), link_images, report)
            else:
                report.lose("L307", f"image {item.file_name!r} not found", item.id)
        lines = _item_lines(item, classes, rule, multipart, report)
        write_text(out / "labels" / sp / (stem + ".txt"), "".join(ln + "\n" for ln in lines))
        report.files += 1
        report.items += 1
    report.notes[:0] = names.notes  # the names' notes come first, as when every name was checked first
    _write_yaml(out, dataset, classes, names.splits, report)
    report.files += 1
    return report


_SPLIT_NAMES = ("train", "val", "test", "valid", "validation", "minival", "trainval", "dev")


def source_split(dataset) -> str | None:
    """The split a COCO-style file name gives (``instances_val2017.json`` -> ``val``), or None."""
    src = dataset.meta.get("source_path")
    if not isinstance(src, str) or not src:
        return None
    stem = Path(src).stem.lower()
    stem = re.sub(r"^(instances|panoptic|person_keypoints|captions|annotations?)_", "", stem)
    stem = re.sub(r"(19|20)\d\d$", "", stem)
    return stem if stem in _SPLIT_NAMES else None


class _Names:
    """The ``(split folder, stem, image extension)`` of each item, every name checked as it is given.

    ``single``: whether the dataset has at most one split (the ``split``
    option then names the folder of every item); ``None`` for a stream,
    which cannot know: its items are placed as if it had one until a second
    split shows, and then every item placed so far is placed again as
    :func:`write` places it, the changes left in :attr:`moves` for the
    writer to make.

    Attributes
    ----------
    notes : list of str
        The renamed images, in item order (the report's first notes).
    splits : list of str
        The split folders in the order of first use.
    moves : list of tuple
        ``(old place, new place)`` pairs of items already written.
    """

    def __init__(self, split, fallback, single: bool | None):
        self.split, self.fallback = split, split or fallback or "train"
        self.single = True if single is None else single
        self.records = [] if single is None and split else None  # (split, file name, id) per item, to replay
        self.shown: set = set()
        self.used: set = set()
        self.notes: list[str] = []
        self.splits: list[str] = []
        self.places: list = []  # of the items placed while ``records`` are kept
        self.moves: list = []

    def place(self, item) -> tuple[str, str, str]:
        """The place of the next item (InputError when its name cannot be a file name)."""
        if self.records is None:
            return self._assign(item.split, item.file_name, item.id)
        self.records.append((item.split, item.file_name, item.id))
        if item.split:
            self.shown.add(item.split)
        if len(self.shown) > 1:
            return self._replay()
        self.places.append(self._assign(item.split, item.file_name, item.id))
        return self.places[-1]

    def _replay(self) -> tuple[str, str, str]:
        """A second split: every item placed again as several splits place them; the last one's place."""
        records, old = self.records, self.places
        self.records, self.places, self.single = None, [], False
        self.used, self.notes, self.splits = set(), [], []
        new = [self._assign(*rec) for rec in records]
        self.moves = [(a, b) for a, b in zip(old, new) if a != b]
        return new[-1]

    def _assign(self, split, file_name, item_id) -> tuple[str, str, str]:
        sp = split_folder(self.split if self.split and self.single else (split or self.fallback))
        rec = f"image id {brief(item_id)}"
        stem, ext = os.path.splitext(os.path.basename(file_name if isinstance(file_name, str) else ""))
        stem = stem or str(item_id).rsplit("/", 1)[-1]
        if not stem:
            raise InputError("neither the file name nor the id gives a file name", None, rec)
        ext = ext or ".jpg"
        if (sp, stem) in self.used:
            n = 1
            while (sp, f"{stem}_{n}") in self.used:
                n += 1
            self.notes.append(f"image {brief(file_name)} written as {brief(f'{stem}_{n}{ext}')}: "
                              "its name was taken")
            stem = f"{stem}_{n}"
        self.used.add((sp, stem))
        output_name(stem + ext, "image file name", None, rec)
        output_name(stem + ".txt", "label file name", None, rec)
        if sp not in self.splits:
            self.splits.append(sp)
        return sp, stem, ext


def _move(out: Path, names: _Names) -> None:
    """Move the files of items already written to the places :attr:`_Names.moves` gives them."""
    moves, names.moves = names.moves, []
    tmp = out / ".segmill-moving"
    tmp.mkdir()
    staged = []
    for k, ((sp, stem, ext), new) in enumerate(moves):  # out of the way first: a new name may be an old one
        pair = [(out / "labels" / sp / (stem + ".txt"), tmp / f"{k}.txt", "labels", ".txt"),
                (out / "images" / sp / (stem + ext), tmp / f"{k}.img", "images", new[2])]
        for src, mid, kind, suffix in pair:
            if src.exists():
                os.replace(src, mid)
                staged.append((mid, out / kind / new[0] / (new[1] + suffix)))
    for mid, dst in staged:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(mid, dst)
    tmp.rmdir()
    for sp in {a[0] for a, _ in moves} - set(names.splits):  # folders no item is in any more
        for kind in ("images", "labels"):
            (out / kind / sp).rmdir()


def _image_roots(dataset, image_root, split) -> list[Path]:
    """Folders that may hold the images of ``split``, most specific first (existing ones only).

    ``image_root`` alone when given; otherwise ``meta["image_root"]`` and the
    usual COCO / VOC / LabelMe layouts around ``meta["source_path"]``.
    """
    if image_root is not None:
        return [Path(image_root)]
    bases = []
    if dataset.meta.get("image_root"):
        bases.append(Path(dataset.meta["image_root"]))
    if dataset.meta.get("source_path"):
        src = Path(dataset.meta["source_path"])
        folder = src if src.is_dir() else src.parent
        bases += [folder, folder.parent]
    sp = split_folder(split) if split else None
    roots: list[Path] = []
    for base in bases:
        cands = [base, base / "images"]
        if sp:
            cands += [base / "images" / sp, base / f"{sp}2017", base / sp]
        cands.append(base / "JPEGImages")
        roots += [c for c in cands if c not in roots and c.is_dir()]
    return roots


#: data.yaml key holding the source category id of every class (segmill reads it back; other tools ignore it).
IDS_KEY = "segmill_category_ids"


def _id_order(cid):
    # ints before strings, each in natural order (category ids are ints or strings)
    return (isinstance(cid, str), cid)


def _class_map(dataset, report):
    """Class index ``0..n-1`` of every category id, in category id order.

    Ultralytics and supervision require class indices below the number of
    names, so sparse COCO ids (1, 2 ... or 3, 7) are renumbered; the source
    ids are written to data.yaml (:data:`IDS_KEY`) so segmill's reader
    restores them. Ids that YAML cannot keep exactly are reported (L306).
    """
    ids = sorted((c.id for c in dataset.categories), key=_id_order)
    classes = {cid: n for n, cid in enumerate(ids)}
    if any(classes[i] != i for i in ids):
        if all(isinstance(i, (int, str)) and not isinstance(i, bool) for i in ids):
            report.notes.append(f"classes numbered 0..{len(ids) - 1} in category id order; the category ids are "
                                f"kept in data.yaml {IDS_KEY!r}")
        else:
            report.lose("L306", "category ids are not integers or strings; classes numbered 0.. in id order")
    return classes


def _write_yaml(out, dataset, classes, splits, report):
    # lazy: start-up time (yaml is only needed to write data.yaml)
    import yaml

    names_by_cls = {classes[c.id]: c.name for c in dataset.categories}
    names = [names_by_cls[k] for k in range(len(names_by_cls))]  # classes are 0..n-1: a list, as Ultralytics reads
    # No "path": Ultralytics resolves a relative one (even ".") against the working directory, while
    # without it the folder of data.yaml is the root.
    doc = {sp: f"images/{sp}" for sp in splits}
    for key in ("train", "val"):  # both required by Ultralytics' check_det_dataset
        if key not in doc and splits:
            doc[key] = f"images/{splits[0]}"
            report.notes.append(f"data.yaml {key!r} points at images/{splits[0]}: Ultralytics requires "
                                "both 'train' and 'val'")
    prior = dataset.meta.get("yolo_yaml") if isinstance(dataset.meta.get("yolo_yaml"), dict) else {}
    for k, v in prior.items():  # the source's other keys (download, channels ...); not its layout or counts
        if k not in (IDS_KEY, "path", "nc", "train", "val", "test", "minival"):
            doc.setdefault(k, v)
    doc["names"] = names
    by_cls = sorted(classes, key=classes.get)
    if any(classes[i] != i for i in by_cls) and all(isinstance(i, (int, str)) for i in by_cls):
        doc[IDS_KEY] = by_cls

    def dump(allow_unicode: bool) -> str:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=allow_unicode)

    try:
        text = dump(True)
    except yaml.YAMLError as exc:  # a value safe_dump cannot represent (only possible from the API)
        raise InputError(f"data.yaml cannot be written: {str(exc).splitlines()[0]}", out / "data.yaml") from None
    write_text(out / "data.yaml", text, fallback=lambda: dump(False))


def _traced(g, item, ann, report):
    """Exact pixel-corner polygons of a mask (None and L301 when impossible)."""
    try:  # lazy: start-up time (the tracing kernels are only needed to write masks)
        from ..bridges.trace import trace, trace_rings
    except ImportError:  # pragma: no cover - the tracer ships with segmill
        report.lose("L301", "no mask tracer available", item.id, ann.id)
        return None
    r = g if isinstance(g, RLE) else g.to_rle(item.height, item.width)
    if r.area == 0:
        report.lose("L301", "empty mask dropped", item.id, ann.id)
        return None
    _, is_hole = trace_rings(r)
    if int(np.sum(is_hole)):
        report.lose("L308", f"{int(np.sum(is_hole))} hole(s) kept only as bridge cuts", item.id, ann.id)
    report.notes.append(f"mask of annotation {ann.id!r} traced to exact polygons (pixel corners)")
    return trace(r)


def _item_lines(item, classes, rule, multipart, report):
    h, w = item.height, item.width
    geoms = [a.geometry for a in item.annotations]
    # masks are traced to polygons, so they make this a segmentation file too (a box line would then read
    # back as a 2-point segment)
    has_poly = any(isinstance(g, Polygons) or (isinstance(g, (RLE, Mask)) and item.size is not None)
                   for a, g in zip(item.annotations, geoms) if not a.iscrowd and a.category_id is not None)
    if item.size is not None and (rule == "pil" or any(isinstance(g, (RLE, Mask)) for g in geoms)):
        check_pixels(h, w, None, f"image id {brief(item.id)}")  # before tracing or drawing at that size
    lines = []
    for ann in item.annotations:
        g = ann.geometry
        if ann.category_id is None:
            report.lose("L003", "annotation without a category", item.id, ann.id)
            continue
        if ann.iscrowd:
            report.lose("L302", "crowd region dropped", item.id, ann.id)
            continue
        if isinstance(g, (RLE, Mask)) and item.size is not None:
            g = _traced(g, item, ann, report)
            if g is None:
                continue
        if not isinstance(g, (Polygons, Box)):
            report.lose("L002", f"{type(g).__name__} geometry dropped", item.id, ann.id)
            continue
        if item.size is None or h == 0 or w == 0:
            report.lose("L005", "image size unknown: cannot normalize", item.id, ann.id)
            continue
        extra_keys = [k for k in ann.attributes if k not in ("z_order",)]
        if extra_keys or ann.score is not None:
            report.lose("L001", f"dropped: {', '.join(extra_keys + (['score'] if ann.score is not None else []))}",
                        item.id, ann.id)
        cls = classes[ann.category_id]
        if isinstance(g, Box):
            g, cut = _clip_box(g, h, w)
            if cut:
                report.lose("L310", "box outside the image cut to it", item.id, ann.id)
            if has_poly:
                report.lose("L305", "box written as a polygon", item.id, ann.id)
                lines.append(f"{cls} " + _polygon_line(g.to_polygons().parts[0], h, w, rule))
            else:
                lines.append(f"{cls} " + _box_line(g, h, w))
            report.annotations += 1
            continue
        parts = list(g.parts)
        if len(parts) > 1:
            if multipart == "largest":
                areas = [Polygons([p]).area for p in parts]
                keep = int(np.argmax(areas))
                report.lose("L303", f"{len(parts) - 1} of {len(parts)} parts dropped", item.id, ann.id)
                parts = [parts[keep]]
            else:
                report.lose("L304", f"{len(parts)} parts written as {len(parts)} lines", item.id, ann.id)
        clipped = [_clip(np.asarray(p, dtype=np.float64), h, w) for p in parts]
        if any(moved for _, moved in clipped):
            report.lose("L310", "vertices outside the image moved onto its border", item.id, ann.id)
        for part, _ in clipped:
            lines.append(f"{cls} " + _polygon_line(part, h, w, rule))
        report.annotations += 1
    return lines
