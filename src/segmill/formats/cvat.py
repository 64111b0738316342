"""CVAT for images 1.1 XML (``annotations.xml``), parsed with defusedxml.

Element facts (CVAT's exporter and the corpus files):

* ``<meta>`` holds ``<task>`` or ``<project>`` with ``<labels><label><name>``
  and each label's ``<attributes>``; categories are those labels in order,
  with ids 1, 2, ... (CVAT XML has no label ids).
* ``<image id name width height [subset task_id]>``; a project export repeats
  ``id`` per subset, so item ids are ``"<subset>/<id>"`` when ids repeat.
* ``<box xtl ytl xbr ybr>`` -> :class:`~segmill.geometry.Box`;
  ``<polygon points="x,y;x,y;...">`` -> :class:`~segmill.geometry.Polygons`;
  ``<polyline>``, ``<points>`` -> :class:`~segmill.geometry.Shape`;
  ``<mask rle="c0, c1, ..." left top width height>`` ->
  :class:`~segmill.geometry.Mask` patch. The mask RLE runs ROW-major inside
  its ``width x height`` box and starts with a background run (CVAT's
  exporter writes ``width = right - left + 1``); this is not COCO's
  column-major RLE. Counts must sum to ``width * height``.
* Common shape attributes: ``label``, ``occluded`` (0/1), ``z_order``,
  ``group_id``, ``source``; ``<attribute name="...">value</attribute>``
  children are label attributes (kept as strings).
* CVAT draws one object in several parts as shapes sharing a non-zero
  ``group_id``: the ``<polygon>`` / ``<mask>`` shapes of one image with one
  label and one ``group_id`` are read as one multi-part instance (option
  ``split_groups`` keeps them apart), and a multi-part instance is written
  back that way (:mod:`segmill.formats._cvat_groups`).
* An empty ``label=""`` gives an annotation without category. On such a
  shape an ``<attribute name="void">`` of ``true`` / ``false`` is read as a
  bool: it marks a void region (VOC's 255), which the writer writes that way,
  so a void region stays void (and exempt from S004) after a CVAT round trip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import GeometryError, InputError
from ..geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from ..losses import register_codes
from ..model import Annotation, Category, Dataset, Item
from ..paths import resolve_inside
from ..validate import ErrorPolicy, brief, image_size, int_in
from . import NO, Detection, FormatSpec, register_format
from ._cvat_groups import merge_groups
from ._cvat_xml import Images, images, parse_xml
from ._file_runs import chosen, file_stamp, first_annotation_id, header_of, runs, unchanged, with_header
from ._cvat_write import _VOID_TEXT, encode_mask_rle, write, write_stream
from ._perfile_stream import validated
from .options import ERRORS, RASTER_RULES, Option, check_choice, raster

register_codes(
    {
        "L502": "crowd flag dropped (CVAT has no crowd regions)",
        "L503": "detection score dropped",
        "L504": "attribute value written as text (CVAT attributes are strings)",
        "L505": "category ids renumbered 1, 2, ... or supercategory / isthing dropped (CVAT labels are names)",
        "L506": "group_id changed so that two area annotations of one label do not read back as one instance",
        "L507": "shape kind renamed to CVAT's element (line, linestrip -> polyline; point -> points)",
    }
, changes={
    "classes": ("L505",),
    "crowd": ("L502",),
    "instance classes": ("L505",),
})

__all__ = ["detect", "read", "shards", "stream", "write", "decode_mask_rle", "encode_mask_rle", "SHAPES"]

SHAPES = ("box", "polygon", "polyline", "points", "mask")
_COMMON = ("label", "occluded", "z_order", "group_id", "source")


def detect(path) -> Detection:
    """An XML file (or a folder holding one) whose root is ``<annotations>`` with ``<version>``."""
    p = Path(path)
    f = p if p.is_file() else _xml_in(p) if p.is_dir() else None
    if f is None or f.suffix.lower() != ".xml":
        return NO
    head = f.read_bytes()[:2048]
    if b"<annotations" in head and b"<version>" in head:
        return Detection(0.9, f"{f.name}: <annotations> with <version> (CVAT for images XML)")
    return NO


def _xml_in(root: Path):
    if (root / "annotations.xml").is_file():
        return root / "annotations.xml"
    xmls = sorted(root.glob("*.xml"))
    return xmls[0] if len(xmls) == 1 else None


# ------------------------------------------------------------------ reading
#: Ids, z_order and group_id beyond 64 bits are kept as text (ids) or refused: no format stores them.
_INT64 = (-(2**63), 2**63 - 1)
_INT32_MAX = 2**31 - 1


def read(path, errors: str = "raise", raster: str = "coco", split_groups: bool = False) -> Dataset:
    """Read a CVAT for images 1.1 XML file (or the folder holding ``annotations.xml``).

    Images are looked up as ``images/<subset>/<name>`` (project export) or
    ``images/<name>`` next to the XML; ``name`` may not leave that folder.
    The ``<polygon>`` and ``<mask>`` shapes of one image sharing a label and
    a non-zero ``group_id`` are one multi-part instance (see
    :mod:`segmill.formats._cvat_groups`); ``split_groups=True`` keeps every
    shape a separate annotation.

    Raises
    ------
    segmill.errors.InputError
        XML that is not well-formed or declares entities (line and column),
        image sizes that are not integers within the pixel limit, shapes
        whose coordinates or mask runs are malformed, names leaving
        ``images/``.
    segmill.errors.UsageError
        An unknown ``errors`` or ``raster`` value.
    """
    policy = ErrorPolicy.of(errors)  # an unknown mode is refused before any work
    check_choice("raster", raster, RASTER_RULES)
    f = _xml_file(path)
    top = parse_xml(f)
    ds, cat_by_name = _start(top, f, raster, policy)
    elements = top.findall("image")
    raw_ids = [im.get("id") for im in elements]
    repeated = len(set(raw_ids)) != len(raw_ids)
    ds.items = list(_items(elements, repeated, f, cat_by_name, policy, (raster, split_groups)))
    if not policy.keeping:
        ds.validate(f)
    return ds


def _xml_file(path) -> Path:
    """The XML file a path names: itself, or the folder's ``annotations.xml`` (or single ``.xml``)."""
    p = Path(path)
    f = p if p.is_file() else _xml_in(p)
    if f is None:
        raise InputError("no annotations.xml (or single .xml) found", p)
    return f


