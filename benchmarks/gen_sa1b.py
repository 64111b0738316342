"""Generate SA-1B-like synthetic tar shards for the scale benchmarks.

Each shard ``sa_NNNNNN.tar`` holds ``--images`` pairs ``sa_<n>.jpg`` +
``sa_<n>.json`` (members in that order, mtime 0), as SA-1B ships them. Every
image is ``--width`` x ``--height`` (1500 x 2250 by default, SA-1B's
typical size) with about ``--masks`` masks (Poisson around the mean): blobs
of 24-48 jittered vertices whose areas are log-uniform from 0.005 % to 25 %
of the image (SA-1B's many small parts and few large regions), rasterized
with segmill's pycocotools-exact kernel and stored as compressed RLE with
``area``, ``bbox`` (toBbox), ``predicted_iou``, ``stability_score``,
``point_coords`` (a point inside the blob) and ``crop_box``, keys in SA-1B's
order.

Images: ``--image-mode placeholder`` (default) stores one flat grey JPEG of
the declared size, encoded once and reused for every image (a few KB: its
header gives the right size, and nothing in the benchmarks decodes pixels);
``none`` stores JSON members only.

Output is a function of the arguments and ``--seed`` only (byte-identical
reruns).

Usage::

    python benchmarks/gen_sa1b.py OUT_DIR [--shards 4] [--images 50] [--masks 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from pathlib import Path

import numpy as np

from segmill.rle import from_polygons

KEYS = ("bbox", "area", "segmentation", "predicted_iou", "point_coords", "crop_box", "id", "stability_score")


def placeholder_jpeg(width: int, height: int) -> bytes:
    """A flat grey JPEG of the given size (small: one colour compresses to almost nothing)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def blob(rng: np.random.Generator, width: int, height: int) -> tuple[list[float], tuple[float, float]]:
    """A jittered star-shaped polygon with a log-uniform area, and its centre."""
    frac = 10 ** rng.uniform(np.log10(5e-5), np.log10(0.25))
    r = np.sqrt(frac * width * height / np.pi)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    n = int(rng.integers(24, 49))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.6, 1.3, n) * rng.uniform(0.5, 1.5)
    xs = np.clip(cx + rad * np.cos(ang), 0, width)
    ys = np.clip(cy + rad * rng.uniform(0.5, 1.5) * np.sin(ang), 0, height)
    return np.round(np.column_stack([xs, ys]).ravel(), 2).tolist(), (float(cx), float(cy))


def annotations(rng: np.random.Generator, width: int, height: int, n: int, first_id: int) -> list[dict]:
    """``n`` SA-1B annotation records (empty masks, from blobs clipped away, are skipped)."""
    polys, centres = zip(*(blob(rng, width, height) for _ in range(n))) if n else ((), ())
    out = []
    for k, (poly, (cx, cy)) in enumerate(zip(polys, centres)):
        rle = from_polygons([poly], height, width)
        if rle.area == 0:
            continue
        rec = {"bbox": [float(v) for v in rle.bbox], "area": int(rle.area), "segmentation": rle.to_coco(),
               "predicted_iou": round(float(rng.uniform(0.75, 1.0)), 6),
               "point_coords": [[round(min(max(cx, 0.0), width - 1.0), 2), round(min(max(cy, 0.0), height - 1.0), 2)]],
               "crop_box": [0.0, 0.0, float(width), float(height)], "id": first_id + k,
               "stability_score": round(float(rng.uniform(0.8, 1.0)), 6)}
        out.append({key: rec[key] for key in KEYS})
    return out


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tf.addfile(info, io.BytesIO(data))


def generate(out: Path, shards: int, images: int, masks: int, seed: int, size: tuple[int, int],
             image_mode: str = "placeholder") -> dict:
    """Write the shards; ``{"images", "masks", "bytes"}`` written."""
    width, height = size
    rng = np.random.default_rng(seed)
    jpeg = placeholder_jpeg(width, height) if image_mode == "placeholder" else None
    out.mkdir(parents=True, exist_ok=True)
    n_img = n_mask = 0
    next_id = 1
    for s in range(shards):
        path = out / f"sa_{s:06d}.tar"
        with tarfile.open(path, "w:", format=tarfile.USTAR_FORMAT) as tf:
            for _ in range(images):
                n_img += 1
                anns = annotations(rng, width, height, int(rng.poisson(masks)), next_id)
                next_id += len(anns)
                n_mask += len(anns)
                doc = {"image": {"image_id": n_img, "width": width, "height": height, "file_name": f"sa_{n_img}.jpg"},
                       "annotations": anns}
                if jpeg is not None:
                    _add(tf, f"sa_{n_img}.jpg", jpeg)
                _add(tf, f"sa_{n_img}.json", json.dumps(doc).encode("ascii"))
    total = sum(p.stat().st_size for p in out.glob("sa_*.tar"))
    return {"images": n_img, "masks": n_mask, "bytes": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--images", type=int, default=50, help="images per shard")
    ap.add_argument("--masks", type=int, default=100, help="mean masks per image")
    ap.add_argument("--width", type=int, default=1500)
    ap.add_argument("--height", type=int, default=2250)
    ap.add_argument("--image-mode", choices=("placeholder", "none"), default="placeholder")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t = time.perf_counter()
    got = generate(a.out, a.shards, a.images, a.masks, a.seed, (a.width, a.height), a.image_mode)
    print(f"{a.shards} shards, {got['images']} images, {got['masks']} masks, {got['bytes'] / 1e6:.1f} MB "
          f"in {time.perf_counter() - t:.1f} s -> {a.out}")


if __name__ == "__main__":
    main()
