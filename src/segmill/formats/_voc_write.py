"""Pascal VOC writer (see :mod:`segmill.formats.voc` for the layout and the rules)."""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .._nameset import NameSet
from .._progress import track
from ..budget import scaled
from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS, Box
from ..losses import WriteReport
from ..model import Dataset
from ..raster import rasterize
from ..validate import brief, image_size
from ._png import voc_colormap, write_png
from ._voc_masks import (
    VOID_NAMES,
    ClassList,
    check_class_names,
    default_classes,
    read_class_names,
    write_labelmap,
)
from ._voc_xml import box_to_voc, centre_polygons, parse_fragment, write_xml, xml_name_ok
from .options import RASTER_RULES, check_choice, raster_rule

__all__ = ["NAME_MAX", "SETS", "check_options", "file_stem", "painted_size", "write", "write_stream"]

#: Bytes in one file-name component (NAME_MAX of Linux, macOS and Windows file systems).
NAME_MAX = 255
#: Characters of ``ImageSets`` lines a write keeps in memory before appending them to scratch files.
_LIST_BUFFER = 4 << 20
#: Lines of one list joined into one string (see ``_Lines``).
_CHUNK_LINES = 256
#: The ``ImageSets`` list kinds.
SETS = ("Main", "Segmentation", "Layout", "Action")


def _colors(cats, report: WriteReport) -> dict:
    """``{category id: (r, g, b)}`` of the categories whose colour a palette can hold; others are reported."""
    out = {}
    for c in cats:
        if c.color is None:
            continue
        if len(c.color) == 3 and all(0 <= v <= 255 for v in c.color):
            out[c.id] = tuple(c.color)
        else:
            report.lose("L001", f"colour {brief(c.color)} of category {brief(c.name)} is not r,g,b in 0..255: "
                        "the VOC colour is used")
    return out


def _class_values(ds: Dataset, report: WriteReport):
    """``{category id: label value}`` and the ClassList written."""
    cats = ds.categories
    rgb = _colors(cats, report)
    src: ClassList | None = ds.meta.get("voc_classes")
    if ds.meta.get("voc_class_values") and all(isinstance(c.id, int) and 0 <= c.id < 255 for c in cats):
        values = {c.id: c.id for c in cats}
        n = max(values.values(), default=-1) + 1
        names = [f"class{i}" for i in range(n)]
        colors = [tuple(int(v) for v in voc_colormap()[i]) for i in range(n)]
        for c in cats:
            names[c.id] = c.name
            if c.id in rgb:
                colors[c.id] = rgb[c.id]
    else:
        names, colors, values = [], [], {}
        cmap = voc_colormap()
        bg = [c for c in cats if c.name in ("background", "_background_")]
        if bg:
            values[bg[0].id] = 0
            names.append(bg[0].name)
        else:
            names.append("background")
        for c in cats:
            if c.id in values:
                continue
            if c.name in VOID_NAMES:  # labelme's __ignore__: void, not a class
                continue
            v = len(names)
            if v >= 255:
                report.lose("L201", f"category {c.name!r} (id {c.id!r}) has no label value left")
                continue
            values[c.id] = v
            names.append(c.name)
        colors = [tuple(int(x) for x in cmap[i]) for i in range(len(names))]
        for c in cats:
            if c.id in values and c.id in rgb:
                colors[values[c.id]] = rgb[c.id]
    report_renumbered(cats, values, report)
    void_name = src.void_name if src else None
    void_color = src.void_color if src else None
    return values, ClassList(names, colors, void_name, void_color, src.source if src else "written")


def report_renumbered(cats, values: dict, report: WriteReport) -> None:
    """Report ``L208`` once when a category id is not its label value, or value 0 is a class not in ``cats``."""
    moved = [c for c in cats if c.id in values and values[c.id] != c.id]
    if moved:
        c = moved[0]
        report.lose("L208", f"{len(moved)} category id(s) renumbered to label values (e.g. {brief(c.name)}: "
                    f"id {brief(c.id)} -> {values[c.id]})")
    elif 0 not in values.values():
        report.lose("L208", "a 'background' class added at label value 0: it reads back as a category")


