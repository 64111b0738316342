"""COCO (synthetic val2017-like) -> Pascal VOC: images/s, segmill vs Datumaro.

segmill runs in this process (segmill.convert coco -> voc: polygons
rasterized with the COCO rule, instances painted with the z-order policy,
overlaps reported, paletted PNGs + XML written). Datumaro, when installed in
a separate venv (python -m venv /tmp/dm-venv && /tmp/dm-venv/bin/pip install
datumaro), runs in a subprocess on the same input through its Python API
(import coco_instances, transform polygons_to_masks, export voc), timed
inside that process (interpreter start and ``import datumaro`` excluded).

Run: python benchmarks/bench_voc.py [--images 500] [--datum-python /tmp/dm-venv/bin/python]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=500, help="synthetic images (val2017 has 5000)")
    ap.add_argument("--datum-python", default="/tmp/dm-venv/bin/python")
    args = ap.parse_args()
    import segmill
    from segmill import synth

    work = Path(tempfile.mkdtemp(prefix="bench_voc."))
    src = work / "coco" / "annotations" / "instances_val.json"
    src.parent.mkdir(parents=True)
    synth.write_coco(src, args.images, seed=0)
    ds = segmill.read(src)
    n_ann = ds.num_annotations
    # warm up the kernels on a few images
    small = work / "warm.json"
    synth.write_coco(small, 3, seed=1)
    segmill.convert(small, work / "warm_voc", "coco", "voc")
    t = time.perf_counter()
    report = segmill.convert(src, work / "voc_segmill", "coco", "voc")
    t_seg = time.perf_counter() - t
    print(f"input: {args.images} images, {n_ann} annotations (segmill.synth val2017-like)")
    print(f"segmill convert coco -> voc: {t_seg:7.2f} s  {args.images / t_seg:8.1f} images/s  "
          f"losses {report.summary()}")
    py = Path(args.datum_python)
    if not py.exists():
        print(f"datumaro: no venv python at {py} (see the module docstring)")
        return
    (work / "coco" / "images" / "val").mkdir(parents=True)  # Datumaro wants the folder, not the files
    # `datum convert -if coco_instances -f voc` writes no masks at all: Datumaro's
    # VOC exporter only paints Mask annotations and silently drops polygons. So
    # run its Python API with the polygons_to_masks transform first.
    script = (
        "import time, datumaro as dm\n"
        "t = time.perf_counter()\n"
        f"ds = dm.Dataset.import_from({str(work / 'coco')!r}, 'coco_instances')\n"
        "ds.transform('polygons_to_masks')\n"
        f"ds.export({str(work / 'voc_datum')!r}, 'voc', save_media=False)\n"
        "print(time.perf_counter() - t)\n"
    )
    t = time.perf_counter()
    proc = subprocess.run([str(py), "-c", script], capture_output=True, text=True)
    t_wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"datumaro failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
        return
    t_dm = float(proc.stdout.strip().splitlines()[-1])
    n_png = len(list((work / "voc_datum" / "SegmentationClass").glob("*.png")))
    print(f"datumaro import + polygons_to_masks + export voc: {t_dm:7.2f} s  {args.images / t_dm:8.1f} images/s "
          f"(wall with interpreter start and import: {t_wall:.2f} s; {n_png} class PNGs written)")
    print(f"ratio datumaro / segmill: {t_dm / t_seg:.1f}x (target >= 5x)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
