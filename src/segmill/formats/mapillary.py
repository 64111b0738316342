"""Mapillary Vistas v1.2 and v2.0: read only.

Layout read (the official archive; Datumaro's export is the same)::

    <root>/config_v1.2.json, config_v2.0.json     label tables (module _mapillary_json)
    <root>/<split>/images/<stem>.jpg
    <root>/<split>/v1.2/labels/<stem>.png         8-bit: label value (index in the config)
    <root>/<split>/v1.2/instances/<stem>.png      16-bit: label value * 256 + instance number
    <root>/<split>/v1.2/panoptic/<stem>.png       RGB segment ids, + panoptic_2018.json
    <root>/<split>/v2.0/...                       the same (panoptic_2020.json), and
    <root>/<split>/v2.0/polygons/<stem>.json      the polygons the masks were drawn from

The path given is ``<root>`` or one ``<split>`` folder of it (the config is
then in its parent). ``version`` (``v1.2`` or ``v2.0``) picks the folders and
the config; when omitted it is the one present, ``v2.0`` when both are (said
in a read note). ``source`` picks the files of that version: ``auto`` takes
``instances``, else ``panoptic``, else ``labels``, else ``polygons``,
whichever the dataset has.

What each source gives:

* ``instances``: one annotation per pixel value: label ``value // 256``,
  instance ``value % 256`` (a class without instances holds instance 0: one
  region per class);
* ``labels``: one region per label value (no instances);
* ``panoptic``: one annotation per segment, with ``iscrowd`` and the stored
  ``area`` / ``bbox``; segment 0 is unlabeled;
* ``polygons`` (v2.0): one polygon annotation per object, painted later with
  the ``raster`` rule.

Categories are the config's labels: id = the label value, ``isthing`` =
``instances``, ``color``, ``supercategory`` = the part before ``--``, and
``readable`` / ``evaluate`` in ``extra``. The ``unlabeled`` label is void: its
pixels (and panoptic segment 0) become one void region per image (no
category, ``attributes["void"]``), and it is not a category. Item ids are
``<split>/<stem>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import jsonio
from ..errors import InputError
from ..geometry import InvalidGeometry
from ..model import Annotation, Dataset, Item
from ..paths import confine, confined_glob, resolve_inside
from ..rle import encode
from ..validate import ErrorPolicy, brief, hashable_id, image_size, string
from . import NO, Detection, FormatSpec, register_format
from ._mapillary_json import (
    LabelTable,
    panoptic_categories,
    parse_config,
    polygon_parts,
    polygon_size,
    segments,
)
from ._file_runs import first_annotation_id, header_of, runs, with_header
from ._mapillary_panoptic import load as panoptic_doc
from ._perfile_stream import validated
from ._png import read_png
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster

__all__ = ["detect", "read", "shards", "stream", "VERSIONS", "SOURCES"]

VERSIONS = ("v1.2", "v2.0")
SOURCES = ("auto", "instances", "panoptic", "labels", "polygons")
#: The order ``source="auto"`` tries.
_AUTO = ("instances", "panoptic", "labels", "polygons")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the file system refuses (too long, a NUL byte)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


# ------------------------------------------------------------------ layout
def _configs(d: Path) -> list[str]:
    return [v for v in VERSIONS if (d / f"config_{v}.json").is_file()]


def _layout(p: Path) -> tuple[Path, list[Path]]:
    """``(root, split folders)``: ``p`` holds the configs, or ``p`` is a split of a folder that does."""
    if _configs(p):
        try:
            entries = sorted(p.iterdir())
        except OSError as exc:
            raise InputError(f"cannot list the folder: {exc.strerror or exc}", p) from None
        splits = [d for d in entries if d.is_dir() and not d.is_symlink()
                  and any((d / n).is_dir() for n in ("images", *VERSIONS))]
        return p, splits
    if _configs(p.parent) and any((p / v).is_dir() for v in VERSIONS):
        return p.parent, [p]
    raise InputError("no config_v1.2.json or config_v2.0.json (a Mapillary Vistas folder holds them beside "
                     "<split>/v1.2/ and <split>/v2.0/)", p)


def detect(path) -> Detection:
    """A folder with ``config_v*.json`` and ``<split>/v*/`` folders (or a split folder of one)."""
    p = Path(path)
    try:
        if not p.is_dir():
            return NO
        root, splits = _layout(p)
    except (InputError, OSError):
        return NO
    have = sorted({v for s in splits for v in VERSIONS if (s / v).is_dir()} & set(_configs(root)))
    if not have:
        return NO
    where = "" if root == p else f" (a split of {root.name})"
    return Detection(0.9, f"Mapillary Vistas: config_{have[-1]}.json and <split>/{have[-1]}/ folders{where}")


# ------------------------------------------------------------------ reading
class _Read:
    """One read: the root, the label table, options, the dataset built and the next annotation id."""

    def __init__(self, root: Path, version: str, source: str, policy: ErrorPolicy, ds: Dataset):
        self.root, self.version, self.source, self.policy, self.ds = root, version, source, policy, ds
        self.table: LabelTable | None = None
        self.next_id = 1
        self.streaming = False  # a panoptic JSON is then indexed, not loaded whole

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def annotation(self, value: int, geometry, f, **kw) -> Annotation:
        """An annotation of label ``value``: a void region for the unlabeled label."""
        if value >= len(self.table.names):
            raise InputError(f"label value {value} is not in config_{self.version}.json "
                             f"({len(self.table.names)} labels)", f)
        if value in self.table.void:
            return Annotation(self.new_id(), None, geometry, attributes={"void": True}, **kw)
        return Annotation(self.new_id(), value, geometry, **kw)

    def item(self, split: Path, stem: str, size) -> Item:
        """The item ``<split>/<stem>`` of ``size`` (height, width), named by its image file when there is one."""
        images = split / "images"
        name = next((f"{stem}{s}" for s in IMAGE_SUFFIXES if _is_file(images / f"{stem}{s}")), f"{stem}.jpg")
        return Item(f"{split.name}/{stem}", f"{split.name}/images/{name}", width=size[1], height=size[0],
                    split=split.name)


def read(path, *, version: str | None = None, source: str = "auto", errors: str = "raise",
         raster: str = "coco") -> Dataset:
    """Read Mapillary Vistas annotations (layout and mapping in the module docs).

    Parameters
    ----------
    path : path
        The dataset folder (with ``config_v*.json``) or one split folder of it.
    version : {"v1.2", "v2.0"}, optional
        Which annotations; default: the one present, v2.0 when both are.
    source : {"auto", "instances", "panoptic", "labels", "polygons"}
    errors : {"raise", "skip", "keep"}
        ``skip`` drops a bad image (or polygon) and lists it in
        ``meta["skipped"]``; ``keep`` keeps a bad polygon as invalid geometry.
    raster : {"coco", "pil"}
        The rule polygons are painted with later (``meta["raster_rule"]``).

    Raises
    ------
    segmill.errors.InputError
        No config or no annotation folder of the version / source, or (with
        ``errors="raise"``) any bad file or value.
    """
    policy = ErrorPolicy.of(errors)  # unknown option values are refused before any work
    p, splits, rd = _start(path, version, source, policy, raster)
    rd.ds.items = list(_items(splits, rd))
    if not policy.keeping:
        rd.ds.validate(p)
    return rd.ds


def _start(path, version, source: str, policy: ErrorPolicy, raster: str):
    """``(path, split folders, read state)``: options checked, the layout, the config's categories, the meta."""
    if version is not None:
        check_choice("version", version, VERSIONS)
    check_choice("source", source, SOURCES)
    check_choice("raster", raster, RASTER_RULES)
    p = Path(path)
    if not p.is_dir():
        raise InputError("a Mapillary Vistas dataset is a folder", p)
    root, splits = _layout(p)
    version, notes = _version(root, splits, version, p)
    source = _source(splits, version, source, p)
    ds = Dataset(meta={"source_format": "mapillary", "image_root": str(root), "raster_rule": raster,
                       "mapillary_version": version, "mapillary_source": source})
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    rd = _Read(root, version, source, policy, ds)
    cfg = confine(root, root / f"config_{version}.json")
    rd.table = parse_config(jsonio.load(cfg)[0], cfg)
    ds.categories = list(rd.table.categories)
    used = [s.name for s in splits if (s / version / source).is_dir()]
    ds.meta["read_notes"] = notes + [f"{version} {source} read from {len(used)} split(s): {', '.join(used)}"] + (
        [f"label {rd.table.names[v]!r} is void: its pixels are void regions, not a category"
         for v in sorted(rd.table.void)])
    return p, splits, rd


