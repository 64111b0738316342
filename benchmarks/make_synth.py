"""Write a synthetic COCO-like instances file (see :mod:`segmill.synth`).

Usage::

    python benchmarks/make_synth.py bench-data/val_like.json --images 5000
    python benchmarks/make_synth.py bench-data/train_like.json --images 118000 --seed 0
"""

from __future__ import annotations

import argparse
import time

from segmill.synth import write_coco


def main() -> None:
    ap = argparse.ArgumentParser(description="Write a synthetic COCO-like instances file.")
    ap.add_argument("path")
    ap.add_argument("--images", type=int, default=5000, help="5000 ~ val2017, 118000 ~ train2017")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crowd-fraction", type=float, default=0.01)
    ap.add_argument("--multipart-fraction", type=float, default=0.12)
    a = ap.parse_args()
    t = time.perf_counter()
    p = write_coco(a.path, a.images, a.seed, crowd_fraction=a.crowd_fraction,
                   multipart_fraction=a.multipart_fraction)
    print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
