"""Synthetic COCO-instances datasets at chosen scale, for tests and benchmarks.

The data imitates what makes the released COCO files hard to handle fast and
exactly, without copying them:

* image ids sparse and large, images listed in random order, annotations in a
  different order (not grouped by image);
* ~7.3 annotations per image (``val2017``: 5,000 images / ~36,000
  annotations; ``train2017``: 118,000 / ~860,000), object sizes spread
  log-uniformly from a few pixels to half the image;
* star-shaped polygons of 10-60 vertices with coordinates rounded to 2
  decimals, some clipped by the image border, ~12 % of objects in 2-4 parts;
* ~1 % crowd annotations as *uncompressed* RLEs, with ids from
  900100000000 as in COCO;
* the 80 sparse category ids of COCO (1..90 with gaps);
* stored ``area``/``bbox`` following docs/internals.md, "COCO area and bbox" (shoelace sum and
  vertex extent for polygons; pixel count and ``toBbox`` for RLE);
* unknown fields on the top level, images, annotations and categories, which
  a lossless reader must carry through.

Everything is a pure function of ``(n_images, seed, options)``.

Examples
--------
>>> d = coco_dict(3, seed=1)
>>> sorted(d)
['annotations', 'categories', 'images', 'info', 'licenses', 'segmill_synth']
>>> len(d["categories"])
80
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

__all__ = ["COCO_CATEGORY_IDS", "coco_dict", "write_coco", "VAL2017", "TRAIN2017"]

#: The 80 category ids of COCO instances (1..90 with gaps).
COCO_CATEGORY_IDS: tuple[int, ...] = tuple(
    i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
)
#: Image counts of the two reference scales.
VAL2017 = 5_000
TRAIN2017 = 118_000

_SUPER = ("person", "vehicle", "outdoor", "animal", "accessory", "sports", "kitchen", "food",
          "furniture", "electronic", "appliance", "indoor")
_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 426), (500, 375),
          (375, 500), (640, 360), (612, 612), (640, 640))
_SIZE_P = np.array([30, 12, 20, 8, 8, 5, 4, 5, 3, 5], float)
_CROWD_ID0 = 900100000000


def _categories(rng) -> list[dict[str, Any]]:
    out = []
    for k, cid in enumerate(COCO_CATEGORY_IDS):
        cat: dict[str, Any] = {"supercategory": _SUPER[k * len(_SUPER) // 80], "id": cid, "name": f"class{cid:02d}"}
        if k % 17 == 3:
            cat["x_frequency"] = "rare"  # an unknown field
        out.append(cat)
    return out


def _images(rng, n: int, extra_fields: bool) -> list[dict[str, Any]]:
    ids = np.sort(rng.choice(np.arange(1, 6 * n + 10), size=n, replace=False))
    rng.shuffle(ids)
    which = rng.choice(len(_SIZES), size=n, p=_SIZE_P / _SIZE_P.sum())
    lic = rng.integers(1, 9, size=n)
    days = rng.integers(0, 365, size=n)
    out = []
    for i in range(n):
        iid = int(ids[i])
        w, h = _SIZES[which[i]]
        img: dict[str, Any] = {
            "license": int(lic[i]),
            "file_name": f"{iid:012d}.jpg",
            "coco_url": f"http://images.example.org/val/{iid:012d}.jpg",
            "height": h,
            "width": w,
            "date_captured": f"2013-{1 + days[i] // 31:02d}-{1 + days[i] % 28:02d} 12:00:00",
            "flickr_url": f"http://farm.example.org/{iid}.jpg",
            "id": iid,
        }
        if extra_fields and i % 50 == 7:
            img["x_capture"] = {"camera": "synthetic", "iso": 100 * (1 + i % 8)}
        out.append(img)
    return out


def _blob(rng, cx, cy, r, nv, w, h) -> np.ndarray:
    """A star-shaped ring of ``nv`` vertices, clipped to the image, 2 decimals."""
    ang = np.sort(rng.uniform(0, 2 * math.pi, nv))
    phase = rng.uniform(0, 2 * math.pi, 3)
    wob = 1 + 0.18 * np.sin(2 * ang + phase[0]) + 0.12 * np.sin(3 * ang + phase[1]) + 0.06 * rng.standard_normal(nv)
    aspect = rng.uniform(0.5, 1.6)
    rot = phase[2]
    dx = r * wob * np.cos(ang) * aspect
    dy = r * wob * np.sin(ang) / aspect
    x = cx + dx * math.cos(rot) - dy * math.sin(rot)
    y = cy + dx * math.sin(rot) + dy * math.cos(rot)
    xy = np.empty((nv, 2))
    xy[:, 0] = np.clip(x, 0, w)
    xy[:, 1] = np.clip(y, 0, h)
    return np.round(xy, 2)


def _shoelace(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _parts(rng, w, h, multipart_fraction) -> list[np.ndarray]:
    r = math.exp(rng.uniform(math.log(3.0), math.log(0.42 * min(w, h))))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    nparts = 1
    if rng.random() < multipart_fraction:
        nparts = int(rng.choice([2, 3, 4], p=[0.7, 0.22, 0.08]))
    parts = []
    for k in range(nparts):
        if k == 0:
            pcx, pcy, pr = cx, cy, r
        else:
            a = rng.uniform(0, 2 * math.pi)
            d = r * rng.uniform(0.9, 1.6)
            pcx, pcy, pr = cx + d * math.cos(a), cy + d * math.sin(a), r * rng.uniform(0.25, 0.6)
        nv = int(rng.integers(10, 61))
        xy = _blob(rng, pcx, pcy, pr, nv, w, h)
        if _shoelace(xy) > 0.5:  # a blob clipped to a sliver is dropped, as annotators would
            parts.append(xy)
    return parts


def _annotation(rng, img, crowd: bool, multipart_fraction: float, extra_fields: bool, serial: int):
    w, h = img["width"], img["height"]
    if crowd:
        # lazy: start-up time (numba is only needed for crowd regions)
        from .rle import from_polygons, merge

        for _ in range(20):
            blobs = [p for _ in range(int(rng.integers(2, 6))) for p in _parts(rng, w, h, 0.0)]
            if blobs:
                rle = merge([from_polygons([b], h, w) for b in blobs])
                if rle.area:
                    break
        else:  # pragma: no cover - 20 misses in a row do not happen
            return None
        x, y, bw, bh = rle.bbox
        ann: dict[str, Any] = {
            "segmentation": rle.to_coco(compressed=False),
            "area": int(rle.area),
            "iscrowd": 1,
            "image_id": img["id"],
            "bbox": [x, y, bw, bh],
        }
    else:
        for _ in range(20):
            parts = _parts(rng, w, h, multipart_fraction)
            if parts:
                break
        else:  # pragma: no cover
            return None
        allp = np.concatenate(parts)
        x0, y0 = allp.min(axis=0)
        x1, y1 = allp.max(axis=0)
        ann = {
            "segmentation": [p.reshape(-1).tolist() for p in parts],
            "area": sum(_shoelace(p) for p in parts),
            "iscrowd": 0,
            "image_id": img["id"],
            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        }
    if extra_fields and serial % 41 == 5:
        ann["attributes"] = {"occluded": bool(serial % 2)}
    if extra_fields and serial % 67 == 11:
        ann["x_review"] = "needs-check" if serial % 3 else "ok"
    return ann


def _iter_annotations(rng, images, anns_per_image, crowd_fraction, multipart_fraction,
                      extra_fields) -> Iterator[dict[str, Any]]:
    n = len(images)
    mean_rest = max(anns_per_image / 0.99 - 1.0, 0.01)
    shape = 1.3
    counts = 1 + rng.negative_binomial(shape, shape / (shape + mean_rest), size=n)
    counts[rng.random(n) < 0.01] = 0
    np.minimum(counts, 90, out=counts)
    order = rng.permutation(n)  # annotations are not grouped in image-list order
    next_id, crowd_id, serial = 1, _CROWD_ID0, 0
    for i in order:
        img = images[i]
        for _ in range(int(counts[i])):
            crowd = bool(rng.random() < crowd_fraction)
            serial += 1
            ann = _annotation(rng, img, crowd, multipart_fraction, extra_fields, serial)
            if ann is None:  # pragma: no cover
                continue
            ann["category_id"] = int(COCO_CATEGORY_IDS[min(int(rng.exponential(18.0)), 79)])
            if crowd:
                crowd_id += 1
                ann["id"] = crowd_id
            else:
                next_id += int(rng.integers(1, 4))
                ann["id"] = next_id
            yield ann


def _head(rng, n_images, seed, extra_fields):
    info = {"description": "segmill synthetic COCO-like instances", "version": "1.0", "year": 2026,
            "contributor": "segmill.synth", "date_created": "2026/01/01"}
    licenses = [{"url": f"http://licenses.example.org/{k}", "id": k, "name": f"License {k}"} for k in range(1, 9)]
    images = _images(rng, n_images, extra_fields)
    cats = _categories(rng)
    return info, licenses, images, cats


def coco_dict(n_images: int, seed: int = 0, *, anns_per_image: float = 7.3, crowd_fraction: float = 0.01,
              multipart_fraction: float = 0.12, extra_fields: bool = True) -> dict[str, Any]:
    """A COCO-instances dataset as a JSON-ready dict.

    Parameters
    ----------
    n_images : int
        ``5000`` for a val2017-like, ``118000`` for a train2017-like set.
    seed : int, default 0
    anns_per_image : float, default 7.3
        Mean annotations per image (COCO's).
    crowd_fraction : float, default 0.01
        Share of crowd annotations (uncompressed RLE).
    multipart_fraction : float, default 0.12
        Share of polygon objects with 2-4 parts.
    extra_fields : bool, default True
        Add unknown fields (top level, images, annotations, categories).

    Returns
    -------
    dict
        Keys ``info``, ``licenses``, ``images``, ``annotations``,
        ``categories`` (and ``segmill_synth`` with ``extra_fields``).

    Examples
    --------
    >>> d = coco_dict(20, seed=3)
    >>> len(d["images"]), all(a["image_id"] in {i["id"] for i in d["images"]} for a in d["annotations"])
    (20, True)
    """
    rng = np.random.default_rng(seed)
    info, licenses, images, cats = _head(rng, n_images, seed, extra_fields)
    anns = list(_iter_annotations(rng, images, anns_per_image, crowd_fraction, multipart_fraction, extra_fields))
    out: dict[str, Any] = {"info": info, "licenses": licenses, "images": images, "annotations": anns,
                           "categories": cats}
    if extra_fields:
        out["segmill_synth"] = {"generator": "segmill.synth", "seed": seed, "n_images": n_images}
    return out


def _dumps(obj) -> bytes:
    return orjson.dumps(obj)


def write_coco(path, n_images: int, seed: int = 0, **options) -> Path:
    """Write :func:`coco_dict` ``(n_images, seed, **options)`` to ``path`` as compact JSON.

    The annotations are generated and written in chunks, so a
    train2017-like file (~450 MB) needs little memory. The file is the same
    as ``json.dumps(coco_dict(n_images, seed, **options))`` would give, up to
    whitespace.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra_fields = options.get("extra_fields", True)
    rng = np.random.default_rng(seed)
    info, licenses, images, cats = _head(rng, n_images, seed, extra_fields)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(b'{"info":' + _dumps(info) + b',"licenses":' + _dumps(licenses) + b',"images":')
        f.write(_dumps(images))
        f.write(b',"annotations":[')
        first, chunk = True, []
        it = _iter_annotations(rng, images, options.get("anns_per_image", 7.3), options.get("crowd_fraction", 0.01),
                               options.get("multipart_fraction", 0.12), extra_fields)
        for ann in it:
            chunk.append(ann)
            if len(chunk) == 5000:
                f.write((b"" if first else b",") + _dumps(chunk)[1:-1])
                first, chunk = False, []
        if chunk:
            f.write((b"" if first else b",") + _dumps(chunk)[1:-1])
        f.write(b'],"categories":' + _dumps(cats))
        if extra_fields:
            f.write(b',"segmill_synth":' + _dumps({"generator": "segmill.synth", "seed": seed, "n_images": n_images}))
        f.write(b"}")
    tmp.replace(path)
    return path
