"""Plain PNG mask folders: semantic label maps with a class list, optional instance id maps.

Layout (read and written)::

    <root>/
      classes.txt            one class name a line; line order = label value (0, 1, ...);
                             a line "__ignore__" (or "ignored") names void, which is
                             ``ignore_value`` (255) and takes no value
      semantic/<stem>.png    label map: 8-bit grey, 16-bit grey or paletted (index = value)
      instances/<stem>.png   optional instance id map, 8- or 16-bit, 0 = no instance
      instances.json         optional {"<stem>": {"<instance id>": "<class name>"}}: the
                             class of each instance when there is no semantic map

A folder without ``semantic/`` and ``instances/`` but with PNG label maps
directly in it (beside ``classes.txt``) is read as a flat folder of semantic
maps (``meta["masks_layout"] = "flat"``). A folder where no label map can be
found where either layout puts them, but PNGs lie elsewhere, is refused with
a message naming the expected layout: never an empty dataset.

An instance's class comes from the semantic map under it (one annotation per
class found there) or, without a semantic map, from ``instances.json``.
Class pixels outside every instance become one annotation per class
(``extra["voc_semantic"]``); void pixels one void annotation. Items are named
by the PNG stem; the image is ``images/<stem>.*`` when present.

The writer paints every area annotation (polygons, boxes, masks) with
:func:`segmill.bridges.compose.compose`; a polygon or box reads back as a
mask, so each is reported (``L705``), like overwritten pixels (``L701``). An
instance map holds at most 65535 instances per image: further instances are
left out of ``instances/`` and reported (``L207``), never wrapped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import jsonio
from .._nameset import NameSet
from .._progress import track
from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS
from ..losses import WriteReport, register_codes
from ..model import Dataset, Item
from ..paths import confine, confined_glob
from ..validate import ErrorPolicy, brief, int_in, string
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import chosen, first_annotation_id, runs, size_of, with_headers
from ._perfile_stream import UniqueIds, validated
from ._png import read_label_png, write_png
from ._stream_passes import by_run, decoded_mode, first_pass, unchanged, whole_and_own
from ._voc_masks import (
    ClassList,
    check_class_names,
    dropped_fields,
    masks_to_annotations,
    read_class_names,
)
from ._voc_write import _class_values, check_options, file_stem, painted_size
from .options import ERRORS, Option, overlap, raster, raster_rule

__all__ = ["detect", "read", "stream", "write", "write_stream"]

register_codes({
    "L207": "more than 65535 instances in an image: the extra ones are left out of the 16-bit instances/ map "
            "(their pixels stay in the semantic map)",
}, changes={
    "pixels": ("L207",),
})

#: The most instances one 16-bit instance map numbers (0 is "no instance").
MAX_INSTANCES = 0xFFFF
#: Where each layout puts its label maps, for messages.
LAYOUT = ("classes.txt + semantic/<stem>.png (+ instances/<stem>.png), or classes.txt + <stem>.png label maps "
          "directly in the folder")


def detect(path) -> Detection:
    p = Path(path)
    try:
        if not (p.is_dir() and (p / "classes.txt").is_file()):
            return NO
        if (p / "semantic").is_dir() or (p / "instances").is_dir():
            return Detection(0.85, "classes.txt with semantic/ or instances/ PNG folders")
        if next(iter(p.glob("*.png")), None) is not None:
            return Detection(0.6, "classes.txt beside PNG label maps (a flat mask folder)")
    except OSError:  # a folder that cannot be listed
        return NO
    return NO


def _option_value(value, name: str) -> int:
    """A label-value option (``ignore_value``, ``background``): an int 0..65535, else a UsageError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise UsageError(f"{name} must be an integer 0..65535, got {brief(value)}")
    return int(value)


def _instance_doc(root: Path) -> dict:
    """``instances.json`` (``{stem: {instance id: class name}}``), checked to be an object of objects."""
    f = root / "instances.json"
    if not f.is_file():
        return {}
    doc, _ = jsonio.load(confine(root, f))
    if not isinstance(doc, dict):
        raise InputError(f"must be an object {{image stem: {{instance id: class name}}}}, got {brief(doc)}", f)
    return doc


