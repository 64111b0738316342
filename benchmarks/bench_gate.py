"""Benchmark: ``segmill gate`` on two val2017-like versions differing by 5 %.

The head is the base with 5 % of its annotations changed: 1.5 % relabelled,
1.5 % reshaped (vertices jittered by up to 2 px, stored area/bbox left
stale), 1 % removed, 1 % added (copies of existing objects moved by 3 px):
a relabelling pass plus a small vendor batch.

Times, in one process: reading both files, ``segmill.gate.gate`` (diff, check
of both versions, rules) and, side by side, what a hand-written pycocotools
script does for only the geometric part of a diff (load both files with
``COCO()``, rasterize every annotation with ``annToRLE`` and compute the IoU of
each same-id pair with ``maskUtils.iou``).

Usage::

    python benchmarks/bench_gate.py [--images 5000] [--seed 0] [--change 0.05]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def perturb(d: dict, share: float, seed: int) -> tuple[dict, dict]:
    """A copy of COCO dict ``d`` with ``share`` of the annotations changed; returns (head, planted counts)."""
    rng = np.random.default_rng(seed + 1)
    head = copy.deepcopy(d)
    anns = head["annotations"]
    n = len(anns)
    k = int(round(n * share))
    n_relabel, n_reshape, n_remove = int(k * 0.3), int(k * 0.3), int(k * 0.2)
    n_add = k - n_relabel - n_reshape - n_remove
    polys = [i for i, a in enumerate(anns) if isinstance(a["segmentation"], list)]
    picks = rng.choice(polys, n_relabel + n_reshape + n_remove, replace=False)
    cat_ids = [c["id"] for c in head["categories"]]
    relabel, reshape, remove = np.split(picks, [n_relabel, n_relabel + n_reshape])
    for i in relabel:
        a = anns[i]
        a["category_id"] = int(rng.choice([c for c in cat_ids if c != a["category_id"]]))
    for i in reshape:
        a = anns[i]
        a["segmentation"] = [
            [round(float(v + rng.uniform(-2, 2)), 2) for v in part] for part in a["segmentation"]
        ]
    next_id = max(a["id"] for a in anns) + 1
    added = []
    for i in rng.choice(polys, n_add, replace=False):
        a = copy.deepcopy(anns[i])
        a["id"] = next_id
        next_id += 1
        a["segmentation"] = [[v + 3 for v in part] for part in a["segmentation"]]
        added.append(a)
    drop = set(int(i) for i in remove)
    head["annotations"] = [a for j, a in enumerate(anns) if j not in drop] + added
    return head, {"relabelled": n_relabel, "reshaped": n_reshape, "removed": n_remove, "added": n_add}


def reference_pycocotools(base_path: Path, head_path: Path) -> tuple[float, int]:
    """Load both with pycocotools and compute the IoU of every same-id annotation pair."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        a, b = COCO(str(base_path)), COCO(str(head_path))
    pairs = 0
    for aid, ann in a.anns.items():
        other = b.anns.get(aid)
        if other is None or ann["image_id"] != other["image_id"]:
            continue
        ra, rb = a.annToRLE(ann), b.annToRLE(other)
        mask_utils.iou([rb], [ra], [0])
        pairs += 1
    return time.perf_counter() - t, pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--change", type=float, default=0.05)
    ap.add_argument("--no-reference", action="store_true", help="Skip the pycocotools side.")
    args = ap.parse_args()

    import segmill
    from segmill.gate import gate, render_gate
    from segmill.synth import coco_dict

    base_d = coco_dict(args.images, seed=args.seed)
    head_d, planted = perturb(base_d, args.change, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        bp, hp = Path(tmp) / "base" / "instances.json", Path(tmp) / "head" / "instances.json"
        bp.parent.mkdir()
        hp.parent.mkdir()
        bp.write_text(json.dumps(base_d))
        hp.write_text(json.dumps(head_d))
        print(f"base: {len(base_d['images'])} images, {len(base_d['annotations'])} annotations; "
              f"head: {len(head_d['annotations'])} annotations; planted {planted}")

        # Warm the numba caches so the figure is the steady state a CI run sees after the first.
        small = segmill.read(bp, errors="keep")
        small.items = small.items[:20]
        gate(small, small)

        t0 = time.perf_counter()
        base = segmill.read(bp, errors="keep")
        head = segmill.read(hp, errors="keep")
        t_read = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = gate(base, head, base_path=str(bp), head_path=str(hp))
        t_gate = time.perf_counter() - t1
        total = time.perf_counter() - t0
        a = res.diff.annotations
        print(f"diff found: relabelled {a['relabelled']}, reshaped {a['reshaped']}, removed {a['removed']}, "
              f"added {a['added']}, unchanged {a['unchanged']} (matched by {res.diff.match_rule})")
        print(f"gate verdict: {'failed' if res.failed else 'passed'}; findings by rule "
              f"{ {c: len(f) for c, f in res.by_rule().items()} }; check findings {res.check_counts}")
        t2 = time.perf_counter()
        from segmill.gate import diff

        diff(base, head)
        t_diff = time.perf_counter() - t2
        t4 = time.perf_counter()
        d_iou = diff(base, head, match="iou")
        t_iou = time.perf_counter() - t4
        ai = d_iou.annotations
        print(f"diff forced to IoU matching (as for renumbered ids): {t_iou:.2f} s; relabelled {ai['relabelled']}, "
              f"reshaped {ai['reshaped']}, removed {ai['removed']}, added {ai['added']} "
              f"(jittered small objects below IoU 0.5 become removed + added)")
        t3 = time.perf_counter()
        render_gate(res, "markdown")
        t_md = time.perf_counter() - t3
        print(f"segmill: read both {t_read:.2f} s, gate (diff + check x2 + rules) {t_gate:.2f} s, "
              f"total {total:.2f} s  [diff alone {t_diff:.2f} s, markdown {t_md:.3f} s]")
        print(f"target: total under 60 s -> {'OK' if total < 60 else 'MISSED'}")
        if not args.no_reference:
            t_ref, pairs = reference_pycocotools(bp, hp)
            print(f"pycocotools reference (load both + IoU of {pairs} same-id pairs, no check, no report): "
                  f"{t_ref:.2f} s; segmill read + diff {t_read + t_diff:.2f} s; "
                  f"ratio {t_ref / (t_read + t_diff):.2f}x")


if __name__ == "__main__":
    main()