def _voc_id(item, seen, spaces: bool = True) -> str:
    """A file-name stem for ``item``, unique among ``seen``.

    Path separators (and, unless ``spaces``, white space: VOC's image lists
    are split on it) become ``_``; the stem is never ``.`` or ``..``.
    """
    orig = item.extra.get("segmill_id")  # a string id the COCO writer had to renumber
    sid = item.id if isinstance(item.id, str) else orig if isinstance(orig, str) and orig else None
    stem = PurePosixPath(item.file_name.replace("\\", "/")).stem if isinstance(item.file_name, str) else ""
    if sid is not None and "/" not in sid.replace("\\", "/"):
        base = sid
    else:  # no string id, or a reader's "split/name" id (YOLO, Cityscapes): the image's own name
        base = stem or sid or str(item.id)

    def clean(name: str) -> str:
        name = name.replace("/", "_").replace("\\", "_")
        return name if spaces else "".join("_" if ch.isspace() else ch for ch in name)

    base = clean(base)
    if base in ("", ".", "..") or base in seen:
        base = stem = clean(f"{base}_{item.id}")
        k = 2
        while stem in seen:  # the suffixed name may itself be taken
            stem = f"{base}_{k}"
            k += 1
        base = stem
    seen.add(base)
    return base


def file_stem(item, seen, spaces: bool = True, suffix: str = ".png") -> str:
    """:func:`_voc_id`, refused when no file can be named by it (before anything is written).

    Raises
    ------
    segmill.errors.InputError
        The name holds a NUL byte, is not valid Unicode (a lone surrogate),
        or ``stem + suffix`` is longer than a file name can be (255 bytes).
    """
    stem = _voc_id(item, seen, spaces)
    rec = f"image {brief(item.id)}"
    if "\0" in stem:
        raise InputError(f"file name {brief(stem)} holds a NUL byte; no file can have it", record=rec)
    try:
        n = len(f"{stem}{suffix}".encode())
    except UnicodeEncodeError:
        raise InputError(f"file name {brief(stem)} is not valid Unicode; no file can have it", record=rec) from None
    if n > NAME_MAX:
        raise InputError(f"file name {brief(stem + suffix)} is {n} bytes long; a file name holds at most "
                         f"{NAME_MAX}", record=rec)
    return stem


def check_options(raster: str, overlap: str) -> None:
    """Unknown ``raster`` / ``overlap`` values are usage errors (exit 2), found before any work."""
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import OVERLAP_POLICIES

    check_choice("raster", raster, RASTER_RULES)
    if overlap not in OVERLAP_POLICIES:
        raise UsageError(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}; got {brief(overlap)}")


def painted_size(item, rec: str | None = None):
    """``(height, width)`` of an item whose masks will be painted, within the pixel limit and not empty."""
    return image_size(item.height, item.width, None, rec or f"image {brief(item.id)}", allow_zero=False)


def _has_masks(item) -> bool:
    return any(_is_painted(a.geometry) for a in item.annotations)


def _planned(item, seen: set) -> tuple:
    """``(item, VOC id)``, its id unique among ``seen`` and its painted size checked."""
    vid = file_stem(item, seen, spaces=False)
    if _has_masks(item) and item.height is not None and item.width is not None:
        painted_size(item)
    return item, vid


def _plan(dataset: Dataset) -> list:
    """``[(item, VOC id)]``: every id and every painted size checked before anything is written."""
    seen = NameSet()
    return [_planned(item, seen) for item in dataset.items]


def _list_name_ok(name) -> bool:
    """Whether ``name`` can name an ``ImageSets`` list file (``<name>.txt``) inside its folder."""
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        return False
    try:
        return len(name.encode()) <= NAME_MAX - len(".txt")
    except UnicodeEncodeError:
        return False


def _split_of(item, report) -> str:
    split = item.split or "default"
    if _list_name_ok(split):
        return split
    report.lose("L001", f"split {brief(split)} cannot name an image list file: listed in 'default'", item.id)
    return "default"


