"""COCO reading/writing speed and memory, segmill side by side with pycocotools.

Usage::

    python benchmarks/bench_coco_io.py            # val2017-like: read + RLE of every annotation
    python benchmarks/bench_coco_io.py --train    # also train2017-like: peak RSS of info / round trip

Data is generated with :mod:`segmill.synth` under ``bench-data/`` (git-ignored)
on first use. Timings are the best of ``--repeat`` runs in this process; the
peak RSS figures come from fresh subprocesses (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"


def ensure(name: str, n_images: int) -> Path:
    from segmill.synth import write_coco

    p = DATA / name
    if not p.exists():
        t = time.perf_counter()
        write_coco(p, n_images, seed=0)
        print(f"generated {p} ({p.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    return p


def best(fn, repeat: int):
    times = []
    out = None
    for _ in range(repeat):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def bench_val(repeat: int) -> None:
    import pycocotools.mask as mask_utils
    from pycocotools.coco import COCO

    import segmill
    from segmill.raster import rasterize

    path = ensure("val_like.json", 5000)

    def pyco():
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress
            c = COCO(str(path))
        return c, [c.annToRLE(a) for a in c.dataset["annotations"]]

    def ours():  # one segmill.raster call for every annotation of every image
        ds = segmill.read(path, format="coco")
        pairs = [(a.geometry, (it.height, it.width)) for it in ds.items for a in it.annotations]
        flat = rasterize([g for g, _ in pairs], [s for _, s in pairs], cache=False)
        rles, k = [], 0
        for it in ds.items:
            rles.append(flat[k:k + len(it.annotations)])
            k += len(it.annotations)
        return ds, rles

    t0 = time.perf_counter()
    ours()  # first call: numba loads its cached kernels
    first = time.perf_counter() - t0
    t_ref, (coco, ref) = best(pyco, repeat)
    t_us, (ds, rles) = best(ours, repeat)
    # Same pixels: compare every RLE with pycocotools' by annotation id.
    by_id = {a["id"]: r for a, r in zip(coco.dataset["annotations"], ref)}
    n = bad = 0
    for it, rs in zip(ds.items, rles):
        for a, r in zip(it.annotations, rs):
            want = by_id[a.id]
            got = r.to_coco()
            cnt = want["counts"].decode() if isinstance(want["counts"], bytes) else mask_utils.frPyObjects(
                want, *want["size"])["counts"].decode()
            n += 1
            bad += got["counts"] != cnt
    print(f"val2017-like: {len(ds.items)} images, {n} annotations; {bad} RLEs differ from pycocotools")
    print(f"  pycocotools COCO(file) + annToRLE on every annotation: {t_ref:.3f} s")
    print(f"  segmill read + segmill.raster.rasterize:               {t_us:.3f} s"
          f"  (first call incl. numba cache load: {first:.3f} s)")
    print(f"  speed-up: {t_ref / t_us:.2f}x")

    def rt_ours():
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "o.json"
            segmill.write(segmill.read(path, format="coco"), out, "coco")
            return out.stat().st_size

    t_rt, _ = best(rt_ours, repeat)
    print(f"  segmill COCO -> COCO round trip (read + write): {t_rt:.3f} s")


def _child(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; (seconds, peak RSS in MiB)."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"child failed:\n{code}\n{r.stderr}")
    peak = float(r.stdout.strip().splitlines()[-1])  # the child's own getrusage(RUSAGE_SELF)
    return dt, peak


_RSS = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def bench_train() -> None:
    path = ensure("train_like.json", 118000)
    out = DATA / "train_like_roundtrip.json"
    if out.exists():
        out.unlink()

    def cli(*args):
        return (f"import sys; from segmill.cli import main\n"
                f"try:\n    main({list(args)!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n{_RSS}")

    cases = {
        "pycocotools COCO(file)": f"from pycocotools.coco import COCO; COCO({str(path)!r})\n{_RSS}",
        "segmill info PATH (CLI, in-process)": cli("info", str(path)),
        "segmill convert PATH OUT (COCO -> COCO, CLI)": cli("convert", str(path), str(out), "--quiet"),
    }
    print(f"train2017-like: {path} ({path.stat().st_size / 1e6:.0f} MB); fresh process each")
    for name, code in cases.items():
        dt, peak = _child(code)
        print(f"  {name:<45} {dt:6.1f} s   peak RSS {peak:7.0f} MiB")
    if out.exists():
        # Loading both 600 MB files to compare as JSON would need ~6 GB; compare bytes.
        same = _sha256(path) == _sha256(out)
        print(f"  round-trip output byte-identical to input: {same}")
        out.unlink()


def _sha256(p: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="also run the train2017-like memory benchmark")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    bench_val(a.repeat)
    if a.train:
        bench_train()


if __name__ == "__main__":
    main()
