"""A small COCO dataset for the edit tests, and pycocotools as the oracle of its pixels.

Four classes (``person`` 1, ``car`` 3, ``vehicle`` 5, ``dog`` 7), images of
40 x 30 with 0-6 annotations each: polygons (1-2 parts, float vertices),
compressed and uncompressed RLEs, some crowd, object sizes from one pixel to
a third of the image, so ``--min-area`` has annotations on both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as cm

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 5, "name": "vehicle"},
              {"id": 7, "name": "dog"}]
H, W = 30, 40


def _polygon(rng) -> list:
    parts = []
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(2, W - 2), rng.uniform(2, H - 2)
        r = float(np.exp(rng.uniform(np.log(0.6), np.log(9))))
        n = int(rng.integers(3, 7))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        xy = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).clip(0, [W, H])
        parts.append([round(float(v), 2) for v in xy.ravel()])
    return parts


def _rle(rng, compressed: bool) -> dict:
    m = np.zeros((H, W), np.uint8, order="F")
    x, y = int(rng.integers(0, W - 2)), int(rng.integers(0, H - 2))
    m[y:y + int(rng.integers(1, 12)), x:x + int(rng.integers(1, 12))] = 1
    enc = cm.encode(np.asfortranarray(m))
    if compressed:
        return {"size": [H, W], "counts": enc["counts"].decode("ascii")}
    flat = m.ravel(order="F")
    counts, cur, run = [], 0, 0
    for v in flat:
        if v == cur:
            run += 1
        else:
            counts.append(run)
            cur, run = v, 1
    counts.append(run)
    return {"size": [H, W], "counts": counts}


def coco_doc(n_images: int = 40, seed: int = 0) -> dict:
    """The dataset as a COCO dict (deterministic in ``n_images`` and ``seed``)."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(n_images):
        iid = 100 + 3 * i
        images.append({"id": iid, "file_name": f"img{i:03d}.png", "width": W, "height": H})
        for _ in range(int(rng.integers(0, 7))):
            cat = int(rng.choice([1, 3, 5, 7], p=[0.3, 0.3, 0.25, 0.15]))
            kind = rng.uniform()
            crowd = kind > 0.85
            seg = _polygon(rng) if kind < 0.7 else _rle(rng, compressed=kind < 0.8)
            anns.append({"id": len(anns) + 1, "image_id": iid, "category_id": cat, "segmentation": seg,
                         "iscrowd": int(crowd)})
    return {"images": images, "annotations": anns, "categories": [dict(c) for c in CATEGORIES]}


def write_doc(path, doc: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(doc))
    return path


def write_images(folder, doc: dict) -> None:
    """Blank PNGs for every image of ``doc`` (YOLO needs them to be read back)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for im in doc["images"]:
        Image.new("RGB", (im["width"], im["height"])).save(folder / im["file_name"])


def ann_mask(ann: dict, h: int, w: int) -> np.ndarray:
    """pycocotools' mask of one COCO annotation dict."""
    seg = ann["segmentation"]
    if isinstance(seg, list):
        rle = cm.merge(cm.frPyObjects(seg, h, w))
    elif isinstance(seg.get("counts"), list):
        rle = cm.frPyObjects(seg, h, w)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return cm.decode(rle).astype(bool)


def ann_area(ann: dict, h: int, w: int) -> int:
    return int(ann_mask(ann, h, w).sum())


def class_unions(doc: dict) -> dict:
    """``{(image id, class name): union mask}`` of every class present on every image (pycocotools)."""
    names = {c["id"]: c["name"] for c in doc["categories"]}
    sizes = {im["id"]: (im["height"], im["width"]) for im in doc["images"]}
    out: dict = {}
    for a in doc["annotations"]:
        h, w = sizes[a["image_id"]]
        key = (a["image_id"], names[a["category_id"]])
        m = ann_mask(a, h, w)
        out[key] = out[key] | m if key in out else m
    return out