def _moved_from(item) -> set:
    """The splits of ``voc_sets`` as read, when the item has since been given another split (else empty)."""
    sets = item.extra.get("voc_sets")
    if item.split is None or not isinstance(sets, dict) or not sets:
        return set()
    read = {s for v in sets.values() if isinstance(v, list) for s in v if isinstance(s, str)}
    return read if item.split not in read else set()


def _sets_of(item, report) -> dict:
    """``{kind: [split, ...]}`` of the lists the image is written in (``voc_sets`` as read, checked).

    An item given another split since it was read (``segmill convert --split``)
    is listed in the same kinds of list, under its new split.
    """
    sets = item.extra.get("voc_sets")
    if not sets:
        return {"Main": [_split_of(item, report)]}
    if isinstance(sets, dict) and all(k in SETS and isinstance(v, list) and all(map(_list_name_ok, v))
                                      for k, v in sets.items()):
        if _moved_from(item):
            return {k: [_split_of(item, report)] for k in sets}
        return sets
    report.lose("L001", f"voc_sets {brief(sets)} is not {{list kind: [split, ...]}}: image listed by its split",
                item.id)
    return {"Main": [_split_of(item, report)]}


def _labels_of(item, report) -> dict:
    """``{"<class>_<split>": 1|0|-1}`` image-level labels (``voc_labels`` as read, checked)."""
    labels = item.extra.get("voc_labels")
    if not labels:
        return {}
    if isinstance(labels, dict) and all(_list_name_ok(k) and type(v) is int for k, v in labels.items()):
        moved = _moved_from(item)
        if not moved:
            return labels
        out = {}  # "<class>_<old split>" lists follow the item to its new split
        for k, v in labels.items():
            cls, _, split = k.rpartition("_")
            out[f"{cls}_{item.split}" if cls and split in moved else k] = v
        return out
    report.lose("L001", f"voc_labels {brief(labels)} is not {{list name: integer}}: dropped", item.id)
    return {}


def write(dataset: Dataset, path, *, raster: str | None = None, overlap: str = "zorder", mask_mode: str | None = None,
          labels=None, xml_polygons: bool = False) -> WriteReport:
    """Write a Pascal VOC folder.

    Parameters
    ----------
    raster : {"coco", "pil"}
        Polygon rasterization rule for the masks (each painted polygon is
        reported as ``L705``: it reads back as a mask).
    overlap : {"zorder", "last"}
        Which annotation owns a pixel several cover (see
        :func:`segmill.bridges.compose.compose`); overwritten pixels are
        reported (``L701``).
    mask_mode : {"P", "RGB"}, optional
        Paletted (default) or RGB masks; defaults to what a VOC source had.
    labels : path, optional
        A class list (one name a line) fixing the label values.
    xml_polygons : bool, default False
        Also write each object's painted pixels as ``<polygon>`` elements
        (Roboflow's VOC extension, which supervision reads): 1-based
        pixel-centre outlines, one per connected part, holes joined by
        zero-width seams, so that filling them (``cv2.fillPoly``) gives
        exactly the ``SegmentationObject`` pixels. Polygons kept from a
        source's XML are replaced.

    Raises
    ------
    segmill.errors.InputError
        Before anything is written: an image whose name cannot be a file
        name (NUL byte, too long), or whose masks would be empty or over the
        pixel limit; text XML cannot hold.
    """
    return _write_planned(dataset, lambda: _plan(dataset), path, raster, overlap, mask_mode, labels, xml_polygons)


