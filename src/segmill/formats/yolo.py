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
vertex to another point of pycocotools' 1/5-pixel grid. The check is made on
exactly what this reader computes (``float(text) * width``) against the grid
point of the source vertex; a vertex on a grid boundary whose quotient does
not multiply back is written as the nearest float that does. Under the
``coco`` rule the mask depends only on those grid points, so the re-read
polygon rasterizes to exactly the same mask; under ``pil`` the writer checks
each polygon by rasterizing and writes full precision when needed. Vertices
outside the image are clipped to its border (L310).

Classes: Ultralytics and supervision require class indices ``0..len(names)-1``,
so the writer numbers classes in category id order and keeps the source ids
in data.yaml under ``segmill_category_ids`` (other tools ignore the key); this
reader gives them back. Without the key, the classes are the category ids.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..errors import GeometryError, InputError, LimitError
from ..geometry import Box, InvalidGeometry, Polygons
from ..images import image_size
from ..limits import MAX_JSON_DEPTH
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import confine, confined_glob
from ..validate import ErrorPolicy, brief, hashable_id, int_in
from . import NO, Detection, FormatSpec, _yolo_write, register_format
from ._file_runs import chosen, first_annotation_id, header_of, runs, size_of, with_header
from ._perfile_stream import validated
from ._text import read_utf8
from ._yolo_write import DECIMALS, IDS_KEY, MAX_CLASS, format_coord, write, write_stream
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster

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
        "L310": "coordinates outside the image clipped to its border (YOLO coordinates lie in [0, 1])",
    }
, changes={
    "classes": ("L306",),
    "crowd": ("L302",),
    "images": ("L307",),
    "pixels": ("L301", "L302", "L303", "L304", "L308", "L310"),
})

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm")
__all__ = ["detect", "read", "stream", "write", "format_coord", "IMAGE_EXTS", "DECIMALS"]

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
#: Most values a data.yaml may hold: YAML aliases can make a few bytes stand for billions of nodes.
_YAML_MAX_NODES = 100_000