def _start(top, f: Path, raster: str, policy: ErrorPolicy):
    """``(dataset without items, categories by name)`` of the root element (or a tree without its images)."""
    if top.tag != "annotations":
        raise InputError(f"root element is <{_tag(top)}>, expected <annotations>", f)
    cats, cat_by_name = _categories(top)
    ds = Dataset(categories=cats, meta={"raster_rule": raster, "image_root": str(f.parent / "images")})
    version = top.findtext("version")
    if version:
        ds.meta["cvat_version"] = version.strip()
    if not policy.raising:
        # skip: listed and dropped; keep: listed for `segmill check` (S014)
        policy.skipped = ds.meta.setdefault("skipped", [])
    if top.find("track") is not None:
        raise InputError("<track> elements: this is CVAT for video; segmill reads CVAT for images", f)
    return ds, cat_by_name


def _items(elements, repeated: bool, f: Path, cat_by_name: dict, policy: ErrorPolicy, how: tuple,
           selection: dict | None = None):
    """Yield the item of each ``<image>`` in turn, annotation ids 1, 2, ...; ``how`` is ``(raster, split_groups)``.

    ``repeated``: whether some ``id`` is on two images (item ids then say the subset). ``selection``: the
    images ``start:stop`` only (positions kept), annotation ids from its first id.
    """
    raster, split_groups = how
    next_ann = first_annotation_id(selection)
    for n, im in chosen(enumerate(elements), selection):
        rec = f"image id {brief(im.get('id'))} name {brief(im.get('name'))}"
        try:
            item = _item(im, n, repeated, f.parent, f, rec, check_path=not policy.keeping)
        except InputError as exc:
            policy.drop(exc)
            continue
        shapes = []
        for k, el in enumerate(im):
            ann = _element(el, k, item, cat_by_name, f, rec, policy)
            if ann is not None:
                shapes.append((ann, None if isinstance(ann.geometry, InvalidGeometry) else el.tag))
        anns = [a for a, _ in shapes] if split_groups else merge_groups(shapes, item.height, item.width, raster)
        for ann in anns:
            ann.id = next_ann
            next_ann += 1
            item.annotations.append(ann)
        yield item