def write_stream(stream, path, *, raster: str | None = None, overlap: str = "zorder", mask_mode: str | None = None,
                 labels=None, xml_polygons: bool = False) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image whose name or size the write refuses stops it there (the caller
    stages the folder, so nothing is left of it). Memory holds one image,
    an 8-byte digest of each image's VOC id (:class:`~segmill._nameset.NameSet`)
    and at most :data:`_LIST_BUFFER` characters of ``ImageSets`` lines.
    """
    seen = NameSet()
    return _write_planned(stream.header, lambda: (_planned(item, seen) for item in stream), path, raster, overlap,
                          mask_mode, labels, xml_polygons)


def _write_planned(dataset: Dataset, plan, path, raster, overlap: str, mask_mode, labels,
                   xml_polygons: bool) -> WriteReport:
    """Write the ``(item, VOC id)`` pairs ``plan()`` gives with the categories and meta of ``dataset``."""
    raster = raster_rule(dataset, raster)
    check_options(raster, overlap)
    out = Path(path)
    report = WriteReport()
    values, classes = _label_values(dataset, labels, report)
    names = {c.id: c.name for c in dataset.categories}
    mode = mask_mode or dataset.meta.get("voc_mask_mode") or "P"
    if mode not in ("P", "RGB"):
        raise UsageError(f"mask_mode must be 'P' or 'RGB', got {brief(mode)}")
    want_labelmap = (classes.names[:21] != list(default_classes().names) or len(classes.names) != 21
                     or classes.source == "labelmap")
    if want_labelmap:
        check_class_names(list(classes.names) + ([classes.void_name] if classes.void_name else []), "labelmap.txt")
    plan = plan()
    palette, obj_palette = _palettes(dataset, classes, labels)
    for d in ("Annotations", "ImageSets/Main", "ImageSets/Segmentation"):
        (out / d).mkdir(parents=True, exist_ok=True)
    if dataset.info or dataset.licenses or dataset.extra:
        report.lose("L001", "dataset-level info / licenses / extra fields have no place in VOC")
    run = _Run(out, values, names, classes, palette, obj_palette, mode, raster, overlap, report, xml_polygons)
    lists = _Lists(out)
    for item, vid in track(plan, desc="voc"):
        _write_item(item, vid, run)
        lists.add(item, vid, report)
        report.items += 1
    lists.write(out, report)
    if want_labelmap:
        write_labelmap(out / "labelmap.txt", classes)
        report.files += 1
    return report


def _label_values(dataset: Dataset, labels, report: WriteReport):
    """``{category id: label value}`` and the class list: from the ``labels`` file when given."""
    if labels is None:
        return _class_values(dataset, report)
    cl = read_class_names(Path(labels))
    by_name = {n: i for i, n in enumerate(cl.names)}
    values = {}
    for c in dataset.categories:
        if c.name in by_name:
            values[c.id] = by_name[c.name]
        elif cl.void_name and c.name == cl.void_name:
            continue
        else:
            report.lose("L206", f"category {brief(c.name)} is not in the class list {labels}")
    report_renumbered(dataset.categories, values, report)
    return values, cl


def _palettes(dataset: Dataset, classes: ClassList, labels) -> tuple[np.ndarray, np.ndarray]:
    """The class-map palette (the source's unless a class list is given) and the object-map palette."""
    raw = dataset.meta.get("palette")
    ok = isinstance(raw, bytes) and raw and len(raw) % 3 == 0
    src_palette = np.frombuffer(raw, np.uint8).reshape(-1, 3) if ok else None
    palette = src_palette if labels is None else None
    if palette is None or len(palette) < len(classes.names):
        palette = classes.color_table()
    obj_palette = src_palette
    if obj_palette is None:
        obj_palette = voc_colormap()
    return palette, obj_palette


class _Lines:
    """The buffered lines of one list, joined into one string every :data:`_CHUNK_LINES` lines.

    A list of short line strings costs about 70 bytes a line besides its
    characters; chunks cost about the characters.
    """

    __slots__ = ("chunks", "tail")

    def __init__(self):
        self.chunks: list[str] = []
        self.tail: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.chunks or self.tail)

    def append(self, line: str) -> None:
        self.tail.append(line)
        if len(self.tail) >= _CHUNK_LINES:
            self.chunks.append("".join(self.tail))
            self.tail = []

    def write_to(self, fh) -> None:
        """Write every buffered line, in order, to the text file ``fh`` (a chunk at a time)."""
        for chunk in self.chunks:
            fh.write(chunk)
        fh.write("".join(self.tail))

    def clear(self) -> None:
        self.chunks, self.tail = [], []


