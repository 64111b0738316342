"""Pascal VOC ``Annotations/<id>.xml``: parse safely (defusedxml) and write.

Parsed into plain dicts; :mod:`segmill.formats.voc` turns them into the model.
Elements segmill does not know are kept as XML strings and written back.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from ..errors import InputError

__all__ = ["parse_xml", "write_xml", "box_from_voc", "box_to_voc"]

_OBJ_KNOWN = {"name", "pose", "truncated", "occluded", "difficult", "bndbox", "part", "actions", "attributes"}
_TOP_KNOWN = {"filename", "folder", "size", "segmented", "object"}
_FLAGS = ("truncated", "occluded", "difficult")


def _num(text, path, record, what):
    try:
        v = float(str(text).strip())
    except (TypeError, ValueError):
        raise InputError(f"{what} is not a number: {text!r}", path, record) from None
    if not math.isfinite(v):
        raise InputError(f"{what} is not finite: {text!r}", path, record)
    return int(v) if v.is_integer() and "." not in str(text) else v


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


def parse_xml(path) -> dict:
    """Parse one annotation file into a dict (raises InputError on bad XML)."""
    from defusedxml import ElementTree as DET
    from defusedxml.common import DefusedXmlException

    try:
        root = DET.parse(str(path)).getroot()
    except DefusedXmlException as exc:
        raise InputError(f"unsafe XML refused ({type(exc).__name__})", path) from None
    except ET.ParseError as exc:
        raise InputError(f"malformed XML: {exc}", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path) from None
    if root.tag != "annotation":
        raise InputError(f"root element is <{root.tag}>, expected <annotation>", path)
    out: dict = {"filename": root.findtext("filename"), "folder": root.findtext("folder")}
    size = root.find("size")
    out["size"] = None
    out["depth"] = None
    if size is not None:
        w, h = size.findtext("width"), size.findtext("height")
        if w is not None and h is not None:
            try:
                wi, hi = int(w), int(h)
            except ValueError:
                raise InputError(f"image size is not integer: width={w!r} height={h!r}", path) from None
            if wi < 0 or hi < 0:
                raise InputError(f"image size is negative: {wi}x{hi}", path)
            out["size"] = (hi, wi)
        out["depth"] = size.findtext("depth")
    out["segmented"] = root.findtext("segmented")
    out["extra_xml"] = [ET.tostring(c, encoding="unicode").strip() for c in root if c.tag not in _TOP_KNOWN]
    objs = []
    for i, o in enumerate(root.findall("object"), 1):
        rec = f"object {i}"
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
                try:
                    obj["attributes"][f] = bool(int(float(t)))
                except ValueError:
                    raise InputError(f"<{f}> is not 0/1: {t!r}", path, rec) from None
        obj["bndbox"] = _bndbox(o.find("bndbox"), path, rec)
        parts = []
        for p in o.findall("part"):
            parts.append({"name": p.findtext("name"), "bndbox": _bndbox(p.find("bndbox"), path, rec)})
        if parts:
            obj["extra"]["voc_parts"] = parts
        acts = o.find("actions")
        if acts is not None:
            obj["extra"]["voc_actions"] = {a.tag: bool(int(float(a.text or 0))) for a in acts}
        attrs = o.find("attributes")
        if attrs is not None:
            for a in attrs.findall("attribute"):
                k = a.findtext("name")
                if k:
                    obj["attributes"][k] = _parse_value(a.findtext("value"))
        unknown = [ET.tostring(c, encoding="unicode").strip() for c in o if c.tag not in _OBJ_KNOWN]
        if unknown:
            obj["extra"]["voc_xml"] = unknown
        objs.append(obj)
    out["objects"] = objs
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
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


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
        el.text = str(text)
    return el


def _box_el(parent, b, raw=None):
    bb = _sub(parent, "bndbox")
    for k, v in zip(("xmin", "ymin", "xmax", "ymax"), b):
        _sub(bb, k, _fmt(v))


def write_xml(path, doc: dict) -> None:
    """Write an annotation dict (the shape :func:`parse_xml` returns)."""
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
        root.append(ET.fromstring(raw))
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
            o.append(ET.fromstring(raw))
    ET.indent(root)
    ET.ElementTree(root).write(str(path), encoding="utf-8", xml_declaration=True)