def stream(path, errors: str = "raise", raster: str = "coco", split_groups: bool = False,
           selection: dict | None = None):
    """The header and a generator of the items, one ``<image>`` at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read` (the validation
    made as the items come, a failure raised once every image was read).
    The file is parsed twice, never whole (:mod:`segmill.formats._cvat_xml`):
    a first pass checks the whole XML (a refusal comes before any item, as
    in :func:`read`) and keeps the header (``<meta>``, ``<version>``) and
    the set of ``<image>`` ids (do ids repeat?); the second hands out each
    ``<image>`` as it ends, and refuses a file whose size or modification
    time is no longer the first pass's. A ``<track>`` (CVAT for video, whose tracks span
    frames) is refused before any item, as :func:`read` refuses it. ``None``
    (read whole) for ``errors="keep"``, which keeps repeated image ids that
    a stream refuses. ``selection``: one part of :func:`shards`, a run of the
    ``<image>`` elements, which carries what the first pass keeps (the
    second pass parses the file up to the run's end).
    """
    policy = ErrorPolicy.of(errors)
    check_choice("raster", raster, RASTER_RULES)
    if policy.keeping:
        return None
    f = _xml_file(path)
    top, repeated, stamp = header_of(selection, lambda: _first_pass(f))
    ds, cat_by_name = _start(top, f, raster, policy)
    items = _items(images(f, Images()), repeated, f, cat_by_name, policy, (raster, split_groups), selection)
    items = unchanged(items, lambda: file_stamp(f), stamp, f, "the XML file changed while it was read")
    return ds, validated(items, ds.categories, f, ids=True)


def _first_pass(f: Path) -> tuple:
    """``(root element with the header only, whether an image id repeats, the file's stamp)``: the whole XML
    checked."""
    stamp = file_stamp(f)
    head = Images(head=True)
    seen: set = set()
    repeated = False
    for im in images(f, head):
        raw = im.get("id")
        repeated = repeated or raw in seen
        seen.add(raw)
    return head.root, repeated, stamp


def shards(path, n: int, errors: str = "raise", raster: str = "coco",
           split_groups: bool = False) -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of ``<image>`` elements of about equal text (attributes).

    ``None`` where :func:`stream` reads whole, and where two images would
    have one item id (a duplicate a part could not see in another part: the
    stream, read whole, refuses it). The parse that finds the runs is the
    stream's first pass: each selection carries what it keeps (the header
    elements; the ids do not repeat). Annotation ids run across the whole
    file: a part numbers from 1 and a sharded run renumbers.
    """
    policy = ErrorPolicy.of(errors)
    check_choice("raster", raster, RASTER_RULES)
    if policy.keeping:
        return None
    keys, sizes = [], []
    head = Images(head=True)
    f = _xml_file(path)
    stamp = file_stamp(f)
    for im in images(f, head):
        keys.append((im.get("id"), im.get("subset")))
        sizes.append(sum(1 + len(el.text or "") + sum(map(len, el.attrib.values())) for el in im.iter()))
    repeated = len({raw for raw, _ in keys}) != len(keys)
    ids = {_image_id(raw, subset, k, repeated) for k, (raw, subset) in enumerate(keys)}
    return with_header(runs(sizes, n), (head.root, repeated, stamp)) if len(ids) == len(keys) else None


def _tag(el) -> str:
    """An element's tag for a message (XML names hold no control characters, but may be long)."""
    return el.tag if len(el.tag) <= 40 else el.tag[:40] + "..."


def _element(el, k, item, cat_by_name, f, rec, policy):
    """The annotation of one child of ``<image>``; ``None`` for a tag or a dropped shape."""
    if el.tag == "tag":
        item.attributes.setdefault("tags", []).append(el.get("label", ""))
        return None
    arec = f"{rec}, <{_tag(el)}> #{k}"
    try:
        if el.tag not in SHAPES:
            raise InputError(f"<{_tag(el)}> is not supported (segmill reads {', '.join(SHAPES)})", f, arec)
        return _annotation(el, item, cat_by_name, f, arec)
    except InputError as exc:
        if not policy.keep_or_drop(exc):
            return None
        # keep the label when it is declared: only the geometry is bad
        cat = cat_by_name.get(el.get("label"))
        return Annotation(None, cat.id if cat else None, InvalidGeometry(dict(el.attrib), exc.message))


