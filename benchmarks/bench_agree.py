"""Benchmark ``segmill.agree.compare`` on a val2017-like synthetic dataset.

Annotator 1 is ``segmill.synth.coco_dict(n, seed)``; the others are perturbed
copies: polygon vertices jittered (sigma 1.5 px), 5 % of the instances
dropped, 5 % added (shifted copies), 3 % of the labels swapped.

Prints, for 2 annotators, the time of the full metric set (instance
matching, PQ, label agreement, pixel confusion, boundary F1, Fleiss,
Krippendorff, annotator view) and, side by side, the instance part alone
against a reference done with pycocotools (frPyObjects + merge + iou per
image and category, scipy's linear_sum_assignment). Then runs the
``--annotators 5`` case in a fresh process and prints its time and peak RSS.

Usage::

    python benchmarks/bench_agree.py [--images 5000] [--annotators 2]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--annotators", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import segmill
    from segmill.agree import compare
    from segmill.synth import coco_dict

    base = coco_dict(args.images, seed=0)
    dicts = [base] + [perturb(base, seed) for seed in range(1, args.annotators)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, d in enumerate(dicts):
            p = Path(tmp) / f"ann{i}.json"
            p.write_text(json.dumps(d))
            paths.append(p)
        t0 = time.perf_counter()
        datasets = [segmill.read(p, "coco") for p in paths]
        t_read = time.perf_counter() - t0
    n_anns = [len(d["annotations"]) for d in dicts]
    del dicts[1:]

    # warm the numba caches so the timing is of the work, not of compilation
    compare([_tiny(), _tiny()])
    t0 = time.perf_counter()
    rep = compare(datasets)
    t_full = time.perf_counter() - t0
    d = rep.to_dict(per_image=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"images {args.images}, annotators {args.annotators}, annotations {n_anns}")
    print(f"read (segmill.read x{args.annotators}): {t_read:.2f} s")
    print(f"full metric set: {t_full:.2f} s   PQ {d['pq']:.4f}  mean IoU {d['mean_iou']:.4f}  "
          f"kappa {d['kappa']:.4f}  BF1 {d['boundary_f1']:.4f}  Fleiss {d['multi_rater']['fleiss_kappa']:.4f}  "
          f"alpha {d['multi_rater']['krippendorff_alpha']:.4f}")
    print(f"peak RSS of this process: {rss:.0f} MiB")

    if args.annotators == 2 and not args.child:
        pair = datasets[:2]
        # fresh geometry caches for a fair instance-only comparison
        import segmill as S

        with tempfile.TemporaryDirectory() as tmp:
            p0, p1 = Path(tmp) / "a.json", Path(tmp) / "b.json"
            p0.write_text(json.dumps(base))
            p1.write_text(json.dumps(perturb(base, 1)))
            pair = [S.read(p0, "coco"), S.read(p1, "coco")]
            ref_b = json.loads(p1.read_text())
        t0 = time.perf_counter()
        tp_s = segmill_instances(pair)
        t_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        tp_r = reference_instances(base, ref_b)
        t_r = time.perf_counter() - t0
        print(f"instance matching only: segmill {t_s:.2f} s, pycocotools+scipy {t_r:.2f} s, "
              f"ratio {t_r / t_s:.2f}x (TP {tp_s} vs {tp_r})")
        out = subprocess.run([sys.executable, __file__, "--images", str(args.images), "--annotators", "5",
                              "--child"], capture_output=True, text=True)
        print("--- 5 annotators (fresh process) ---")
        print(out.stdout.strip() or out.stderr.strip())


def _tiny():
    from segmill.geometry import Box
    from segmill.model import Annotation, Category, Dataset, Item

    return Dataset([Category(1, "x")], [Item(1, "t.png", 16, 16, [Annotation(1, 1, Box(1, 1, 5, 5))])])


if __name__ == "__main__":
    main()
