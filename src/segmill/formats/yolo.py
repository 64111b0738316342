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

from pathlib import Path

import numpy as np

from ..errors import InputError, PolygonError
from ..geometry import Box, InvalidGeometry, Polygons
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from . import NO, Detection, FormatSpec, register_format
from . import _yolo_write
from ._yolo_write import DECIMALS, format_coord, write

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
__all__ = ["detect", "read", "write", "format_coord", "IMAGE_EXTS", "DECIMALS"]

# private helpers that tests reach through this module
_snap = _yolo_write._snap
_polygon_line = _yolo_write._polygon_line


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