class _Lists:
    """The ``ImageSets`` lists of one write: image lists per (kind, split), image-level labels per list.

    Lines are kept in memory up to :data:`_LIST_BUFFER` characters in all
    (joined into chunks, :class:`_Lines`), then appended to one file per list
    in a scratch folder inside ``out``; at the end each list is moved into
    place, image lists first, then label lists (a label list named like an
    image list of ``Main`` replaces it, as the whole write always did). Memory
    holds no image's id past the buffer.
    """

    def __init__(self, out: Path):
        self.out = out
        self.sets: dict[tuple[str, str], _Lines] = {}
        self.labels: dict[str, _Lines] = {}
        self.files: dict[tuple, Path] = {}
        self.scratch: Path | None = None
        self.buffered = 0
        self.spills = 0
        self.limit = scaled(_LIST_BUFFER)

    def add(self, item, vid: str, report: WriteReport) -> None:
        """List the image written as ``vid`` where it belongs."""
        sets = _sets_of(item, report)
        if any(a.geometry is not None and not _is_box(a) for a in item.annotations) and "Segmentation" not in sets:
            sets = dict(sets)
            sets["Segmentation"] = [_split_of(item, report)]
        line = f"{vid}\n"
        for kind, splits in sets.items():
            for s in splits:
                self._put(self.sets, (kind, s), line)
        for key, v in _labels_of(item, report).items():
            self._put(self.labels, key, f"{vid} {v:2d}\n")
        if self.buffered > self.limit:
            self._spill()

    def _put(self, lists: dict, key, line: str) -> None:
        lines = lists.get(key)
        if lines is None:
            lines = lists[key] = _Lines()
            self.files[(lists is self.labels, key)] = None
        lines.append(line)
        self.buffered += len(line)

    def _spill(self) -> None:
        """Append every buffered line to its list's scratch file."""
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix=".lists-", dir=self.out))
        for which, lists in ((False, self.sets), (True, self.labels)):
            for key, lines in lists.items():
                if not lines:
                    continue
                f = self.files[(which, key)]
                if f is None:
                    f = self.files[(which, key)] = self.scratch / f"{self.spills}.txt"
                    self.spills += 1
                with open(f, "a", encoding="utf-8") as fh:
                    lines.write_to(fh)
                lines.clear()
        self.buffered = 0

    def write(self, out: Path, report: WriteReport) -> None:
        """Write every list under ``out/ImageSets``."""
        for (labels, key), spilled in sorted(self.files.items(), key=lambda kv: kv[0][0]):  # image lists first
            kind, name = ("Main", key) if labels else key
            d = out / "ImageSets" / kind
            d.mkdir(parents=True, exist_ok=True)
            target = d / f"{name}.txt"
            rest = (self.labels if labels else self.sets)[key]
            if spilled is None:
                with open(target, "w", encoding="utf-8") as fh:
                    rest.write_to(fh)
            else:
                with open(spilled, "a", encoding="utf-8") as fh:
                    rest.write_to(fh)
                os.replace(spilled, target)
            report.files += 1
        if self.scratch is not None:
            os.rmdir(self.scratch)


def _is_box(ann):
    return isinstance(ann.geometry, Box)


def _is_painted(g) -> bool:
    """Whether a geometry is painted in the masks (an area that is not a box)."""
    return isinstance(g, AREA_KINDS) and not isinstance(g, Box)


@dataclass(frozen=True)
class _Run:
    """What every image of one VOC write shares: the output, the class table, palettes, options, the report."""

    out: Path
    values: dict
    names: dict
    classes: Any
    palette: Any
    obj_palette: Any
    mode: str
    raster: str
    overlap: str
    report: WriteReport
    xml_polygons: bool = False


@dataclass
class _Image:
    """One image being written: its XML objects and each annotation's instance value, as they are decided."""

    item: Any
    vid: str
    keep_src: bool  # the instance values of a VOC source are kept
    labelme_rule: bool  # void follows labelme2voc: object value 0, its object number left unused
    objects: list = field(default_factory=list)
    obj_pos: list = field(default_factory=list)  # position of each XML object's annotation
    inst_values: list = field(default_factory=list)
    obj_no: int = 0  # object number = instance value, as VOC numbers them
    no_area: set = field(default_factory=set)  # annotations dropped with L002 (compose need not report them again)
    written: set = field(default_factory=set)  # positions of annotations that reach the output


