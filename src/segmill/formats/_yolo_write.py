"""YOLO writer: labels, images and ``data.yaml`` in the Ultralytics layout.

Coordinates are written with the precision rule described in
:mod:`segmill.formats.yolo` (6 decimals, more when a vertex would move to
another point of pycocotools' 1/5-pixel grid).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..geometry import Box, Mask, Polygons
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset
from ..paths import output_name, resolve_inside
from ..rle import RLE, from_polygons
from ..validate import brief

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


def format_coord(frac: float, scale: int) -> str:
    """Shortest decimal (6 places or more) that keeps the COCO grid point of ``frac * scale``.

    Examples
    --------
    >>> format_coord(0.125, 8)
    '0.125'
    >>> format_coord(0.0999999 / 1000, 1000)  # "0.000100" would snap to another 1/5-pixel point
    '0.0000999999'
    """
    target = _snap(frac * scale)
    for d in range(DECIMALS, 18):
        s = f"{frac:.{d}f}"
        if _snap(float(s) * scale) == target:
            return _trim(s)
    return repr(frac)


def _polygon_line(part: np.ndarray, h: int, w: int, rule: str) -> str:
    fr = part / np.array([w, h], dtype=np.float64)
    scales = (w, h)
    text = [format_coord(float(v), scales[i % 2]) for i, v in enumerate(fr.reshape(-1))]
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
    corners = lambda b: [_snap(v) for v in (b.x, b.y, b.x + b.w, b.y + b.h)]  # noqa: E731
    if corners(back) != corners(g):
        short = [repr(float(v)) for v in vals]
    return " ".join(short)


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def write(dataset: Dataset, path, multipart: str = "largest", copy_images: bool = True,
          split: str = "train") -> WriteReport:
    """Write the Ultralytics layout under the folder ``path``.

    Parameters
    ----------
    multipart : {"largest", "lines"}
        A polygon with several parts: keep the largest part (L303), or write
        one line per part (L304; they read back as separate objects).
    copy_images : bool, default True
        Copy each image (looked up under ``meta["image_root"]``, else next to
        ``meta["source_path"]``) into ``images/<split>/``; YOLO cannot be read
        back without its images (a missing one is loss L307).
    split : str
        Split for items that have none.
    """
    if multipart not in ("largest", "lines"):
        raise UsageError(f"multipart must be 'largest' or 'lines', got {brief(multipart)}")
    dataset.validate(path)
    out = Path(path)
    report = WriteReport()
    plan = _plan_names(dataset, split, report)  # every output name is checked before anything is written
    out.mkdir(parents=True)
    rule = dataset.meta.get("raster_rule", "coco")
    classes = _class_map(dataset, report)
    bad = [c.name for c in dataset.categories if c.supercategory or c.isthing is not None or c.color or c.extra]
    if bad:
        report.lose("L309", f"categories {bad[:5]}{' ...' if len(bad) > 5 else ''}: only names are kept")
    image_roots = [Path(r) for r in (dataset.meta.get("image_root"), dataset.meta.get("source_path")) if r]
    image_roots = [r if r.is_dir() else r.parent for r in image_roots]
    splits: list[str] = []
    for item, (sp, stem, ext) in zip(dataset.items, plan):
        if sp not in splits:
            splits.append(sp)
        (out / "images" / sp).mkdir(parents=True, exist_ok=True)
        (out / "labels" / sp).mkdir(parents=True, exist_ok=True)
        src = _find_image(item, image_roots)
        if copy_images:
            if src is not None:
                shutil.copyfile(src, out / "images" / sp / (stem + ext))
                report.files += 1
            else:
                report.lose("L307", f"image {item.file_name!r} not found", item.id)
        lines = _item_lines(item, classes, rule, multipart, report)
        write_text(out / "labels" / sp / (stem + ".txt"), "".join(ln + "\n" for ln in lines))
        report.files += 1
        report.items += 1
    _write_yaml(out, dataset, classes, splits)
    report.files += 1
    return report


def _plan_names(dataset, split, report) -> list[tuple[str, str, str]]:
    """``(split folder, stem, image extension)`` of every item, checked before anything is written."""
    plan, used = [], set()
    for item in dataset.items:
        sp = _safe_split(item.split or split)
        rec = f"image id {brief(item.id)}"
        stem, ext = os.path.splitext(os.path.basename(item.file_name if isinstance(item.file_name, str) else ""))
        stem = stem or str(item.id).rsplit("/", 1)[-1]
        if not stem:
            raise InputError("neither the file name nor the id gives a file name", None, rec)
        ext = ext or ".jpg"
        if (sp, stem) in used:
            n = 1
            while (sp, f"{stem}_{n}") in used:
                n += 1
            report.notes.append(f"image {brief(item.file_name)} written as {brief(f'{stem}_{n}{ext}')}: "
                                "its name was taken")
            stem = f"{stem}_{n}"
        used.add((sp, stem))
        output_name(stem + ext, "image file name", None, rec)
        output_name(stem + ".txt", "label file name", None, rec)
        plan.append((sp, stem, ext))
    return plan


def _safe_split(name: str) -> str:
    """A split name usable as one folder name (never ``..`` or a path, at most 100 characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip("._")[:100]
    return cleaned or "default"


def _find_image(item, roots):
    """The image file of an item: under the reader's image root, else beside the source file.

    A file name that leaves its root (``../../etc/passwd``) is never followed.
    """
    for root in roots:
        try:
            p = resolve_inside(root, item.file_name)
            if p.is_file():
                return p
        except (InputError, OSError, ValueError):  # escaping, or a name the file system refuses
            continue
    return None


def _class_map(dataset, report):
    ids = [c.id for c in dataset.categories]
    if all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_CLASS for i in ids):
        return {i: i for i in ids}
    report.lose("L306", "category ids are not non-negative integers; classes numbered 0.. in category order")
    return {c.id: n for n, c in enumerate(dataset.categories)}


def _write_yaml(out, dataset, classes, splits):
    import yaml

    names_by_cls = {classes[c.id]: c.name for c in dataset.categories}
    keys = sorted(names_by_cls)
    names = [names_by_cls[k] for k in keys] if keys == list(range(len(keys))) else {k: names_by_cls[k] for k in keys}
    doc = {"path": "."}
    for sp in splits:
        doc[sp] = f"images/{sp}"
    prior = dataset.meta.get("yolo_yaml") if isinstance(dataset.meta.get("yolo_yaml"), dict) else {}
    for k, v in prior.items():
        doc.setdefault(k, v)
    doc["names"] = names

    def dump(allow_unicode: bool) -> str:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=allow_unicode)

    try:
        text = dump(True)
    except yaml.YAMLError as exc:  # a value safe_dump cannot represent (only possible from the API)
        raise InputError(f"data.yaml cannot be written: {str(exc).splitlines()[0]}", out / "data.yaml") from None
    write_text(out / "data.yaml", text, fallback=lambda: dump(False))


def _traced(g, item, ann, report):
    """Exact pixel-corner polygons of a mask (None and L301 when impossible)."""
    try:
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
    has_poly = any(isinstance(g, Polygons) for g in geoms)
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
        for part in parts:
            lines.append(f"{cls} " + _polygon_line(part, h, w, rule))
        report.annotations += 1
    return lines