def stream(path, *, version: str | None = None, source: str = "auto", errors: str = "raise",
           raster: str = "coco", selection: dict | None = None):
    """The header and the items, one image's files at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come, a failure raised once every image was read).
    The categories are the config's, known before the first item. A
    ``panoptic/`` JSON is indexed, never loaded whole
    (:mod:`segmill.formats._mapillary_panoptic`; a file the index cannot
    vouch for is loaded whole, with the whole read's error or values).
    Image ids are checked for repeats as :func:`read` checks them (a set of
    the ids seen). ``None`` (read whole) for ``errors="keep"``, where the
    read checks nothing after its files (an image id may repeat).
    ``selection``: one part of :func:`shards`, a run of the images across
    the splits, which carries each split's count of units (found once on
    the driver): the splits before the run are passed over unread, and a
    panoptic JSON of a split the run reaches is indexed whole, its image
    sizes read; only the part's records are read back.
    """
    policy = ErrorPolicy.of(errors)
    if policy.keeping:
        return None
    p, splits, rd = _start(path, version, source, policy, raster)
    rd.streaming = True
    # read's message for a repeat
    return rd.ds, validated(_items(splits, rd, selection), rd.ds.categories, p, ids=True)


def shards(path, n: int, *, version: str | None = None, source: str = "auto", errors: str = "raise",
           raster: str = "coco") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of images of about equal bytes, across the splits.

    An image's size is its file's (a map, a polygons JSON); the images of a
    panoptic JSON (its annotation records) count alike, as does a panoptic
    JSON refused whole (one unit: its drop or error). ``None`` where
    :func:`stream` reads whole, and where two records of a panoptic JSON
    name one image (a repeated item id a part could not see in another
    part: the stream, read whole, refuses it). Each selection carries the
    units of every split (their counts, in reading order), so that a part
    passes over the splits before its run unread. Annotation ids run across
    the whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    policy = ErrorPolicy.of(errors)
    if policy.keeping:
        return None
    _, splits, rd = _start(path, version, source, policy, raster)
    rd.streaming = True
    sizes, counts = [], []
    for split, d in _folders(splits, rd):
        if rd.source != "panoptic":
            files = _files(rd.root, d, "*.json" if rd.source == "polygons" else "*.png")
            sizes += [f.stat().st_size for f in files]
            counts.append(len(files))
            continue
        count, read = _panoptic_units(split, d, rd)
        sizes += [1] * count
        counts.append(count)
        if hasattr(read, "doc"):
            names = [rec.get("file_name") for _, rec in read.doc.records(read.jf) if type(rec) is dict]
            stems = [Path(x).stem for x in names if isinstance(x, str)]
            if len(set(stems)) != len(stems):
                return None
    return with_header(runs(sizes, n), counts)


