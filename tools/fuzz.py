#!/usr/bin/env python3
"""Mutation fuzzing of segmill's readers and writers, and of :mod:`segmill.rle`, in volume.

The structured fuzz tests (``tests/fuzz``) run a few hundred examples per format
in CI; this runner runs as many as you give it time for, classifies every
outcome, and keeps one minimized reproducer per crash signature.

Usage
-----
::

    python tools/fuzz.py                                    # every format and every rle verb, 1,000 inputs each
    python tools/fuzz.py --formats coco,voc --seconds 600 --jobs 2 --out /tmp/fuzz-out
    python tools/fuzz.py --formats rle --inputs-per-format 50000    # 50,000 calls per rle verb
    python tools/fuzz.py --replay /tmp/fuzz-out/coco/01-TypeError/case.json --format coco
    python tools/fuzz.py --replay-input rle.merge:1234 --seed 0     # one generated input, again

Targets
-------
``--formats`` takes reader formats (coco, coco_results, coco_panoptic, voc,
masks, yolo, labelme, cvat, cityscapes, ade20k, mapillary, open_images, kitti,
camvid, image_masks, label_studio), ``rle`` (every verb below) or single verbs
(``rle.merge``). For a format, an *input* is one mutated copy of a seed
dataset: ``segmill.read(path, format)`` runs in-process and, when it returns,
``segmill.write(dataset, tmp_out, format)`` too (``coco`` for a read-only
format). For an rle verb, an input is
one call with generated arguments (arbitrary Python values: huge ints, NaN,
strings with every codec character, nested lists, dicts with wrong keys, numpy
arrays of odd dtypes, shapes and orders, and valid RLEs and polygons changed in
one place). ``--inputs-per-format`` counts per format and per rle verb.

Seeds are the fixtures (``fixtures/``) and, when present, the shared corpus
(``../shared/corpus``: ``datumaro/*`` and ``labelme/*``).

Mutations (one file per input): byte flips, insertions, deletions and
truncation; JSON values swapped for another type (list, object, string, null,
bool, NaN, infinity, -1, 1e308, 2**70, a 400-digit integer, 3000-deep
nesting), keys deleted or duplicated in the raw text, records duplicated;
huge, negative and NaN numbers in XML attributes and text and in text lines;
entity expansion and deep nesting in XML; PNGs re-encoded in another mode or
size, with a changed palette or bit depth, or with an IHDR declaring another
size (CRC fixed); a file replaced by a directory, by a symbolic link out of the
dataset (or a dangling or looping one), or renamed to an odd name (a newline,
300 characters, non-UTF-8 bytes).

Outcomes
--------
``ok`` (read and written), ``refused`` (a :class:`segmill.errors.SegmillError`,
which is the contract for bad input) or a *crash*: any other exception, a
SegmillError whose message spans lines, a timeout (``--timeout`` seconds per
input) or the death of the worker. A crash's signature is the exception type and
the innermost frame inside segmill (``file:function:line``); a timeout's frame
comes from a traceback dump taken when it fires.

Workers
-------
``--jobs`` worker processes (default 1), each with an address-space limit
(``--memory``, default 4 GiB, ``RLIMIT_AS``), ``SEGMILL_MAX_PIXELS`` set to
``--max-pixels`` (default 2,000,000: writers rasterize small images fast) and
a dataset folder per seed copied once into a tmpfs (``/dev/shm``); a single
file is mutated and restored per input. A worker that hangs or dies is
replaced.

Reproducers
-----------
For each signature the lowest-numbered input that hit it is regenerated,
checked, minimized when cheap (other files of the dataset dropped; JSON keys
and list items, XML elements, text lines or trailing bytes removed while the
signature stays the same) and saved under ``--out`` as
``<target>/<NN>-<exception>/case[.ext]`` (the mutated file alone when that
reproduces, else the dataset folder) with ``info.txt`` (signature,
traceback, the mutation, how to replay). rle reproducers are ``case.pickle``
(``(verb, args)``) when the arguments pickle.

Inputs are generated from ``--seed``, the target and the input number only:
a run with the same options makes the same inputs (with ``--seconds`` it
stops after a time, so how many depends on speed). Only the standard library,
numpy, Pillow and segmill are used.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import pickle
import random
import re
import resource
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus"
RLE_VERBS = ("encode", "encode_batch", "decode", "decode_batch", "merge", "iou", "area", "bbox", "from_polygons",
             "from_polygons_batch", "from_bbox", "from_coco", "RLE", "to_coco", "string_to_counts", "FlatBatch")
RLE_BATCH = 256  # rle calls per worker task (a call takes microseconds; a message costs more)


# =============================================================================== seeds
@dataclass(frozen=True)
class Seed:
    """A dataset to mutate: ``source`` folder, the path read inside it (``""``: the folder).

    ``transform`` makes a variant when the seed is copied: ``"results"`` turns a
    COCO file's annotations into a detection list, ``"instances"`` replaces a
    mask folder's semantic maps by ``instances.json``. ``only`` limits the copy
    to some entries of ``source``.
    """

    name: str
    source: str
    target: str = ""
    transform: str = ""
    only: tuple = ()


def _corpus(*parts) -> Path:
    return CORPUS.joinpath(*parts)


def _coco_files(root: Path) -> list[tuple[Path, str]]:
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for j in sorted(sub.rglob("*.json")):
            if "panoptic" not in j.name and not any(part.startswith("panoptic") for part in j.parts):
                out.append((sub, j.relative_to(sub).as_posix()))
    return out


def _files_under(root: Path, *patterns: str) -> tuple:
    """The files of ``root`` matching ``patterns`` (relative, sorted): a seed's ``only``."""
    return tuple(sorted({p.relative_to(root).as_posix() for pat in patterns for p in root.glob(pat) if p.is_file()}))


def seeds_for(fmt: str) -> list[Seed]:
    """Every seed of a reader format that exists on this machine, in a fixed order."""
    fx = FIXTURES
    coco_corpus = _coco_files(_corpus("datumaro", "coco_dataset"))
    lm_coco = _corpus("labelme", "instance_segmentation", "data_dataset_coco")
    out: list[Seed] = []
    if fmt == "coco":
        out.append(Seed("fixtures/coco", str(fx / "coco"), "annotations.json", only=("annotations.json",)))
        out += [Seed(f"datumaro/{d.name}/{t}", str(d), t, only=(t,)) for d, t in coco_corpus]
        out.append(Seed("labelme/data_dataset_coco", str(lm_coco), "annotations.json"))
    elif fmt == "coco_results":
        out.append(Seed("fixtures/coco/results", str(fx / "coco"), "results.json", only=("results.json",)))
        out += [Seed(f"datumaro/{d.name}/{t}:results", str(d), t, "results", (t,)) for d, t in coco_corpus]
    elif fmt == "coco_panoptic":
        out.append(Seed("fixtures/panoptic", str(fx / "panoptic")))
        out.append(Seed("datumaro/coco_panoptic", str(_corpus("datumaro", "coco_dataset", "coco_panoptic"))))
    elif fmt == "voc":
        out.append(Seed("fixtures/voc", str(fx / "voc")))
        out += [Seed(f"datumaro/voc_dataset{i}", str(_corpus("datumaro", "voc_dataset", f"voc_dataset{i}")))
                for i in (1, 2, 3)]
        out.append(Seed("labelme/data_dataset_voc", str(_corpus("labelme", "instance_segmentation",
                                                                 "data_dataset_voc"))))
    elif fmt == "masks":
        out.append(Seed("fixtures/masks", str(fx / "masks")))
        out.append(Seed("fixtures/masks:instances", str(fx / "masks"), transform="instances"))
    elif fmt == "yolo":
        out += [Seed(f"fixtures/yolo/{p.name}", str(p)) for p in sorted((fx / "yolo").iterdir()) if p.is_dir()]
    elif fmt == "labelme":
        lm = fx / "labelme"
        out += [Seed(f"fixtures/labelme/{d}", str(lm / d), f) for d, f in
                (("basic", "img1.json"), ("embedded", "emb.json"), ("bad_base64", "gif.json"), ("escape", "evil.json"))]
        ann = _corpus("labelme", "instance_segmentation", "data_annotated")
        out += [Seed(f"labelme/data_annotated/{j.name}", str(ann), j.name, only=(j.name, j.with_suffix(".jpg").name))
                for j in sorted(ann.glob("*.json"))] if ann.is_dir() else []
        out.append(Seed("labelme/data_annotated", str(ann)))
    elif fmt == "cvat":
        out += [Seed(f"fixtures/cvat/{d}", str(fx / "cvat" / d), "annotations.xml") for d in ("basic", "bad_rle", "escape")]
        cv = _corpus("datumaro", "cvat_dataset", "for_images")
        out += [Seed("datumaro/cvat/export_task", str(cv / "export_task"), "train.xml"),
                Seed("datumaro/cvat/export_project", str(cv / "export_project"), "annotations.xml")]
    elif fmt == "cityscapes":
        out.append(Seed("fixtures/cityscapes", str(fx / "cityscapes" / "basic")))
        out += [Seed(f"datumaro/cityscapes/{n}", str(_corpus("datumaro", "cityscapes_dataset", n)))
                for n in ("dataset", "train_dataset")]
    elif fmt == "ade20k":
        out.append(Seed("fixtures/ade20k", str(fx / "ade20k" / "basic")))
        out += [Seed(f"datumaro/ade20k2020/{n}", str(_corpus("datumaro", "ade20k2020_dataset", n)))
                for n in ("dataset", "dataset_with_meta_file")]
    elif fmt == "mapillary":
        mv = fx / "mapillary" / "basic"
        out.append(Seed("fixtures/mapillary", str(mv)))
        out += [Seed(f"fixtures/mapillary:{v}/{src}", str(mv),
                     only=_files_under(mv, f"config_{v}.json", f"*/{v}/{src}/*"))
                for v, src in (("v2.0", "panoptic"), ("v2.0", "polygons"), ("v1.2", "labels"))]
        out.append(Seed("datumaro/mapillary_vistas", str(_corpus("datumaro", "mapillary_vistas_dataset"))))
    elif fmt == "open_images":
        out.append(Seed("fixtures/open_images", str(fx / "open_images" / "basic")))
        out.append(Seed("datumaro/open_images/v6", str(_corpus("datumaro", "open_images_dataset", "v6"))))
    elif fmt == "kitti":
        out.append(Seed("fixtures/kitti", str(fx / "kitti")))
        out.append(Seed("datumaro/kitti_segmentation", str(_corpus("datumaro", "kitti_dataset", "kitti_segmentation"))))
    elif fmt == "camvid":
        out.append(Seed("fixtures/camvid", str(fx / "camvid")))
        out.append(Seed("datumaro/camvid", str(_corpus("datumaro", "camvid_dataset"))))
    elif fmt == "image_masks":
        out.append(Seed("fixtures/image_masks", str(fx / "image_masks")))
        out += [Seed(f"datumaro/common_semantic_segmentation/{n}",
                     str(_corpus("datumaro", "common_semantic_segmentation_dataset", n))) for n in ("dataset",)]
    elif fmt == "label_studio":
        ls = fx / "label_studio"
        out += [Seed(f"fixtures/label_studio/{f}", str(ls), f, only=(f,)) for f in ("tasks.json", "min.json")]
        lsc = _corpus("label-studio-converter")
        out += [Seed(f"label-studio-converter/{d}/{f}", str(lsc / d), f, only=(f,))
                for d, f in (("test_export_yolo", "data.json"), ("test_export_yolo", "data_polygons.json"),
                             ("test_export_json_min", "data.json"))]
    elif fmt == "sa1b":  # the example folder, a tar shard (mutated as bytes) and the corpus sample
        out += [Seed("fixtures/sa1b", str(fx / "sa1b")),
                Seed("fixtures/sa1b_tar", str(fx / "sa1b_tar"), "sa_000000.tar"),
                Seed("datumaro/segment_anything", str(_corpus("datumaro", "segment_anything_dataset")))]
    elif fmt in ("nifti", "nrrd"):  # the gzip example, and an uncompressed volume whose header bytes mutate
        out += [Seed(f"fixtures/{fmt}/{d}", str(fx / fmt / d)) for d in ("basic", "raw")]
    else:  # a format without seeds of its own here: its FormatSpec.example
        out.append(_example_seed(fmt))
    return [s for s in out if Path(s.source).is_dir()]


