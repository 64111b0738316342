"""Pascal VOC: ``Annotations/*.xml``, ``ImageSets``, ``SegmentationClass`` / ``SegmentationObject`` PNGs.

Reading
-------
* Classes: the ``labels`` option (a class list, one name a line), else
  ``labelmap.txt`` in the dataset root (``name:r,g,b::``), else the 21 VOC
  classes. A category's id is its label value (``background`` is 0). A
  class-list entry named ``ignored`` or ``__ignore__`` is void (255), not a
  class.
* Masks: paletted PNGs (pixel = label value) or RGB PNGs (colour looked up in
  the class colours / VOC colour map). Void (255) stays void: it becomes one
  annotation per image with no category and ``attributes["void"] = True``.
* Objects: instance ``i`` of ``SegmentationObject`` and object ``i`` of the XML
  (VOC numbers them alike) become one annotation (mask geometry, XML box in
  ``bbox``, ``pose`` / ``truncated`` / ``occluded`` / ``difficult`` in
  ``attributes``) when their classes agree; otherwise each stays its own
  annotation. XML objects without pixels are :class:`~segmill.geometry.Box`
  annotations; class pixels outside every instance are one annotation per
  class (``extra["voc_semantic"]``).
* Streaming (:func:`stream`): the same items, one image at a time, from the
  same generator; the image index (:mod:`._voc_index`) is read first, and a
  first pass over the mask PNG headers (:mod:`._voc_palette`) gives the
  header ``meta["palette"]`` and ``meta["voc_mask_mode"]``.

Writing
-------
Every annotation with a box or pixels is an XML object (numbered in order);
pixels are painted with :func:`segmill.bridges.compose.compose` (``overlap``,
``raster`` options), instance value = object number. Losses: ``L701``
overwritten pixels, ``L705`` polygons rasterized (boxes stay XML boxes),
``L201``-``L208`` (see :data:`CODES`). ``report.annotations`` counts the
annotations written (XML object or painted pixels), not the dropped ones.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ..errors import GeometryError, InputError
from ..geometry import Box
from ..losses import register_codes
from ..model import Annotation, Dataset, Item
from ..paths import confine, resolve_inside
from ..validate import ErrorPolicy, brief
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import chosen, first_annotation_id, header_of, runs, with_header
from ._png import colors_to_index, read_label_png, voc_colormap
from ._perfile_stream import UniqueIds, validated
from ._voc_index import read_index
from ._voc_masks import (
    ClassList,
    default_classes,
    masks_to_annotations,
    read_class_names,
    read_labelmap,
)
from ._voc_palette import MaskFacts, mask_facts
from ._voc_write import NAME_MAX, write, write_stream
from ._voc_xml import box_from_voc, parse_xml
from .options import ERRORS, Option, overlap, raster

__all__ = ["CODES", "detect", "read", "stream", "write"]

CODES = {
    "L201": "more than 255 classes: categories beyond label value 254 cannot be painted in an 8-bit VOC mask",
    "L202": "more than 254 instances in an image: the extra ones are left out of SegmentationObject",
    "L203": "iscrowd has no place in VOC: a crowd region was written as an ordinary object",
    "L204": "a detection score has no place in VOC and was dropped",
    "L205": "an attribute that is not a plain value (text, number, bool) was dropped from the XML",
    "L206": "a category id or name VOC cannot use (no label value left) was dropped",
    "L208": "category ids renumbered to label values, or a 'background' class added at value 0 (a class list "
            "numbers classes by position, background first)",
}
register_codes(CODES, changes={
    "classes": ("L201", "L206", "L208"),
    "crowd": ("L203",),
    "instance classes": ("L201", "L206"),
    "pixels": ("L201", "L202", "L206"),
})

_KNOWN_ATTRS = ("pose", "truncated", "occluded", "difficult")


# ------------------------------------------------------------------ detect
def detect(path) -> Detection:
    p = Path(path)
    if not p.is_dir():
        return NO
    has = [d for d in ("Annotations", "SegmentationClass", "SegmentationObject", "ImageSets") if (p / d).is_dir()]
    if not has:
        return NO
    if (p / "Annotations").is_dir() and (p / "ImageSets").is_dir():
        return Detection(0.95, "Annotations/ and ImageSets/ folders (Pascal VOC layout)")
    if "SegmentationClass" in has or "SegmentationObject" in has:
        return Detection(0.9, f"{', '.join(has)} folder(s) (Pascal VOC layout)")
    return Detection(0.6, f"{has[0]}/ folder (Pascal VOC layout)")


# -------------------------------------------------------------------- read
def _classes(root: Path, labels) -> ClassList:
    if labels is not None:
        return read_class_names(Path(labels))
    lm = root / "labelmap.txt"
    if lm.is_file():
        return read_labelmap(confine(root, lm))
    return default_classes()


def _read_mask(path, classes: ClassList, size, what):
    img = read_label_png(path, size=size, modes=("P", "RGB"))
    if img.mode == "RGB":
        table = classes.color_table() if what == "class" else voc_colormap()
        return colors_to_index(img.array, table, path), "RGB", None
    return img.array, "P", img.palette


def read(path, *, labels=None, raster: str = "coco", errors: str = "raise") -> Dataset:
    """Read a Pascal VOC dataset folder.

    Parameters
    ----------
    path : folder holding ``Annotations/``, ``ImageSets/``, ``SegmentationClass/``...
    labels : path, optional
        A class list file (one name a line; ``__ignore__`` = void 255,
        ``_background_`` = 0) overriding ``labelmap.txt``.
    raster : {"coco", "pil"}
        Kept for the reader conventions (VOC holds no polygons).
    errors : {"raise", "skip", "keep"}
        With ``"skip"`` an unreadable image record is dropped and listed in
        ``meta["skipped"]``; any other value is a
        :class:`~segmill.errors.UsageError`.

    Files listed in the dataset folders that are symbolic links out of the
    dataset, and image ids (from ``ImageSets``) naming files outside it,
    are refused (:class:`~segmill.errors.InputError`).
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    root, classes, index, ds = _start(path, labels)
    if not policy.raising:
        # skip: listed and dropped; keep: listed for `segmill check` (S014)
        policy.skipped = ds.meta.setdefault("skipped", [])
    facts = MaskFacts()
    ds.items = list(_items(root, index, classes, policy, facts))
    facts.apply(ds.meta)
    if not policy.keeping:
        ds.validate(root)
    return ds


