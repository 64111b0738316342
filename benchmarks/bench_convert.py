"""Conversions, segmill vs Datumaro: images/s on the val2017-like data, outputs compared first.

Pairs: COCO -> VOC, VOC -> COCO, COCO -> CVAT, Cityscapes -> COCO and
LabelMe -> COCO. The inputs are made once from the synthetic val2017-like
COCO file (``segmill.synth``) with ``segmill convert`` (not timed).

segmill runs in this process (``segmill.convert``, kernels warmed on a
three-image dataset first). Datumaro, when installed in a separate venv
(``python -m venv /tmp/dm-venv && /tmp/dm-venv/bin/pip install datumaro``),
runs each pair through its Python API in a subprocess, timed inside that
process (interpreter start and ``import datumaro`` left out), as
``bench_voc.py`` does: ``import_from``, ``polygons_to_masks`` where the
target only holds masks (VOC: its exporter drops polygons), ``export`` with
``save_media=False``. Datumaro has no LabelMe JSON (its ``label_me`` is the
MIT LabelMe XML), so that row times segmill alone.

Before a time is trusted both outputs are decoded and compared image by
image, class by class (the union of a class's pixels: instance formats
number and split instances differently, so instances are not compared one to
one):

* VOC: the SegmentationClass PNGs, colours mapped to class names through each
  output's own label map (Datumaro writes RGB with the VOC colour map,
  segmill paletted PNGs);
* COCO: every annotation decoded with pycocotools (polygons at the image size,
  RLEs at their own: Datumaro leaves width and height 0 where the source
  has no image);
* CVAT: both XML files read back with segmill's CVAT reader and rasterized
  with the COCO rule.

A table row then says how many images hold the same class masks and how many
pixels differ (VOC paints overlapping objects in a different order: there the
differing pixels are where objects of two classes overlap).

Every output is a folder of files (VOC: three per image), so the file
system's cost of making a file counts for both tools: on the project
machine's disk (ext4, ``discard``) creating a file takes about 1 ms, on tmpfs
0.013 ms. ``--tmp /dev/shm`` measures the tools rather than the disk.

Run: python benchmarks/bench_convert.py [--images 1000] [--pairs coco-voc,voc-coco]
     [--datum-python /tmp/dm-venv/bin/python] [--keep DIR] [--tmp /dev/shm]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: name -> (source folder in the work dir, segmill source path (relative), segmill in, segmill out,
#:          Datumaro source (relative) and format or None, Datumaro out format, transform, decoder)
PAIRS = {
    "coco-voc": ("coco", "coco/annotations/instances_val.json", "coco", "voc",
                 ("coco", "coco_instances"), "voc", "polygons_to_masks", "voc"),
    "voc-coco": ("voc_masks", "voc_masks", "voc", "coco", ("voc_masks", "voc"), "coco_instances:mask", None, "coco"),
    "coco-cvat": ("coco", "coco/annotations/instances_val.json", "coco", "cvat",
                  ("coco", "coco_instances"), "cvat", None, "cvat"),
    "cityscapes-coco": ("cityscapes", "cityscapes", "cityscapes", "coco", ("cityscapes", "cityscapes"),
                        "coco_instances:mask", None, "coco"),
    "labelme-coco": ("labelme", "labelme", "labelme", "coco", None, "coco_instances", None, "coco"),
}

_DM_SCRIPT = """
import sys, time, logging
logging.disable(logging.WARNING)
import datumaro as dm
src, fmt, dst, out_fmt, transform = sys.argv[1:6]
t = time.perf_counter()
ds = dm.Dataset.import_from(src, fmt)
if transform != "-":
    ds.transform(transform)
