"""Mutations shared by the structured fuzz tests of the pixel-map formats (VOC, mask folders, Cityscapes, ...).

Each mutation changes ONE file of a copied seed dataset, drawing its choices
from a hypothesis ``data`` object, and returns a short description (shown
when an example fails); :func:`raw_png` builds the odd PNGs the other fuzz
tests embed or plant. The test modules load this file by path (pytest runs
with ``--import-mode=importlib``, so test folders are not importable).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

#: Text put in place of a number or a name: special floats, huge, negative, empty, odd spellings.
ODD_TEXT = ["inf", "-inf", "nan", "NaN", "-1", "0", "1e309", "9" * 400, "1" * 5000, "", " ", "abc", " 12 ",
            "0x10", "1_0", "-0", "1e3", "\u0661\u0662", "12.5", "2147483648", "-99999999999", "\x00", "\ud800"]
#: JSON values put in place of any value.
ODD_JSON = [None, True, False, 0, -1, 1.5, 10 ** 30, 10 ** 400, float("nan"), float("inf"), "", "x", "\x00",
            [], [[]], [1, 2], {}, {"a": 1}, [[0, 0], [1]], "9" * 300]
#: File names a dataset may hold: long, odd characters, glob and path-like ones.
ODD_NAMES = ["a" * 250, "a b", "-x", "**", "[x]", "x?y", ".hidden", "..", "é", "\u2028", "x\ny", "x\\y", " ", "CON"]


def copy_seed(seed: Path, dst: Path) -> Path:
    """A private copy of a seed dataset (symbolic links kept as links)."""
    shutil.copytree(seed, dst, symlinks=True)
    return dst


def files_of(root: Path, suffixes=None) -> list[Path]:
    """The regular files under ``root`` (sorted), optionally only those with one of ``suffixes``."""
    out = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return [p for p in out if suffixes is None or p.suffix.lower() in suffixes]


# ----------------------------------------------------------------------------- bytes
def mutate_bytes(path: Path, data) -> str:
    """Flip, insert or delete bytes, or truncate the file."""
    raw = bytearray(path.read_bytes())
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "empty", "non-utf8"]), "bytes")
    n = len(raw)
    if kind == "truncate" and n:
        raw = raw[: data.draw(st.integers(0, n - 1), "keep")]
    elif kind == "empty":
        raw = bytearray()
    elif kind == "non-utf8":
        at = data.draw(st.integers(0, n), "at")
        raw[at:at] = b"\xff\xfe\xc3"
    elif n:
        for _ in range(data.draw(st.integers(1, 4), "times")):
            at = data.draw(st.integers(0, len(raw) - 1), "at") if raw else 0
            if kind == "flip" and raw:
                raw[at] ^= data.draw(st.integers(1, 255), "xor")
            elif kind == "insert":
                raw[at:at] = bytes([data.draw(st.integers(0, 255), "byte")])
            elif raw:
                del raw[at]
    path.write_bytes(bytes(raw))
    return f"{kind} bytes of {path.name}"


# ----------------------------------------------------------------------------- files
def replace_path(path: Path, data, outside: Path) -> str:
    """Make ``path`` a directory, a symbolic link out of the dataset, a dangling link, or rename it oddly."""
    kind = data.draw(st.sampled_from(["directory", "symlink out", "dangling symlink", "symlink loop", "odd name"]),
                     "replace")
    if kind == "odd name":
        name = data.draw(st.sampled_from(ODD_NAMES), "name")
        _, dot, ext = path.name.partition(".")
        # keep a name's format marker (VOC ids, Cityscapes *_gtFine_* suffixes) when it has one
        new = path.with_name(f"{name}_gtFine_{ext.split('_gtFine_')[-1]}" if "_gtFine_" in path.name
                             else f"{name}{dot}{ext}")
        try:
            path.rename(new)
        except OSError:  # the file system refuses the name: that is no dataset anyone can have
            return f"odd name {name!r} refused by the file system"
        return f"renamed {path.name} to {new.name!r}"
    path.unlink()
    if kind == "directory":
        path.mkdir()
        (path / "inner.png").write_bytes(b"")
    elif kind == "symlink out":
        os.symlink(outside, path)
    elif kind == "dangling symlink":
        os.symlink(outside.parent / "no such file", path)
    else:
        os.symlink(path.name, path)  # a link to itself
    return f"{path.name} replaced by a {kind}"


def outside_png(tmp: Path) -> Path:
    """A readable label PNG beside the dataset (what a link out of the dataset would reach)."""
    p = tmp / "outside.png"
    if not p.exists():
        Image.fromarray(np.ones((4, 6), np.uint8)).save(p)
    return p


# ----------------------------------------------------------------------------- PNG
def _png_bytes(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def raw_png(width: int, height: int, rows: bytes | None = None, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG built chunk by chunk: its header declares ``width x height`` whatever ``rows`` holds.

    ``rows`` is the raw image data (a filter byte and the samples of each
    row), compressed here; by default grey rows of 1s. Rows short of the
    declared size make a header-only bomb.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    if rows is None:
        rows = b"".join(b"\0" + b"\1" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def bomb_header(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG declaring ``width x height`` pixels with one row of data."""
    return raw_png(width, height, b"\0" * (min(width, 1 << 16) + 1), bit_depth, colour)