def reader_formats() -> tuple[str, ...]:
    """Every registered format that reads, in registry order: the targets of ``all``."""
    from segmill.formats import formats  # lazy: the workers import segmill themselves

    return tuple(n for n, s in formats().items() if s.read is not None)


def _example_seed(fmt: str) -> Seed:
    """The seed of ``fmt``'s ``FormatSpec.example``: its folder, or the folder holding the file."""
    from segmill.formats import get_format  # lazy: the workers import segmill themselves

    example = get_format(fmt).example
    path = FIXTURES / example
    if path.is_file():
        return Seed(f"fixtures/{example}", str(path.parent), path.name)
    return Seed(f"fixtures/{example}", str(path))


def _materialize(seed: Seed, dst: Path) -> None:
    """Copy a seed into ``dst`` (a new folder), applying its transform."""
    src = Path(seed.source)
    if seed.only:
        dst.mkdir(parents=True)
        for rel in seed.only:
            if (src / rel).exists():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, dst / rel)
    else:
        shutil.copytree(src, dst, symlinks=True)
    if seed.transform == "results":
        doc = json.loads((dst / seed.target).read_text(encoding="utf-8"))
        anns = doc.get("annotations", []) if isinstance(doc, dict) else []
        dets = [dict(a, score=0.5) for a in anns if isinstance(a, dict)]
        (dst / seed.target).write_text(json.dumps(dets), encoding="utf-8")
    elif seed.transform == "instances":
        shutil.rmtree(dst / "semantic", ignore_errors=True)
        (dst / "instances.json").write_text(json.dumps({"street_001": {"1": "person", "2": "tree"}}))


class Site:
    """One seed copied into a worker's tmpfs: a pristine copy and a working copy restored after each input."""

    def __init__(self, seed: Seed, base: Path, key: int):
        self.seed = seed
        self.pristine = base / "pristine" / str(key)
        self.work = base / "work" / str(key)
        _materialize(seed, self.pristine)
        shutil.copytree(self.pristine, self.work, symlinks=True)
        self.files = sorted(p.relative_to(self.pristine).as_posix() for p in self.pristine.rglob("*")
                            if p.is_file() and not p.is_symlink())
        self.dirs = sorted(p.relative_to(self.pristine).as_posix() for p in self.pristine.rglob("*")
                           if p.is_dir() and not p.is_symlink())
        self.touched: set[str] = set()

    def path(self, rel: str) -> Path:
        return self.work / rel

    def touch(self, rel: str) -> Path:
        """Note that ``rel`` is about to change (it is restored afterwards); its working path."""
        self.touched.add(rel)
        return self.work / rel

    def hold(self, rel: str):
        """Move ``rel`` out of the working copy (to drop it); returns a function putting it back."""
        self.touched.add(rel)
        aside = self.work.parent / f"{self.work.name}.aside"
        if os.path.lexists(aside):
            _remove(aside)
        os.rename(self.work / rel, aside)
        return lambda: os.rename(aside, self.work / rel)

    def restore(self) -> None:
        for rel in sorted(self.touched, key=lambda r: (-r.count("/"), r)):
            _remove(self.work / rel)
            src = self.pristine / rel
            if src.is_symlink():
                os.symlink(os.readlink(src), self.work / rel)
            elif src.is_dir():
                shutil.copytree(src, self.work / rel, symlinks=True)
            elif src.exists():
                shutil.copy2(src, self.work / rel)
        self.touched.clear()


def _remove(p: Path) -> None:
    if not os.path.lexists(p):
        return
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.unlink(p)


# =========================================================================== mutations
HOSTILE_JSON = [[], {}, "", "x", None, True, False, math.nan, math.inf, -math.inf, -1, 0, 1e308, -1e308, 2**70,
                -(2**70), 2**31, 2**32, 2**63, 2**64, 1.5, -0.5, [1, 2, 3], [None] * 4, {"id": 1}, [[]], [[0, 0], [1]],
                "../../outside.json", "/etc/passwd", "a\x00b", "é", "a\nb", "x" * 300, [[0, 0, 4, 0, 4, 4]],
                [[0, 0, 4]], {"size": [2, 2], "counts": [4]}, {"size": [2, 2], "counts": "04"},
                {"size": [1e9, 1e9], "counts": "0"}, [0, 0, 1e308, 1e308]]
JSON_LITERALS = ["[" * 3000 + "]" * 3000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 70 + "1" + "]" * 70,
                 "1e999", "-1e999", "1" + "0" * 400, "9" * 5000, '"\\ud800"', '"\\udfff x"', "NaN", "Infinity",
                 "-Infinity", "-0", "1E400", "123456789012345678901234567890.5e-5"]
ODD_NUMBERS = [-1, 0, -0.0, 1e308, -1e308, 2**31, 2**32, 2**53 + 1, 2**63, 2**64, 2**70, -(2**70), 10**30, 0.5,
               math.nan, math.inf, -math.inf, 89_478_486, 9_460, 100_000]
INTERESTING_KEYS = {"width", "height", "size", "id", "image_id", "category_id", "bbox", "segmentation", "counts",
                    "area", "iscrowd", "points", "imageHeight", "imageWidth", "shape_type", "file_name",
                    "imagePath", "imageData", "label", "score", "segments_info", "images", "annotations",
                    "categories", "shapes", "objects", "polygon", "imgHeight", "imgWidth", "isthing", "color"}
ODD_TEXT = ["inf", "-inf", "nan", "NaN", "-1", "0", "-0", "1e309", "9" * 400, "1" * 5000, "", " ", "abc", " 12 ",
            "0x10", "1_0", "1e3", "\u0661\u0662", "12.5", "2147483648", "4294967296", "-99999999999", "1e-400",
            "\x00", "é", "a\nb", "x" * 300, "../../x", "/etc/passwd", "-1e308", "+5", "5.", ".5", "--1"]
ODD_NAMES = ["x\ny", "a" * 300, "\udcff\udcfe", "-x", " ", "é", "\u2028", "x?*[", ".hidden", "..."]
DEEP_XML = 5000


def _kind(rel: str) -> str:
    ext = os.path.splitext(rel)[1].lower()
    return {".json": "json", ".xml": "xml", ".png": "png", ".txt": "text", ".yaml": "text", ".yml": "text",
            ".names": "text", ".csv": "text"}.get(ext, "bytes")


def mutate(site: Site, rng: random.Random, outside: Path) -> tuple[str, str]:
    """Mutate one file (or entry) of the site's working copy; ``(description, path to read)``."""
    target = site.seed.target
    if target and target in site.files and rng.random() < 0.85:
        rel = target
    elif site.dirs and rng.random() < 0.03:
        return _mutate_entry(site, rng.choice(site.dirs), rng, outside, target)
    else:  # annotation files (JSON, XML, text, PNG) four times as often as images
        weighted = [f for f in site.files for _ in range(1 if _kind(f) == "bytes" else 4)]
        rel = rng.choice(weighted) if weighted else target
    kind = _kind(rel)
    family = rng.choice({"json": ["json"] * 8, "xml": ["xml"] * 8, "png": ["png"] * 8,
                         "text": ["text"] * 8}.get(kind, ["bytes"] * 7) + ["bytes", "entry"])
    if family == "entry":
        return _mutate_entry(site, rel, rng, outside, target)
    path = site.touch(rel)
    raw = path.read_bytes()
    new, what = {"json": _mutate_json, "xml": _mutate_xml, "png": _mutate_png, "text": _mutate_text,
                 "bytes": _mutate_bytes}[family](raw, rng)
    path.write_bytes(new)
    return f"{rel}: {what}", target


def _mutate_bytes(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    b = bytearray(raw)
    kind = rng.choice(["flip", "flip", "insert", "delete", "truncate", "truncate", "empty", "non-utf8", "nul"])
    if kind == "empty" or not b:
        return b"", "emptied"
    if kind == "truncate":
        keep = rng.randrange(len(b))
        return bytes(b[:keep]), f"truncated to {keep} bytes"
    at = rng.randrange(len(b))
    if kind == "non-utf8":
        b[at:at] = b"\xff\xfe\xc3"
    elif kind == "nul":
        b[at:at] = b"\x00"
    else:
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(b)) if b else 0
            if kind == "flip" and b:
                b[at] ^= rng.randint(1, 255)
            elif kind == "insert":
                b[at:at] = bytes([rng.randrange(256)])
            elif b:
                del b[at]
    return bytes(b), f"bytes {kind} near {at}"


# ------------------------------------------------------------------------------ JSON
_MARK = "__segmill_fuzz_mark_{}__"


def _json_paths(doc, limit: int = 4000) -> list[tuple]:
    """Paths (tuples of keys and indices) of the values of ``doc``, breadth first (no recursion)."""
    out, queue = [], [((), doc)]
    while queue and len(out) < limit:
        nxt = []
        for path, node in queue:
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for k, v in items:
                out.append(path + (k,))
                nxt.append((path + (k,), v))
        queue = nxt
    return out