def _write_item(item, vid, run: _Run):
    """Write one image's XML and masks."""
    src_vals = [a.extra.get("voc_instance") for a in item.annotations if _is_painted(a.geometry)
                and a.category_id is not None and not a.extra.get("voc_semantic")]
    keep_src = bool(src_vals) and all(isinstance(v, int) and 0 < v < 255 for v in src_vals)
    # a void region written with labelme's class list (__ignore__ first) follows labelme2voc: object value 0,
    # its object number left unused
    img = _Image(item, vid, keep_src, run.classes.void_name == "__ignore__")
    if item.size is not None:
        # One kernel call for the image's geometries: _place's areas and compose's painting then take
        # the RLEs the raster service keeps on each geometry (one call per geometry costs ~0.03 ms more).
        painted = [a.geometry for a in item.annotations if _is_painted(a.geometry)]
        if len(painted) > 1:
            rasterize(painted, item.size, run.raster)
    for pos, ann in enumerate(item.annotations):
        img.inst_values.append(_place(img, pos, ann, run))
    _number_mask_only(img, run)
    has_masks = any(_is_painted(a.geometry) for a in item.annotations)
    if has_masks:
        if item.height is None or item.width is None:
            run.report.lose("L005", "image size unknown: masks not written", item.id)
        else:
            _write_masks(img, run)
    _write_annotation_xml(img, has_masks, run)
    run.report.annotations += len(img.written)  # what was dropped is reported as a loss, not counted
    dropped = [k for k in item.extra if not k.startswith("voc_") and k != "segmill_id"] + list(item.attributes)
    if dropped:
        run.report.lose("L001", f"image fields {sorted(dropped)} have no place in VOC", item.id)


def _place(img: _Image, pos: int, ann, run: _Run) -> int:
    """Decide what annotation ``pos`` becomes (an XML object, painted pixels, or a loss); its instance value."""
    item, report, names, values, raster = img.item, run.report, run.names, run.values, run.raster
    g = ann.geometry
    void = ann.category_id is None and ann.attributes.get("void")
    if ann.iscrowd:
        report.lose("L203", "crowd region written as an ordinary object", item.id, ann.id)
    if ann.score is not None:
        report.lose("L204", f"score {ann.score} dropped", item.id, ann.id)
    if names.get(ann.category_id) in VOID_NAMES or (void and img.labelme_rule):
        # labelme's __ignore__ (a category of that name, or a void region written with labelme's
        # class list): painted void (255) in the class map, 0 in the object map, and (labelme2voc's
        # rule) its object number stays unused
        img.obj_no += 1
        return 0
    if ann.category_id is not None and ann.category_id not in values:
        report.lose("L206", f"category {ann.category_id!r} has no VOC label value", item.id, ann.id)
        return 0
    if g is not None and not isinstance(g, AREA_KINDS):
        # a line, points or invalid geometry: VOC holds boxes and masks only
        kind = getattr(g, "kind", type(g).__name__)
        report.lose("L002", f"a {kind!r} geometry has no area; VOC cannot hold it", item.id, ann.id)
        img.no_area.add(ann.id)
        return 0
    semantic = bool(ann.extra.get("voc_semantic"))
    has_pixels = _is_painted(g)
    if void or semantic or ann.category_id is None:
        return 0
    if has_pixels and item.size is not None and ann.to_rle(item.height, item.width, raster).area == 0:
        # nothing to paint and no box to give: an <object> without either reads back without geometry
        report.lose("L703", f"no pixels under the {raster} rule: not written", item.id, ann.id)
        img.no_area.add(ann.id)
        return 0
    if not ann.extra.get("voc_no_xml"):
        img.objects.append(_object(ann, item, names, report, raster))
        img.obj_pos.append(pos)
        img.written.add(pos)
        img.obj_no += 1
    if not has_pixels:
        return 0
    if img.keep_src:
        return ann.extra["voc_instance"]
    if not ann.extra.get("voc_no_xml"):
        return img.obj_no
    return 0  # numbered by _number_mask_only, after the XML objects