def _version(root: Path, splits: list, version, p: Path) -> tuple[str, list]:
    """The version read (given, else the one present, else v2.0) and the note saying why."""
    have = [v for v in _configs(root) if any((s / v).is_dir() for s in splits)]
    if version is not None:
        if version not in have:
            raise InputError(f"no {version} annotations (config_{version}.json and <split>/{version}/); "
                             f"present: {', '.join(have) or 'none'}", p)
        return version, []
    if not have:
        raise InputError("no <split>/v1.2/ or <split>/v2.0/ folder with its config_v*.json", p)
    if len(have) > 1:
        return have[-1], [f"both {' and '.join(have)} are present: {have[-1]} read (version={have[0]} reads the "
                          "other)"]
    return have[0], []


def _source(splits: list, version: str, source: str, p: Path) -> str:
    """The source read: the one given, or the first of :data:`_AUTO` some split has."""
    have = [s for s in _AUTO if any((sp / version / s).is_dir() for sp in splits)]
    if source == "auto":
        if not have:
            raise InputError(f"no {version}/instances, panoptic, labels or polygons folder in any split", p)
        return have[0]
    if source not in have:
        raise InputError(f"no {version}/{source} folder in any split; present: {', '.join(have) or 'none'}", p)
    return source


def _items(splits: list, rd: _Read, selection: dict | None = None):
    """Yield the items of every split folder in turn, from its ``<version>/<source>`` files; a bad one dropped
    or raised. ``selection``: the units ``start:stop`` only (:func:`_units`), annotation ids from its first id;
    a split wholly before them is passed over unread when the selection carries the splits' unit counts."""
    start, stop = (0, None) if selection is None else (selection["start"], selection["stop"])
    rd.next_id = first_annotation_id(selection)
    counts = header_of(selection, lambda: None)  # the driver's, else each split's units are found here
    at = 0
    for k, (split, d) in enumerate(_folders(splits, rd)):
        if stop is not None and at >= stop:
            return
        if counts is not None and at + counts[k] <= start:
            at += counts[k]
            continue
        n, read = _units(split, d, rd)
        a, b = max(start - at, 0), n if stop is None else min(stop - at, n)
        if a < b:
            yield from read(a, b)
        at += n