def _yaml_problem(exc) -> str:
    """PyYAML's multi-line message as one line with its position (line and column from 1)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        text = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}"
    else:  # a ReaderError (bad character or encoding) knows only its character offset
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        where = f"position {getattr(exc, 'position', '?')}"
    context = getattr(exc, "context", None)
    return f"invalid YAML at {where}: {text}" + (f" ({context})" if context else "")


def _check_yaml_tree(doc, f) -> None:
    """Refuse documents nested too deeply, self-referencing or expanding to too many values."""
    stack, count = [(doc, 0)], 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if depth > MAX_JSON_DEPTH or count > _YAML_MAX_NODES:
            raise LimitError(f"data.yaml is nested deeper than {MAX_JSON_DEPTH} levels or holds more than "
                             f"{_YAML_MAX_NODES:,} values (YAML aliases expand)", f)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for kv in value.items() for v in kv)
        elif isinstance(value, (list, tuple, set)):
            stack.extend((v, depth + 1) for v in value)


def _flow_depth(text: str) -> int:
    """Deepest nesting of flow brackets (``[`` ``{``), counted without parsing.

    Brackets inside quoted or block scalars count too, so this can only
    overstate the depth; a real data.yaml is a few levels deep either way.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for ch in re.findall(r"[\[\]{}]", text):
        depth = depth + 1 if ch in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _parse_yaml(f: Path):
    # lazy: start-up time (yaml is only needed to read data.yaml)
    import yaml

    text = read_utf8(f)
    if _flow_depth(text) > MAX_JSON_DEPTH:  # PyYAML takes quadratic time to reach its RecursionError
        raise LimitError(f"YAML nested deeper than {MAX_JSON_DEPTH} levels", f)
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present
    except yaml.YAMLError as exc:
        raise InputError(_yaml_problem(exc), f) from None
    except RecursionError:
        raise LimitError("YAML nested too deeply", f) from None
    except (ValueError, TypeError, OverflowError) as exc:  # constructors: a date 2020-99-99, a huge int
        raise InputError(f"invalid YAML value: {exc}", f) from None
    _check_yaml_tree(doc, f)
    return doc


def _class_key(key, f) -> int:
    """A ``names`` key as Ultralytics reads it (``int(k)``), within ``[0, MAX_CLASS]``."""
    value = key
    if isinstance(key, str):
        try:
            value = int(key.strip())
        except ValueError:
            pass
    try:
        return int_in(value, "a names key", f, "names", lo=0, hi=MAX_CLASS, integral_floats=True)
    except InputError:
        raise InputError(f"names keys must be class ids in [0, {MAX_CLASS}], got {brief(key)}", f,
                         "names") from None


def _load_names(root: Path):
    f = _yaml_file(root)
    if f is None:
        return None, {}
    doc = _parse_yaml(confine(root, f))
    if not isinstance(doc, dict):
        raise InputError(f"data.yaml must be a mapping, got {type(doc).__name__}", f)
    names = doc.get("names")
    if names is None:
        return None, doc
    if isinstance(names, list):
        pairs = list(enumerate(names))
    elif isinstance(names, dict):
        pairs = [(_class_key(k, f), v) for k, v in names.items()]
    else:
        raise InputError(f"names must be a list or a mapping, got {brief(names)}", f, "names")
    out = {}
    for k, v in pairs:
        if isinstance(v, (list, tuple, dict, set)):
            raise InputError(f"names[{k}] must be a class name, got {brief(v)}", f, "names")
        name = str(v)  # Ultralytics' check_class_names: str(v)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a YAML "\ud800" escape: no output or message could hold it
            raise InputError(f"names[{k}] {brief(name)} is not valid Unicode", f, "names") from None
        out[k] = name
    return out, doc


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
        the message names the file and line. Also a label file or image
        that is a symbolic link out of the dataset root, an image over the
        pixel limit (checked from its header), non-UTF-8 text, a
        ``data.yaml`` that is not a mapping.
    segmill.errors.UsageError
        An unknown ``errors`` or ``raster`` value.
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    check_choice("raster", raster, RASTER_RULES)
    p = Path(path)
    root, names, doc, ds = _start(p, raster)
    if not policy.raising:
        # skip: listed and dropped; keep: listed for `segmill check` (S014)
        policy.skipped = ds.meta.setdefault("skipped", [])
    seen_classes: set[int] = set()
    ds.items = list(_items(root, policy, seen_classes))
    ids = sorted(set(names or {}) | seen_classes)
    ds.categories = [Category(i, (names or {}).get(i, str(i))) for i in ids]
    if names is not None and not seen_classes <= set(names) and policy.raising:
        raise _undeclared(seen_classes, names, _yaml_file(root))
    _restore_ids(ds, _source_ids(doc, names, _yaml_file(root)))
    if not policy.keeping:
        ds.validate(p)
    return ds


def _start(p: Path, raster: str):
    """``(root, names, data.yaml document, dataset without items)``, the checks every read makes first."""
    root = p.parent if p.is_file() else p
    names, doc = _load_names(root)
    if not (root / "labels").is_dir():
        raise InputError("no labels/ folder", root)
    ds = Dataset(meta={"raster_rule": raster, "image_root": str(root)})
    # data.yaml's other keys are kept for the YOLO writer, which reuses those not about layout (download ...).
    ds.meta["yolo_yaml"] = {k: v for k, v in doc.items() if k not in ("names", IDS_KEY)}
    return root, names, doc, ds


def _items(root: Path, policy: ErrorPolicy, seen_classes: set, selection: dict | None = None):
    """Yield the items in reading order, annotation ids 1, 2, ...; the classes read are added to ``seen_classes``.

    ``selection``: one part of :func:`shards`, its image/label pairs only, annotation ids from its first.
    """
    next_ann = first_annotation_id(selection)
    for split, stem, img, lbl in chosen(list(_pairs(root)), selection):
        if img is None:
            want = f"images/{split}/{stem}.*" if split else f"images/{stem}.*"
            policy.drop(InputError(f"image {want} not found (YOLO needs the image for its size)", lbl,
                                   lbl.relative_to(root).as_posix()))
            continue
        try:
            h, w = image_size(img, img)
        except InputError as exc:
            policy.drop(exc)
            continue
        rel_img = img.relative_to(root).as_posix()
        item_id = f"{split}/{stem}" if split else stem
        item = Item(item_id, rel_img, w, h, split=split or None)
        if lbl is not None:
            for cls, geom, _line in _read_label_file(lbl, h, w, policy):
                if cls is not None:
                    seen_classes.add(cls)
                item.annotations.append(Annotation(next_ann, cls, geom))
                next_ann += 1
        yield item


def _undeclared(seen_classes: set, names: dict, f) -> InputError:
    """The error of label classes missing from ``names`` (every class read is in ``seen_classes``)."""
    bad = sorted(seen_classes - set(names))
    more = " ..." if len(bad) > 10 else ""
    return InputError(f"class ids {bad[:10]}{more} are not in data.yaml names", f, "names")


def stream(path, errors: str = "raise", raster: str = "coco", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories and errors of :func:`read` (the class check and
    the validation made as the items come: a failure is raised once every
    label file was read, as :func:`read` raises it). Without ``names`` in
    data.yaml the classes come from the label files: a first pass reads the
    class of each line (keeping the set of classes only). ``None`` (read
    whole) for ``errors`` other than ``"raise"`` (the categories then depend
    on which lines every file drops) and for a ``segmill_category_ids`` key
    :func:`read` refuses (it does so after reading every file).
    ``selection``: one part of :func:`shards` (see
    :mod:`segmill.formats._file_runs`), which carries the classes of every
    label file.
    """
    opened = _streamable(path, errors, raster)
    if opened is None:
        return None
    p, root, names, ds, ids = opened
    classes = sorted(names) if names is not None else header_of(selection, lambda: _label_classes(_pairs(root)))
    ds.categories = [Category(ids.get(i, i) if ids else i, (names or {}).get(i, str(i))) for i in classes]
    return ds, validated(_streamed_items(root, names, set(classes), ids, selection), ds.categories, p)


def _streamable(path, errors: str, raster: str):
    """``(path, root, names, dataset without items, source ids)`` of a dataset :func:`stream` reads, else ``None``."""
    policy = ErrorPolicy.of(errors)
    check_choice("raster", raster, RASTER_RULES)
    if not policy.raising:
        return None
    p = Path(path)
    root, names, doc, ds = _start(p, raster)
    try:
        ids = _source_ids(doc, names, _yaml_file(root))
    except InputError:
        return None
    return p, root, names, ds, ids


def shards(path, n: int, errors: str = "raise", raster: str = "coco"):
    """At most ``n`` selections of :func:`stream`: runs of image/label pairs of about equal label bytes.

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    opened = _streamable(path, errors, raster)
    if opened is None:
        return None
    _, root, names, _, _ = opened
    pairs = list(_pairs(root))  # the folders walked once, for the sizes and the classes
    sels = runs([size_of(lbl) for *_, lbl in pairs], n)
    return sels if names is not None else with_header(sels, _label_classes(pairs))


def _label_classes(pairs) -> list[int]:
    """The classes of every line of every label file of ``pairs`` (:func:`_pairs`), sorted; a line or file
    :func:`read` refuses is passed over (the read raises there, whatever the categories)."""
    classes: set[int] = set()
    for _, _, _, lbl in pairs:
        if lbl is None:
            continue
        try:
            text = read_utf8(lbl)
        except InputError:
            continue
        for ln in text.splitlines():
            vals = ln.split()
            if vals and (cls := _class_or_none(vals[0])) is not None:
                classes.add(cls)
    return sorted(classes)


def _streamed_items(root: Path, names, classes: set, ids, selection=None):
    """The items of :func:`_items` under ``raise``, checked for undeclared classes, with their source ids."""
    seen: set[int] = set()
    items = _items(root, ErrorPolicy.of("raise"), seen, selection)
    for item in items:
        if not seen <= classes:
            if names is None:  # the first pass saw every class
                raise InputError("the label files changed while they were read", root)
            for _ in items:  # every file is read, as read() does: their errors first, then all the bad classes
                pass
            raise _undeclared(seen, names, _yaml_file(root))
        if ids:
            _restore_item(item, ids)
        yield item


def _source_ids(doc, names, f):
    """``{class: category id}`` from segmill's own data.yaml key (:data:`IDS_KEY`), or None when absent.

    The key lists the source category id of classes ``0..n-1``; it must match
    ``names`` (same length, unique integer or string ids), else the file was
    edited inconsistently and is refused rather than misread.
    """
    ids = doc.get(IDS_KEY)
    if ids is None or names is None:
        return None
    if not isinstance(ids, list) or len(ids) != len(names) or sorted(names) != list(range(len(names))):
        raise InputError(f"{IDS_KEY} must list one category id per class of names (classes 0..{len(names) - 1}), "
                         f"got {brief(ids)}", f, IDS_KEY)
    out = {n: hashable_id(v, f"{IDS_KEY}[{n}]", f, IDS_KEY) for n, v in enumerate(ids)}
    if len(set(out.values())) != len(out):
        raise InputError(f"{IDS_KEY} repeats a category id: {brief(ids)}", f, IDS_KEY)
    return out


def _restore_ids(ds: Dataset, ids) -> None:
    """Give categories and annotations their source category ids (segmill's data.yaml key)."""
    if not ids:
        return
    clash = {c.id for c in ds.categories if c.id not in ids} & set(ids.values())
    if clash:  # only in skip/keep modes: a label class outside names equals a restored id
        raise InputError(f"class ids {sorted(clash, key=str)[:10]} are not in names but equal ids of {IDS_KEY}",
                         ds.meta.get("image_root"), IDS_KEY)
    for c in ds.categories:
        c.id = ids.get(c.id, c.id)
    for item in ds.items:
        _restore_item(item, ids)


def _restore_item(item: Item, ids: dict) -> None:
    for a in item.annotations:
        if a.category_id in ids:
            a.category_id = ids[a.category_id]


def _listing(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching ``pattern``; a symbolic link out of ``root`` is refused."""
    try:
        return confined_glob(root, pattern)
    except RecursionError:  # pathlib walks "**" recursively: a folder tree thousands deep
        raise LimitError("folders nested too deeply", root) from None


def _pairs(root: Path):
    """``(split, stem, image, label)`` for every image and every label file."""
    labels_dir, images_dir = root / "labels", root / "images"
    labels = {}
    for lbl in _listing(root, "labels/**/*.txt"):
        rel = lbl.relative_to(labels_dir)
        labels[(rel.parent.as_posix().strip("."), rel.stem)] = lbl
    images = {}
    if images_dir.is_dir():
        for img in _listing(root, "images/**/*"):
            if img.suffix.lower() in IMAGE_EXTS:
                rel = img.relative_to(images_dir)
                images.setdefault((rel.parent.as_posix().strip("."), rel.stem), img)
    for key in sorted(set(labels) | set(images)):
        yield key[0], key[1], images.get(key), labels.get(key)


def _read_label_file(lbl: Path, h: int, w: int, policy: ErrorPolicy):
    text = read_utf8(lbl)
    rows = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    is_seg = any(len(vals) > 6 for _, vals in rows)
    for n, vals in rows:
        rec = f"line {n}"
        try:
            cls, geom = _parse_line(vals, is_seg, h, w, lbl, rec)
        except InputError as exc:
            if policy.keep_or_drop(exc):  # keep: for segmill check
                yield _class_or_none(vals[0]), InvalidGeometry(" ".join(vals), exc.message), n
            continue
        yield cls, geom, n


def _class_id(token: str, lbl, rec) -> int:
    """The class of a label line: an integer (``3`` or ``3.0``, as Ultralytics' float parse) in range."""
    try:
        value = float(token)
    except ValueError:
        raise InputError(f"class {brief(token)} is not a number", lbl, rec) from None
    if not (math.isfinite(value) and value == int(value) and 0 <= value <= MAX_CLASS):
        raise InputError(f"class {brief(token)} is not a non-negative integer (at most {MAX_CLASS})", lbl, rec)
    return int(value)


def _class_or_none(token: str):
    try:
        return _class_id(token, None, None)
    except InputError:
        return None


def _parse_line(vals, is_seg, h, w, lbl, rec):
    cls = _class_id(vals[0], lbl, rec)
    try:
        coords = np.array([float(v) for v in vals[1:]], dtype=np.float64)
    except ValueError:
        bad = next(v for v in vals[1:] if not _is_float(v))
        raise InputError(f"coordinate {brief(bad)} is not a number", lbl, rec) from None
    if not np.all(np.isfinite(coords)):
        raise InputError("a coordinate is NaN or infinite", lbl, rec)
    if np.any(coords < 0) or np.any(coords > 1):
        bad = coords[(coords < 0) | (coords > 1)][0]
        raise InputError(f"coordinate {bad:g} is outside [0, 1] (YOLO coordinates are normalized)", lbl, rec)
    if not is_seg:
        if len(coords) != 4:
            raise InputError(f"a box line needs 'class cx cy w h', got {len(vals)} values", lbl, rec)
        cx, cy, bw, bh = coords
        return cls, Box((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h)
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
        return cls, Polygons([pts])
    except GeometryError as exc:
        raise InputError(str(exc), lbl, rec) from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


register_format(
    FormatSpec(
        name="yolo",
        example="yolo/seg",
        description="YOLO segmentation, Ultralytics layout (data.yaml, images/<split>, labels/<split>/*.txt)",
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
            raster("reader", "kept for writers that draw pixels: coco or pil"),
            Option("multipart", "writer", "multi-part objects: keep the largest part (L303) or write one line "
                   "per part (L304)", kind="choice", choices=("largest", "lines"), default="largest"),
            Option("copy_images", "writer", "copy images into images/<split>/ (YOLO needs them for sizes)",
                   kind="bool", default=True),
            Option("split", "writer", "split of a single-split source, else of items without one (default: the "
                   "item's split, the COCO file's split name, else train)"),
            Option("image_root", "writer", "where the source images are (default: meta image_root and the usual "
                   "layouts beside the annotations: images/, <split>2017/, JPEGImages/)", kind="path"),
            Option("link_images", "writer", "hard-link images into images/<split>/ instead of copying them",
                   kind="bool", default=False),
        ),
    )
)
