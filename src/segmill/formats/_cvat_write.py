"""CVAT for images 1.1 writer: one ``annotations.xml`` (see :mod:`segmill.formats.cvat`)."""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset, origin_of
from ..rle import RLE, decode
from ..validate import brief
from ._cvat_groups import GroupIds, stored_parts
from ._stream_checks import checked_items
from ._voc_masks import STRUCTURAL_KEYS
from ._voc_xml import NOT_XML

_VOID_TEXT = {"true": True, "false": False}  # the void flag of a label-less shape
#: Text the reader reads back as an integer attribute (``int()`` of ASCII digits).
_INT_TEXT = re.compile(r"\s*[+-]?[0-9]{1,19}\s*")


def escape(text: str) -> str:
    """XML character data: ``&``, ``<`` and ``>`` escaped (xml.sax.saxutils, imported on first use)."""
    from xml.sax import saxutils  # lazy: it imports urllib.request, email and ssl (~20 ms of start-up)

    return saxutils.escape(text)


def quoteattr(text: str) -> str:
    """An XML attribute value with its quotes (xml.sax.saxutils, imported on first use)."""
    from xml.sax import saxutils  # lazy, as in escape

    return saxutils.quoteattr(text)


def _xml_safe(lines: list[str], what: str, path, record=None) -> list[str]:
    """``lines`` when XML 1.0 can hold them; else InputError (a NUL in a file name, a control character)."""
    for line in lines:
        bad = NOT_XML.search(line)
        if bad:
            raise InputError(f"{what} holds the character {bad.group()!r}, which XML cannot hold", path, record)
    return lines


def _num(v: float) -> str:
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def _points(xy) -> str:
    """``x1,y1;x2,y2;...`` of ``(n, 2)`` coordinates, each number as :func:`_num` writes it (one
    ``tolist`` instead of a ``float()`` per NumPy scalar: a third of a COCO -> CVAT write)."""
    s = [r[:-2] if r.endswith(".0") else r for r in map(repr, np.asarray(xy, np.float64).reshape(-1).tolist())]
    return ";".join(map(",".join, zip(s[0::2], s[1::2])))


def encode_mask_rle(patch: np.ndarray) -> str:
    """CVAT's row-major RLE of a bool patch, starting with a background run.

    Examples
    --------
    >>> import numpy as np
    >>> encode_mask_rle(np.array([[1, 1, 0], [0, 0, 1]], bool))
    '0, 2, 3, 1'
    """
    flat = np.asarray(patch, dtype=bool).reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)
    return ", ".join(str(r) for r in runs)


def write(dataset: Dataset, path) -> WriteReport:
    """Write ``annotations.xml`` (CVAT for images 1.1) into the folder ``path``.

    Coordinates are written with full float precision (``repr``), so a
    re-read gives the same numbers; CVAT itself reads them as floats.
    """
    dataset.validate(path)
    ids = [i.id for i in dataset.items]
    int_ids = all(isinstance(i, int) for i in ids) and len(set(ids)) == len(ids)
    return _write(dataset, dataset.items, path, _ImageIds(int_ids))