def stream(path, *, labels=None, raster: str = "coco", errors: str = "raise", selection: dict | None = None):
    """The header and a generator of the items, one image at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come, a failure raised once every image was read). The
    image index (ids in reading order, their ``ImageSets`` lists) is read
    first and kept; so is what the masks say of the whole dataset
    (``meta["palette"]``, ``meta["voc_mask_mode"]``): a first pass reads
    each mask's PNG header (:mod:`segmill.formats._voc_palette`). ``None``
    (read whole) for ``errors`` other than ``"raise"``. ``selection``: one
    part of :func:`shards`, a run of images of the index (see
    :mod:`segmill.formats._file_runs`), which carries what every mask says.
    """
    policy = ErrorPolicy.of(errors)
    if not policy.raising:
        return None
    root, classes, index, ds = _start(path, labels)
    expected = header_of(selection, lambda: _first_pass(root, index, range(len(index.ids))))
    expected.apply(ds.meta)
    part = chosen(range(len(index.ids)), selection)
    if selection is not None:  # what the part's own masks say, for the check that they did not change
        expected = _first_pass(root, index, part)
    items = _streamed_items(root, index, classes, expected, part, first_annotation_id(selection))
    return ds, UniqueIds(validated(items, ds.categories, root))


def shards(path, n: int, *, labels=None, raster: str = "coco", errors: str = "raise"):
    """At most ``n`` selections of :func:`stream`: runs of about equal numbers of images of the index.

    ``None`` where :func:`stream` reads whole. Annotation ids run across the
    whole dataset: a part numbers from 1 and a sharded run renumbers.
    """
    if not ErrorPolicy.of(errors).raising:
        return None
    root, _, index, _ = _start(path, labels)
    return with_header(runs([1] * len(index.ids), n), _first_pass(root, index, range(len(index.ids))))