out_fmt, _, mode = out_fmt.partition(":")
options = {"segmentation_mode": mode} if mode else {}  # "mask": masks stay masks (default: traced to polygons)
ds.export(dst, out_fmt, save_media=False, **options)
print(time.perf_counter() - t, len(ds))
"""


# ------------------------------------------------------------------ inputs


def make_inputs(work: Path, n: int, seed: int = 0) -> None:
    """The COCO file and, from it, the VOC, Cityscapes and LabelMe inputs (segmill convert, not timed)."""
    import segmill
    from segmill import synth

    coco = work / "coco" / "annotations" / "instances_val.json"
    coco.parent.mkdir(parents=True)
    (work / "coco" / "images" / "val").mkdir(parents=True)  # Datumaro wants the folder, not the files
    synth.write_coco(coco, n, seed=seed)
    for fmt in ("voc", "cityscapes", "labelme"):
        segmill.convert(coco, work / fmt, "coco", fmt)
    # VOC -> COCO reads the masks only: with the Annotations XML, Datumaro 1.13 pairs each
    # SegmentationObject instance with the XML object one place further on (its COCO then holds
    # other classes' masks), so the outputs cannot be compared
    shutil.copytree(work / "voc", work / "voc_masks", ignore=shutil.ignore_patterns("Annotations"))
    (work / "cityscapes" / "leftImg8bit" / "train").mkdir(parents=True)  # Datumaro lists it


def warm_up(work: Path) -> None:
    """Every pair once on three images: JIT caches loaded, imports done."""
    import segmill

    make_inputs(work, 3, seed=1)
    for name, (_, src, fin, fout, *_rest) in PAIRS.items():
        segmill.convert(work / src, work / f"out_{name}", fin, fout)


# ------------------------------------------------------------------ decoders


def _stem(name: str) -> str:
    """The image key: the file's stem without Cityscapes' ``_leftImg8bit``."""
    return Path(str(name).replace("\\", "/")).stem.removesuffix("_leftImg8bit")


def _voc_colours(path: Path) -> dict:
    """RGB -> class name from a VOC labelmap.txt (colours as written, else the VOC colour map by line)."""
    names, colours = [], []
    for line in (path / "labelmap.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, colour = line.split(":")[:2]
        names.append(name)
        colours.append(tuple(int(c) for c in colour.split(",")) if colour else None)
    out = {}
    for i, (name, c) in enumerate(zip(names, colours)):
        out[c if c is not None else _voc_cmap(i)] = name
    return out


def _voc_cmap(i: int) -> tuple:
    r = g = b = 0
    for k in range(8):
        r |= ((i >> 0) & 1) << (7 - k)
        g |= ((i >> 1) & 1) << (7 - k)
        b |= ((i >> 2) & 1) << (7 - k)
        i >>= 3
    return (r, g, b)


def decode_voc(path: Path) -> dict:
    """image stem -> {class name: mask} from SegmentationClass PNGs (background left out)."""
    from PIL import Image

    colours = _voc_colours(path)
    out = {}
    for png in sorted((path / "SegmentationClass").glob("*.png")):
        rgb = np.asarray(Image.open(png).convert("RGB")).astype(np.int32)
        key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        masks = {}
        for k in np.unique(key).tolist():
            name = colours.get(((k >> 16) & 255, (k >> 8) & 255, k & 255), f"colour {k:06x}")
            if name != "background":
                masks[name] = key == k
        out[_stem(png.name)] = masks
    return out


def decode_coco(path: Path, crowd: dict | None = None) -> dict:
    """image stem -> {class name: union mask} of a COCO instances file, decoded with pycocotools.

    With ``crowd`` (a dict), crowd annotations go there instead (image stem -> {class name: mask}).
    """
    from pycocotools import mask as cmask

    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    out: dict = {}
    for f in files:
        d = json.loads(f.read_text())
        cats = {c["id"]: c["name"] for c in d.get("categories", [])}
        imgs = {im["id"]: im for im in d["images"]}
        for im in imgs.values():
            out.setdefault(_stem(im["file_name"]), {})
        for a in d["annotations"]:
            im = imgs[a["image_id"]]
            seg = a["segmentation"]
            if isinstance(seg, list):
                if not seg:
                    continue
                rle = cmask.merge(cmask.frPyObjects(seg, im["height"], im["width"]))
            elif isinstance(seg["counts"], list):
                rle = cmask.frPyObjects(seg, *seg["size"])
            else:
                rle = seg
            m = cmask.decode(rle).astype(bool)
            key = _stem(im["file_name"])
            name = cats[a["category_id"]]
            if crowd is not None and a.get("iscrowd"):
                got = crowd.setdefault(key, {})
                got[name] = m if name not in got else got[name] | m
                continue
            masks = out[key]
            masks[name] = m if name not in masks else masks[name] | m
    return out


def voc_errors(out: dict, source: dict, crowd: dict) -> tuple[int, int, int, int]:
    """A VOC class map against its COCO source: ``(images, images right, wrong pixels, labelled pixels)``.

    A pixel is right when its class covers it in the source (any of them where
    objects overlap: painting order is each writer's policy; a crowd region of
    that class counts too, as both tools paint crowds as objects), or when it
    is background and no object covers it.
    """
    images = right = wrong = total = 0
    for key, src in source.items():
        got = out.get(key, {})
        cover = {name: m.copy() for name, m in src.items()}
        for name, m in crowd.get(key, {}).items():
            cover[name] = cover[name] | m if name in cover else m
        bad = 0
        for name, m in got.items():
            bad += int((m & ~cover[name]).sum()) if name in cover else int(m.sum())
        if src:
            fg_src = np.logical_or.reduce(list(src.values()))
            fg_out = np.logical_or.reduce(list(got.values())) if got else np.zeros_like(fg_src)
            bad += int((fg_src & ~fg_out).sum())
            total += int(fg_src.sum())
        images += 1
        right += bad == 0
        wrong += bad
    return images, right, wrong, total


def decode_cvat(path: Path) -> dict:
    """image stem -> {class name: union mask}: segmill's CVAT reader, COCO raster rule."""
    import segmill
    from segmill import Box

    ds = segmill.read(path, "cvat")
    names = {c.id: c.name for c in ds.categories}
    out = {}
    for it in ds.items:
        masks = {}
        for a in it.annotations:
            if isinstance(a.geometry, Box):
                continue  # Datumaro writes each COCO object's bbox as a <box> too: no mask of its own
            m = a.geometry.to_rle(it.height, it.width).decode().astype(bool)
            name = names[a.category_id]
            masks[name] = m if name not in masks else masks[name] | m
        out[_stem(it.file_name)] = masks
    return out