def write_stream(stream, path) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same file and report as :func:`write` of the whole dataset: the
    labels first (from the stream's header), then each ``<image>`` appended
    as its item comes. An image the write refuses stops it there (the
    caller stages the folder, so nothing is left of it). Memory holds one
    image, and the CVAT id of each image read from CVAT while every image
    id is an integer (:class:`_ImageIds`).
    """
    Dataset(categories=stream.header.categories).validate(path)
    return _write(stream.header, checked_items(stream, path), path, _ImageIds(None))


class _ImageIds:
    """The ``id`` attribute of each ``<image>``: the item's id when every item's is an integer, else the
    CVAT id it was read with, else its position.

    Given ``None`` (a stream: not known until the last item), the items'
    own ids are written while they are integers; the first that is not
    one makes the images before it need :meth:`fix`.
    """

    def __init__(self, int_ids: bool | None):
        self.int_ids = True if int_ids is None else int_ids
        self.streamed = int_ids is None
        self.before = 0  # images written with their own id before one that is not an integer
        self.cvat: dict = {}  # position -> (CVAT id, item id) of those images that have a CVAT id

    def raw(self, item, n: int, cv: dict):
        """The id to write for ``item``, the ``n``-th image (``cv``: its CVAT origin)."""
        if self.int_ids and self.streamed and not isinstance(item.id, int):
            self.int_ids, self.before = False, n
        if self.int_ids:
            if self.streamed and "id" in cv:
                self.cvat[n] = (cv["id"], item.id)
            return item.id
        return cv.get("id", n)

    def fix(self, f: Path, path) -> None:
        """Rewrite the ids of the images written before an image id that was not an integer."""
        if self.int_ids or not self.before:
            return
        for n, (raw, iid) in sorted(self.cvat.items()):  # what the whole write checks of these heads
            _xml_safe([quoteattr(str(raw))], "an image name or annotation", path, f"image id {brief(iid)}")
        head, n = b"  <image id=", 0
        tmp = f.with_name(f.name + ".ids")
        with open(f, "rb") as src, open(tmp, "wb") as dst:
            for line in src:  # an element's text or attribute never starts a line with "  <image "
                if n < self.before and line.startswith(head):
                    old = re.match(rb'  <image id="[^"]*"', line).group()
                    new = quoteattr(str(self.cvat[n][0] if n in self.cvat else n)).encode("utf-8")
                    line = head + new + line[len(old):]
                    n += 1
                dst.write(line)
        os.replace(tmp, f)


def _write(dataset: Dataset, items, path, ids: _ImageIds) -> WriteReport:
    """Write the ``items`` (a list, or a stream's checked items) with the categories of ``dataset``."""
    out = Path(path)
    report = WriteReport()
    cats = dataset.category_by_id()
    bad = [c.name for i, c in enumerate(dataset.categories, 1)
           if c.id != i or c.supercategory or c.isthing is not None or c.extra]
    if bad:
        report.lose("L505", f"categories {bad[:5]}{' ...' if len(bad) > 5 else ''} will read back as 1, 2, ... by name")
    lines = _labels_xml(dataset)
    _xml_safe(lines, "a label name or attribute", path)
    blocks = (_image_block(item, n, ids, cats, report, path) for n, item in enumerate(items))
    if not ids.streamed:
        blocks = list(blocks)  # every refusal before anything is written
    out.mkdir(parents=True)
    f = out / "annotations.xml"
    with open(f, "w", encoding="utf-8") as fh:  # what write_text does, a part at a time
        fh.write("\n".join(lines) + "\n")
        fh.writelines(blocks)
        fh.write("</annotations>\n")
    ids.fix(f, path)
    report.files = 1
    return report


def _labels_xml(dataset: Dataset) -> list[str]:
    """The lines of the file before the first ``<image>``: the version and the labels."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>", "  <meta>",
             "    <task>", "      <labels>"]
    for c in dataset.categories:
        lines.append(f"        <label>\n          <name>{escape(c.name)}</name>")
        cv = origin_of(c, "cvat") or {}
        color = cv.get("color") or ("#%02x%02x%02x" % c.color if c.color else None)
        if color:
            lines.append(f"          <color>{escape(color)}</color>")
        if cv.get("attributes"):
            lines.append("          <attributes>")
            for a in cv["attributes"]:
                body = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in a.items())
                lines.append(f"            <attribute>{body}</attribute>")
            lines.append("          </attributes>")
        lines.append("        </label>")
    return lines + ["      </labels>", "    </task>", "  </meta>"]


def _image_block(item, n, ids, cats, report, path) -> str:
    """The text of one ``<image>`` element, its lines checked, the item counted."""
    lines = _xml_safe(_image_xml(item, n, ids, cats, report), "an image name or annotation", path,
                      f"image id {brief(item.id)}")
    report.items += 1
    return "\n".join(lines) + "\n"


def _image_xml(item, n, ids, cats, report):
    cv = origin_of(item, "cvat") or {}
    raw_id = ids.raw(item, n, cv)
    name = posixpath.normpath(item.file_name.replace("\\", "/"))
    if name.startswith(("../", "/")) or name == "..":
        report.notes.append(f"image {item.file_name!r} written as {posixpath.basename(name)!r}: "
                            "CVAT names must stay inside images/")
        name = posixpath.basename(name)
    if item.split and name.startswith(f"{item.split}/"):
        name = name[len(item.split) + 1 :]
    attrs = {"id": str(raw_id), "name": name}
    if item.width is not None:
        attrs["width"], attrs["height"] = str(item.width), str(item.height)
    if item.split:
        attrs["subset"] = item.split
    for k, v in cv.items():
        if k != "id":
            attrs.setdefault(k, str(v))
    out = ["  <image " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + ">"]
    lost = sorted(map(str, item.extra)) + sorted(f"attributes.{k}" for k in map(str, item.attributes) if k != "tags")
    if lost:
        report.lose("L001", f"image fields {brief(lost)} have no place in CVAT XML", item.id)
    groups = GroupIds([_as_int(a.attributes.get("group_id")) for a in item.annotations])
    for ann in item.annotations:
        els = _object_xml(ann, item, cats, report, groups)
        out.extend(els)
        if els:
            report.annotations += 1
    for t in item.attributes.get("tags", []):
        out.append(f"    <tag label={quoteattr(str(t))}/>")
    out.append("  </image>")
    return out


def _object_xml(ann, item, cats, report, groups):
    """The elements of one annotation: one shape, or one per part sharing a ``group_id``."""
    cat = cats.get(ann.category_id)
    label = cat.name if cat else ""
    if ann.iscrowd:
        report.lose("L502", "crowd flag dropped", item.id, ann.id)
    if ann.score is not None:
        report.lose("L503", f"score {ann.score} dropped", item.id, ann.id)
    lost = sorted(map(str, (k for k in ann.extra if k not in STRUCTURAL_KEYS)))
    if lost:
        report.lose("L001", f"fields {brief(lost)} have no place in CVAT XML", item.id, ann.id)
    parts = stored_parts(ann)
    g = ann.geometry
    n = len(parts) if parts else len(g.parts) if isinstance(g, Polygons) else 1
    gid = groups.assign(label, _as_int(ann.attributes.get("group_id")), g, n, report, item.id, ann.id)
    els = []
    for piece in parts or [ann]:
        els += _shape_xml(piece, label, item, report, gid, ann.id)
    return els


def _shape_xml(ann, label, item, report, gid, ann_id):
    """The elements of one annotation or part (several for a multi-part polygon), all with ``gid``.

    Losses are reported under ``ann_id``, the id of the annotation a part belongs to.
    """
    g = ann.geometry
    a = ann.attributes
    common = {"label": label}
    if isinstance(a.get("occluded"), (bool, int, np.integer)):  # a flag; text goes as an <attribute> child
        common["occluded"] = "1" if a["occluded"] else "0"
    extra = origin_of(ann, "cvat") or {}
    if "source" in extra:
        common["source"] = str(extra["source"])
    if _as_int(a.get("z_order")) is not None:
        common["z_order"] = str(_as_int(a["z_order"]))
    written = {k for k in ("occluded", "z_order") if k in common} | ({"group_id"} if gid is not None else set())
    children = []
    for k, v in a.items():
        if k in written or (k == "group_id" and v is None):
            continue  # written as XML attributes; any other value goes as an <attribute> child
        void_flag = k == "void" and not label  # a label-less shape's void flag reads back as a bool
        if void_flag and isinstance(v, str) and v in _VOID_TEXT:
            report.lose("L504", f"attribute {k!r}={v!r} (text) will read back as a bool", item.id, ann_id)
        elif not isinstance(v, str) and not (void_flag and isinstance(v, bool)):
            report.lose("L504", f"attribute {k!r}={v!r} written as text", item.id, ann_id)
        children.append(f"      <attribute name={quoteattr(str(k))}>{escape(_text(v))}</attribute>")
    shapes = []
    if isinstance(g, Box):
        shapes.append(("box", {"xtl": _num(g.x), "ytl": _num(g.y), "xbr": _num(g.x + g.w), "ybr": _num(g.y + g.h),
                               **({"rotation": extra["rotation"]} if "rotation" in extra else {})}))
    elif isinstance(g, Polygons):
        for p in g.parts:
            shapes.append(("polygon", {"points": _points(p)}))
    elif isinstance(g, Shape):
        tag = {"line": "polyline", "linestrip": "polyline", "point": "points"}.get(g.kind, g.kind)
        if tag not in ("polyline", "points"):
            report.lose("L002", f"a {g.kind!r} shape has no CVAT element", item.id, ann_id)
            return []
        if tag != g.kind:
            report.lose("L507", f"a {g.kind!r} shape written as <{tag}> reads back as {tag!r}", item.id, ann_id)
        shapes.append((tag, {"points": _points(g.points)}))
    elif isinstance(g, (RLE, Mask)):
        if isinstance(g, Mask) and g.array.size and g.left >= 0 and g.top >= 0:
            patch, left, top = g.array, g.left, g.top
        elif item.size is None:
            report.lose("L005", "mask without a known image size", item.id, ann_id)
            return []
        else:
            check_pixels(item.height, item.width, None, f"image id {brief(item.id)}")  # before decoding
            full = decode(g if isinstance(g, RLE) else g.to_rle(item.height, item.width))
            ys, xs = np.nonzero(full)
            if len(ys) == 0:
                report.lose("L002", "empty mask dropped (CVAT masks need a box)", item.id, ann_id)
                return []
            top, left = int(ys.min()), int(xs.min())
            patch = full[top : ys.max() + 1, left : xs.max() + 1]
        shapes.append(("mask", {"rle": encode_mask_rle(patch), "left": str(left), "top": str(top),
                                "width": str(patch.shape[1]), "height": str(patch.shape[0])}))
    else:
        report.lose("L002", f"{type(g).__name__} geometry dropped", item.id, ann_id)
        return []
    els = []
    for tag, geo in shapes:
        attrs = {**common, **geo}
        if gid is not None:
            attrs["group_id"] = str(gid)
        head = f"    <{tag} " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        els.append(head + (">\n" + "\n".join(children) + f"\n    </{tag}>" if children else "/>"))
    return els


def _as_int(v):
    """``v`` as the integer the reader reads back (int, integral float, digit string), else ``None``."""
    number = isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    integral = isinstance(v, float) and v.is_integer()
    digits = isinstance(v, str) and _INT_TEXT.fullmatch(v) is not None
    if not (number or integral or digits):
        return None
    n = int(v)
    return n if -(2**63) <= n < 2**63 else None  # the reader's range


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