def _start(path, labels):
    """``(root, classes, index, dataset without items)``: what a read reads before the first image."""
    root = Path(path)
    if not root.is_dir():
        raise InputError("a VOC dataset is a folder", root)
    classes = _classes(root, labels)
    index = read_index(root)
    ds = Dataset(categories=classes.categories())
    ds.meta.update({"voc_class_values": True, "voc_classes": classes, "source_format": "voc"})
    return root, classes, index, ds


def _items(root, index, classes, policy, facts, part: range | None = None, next_id: int = 1):
    """Yield the item of each image in index order (those at ``part``, else all), annotation ids ``next_id``,
    ``next_id + 1``, ...; their masks are added to ``facts``."""
    name_to_value = {n: i for i, n in enumerate(classes.names)}
    for k in range(len(index.ids)) if part is None else part:
        iid = index.ids[k]
        try:
            item, next_id, pal, mode = _read_item(root, iid, index.sets(k), classes, name_to_value, next_id,
                                                  index.where(k))
        except InputError as exc:
            policy.drop(exc)
            continue
        img_labels = index.labels(k)
        if img_labels is not None:
            item.extra["voc_labels"] = img_labels
        facts.add(pal.tobytes() if pal is not None else None, mode)
        yield item


def _streamed_items(root, index, classes, expected, part: range, first: int):
    """The items of :func:`_items` under ``raise``; their masks must say what the first pass read."""
    facts = MaskFacts()
    yield from _items(root, index, classes, ErrorPolicy.of("raise"), facts, part, first)
    if facts != expected:
        raise InputError("the mask files changed while they were read", root)


def _first_pass(root, index, part: range) -> MaskFacts:
    """What the masks of the images at ``part`` say, from their headers, image by image as :func:`_read_item`
    opens them.

    It stops at the first image the read refuses (its paths, an unreadable
    mask): the read raises there, or before, so the meta is never complete.
    """
    facts = MaskFacts()
    for k in part:
        iid = index.ids[k]
        try:
            _, cls_path, obj_path = _item_paths(root, iid, index.where(k))
            if _is_file(cls_path):
                mode, pal = mask_facts(cls_path)
            elif _is_file(obj_path):
                mode, pal = mask_facts(obj_path)[0], None  # an object mask's palette is not the class palette
            else:
                continue
        except InputError:
            break
        facts.add(pal, mode)
    return facts


def _is_file(p: Path) -> bool:
    """``p.is_file()``, where a name too long for the file system is simply no file."""
    try:
        return p.is_file()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return False
        raise InputError(f"cannot look up the file: {exc.strerror or exc}", p) from None


def _item_paths(root, iid, listed):
    """The XML, class and object PNG paths of image ``iid``, resolved inside ``root``.

    ``listed`` is ``(file, record)`` where the id was found, for messages.
    An id no ``<id>.xml`` / ``<id>.png`` file can have is refused.
    """
    source, record = listed
    if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX - len(".xml") for part in iid.split("/")):
        raise InputError(f"image id {brief(iid)} is too long to name a file", source, record)
    return tuple(resolve_inside(root, f"{sub}/{iid}{ext}", source, record)
                 for sub, ext in (("Annotations", ".xml"), ("SegmentationClass", ".png"),
                                  ("SegmentationObject", ".png")))