def mutate_png(path: Path, data) -> str:
    """Re-encode a label PNG: another mode, size, palette or bit depth, values, or a bomb header."""
    with Image.open(path) as im:
        im.load()
    arr = np.asarray(im)
    kind = data.draw(st.sampled_from(["mode", "size", "palette", "values", "bomb", "other format", "animated"]),
                     "png")
    if kind == "mode":
        mode = data.draw(st.sampled_from(["L", "P", "RGB", "RGBA", "LA", "PA", "I", "I;16", "I;16B", "1", "F",
                                          "CMYK", "RGBX"]), "mode")
        try:
            out = im.convert(mode)
        except ValueError:
            out = Image.fromarray(arr.astype(np.uint16) if mode.startswith("I;16") else arr)
        raw = _save_any(out)
        what = f"mode {mode}"
    elif kind == "size":
        h = data.draw(st.integers(1, 40), "h")
        w = data.draw(st.integers(1, 40), "w")
        raw = _png_bytes(im.resize((w, h)))
        what = f"resized to {w}x{h}"
    elif kind == "palette":
        out = im.convert("P") if im.mode != "P" else im.copy()
        n = data.draw(st.sampled_from([0, 1, 2, 16, 256]), "colours")
        if n:
            out.putpalette([i % 256 for i in range(3 * n)])
        else:
            out.info.pop("transparency", None)
            out = Image.frombytes("P", out.size, out.tobytes())  # no PLTE chunk
        raw = _png_bytes(out)
        what = f"palette of {n} colours"
    elif kind == "values":
        v = data.draw(st.sampled_from([1, 7, 24, 26, 26001, 33999, 34000, 254, 255, 256, 1000, 65535]), "value")
        a = np.array(arr if arr.ndim == 2 else arr[..., 0], dtype=np.uint16 if v > 255 else arr.dtype)
        r = data.draw(st.integers(0, a.shape[0] - 1), "row")
        c = data.draw(st.integers(0, a.shape[1] - 1), "col")
        a[r, c] = v
        out = Image.fromarray(a)
        if im.mode == "P" and v <= 255:
            out = Image.frombytes("P", out.size, a.astype(np.uint8).tobytes())
            out.putpalette(im.getpalette() or [])
        raw = _png_bytes(out)
        what = f"pixel ({r}, {c}) = {v}"
    elif kind == "bomb":
        w = data.draw(st.sampled_from([0, 1, 12, 20_000, 1 << 20, 0x7FFFFFFF]), "bomb w")
        h = data.draw(st.sampled_from([0, 1, 8, 20_000, 1 << 20]), "bomb h")
        depth, colour = data.draw(st.sampled_from([(8, 0), (16, 0), (1, 0), (8, 3), (8, 2), (8, 6), (3, 0)]),
                                  "depth/colour")
        raw = bomb_header(w, h, depth, colour)
        what = f"header {w}x{h} depth {depth} colour type {colour}"
    elif kind == "animated":
        frames = [im.copy(), im.copy()]
        buf = io.BytesIO()
        frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
        raw = buf.getvalue()
        what = "animated PNG"
    else:
        fmt = data.draw(st.sampled_from(["GIF", "BMP", "TIFF", "JPEG"]), "format")
        raw = _save_any(im.convert("RGB") if fmt == "JPEG" else im, fmt)
        what = f"a {fmt} named .png"
    path.write_bytes(raw)
    return f"{path.name}: {what}"