def _instance_classes(raw, stem, name_to_value, f) -> dict[int, int]:
    """``{instance value: class value}`` of one image from its ``instances.json`` entry."""
    if not isinstance(raw, dict):
        raise InputError(f"must map instance ids to class names, got {brief(raw)}", f, stem)
    classes = {}
    for k, name in raw.items():
        rec = f"{stem}, instance {brief(k)}"
        try:
            value = int(k)
        except ValueError:  # JSON keys are strings; more digits than Python converts land here too
            raise InputError(f"instance id {brief(k)} is not an integer", f, rec) from None
        int_in(value, "instance id", f, rec, lo=0, hi=0xFFFF)
        string(name, "class name", f, rec)
        if name not in name_to_value:
            raise InputError(f"instance {brief(k)} has class {brief(name)}, which is not in the class list",
                             f, stem)
        classes[value] = name_to_value[name]
    return classes


def _image_names(root: Path) -> dict[str, str]:
    """``{stem: file name}`` of ``images/`` (first name in sorted order); names are not opened."""
    d = root / "images"
    out: dict[str, str] = {}
    if d.is_dir():
        try:
            names = sorted(f.name for f in d.iterdir())
        except OSError as exc:
            raise InputError(f"cannot list the folder: {exc.strerror or exc}", d) from None
        for name in names:  # the first "<stem>.*", as a glob of each stem found (no glob: stems hold any character)
            stem, dot, _ = name.rpartition(".")
            if dot and stem:
                out.setdefault(stem, name)
    return out