def _read_item(root, iid, sets, classes, name_to_value, next_id, listed):
    xml_path, cls_path, obj_path = _item_paths(root, iid, listed)
    doc = parse_xml(xml_path) if _is_file(xml_path) else None
    size = doc["size"] if doc else None
    class_map = instance_map = None
    pal = None
    mode = None
    if _is_file(cls_path):
        class_map, mode, pal = _read_mask(cls_path, classes, size, "class")
        size = size or class_map.shape
    if _is_file(obj_path):
        instance_map, m2, _ = _read_mask(obj_path, classes, size, "object")
        size = size or instance_map.shape
        mode = mode or m2
    file_name = (doc or {}).get("filename") or _image_name(root, iid)
    h, w = size if size else (None, None)
    item = Item(iid, file_name, width=w, height=h)
    splits = {k: v for k, v in sets.items()}
    if splits:
        first = splits.get("Segmentation") or splits.get("Main") or next(iter(splits.values()))
        item.split = first[0]
        item.extra["voc_sets"] = splits
    objects = (doc or {}).get("objects", [])
    inst_classes = None
    if class_map is None and instance_map is not None:
        inst_classes = {}
        for i, o in enumerate(objects, 1):
            if o["name"] in name_to_value:
                inst_classes[i] = name_to_value[o["name"]]
    pairs = []
    if class_map is not None or instance_map is not None:
        where = obj_path if instance_map is not None else cls_path
        pairs = masks_to_annotations(class_map, instance_map, len(classes.names), where, next_id=next_id,
                                     instance_classes=inst_classes)
        next_id += len(pairs)
    anns, next_id = _join_objects(objects, pairs, name_to_value, xml_path, next_id)
    item.annotations = anns
    if doc:
        keys = ("folder", "segmented", "depth", "extra_xml")
        item.extra["voc_xml"] = {k: doc[k] for k in keys if doc.get(k) is not None}
    return item, next_id, pal, mode


def _join_objects(objects, pairs, name_to_value, xml_path, next_id):
    """XML objects joined to the mask annotations of the same instance number and class."""
    by_instance: dict[int, list[Annotation]] = {}
    for ann, i in pairs:
        if i is not None:
            by_instance.setdefault(i, []).append(ann)
    anns: list[Annotation] = []
    used = set()
    for i, o in enumerate(objects, 1):
        rec = f"object {i} ({brief(o['name'])})"
        if o["name"] not in name_to_value:
            raise InputError(f"object class {brief(o['name'])} is not in the class list", xml_path, rec)
        c = name_to_value[o["name"]]
        try:
            box = box_from_voc(o["bndbox"]) if o["bndbox"] is not None else None
            geom = Box(*box) if box is not None else None
        except GeometryError as exc:  # xmax < xmin: a negative size
            raise InputError(f"bndbox {brief(o['bndbox'])}: {exc}", xml_path, rec) from None
        match = [a for a in by_instance.get(i, []) if a.category_id == c]
        if match:
            ann = match[0]
            ann.bbox = box
            ann.attributes.update(o["attributes"])
            ann.extra.update(o["extra"])
            used.add(id(ann))
        else:
            ann = Annotation(next_id, c, geom, attributes=dict(o["attributes"]), extra=dict(o["extra"]))
            next_id += 1
        ann.extra["voc_object"] = i
        anns.append(ann)
    for ann, i in pairs:
        if id(ann) not in used and ann not in anns:
            if i is not None:
                ann.extra["voc_no_xml"] = True
            anns.append(ann)
    return anns, next_id


def _image_name(root, iid):
    d = root / "JPEGImages"
    for ext in (".jpg", ".jpeg", ".png", ".JPG"):
        if _is_file(d / f"{iid}{ext}"):
            return f"{iid}{ext}"
    return f"{iid}.jpg"


register_format(
    FormatSpec(
        name="voc",
        example="voc",
        description="Pascal VOC folder: Annotations XML, ImageSets, SegmentationClass/Object paletted PNGs",
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
            Option("labels", "both", "class list file (one name a line; __ignore__ = void 255, "
                   "_background_ = 0)", kind="path"),
            raster("both"),
            overlap("z_order, then smaller area, then later"),
            Option("mask_mode", "writer", "paletted (P, the default) or RGB masks", kind="choice",
                   choices=("P", "RGB")),
            Option("xml_polygons", "writer", "also write each object's pixels as <polygon> elements (the Roboflow "
                   "extension supervision reads; outlines through pixel centres that fill back to the same pixels)",
                   kind="bool", default=False),
        ),
    )
)