def _folders(splits: list, rd: _Read):
    """``(split, its <version>/<source> folder)`` of every split that has one, in reading order."""
    for split in splits:
        d = split / rd.version / rd.source
        if d.is_dir():
            yield split, d


def _units(split: Path, d: Path, rd: _Read) -> tuple:
    """``(n, read)``: a split folder's units (its files; a panoptic JSON's annotation records, or the JSON
    itself when it is refused whole) and ``read(a, b)``, yielding the items of the units ``a:b``."""
    if rd.source == "panoptic":
        return _panoptic_units(split, d, rd)
    files = _files(rd.root, d, "*.json" if rd.source == "polygons" else "*.png")

    def read(a: int, b: int):
        for f in files[a:b]:
            try:
                item = _polygons_item(split, f, rd) if rd.source == "polygons" else _map_item(split, f, rd)
            except InputError as exc:
                rd.policy.drop(exc)
                continue
            yield item

    return len(files), read


def _files(root: Path, d: Path, pattern: str) -> list[Path]:
    """The files of folder ``d`` matching ``pattern``; ``d`` and each file must resolve inside ``root``.

    ``d`` is globbed itself (its name may hold ``[``, ``*``...), after checking it is not a link out of ``root``.
    """
    return [f for f in confined_glob(confine(root, d), pattern) if confine(root, f)]


def _map_item(split: Path, f: Path, rd: _Read) -> Item:
    """An item of ``labels/`` (one region per label) or ``instances/`` (one annotation per value)."""
    img = read_png(f)
    modes = ("I;16", "L") if rd.source == "instances" else ("L", "P")
    mode = "I;16" if img.mode.startswith("I;16") else img.mode  # any byte order of 16-bit grey
    if mode not in modes or img.array.ndim != 2:
        raise InputError(f"image mode is {img.mode}; a {rd.source} map is {' or '.join(modes)}", f)
    arr = img.array
    item = rd.item(split, f.stem, img.size)
    label = {v: v // 256 if rd.source == "instances" else v for v in np.unique(arr).tolist()}
    void = [v for v, lab in label.items() if lab in rd.table.void]
    for v, lab in label.items():
        if v not in void:
            item.annotations.append(rd.annotation(lab, encode(arr == v), f))
    if void:  # one void region per image, whatever instance numbers it holds
        item.annotations.append(rd.annotation(label[void[0]], encode(np.isin(arr, void)), f))
    return item


def _panoptic_units(split: Path, d: Path, rd: _Read) -> tuple:
    """``(n, read)`` of one ``panoptic/`` folder (see :func:`_units`): its ``panoptic_*.json`` and the PNGs
    beside it; ``n`` is 1 (a unit dropped or raised) when the JSON is refused whole."""
    docs = _files(rd.root, d, "*.json")
    if len(docs) != 1:
        return 1, _refused(InputError(f"expected one panoptic JSON, found {len(docs)}", d), rd)
    jf = docs[0]
    doc = panoptic_doc(jf, rd.streaming)
    try:
        cats = panoptic_categories(doc.top, rd.table, jf)
        n = doc.count(jf)
        sizes: dict = {}
        for start, images in doc.image_runs():
            _image_sizes(images, jf, start, sizes)
    except InputError as exc:
        return 1, _refused(exc, rd)

    def read(a: int, b: int):
        for i, rec in doc.records(jf, a, b):
            try:
                item = _panoptic_item(split, d, jf, (i, rec), (cats, sizes), rd)
            except InputError as exc:
                rd.policy.drop(exc)
                continue
            yield item

    read.doc, read.jf = doc, jf  # for shards: the records' file names
    return n, read


def _refused(exc: InputError, rd: _Read):
    """``read(a, b)`` of a unit that is refused: no item, ``exc`` dropped (or raised)."""
    def read(a: int, b: int):
        rd.policy.drop(exc)
        yield from ()

    return read


def _image_sizes(images, jf, start: int, out: dict) -> None:
    """Add ``{image id: (height, width)}`` of the records ``images`` of a panoptic JSON's ``images`` (from
    position ``start``) to ``out`` (records without a size left out)."""
    if type(images) is not list:
        raise InputError(f"images must be a list, got {brief(images)}", jf)
    for i, im in enumerate(images, start):
        if type(im) is not dict or "id" not in im:
            raise InputError("an image record needs an id", jf, f"images[{i}]")
        iid = hashable_id(im["id"], "image id", jf, f"images[{i}]")
        if im.get("height") is not None or im.get("width") is not None:
            out[iid] = image_size(im.get("height"), im.get("width"), jf, f"image id {brief(iid)}", allow_zero=False)


def _panoptic_item(split: Path, d: Path, jf: Path, numbered, known, rd: _Read) -> Item:
    """The item of annotation record ``numbered = (i, record)``; ``known = (categories, image sizes)``."""
    i, rec = numbered
    cats, sizes = known
    where = f"annotations[{i}]"
    if type(rec) is not dict:
        raise InputError(f"an annotation record must be an object, got {brief(rec)}", jf, where)
    iid = hashable_id(rec.get("image_id"), "image_id", jf, where)
    where = f"image id {brief(iid)}"
    name = string(rec.get("file_name"), "file_name", jf, where, allow_empty=False)
    segs = segments(rec.get("segments_info"), cats, jf, where)
    png = resolve_inside(d, name, jf, where)
    img = read_png(png)
    if img.mode != "RGB" or img.array.ndim != 3:
        raise InputError(f"a panoptic PNG is RGB, got mode {img.mode}", png)
    if iid in sizes and sizes[iid] != img.size:
        h, w = sizes[iid]
        raise InputError(f"PNG is {img.size[1]}x{img.size[0]} (width x height) but the JSON says {w}x{h}", png)
    a = img.array.astype(np.int32)
    ids = a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]
    present = set(np.unique(ids).tolist()) - {0}
    declared = {s.id for s in segs}
    if present != declared:
        odd = sorted(present ^ declared)[:5]
        raise InputError(f"segment id(s) {odd} are in the PNG or in segments_info but not in both", png, where)
    item = rd.item(split, Path(name).stem, img.size)
    for s in segs:
        item.annotations.append(rd.annotation(s.value, encode(ids == s.id), jf, iscrowd=s.iscrowd, area=s.area,
                                              bbox=s.bbox))
    if 0 in np.unique(ids):
        item.annotations.append(Annotation(rd.new_id(), None, encode(ids == 0), attributes={"void": True}))
    return item


