"""Benchmark ``segmill.agree.compare`` on a val2017-like synthetic dataset.

Annotator 1 is ``segmill.synth.coco_dict(n, seed)``; the others are perturbed
copies: polygon vertices jittered (sigma 1.5 px), 5 % of the instances
dropped, 5 % added (shifted copies), 3 % of the labels swapped.

Prints, for 2 and for 5 annotators (each in a fresh process), the time of
the full metric set (instance matching, PQ, label agreement, pixel
confusion, boundary F1, Fleiss, Krippendorff, annotator view) and the
memory; then, side by side, the instance part alone against a reference done
with pycocotools (frPyObjects + merge + iou per image and category, scipy's
linear_sum_assignment).

Usage::

    python benchmarks/bench_agree.py [--images 5000]
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def perturb(d: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(d)
    cat_ids = [c["id"] for c in d["categories"]]
    sizes = {im["id"]: (im["height"], im["width"]) for im in d["images"]}
    anns = []
    next_id = max(a["id"] for a in d["annotations"]) + 1
    for a in out["annotations"]:
        r = rng.random()
        if r < 0.05:
            continue  # dropped
        if isinstance(a["segmentation"], list):
            h, w = sizes[a["image_id"]]
            a["segmentation"] = [
                np.round(np.clip(np.asarray(p) + rng.normal(0, 1.5, len(p)), 0, [w, h] * (len(p) // 2)), 2).tolist()
                for p in a["segmentation"]
            ]
        if rng.random() < 0.03:
            a["category_id"] = int(rng.choice(cat_ids))
        anns.append(a)
        if rng.random() < 0.05 and isinstance(a["segmentation"], list):
            b = copy.deepcopy(a)
            b["id"] = next_id
            next_id += 1
            dx = float(rng.uniform(-40, 40))
            b["segmentation"] = [[v + dx if i % 2 == 0 else v for i, v in enumerate(p)] for p in b["segmentation"]]
            anns.append(b)
    out["annotations"] = anns
    return out


def reference_instances(ds_a: dict, ds_b: dict, thr: float = 0.5) -> int:
    """Per image and category: pycocotools RLEs and IoU, scipy assignment. Returns TP count."""
    from pycocotools import mask as M
    from scipy.optimize import linear_sum_assignment

    sizes = {im["id"]: (im["height"], im["width"]) for im in ds_a["images"]}

    def group(d):
        g: dict = {}
        for a in d["annotations"]:
            if not a.get("iscrowd"):
                g.setdefault((a["image_id"], a["category_id"]), []).append(a)
        return g

    ga, gb = group(ds_a), group(ds_b)
    tp = 0
    for key, la in ga.items():
        lb = gb.get(key)
        if not lb:
            continue
        h, w = sizes[key[0]]
        ra = [M.merge(M.frPyObjects(a["segmentation"], h, w)) for a in la]
        rb = [M.merge(M.frPyObjects(b["segmentation"], h, w)) for b in lb]
        iou = M.iou(rb, ra, [0] * len(ra)).T
        r, c = linear_sum_assignment(np.where(iou > thr, iou, 0.0), maximize=True)
        tp += int((iou[r, c] > thr).sum())
    return tp


def segmill_instances(datasets, thr: float = 0.5) -> int:
    from segmill.agree.pairing import pair_datasets
    from segmill.agree.panoptic import InstanceCounts, compare_instances
    from segmill.agree.rasterize import prepare

    p = pair_datasets(datasets, ["a", "b"])
    acc = InstanceCounts(len(p.categories))
    for g in p.groups:
        if not g.complete:
            continue
        a = prepare(g.items[0], p.category_index[0], g.height, g.width)
        b = prepare(g.items[1], p.category_index[1], g.height, g.width)
        acc += compare_instances(a, b, len(p.categories), thr)
    return int(acc.tp.sum())


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_child(files) -> None:
    """Read ``files`` and time ``compare`` on them (run in a fresh process)."""
    import segmill
    from segmill.agree import compare

    compare([_tiny(), _tiny()])  # numba caches warm: time the work, not compilation
    t0 = time.perf_counter()
    datasets = [segmill.read(p, "coco") for p in files]
    t_read = time.perf_counter() - t0
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    rep = compare(datasets)
    t_full = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    d = rep.to_dict(per_image=False)
    print(f"annotators {len(files)}, annotations {[ds.num_annotations for ds in datasets]}")
    print(f"  read: {t_read:.2f} s   full metric set: {t_full:.2f} s")
    print(f"  PQ {d['pq']:.4f}  mean IoU {d['mean_iou']:.4f}  kappa {d['kappa']:.4f}  BF1 {d['boundary_f1']:.4f}  "
          f"Fleiss {d['multi_rater']['fleiss_kappa']:.4f}  alpha {d['multi_rater']['krippendorff_alpha']:.4f}")
    print(f"  RSS with the datasets loaded: {rss0:.0f} MiB; peak RSS of the process: {peak:.0f} MiB "
          f"(compare added at most {peak - rss0:.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child)
        return

    import segmill
    from segmill.synth import coco_dict

    base = coco_dict(args.images, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(5):
            p = Path(tmp) / f"ann{i}.json"
            p.write_text(json.dumps(base if i == 0 else perturb(base, i)))
            files.append(str(p))
        print(f"val2017-like synthetic set: {args.images} images; annotators 2..5 are perturbed copies")
        for n in (2, 5):
            out = subprocess.run([sys.executable, __file__, "--child", *files[:n]], capture_output=True, text=True)
            print(out.stdout.rstrip() or out.stderr.rstrip())
        pair = [segmill.read(files[0], "coco"), segmill.read(files[1], "coco")]
        ref_b = json.loads(Path(files[1]).read_text())
    segmill_instances([_tiny(), _tiny()])  # warm the numba caches
    t0 = time.perf_counter()
    tp_s = segmill_instances(pair)
    t_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tp_r = reference_instances(base, ref_b)
    t_r = time.perf_counter() - t0
    print(f"instance matching only (2 annotators, includes rasterization): segmill {t_s:.2f} s, "
          f"pycocotools+scipy {t_r:.2f} s, ratio (reference / segmill) {t_r / t_s:.2f}x (TP {tp_s} vs {tp_r})")


def _tiny():
    from segmill.geometry import Box
    from segmill.model import Annotation, Category, Dataset, Item

    return Dataset([Category(1, "x")], [Item(1, "t.png", 16, 16, [Annotation(1, 1, Box(1, 1, 5, 5))])])


if __name__ == "__main__":
    main()