def _number_mask_only(img: _Image, run: _Run) -> None:
    """Give mask-only instances the next free values; drop (``L202``) the values an 8-bit map cannot hold."""
    inst_values, item = img.inst_values, img.item
    free = img.obj_no + 1
    for k, ann in enumerate(item.annotations):
        if inst_values[k] == 0 and ann.extra.get("voc_no_xml") and not img.keep_src and ann.category_id in run.values:
            inst_values[k] = free
            free += 1
    for k, v in enumerate(inst_values):
        if v > 254:
            run.report.lose("L202", f"instance {v} does not fit an 8-bit SegmentationObject", item.id,
                            item.annotations[k].id)
            inst_values[k] = 0


def _write_masks(img: _Image, run: _Run) -> None:
    """Paint and write the image's ``SegmentationClass`` and ``SegmentationObject`` maps."""
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import compose

    item, names, report, out, vid = img.item, run.names, run.report, run.out, img.vid
    paint_values = dict(run.values)
    paint_values.update({cid: 255 for cid, n in names.items() if n in VOID_NAMES})
    cmap, imap, losses = compose(item, paint_values, overlap=run.overlap, raster=run.raster,
                                 instance_values=img.inst_values, category_names=names,
                                 void_instance_value=0 if img.labelme_rule else 255)
    unpainted = set()
    for l in losses:
        if l.code in ("L702", "L703"):
            unpainted.add(l.annotation_id)
        if l.code == "L703" and l.annotation_id in img.no_area:
            continue
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
    img.written.update(k for k, a in enumerate(item.annotations) if _is_painted(a.geometry)
                       and a.id not in unpainted)
    for d in ("SegmentationClass", "SegmentationObject"):
        (out / d).mkdir(exist_ok=True)
    if run.xml_polygons:
        _add_polygons(img.objects, img.obj_pos, img.inst_values, item, run.values, cmap, imap)
    if run.mode == "RGB":
        table = run.classes.color_table()
        write_png(out / "SegmentationClass" / f"{vid}.png", table[cmap])
        write_png(out / "SegmentationObject" / f"{vid}.png", voc_colormap()[imap])
    else:
        write_png(out / "SegmentationClass" / f"{vid}.png", cmap, run.palette)
        write_png(out / "SegmentationObject" / f"{vid}.png", imap, run.obj_palette)
    report.files += 2


def _write_annotation_xml(img: _Image, has_masks: bool, run: _Run) -> None:
    """Write ``Annotations/<id>.xml``: the fields kept from a VOC source and the objects."""
    item = img.item
    h, w = item.height, item.width
    xml = _xml_of(item, run.report)
    doc = {
        "folder": xml.get("folder"),
        "filename": item.file_name,
        "size": (h, w) if h is not None and w is not None else None,
        "depth": xml.get("depth"),
        "segmented": xml.get("segmented", 1 if has_masks else 0),
        "extra_xml": xml.get("extra_xml"),
        "objects": img.objects,
    }
    write_xml(run.out / "Annotations" / f"{img.vid}.xml", doc, f"image {brief(item.id)}")
    run.report.files += 1


def _add_polygons(objects, obj_pos, inst_values, item, values, cmap, imap) -> None:
    """Each object's painted pixels (instance value and class) as ``<polygon>`` outlines, 1-based."""
    for obj, pos in zip(objects, obj_pos):
        obj["xml"] = [x for x in obj["xml"] if not re.match(r"\s*<polygon[\s/>]", x)]  # replaced, not doubled
        v = inst_values[pos]
        cat = item.annotations[pos].category_id
        if v <= 0 or cat not in values:
            continue
        m = (imap == v) & (cmap == values[cat])
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if not len(rows):
            continue
        r0, c0 = int(rows[0]), int(cols[0])
        crop = m[r0:int(rows[-1]) + 1, c0:int(cols[-1]) + 1]
        # centre (c + 0.5, r + 0.5) of pixel (r, c) is 1-based index c + 1: whole numbers
        obj["polygons"] = [[(int(x + 0.5) + c0, int(y + 0.5) + r0) for x, y in poly] for poly in centre_polygons(crop)]