def _pick_path(paths: list[tuple], rng: random.Random) -> tuple:
    if rng.random() < 0.6:  # a value under a key readers look at, more often than any value
        keyed = [p for p in paths if isinstance(p[-1], str) and p[-1] in INTERESTING_KEYS]
        if keyed:
            return rng.choice(keyed)
    return rng.choice(paths)


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _mutate_json(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return _mutate_bytes(raw, rng)
    splices: dict[str, str] = {}
    done = []
    for _ in range(rng.choice([1] * 7 + [2, 2, 3])):
        paths = _json_paths(doc)
        if not paths:
            doc = copy.deepcopy(rng.choice(HOSTILE_JSON))
            done.append("document replaced")
            break
        done.append(_json_op(doc, _pick_path(paths, rng), rng, splices))
    text = json.dumps(doc, allow_nan=True, ensure_ascii=rng.random() < 0.5)
    for mark, literal in splices.items():
        text = text.replace(mark, literal, 1)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        data, what = _mutate_bytes(data, rng)
        done.append(what)
    return data, "; ".join(done)


def _json_op(doc, path: tuple, rng: random.Random, splices: dict) -> str:
    *parents, last = path
    parent = _get(doc, parents)
    value = parent[last]
    where = "/".join(map(str, path))[:120]
    op = rng.choice(["swap", "swap", "swap", "number", "literal", "delete", "dup_item", "dup_key", "wrap", "deep"])
    if op == "number" or (op == "swap" and isinstance(value, (int, float)) and rng.random() < 0.5):
        parent[last] = rng.choice(ODD_NUMBERS)
        return f"{where} = {parent[last]!r}"
    if op == "swap":
        parent[last] = copy.deepcopy(rng.choice(HOSTILE_JSON))  # never share (and later mutate) the table's lists
        return f"{where} = {_short(parent[last])}"
    if op in ("literal", "deep"):
        mark = _MARK.format(len(splices))
        splices[json.dumps(mark)] = rng.choice(JSON_LITERALS[:3] if op == "deep" else JSON_LITERALS)
        parent[last] = mark
        return f"{where} = literal {_short(splices[json.dumps(mark)])}"
    if op == "delete":
        del parent[last]
        return f"{where} deleted"
    if op == "dup_item":
        container = parent if isinstance(parent, list) else value if isinstance(value, list) else None
        if container:
            container.append(json.loads(json.dumps(rng.choice(container))))
            return f"an item of {where} duplicated"
        parent[last] = [value, value]
        return f"{where} doubled"
    if op == "dup_key" and isinstance(parent, dict):
        mark = _MARK.format(len(splices))
        other = copy.deepcopy(rng.choice(HOSTILE_JSON + [value]))
        key = json.dumps(last)
        splices[f"{key}: {json.dumps(mark)}"] = (f"{key}: {json.dumps(value, allow_nan=True)}, "
                                                 f"{key}: {json.dumps(other, allow_nan=True)}")
        parent[last] = mark
        return f"key {where} duplicated in the text"
    parent[last] = [value] if rng.random() < 0.5 else {"value": value}
    return f"{where} wrapped"


def _short(v) -> str:
    try:
        text = repr(v)
    except ValueError:
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------- XML
_ATTR = re.compile(rb'(\s)([\w:.-]+)="([^"]*)"')
_TEXT = re.compile(rb">([^<>]+)</")
_ELEMENT = re.compile(rb"<([\w:.-]+)[^<>]*/>|<([\w:.-]+)[^<>]*>[^<>]*</\2>")
PROLOGUES = [(b'<!DOCTYPE a [<!ENTITY x "xxxxxxxxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">'
              b'<!ENTITY z "&y;&y;&y;&y;&y;&y;&y;&y;">]>'),
             b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>', b"<!DOCTYPE a>",
             b'<?xml version="1.0" encoding="klingon"?>', b"\xef\xbb\xbf", b'<?xml version="9.9"?>']


def _mutate_xml(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    op = rng.choice(["attr", "attr", "attr", "text", "text", "drop_attr", "dup_attr", "element", "dup_element",
                     "deep", "prologue", "entity"])
    if op in ("attr", "drop_attr", "dup_attr"):
        found = list(_ATTR.finditer(raw))
        if found:
            m = rng.choice(found)
            name = m.group(2).decode("latin-1")
            if op == "drop_attr":
                return raw[:m.start()] + raw[m.end():], f"attribute {name} deleted"
            if op == "dup_attr":
                return raw[:m.end()] + m.group(0) + raw[m.end():], f"attribute {name} duplicated"
            val = _odd_text(rng)
            return raw[:m.start(3)] + _xml_escape(val) + raw[m.end(3):], f"attribute {name} = {_short(val)}"
    if op == "text":
        found = list(_TEXT.finditer(raw))
        if found:
            m = rng.choice(found)
            val = _odd_text(rng)
            return raw[:m.start(1)] + _xml_escape(val) + raw[m.end(1):], f"element text = {_short(val)}"
    if op in ("element", "dup_element"):
        found = list(_ELEMENT.finditer(raw))
        if found:
            m = rng.choice(found)
            if op == "element":
                return raw[:m.start()] + raw[m.end():], "an element deleted"
            times = rng.choice([1, 1, 50])
            return raw[:m.end()] + m.group(0) * times + raw[m.end():], f"an element repeated {times}x"
    start = raw.find(b">", raw.find(b"<", raw.find(b"?>") + 1 if b"?>" in raw else 0)) + 1
    if op == "deep" and start > 0:
        n = rng.choice([100, DEEP_XML])
        return raw[:start] + b"<a>" * n + b"</a>" * n + raw[start:], f"{n} nested elements"
    if op == "entity" and start > 0:
        decl = rng.choice(PROLOGUES[:2])
        body = raw[:start] + (b"&z;" if b"ENTITY z" in decl else b"&e;") + raw[start:]
        return _with_prologue(body, decl), "entity declared and used"
    return _with_prologue(raw, rng.choice(PROLOGUES)), "prologue changed"


def _with_prologue(raw: bytes, decl: bytes) -> bytes:
    if decl.startswith((b"<?xml", b"\xef")):
        return decl + re.sub(rb"^\s*<\?xml[^>]*\?>", b"", raw)
    m = re.match(rb"\s*<\?xml[^>]*\?>", raw)
    return raw[:m.end()] + decl + raw[m.end():] if m else decl + raw


def _odd_text(rng: random.Random) -> str:
    return rng.choice(ODD_TEXT)


def _xml_escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------------------ text
def _mutate_text(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    lines = raw.split(b"\n")
    i = rng.randrange(len(lines))
    op = rng.choice(["token", "token", "token", "token", "delete", "dup", "insert", "append", "long", "crlf",
                     "bom", "tabs"])
    if op == "token":
        tokens = lines[i].split(b" ")
        j = rng.randrange(len(tokens))
        val = _odd_text(rng)
        tokens[j] = val.encode("utf-8", "surrogatepass")
        lines[i] = b" ".join(tokens)
        what = f"line {i + 1} token {j + 1} = {_short(val)}"
    elif op == "delete":
        del lines[i]
        what = f"line {i + 1} deleted"
    elif op == "dup":
        lines.insert(i, lines[i])
        what = f"line {i + 1} duplicated"
    elif op == "insert":
        lines.insert(i, " ".join(_odd_text(rng) for _ in range(rng.randint(1, 9))).encode("utf-8", "surrogatepass"))
        what = f"line inserted at {i + 1}"
    elif op == "append":
        lines[i] += b" " + _odd_text(rng).encode("utf-8", "surrogatepass")
        what = f"token appended to line {i + 1}"
    elif op == "long":
        lines[i] += b" 0.5" * rng.choice([1000, 200_000])
        what = f"line {i + 1} made long"
    elif op == "crlf":
        return raw.replace(b"\n", b"\r\n"), "CRLF line ends"
    elif op == "bom":
        return b"\xef\xbb\xbf" + raw, "byte order mark"
    else:
        return raw.replace(b" ", b"\t"), "tabs for spaces"
    return b"\n".join(lines), what


# ------------------------------------------------------------------------------- PNG
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _mutate_png(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    import numpy as np
    from PIL import Image

    op = rng.choice(["mode", "mode", "size", "palette", "bits", "values", "values", "ihdr", "ihdr", "chunks"])
    if op in ("ihdr", "chunks"):
        return _png_raw(raw, rng, op)
    try:
        im = Image.open(io.BytesIO(raw))
        im.load()
    except Exception:  # noqa: BLE001 - not a PNG Pillow reads: mutate its bytes instead
        return _mutate_bytes(raw, rng)
    save: dict = {}
    if op == "mode":
        mode = rng.choice(["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
        arr = np.asarray(im)
        if mode == "I;16":
            im = Image.fromarray((arr if arr.ndim == 2 else arr[..., 0]).astype(np.uint16) * rng.choice([1, 257]))
        elif mode == "L" and im.mode == "P":
            im = Image.fromarray(arr.astype(np.uint8))  # the indices as grey levels, palette dropped
        else:
            im = im.convert(mode)
        what = f"re-encoded as {mode}"
    elif op == "size":
        w, h = im.size
        size = rng.choice([(1, 1), (w + 1, h), (w, h * 2), (max(1, w // 2), max(1, h // 3)), (h, w)])
        im = im.resize(size, Image.NEAREST)
        what = f"resized to {size[0]}x{size[1]}"
    elif op == "palette":
        if im.mode != "P":
            im = im.convert("P")
        pal = im.getpalette() or []
        choice = rng.choice(["short", "random", "none", "transparency"])
        if choice == "short":
            im.putpalette(pal[:6])
        elif choice == "random":
            im.putpalette([rng.randrange(256) for _ in range(len(pal) or 768)])
        elif choice == "none":
            im = Image.fromarray(np.asarray(im).astype(np.uint8), "L")
        else:
            save["transparency"] = 0
        what = f"palette {choice}"
    elif op == "bits":
        im = im.convert("P") if im.mode != "P" else im
        save["bits"] = rng.choice([1, 2, 4])
        what = f"saved with {save['bits']} bits"
    else:
        arr = np.array(im)
        for _ in range(rng.randint(1, 20)):
            idx = tuple(rng.randrange(s) for s in arr.shape[:2])
            arr[idx] = rng.choice([255, 254, 200, 1, 0, 2**15 - 1 if arr.dtype.itemsize > 1 else 253])
        im = Image.fromarray(arr, im.mode) if im.mode in ("L", "P", "RGB", "RGBA") else Image.fromarray(arr)
        what = "pixel values changed"
    buf = io.BytesIO()
    im.save(buf, "PNG", **save)
    return buf.getvalue(), what


def _png_raw(raw: bytes, rng: random.Random, op: str) -> tuple[bytes, str]:
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or len(raw) < 33:
        return _mutate_bytes(raw, rng)
    head, ihdr, rest = raw[:8], bytearray(raw[16:29]), raw[33:]
    if op == "ihdr":
        field = rng.choice(["size", "size", "depth", "colour"])
        if field == "size":
            w, h = rng.choice([(0, 0), (1, 1), (100_000, 100_000), (2**31 - 1, 1), (20_000, 20_000), (65_535, 65_535)])
            ihdr[0:8] = struct.pack(">II", w, h)
            what = f"IHDR size {w}x{h}"
        elif field == "depth":
            ihdr[8] = rng.choice([1, 2, 3, 4, 7, 16, 32])
            what = f"IHDR bit depth {ihdr[8]}"
        else:
            ihdr[9] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7])
            what = f"IHDR colour type {ihdr[9]}"
        return head + _png_chunk(b"IHDR", bytes(ihdr)) + rest, what
    choice = rng.choice(["no IEND", "IDAT truncated", "IHDR twice", "unknown critical chunk"])
    if choice == "no IEND":
        return raw[:-12], choice
    if choice == "IDAT truncated":
        at = raw.find(b"IDAT")
        return (raw[: at + 4 + max(1, (len(raw) - at) // 3)] if at > 0 else raw[: len(raw) // 2]), choice
    if choice == "IHDR twice":
        return raw[:33] + raw[8:33] + raw[33:], choice
    return raw[:33] + _png_chunk(b"ZZZZ", b"\x00" * 8) + raw[33:], choice


# --------------------------------------------------------------------------- entries
def _mutate_entry(site: Site, rel: str, rng: random.Random, outside: Path, target: str) -> tuple[str, str]:
    """Replace an entry by a directory, a link (out, dangling, looping), or delete or rename it."""
    kind = rng.choice(["directory", "symlink out", "symlink out", "dangling symlink", "symlink loop", "missing",
                       "odd name", "odd name"])
    path = site.touch(rel)
    if kind == "odd name":
        name = rng.choice(ODD_NAMES)
        stem, dot, ext = os.path.basename(rel).partition(".")
        marker = "_gtFine_" if "_gtFine_" in stem else "_leftImg8bit" if "_leftImg8bit" in stem else ""
        new_base = f"{name}{marker}{stem.split(marker, 1)[1] if marker else ''}{dot}{ext}"
        new_rel = os.path.join(os.path.dirname(rel), new_base)
        try:
            os.rename(path, site.work / new_rel)
        except OSError:  # a name the file system refuses (300 characters): the longest it takes
            new_rel = os.path.join(os.path.dirname(rel), "a" * (250 - len(dot + ext)) + dot + ext)
            os.rename(path, site.work / new_rel)
        site.touch(new_rel)
        return f"{rel} renamed to {new_rel!r}", new_rel if rel == target else target
    _remove(path)
    if kind == "directory":
        path.mkdir()
        (path / os.path.basename(rel)).write_bytes(b"")
    elif kind == "symlink out":
        ext = os.path.splitext(rel)[1].lower()
        dest = outside / f"secret{ext}" if (outside / f"secret{ext}").exists() else outside / "secret.json"
        os.symlink(dest if rng.random() < 0.8 else outside, path)
    elif kind == "dangling symlink":
        os.symlink(outside / "no such file", path)
    elif kind == "symlink loop":
        os.symlink(path.name, path)
    return f"{rel} replaced by {'nothing' if kind == 'missing' else 'a ' + kind}", target


def make_outside(base: Path) -> Path:
    """Readable files beside the datasets, for links that point out of them."""
    import numpy as np
    from PIL import Image

    out = base / "outside"
    out.mkdir(parents=True, exist_ok=True)
    (out / "secret.json").write_text('{"images": [], "annotations": [], "categories": []}')
    (out / "secret.xml").write_text("<annotations><secret/></annotations>")
    (out / "secret.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    Image.fromarray(np.ones((4, 6), np.uint8)).save(out / "secret.png")
    Image.fromarray(np.ones((4, 6, 3), np.uint8)).save(out / "secret.jpg")
    return out


# ================================================================== rle arguments
RLE_HUGE = [2**31, 2**32, 2**32 - 1, 2**63, 2**64, 2**70, -(2**70), 10**400, 89_478_486, 9_460, 2_000_001]
RLE_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 2e8, -2e8, 2.0000001e8, 0.5, -0.0, 3.0, 1e7]
RLE_STRINGS = ["coco", "pil", "opencv", "é", "\ud800", "\x00", "\n", "0" * 60, "size", "counts", "1~", "6@", "",
               "0`h9", "PPYo1", "o" * 30, "_" * 20]
DTYPES = ["bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32",
          "float64", "complex64", ">u4", ">i8", "<U3", "S2", "object", "M8[s]", "m8[s]", "structured"]
_DEEP: list = []


def _deep():
    if not _DEEP:
        v: object = 0
        for _ in range(3000):
            v = [v]
        _DEEP.append(v)
    return _DEEP[0]


def _scalar(rng: random.Random):
    import numpy as np

    r = rng.randrange(14)
    if r < 3:
        return rng.randint(-3, 40)
    if r == 3:
        return rng.choice(RLE_HUGE) if rng.random() < 0.95 else 10**5000
    if r < 6:
        return rng.choice(RLE_FLOATS) if rng.random() < 0.7 else rng.uniform(-1e3, 1e3)
    if r == 6:
        return "".join(chr(rng.randrange(0x30, 0x70)) for _ in range(rng.randrange(13)))
    if r == 7:
        return rng.choice(RLE_STRINGS)
    if r == 8:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    if r == 9:
        return rng.choice([None, True, False])
    if r == 10:
        return _deep()
    return rng.choice([np.int64(3), np.uint32(7), np.float32(2.5), np.bool_(True), np.float64("nan"),
                       bytearray(b"0P"), memoryview(b"12"), object(), range(4), {1, 2}, frozenset(), 1j])


def _ndarray(rng: random.Random):
    import numpy as np

    shape = tuple(rng.randrange(7) for _ in range(rng.randrange(4)))
    if rng.random() < 0.4:
        arr = np.array([rng.choice(RLE_FLOATS + [1.0, 2.0, 0.0]) for _ in range(int(np.prod(shape)))],
                       np.float64).reshape(shape)
    else:
        base = np.array([rng.randint(-3, 40) for _ in range(int(np.prod(shape)))], np.int64).reshape(shape)
        name = rng.choice(DTYPES)
        arr = np.zeros(shape, [("a", "<i4")]) if name == "structured" else base.astype(name)
    layout = rng.choice(["C", "F", "strided", "readonly", "T", "broadcast"])
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = arr[::2]
    elif layout == "readonly":
        arr.flags.writeable = False
    elif layout == "T":
        arr = arr.T
    elif layout == "broadcast" and arr.ndim:
        arr = np.broadcast_to(arr, (2,) + arr.shape)
    return arr


def _value(rng: random.Random, depth: int = 0):
    """An arbitrary Python value: scalars, arrays, and lists, tuples and dicts of them."""
    r = rng.random()
    if depth > 2 or r < 0.5:
        return _scalar(rng)
    if r < 0.65:
        return _ndarray(rng)
    if r < 0.85:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if r < 0.92:
        return (_value(rng, depth + 1), _value(rng, depth + 1))
    return {rng.choice(["size", "counts", "x", 1, None]): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _mask(rng: random.Random):
    import numpy as np

    h, w = rng.randrange(10), rng.randrange(10)
    return np.array([rng.random() < 0.4 for _ in range(h * w)], bool).reshape(h, w)


def _good_rle(rng: random.Random):
    from segmill import rle

    r = rle.encode(_mask(rng))
    form = rng.choice(["rle", "str", "list", "bytes"])
    if form == "rle":
        return r
    obj = r.to_coco(compressed=form != "list")
    if form == "bytes":
        obj["counts"] = obj["counts"].encode()
    return obj


def _rle_like(rng: random.Random):
    """A valid RLE (object or dict), one with a key replaced or removed, or any value."""
    r = rng.random()
    if r < 0.45:
        return _good_rle(rng)
    if r < 0.8:
        obj = _good_rle(rng)
        obj = obj.to_coco() if not isinstance(obj, dict) else dict(obj)
        key = rng.choice(["size", "counts", "extra"])
        if rng.random() < 0.3:
            obj.pop(key, None)
        else:
            obj[key] = _value(rng)
        return obj
    return _value(rng)


def _rle_list(rng: random.Random):
    r = rng.random()
    if r < 0.5:
        same = _mask(rng).shape
        from segmill import rle
        return [rle.encode(_mask_of(rng, same)) for _ in range(rng.randrange(5))]
    if r < 0.8:
        return [_rle_like(rng) for _ in range(rng.randrange(4))]
    return _rle_like(rng)


def _mask_of(rng: random.Random, shape):
    import numpy as np

    return np.array([rng.random() < 0.4 for _ in range(shape[0] * shape[1])], bool).reshape(shape)


def _coord(rng: random.Random):
    r = rng.random()
    if r < 0.8:
        return rng.randint(-5, 30) if rng.random() < 0.5 else rng.uniform(-5, 30)
    return rng.choice(RLE_FLOATS + [10**400, 2**70, True, None, "1", 1e6, -1e7, 2e8, [1, 2]])


def _polygons(rng: random.Random):
    r = rng.random()
    if r < 0.45:  # valid, so that the calls reach the rasterizer
        return [[rng.uniform(-3, 14) if rng.random() < 0.5 else rng.randint(-3, 14) for _ in range(2 * rng.randint(3, 6))]
                for _ in range(rng.randint(1, 3))]
    if r < 0.75:
        return [[_coord(rng) if rng.random() < 0.97 else _value(rng) for _ in range(rng.choice([6, 8, 10, 12, 4, 7]))]
                for _ in range(rng.randint(1, 3))]
    if r < 0.75:
        return [_coord(rng) for _ in range(rng.randrange(10))]
    return _value(rng)


def _size(rng: random.Random):
    return rng.randrange(13) if rng.random() < 0.85 else _scalar(rng) if rng.random() < 0.7 else _value(rng)


def _counts(rng: random.Random, h: int, w: int) -> list:
    """Runs summing to h * w (empty runs included now and then)."""
    left, out = h * w, []
    while left > 0:
        c = rng.randint(0 if rng.random() < 0.1 else 1, left)
        out.append(c)
        left -= c
    return out


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _flat_batch(rng: random.Random) -> list:
    """Consistent FlatBatch arguments: packed valid polygons and their sizes."""
    import numpy as np

    anns = [_polygons(rng) if rng.random() < 0.2 else [[rng.uniform(-3, 14) for _ in range(2 * rng.randint(3, 6))]
            for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(1, 4))]
    anns = [a if isinstance(a, list) and all(isinstance(p, list) for p in a) else [[0, 0, 4, 0, 4, 4]] for a in anns]
    coords = [_float(v) for a in anns for part in a for v in part]
    per = rng.random() < 0.5
    hs = [rng.randrange(13) for _ in range(len(anns) if per else 1)]
    ws = [rng.randrange(13) for _ in range(len(anns) if per else 1)]
    return [np.array(coords, np.float64), np.array([len(p) for a in anns for p in a], np.int64),
            np.array([len(a) for a in anns], np.int64), np.array(hs, np.int64), np.array(ws, np.int64),
            0.5, [(hs[i if per else 0], ws[i if per else 0]) for i in range(len(anns))]]


def _int_array(rng: random.Random):
    import numpy as np

    if rng.random() < 0.6:
        return np.array([rng.randint(-2, 12) for _ in range(rng.randrange(5))], np.int64)
    return _ndarray(rng) if rng.random() < 0.6 else _value(rng)


def rle_args(verb: str, rng: random.Random) -> tuple:
    """Arguments for one call of ``verb``, drawn from ``rng``."""
    if verb in ("encode", "encode_batch"):
        return (_mask(rng) if rng.random() < 0.4 else _ndarray(rng) if rng.random() < 0.5 else _value(rng),)
    if verb in ("decode", "area", "bbox", "decode_batch"):
        return (_rle_like(rng) if rng.random() < 0.5 else _rle_list(rng),)
    if verb == "merge":
        return (_rle_list(rng), rng.choice([None, True, False]) if rng.random() < 0.7 else _value(rng))
    if verb == "iou":
        return (_rle_list(rng), _rle_list(rng), None if rng.random() < 0.4 else _value(rng))
    if verb in ("from_polygons", "from_polygons_batch"):
        polys = _polygons(rng) if verb == "from_polygons" else [_polygons(rng) for _ in range(rng.randrange(4))]
        rule = rng.choice(["coco", "coco", "pil"]) if rng.random() < 0.85 else _value(rng)
        return (polys, _size(rng), _size(rng), rule)
    if verb == "from_bbox":
        box = [_coord(rng) for _ in range(4)] if rng.random() < 0.7 else _value(rng)
        return (box, _size(rng), _size(rng))
    if verb == "from_coco":  # a list is decoded in one batch; rle_call compares it with one by one
        obj = [_rle_like(rng) for _ in range(rng.randrange(6))] if rng.random() < 0.3 else _rle_like(rng)
        return (obj, None if rng.random() < 0.5 else _size(rng), None if rng.random() < 0.5 else _size(rng))
    if verb == "RLE":
        h, w = _size(rng), _size(rng)
        if rng.random() < 0.5 and type(h) is int and type(w) is int and 0 <= h * w < 200:
            counts = _counts(rng, h, w)
            if counts and rng.random() < 0.3:
                counts[rng.randrange(len(counts))] = _scalar(rng)
        else:
            counts = [rng.randrange(20) for _ in range(rng.randrange(5))] if rng.random() < 0.5 else _value(rng)
        return (counts, h, w)
    if verb == "to_coco":
        return (_good_rle(rng), _value(rng) if rng.random() < 0.7 else rng.choice([True, False]))
    if verb == "string_to_counts":
        if rng.random() < 0.3:
            from segmill import rle

            text = rle.encode(_mask(rng)).to_coco()["counts"]
            return (text if rng.random() < 0.5 else text.encode(),)
        return (_scalar(rng) if rng.random() < 0.6 else _value(rng),)
    if verb == "FlatBatch" and rng.random() < 0.6:
        args = _flat_batch(rng)
        if rng.random() < 0.5:  # one argument changed
            i = rng.randrange(len(args))
            args[i] = _int_array(rng) if i < 5 and rng.random() < 0.5 else _value(rng)
        return tuple(args)
    if verb == "FlatBatch":
        import numpy as np
        coords = np.array([_coord(rng) if rng.random() < 0.9 else 1.0 for _ in range(rng.randrange(15))], dtype=object)
        try:
            coords = coords.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            coords = _value(rng)
        sizes = [(rng.randrange(12), rng.randrange(12)) for _ in range(rng.randrange(4))]
        return (coords, _int_array(rng), _int_array(rng), _int_array(rng), _int_array(rng),
                rng.random() if rng.random() < 0.7 else _value(rng), sizes if rng.random() < 0.6 else _value(rng))
    raise ValueError(f"unknown rle verb {verb!r}")


def rle_call(verb: str, args: tuple):
    """Call ``verb`` with ``args``; check any RLE it returns (an ``AssertionError`` when malformed)."""
    import numpy as np

    from segmill import rle

    if verb == "to_coco":
        out = args[0].to_coco(args[1]) if isinstance(args[0], rle.RLE) else rle.from_coco(args[0]).to_coco(args[1])
        again = rle.from_coco(out)
        assert again == (args[0] if isinstance(args[0], rle.RLE) else rle.from_coco(args[0])), "to_coco round trip"
        return out
    if verb == "FlatBatch":
        job = rle.FlatBatch(*args[:6])
        out = job.finish()
        if out is not None:
            for r in job.rles(args[6]) or []:
                _check_rle(r)
        return out
    out = getattr(rle, verb)(*args)
    if verb == "from_coco" and isinstance(args[0], (list, tuple)):
        assert out == [rle.from_coco(o, *args[1:]) for o in args[0]], "from_coco batch != one by one"
    for r in out if isinstance(out, list) else [out]:
        if isinstance(r, rle.RLE):
            _check_rle(r)
    if verb == "iou":
        assert np.all((out >= 0) & (out <= 1)), "IoU outside [0, 1]"
    return out


def _check_rle(r) -> None:
    import numpy as np

    assert type(r.height) is int and type(r.width) is int, "RLE size not two ints"
    assert r.counts.dtype == np.uint32 and r.counts.ndim == 1, "RLE counts not uint32"
    assert int(r.counts.sum(dtype=np.uint64)) == r.height * r.width, "RLE counts do not sum to its size"


# ========================================================================= outcomes
_SEGMILL_DIR: list = []


def _segmill_dir() -> str:
    if not _SEGMILL_DIR:
        import segmill

        _SEGMILL_DIR.append(os.path.dirname(os.path.abspath(segmill.__file__)) + os.sep)
    return _SEGMILL_DIR[0]


def frame_of(frames) -> str:
    """``file:function:line`` of the innermost of ``frames`` (``(file, line, function)``) inside segmill."""
    root = _segmill_dir()
    found = "-"
    for filename, line, name in frames:
        if os.path.abspath(filename).startswith(root):
            found = f"{os.path.relpath(os.path.abspath(filename), root)}:{name}:{line}"
    return found


def classify(run) -> dict:
    """Run ``run(stage)`` (``stage`` a one-item list it updates) and classify how it ended."""
    from segmill.errors import SegmillError

    stage = ["read"]
    try:
        run(stage)
    except SegmillError as exc:
        if "\n" not in str(exc):
            return {"status": "refused", "stage": stage[0]}
        return _crash(exc, stage[0], f"MultiLineMessage({type(exc).__name__})")
    except (KeyboardInterrupt, SystemExit) as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _crash(exc, stage[0], type(exc).__name__)
    except BaseException as exc:  # noqa: BLE001 - everything else is what we are looking for
        return _crash(exc, stage[0], type(exc).__name__)
    return {"status": "ok", "stage": stage[0]}


def _crash(exc: BaseException, stage: str, kind: str) -> dict:
    frames = [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a message that cannot be shown
        message = "<unprintable>"
    message = message.replace("\n", "\\n")
    return {"status": "crash", "stage": stage, "sig": f"{kind} @ {frame_of(frames)}",
            "exc": f"{type(exc).__name__}: {message[:300]}", "traceback": text[-6000:]}


_DUMP_FRAME = re.compile(r'^\s*File "(.*)", line (\d+) in (\S+)')


def dump_signature(text: str) -> str:
    """The signature of a timeout or a fatal error from a faulthandler dump (``""`` when there is none)."""
    if not text.strip():
        return ""
    kind = "Timeout" if text.lstrip().startswith("Timeout") else "FatalError"
    m = re.search(r"Fatal Python error: ([^\n]+)", text)
    if m:
        kind = "Fatal(" + m.group(1).split(":")[0].strip() + ")"
    frames = []
    for line in text.splitlines():
        fm = _DUMP_FRAME.match(line)
        if fm:
            frames.append((fm.group(1), int(fm.group(2)), fm.group(3)))
    # The dump lists the innermost frame first: reverse it for frame_of, which keeps the last one.
    return f"{kind} @ {frame_of(list(reversed(frames)))}"


# =========================================================================== worker
class Worker:
    """A worker process's state: seed sites in its tmpfs folder, the fault dump, its options."""

    def __init__(self, conf: dict):
        import faulthandler

        self.conf = conf
        self.base = Path(conf["base"])
        self.base.mkdir(parents=True, exist_ok=True)
        self.outside = make_outside(self.base)
        self.sites: dict = {}
        self.seeds: dict = {}
        self.dump = open(self.base / "faults.txt", "w+")  # noqa: SIM115 - open for the process's life
        faulthandler.enable(self.dump)
        self.faulthandler = faulthandler
        self.n = 0

    # ------------------------------------------------------------ inputs
    def site(self, fmt: str, k: int) -> Site:
        if fmt not in self.seeds:
            self.seeds[fmt] = seeds_for(fmt)
        if (fmt, k) not in self.sites:
            self.sites[(fmt, k)] = Site(self.seeds[fmt][k], self.base, len(self.sites))
        return self.sites[(fmt, k)]

    def prepare(self, fmt: str, index: int):
        """``(site, mutation description, read path, errors mode)`` of format input ``index``, applied."""
        rng = random.Random(f"{self.conf['seed']}:{fmt}:{index}")
        if fmt not in self.seeds:
            self.seeds[fmt] = seeds_for(fmt)
        k = rng.randrange(len(self.seeds[fmt]))
        errors = rng.choice(self.conf["errors"])
        site = self.site(fmt, k)
        desc, target = mutate(site, rng, self.outside)
        return site, f"seed {site.seed.name}: {desc}", target, errors

    def run_format(self, fmt: str, path: Path, errors: str) -> dict:
        import segmill
        from segmill.formats import get_format

        self.n += 1
        out = self.base / "out" / str(self.n)
        out.mkdir(parents=True)

        def run(stage):
            ds = segmill.read(path, fmt, **({} if errors == "raise" else {"errors": errors}))
            stage[0] = "write"
            wfmt = fmt if get_format(fmt).write else "coco"  # a read-only format: its dataset written as COCO
            name = ("written.xml" if wfmt == "cvat" else "written.json") if get_format(wfmt).output == "file" \
                else "written"
            segmill.write(ds, out / name, wfmt)

        try:
            return classify(run)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    # ------------------------------------------------------------ faults
    def arm(self, seconds: float) -> None:
        fd = self.dump.fileno()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        self.faulthandler.dump_traceback_later(seconds, exit=True, file=self.dump)

    def disarm(self) -> None:
        self.faulthandler.cancel_dump_traceback_later()

    # ------------------------------------------------------------ tasks
    def task_run(self, task: dict) -> dict:
        target, first, count = task["target"], task["first"], task["count"]
        stats = {"ok": 0, "refused": 0, "crash": 0, "mutator": 0}
        crashes = []
        t0 = time.perf_counter()
        self.arm(self.conf["timeout"])
        try:
            for index in range(first, first + count):
                if target.startswith("rle."):
                    res, desc = self._rle_input(target[4:], index), ""
                else:
                    if count > 1:
                        self.arm(self.conf["timeout"])
                    res, desc = self._format_input(target, index)
                stats[res["status"]] += 1
                if res["status"] in ("crash", "mutator"):
                    crashes.append(dict(res, index=index, desc=desc))
        finally:
            self.disarm()
        return {"op": "done", "task": task["task"], "stats": stats, "crashes": crashes,
                "seconds": time.perf_counter() - t0}

    def _format_input(self, fmt: str, index: int) -> tuple[dict, str]:
        try:
            site, desc, target, errors = self.prepare(fmt, index)
        except Exception as exc:  # noqa: BLE001 - a bug of this tool, counted apart
            for s in self.sites.values():
                s.restore()
            return {"status": "mutator", "exc": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()[-3000:]}, ""
        try:
            return self.run_format(fmt, site.work / target if target else site.work, errors), desc
        finally:
            site.restore()

    def _rle_input(self, verb: str, index: int) -> dict:
        rng = random.Random(f"{self.conf['seed']}:rle.{verb}:{index}")
        try:
            args = rle_args(verb, rng)
        except Exception as exc:  # noqa: BLE001 - a bug of this tool, counted apart
            return {"status": "mutator", "exc": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        return classify(lambda stage: (stage.__setitem__(0, verb), rle_call(verb, args)))

    def task_save(self, task: dict) -> dict:
        """Regenerate input ``index``, check its signature, minimize it when asked, save it under ``dest``."""
        dest = Path(task["dest"])
        shutil.rmtree(dest, ignore_errors=True)  # what a failed attempt left
        dest.mkdir(parents=True)
        target, index = task["target"], task["index"]
        if target.startswith("rle."):
            return self._save_rle(target, index, dest, task)
        site, desc, read_rel, errors = self.prepare(target, index)
        try:
            return self._save_format(site, desc, read_rel, errors, dest, task)
        finally:
            site.restore()

    def _save_format(self, site: Site, desc: str, read_rel: str, errors: str, dest: Path, task: dict) -> dict:
        fmt, sig = task["target"], task["sig"]
        changed = sorted(site.touched)
        res: dict = {}
        reproduced = False
        if task["run"]:
            self.arm(self.conf["timeout"] * 3)
            res = self.run_format(fmt, site.work / read_rel if read_rel else site.work, errors)
            self.disarm()
            reproduced = res.get("sig") == sig
        note = "not run (it hung or killed its worker)" if not task["run"] else (
            "reproduced" if reproduced else f"did not reproduce: {res.get('sig') or res.get('status')}")
        if reproduced and task["minimize"]:
            note += "; " + Minimizer(self, site, fmt, read_rel, errors, sig, task["budget"]).run()
        case = self._copy_case(site, fmt, read_rel, errors, sig, dest, reproduced)
        info = [f"signature: {sig}", (f"target: {fmt}   stage: {res.get('stage', task.get('stage', '?'))}   "
                                      f"input: {task['index']} (seed {self.conf['seed']})   errors={errors}"),
                f"mutation: {desc}", f"changed: {', '.join(map(repr, changed))}", f"check: {note}",
                f"exception: {res.get('exc', task.get('exc', ''))}",
                f"replay: python tools/fuzz.py --replay {case} --format {fmt}"
                + ("" if errors == "raise" else f" --errors {errors}"),
                (f"regenerate: python tools/fuzz.py --replay-input {fmt}:{task['index']} --seed {self.conf['seed']}"
                 f"{'' if self.conf['errors'] == ['raise'] else ' --errors ' + ','.join(self.conf['errors'])}"),
                f"environment: SEGMILL_MAX_PIXELS={os.environ.get('SEGMILL_MAX_PIXELS', '')}", "",
                res.get("traceback", task.get("traceback", ""))]
        (dest / "info.txt").write_text("\n".join(info), encoding="utf-8", errors="backslashreplace")
        return {"op": "saved", "task": task["task"], "path": str(case), "note": note}

    def _copy_case(self, site: Site, fmt: str, read_rel: str, errors: str, sig: str, dest: Path,
                   reproduced: bool) -> Path:
        """The mutated file alone when it reproduces alone (or nothing was run), else the dataset folder."""
        src = site.work / read_rel if read_rel else site.work
        if read_rel and src.is_file() and not src.is_symlink():
            alone = self.base / "alone"
            shutil.rmtree(alone, ignore_errors=True)
            alone.mkdir()
            one = alone / ("case" + "".join(Path(read_rel).suffixes[-1:]))
            shutil.copy2(src, one)
            if reproduced and self.run_format(fmt, one, errors).get("sig") == sig:
                shutil.copy2(one, dest / one.name)
                return dest / one.name
        shutil.copytree(site.work, dest / "case", symlinks=True)
        return dest / "case" / read_rel if read_rel else dest / "case"

    def _save_rle(self, target: str, index: int, dest: Path, task: dict) -> dict:
        verb = target[4:]
        args = rle_args(verb, random.Random(f"{self.conf['seed']}:{target}:{index}"))
        res = classify(lambda stage: rle_call(verb, args)) if task["run"] else {}
        case = dest / "case.pickle"
        try:
            case.write_bytes(pickle.dumps((verb, args)))
            pickled = "case.pickle: (verb, args)"
        except Exception as exc:  # noqa: BLE001 - deep nesting or an object that does not pickle
            pickled = f"arguments do not pickle ({type(exc).__name__}); regenerate them instead"
            case = dest
        from segmill.validate import brief

        info = [f"signature: {task['sig']}", f"target: {target}   input: {index} (seed {self.conf['seed']})",
                f"arguments: {brief(args)}", pickled, f"check: {res.get('sig') or res.get('status', 'not run')}",
                f"exception: {res.get('exc', task.get('exc', ''))}",
                f"regenerate: python tools/fuzz.py --replay-input {target}:{index} --seed {self.conf['seed']}", "",
                res.get("traceback", task.get("traceback", ""))]
        (dest / "info.txt").write_text("\n".join(info), encoding="utf-8", errors="backslashreplace")
        return {"op": "saved", "task": task["task"], "path": str(case), "note": pickled}


def worker_main(conf: dict) -> None:
    """Serve tasks read from stdin (JSON lines); answers go to the original stdout."""
    limit = conf["memory"]
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ["SEGMILL_MAX_PIXELS"] = str(conf["max_pixels"])
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints must not corrupt the answers
    import segmill  # noqa: F401 - loaded (and its kernels) before the first timed input
    from segmill import rle

    rle.from_polygons([[0, 0, 4, 0, 4, 4]], 5, 5)
    w = Worker(conf)
    out.write(json.dumps({"op": "ready", "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        task = json.loads(line)
        if task["op"] == "run":
            answer = w.task_run(task)
        elif task["op"] == "save":
            try:
                answer = w.task_save(task)
            except Exception as exc:  # noqa: BLE001 - report and keep serving
                answer = {"op": "saved", "task": task["task"], "path": "", "note": f"save failed: {exc!r}"}
        else:
            break
        size = _address_space() if limit and task["op"] == "run" else 0
        if size > limit * RETIRE_AT:
            answer["retire"] = size  # the parent starts a fresh worker; this one stops here
            out.write(json.dumps(answer) + "\n")
            break
        out.write(json.dumps(answer) + "\n")
    shutil.rmtree(w.base, ignore_errors=True)


#: A worker whose address space passes this fraction of --memory retires after its task: heap fragments
#: (big images decoded, freed, never returned to the system) would otherwise make later, small inputs fail
#: with a MemoryError that is the worker's history, not the input's doing.
RETIRE_AT = 0.5


def _address_space() -> int:
    """This process's virtual memory size in bytes (``VmSize``), 0 where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ======================================================================== minimizer
class Minimizer:
    """Greedy delta debugging of one saved input, in place, while its signature stays the same.

    First the dataset's other files and folders are dropped, then the changed
    file shrinks: JSON keys and list items (halves first), XML elements and
    attributes, text lines, or trailing bytes. Every attempt reruns the read
    (and write); the whole is bounded by ``budget`` seconds and 600 attempts.
    """

    def __init__(self, worker: Worker, site: Site, fmt: str, read_rel: str, errors: str, sig: str, budget: float):
        self.w, self.site, self.fmt, self.read_rel, self.errors, self.sig = worker, site, fmt, read_rel, errors, sig
        self.deadline = time.monotonic() + budget
        self.attempts = 0

    def left(self) -> bool:
        return time.monotonic() < self.deadline and self.attempts < 600

    def same(self) -> bool:
        self.attempts += 1
        self.w.arm(self.w.conf["timeout"] * 3)
        path = self.site.work / self.read_rel if self.read_rel else self.site.work
        try:
            return self.w.run_format(self.fmt, path, self.errors).get("sig") == self.sig
        finally:
            self.w.disarm()

    def run(self) -> str:
        changed = sorted(self.site.touched)
        dropped = self.drop_entries(changed)
        shrunk = []
        for rel in changed:
            p = self.site.work / rel
            if p.is_file() and not p.is_symlink() and self.left():
                before = p.stat().st_size
                self.shrink(p)
                shrunk.append(f"{rel} {before} -> {p.stat().st_size} bytes")
        return f"minimized in {self.attempts} runs: {dropped} entries dropped; " + ("; ".join(shrunk) or "-")

    # ------------------------------------------------------------ entries
    def drop_entries(self, changed: list[str]) -> int:
        keep = set()
        for rel in changed + ([self.read_rel] if self.read_rel else []):
            parts = rel.split("/")
            keep.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        dropped = 0
        queue = sorted(p.relative_to(self.site.work).as_posix() for p in self.site.work.iterdir())
        while queue and self.left():
            rel = queue.pop(0)
            p = self.site.work / rel
            if rel in keep:
                if p.is_dir() and not p.is_symlink():
                    queue += sorted(c.relative_to(self.site.work).as_posix() for c in p.iterdir())
                continue
            back = self.site.hold(rel)
            if self.same():
                dropped += 1
                continue
            back()
            if p.is_dir() and not p.is_symlink():
                queue += sorted(c.relative_to(self.site.work).as_posix() for c in p.iterdir())
        return dropped

    # ------------------------------------------------------------ content
    def try_bytes(self, path: Path, data: bytes) -> bool:
        old = path.read_bytes()
        path.write_bytes(data)
        if self.same():
            return True
        path.write_bytes(old)
        return False

    def shrink(self, path: Path) -> None:
        kind = _kind(path.name)
        structured = {"json": self.shrink_json, "xml": self.shrink_xml}.get(kind)
        try:
            # A structured pass may fail on what it cannot parse or print (deep nesting, an unknown
            # encoding): the file then holds the last state that reproduced, and the plain passes go on.
            if structured is not None and structured(path, path.read_bytes()):
                return
        except Exception:  # noqa: BLE001, S110 - deliberately ignored, see above
            pass
        if kind in ("json", "xml", "text"):
            self.shrink_lines(path)
        self.shrink_tail(path)

    def shrink_json(self, path: Path, raw: bytes) -> bool:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return False

        def dump(d) -> bytes:
            return json.dumps(d, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")

        try:
            if not self.try_bytes(path, dump(doc)):
                return False  # the text itself matters (a duplicated key, a literal): shrink lines instead
        except (ValueError, RecursionError):
            return False
        progress = True
        while progress and self.left():
            progress = False
            for node in self._containers(doc):
                if self._shrink_container(node, lambda: self.try_bytes(path, dump(doc))):
                    progress = True
                    break
        return True

    @staticmethod
    def _containers(doc) -> list:
        out, queue = [], [doc]
        while queue:
            node = queue.pop(0)
            if isinstance(node, (dict, list)):
                out.append(node)
                queue += list(node.values()) if isinstance(node, dict) else list(node)
        return out

    def _shrink_container(self, node, check) -> bool:
        """Drop what ``check`` allows from one list or dict; True when something went."""
        gone = False
        if isinstance(node, dict):
            for key in list(node):
                if not self.left():
                    break
                backup = dict(node)
                del node[key]
                if check():
                    gone = True
                else:
                    node.clear()
                    node.update(backup)
            return gone
        size = max(1, len(node) // 2)
        while size >= 1 and self.left():
            i = 0
            while i < len(node) and self.left():
                backup = list(node)
                del node[i:i + size]
                if check():
                    gone = True
                else:
                    node[:] = backup
                    i += size
            size //= 2
        return gone

    def shrink_xml(self, path: Path, raw: bytes) -> bool:
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(raw)
        except (ET.ParseError, ValueError, RecursionError):
            return False

        def dump() -> bytes:
            return ET.tostring(root, encoding="utf-8")

        if not self.try_bytes(path, dump()):
            return False
        progress = True
        while progress and self.left():
            progress = False
            for el in list(root.iter()):
                children = list(el)
                for child in children:
                    if not self.left():
                        break
                    i = list(el).index(child)
                    el.remove(child)
                    if self.try_bytes(path, dump()):
                        progress = True
                    else:
                        el.insert(i, child)
        return True

    def shrink_lines(self, path: Path) -> None:
        lines = path.read_bytes().split(b"\n")
        size = max(1, len(lines) // 2)
        while size >= 1 and self.left() and len(lines) > 1:
            i = 0
            while i < len(lines) and self.left():
                trial = lines[:i] + lines[i + size:]
                if self.try_bytes(path, b"\n".join(trial)):
                    lines = trial
                else:
                    i += size
            size //= 2

    def shrink_tail(self, path: Path) -> None:
        data = path.read_bytes()
        cut = len(data) // 2
        while cut >= 1 and self.left():
            if self.try_bytes(path, data[: len(data) - cut]):
                data = data[: len(data) - cut]
            else:
                cut //= 2


# ====================================================================== the parent
def workroot() -> Path:
    """A fresh folder for the workers' copies: in the tmpfs when there is one."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="segmill-fuzz-", dir=base))


class Proc:
    """A worker process, seen from the parent."""

    def __init__(self, conf: dict, verbose: bool):
        self.base = Path(conf["base"])
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(conf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None if verbose else subprocess.DEVNULL, cwd=conf["cwd"])
        self.buf = b""
        self.task: dict | None = None
        self.deadline = time.monotonic() + 600.0  # loading segmill may compile its kernels the first time
        self.ready = False

    def send(self, task: dict, seconds: float) -> None:
        self.task = task
        self.deadline = time.monotonic() + seconds
        self.proc.stdin.write((json.dumps(task) + "\n").encode())
        self.proc.stdin.flush()

    def read(self) -> list | None:
        """Complete answer lines available now, or None at end of file (the worker is gone)."""
        data = os.read(self.proc.stdout.fileno(), 1 << 20)
        if not data:
            return None
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def fault_text(self) -> str:
        try:
            return (self.base / "faults.txt").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Pool:
    """``jobs`` workers fed tasks one at a time; hung and dead workers are replaced."""

    def __init__(self, opts, root: Path):
        self.opts, self.root = opts, root
        self.sel = selectors.DefaultSelector()
        self.procs: list[Proc] = []
        self.made = 0
        self.retired = 0  # workers replaced because their address space grew past RETIRE_AT of --memory
        for _ in range(opts.jobs):
            self._start()

    def _start(self) -> Proc:
        conf = {"base": str(self.root / f"w{self.made}"), "cwd": str(self.root), "seed": self.opts.seed,
                "errors": self.opts.errors, "timeout": self.opts.timeout, "memory": self.opts.memory,
                "max_pixels": self.opts.max_pixels}
        self.made += 1
        p = Proc(conf, self.opts.verbose)
        self.procs.append(p)
        self.sel.register(p.proc.stdout, selectors.EVENT_READ, p)
        return p

    def _replace(self, p: Proc, kill: bool = True) -> None:
        self.sel.unregister(p.proc.stdout)
        self.procs.remove(p)
        p.stop(kill=kill)
        self._start()

    def run(self, next_task, on_answer, on_lost, seconds_for) -> None:
        """Feed ``next_task()`` (None: nothing more) until every answer is in."""
        more = True
        while True:
            for p in self.procs:
                if p.ready and p.task is None and more:
                    task = next_task()
                    if task is None:
                        more = False
                    else:
                        p.send(task, seconds_for(task))
            if not more and all(p.task is None for p in self.procs):
                return
            for key, _ in self.sel.select(0.25):
                p = key.data
                lines = p.read()
                if lines is None:
                    self._lost(p, "died", on_lost)
                    continue
                for msg in lines:
                    if msg["op"] == "ready":
                        p.ready, p.deadline = True, None
                    else:
                        task, p.task, p.deadline = p.task, None, None
                        on_answer(task, msg)
                        if msg.get("retire"):
                            self.retired += 1
                            self._replace(p, kill=False)
                            break
            now = time.monotonic()
            for p in list(self.procs):
                if p.deadline is not None and now > p.deadline:
                    if not p.ready:
                        raise SystemExit("a worker did not start (run it with --verbose to see why)")
                    self._lost(p, "timeout", on_lost)

    def _lost(self, p: Proc, why: str, on_lost) -> None:
        if not p.ready:
            raise SystemExit("a worker died while starting (run it with --verbose to see why)")
        task = p.task
        text = p.fault_text()
        if why == "died" or p.proc.poll() is not None:
            p.proc.wait()
            code = p.proc.returncode
            why = "timeout" if text.lstrip().startswith("Timeout") else f"died ({_exit_status(code)})"
        self._replace(p)
        if task is not None:
            on_lost(task, why, text)

    def close(self) -> None:
        for p in self.procs:
            self.sel.unregister(p.proc.stdout)
            p.stop(kill=False)
        self.procs.clear()


def _exit_status(code: int | None) -> str:
    if code is None:
        return "killed"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"


@dataclass
class Stat:
    inputs: int = 0
    ok: int = 0
    refused: int = 0
    crash: int = 0
    timeouts: int = 0
    died: int = 0
    mutator: int = 0
    seconds: float = 0.0


class Campaign:
    """One fuzzing run: the tasks, the tallies, the signatures found, the reproducers saved."""

    def __init__(self, opts, targets: list[str]):
        self.opts, self.targets = opts, targets
        self.stats = {t: Stat() for t in targets}
        self.found: dict[tuple[str, str], dict] = {}
        self.mutator: dict[str, dict] = {}
        self.retry: list[dict] = []
        self.ids = 0
        self.retired = 0  # workers the pool replaced for their address space (see RETIRE_AT)
        self.start = time.monotonic()
        self.last_note = self.start
        self.stopping = False
        self.tasks_out = {t: 0 for t in targets}
        self.tasks_done = {t: 0 for t in targets}
        self._gen = self._tasks()

    # ------------------------------------------------------------ tasks
    def _tasks(self):
        """Tasks of the targets in turn, the one that has had the least worker time first.

        Which inputs a target gets depends only on its own count, so the order
        changes nothing but how ``--seconds`` is shared out.
        """
        n = self.opts.inputs_per_format
        done = {t: 0 for t in self.targets}
        active = list(self.targets)
        while active:
            t = min(active, key=lambda t: (self._spent(t), self.targets.index(t)))
            count = RLE_BATCH if t.startswith("rle.") else 1
            if n is not None:
                count = min(count, n - done[t])
            if count <= 0:
                active.remove(t)
                continue
            self.tasks_out[t] += 1
            yield {"op": "run", "target": t, "first": done[t], "count": count}
            done[t] += count

    def _spent(self, t: str) -> float:
        """Worker seconds a target has had, tasks still running counted at its mean so far."""
        st = self.stats[t]
        finished = self.tasks_done[t]
        mean = st.seconds / finished if finished else 0.01
        return st.seconds + (self.tasks_out[t] - finished) * mean

    def next_task(self) -> dict | None:
        self.note()
        if self.retry:
            task = self.retry.pop(0)
            self.tasks_out[task["target"]] += 1
        elif self.stopping or (self.opts.seconds and time.monotonic() - self.start > self.opts.seconds):
            return None
        else:
            task = next(self._gen, None)
            if task is None:
                return None
        self.ids += 1
        return dict(task, task=self.ids)

    def seconds_for(self, task: dict) -> float:
        if task["op"] == "save":
            return task["budget"] + 4 * self.opts.timeout + 60
        return self.opts.timeout + 5

    # ------------------------------------------------------------ answers
    def on_answer(self, task: dict, msg: dict) -> None:
        self.tasks_done[task["target"]] += 1
        st = self.stats[task["target"]]
        st.seconds += msg["seconds"]
        for k, v in msg["stats"].items():
            setattr(st, k, getattr(st, k) + v)
            st.inputs += v if k != "mutator" else 0
        for c in msg["crashes"]:
            if c["status"] == "mutator":
                m = self.mutator.setdefault(c["exc"].split("\n")[0][:120], {"count": 0, "example": c})
                m["count"] += 1
            else:
                self.record(task["target"], c)

    def record(self, target: str, c: dict) -> None:
        key = (target, c["sig"])
        f = self.found.get(key)
        if f is None:
            self.found[key] = f = dict(c, count=0)
            print(f"  new: {target}: {c['sig']}  (input {c['index']})", file=sys.stderr, flush=True)
        f["count"] += 1
        if c["index"] < f["index"]:
            f.update({k: v for k, v in c.items() if k != "count"})

    def on_lost(self, task: dict, why: str, dump: str) -> None:
        self.tasks_done[task["target"]] += 1
        if task["count"] > 1:  # which call of the batch hung is unknown: run them one by one
            self.retry += [dict(task, first=i, count=1) for i in range(task["first"], task["first"] + task["count"])]
            return
        st = self.stats[task["target"]]
        st.inputs += 1
        if why == "timeout":
            st.timeouts += 1
        else:
            st.died += 1
        kind = "Timeout" if why == "timeout" else f"WorkerDied({why[6:-1]})"
        sig = dump_signature(dump)
        sig = sig if sig and not sig.startswith("FatalError") else f"{kind} @ -"
        exc = f"ran over --timeout ({self.opts.timeout:g} s)" if why == "timeout" else f"the worker {why}"
        self.record(task["target"], {"index": task["first"], "sig": sig, "stage": "?", "status": "crash",
                                     "exc": exc, "traceback": dump[-6000:], "desc": "", "hang": True})

    def note(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_note > 15:
            self.last_note = now
            n = sum(s.inputs for s in self.stats.values())
            print(f"[{now - self.start:6.0f}s] {n:,} inputs ({n / max(now - self.start, 1e-9):,.1f}/s), "
                  f"{len(self.found)} signatures", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ reproducers
    def save(self, pool: Pool) -> None:
        """Regenerate, check, minimize and save the first input of every signature."""
        out = Path(self.opts.out)
        order = sorted(self.found.items(), key=lambda kv: (self.targets.index(kv[0][0]), kv[1]["index"], kv[0][1]))
        queue, numbers = [], {}
        for (target, sig), f in order:
            numbers[target] = numbers.get(target, 0) + 1
            slug = re.sub(r"[^A-Za-z0-9]+", "-", sig.split(" @ ")[0]).strip("-")[:40]
            dest = out / target / f"{numbers[target]:02d}-{slug}"
            shutil.rmtree(dest, ignore_errors=True)
            hang = bool(f.get("hang"))
            queue.append({"op": "save", "target": target, "index": f["index"], "sig": sig, "dest": str(dest),
                          "run": not hang, "minimize": not hang and self.opts.minimize_seconds > 0,
                          "budget": self.opts.minimize_seconds, "stage": f.get("stage", "?"),
                          "exc": f.get("exc", ""), "traceback": f.get("traceback", "")})
        if queue:
            print(f"saving {len(queue)} reproducers under {out} ...", file=sys.stderr, flush=True)

        def next_task():
            if not queue:
                return None
            self.ids += 1
            return dict(queue.pop(0), task=self.ids)

        def on_answer(task, msg):
            if not msg["path"] and task["minimize"]:  # the minimizer failed: save it as generated
                queue.append(dict(task, minimize=False))
                return
            self.found[(task["target"], task["sig"])].update(repro=msg["path"], repro_note=msg["note"])

        def on_lost(task, why, dump):
            if task["run"]:  # rerunning it hangs or kills the worker: save it as generated
                queue.append(dict(task, run=False, minimize=False))
            else:
                self.found[(task["target"], task["sig"])].update(repro="", repro_note=f"saving failed: {why}")

        pool.run(next_task, on_answer, on_lost, self.seconds_for)

    # ------------------------------------------------------------ report
    def report(self) -> str:
        wall = time.monotonic() - self.start
        total = sum(s.inputs for s in self.stats.values())
        lines = [(f"segmill fuzz: seed {self.opts.seed}, {self.opts.jobs} job(s), {wall:,.1f} s, {total:,} inputs "
                  f"({total / max(wall, 1e-9):,.1f}/s)"), "",
                 (f"{'target':<26}{'inputs':>9}{'ok':>9}{'refused':>9}{'crashes':>9}{'timeouts':>9}{'died':>6}"
                  f"{'inputs/s':>10}")]
        for t in self.targets:
            s = self.stats[t]
            rate = s.inputs / s.seconds if s.seconds else 0.0
            lines.append(f"{t:<26}{s.inputs:>9,}{s.ok:>9,}{s.refused:>9,}{s.crash:>9,}{s.timeouts:>9,}{s.died:>6,}"
                         f"{rate:>10,.1f}")
        lines += ["", f"workers retired after growing past {RETIRE_AT:.0%} of --memory: {self.retired}",
                  f"{len(self.found)} crash signature(s)" + (":" if self.found else "")]
        order = sorted(self.found.items(), key=lambda kv: (self.targets.index(kv[0][0]), -kv[1]["count"], kv[0][1]))
        if order:
            lines.append(f"{'count':>7}  {'target':<22}{'stage':<8}signature  ->  reproducer")
        for (target, sig), f in order:
            lines.append(f"{f['count']:>7}  {target:<22}{f.get('stage', '?'):<8}{sig}")
            lines.append(f"{'':>9}{f.get('exc', '')[:150]}")
            if f.get("repro") is not None:
                lines.append(f"{'':>9}-> {f['repro'] or '(not saved)'}   [{f.get('repro_note', '')[:140]}]")
        if self.mutator:
            lines += ["", "errors of the mutators themselves (bugs of tools/fuzz.py, not of segmill):"]
            lines += [f"{m['count']:>7}  {k}" for k, m in self.mutator.items()]
        return "\n".join(lines)

    def summary(self) -> dict:
        return {"seed": self.opts.seed, "targets": self.targets, "workers_retired": self.retired,
                "stats": {t: vars(s) for t, s in self.stats.items()},
                "signatures": [{"target": t, "signature": sig, "count": f["count"], "input": f["index"],
                                "stage": f.get("stage"), "exception": f.get("exc"), "mutation": f.get("desc"),
                                "reproducer": f.get("repro"), "note": f.get("repro_note")}
                               for (t, sig), f in sorted(self.found.items())]}


# ========================================================================== replay
def replay(path: Path, fmt: str, errors: str) -> int:
    """Read (and write) one saved case in this process; print the outcome. Exit status 1 on a crash."""
    import segmill
    from segmill.formats import get_format

    with tempfile.TemporaryDirectory() as tmp:
        def run(stage):
            ds = segmill.read(path, fmt, **({} if errors == "raise" else {"errors": errors}))
            stage[0] = "write"
            wfmt = fmt if get_format(fmt).write else "coco"  # a read-only format: its dataset written as COCO
            name = ("written.xml" if wfmt == "cvat" else "written.json") if get_format(wfmt).output == "file" else "out"
            segmill.write(ds, Path(tmp) / name, wfmt)

        res = classify(run)
    return _show(res)


def _show(res: dict) -> int:
    print(f"{res['status']} ({res['stage']})")
    if res["status"] == "crash":
        print(res["sig"])
        print(res["traceback"])
        return 1
    return 0


def replay_input(spec: str, opts) -> int:
    """Regenerate input ``target:index`` of ``--seed``, run it here and print what happens."""
    target, _, index = spec.rpartition(":")
    index = int(index)
    if target.startswith("rle."):
        from segmill.validate import brief

        args = rle_args(target[4:], random.Random(f"{opts.seed}:{target}:{index}"))
        print(f"{target}{brief(args)}")
        return _show(classify(lambda stage: rle_call(target[4:], args)))
    root = workroot()
    try:
        os.environ["SEGMILL_MAX_PIXELS"] = str(opts.max_pixels)
        w = Worker({"base": str(root / "w"), "seed": opts.seed, "errors": opts.errors, "timeout": opts.timeout})
        site, desc, read_rel, errors = w.prepare(target, index)
        print(f"{desc}   (errors={errors})")
        res = w.run_format(target, site.work / read_rel if read_rel else site.work, errors)
        if opts.out:
            keep = Path(opts.out) / f"input-{target}-{index}"
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(site.work, keep, symlinks=True)
            print(f"mutated dataset copied to {keep}")
        return _show(res)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ============================================================================ main
def expand(formats: str) -> list[str]:
    out: list[str] = []
    readers = reader_formats()
    for name in (f.strip() for f in formats.split(",") if f.strip()):
        if name == "all":
            out += list(readers) + [f"rle.{v}" for v in RLE_VERBS]
        elif name == "rle":
            out += [f"rle.{v}" for v in RLE_VERBS]
        elif name in readers or (name.startswith("rle.") and name[4:] in RLE_VERBS):
            out.append(name)
        else:
            raise SystemExit(f"unknown target {name!r}; choose from {', '.join(readers)}, rle, rle.<verb> "
                             f"({', '.join(RLE_VERBS)}) or all")
    return list(dict.fromkeys(out))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--formats", default="all", help="comma-separated formats, 'rle', 'rle.<verb>' or 'all' "
                    "(default)")
    ap.add_argument("--inputs-per-format", type=int, default=None, metavar="N",
                    help="inputs per format and per rle verb (default 1,000 unless --seconds is given)")
    ap.add_argument("--seconds", type=float, default=None, help="stop making inputs after this many seconds")
    ap.add_argument("--seed", type=int, default=0, help="inputs are a function of the seed (default 0)")
    ap.add_argument("--out", default="fuzz-out", help="where reproducers and summary.json go (default ./fuzz-out)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input (default 10)")
    ap.add_argument("--memory", type=int, default=4 << 30, help="address-space limit of a worker in bytes "
                    "(default 4 GiB; 0: none)")
    ap.add_argument("--max-pixels", type=int, default=2_000_000, help="SEGMILL_MAX_PIXELS in the workers")
    ap.add_argument("--errors", default="raise", help="errors= modes to read with, comma-separated (default raise)")
    ap.add_argument("--minimize-seconds", type=float, default=20.0, help="minimization budget per signature "
                    "(0: save as generated)")
    ap.add_argument("--replay", metavar="PATH", help="read (and write) one case here and print the outcome")
    ap.add_argument("--replay-input", metavar="TARGET:N", help="regenerate input N of TARGET and run it here")
    ap.add_argument("--format", help="the format of --replay")
    ap.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    opts.errors = [e.strip() for e in opts.errors.split(",") if e.strip()]
    if opts.inputs_per_format is None and opts.seconds is None:
        opts.inputs_per_format = 1000
    if opts.jobs < 1:
        ap.error("--jobs must be at least 1")
    return opts


def _terminate(signum, frame):
    raise SystemExit(f"terminated by signal {signum}")  # unwinds through the clean-up of main


def main(argv=None) -> int:
    opts = parse_args(argv)
    if opts.worker:
        worker_main(json.loads(opts.worker))
        return 0
    if opts.replay:
        if not opts.format:
            raise SystemExit("--replay needs --format")
        return replay(Path(opts.replay), opts.format, opts.errors[0])
    if opts.replay_input:
        return replay_input(opts.replay_input, opts)
    targets = expand(opts.formats)
    readers = reader_formats()
    unseeded = [t for t in targets if t in readers and not seeds_for(t)]
    for t in unseeded:
        print(f"no seed found for {t}; skipped", file=sys.stderr)
    targets = [t for t in targets if t not in unseeded]
    camp = Campaign(opts, targets)
    signal.signal(signal.SIGTERM, _terminate)
    root = workroot()
    pool = Pool(opts, root)
    try:
        try:
            pool.run(camp.next_task, camp.on_answer, camp.on_lost, camp.seconds_for)
        except KeyboardInterrupt:
            print("interrupted: saving what was found", file=sys.stderr)
        camp.note(force=True)
        camp.retired = pool.retired
        camp.save(pool)
    finally:
        pool.close()
        shutil.rmtree(root, ignore_errors=True)
    Path(opts.out).mkdir(parents=True, exist_ok=True)
    (Path(opts.out) / "summary.json").write_text(json.dumps(camp.summary(), indent=1, default=str))
    print(camp.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