DECODERS = {"voc": decode_voc, "coco": decode_coco, "cvat": decode_cvat}


def masks_column(work: Path, name: str, seg_out: Path, dm_out: Path) -> str:
    """What the table says about the two outputs' masks (see the module docstring)."""
    kind = PAIRS[name][7]
    if kind == "voc":
        crowd: dict = {}
        source = decode_coco(work / PAIRS[name][1], crowd)
        parts = []
        for who, out in (("segmill", seg_out), ("Datumaro", dm_out)):
            imgs, right, wrong, total = voc_errors(decode_voc(out), source, crowd)
            parts.append(f"{who} {right}/{imgs} images right, {wrong} of {total} px wrong")
        return "vs the source: " + "; ".join(parts)
    imgs, same, diff, total = compare(DECODERS[kind](seg_out), DECODERS[kind](dm_out))
    return f"{same}/{imgs} images equal; {diff} of {total} px differ"


def compare(a: dict, b: dict) -> tuple[int, int, int, int]:
    """``(images, images with the same class masks, differing pixels, labelled pixels)``."""
    same = diff = total = 0
    keys = set(a) | set(b)
    for k in keys:
        ma, mb = a.get(k, {}), b.get(k, {})
        d = 0
        for name in set(ma) | set(mb):
            x, y = ma.get(name), mb.get(name)
            if x is None or y is None:
                z = x if x is not None else y
                d += int(z.sum())
                total += int(z.sum())
                continue
            if x.shape != y.shape:
                d += int(x.sum()) + int(y.sum())
                continue
            d += int(np.count_nonzero(x ^ y))
            total += int(np.count_nonzero(x | y))
        same += d == 0
        diff += d
    return len(keys), same, diff, total


# ------------------------------------------------------------------ runs


def run_segmill(work: Path, name: str) -> tuple[float, Path]:
    import segmill

    _, src, fin, fout, *_ = PAIRS[name]
    dst = work / f"seg_{name}"
    t = time.perf_counter()
    segmill.convert(work / src, dst, fin, fout)
    return time.perf_counter() - t, dst


def run_datumaro(work: Path, name: str, py: Path) -> tuple[float | None, Path | None, str]:
    _, _, _, _, dm_src, dm_out, transform, _ = PAIRS[name]
    if dm_src is None:
        return None, None, "Datumaro has no such format"
    dst = work / f"dm_{name}"
    cmd = [str(py), "-c", _DM_SCRIPT, str(work / dm_src[0]), dm_src[1], str(dst), dm_out, transform or "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, None, f"failed: {proc.stderr.strip().splitlines()[-1][:200]}"
    return float(proc.stdout.split()[-2]), dst, ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000, help="synthetic images (val2017 has 5000)")
    ap.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated, of: " + ", ".join(PAIRS))
    ap.add_argument("--datum-python", default="/tmp/dm-venv/bin/python")
    ap.add_argument("--keep", help="keep the work folder here (default: a temporary one, removed)")
    ap.add_argument("--tmp", help="make the temporary work folder under this folder (e.g. /dev/shm; see the module docstring)")
    args = ap.parse_args()
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown:
        ap.error(f"unknown pairs {unknown}; known: {', '.join(PAIRS)}")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_convert.", dir=args.tmp))
    work.mkdir(parents=True, exist_ok=True)
    py = Path(args.datum_python)
    try:
        warm_up(work / "warm")
        make_inputs(work, args.images)
        print(f"input: {args.images} val2017-like images (segmill.synth seed 0); Datumaro: "
              f"{py if py.exists() else 'not installed'}")
        print("| pair | segmill s | segmill images/s | Datumaro s | Datumaro images/s | ratio | masks |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name in pairs:
            t_seg, seg_out = run_segmill(work, name)
            t_dm, dm_out, why = run_datumaro(work, name, py) if py.exists() else (None, None, "not installed")
            n = args.images
            if t_dm is None:
                print(f"| {name} | {t_seg:.2f} | {n / t_seg:.0f} | - | - | - | ({why}) |", flush=True)
                continue
            masks = masks_column(work, name, seg_out, dm_out)
            print(f"| {name} | {t_seg:.2f} | {n / t_seg:.0f} | {t_dm:.2f} | {n / t_dm:.0f} | "
                  f"**{t_dm / t_seg:.1f}x** | {masks} |", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
