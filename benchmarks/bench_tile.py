"""Tiling a 10,000 x 10,000 GeoTIFF scene into 512-px chips (64-px overlap) against reading the scene once.

Makes the scene (3 bands of uint8, deflate-compressed 512 x 512 blocks, mostly
constant: about 300 MB decoded, a few MB on disk) and a GeoJSON of polygons
(small buildings and large fields that cross many chips), then runs, each in
a fresh process so its peak RSS is its own:

* ``read``: ``rasterio.open(scene).read()``, the whole scene once;
* ``tile``: ``segmill tile scene_dir out --size 512 --overlap 64 --to coco``.

Prints wall time and peak RSS of each, the chip count and the area
accounting (kept + dropped core parts against the objects' areas).

    python benchmarks/bench_tile.py [--work DIR] [--polygons N] [--keep]
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

SIDE = 10_000

_READ = """
import resource, rasterio
with rasterio.open({scene!r}) as s:
    a = s.read()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, a.nbytes)
"""

_TILE = """
import json, resource, sys
from click.testing import CliRunner
from segmill.cli import main
res = CliRunner().invoke(main, ["tile", {src!r}, {dst!r}, "--size", "512", "--overlap", "64", "--to", "coco",
                                "--json", "-q"])
assert res.exit_code == 0, res.output
doc = json.loads(res.stdout)
print(json.dumps({{"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "chips": doc["chips"],
                  "accounting": doc["accounting"], "summary": {{k: v["count"] for k, v in doc["summary"].items()}}}}))
"""


def make_scene(folder: Path, n_polygons: int, seed: int = 0) -> Path:
    """The scene ``folder/scene.tif`` and ``folder/scene.geojson``; written block by block (bounded memory)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    t = from_origin(500000.0, 5900000.0, 0.5, 0.5)
    profile = {"driver": "GTiff", "width": SIDE, "height": SIDE, "count": 3, "dtype": "uint8", "crs": "EPSG:32633",
               "transform": t, "compress": "deflate", "tiled": True, "blockxsize": 512, "blockysize": 512}
    with rasterio.open(folder / "scene.tif", "w", **profile) as dst:
        for y in range(0, SIDE, 2048):
            h = min(2048, SIDE - y)
            block = np.full((3, h, SIDE), 90, np.uint8)
            block[1, :, ::997] = 200  # a few lines: not quite constant
            dst.write(block, window=Window(0, y, SIDE, h))
    rng = np.random.default_rng(seed)
    feats = []
    for k in range(n_polygons):
        big = k % 20 == 0
        cx, cy = rng.uniform(0, SIDE, 2)
        n = int(rng.integers(4, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = rng.uniform(300, 1500, n) if big else rng.uniform(4, 40, n)
        ring = [list(t @ (float(np.clip(cx + ri * np.cos(a), 0, SIDE)), float(np.clip(cy + ri * np.sin(a), 0, SIDE))))
                for a, ri in zip(ang, r)]
        feats.append({"type": "Feature", "properties": {"class": "field" if big else "building"},
                      "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:32633"}},
           "features": feats}
    (folder / "scene.geojson").write_text(json.dumps(doc))
    return folder / "scene.tif"


def _run(code: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="where to make the scene (default: a temporary folder)")
    ap.add_argument("--polygons", type=int, default=2000)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="segmill-bench-tile-"))
    try:
        t0 = time.perf_counter()
        scene = make_scene(work / "scene", args.polygons)
        made = time.perf_counter() - t0
        size_mb = scene.stat().st_size / 1e6
        print(f"scene: {SIDE} x {SIDE} x 3 uint8 ({SIDE * SIDE * 3 / 1e6:.0f} MB decoded, {size_mb:.1f} MB on disk), "
              f"{args.polygons} polygons; made in {made:.1f} s")
        t_read, out = _run(_READ.format(scene=str(scene)))
        rss_read = int(out.split()[0]) / 1024
        print(f"read the scene once (rasterio): {t_read:6.2f} s, peak RSS {rss_read:7.1f} MiB")
        dst = work / "chips"
        shutil.rmtree(dst, ignore_errors=True)
        t_tile, out = _run(_TILE.format(src=str(work / "scene"), dst=str(dst)))
        doc = json.loads(out)
        a = doc["accounting"]
        print(f"segmill tile --size 512 --overlap 64: {t_tile:6.2f} s, peak RSS {doc['rss'] / 1024:7.1f} MiB, "
              f"{doc['chips']} chips, {t_tile / t_read:.1f}x the read")
        print(f"records: {doc['summary']}")
        print(f"area: {a['objects']} objects, {a['area']:.1f} px2 = kept {a['kept']:.1f} + dropped {a['dropped']:.1f} "
              f"(max relative error {a['max_error']:.1e}); summed over chips with overlaps {a['chips_area']:.1f}")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