def _categories(top):
    cats, by_name = [], {}
    meta = top.find("meta")
    if meta is None:
        return cats, by_name
    labels = meta.find("task/labels")
    if labels is None:
        labels = meta.find("project/labels")
    if labels is None:
        labels = meta.find("job/labels")
    for lab in [] if labels is None else labels.findall("label"):
        name = (lab.findtext("name") or "").strip()
        if name in by_name:
            continue
        spec = []
        for a in lab.findall("attributes/attribute"):
            spec.append({k: (a.findtext(k) or "") for k in ("name", "mutable", "input_type", "default_value", "values")
                         if a.find(k) is not None})
        color = lab.findtext("color")
        cat = Category(len(cats) + 1, name, color=_rgb(color))
        cat.origin = ("cvat", {"attributes": spec, "color": color})
        cats.append(cat)
        by_name[name] = cat
    return cats, by_name


def _rgb(color):
    if color and len(color) == 7 and color.startswith("#"):
        try:
            return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            return None
    return None


def _int_attr(el, key, f, rec, default=None, lo=None, hi=None):
    """An integer XML attribute (optionally within ``[lo, hi]``); text is never trusted to fit."""
    v = el.get(key)
    if v is None:
        if default is None:
            raise InputError(f"missing attribute {key!r}", f, rec)
        return default
    try:
        value = int(v)
    except ValueError:  # also more than 4300 digits
        raise InputError(f"{key}={brief(v)} is not an integer", f, rec) from None
    return int_in(value, key, f, rec, lo=lo, hi=hi)


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):  # a NUL byte or a name too long for the file system
        return False


def _item(im, n, repeated, root_dir, f, rec, check_path=True):
    """The Item of one ``<image>``; with ``check_path=False`` an escaping name is kept (S012 reports it)."""
    name = im.get("name")
    if not name:
        raise InputError("image has no name", f, rec)
    subset = im.get("subset")
    images = root_dir / "images"
    flat = _is_file(images / name) and not _is_file(images / subset / name) if subset else True
    rel = name if flat else f"{subset}/{name}"
    if check_path:
        resolve_inside(images, rel, f, rec)
    w = _int_attr(im, "width", f, rec)
    h = _int_attr(im, "height", f, rec)
    h, w = image_size(h, w, f, rec)
    raw_id = im.get("id")
    iid = _image_id(raw_id, subset, n, repeated)
    extra = {k: v for k, v in im.attrib.items() if k not in ("id", "name", "width", "height", "subset")}
    item = Item(iid, rel, w, h, split=subset)
    item.origin = ("cvat", {"id": raw_id, **extra})
    return item


def _image_id(raw_id, subset, n: int, repeated: bool):
    """The item id of the ``n``-th ``<image>``: ``"<subset>/<id>"`` when ids repeat, else its integer id, else
    its id as found (no id, text, or beyond 64 bits), else ``n``."""
    if repeated:
        return f"{subset or ''}/{raw_id}"
    try:
        return int_in(int(raw_id), "id", lo=_INT64[0], hi=_INT64[1])
    except (TypeError, ValueError, InputError):
        return raw_id if raw_id else n


def _floats(text, f, rec):
    try:
        vals = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"points {brief(text)} are not numbers", f, rec) from None
    if len(vals) % 2 or not np.all(np.isfinite(vals)):
        raise InputError("points must be finite x,y pairs", f, rec)
    return np.array(vals, dtype=np.float64).reshape(-1, 2)


def decode_mask_rle(text: str, width: int, height: int, path=None, record=None) -> np.ndarray:
    """Decode CVAT's ``rle="c0, c1, ..."`` to a ``(height, width)`` bool patch (row-major runs).

    Raises :class:`~segmill.errors.InputError` when the counts are not
    non-negative integers summing to ``width * height`` (a run longer than
    the box is refused before anything is allocated).

    Examples
    --------
    >>> decode_mask_rle("1, 2, 2, 1", 3, 2).astype(int).tolist()
    [[0, 1, 1], [0, 0, 1]]
    """
    height, width = image_size(height, width, path, record, what="mask box")
    area = width * height
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError("mask rle is not a comma-separated list of integers", path, record) from None
    if any(c < 0 for c in counts):
        raise InputError("mask rle has a negative count", path, record)
    total = sum(counts)
    if total != area:
        raise InputError(f"mask rle counts sum to {total if total <= 2**64 else 'more than 2**64'}, "
                         f"but the box is {width}x{height} = {area}", path, record)
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, np.array(counts, dtype=np.int64)).reshape(height, width)