def read(path, *, labels=None, ignore_value: int = 255, background: int = 0, errors: str = "raise",
         raster: str = "coco") -> Dataset:
    """Read a mask folder (layout in the module docs).

    Parameters
    ----------
    labels : path, optional
        Class list (default ``<root>/classes.txt``).
    ignore_value : int, default 255
        Void value in the semantic maps.
    background : int, default 0
        Label value that is not an object (still a category).
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` an unreadable image is dropped and listed in
        ``meta["skipped"]``; any other value is a
        :class:`~segmill.errors.UsageError`.

    A mask PNG that is a symbolic link out of the folder is refused; one
    that is a directory is not a mask and is left out.
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    folder, stems, ds = _start(path, labels, ignore_value, background)
    images = _image_names(folder.root)
    if not policy.raising:
        # skip: listed and dropped; keep: listed for `segmill check` (S014)
        policy.skipped = ds.meta.setdefault("skipped", [])
    modes = set()
    ds.items = list(_items(folder, stems, images, policy, modes))
    if len(modes) == 1:
        ds.meta["masks_mode"] = modes.pop()
    if not policy.keeping:
        ds.validate(folder.root)
    return ds


def stream(path, *, labels=None, ignore_value: int = 255, background: int = 0, errors: str = "raise",
           raster: str = "coco", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come). The label-map stems and the names in
    ``images/`` are listed first and kept; ``instances.json`` (read only
    for images without a semantic map) is loaded whole, as the read loads
    it. ``meta["masks_mode"]`` depends on every semantic map: a first pass
    reads each one's PNG header (:func:`segmill.formats._stream_passes.decoded_mode`;
    nothing is decoded but images whose header cannot say it). ``None``
    (read whole) for ``errors`` other than ``"raise"``. ``selection``: one
    part of :func:`shards`, a run of the stems in order (see
    :mod:`segmill.formats._file_runs`), which carries the modes of every map
    and of the run's own (what its maps must still say when read).
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    folder, stems, ds = _start(path, labels, ignore_value, background)
    images = _image_names(folder.root)
    part = chosen(stems, selection)
    whole, modes = whole_and_own(selection, lambda s: _first_modes(folder, s), stems, part)
    if len(whole) == 1:
        ds.meta["masks_mode"] = next(iter(whole))
    seen: set = set()
    items = _items(folder, part, images, policy, seen, first_annotation_id(selection))
    items = unchanged(items, lambda: seen, modes, folder.root)
    return ds, UniqueIds(validated(items, ds.categories, folder.root))


def shards(path, n: int, *, labels=None, ignore_value: int = 255, background: int = 0, errors: str = "raise",
           raster: str = "coco") -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of stems of about equal bytes (their label maps).

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    if not ErrorPolicy.of(errors).raising:
        return None
    folder, stems, _ = _start(path, labels, ignore_value, background)
    sels = runs([sum(size_of(f) for f in _map_paths(folder, stem)) for stem in stems], n)
    return with_headers(sels, by_run(stems, sels, lambda s: _first_modes(folder, s), set.union))


def _first_modes(folder: _Folder, stems) -> tuple[set, bool]:
    """The modes of the semantic maps of ``stems`` (None: no map), from their headers (first pass), and whether
    the pass stopped at a map the read refuses."""
    modes: set = set()
    return modes, first_pass(stems, lambda stem: modes.add(_semantic_mode(folder, stem)))


def _start(path, labels, ignore_value, background) -> tuple[_Folder, list[str], Dataset]:
    """``(what every item shares, label-map stems, dataset without items)``; the options checked."""
    ignore_value = _option_value(ignore_value, "ignore_value")
    background = _option_value(background, "background")
    root = Path(path)
    if not root.is_dir():
        raise InputError("a mask folder is a folder", root)
    cl_path = Path(labels) if labels else confine(root, root / "classes.txt")
    if labels is None and not cl_path.is_file():
        raise InputError(f"no classes.txt (one class name a line, line n = label value n - 1; or give labels=FILE); "
                         f"a mask folder is {LAYOUT}", root)
    cl = read_class_names(cl_path)
    if ignore_value < len(cl.names):
        raise InputError(f"ignore value {ignore_value} collides with class {brief(cl.names[ignore_value])}",
                         cl_path)
    inst_doc = _instance_doc(root)
    stems, flat = _stems(root)
    folder = _Folder(root, cl, {n: i for i, n in enumerate(cl.names)}, inst_doc, ignore_value, background, flat)
    ds = Dataset(categories=cl.categories())
    ds.meta.update({"voc_class_values": True, "voc_classes": cl, "source_format": "masks",
                    "masks_layout": "flat" if flat else "semantic"})
    if flat:
        ds.meta["read_notes"] = [("label maps read from the folder itself (no semantic/ folder): each PNG is a "
                                  "semantic map, classes from classes.txt")]
    return folder, stems, ds


def _items(folder: _Folder, stems: list[str], images: dict, policy: ErrorPolicy, modes: set, nid: int = 1):
    """Yield the item of each stem in turn, annotation ids ``nid``, ``nid + 1``, ...; each semantic map's mode
    (None: none) is added to ``modes``."""
    for stem in stems:
        try:
            item, nid, mode = _item(folder, stem, nid)
        except InputError as exc:
            policy.drop(exc)
            continue
        item.file_name = images.get(stem, f"{stem}.png")
        modes.add(mode)
        yield item


def _semantic_mode(folder: _Folder, stem: str) -> str | None:
    """The mode the read gives the semantic map of ``stem`` (None: it has none), from its header where exact."""
    sem_p, _ = _map_paths(folder, stem)
    return decoded_mode(sem_p) if sem_p.is_file() else None


def _stems(root: Path) -> tuple[list[str], bool]:
    """The label-map stems and whether the folder is flat (PNGs beside ``classes.txt``).

    Raises
    ------
    segmill.errors.InputError
        No label map where either layout puts them while PNGs lie in other
        folders, or no label map and no ``semantic/`` / ``instances/``
        folder at all.
    """
    stems = sorted({f.stem for d in ("semantic", "instances") for f in confined_glob(root, f"{d}/*.png")})
    if stems:
        return stems, False
    flat = sorted(f.stem for f in confined_glob(root, "*.png"))
    if flat:
        return flat, True
    elsewhere = confined_glob(root, "*.png", recursive=True)
    if elsewhere:
        where = sorted({f.parent.relative_to(root).as_posix() for f in elsewhere})
        raise InputError(f"no label map in semantic/ or instances/, but {len(elsewhere)} PNG(s) in "
                         f"{', '.join(where[:3])}{' ...' if len(where) > 3 else ''}: a mask folder is {LAYOUT}", root)
    if not ((root / "semantic").is_dir() or (root / "instances").is_dir()):
        raise InputError(f"no label map: a mask folder is {LAYOUT}", root)
    return [], False  # empty semantic/ (an empty dataset written by segmill)


@dataclass(frozen=True)
class _Folder:
    """What reading every label map of one mask folder shares."""

    root: Path
    classes: ClassList
    name_to_value: dict  # {class name: label value}
    inst_doc: dict  # instances.json
    ignore_value: int
    background: int
    flat: bool = False


def _map_paths(folder: _Folder, stem: str) -> tuple[Path, Path]:
    """The semantic and instance map paths of ``stem``."""
    root = folder.root
    sem_p = root / f"{stem}.png" if folder.flat else root / "semantic" / f"{stem}.png"
    return sem_p, root / "instances" / f"{stem}.png"


def _item(folder: _Folder, stem: str, nid: int):
    """``(item, next annotation id, semantic map mode)`` of the label maps named ``stem``."""
    root = folder.root
    sem_p, ins_p = _map_paths(folder, stem)
    cmap = imap = None
    size = None
    mode = None
    if sem_p.is_file():
        img = read_label_png(sem_p, allow_16bit=True)
        cmap, size, mode = img.array, img.size, img.mode
    if ins_p.is_file():
        img = read_label_png(ins_p, size=size, allow_16bit=True, modes=("L", "I;16", "P"))
        imap, size = img.array, img.size
    classes = None
    if cmap is None and imap is not None:
        classes = _instance_classes(folder.inst_doc.get(stem, {}), stem, folder.name_to_value,
                                    root / "instances.json")
    pairs = masks_to_annotations(cmap, imap, len(folder.classes.names), sem_p if cmap is not None else ins_p,
                                 void_value=folder.ignore_value, background=folder.background, next_id=nid,
                                 instance_classes=classes)
    item = Item(stem, f"{stem}.png", width=size[1], height=size[0], annotations=[a for a, _ in pairs])
    return item, nid + len(pairs), mode


def write(dataset: Dataset, path, *, raster: str | None = None, overlap: str = "zorder", mode: str | None = None,
          instances: bool | None = None) -> WriteReport:
    """Write a mask folder.

    Parameters
    ----------
    mode : {"L", "P", "I;16"}, optional
        Semantic map encoding: 8-bit grey, paletted (VOC colours) or 16-bit;
        default: as read, else 8-bit (16-bit when a label value exceeds 254).
    instances : bool, optional
        Write ``instances/`` (default: when some annotation is an instance).

    Polygons and boxes are painted with the ``raster`` rule and reported
    (``L705``); ``report.annotations`` counts the annotations painted.

    Raises
    ------
    segmill.errors.InputError
        Before anything is written: an image whose name cannot be a file
        name (NUL byte, too long) or whose size is zero or over the pixel
        limit; a category name a class list cannot hold.
    """
    raster = raster_rule(dataset, raster)
    check_options(raster, overlap)
    if instances is None:
        instances = any(_instance_like(a) for _, a in dataset.annotations())
    return _write_planned(dataset, lambda: _plan(dataset), path, raster, overlap, mode, instances)


def write_stream(stream, path, *, raster: str | None = None, overlap: str = "zorder", mode: str | None = None,
                 instances: bool | None = None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image whose name or size the write refuses stops it there (the caller
    stages the folder, so nothing is left of it). Memory holds one image and
    each image's name. Without ``instances``, whether ``instances/`` is
    written depends on every image: the instance maps of the images before
    the first instance (all zero) are written when it comes (:class:`_Instances`).
    """
    header = stream.header
    raster = raster_rule(header, raster)
    check_options(raster, overlap)
    seen = NameSet()
    return _write_planned(header, lambda: (_planned(item, seen) for item in stream), path, raster, overlap, mode,
                          instances)


