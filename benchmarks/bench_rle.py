"""segmill.rle vs pycocotools.mask, side by side in one process.

Run: ``python benchmarks/bench_rle.py [--quick]``. Prints one line per
workload with the best-of-N time of each library and the ratio
(pycocotools time / segmill time: above 1 means segmill is faster). JIT
compilation is excluded (every kernel is warmed up first; with ``cache=True``
a second process loads the compiled code from disk). Outputs are checked for
equality before timing, so a fast wrong answer cannot pass.

Kernels run compiled throughout (``SEGMILL_JIT=compile``: without it the
first small calls of a process run as Python, see ``segmill._jit``).

The last section measures numba compile time in a cold process (empty cache
directory) and in a cached one, the import time of ``import segmill``, and
the wall time of ``segmill info`` and ``segmill check`` on the one-image-per-
record fixture ``fixtures/coco/annotations.json`` in a new process, against
``python -c "import pycocotools.coco"`` as the floor. (Compile the package's
bytecode first, ``python -m compileall -q src``, or the figures include
compiling segmill's source on every run when ``PYTHONDONTWRITEBYTECODE`` is
set.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("SEGMILL_JIT", "compile")  # before segmill loads: time compiled kernels

import numpy as np  # noqa: E402
import pycocotools.mask as M  # noqa: E402

from segmill import rle  # noqa: E402
from segmill.geometry import Polygons  # noqa: E402
from segmill.raster import rasterize, rasterize_packed  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(name: str, t_seg: float, t_ref: float) -> None:
    print(f"{name:<52} segmill {t_seg * 1e3:9.3f} ms   pycocotools {t_ref * 1e3:9.3f} ms   ratio {t_ref / t_seg:6.2f}x")


def blob_polygon(rng, cx, cy, r, k):
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = r * rng.uniform(0.6, 1.0, k)
    return np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)].reshape(-1)


def coco_like(rng, n_images, h=480, w=640, per_image=20, verts=30):
    images = []
    for _ in range(n_images):
        anns = []
        for _ in range(per_image):
            r = rng.uniform(10, 120)
            anns.append([blob_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), r, verts).tolist()])
        images.append(anns)
    return images, h, w


def bench_polygons(rng, repeat, n_images, timed=True):
    images, h, w = coco_like(rng, n_images)
    big = [blob_polygon(rng, 2048, 2048, 1900, 1000).tolist()]
    if not timed:  # the random draws are made all the same, so later sections see the same inputs
        return

    def seg():
        return [rle.from_polygons_batch(anns, h, w) for anns in images]

    def ref():
        return [[M.merge(M.frPyObjects(parts, h, w)) for parts in anns] for anns in images]

    a, b = seg(), ref()
    assert all(x.to_coco()["counts"] == y["counts"].decode() for xs, ys in zip(a, b) for x, y in zip(xs, ys))
    n = sum(len(x) for x in images)
    report(f"polygons->RLE 640x480, {n} polys x 30 verts", best(seg, repeat), best(ref, repeat))

    def seg_single():
        return [[rle.from_polygons(parts, h, w) for parts in anns] for anns in images]

    report("  (same, one from_polygons call per annotation)", best(seg_single, repeat), best(ref, repeat))

    geoms = [[Polygons(parts) for parts in anns] for anns in images]

    def seg_service():
        return [rasterize(gs, (h, w), cache=False) for gs in geoms]

    assert seg_service() == a
    report("  (same, segmill.raster.rasterize per image)", best(seg_service, repeat), best(ref, repeat))

    def seg_packed():  # what the COCO writer does: packed RLEs and their strings
        return [rasterize_packed(gs, (h, w))[0].strings() for gs in geoms]

    assert seg_packed() == [[x.to_coco()["counts"] for x in xs] for xs in a]
    report("  (same, rasterize_packed + strings per image)", best(seg_packed, repeat), best(ref, repeat))

    seg_big = lambda: rle.from_polygons(big, 4096, 4096)  # noqa: E731
    ref_big = lambda: M.merge(M.frPyObjects(big, 4096, 4096))  # noqa: E731
    assert seg_big().to_coco()["counts"] == ref_big()["counts"].decode()
    report("polygon->RLE 4096x4096, 1000 vertices", best(seg_big, repeat), best(ref_big, repeat))


def big_mask(rng, side=4096, blobs=60):
    polys = [[blob_polygon(rng, rng.uniform(0, side), rng.uniform(0, side), rng.uniform(50, 500), 60).tolist()]
             for _ in range(blobs)]
    return rle.merge(rle.from_polygons_batch(polys, side, side))


def bench_dense(rng, repeat):
    r = big_mask(rng)
    obj = r.to_coco()
    dense = r.decode()
    dense_f = np.asfortranarray(dense.astype(np.uint8))
    dense_c = np.ascontiguousarray(dense)
    assert np.array_equal(M.decode(obj), dense)
    report(f"decode 4096x4096 ({r.counts.size} runs)", best(lambda: rle.decode(r), repeat), best(lambda: M.decode(obj), repeat))
    report("encode 4096x4096, Fortran-ordered uint8 input",
           best(lambda: rle.encode(dense_f), repeat), best(lambda: M.encode(dense_f), repeat))
    report("encode 4096x4096, C-ordered bool input (pycocotools: +asfortranarray)",
           best(lambda: rle.encode(dense_c), repeat),
           best(lambda: M.encode(np.asfortranarray(dense_c.astype(np.uint8))), repeat))
    report("  (segmill on C-ordered bool, pycocotools on F-ordered uint8)",
           best(lambda: rle.encode(dense_c), repeat), best(lambda: M.encode(dense_f), repeat))


def bench_codec(rng, repeat):
    masks = [rng.random((100, 100)) < p for p in np.linspace(0.02, 0.5, 200)]
    rles = [rle.encode(m) for m in masks]
    plain = [r.to_coco(compressed=False) for r in rles]
    comp = [r.to_coco() for r in rles]
    big = [rle.encode(rng.random((480, 640)) < p).to_coco() for p in np.linspace(0.001, 0.01, 200)]
    report("counts -> compressed string, 200 RLEs 100x100",
           best(lambda: [r.to_coco() for r in rles], repeat),
           best(lambda: M.frPyObjects(plain, 100, 100), repeat))
    report("  (from uncompressed dicts, both sides)",
           best(lambda: [rle.from_coco(p).to_coco() for p in plain], repeat),
           best(lambda: M.frPyObjects(plain, 100, 100), repeat))
    report("compressed string -> counts (+area), 200 RLEs, one from_coco call per RLE",
           best(lambda: rle.area([rle.from_coco(c) for c in comp]), repeat),
           best(lambda: M.area(comp), repeat))
    assert [int(a) for a in rle.area(comp)] == [int(a) for a in M.area(comp)]
    report("compressed string -> counts (+area), 200 RLEs, the list at once (one kernel call)",
           best(lambda: rle.area(comp), repeat),
           best(lambda: M.area(comp), repeat))
    report("  (same, 200 RLEs 640x480 as in COCO files)",
           best(lambda: rle.area(big), repeat),
           best(lambda: M.area(big), repeat))


def bench_small(rng, repeat):
    masks = [rng.random((100, 100)) < 0.3 for _ in range(100)]
    rles = [rle.encode(m) for m in masks]
    objs = [M.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks]
    crowd = [0] * 100
    np.testing.assert_array_equal(rle.iou(rles, rles, crowd), M.iou(objs, objs, crowd))
    report("area, 100 noisy masks 100x100", best(lambda: rle.area(rles), repeat), best(lambda: M.area(objs), repeat))
    report("bbox, 100 noisy masks 100x100", best(lambda: rle.bbox(rles), repeat), best(lambda: M.toBbox(objs), repeat))
    report("iou 100x100 pairs, noisy masks 100x100", best(lambda: rle.iou(rles, rles, crowd), repeat),
           best(lambda: M.iou(objs, objs, crowd), repeat))
    one, one_ref = rles[0], objs[0]
    report("area, one mask (call overhead)", best(lambda: one.area, repeat * 20), best(lambda: M.area(one_ref), repeat * 20))
    report("iou, one pair (call overhead)", best(lambda: rle.iou([one], [one]), repeat * 20),
           best(lambda: M.iou([one_ref], [one_ref], [0]), repeat * 20))
    report("merge of 100 masks 100x100", best(lambda: rle.merge(rles), repeat), best(lambda: M.merge(objs), repeat))
    polys = [[blob_polygon(rng, rng.uniform(20, 80), rng.uniform(20, 80), rng.uniform(5, 40), 20).tolist()]
             for _ in range(100)]
    brles = rle.from_polygons_batch(polys, 100, 100)
    bobjs = [M.merge(M.frPyObjects(p, 100, 100)) for p in polys]
    np.testing.assert_array_equal(rle.iou(brles, brles, crowd), M.iou(bobjs, bobjs, crowd))
    report("iou 100x100 pairs, blob masks 100x100 (few runs)", best(lambda: rle.iou(brles, brles, crowd), repeat),
           best(lambda: M.iou(bobjs, bobjs, crowd), repeat))


WARM = (
    "import numpy as np, segmill.rle as r;"
    "m=np.zeros((5,6),bool); m[1:3,2:4]=True; x=r.encode(m); r.encode(np.asfortranarray(m)); r.decode(x);"
    "r.from_polygons([[0,0,3,0,3,3]],5,6); r.iou([x],[x]); r.merge([x,x]); r.area([x]); r.bbox([x]);"
    "r.from_coco(x.to_coco())"
)


def timed_subprocess(code: str, env) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t0


FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "coco", "annotations.json")


def timed_command(args, env, repeat=5) -> float:
    """Best wall time of ``args`` in a new process (output discarded)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(args, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_cli_startup():
    auto = {k: v for k, v in os.environ.items() if k != "SEGMILL_JIT"}
    compiled = dict(auto, SEGMILL_JIT="compile")
    seg = [sys.executable, "-m", "segmill"]
    floor = timed_command([sys.executable, "-c", "import pycocotools.coco"], auto)
    label = 'floor: python -c "import pycocotools.coco"'
    print(f"{label:<52} {floor:7.3f} s")
    for cmd in ("info", "check"):
        t = timed_command(seg + [cmd, FIXTURE], auto)
        tc = timed_command(seg + [cmd, FIXTURE], compiled)
        print(f"{'segmill ' + cmd + ' fixtures/coco/annotations.json':<52} {t:7.3f} s   "
              f"(kernels compiled, numba loaded: {tc:.3f} s)")


def bench_startup():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, SEGMILL_JIT="compile")
        cold = timed_subprocess(WARM, env)
        warm = timed_subprocess(WARM, env)
    env = dict(os.environ)
    imp = min(timed_subprocess("import segmill", env) for _ in range(3))
    base = min(timed_subprocess("pass", env) for _ in range(3))
    print(f"{'first use of every kernel, cold cache (compile)':<52} {cold:7.2f} s")
    print(f"{'first use of every kernel, cached':<52} {warm:7.2f} s")
    print(f"{'import segmill (process start subtracted)':<52} {imp - base:7.3f} s")


SECTIONS = ("polygons", "dense", "codec", "small", "startup")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and images")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (repeatable; the inputs stay those of a full run)")
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    only = set(args.only or SECTIONS)
    rng = np.random.default_rng(0)
    exec(WARM, {})  # compile / load every kernel before timing
    bench_polygons(rng, repeat, 50 if args.quick else 250, timed="polygons" in only)
    if "dense" in only:
        bench_dense(rng, repeat)
    else:
        big_mask(rng)  # the same random draws, so the codec inputs are those of a full run
    if "codec" in only:
        bench_codec(rng, repeat)
    if "small" in only:
        bench_small(rng, repeat)
    if "startup" in only:
        bench_startup()
        bench_cli_startup()


if __name__ == "__main__":
    main()