def _annotation(el, item, cat_by_name, f, rec):
    label = el.get("label")
    if label is None:
        raise InputError("shape has no label attribute", f, rec)
    if label and label not in cat_by_name:
        raise InputError(f"label {brief(label)} is not declared in <meta>", f, rec)
    try:
        geom = _geometry(el, f, rec)
    except GeometryError as exc:  # the model's last check (a box of infinite size from two huge corners)
        raise InputError(str(exc), f, rec) from None
    attrs = {}
    if el.get("occluded") is not None:
        attrs["occluded"] = el.get("occluded") == "1"
    if el.get("z_order") is not None:
        attrs["z_order"] = _int_attr(el, "z_order", f, rec, lo=_INT64[0], hi=_INT64[1])
    if el.get("group_id") not in (None, "", "0"):
        attrs["group_id"] = _int_attr(el, "group_id", f, rec, lo=_INT64[0], hi=_INT64[1])
    for a in el.findall("attribute"):
        attrs[a.get("name", "")] = a.text or ""
    if not label and attrs.get("void") in _VOID_TEXT:  # a void region written by segmill (see the docs)
        attrs["void"] = _VOID_TEXT[attrs["void"]]
    extra = {k: v for k, v in el.attrib.items()
             if k not in _COMMON + ("xtl", "ytl", "xbr", "ybr", "points", "rle", "left", "top", "width", "height")}
    if el.get("source") is not None:
        extra["source"] = el.get("source")
    if el.tag == "box" and el.get("rotation") not in (None, "0", "0.0"):
        extra["rotation"] = el.get("rotation")
    cat = cat_by_name.get(label)
    ann = Annotation(None, cat.id if cat else None, geom, attributes=attrs)
    ann.origin = ("cvat", extra)
    return ann


def _geometry(el, f, rec):
    tag = el.tag
    if tag == "box":
        x0, y0, x1, y1 = (_float(el, k, f, rec) for k in ("xtl", "ytl", "xbr", "ybr"))
        if x1 < x0 or y1 < y0:
            raise InputError("box has xbr < xtl or ybr < ytl", f, rec)
        return Box(x0, y0, x1 - x0, y1 - y0)
    if tag == "polygon":
        pts = _floats(el.get("points", ""), f, rec)
        if len(pts) < 3:
            raise InputError(f"polygon has {len(pts)} points; at least 3 are needed", f, rec)
        return Polygons([pts])
    if tag in ("polyline", "points"):
        return Shape(tag, _floats(el.get("points", ""), f, rec))
    # CVAT masks lie inside their image: a box beyond 2**31 cannot
    left = _int_attr(el, "left", f, rec, lo=0, hi=_INT32_MAX)
    top = _int_attr(el, "top", f, rec, lo=0, hi=_INT32_MAX)
    w = _int_attr(el, "width", f, rec, lo=1, hi=_INT32_MAX)
    h = _int_attr(el, "height", f, rec, lo=1, hi=_INT32_MAX)
    return Mask(decode_mask_rle(el.get("rle", ""), w, h, f, rec), left, top)


def _float(el, key, f, rec):
    v = el.get(key)
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{key}={brief(v)} is not a number", f, rec) from None
    if not np.isfinite(x):
        raise InputError(f"{key} is not finite", f, rec)
    return x


register_format(
    FormatSpec(
        name="cvat",
        example="cvat/basic",
        description="CVAT for images 1.1 XML (boxes, polygons, polylines, points, row-major RLE masks)",
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
            raster("reader", "kept for writers that draw pixels, and how the polygons of a group holding a "
                   "mask become pixels: coco or pil"),
            Option("split_groups", "reader", "keep shapes sharing a label and group_id as separate annotations "
                   "(default: one multi-part instance)", kind="bool", default=False),
        ),
    )
)
