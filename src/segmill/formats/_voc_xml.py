"""Pascal VOC ``Annotations/<id>.xml``: parse safely (defusedxml) and write.

Parsed into plain dicts; :mod:`segmill.formats.voc` turns them into the model.
Elements segmill does not know are kept as XML strings and written back.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np

from ..errors import InputError
from ..validate import brief, int_in

__all__ = ["box_from_voc", "box_to_voc", "centre_polygons", "parse_fragment", "parse_xml", "write_xml", "xml_name_ok",
           "xml_text_ok"]

_OBJ_KNOWN = {"name", "pose", "truncated", "occluded", "difficult", "bndbox", "part", "actions", "attributes"}
_TOP_KNOWN = {"filename", "folder", "size", "segmented", "object"}
_FLAGS = ("truncated", "occluded", "difficult")

#: Deepest element nesting read. VOC is 4 levels deep (annotation/object/part/bndbox); unknown elements
#: are kept with ET.tostring and written with ET.indent, which both recurse once per level.
MAX_DEPTH = 64
#: Largest box coordinate read: far beyond any image the pixel limit allows, and small enough that
#: box widths and areas stay finite floats.
COORD_MAX = 2.0 ** 31

# Characters XML 1.0 cannot hold (ElementTree would write them and make a file no parser reads).
#: Characters XML 1.0 cannot hold, even escaped (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF),
#: spelled as the excluded ranges: the complement of the allowed ones compiles 10x slower (5 ms at import).
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def xml_text_ok(text) -> bool:
    """Whether ``str(text)`` can be written as XML 1.0 character data."""
    return NOT_XML.search(str(text)) is None


def xml_name_ok(name) -> bool:
    """Whether ``name`` can be an element tag (plain names only: no namespace, no colon)."""
    return isinstance(name, str) and _XML_NAME.match(name) is not None


def _num(text, path, record, what):
    t = str(text).strip()
    try:
        v = float(t)
    except ValueError:
        raise InputError(f"{what} is not a number: {brief(text)}", path, record) from None
    if not math.isfinite(v):
        raise InputError(f"{what} is not finite: {brief(text)}", path, record)
    if abs(v) > COORD_MAX:
        raise InputError(f"{what} is out of range (beyond +/-{COORD_MAX:.0f}): {brief(text)}", path, record)
    return int(v) if v.is_integer() and "." not in t else v


def _flag(text, what, path, record) -> bool:
    """A 0/1 flag; other whole numbers count as true, as ``bool(int(float(t)))`` always read them."""
    try:
        v = float(str(text).strip())
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise InputError(f"<{what}> is not 0/1: {brief(text)}", path, record)
    return bool(int(v))


def _bndbox(el, path, record):
    if el is None:
        return None
    vals = []
    for k in ("xmin", "ymin", "xmax", "ymax"):
        child = el.find(k)
        if child is None or child.text is None:
            raise InputError(f"bndbox is missing <{k}>", path, record)
        vals.append(_num(child.text, path, record, k))
    return vals


def _size(root, path):
    """``((height, width), depth)`` from ``<size>``; the size is ``None`` unless both are given."""
    size = root.find("size")
    if size is None:
        return None, None
    w, h = size.findtext("width"), size.findtext("height")
    out = None
    if w is not None and h is not None:
        try:
            wi, hi = int(w), int(h)
        except ValueError:  # also for integers of more digits than Python converts
            raise InputError(f"image size is not integer: width={brief(w)} height={brief(h)}", path) from None
        # no pixel limit here: the size only describes the JPEG, nothing is allocated from it on reading
        # (masks are limited when decoded, writers before they paint), and box-only data stays readable
        out = (int_in(hi, "image height", path, "<size>", lo=0), int_in(wi, "image width", path, "<size>", lo=0))
    return out, size.findtext("depth")


def _too_deep(root) -> bool:
    stack = [(root, 1)]
    while stack:  # no recursion: the point is to refuse what would recurse too deep later
        el, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in el)
    return False


def _parse(source, path, fromstring: bool = False):
    """The root element of untrusted XML (a file or a string), every failure an :class:`InputError`."""
    # lazy: start-up time (defusedxml is only needed to parse XML)
    from defusedxml import ElementTree as DET
    from defusedxml.common import DefusedXmlException

    try:
        root = DET.fromstring(source) if fromstring else DET.parse(str(source)).getroot()
    except DefusedXmlException as exc:  # entity expansion, external references
        raise InputError(f"unsafe XML refused ({type(exc).__name__})", path) from None
    except ET.ParseError as exc:  # its message ends with the line and column
        raise InputError(f"malformed XML: {exc}", path) from None
    except LookupError as exc:  # an encoding Python does not know, declared in <?xml ...?>
        raise InputError(f"malformed XML: {exc}", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an XML file", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from None
    except (ValueError, UnicodeError) as exc:
        raise InputError(f"malformed XML: {exc}", path) from None
    if _too_deep(root):
        raise InputError(f"XML elements nested deeper than {MAX_DEPTH} levels", path)
    return root


def parse_fragment(text: str, path=None):
    """One element from an XML string kept from a dataset (``extra_xml``), parsed safely; InputError if bad."""
    if not isinstance(text, str):
        raise InputError(f"an XML fragment must be a string, got {brief(text)}", path)
    return _parse(text, path, fromstring=True)


def _object(o, path, rec) -> dict:
    name = o.findtext("name")
    if name is None or not name.strip():
        raise InputError("object has no <name>", path, rec)
    obj = {"name": name.strip(), "attributes": {}, "extra": {}}
    pose = o.findtext("pose")
    if pose is not None:
        obj["attributes"]["pose"] = pose
    for f in _FLAGS:
        t = o.findtext(f)
        if t is not None:
            obj["attributes"][f] = _flag(t, f, path, rec)
    obj["bndbox"] = _bndbox(o.find("bndbox"), path, rec)
    parts = []
    for p in o.findall("part"):
        parts.append({"name": p.findtext("name"), "bndbox": _bndbox(p.find("bndbox"), path, rec)})
    if parts:
        obj["extra"]["voc_parts"] = parts
    acts = o.find("actions")
    if acts is not None:
        obj["extra"]["voc_actions"] = {a.tag: _flag(a.text or "0", a.tag, path, rec) for a in acts}
    attrs = o.find("attributes")
    if attrs is not None:
        for a in attrs.findall("attribute"):
            k = a.findtext("name")
            if k:
                obj["attributes"][k] = _parse_value(a.findtext("value"))
    unknown = [ET.tostring(c, encoding="unicode").strip() for c in o if c.tag not in _OBJ_KNOWN]
    if unknown:
        obj["extra"]["voc_xml"] = unknown
    return obj


def parse_xml(path) -> dict:
    """Parse one annotation file into a dict.

    Raises
    ------
    segmill.errors.InputError
        Unreadable, not well-formed (the message gives the line and column),
        refused by defusedxml (entities, external references), nested too
        deeply, or holding a value of the wrong kind (a box coordinate that
        is not a finite number, a size that is not a whole number, a flag
        that is not a number).
    """
    root = _parse(path, path)
    if root.tag != "annotation":
        raise InputError(f"root element is <{brief(root.tag)}>, expected <annotation>", path)
    out: dict = {"filename": root.findtext("filename"), "folder": root.findtext("folder")}
    out["size"], out["depth"] = _size(root, path)
    out["segmented"] = root.findtext("segmented")
    out["extra_xml"] = [ET.tostring(c, encoding="unicode").strip() for c in root if c.tag not in _TOP_KNOWN]
    out["objects"] = [_object(o, path, f"object {i}") for i, o in enumerate(root.findall("object"), 1)]
    return out


def _parse_value(text):
    if text is None:
        return None
    t = text.strip()
    if t in ("true", "True"):
        return True
    if t in ("false", "False"):
        return False
    try:
        return int(t)
    except ValueError:  # also for more digits than Python converts
        pass
    try:
        v = float(t)
    except ValueError:
        return t
    return v if math.isfinite(v) else t  # "inf"/"nan" stay text: no NaN reaches the model or a JSON writer


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return repr(v)
    return str(v)


def box_from_voc(b):
    """VOC ``[xmin, ymin, xmax, ymax]`` (1-based, inclusive) -> model ``(x, y, w, h)``."""
    xmin, ymin, xmax, ymax = b
    return (float(xmin) - 1.0, float(ymin) - 1.0, float(xmax) - float(xmin) + 1.0, float(ymax) - float(ymin) + 1.0)


def box_to_voc(box):
    """Model ``(x, y, w, h)`` -> VOC ``[xmin, ymin, xmax, ymax]`` (ints when whole)."""
    x, y, w, h = (float(v) for v in box)
    vals = [x + 1.0, y + 1.0, x + w, y + h]
    return [int(v) if v.is_integer() else v for v in vals]


def _sub(parent, tag, text=None):
    el = ET.SubElement(parent, tag)
    if text is not None:
        text = str(text)
        if not xml_text_ok(text):
            raise InputError(f"<{tag}> text {brief(text)} holds a character XML cannot hold")
        el.text = text
    return el


def _box_el(parent, b, raw=None):
    bb = _sub(parent, "bndbox")
    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), b):
        _sub(bb, k, _fmt(v))


def write_xml(path, doc: dict, record: str | None = None) -> None:
    """Write an annotation dict (the shape :func:`parse_xml` returns).

    Raw XML kept from a source (``extra_xml``, an object's ``xml``) is parsed
    again with defusedxml; text XML cannot hold (control characters, lone
    surrogates) raises :class:`~segmill.errors.InputError` naming ``record``
    before anything is written.
    """
    try:
        root = _document(doc)
    except InputError as exc:
        raise InputError(exc.message, path, record) from None
    ET.indent(root)
    ET.ElementTree(root).write(str(path), encoding="utf-8", xml_declaration=True)


def _document(doc: dict):
    root = ET.Element("annotation")
    if doc.get("folder") is not None:
        _sub(root, "folder", doc["folder"])
    _sub(root, "filename", doc.get("filename") or "")
    if doc.get("size") is not None:
        h, w = doc["size"]
        size = _sub(root, "size")
        _sub(size, "width", w)
        _sub(size, "height", h)
        _sub(size, "depth", doc.get("depth") or 3)
    _sub(root, "segmented", doc.get("segmented") if doc.get("segmented") is not None else 0)
    for raw in doc.get("extra_xml") or []:
        root.append(parse_fragment(raw))
    for obj in doc.get("objects", []):
        o = _sub(root, "object")
        _sub(o, "name", obj["name"])
        attrs = dict(obj.get("attributes") or {})
        if "pose" in attrs:
            _sub(o, "pose", attrs.pop("pose"))
        for f in _FLAGS:
            if f in attrs:
                _sub(o, f, _fmt(bool(attrs.pop(f))))
        if obj.get("bndbox") is not None:
            _box_el(o, obj["bndbox"])
        for poly in obj.get("polygons") or []:
            pe = _sub(o, "polygon")
            for i, (x, y) in enumerate(poly, 1):
                _sub(pe, f"x{i}", _fmt(x))
                _sub(pe, f"y{i}", _fmt(y))
        for p in obj.get("parts") or []:
            pe = _sub(o, "part")
            _sub(pe, "name", p.get("name") or "")
            if p.get("bndbox") is not None:
                _box_el(pe, p["bndbox"])
        if obj.get("actions"):
            ae = _sub(o, "actions")
            for k, v in obj["actions"].items():
                _sub(ae, k, _fmt(bool(v)))
        if attrs:
            ats = _sub(o, "attributes")
            for k, v in attrs.items():
                a = _sub(ats, "attribute")
                _sub(a, "name", k)
                _sub(a, "value", _fmt(v) if not isinstance(v, bool) else ("true" if v else "false"))
        for raw in obj.get("xml") or []:
            o.append(parse_fragment(raw))
    return root


# ------------------------------------------------------------ <polygon> (Roboflow / supervision extension)
# supervision reads an object's <polygon> elements (x1, y1, x2, y2, ...: 1-based pixel indices), subtracts 1,
# rounds and fills each with cv2.fillPoly, which paints the pixels whose centres lie inside or on the outline;
# the object's mask is the union of its polygons. Outlines through the centres of a region's boundary pixels
# therefore give back exactly its pixels: each corner ring of segmill's tracer (foreground on its right) is
# moved half a pixel towards the foreground, and every hole is joined to the ring above it by a zero-width
# seam running up through foreground pixels (fillPoly draws the seam on pixels that are foreground anyway).

def _unit(dx, dy) -> tuple[int, int]:
    return (dx > 0) - (dx < 0), (dy > 0) - (dy < 0)


def _inset_ring(ring, mask) -> list[tuple[float, float]]:
    """Pixel-centre outline of one corner ring: each turn moved half a pixel towards the foreground.

    A concave turn whose diagonal pixel is background is a pinch (two pixels touching at a corner
    only): there the outline runs diagonally from one pixel's centre to the other's.
    """
    h, w = mask.shape
    pts = [(int(x), int(y)) for x, y in ring]
    n = len(pts)
    out = []
    for i in range(n):
        vx, vy = pts[i]
        din = _unit(vx - pts[i - 1][0], vy - pts[i - 1][1])
        dout = _unit(pts[(i + 1) % n][0] - vx, pts[(i + 1) % n][1] - vy)
        if din == dout or din == (0, 0) or dout == (0, 0):
            continue  # not a turn
        nin, nout = (-din[1], din[0]), (-dout[1], dout[0])  # the foreground side (y points down)
        mx, my = vx + 0.5 * (nin[0] + nout[0]), vy + 0.5 * (nin[1] + nout[1])
        cx, cy = math.floor(mx), math.floor(my)
        if 0 <= cx < w and 0 <= cy < h and mask[cy, cx]:
            out.append((mx, my))
        else:
            out.append((vx + 0.5 * (nin[0] - din[0]), vy + 0.5 * (nin[1] - din[1])))
            out.append((vx + 0.5 * (nout[0] + dout[0]), vy + 0.5 * (nout[1] + dout[1])))
    return out


def _edge_at(pts, p) -> int:
    """Index ``j`` of the first outline edge ``pts[j] -> pts[j + 1]`` through point ``p``."""
    n = len(pts)
    for j in range(n):
        (ax, ay), (bx, by) = pts[j], pts[(j + 1) % n]
        if (ay == by == p[1] and min(ax, bx) <= p[0] <= max(ax, bx)) or (
                ax == bx == p[0] and min(ay, by) <= p[1] <= max(ay, by)):
            return j
    raise ValueError(f"no outline edge through {p}")  # the tracer's rings guarantee one


def _hole_anchors(rings, is_hole, mask) -> dict:
    """``{hole: (ring above it, seam end on that ring, seam end on the hole)}`` in pixel-centre coordinates."""
    top = {}  # (row, column) of a pixel with background above -> the ring holding that edge
    for k, r in enumerate(rings):
        for (ax, ay), (bx, by) in zip(r.tolist(), np.roll(r, -1, axis=0).tolist()):
            if ay == by and bx > ax:
                for x in range(ax, bx):
                    top[(ay, x)] = k
    out = {}
    for k in np.flatnonzero(is_hole).tolist():
        r = rings[k]
        hx, hy = (int(v) for v in r[np.lexsort((r[:, 0], r[:, 1]))[0]])  # top-left corner of the hole
        y = hy - 1
        while y > 0 and mask[y - 1, hx]:
            y -= 1
        out[k] = (top[(y, hx)], (hx + 0.5, y + 0.5), (hx + 0.5, hy - 0.5))
    return out


def centre_polygons(mask) -> list[list[tuple[float, float]]]:
    """Outlines through pixel centres whose ``cv2.fillPoly`` is exactly ``mask`` (one per component).

    Parameters
    ----------
    mask : (h, w) array_like of bool
        Not empty.

    Returns
    -------
    list of list of (x, y)
        Half-integer pixel-centre coordinates (pixel ``(r, c)`` has centre
        ``(c + 0.5, r + 0.5)``), one outline per 8-connected component, holes
        spliced in by zero-width seams.
    """
    # lazy: start-up time (the tracing kernels are only needed by xml_polygons)
    from ..bridges.trace import trace_rings

    mask = np.asarray(mask, bool)
    rings, is_hole = trace_rings(mask, 8)
    outlines = [_inset_ring(r, mask) for r in rings]
    anchors = _hole_anchors(rings, is_hole, mask)
    children: dict = {}
    for k, (parent, _, _) in anchors.items():
        children.setdefault(parent, []).append(k)
    built: dict = {}

    def splice(k):
        pts = outlines[k]
        ins: dict = {}
        for c in children.get(k, ()):
            _, p, hp = anchors[c]
            j = _edge_at(pts, p)
            hole = built[c]
            jh = _edge_at(hole, hp)
            seam = [p, hp, *hole[jh + 1:], *hole[: jh + 1], hp, p]
            ins.setdefault(j, []).append((abs(p[0] - pts[j][0]) + abs(p[1] - pts[j][1]), seam))
        out = []
        for j, pt in enumerate(pts):
            out.append(pt)
            for _, seam in sorted(ins.get(j, ()), key=lambda t: t[0]):
                out.extend(seam)
        return out

    # a hole hangs from a ring above it, so the lowest holes are complete first
    for k in sorted(anchors, key=lambda k: -int(rings[k][:, 1].min())):
        built[k] = splice(k)
    return [splice(k) for k in range(len(rings)) if not is_hole[k]]