def _polygons_item(split: Path, f: Path, rd: _Read) -> Item:
    """An item of ``polygons/``: one polygon annotation per object (a bad one dropped or kept invalid)."""
    doc = jsonio.load(f)[0]
    objs = doc.get("objects") if type(doc) is dict else None
    if type(objs) is not list:
        raise InputError("a polygons file needs an 'objects' list", f)
    item = rd.item(split, f.stem, polygon_size(doc, f))
    for k, obj in enumerate(objs):
        rec = f"objects[{k}]"
        try:
            if type(obj) is not dict:
                raise InputError(f"an object must be a JSON object, got {brief(obj)}", f, rec)
            label = string(obj.get("label"), "label", f, rec)
            value = rd.table.value_of(label)
            if value is None:
                raise InputError(f"label {brief(label)} is not in config_{rd.version}.json", f, rec)
            geom = polygon_parts(obj.get("polygon"), f, rec)
        except InputError as exc:
            if not rd.policy.keep_or_drop(exc):
                continue
            item.annotations.append(Annotation(rd.new_id(), None, InvalidGeometry(obj, exc.message)))
            continue
        item.annotations.append(rd.annotation(value, geom, f))
    return item


register_format(
    FormatSpec(
        name="mapillary",
        example="mapillary/basic",
        description="Mapillary Vistas v1.2 / v2.0 (config_v*.json; labels/, instances/ = class*256+k, panoptic/, "
                    "v2.0 polygons/); read only",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=None,
        output="dir",
        options=(
            ERRORS,
            Option("version", "reader", "which annotations: v1.2 or v2.0 (default: the one present, v2.0 when "
                   "both are)", kind="choice", choices=VERSIONS),
            Option("source", "reader", "which files: auto (instances, else panoptic, labels, polygons), instances, "
                   "panoptic, labels or polygons", kind="choice", choices=SOURCES, default="auto"),
            raster("reader", "coco, or pil: how v2.0 polygons are painted later"),
        ),
    )
)
