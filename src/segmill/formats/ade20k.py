"""ADE20K, the 2021 release layout (``ADE20K_2021_17_01``): read only.

Layout read (one JSON per image, beside its image and PNGs)::

    <root>/<split>/<scene folders>/<name>.jpg
    <root>/<split>/<scene folders>/<name>.json          {"annotation": {"filename", "imsize", "object": [...]}}
    <root>/<split>/<scene folders>/<name>_seg.png       class = R / 10 * 256 + G, instance from B
    <root>/<split>/<scene folders>/<name>_parts_N.png   parts of level N, encoded like _seg.png
    <root>/<split>/<scene folders>/<name>/instance_NNN_<name>.png   one binary mask per object

``<root>`` is the folder given (``images/ADE`` of the release, Datumaro's
``ade20k2020`` export folder, or one split or scene folder of either); a
single ``<name>.json`` may be given too. Every ``*.json`` below the root is an
image's annotation file, except Datumaro's ``dataset_meta.json`` (a label
list, not read). The split is the first folder named ``training``,
``validation`` (or ``train``, ``val``, ``test``, ``testing``) on the way.
Item ids are the JSON's path below the root without ``.json``.

Objects and categories: every entry of ``annotation.object`` is one
annotation. Its category id is ``name_ndx`` (the class value of the
``_seg.png`` pixels) and the category name is ``name`` (the WordNet-style
name the index uses; ``raw_name`` goes to ``attributes["raw_name"]``).
``occluded`` (``yes``/``no``), ``crop`` (0/1), ``attributes`` (a list of
words) and ``depth_ordering_rank`` are kept in ``attributes``; ``scene`` on
the item.

Parts are a second level of annotations, not attributes of the whole: an
object with ``parts.part_level`` N > 0 is an annotation of its own (its own
class, e.g. ``door`` of a ``car``) with ``attributes["part_level"] = N`` and
``attributes["part_of"]`` = the annotation id of the whole it belongs to
(``parts.ispartof``). A writer painting one label map paints parts over
their wholes (annotation order: JSON order).

``source`` chooses the pixels:

* ``auto`` (default): per object, its ``instance_mask`` PNG when the file is
  there (non-zero = the object), else its ``polygon``;
* ``masks`` / ``polygons``: only that one (an object without it is a bad record);
* ``seg``: the official class/instance maps instead of the per-object files:
  one annotation per (class, B value) of ``_seg.png`` and of each
  ``_parts_N.png`` (part level N); the classes are named from the JSON's
  objects. This is what ``utils_ade20k.loadAde20K`` decodes; the objects'
  attributes and their part-of links are not attached in this mode (the maps
  do not say which record an instance is).

Polygons are ``polygon.x`` / ``polygon.y`` in pixel coordinates, painted
later with the ``raster`` rule. ``imsize`` is ``[height, width, channels]``;
every PNG must have that size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import jsonio
from ..errors import InputError, LimitError, UsageError
from ..geometry import InvalidGeometry
from ..images import image_size as header_size
from ..model import Annotation, Category, Dataset, Item
from ..paths import confined_glob, resolve_inside
from ..rle import encode
from ..validate import ErrorPolicy, brief, image_size, string
from . import NO, Detection, FormatSpec, register_format
from ._ade20k_objects import AdeObject, parse_object, polygon_of
from ._folder_scan import scan_levels
from ._perfile_stream import validated
from ._png import read_png
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster

__all__ = ["detect", "read", "stream", "SOURCES", "class_map"]

SOURCES = ("auto", "masks", "polygons", "seg")
SPLITS = ("training", "validation", "train", "val", "test", "testing")
#: Datumaro's label list beside an export: not an image's annotation file.
META_FILE = "dataset_meta.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: How deep and through how many entries detection looks for an annotation JSON.
_DETECT_DEPTH = 4
_DETECT_ENTRIES = 5000


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the file system refuses (too long, a NUL byte)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


# ------------------------------------------------------------------ detection
def _looks_like_ade(f: Path) -> bool:
    try:
        with open(f, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"annotation"' in head and b'"imsize"' in head


def _first_json(root: Path):
    """The first annotation-looking ``*.json`` (breadth first, a few levels), or None."""
    for _, entries in scan_levels(root, _DETECT_DEPTH, _DETECT_ENTRIES):
        for e in entries:
            if e.name.endswith(".json") and e.name != META_FILE and _looks_like_ade(Path(e.path)):
                return Path(e.path)
    return None


def detect(path) -> Detection:
    """A JSON with ``annotation`` and ``imsize`` (or a folder holding one), best with its ``_seg.png`` beside."""
    p = Path(path)
    if p.is_file():
        f = p if p.suffix == ".json" and _looks_like_ade(p) else None
    elif p.is_dir():
        f = _first_json(p)
    else:
        return NO
    if f is None:
        return NO
    where = "file" if p.is_file() else f"folder ({f.relative_to(p).as_posix()})"
    if _is_file(f.with_name(f.stem + "_seg.png")):
        return Detection(0.9, f"ADE20K JSON {where} with 'annotation' and 'imsize', and its _seg.png beside it")
    return Detection(0.7, f"ADE20K JSON {where} with 'annotation' and 'imsize'")


# ------------------------------------------------------------------ reading
class _State:
    """What one read shares across images: options, categories, the next annotation id."""

    def __init__(self, root: Path, source: str, policy: ErrorPolicy, ds: Dataset):
        self.root = root
        self.source = source
        self.policy = policy
        self.ds = ds
        self.cats: dict[int, Category] = {}
        self.next_id = 1
        self.latin1: list[str] = []

    def category(self, class_id: int, name: str, f, rec) -> None:
        """Declare class ``class_id`` as ``name``; another name for a known class is a bad record."""
        have = self.cats.get(class_id)
        if have is None:
            cat = Category(class_id, name)
            self.cats[class_id] = cat
            self.ds.categories.append(cat)
        elif have.name != name:
            raise InputError(f"name_ndx {class_id} is {brief(have.name)} elsewhere but {brief(name)} here", f, rec)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def read(path, *, source: str = "auto", errors: str = "raise", raster: str = "coco") -> Dataset:
    """Read ADE20K 2021 annotations (layout and mapping in the module docs).

    Parameters
    ----------
    path : path
        The dataset folder (or a split / scene folder of it), or one ``<name>.json``.
    source : {"auto", "masks", "polygons", "seg"}
        Where the pixels come from (module docs).
    errors : {"raise", "skip", "keep"}
        ``skip`` drops a bad image or object and lists it in
        ``meta["skipped"]``; ``keep`` also keeps an object whose mask or
        polygon cannot be read as invalid geometry (for ``segmill check``).
    raster : {"coco", "pil"}
        The rule polygons are painted with later (``meta["raster_rule"]``).

    Raises
    ------
    segmill.errors.InputError
        No annotation JSON, or (``errors="raise"``) any bad value, missing
        file, PNG of the wrong size or mode, or path leaving the root.
    """
    policy = ErrorPolicy.of(errors)  # unknown option values are refused before any work
    p, files, st = _start(path, source, policy, raster)
    st.ds.items = list(_items(files, st))
    st.ds.meta["read_notes"] = _notes(st, p)
    if not policy.keeping:
        st.ds.validate(p)
    return st.ds


def _start(path, source: str, policy: ErrorPolicy, raster: str):
    """``(path, annotation files, read state)``: the options checked, the files found, the meta."""
    if source not in SOURCES:
        raise UsageError(f"source must be one of {', '.join(SOURCES)}; got {brief(source)}")
    check_choice("raster", raster, RASTER_RULES)
    p = Path(path)
    root = p.parent if p.is_file() else p
    files = [p] if p.is_file() else _json_files(p)
    ds = Dataset(meta={"source_format": "ade20k", "image_root": str(root), "raster_rule": raster,
                       "ade20k_source": source})
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    return p, files, _State(root, source, policy, ds)


def _items(files, st: _State):
    """Yield the item of each file in turn, annotation ids 1, 2, ...; its new classes go to the categories."""
    for f in files:
        try:
            item = _read_item(f, st)
        except InputError as exc:
            st.policy.drop(exc if exc.path else InputError(exc.message, f, exc.record))
            continue
        yield item


def stream(path, *, source: str = "auto", errors: str = "raise", raster: str = "coco"):
    """The header and a generator of the items, one image's files at a time (see :mod:`segmill.streaming`).

    The items, categories, meta and errors of :func:`read`, in every
    ``errors`` mode (the validation made as the items come, a failure raised
    once every file was read; none under ``keep``, as :func:`read`). The
    categories (classes in order of first appearance) and the note on
    Latin-1 files come from a first pass over the JSON files, one at a time:
    it reads what :func:`read` reads of each file before its pixels (its
    objects, with the same checks, so the same objects are dropped); under
    ``raise`` it stops at the first file the read refuses (the stream raises
    the read's error there, or before).
    """
    policy = ErrorPolicy.of(errors)
    p, files, st = _start(path, source, policy, raster)
    first = _first_pass(files, st)
    st.cats = dict(first.cats)
    st.ds.categories = list(first.ds.categories)
    st.ds.meta["read_notes"] = _notes(first, p)
    items = _streamed_items(files, st)
    return st.ds, (items if policy.keeping else validated(items, st.ds.categories, p))


def _first_pass(files, st: _State) -> _State:
    """A read of every file's JSON (no pixels) under ``st``'s errors mode: its categories and Latin-1 files."""
    first = _State(st.root, st.source, ErrorPolicy(st.policy.mode), Dataset())  # its own list of skipped records
    for f in files:
        try:
            _head(f, first)
        except InputError:
            if first.policy.raising:
                break
    return first


def _streamed_items(files, st: _State):
    """The items of :func:`_items`, with the categories the first pass found."""
    n = len(st.ds.categories)
    for item in _items(files, st):
        if len(st.ds.categories) != n:  # the first pass saw every class
            break
        yield item
    if len(st.ds.categories) != n:
        raise InputError("the JSON files changed while they were read", st.root)


def _json_files(root: Path) -> list[Path]:
    """Every annotation ``*.json`` below ``root`` (sorted, confined); none at all is an error."""
    if not root.is_dir():
        raise InputError("an ADE20K dataset is a folder (or one <name>.json)", root)
    try:
        files = [f for f in confined_glob(root, "*.json", recursive=True) if f.name != META_FILE]
    except RecursionError:  # pathlib walks recursively: a folder tree thousands deep
        raise LimitError("folders nested too deeply", root) from None
    if not files:
        raise InputError("no <name>.json annotation file (expected <split>/<scene>/<name>.json beside "
                         "<name>.jpg and <name>_seg.png)", root)
    return files


def _notes(st: _State, p: Path) -> list[str]:
    """What the command line says about this read: the pixel source, parts, Latin-1 files, a meta file."""
    notes = [{"auto": "pixels from each object's instance_mask PNG (its polygon where the PNG is missing)",
              "masks": "pixels from each object's instance_mask PNG",
              "polygons": "pixels from each object's polygon (painted with the raster rule)",
              "seg": "pixels from _seg.png and _parts_N.png (class R/10*256+G, instance B); object attributes "
                     "and part-of links are not attached"}[st.source]]
    if st.source != "seg":
        notes.append("parts (parts.part_level > 0) are annotations of their own with attributes part_level and "
                     "part_of (the annotation id of the whole)")
    if st.latin1:
        notes.append(f"{len(st.latin1)} JSON file(s) are not UTF-8 and were read as Latin-1 (e.g. {st.latin1[0]})")
    if p.is_dir() and (p / META_FILE).is_file():
        notes.append(f"{META_FILE} (Datumaro's label list) not read: categories are the objects' name_ndx / name")
    return notes


def _load(f: Path, st: _State):
    """The JSON of ``f``; a file that is not UTF-8 is read as Latin-1 (noted), as some ADE20K files are."""
    raw = jsonio.read_bytes(f)
    try:
        return jsonio.parse(raw, f)[0]
    except LimitError:
        raise
    except InputError as exc:
        if "not UTF-8" not in exc.message:
            raise
    st.latin1.append(f.name)
    return jsonio.parse(raw.decode("latin-1").encode("utf-8"), f)[0]


def _split_of(rel: Path) -> str | None:
    """The first folder on the way named like a split (``training``, ``validation``...), or None."""
    return next((d for d in rel.parts[:-1] if d in SPLITS), None)


def _read_item(f: Path, st: _State) -> Item:
    """One image: its JSON, size, objects and their pixels."""
    item, parsed = _head(f, st)
    size = (item.height, item.width)
    if st.source == "seg":
        names = {o.class_id: o.name for o in parsed}
        item.annotations = _from_maps(f, names, size, st)
    else:
        item.annotations = _from_objects(parsed, f, size, st)
    return item


def _head(f: Path, st: _State) -> tuple[Item, list[AdeObject]]:
    """``(item without annotations, checked objects)`` of one image's JSON; the objects' classes declared."""
    doc = _load(f, st)
    ann = doc.get("annotation") if type(doc) is dict else None
    if type(ann) is not dict:
        raise InputError("not an ADE20K annotation file: no 'annotation' object", f)
    objs = ann.get("object", [])
    if type(objs) is not list:
        raise InputError(f"annotation.object must be a list, got {brief(objs)}", f)
    rel = f.relative_to(st.root)
    stem = f.stem
    name = ann.get("filename")
    name = f"{stem}.jpg" if name is None else string(name, "filename", f, "annotation", allow_empty=False)
    image = resolve_inside(st.root, (rel.parent / name.replace("\\", "/")).as_posix(), f, "annotation.filename")
    h, w = _size(ann, f)
    item = Item(rel.with_suffix("").as_posix(), image.relative_to(st.root.resolve()).as_posix(), width=w,
                height=h, split=_split_of(rel))
    scene = ann.get("scene")
    if scene:  # absent, [] or "": no scene
        if type(scene) is not list:
            raise InputError(f"scene must be a list of words, got {brief(scene)}", f, "annotation")
        item.attributes["scene"] = [string(s, "scene", f, "annotation") for s in scene]
    return item, _objects(objs, f, st)


def _size(ann: dict, f: Path) -> tuple[int, int]:
    """``(height, width)`` from ``imsize`` (``[h, w, channels]``), else the ``_seg.png`` or image header."""
    size = ann.get("imsize")
    if size is not None:
        if type(size) is not list or len(size) < 2:
            raise InputError(f"imsize must be [height, width, channels], got {brief(size)}", f, "annotation")
        return image_size(size[0], size[1], f, "annotation.imsize", allow_zero=False)
    for cand in [f.with_name(f.stem + "_seg.png")] + [f.with_suffix(s) for s in IMAGE_SUFFIXES]:
        if _is_file(cand):
            return header_size(cand, cand)
    raise InputError("no imsize and neither a _seg.png nor the image to take the size from", f, "annotation")


def _objects(objs: list, f: Path, st: _State) -> list[AdeObject]:
    """The checked object records of one file; a bad one is dropped (listed) or raised."""
    out, seen = [], set()
    for i, raw in enumerate(objs):
        try:
            obj = parse_object(raw, f, i)
            if obj.oid in seen:
                raise InputError(f"duplicate object id {obj.oid}", f, f"object {i}")
            st.category(obj.class_id, obj.name, f, f"object id {obj.oid}")
        except InputError as exc:
            st.policy.drop(exc)
            continue
        seen.add(obj.oid)
        out.append(obj)
    return out


def _from_objects(objs: list, f: Path, size, st: _State) -> list[Annotation]:
    """One annotation per object, with its mask or polygon; parts linked to their wholes."""
    anns, ids = [], {}
    for obj in objs:
        try:
            geom = _geometry(obj, f, size, st)
        except InputError as exc:
            if exc.record is None:  # a PNG's own error: said as the object's, naming the PNG
                exc = InputError(f"{exc.path}: {exc.message}", f, f"object id {obj.oid}")
            if not st.policy.keep_or_drop(exc):
                continue
            geom = InvalidGeometry({"instance_mask": obj.mask, "polygon": {"x": obj.xs, "y": obj.ys}}, exc.message)
        a = Annotation(st.new_id(), obj.class_id, geom, attributes=dict(obj.attributes))
        ids[obj.oid] = a.id
        anns.append((obj, a))
    out = []
    for obj, a in anns:
        if obj.part_level:
            whole = ids.get(obj.part_of)
            if whole is None:
                exc = InputError(f"parts.ispartof names object id {obj.part_of}, which is not in the file (or was "
                                 "dropped)", f, f"object id {obj.oid}")
                if not st.policy.keep_or_drop(exc):
                    continue
            a.attributes["part_level"] = obj.part_level
            a.attributes["part_of"] = whole
        out.append(a)
    return out


def _geometry(obj: AdeObject, f: Path, size, st: _State):
    """The object's pixels under the ``source`` option: an RLE of its mask, or its polygon."""
    rec = f"object id {obj.oid}"
    if st.source == "polygons":
        return polygon_of(obj, f)
    if obj.mask is not None:
        rel = (f.relative_to(st.root).parent / obj.mask.replace("\\", "/")).as_posix()
        png = resolve_inside(st.root, rel, f, f"{rec}, instance_mask")
        if _is_file(png) or st.source == "masks":
            return encode(_binary(png, size))
    if st.source == "masks":
        raise InputError("no instance_mask (source 'masks')", f, rec)
    if not obj.xs:
        raise InputError("neither an instance_mask file nor a polygon", f, rec)
    return polygon_of(obj, f)


def _binary(png: Path, size) -> np.ndarray:
    """A mask PNG as booleans (non-zero in any channel), checked to be ``size``."""
    arr = read_png(png).array
    if arr.shape[:2] != tuple(size):
        raise InputError(f"mask is {arr.shape[1]}x{arr.shape[0]} (width x height) but imsize says "
                         f"{size[1]}x{size[0]}", png)
    return arr.any(axis=2) if arr.ndim == 3 else arr != 0


def class_map(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(class, instance)`` of an ADE20K ``_seg.png`` / ``_parts_N.png`` array: ``R // 10 * 256 + G`` and ``B``."""
    a = rgb.astype(np.int32)
    return a[..., 0] // 10 * 256 + a[..., 1], a[..., 2]


def _from_maps(f: Path, names: dict, size, st: _State) -> list[Annotation]:
    """One annotation per (class, B) of ``_seg.png`` (level 0) and of each ``_parts_N.png`` (level N)."""
    png = f.with_name(f.stem + "_seg.png")
    if not _is_file(png):
        raise InputError("no _seg.png beside the JSON (source 'seg')", f)
    out, level = [], 0
    while _is_file(png):
        img = read_png(resolve_inside(st.root, png.relative_to(st.root).as_posix(), f))
        if img.array.ndim != 3:
            raise InputError(f"an ADE20K class map is RGB, got mode {img.mode}", png)
        if img.size != tuple(size):
            raise InputError(f"map is {img.size[1]}x{img.size[0]} (width x height) but imsize says "
                             f"{size[1]}x{size[0]}", png)
        cls, inst = class_map(img.array)
        key = cls * 256 + inst
        for k in np.unique(key[cls != 0]).tolist():
            c = k // 256
            if c not in names:
                raise InputError(f"class {c} (R/10*256+G) is the name_ndx of no object in {f.name}", png)
            a = Annotation(st.new_id(), c, encode(key == k))
            if level:
                a.attributes["part_level"] = level
            out.append(a)
        level += 1
        png = f.with_name(f"{f.stem}_parts_{level}.png")
    return out


register_format(
    FormatSpec(
        name="ade20k",
        example="ade20k/basic",
        description="ADE20K 2021 (per-image JSON objects, instance mask PNGs, _seg.png / _parts_N.png); "
                    "read only",
        detect=detect,
        read=read,
        stream=stream,
        write=None,
        output="dir",
        options=(
            ERRORS,
            Option("source", "reader", "where pixels come from: auto (instance masks, else polygons), masks, "
                   "polygons, or seg (_seg.png and _parts_N.png)", kind="choice", choices=SOURCES,
                   default="auto"),
            raster("reader", "coco, or pil: how ADE20K polygons are painted later"),
        ),
    )
)