def _fragments(raw, what, item, ann, report) -> list:
    """Raw XML strings kept from a VOC source, each parsed again (defusedxml); anything else is dropped."""
    if raw is None:
        return []
    if isinstance(raw, list):
        try:
            for text in raw:
                parse_fragment(text)
            return raw
        except InputError:
            pass
    report.lose("L001", f"{what} {brief(raw)} is not a list of XML elements: dropped", item.id,
                None if ann is None else ann.id)
    return []


def _xml_of(item, report) -> dict:
    """The ``<annotation>`` fields kept from a VOC source (``voc_xml``), checked."""
    xml = item.extra.get("voc_xml")
    if not xml:
        return {}
    if not isinstance(xml, dict):
        report.lose("L001", f"voc_xml {brief(xml)} is not a dict of XML fields: dropped", item.id)
        return {}
    out = {k: xml[k] for k in ("folder", "depth", "segmented") if isinstance(xml.get(k), (str, int, float))}
    out["extra_xml"] = _fragments(xml.get("extra_xml"), "voc_xml.extra_xml", item, None, report)
    return out


def _finite4(box):
    """``box`` as 4 finite floats, or ``None``."""
    if not isinstance(box, (tuple, list)) or len(box) != 4:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        return None
    try:
        vals = tuple(float(v) for v in box)
    except OverflowError:
        return None
    return vals if all(map(math.isfinite, vals)) else None


def _parts_of(ann, item, report):
    parts = ann.extra.get("voc_parts")
    if parts is None:
        return None
    if isinstance(parts, list) and all(
            isinstance(p, dict) and (p.get("name") is None or isinstance(p.get("name"), str))
            and (p.get("bndbox") is None or _finite4(p.get("bndbox")) is not None) for p in parts):
        return parts
    report.lose("L001", f"voc_parts {brief(parts)} is not a list of {{name, bndbox}}: dropped", item.id, ann.id)
    return None


def _actions_of(ann, item, report):
    acts = ann.extra.get("voc_actions")
    if acts is None:
        return None
    if isinstance(acts, dict) and all(xml_name_ok(k) for k in acts):
        return acts
    report.lose("L001", f"voc_actions {brief(acts)} is not a dict of action names: dropped", item.id, ann.id)
    return None


def _object(ann, item, names, report, raster):
    obj = {"name": names[ann.category_id], "attributes": {}}
    for k, v in ann.attributes.items():
        if isinstance(v, (str, int, float, bool)):
            obj["attributes"][k] = v
        else:
            report.lose("L205", f"attribute {brief(k)} ({type(v).__name__}) dropped", item.id, ann.id)
    bbox = _finite4(ann.bbox) if ann.bbox is not None else None
    if ann.bbox is not None and bbox is None:
        report.lose("L001", f"bbox {brief(ann.bbox)} is not 4 finite numbers: the box is taken from the geometry",
                    item.id, ann.id)
    if bbox is not None:
        box = bbox
    elif isinstance(ann.geometry, Box):
        box = ann.geometry.bounds
    elif item.height is not None and item.width is not None:
        box = ann.to_rle(item.height, item.width, raster).bbox
    else:
        box = None
    obj["bndbox"] = box_to_voc(box) if box is not None and box[2] > 0 and box[3] > 0 else None
    obj["parts"] = _parts_of(ann, item, report)
    obj["actions"] = _actions_of(ann, item, report)
    obj["xml"] = _fragments(ann.extra.get("voc_xml"), "voc_xml", item, ann, report)
    dropped = [k for k in ann.extra if not k.startswith("voc_")]
    if dropped:
        report.lose("L001", f"annotation fields {sorted(dropped)} have no place in VOC", item.id, ann.id)
    return obj


