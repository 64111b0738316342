"""YOLO segmentation in the Ultralytics layout.

::

    data.yaml                 names: [a, b] or {0: a, 1: b}; train: images/train ...
    images/<split>/<stem>.<ext>
    labels/<split>/<stem>.txt one object a line: class x1 y1 x2 y2 ... (normalized)

Facts segmill relies on (Ultralytics ``verify_image_label``): a label file is
segmentation when ANY line has more than 6 values (class included); then every
line is read as ``class`` + points, so a plain box line ``class cx cy w h`` in
such a file would be a 2-point segment; segmill refuses it with the file and
line. A file where no line has more than 6 values is a box file: each line is
``class cx cy w h`` and becomes a :class:`~segmill.geometry.Box`. Coordinates
are fractions of the image width/height in pixel-corner space, so YOLO needs
each image's size: it is read from the image header (Pillow, no decoding).

Precision of written coordinates: 6 decimals, the Ultralytics habit, raised
per value (up to 17 significant digits) whenever 6 decimals would move the
vertex to another point of pycocotools' 1/5-pixel grid. Under the ``coco``
rule the mask depends only on those grid points, so the re-read polygon
rasterizes to exactly the same mask; under ``pil`` the writer checks each
polygon by rasterizing and writes full precision when needed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError, PolygonError
from ..geometry import Box, InvalidGeometry, Mask, Polygons
from ..losses import WriteReport, register_codes
from ..model import Annotation, Category, Dataset, Item
from ..rle import RLE, from_polygons
from ._paths import resolve_inside
from . import NO, Detection, FormatSpec, register_format

register_codes(
    {
        "L301": "mask dropped: it is empty, or no mask tracer is available",
        "L302": "crowd region dropped: YOLO has no crowd flag",
        "L303": "multi-part object: only its largest part was written",
        "L304": "multi-part object written as one line per part (it reads back as several objects)",
        "L305": "box written as a 4-point polygon because its file also holds polygons",
        "L306": "class id not a non-negative integer: class renumbered",
        "L307": "image not copied: it was not found, so the YOLO dataset cannot be read back without it",
        "L308": "mask holes written as zero-width bridge cuts inside the outer ring (YOLO has no holes)",
        "L309": "category supercategory / isthing / colour dropped (data.yaml holds names only)",
    }
)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm")
DECIMALS = 6


# ------------------------------------------------------------------ detection
def detect(path) -> Detection:
    """A folder with ``data.yaml`` naming classes, or ``labels/`` beside ``images/``."""
    p = Path(path)
    if p.is_file() and p.suffix in (".yaml", ".yml"):
        head = p.read_bytes()[:4096]
        if b"names" in head:
            return Detection(0.8, f"{p.name} has a 'names' key (Ultralytics data.yaml)")
        return NO
    if not p.is_dir():
        return NO
    yaml_file = _yaml_file(p)
    if yaml_file is not None and b"names" in yaml_file.read_bytes()[:8192]:
        return Detection(0.9, f"{yaml_file.name} with 'names' (Ultralytics layout)")
    if (p / "labels").is_dir() and (p / "images").is_dir():
        return Detection(0.6, "images/ and labels/ folders (YOLO layout without data.yaml)")
    return NO


def _yaml_file(root: Path):
    for name in ("data.yaml", "data.yml", "dataset.yaml"):
        if (root / name).is_file():
            return root / name
    return None


# ------------------------------------------------------------------ reading
def _load_names(root: Path):
    import yaml

    f = _yaml_file(root)
    if f is None:
        return None, {}
    try:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot parse YAML: {exc}", f) from None
    if not isinstance(doc, dict):
        raise InputError("data.yaml must be a mapping", f)
    names = doc.get("names")
    if isinstance(names, list):
        names = {i: str(n) for i, n in enumerate(names)}
    elif isinstance(names, dict):
        try:
            names = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise InputError("names keys must be integers", f, "names") from None
    elif names is not None:
        raise InputError("names must be a list or a mapping", f, "names")
    return names, doc


def _image_size(img: Path):
    from PIL import Image

    try:
        with Image.open(img) as im:
            w, h = im.size
    except FileNotFoundError:
        raise InputError("image not found (YOLO needs it for the image size)", img) from None
    except Exception as exc:
        raise InputError(f"cannot read the image header: {exc}", img) from None
    return h, w


def read(path, errors: str = "raise", raster: str = "coco") -> Dataset:
    """Read a YOLO segmentation dataset (see the module docs for the layout).

    Parameters
    ----------
    path : path
        The dataset root (holding ``data.yaml``, ``images/``, ``labels/``) or
        the ``data.yaml`` itself.
    errors : {"raise", "skip", "keep"}
    raster : {"coco", "pil"}
        Stored as ``meta["raster_rule"]`` for writers that draw pixels.

    Raises
    ------
    segmill.errors.InputError
        A label file whose image is missing (the image gives the size),
        coordinates outside [0, 1], odd coordinate counts, bad class ids;
        the message names the file and line.
    """
    if errors not in ("raise", "skip", "keep"):
        raise ValueError(f"errors must be 'raise', 'skip' or 'keep', got {errors!r}")
    p = Path(path)
    root = p.parent if p.is_file() else p
    names, doc = _load_names(root)
    images_dir, labels_dir = root / "images", root / "labels"
    if not labels_dir.is_dir():
        raise InputError("no labels/ folder", root)
    ds = Dataset(meta={"raster_rule": raster, "image_root": str(root)})
    # data.yaml's other keys (path, train, val, download ...) are kept for the YOLO writer only.
    ds.meta["yolo_yaml"] = {k: v for k, v in doc.items() if k != "names"}
    skipped = ds.meta.setdefault("skipped", []) if errors == "skip" else None
    seen_classes: set[int] = set()
    next_ann = 1
    for split, stem, img, lbl in _pairs(root, images_dir, labels_dir):
        if img is None:
            want = f"images/{split}/{stem}.*" if split else f"images/{stem}.*"
            msg = f"image {want} not found (YOLO needs the image for its size)"
            if errors == "raise":
                raise InputError(msg, lbl, lbl.relative_to(root).as_posix())
            # skip: listed and dropped; keep: listed for `segmill check` (S014)
            ds.meta.setdefault("skipped", []).append(
                {"path": str(lbl), "record": lbl.relative_to(root).as_posix(), "reason": msg})
            continue
        h, w = _image_size(img)
        rel_img = img.relative_to(root).as_posix()
        item_id = f"{split}/{stem}" if split else stem
        item = Item(item_id, rel_img, w, h, split=split or None)
        if lbl is not None:
            for cls, geom, _line in _read_label_file(lbl, h, w, errors, skipped):
                if cls is not None:
                    seen_classes.add(cls)
                item.annotations.append(Annotation(next_ann, cls, geom))
                next_ann += 1
        ds.items.append(item)
    ids = sorted(set(names or {}) | seen_classes)
    ds.categories = [Category(i, (names or {}).get(i, str(i))) for i in ids]
    if names is not None and not seen_classes <= set(names):
        bad = sorted(seen_classes - set(names))
        if errors == "raise":
            raise InputError(f"class ids {bad} are not in data.yaml names", _yaml_file(root), "names")
    if errors != "keep":
        ds.validate(p)
    return ds


def _pairs(root, images_dir, labels_dir):
    """``(split, stem, image, label)`` for every image and every label file."""
    labels = {}
    for lbl in sorted(labels_dir.rglob("*.txt")):
        rel = lbl.relative_to(labels_dir)
        labels[(rel.parent.as_posix().strip("."), rel.stem)] = lbl
    images = {}
    if images_dir.is_dir():
        for img in sorted(images_dir.rglob("*")):
            if img.suffix.lower() in IMAGE_EXTS and img.is_file():
                rel = img.relative_to(images_dir)
                images.setdefault((rel.parent.as_posix().strip("."), rel.stem), img)
    for key in sorted(set(labels) | set(images)):
        yield key[0], key[1], images.get(key), labels.get(key)


def _read_label_file(lbl: Path, h: int, w: int, errors, skipped):
    try:
        text = lbl.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", lbl) from None
    rows = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    is_seg = any(len(vals) > 6 for _, vals in rows)
    for n, vals in rows:
        rec = f"line {n}"
        try:
            cls, geom = _parse_line(vals, is_seg, h, w, lbl, rec)
        except InputError as exc:
            if errors == "raise":
                raise
            if errors == "skip":
                skipped.append({"path": str(lbl), "record": rec, "reason": exc.message})
                continue
            cls = int(vals[0]) if vals[0].isdigit() else None
            yield cls, InvalidGeometry(" ".join(vals), exc.message), n
            continue
        yield cls, geom, n


def _parse_line(vals, is_seg, h, w, lbl, rec):
    try:
        cls_f = float(vals[0])
    except ValueError:
        raise InputError(f"class {vals[0]!r} is not a number", lbl, rec) from None
    if cls_f < 0 or cls_f != int(cls_f):
        raise InputError(f"class {vals[0]!r} is not a non-negative integer", lbl, rec)
    try:
        coords = np.array([float(v) for v in vals[1:]], dtype=np.float64)
    except ValueError:
        raise InputError("a coordinate is not a number", lbl, rec) from None
    if not np.all(np.isfinite(coords)):
        raise InputError("a coordinate is NaN or infinite", lbl, rec)
    if np.any(coords < 0) or np.any(coords > 1):
        bad = coords[(coords < 0) | (coords > 1)][0]
        raise InputError(f"coordinate {bad:g} is outside [0, 1] (YOLO coordinates are normalized)", lbl, rec)
    if not is_seg:
        if len(coords) != 4:
            raise InputError(f"a box line needs 'class cx cy w h', got {len(vals)} values", lbl, rec)
        cx, cy, bw, bh = coords
        return int(cls_f), Box((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h)
    if len(coords) % 2:
        raise InputError(f"odd number of coordinates ({len(coords)})", lbl, rec)
    if len(coords) < 6:
        raise InputError(
            f"{len(coords) // 2} points in a segmentation file: Ultralytics reads every line of a file that has "
            "a polygon line as a polygon, so a box line here would be a 2-point segment; at least 3 points are needed",
            lbl,
            rec,
        )
    pts = coords.reshape(-1, 2) * np.array([w, h], dtype=np.float64)
    try:
        return int(cls_f), Polygons([pts])
    except PolygonError as exc:
        raise InputError(str(exc), lbl, rec) from None


# ------------------------------------------------------------------ writing
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
        raise ValueError(f"multipart must be 'largest' or 'lines', got {multipart!r}")
    dataset.validate(path)
    out = Path(path)
    out.mkdir(parents=True)
    report = WriteReport()
    rule = dataset.meta.get("raster_rule", "coco")
    classes = _class_map(dataset, report)
    bad = [c.name for c in dataset.categories if c.supercategory or c.isthing is not None or c.color or c.extra]
    if bad:
        report.lose("L309", f"categories {bad[:5]}{' ...' if len(bad) > 5 else ''}: only names are kept")
    image_roots = [Path(r) for r in (dataset.meta.get("image_root"), dataset.meta.get("source_path")) if r]
    image_roots = [r if r.is_dir() else r.parent for r in image_roots]
    splits: list[str] = []
    used: set = set()
    for item in dataset.items:
        sp = _safe_split(item.split or split)
        if sp not in splits:
            splits.append(sp)
        stem, ext = os.path.splitext(os.path.basename(item.file_name))
        stem = stem or str(item.id).rsplit("/", 1)[-1]
        ext = ext or ".jpg"
        if (sp, stem) in used:
            n = 1
            while (sp, f"{stem}_{n}") in used:
                n += 1
            report.notes.append(f"image {item.file_name!r} written as {stem}_{n}{ext}: its name was taken")
            stem = f"{stem}_{n}"
        used.add((sp, stem))
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
        (out / "labels" / sp / (stem + ".txt")).write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        report.files += 1
        report.items += 1
    _write_yaml(out, dataset, classes, splits)
    report.files += 1
    return report


def _safe_split(name: str) -> str:
    """A split name usable as one folder name (never ``..`` or a path)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name)).strip("._")
    return cleaned or "default"


def _find_image(item, roots):
    """The image file of an item: under the reader's image root, else beside the source file.

    A file name that leaves its root (``../../etc/passwd``) is never followed.
    """
    for root in roots:
        try:
            p = resolve_inside(root, item.file_name)
        except InputError:
            continue
        if p.is_file():
            return p
    return None


def _class_map(dataset, report):
    ids = [c.id for c in dataset.categories]
    if all(isinstance(i, int) and i >= 0 for i in ids):
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
    (out / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


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


register_format(
    FormatSpec(
        name="yolo",
        description="YOLO segmentation, Ultralytics layout (data.yaml, images/<split>, labels/<split>/*.txt)",
        detect=detect,
        read=read,
        write=write,
        output="dir",
        options={
            "errors": "reader: raise | skip | keep (see segmill.formats)",
            "raster": "reader: coco | pil (kept for writers that draw pixels)",
            "multipart": "writer: largest (default, L303) | lines (one line per part, L304)",
            "copy_images": "writer: copy images into images/<split>/ (default true; YOLO needs them for sizes)",
            "split": "writer: split for items without one (default train)",
        },
    )
)