def _save_any(im, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    try:
        im.save(buf, fmt)
    except (OSError, ValueError, KeyError):  # a mode the format cannot hold: TIFF holds them all
        buf = io.BytesIO()
        im.save(buf, "TIFF")
    return buf.getvalue()


# ----------------------------------------------------------------------------- JSON
def _paths(value, prefix=()):
    """Every path (tuple of keys / indices) into a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):  # enough positions; polygons are long
            yield from _paths(v, (*prefix, i))


def mutate_json(path: Path, data) -> str:
    """Replace, delete or duplicate one value of a JSON document (NaN/Infinity written as JSON5 literals).

    A file that is not UTF-8 JSON (ADE20K's own files are Latin-1) gets its bytes mutated instead.
    """
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        return mutate_bytes(path, data)
    paths = list(_paths(doc))
    where = data.draw(st.sampled_from(paths), "json path")
    kind = data.draw(st.sampled_from(["replace", "delete", "duplicate", "deep"]), "json edit")
    if not where:
        doc = data.draw(st.sampled_from(ODD_JSON), "root") if kind == "replace" else [doc]
    else:
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        key = where[-1]
        if kind == "replace":
            parent[key] = data.draw(st.sampled_from(ODD_JSON), "value")
        elif kind == "delete":
            del parent[key]
        elif kind == "duplicate" and isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[key] = json.loads("[" * 200 + "]" * 200) if kind == "deep" else [parent[key], parent[key]]
    path.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
    return f"{path.name}: {kind} at {where!r}"


# ----------------------------------------------------------------------------- text lists
def mutate_lines(path: Path, data) -> str:
    """Edit a line-based file (class list, image list): odd lines, non-UTF-8 bytes, duplicates, nothing."""
    lines = path.read_bytes().split(b"\n")
    kind = data.draw(st.sampled_from(["odd line", "non-utf8", "duplicate", "drop", "many", "empty"]), "lines")
    at = data.draw(st.integers(0, len(lines)), "line")
    if kind == "odd line":
        text = data.draw(st.sampled_from(ODD_TEXT + ["../../x", "/etc/passwd", "a/b", "x 1", "x 1 2", "# c",
                                                     "__ignore__", "background", "a\x00b", "a" * 300]), "text")
        lines.insert(at, text.encode("utf-8", "surrogatepass"))
    elif kind == "non-utf8":
        lines.insert(at, b"\xff\xfe\x80")
    elif kind == "duplicate" and lines:
        lines.insert(at, lines[min(at, len(lines) - 1)])
    elif kind == "drop" and lines:
        del lines[min(at, len(lines) - 1)]
    elif kind == "many":
        lines += [f"c{i}".encode() for i in range(300)]
    else:
        lines = []
    path.write_bytes(b"\n".join(lines))
    return f"{path.name}: {kind} at line {at}"


# ----------------------------------------------------------------------------- datasets for the writers
#: Image ids a dataset from another format may hold (file-name stems are made from them).
ODD_IDS = ["a\x00b", "a/b", "../../x", "..", ".", "", "a" * 300, "\u00e9" * 130, "\ud800", "a b", "a\nb", 7, -1,
           10 ** 30, "x/../../..", "CON", "*", "train/c/b", "../../../tmp/x/y"]
#: Extra fields a VOC writer reads back (from a VOC source, or carried through from any JSON source).
ODD_ITEM_EXTRA = [{}, {"voc_sets": {"Main": "x"}}, {"voc_sets": {"../x": ["y"]}},
                  {"voc_sets": {"Main": ["../../evil"]}}, {"voc_sets": [1]}, {"voc_labels": {"../x_y": 1}},
                  {"voc_labels": {"a_b": "x"}}, {"voc_labels": 5}, {"voc_xml": "str"},
                  {"voc_xml": {"extra_xml": ["<a>", 5]}}, {"voc_xml": {"folder": "\x01"}},
                  {"voc_xml": {"extra_xml": ['<!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;">]><a>&y;</a>']}}]
ODD_ANN_EXTRA = [{}, {"voc_parts": 5}, {"voc_parts": [{"name": 1, "bndbox": [1, 2]}]}, {"voc_actions": {"1 bad": 1}},
                 {"voc_actions": "x"}, {"voc_xml": ["<a"]}, {"voc_instance": 10 ** 30}, {"voc_instance": "x"},
                 {"voc_no_xml": True}, {"voc_semantic": True}]
ODD_ATTRS = [{}, {"x": "\x00"}, {"pose": "\ud800"}, {"difficult": "maybe"}, {"z_order": 10 ** 30},
             {"z_order": float("nan")}, {"x": [1, 2]}, {"\x01": 1}]
ODD_BBOX = [None, (1, 2), ("a", 1, 2, 3), (float("nan"), 0, 1, 1), (0, 0, 1e308, 1e308), (True, 0, 2, 2),
            (10 ** 400, 0, 1, 1)]
ODD_CATEGORY = [("person", None), ("", None), (" x", None), ("a\nb", None), ("a:b", None), ("#c", None),
                ("__ignore__", None), ("car", (255, 0, 0)), ("car", (0, 0, 0)), ("road", (224, 224, 192)),
                ("x" * 5000, None), ("\u2028", None), ("\ud800", None)]


def hostile_dataset(data, *, z_order_text: bool = True):
    """A small dataset as another format's reader may return it: odd ids, sizes, extras, attributes, names."""
    from segmill.geometry import Box, Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    names = data.draw(st.lists(st.sampled_from(ODD_CATEGORY), min_size=1, max_size=3), "categories")
    cats = [Category(i + 1, n, color=c) for i, (n, c) in enumerate(names)]
    attrs = ODD_ATTRS + ([{"z_order": "top"}] if z_order_text else [])
    items = []
    for k in range(data.draw(st.integers(1, 3), "items")):
        size = data.draw(st.sampled_from([None, (0, 5), (5, 0), (4, 6), (6, 4), (1, 1), (40_000, 40_000),
                                          (1, 10 ** 9)]), "size")
        anns = []
        for j in range(data.draw(st.integers(0, 3), "annotations")):
            geom = data.draw(st.sampled_from([None, Box(0, 0, 2, 2), Box(1, 1, 0, 0), Polygons([[0, 0, 3, 0, 3, 3]]),
                                              Polygons([[-5, -5, 1e6, -5, 1e6, 1e6]])]), "geometry")
            anns.append(Annotation(10 * k + j + 1, data.draw(st.sampled_from([None, *[c.id for c in cats], 99]), "cat"),
                                   geom, iscrowd=data.draw(st.booleans(), "crowd"),
                                   bbox=data.draw(st.sampled_from(ODD_BBOX), "bbox"),
                                   attributes=dict(data.draw(st.sampled_from(attrs), "attrs")),
                                   extra=dict(data.draw(st.sampled_from(ODD_ANN_EXTRA), "ann extra"))))
        iid = data.draw(st.sampled_from(ODD_IDS), "id")
        if any(item.id == iid for item in items):
            continue
        h, w = size if size else (None, None)
        items.append(Item(iid, data.draw(st.sampled_from(["a.jpg", "", "x\x00.jpg", "../../e.png"]), "file_name"),
                          width=w, height=h, annotations=anns,
                          split=data.draw(st.sampled_from([None, "train", "../x", "", "a b"]), "split"),
                          extra=dict(data.draw(st.sampled_from(ODD_ITEM_EXTRA), "item extra"))))
    return Dataset(categories=cats, items=items)