def _instance_like(ann) -> bool:
    """Whether ``ann`` makes :func:`write` write ``instances/`` by default (a class region that is not semantic)."""
    return ann.category_id is not None and not ann.extra.get("voc_semantic")


def _write_planned(dataset: Dataset, plan, path, raster: str, overlap: str, mode, instances) -> WriteReport:
    """Write the ``(item, stem)`` pairs ``plan()`` gives with the categories and meta of ``dataset``;
    ``instances`` None: ``instances/`` written once an image has an instance (:class:`_Instances`)."""
    out = Path(path)
    report = WriteReport()
    values, cl = _class_values(dataset, report)
    names = {c.id: c.name for c in dataset.categories}
    top = max(values.values(), default=0)
    mode = mode or dataset.meta.get("masks_mode") or ("I;16" if top > 254 else "L")
    if mode not in ("L", "P", "I;16"):
        raise UsageError(f"mode must be 'L', 'P' or 'I;16', got {brief(mode)}")
    lines = list(cl.names) + ([cl.void_name] if cl.void_name else [])
    check_class_names(lines, "classes.txt")
    plan = plan()  # the whole dataset: every name and size checked before anything is written
    (out / "semantic").mkdir(parents=True)
    (out / "classes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with _Instances(out, instances, report) as inst:
        run = _Run(out, values, names, cl, mode, raster, overlap, inst, report)
        for item, stem in track(plan, desc="masks"):
            inst.check(item)
            _write_item(item, stem, run)
    return report


class _Instances:
    """``instances/<stem>.png`` and ``instances.json`` (the bytes of ``json.dumps(doc, indent=1)``), written
    image by image.

    ``want`` None (not known yet, a stream): nothing is written until an
    image has an instance (:func:`_instance_like`); the images before it
    (their stems and sizes kept) then get their instance maps, all zero, and
    ``{}`` entries, as :func:`write` of the whole dataset gives them.
    """

    def __init__(self, out: Path, want: bool | None, report: WriteReport):
        self.out, self.want, self.report = out, want, report
        self.pending: list = []  # (stem, height, width) of the maps written while want is None
        self.file = None
        self.entries = 0

    def __enter__(self):
        if self.want:
            self._open()
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.write("\n}" if self.entries else "}")
            self.file.close()

    def _open(self) -> None:
        (self.out / "instances").mkdir()
        self.file = open(self.out / "instances.json", "w", encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
        self.file.write("{")

    def check(self, item) -> None:
        """Start writing instances when ``item`` is the first to have one (``want`` None)."""
        if self.want is None and any(_instance_like(a) for a in item.annotations):
            self.want = True
            self._open()
            pending, self.pending = self.pending, []
            for stem, h, w in pending:  # no instance painted: compose's instance map is uint8 zeros
                self.add(stem, np.zeros((h, w), np.uint8), {})

    def add(self, stem: str, imap: np.ndarray, cls_of: dict) -> None:
        """The instance map and ``instances.json`` entry of one image whose semantic map was written."""
        if self.want is None:
            self.pending.append((stem,) + imap.shape)
        elif self.want:
            # no cast: write_png refuses a value over 16 bits instead of wrapping it (L207 keeps them out)
            write_png(self.out / "instances" / f"{stem}.png", imap)
            self.report.files += 1
            entry = json.dumps({stem: cls_of}, indent=1)[2:-2]  # ' "stem": {...}' at the top level's indent
            self.file.write(("," if self.entries else "") + "\n" + entry)
            self.entries += 1


@dataclass(frozen=True)
class _Run:
    """What every image of one mask-folder write shares."""

    out: Path
    values: dict  # {category id: label value}
    names: dict  # {category id: category name}
    classes: ClassList
    mode: str  # of the semantic maps
    raster: str
    overlap: str
    instances: _Instances  # instances/ and instances.json
    report: WriteReport

    @property
    def void_value(self) -> int:
        return 255 if self.mode != "I;16" else 65535


def _plan(dataset: Dataset) -> list:
    """``[(item, file stem)]``: every name and size checked before anything is written."""
    seen = NameSet()
    return [_planned(item, seen) for item in dataset.items]


def _planned(item, seen: NameSet) -> tuple:
    """``(item, file stem)``, the stem unique among ``seen`` and the size checked."""
    stem = file_stem(item, seen)
    if item.height is not None and item.width is not None:
        painted_size(item)
    return item, stem


def _write_item(item, stem: str, run: _Run) -> None:
    """Write one image's maps (its instance map and classes through ``run.instances``)."""
    report = run.report
    if item.height is None or item.width is None:
        report.lose("L005", "image size unknown: no mask written", item.id)
        return
    if item.extra or item.attributes:
        report.lose("L001", f"image fields {sorted(list(item.extra) + list(item.attributes))} have no place "
                    "in a mask folder", item.id)
    ivals, cls_of = _instance_values(item, run)
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import compose

    cmap, imap, losses = compose(item, run.values, overlap=run.overlap, raster=run.raster, instance_values=ivals,
                                 void_value=run.void_value, category_names=run.names, paint_boxes=True)
    unpainted = _unpainted(item, ivals, losses, run)
    out, mode = run.out, run.mode
    if mode == "P":
        write_png(out / "semantic" / f"{stem}.png", cmap, run.classes.color_table())
    else:
        write_png(out / "semantic" / f"{stem}.png", cmap.astype(np.uint16 if mode == "I;16" else np.uint8))
    report.files += 1
    run.instances.add(stem, imap, cls_of)
    report.items += 1
    report.annotations += sum(1 for a in item.annotations if isinstance(a.geometry, AREA_KINDS)
                              and a.id not in unpainted)


def _instance_values(item, run: _Run) -> tuple[list, dict]:
    """The instance value of each annotation (0: none) and ``{value: class name}``; what is lost is reported."""
    report, values = run.report, run.values
    ivals, k = [], 0
    cls_of = {}
    for a in item.annotations:
        # points/lines are reported by compose (L703); polygons and boxes are painted (L705)
        if (not isinstance(a.geometry, AREA_KINDS) or a.category_id is None or a.extra.get("voc_semantic")
                or a.category_id not in values):
            ivals.append(0)
        elif k >= MAX_INSTANCES:
            ivals.append(0)  # never wrapped: 65536 would read back as instance 0 (no instance)
            report.lose("L207", f"more than {MAX_INSTANCES} instances in the image: this one is left out of "
                        "instances/ (its pixels stay in the semantic map)", item.id, a.id)
        else:
            k += 1
            ivals.append(k)
            cls_of[str(k)] = run.names.get(a.category_id)
        if a.score is not None:
            report.lose("L204", f"score {a.score} dropped", item.id, a.id)
        lost = dropped_fields(a)
        if lost:
            report.lose("L001", f"fields {lost} have no place in a mask folder", item.id, a.id)
        if a.iscrowd:
            report.lose("L203", "crowd region written as an ordinary region", item.id, a.id)
    return ivals, cls_of


def _unpainted(item, ivals: list, losses, run: _Run) -> set:
    """The ids of annotations that left no pixels; compose's losses and empty instances reported."""
    report, raster = run.report, run.raster
    unpainted = set()
    for l in losses:
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
        if l.code in ("L702", "L703"):
            unpainted.add(l.annotation_id)
    for a, v in zip(item.annotations, ivals):
        # an instance without pixels under the rule leaves no trace in the maps: it does not read back
        if v and a.id not in unpainted and a.to_rle(item.height, item.width, raster).area == 0:
            report.lose("L703", f"no pixels under the {raster} rule: nothing painted", item.id, a.id)
            unpainted.add(a.id)
    return unpainted


register_format(
    FormatSpec(
        name="masks",
        example="masks",
        description="plain PNG mask folder: classes.txt + semantic/*.png label maps (+ instances/*.png id maps)",
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
            Option("labels", "reader", "class list file (default classes.txt)", kind="path"),
            Option("ignore_value", "reader", "void value of the semantic maps", kind="int", default=255),
            Option("background", "reader", "label value that is not an object", kind="int", default=0),
            Option("mode", "writer", "semantic maps as 8-bit (L), paletted (P) or 16-bit (I;16)", kind="choice",
                   choices=("L", "P", "I;16")),
            Option("instances", "writer", "also write instances/ id maps (default: when there are instances)",
                   kind="bool"),
            overlap(),
            raster("both"),
        ),
    )
)
