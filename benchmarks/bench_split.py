"""Semantic -> instance split vs cc3d.connected_components, side by side.

A 4096x4096 uint8 class map with ~500 disc/ellipse blobs of 5 classes.
segmill.bridges.split.split_instances produces per-instance RLEs in
column-major first-pixel order (it runs cc3d, or scikit-image, underneath and
then builds the RLEs); cc3d.connected_components alone only labels pixels,
and skimage.measure.label is shown for reference. Outputs are checked: the
instance count equals cc3d's component count, and every instance mask equals
the cc3d component at its first pixel (sampled).

Run: python benchmarks/bench_split.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def make_class_map(size=4096, blobs=500, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    cm = np.zeros((size, size), np.uint8)
    yy, xx = np.ogrid[:size, :size]
    for _ in range(blobs):
        cy, cx = rng.integers(0, size, 2)
        r = int(rng.integers(20, 80))
        y0, y1 = max(cy - r, 0), min(cy + r, size)
        x0, x1 = max(cx - r, 0), min(cx + r, size)
        e = rng.uniform(0.6, 1.4)
        sub = (yy[y0:y1] - cy) ** 2 + ((xx[:, x0:x1] - cx) * e) ** 2 <= r * r
        cm[y0:y1, x0:x1][sub] = rng.integers(1, classes + 1)
    return cm


def best(fn, repeat):
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import cc3d
    from skimage.measure import label

    from segmill.bridges.split import split_instances

    cm = make_class_map()
    res = split_instances(cm, backend="cc3d")
    labels, n = cc3d.connected_components(cm, connectivity=8, return_N=True)
    assert len(res.instances) == n, (len(res.instances), n)
    rng = np.random.default_rng(1)
    for k in rng.choice(len(res.instances), 20, replace=False):
        v, r = res.instances[k]
        m = r.decode()
        p = np.flatnonzero(m.T.reshape(-1))[0]
        row, col = p % cm.shape[0], p // cm.shape[0]
        assert np.array_equal(m, labels == labels[row, col]) and cm[row, col] == v
    t_seg = best(lambda: split_instances(cm, backend="cc3d"), args.repeat)
    t_seg_sk = best(lambda: split_instances(cm, backend="skimage"), args.repeat)
    t_cc3d = best(lambda: cc3d.connected_components(cm, connectivity=8), args.repeat)
    t_sk = best(lambda: label(cm, connectivity=2, background=0), args.repeat)
    print(f"class map 4096x4096, 5 classes, {n} components (8-connectivity)")
    print(f"segmill split_instances (cc3d backend, RLEs out):    {t_seg * 1e3:8.1f} ms")
    print(f"segmill split_instances (skimage backend, RLEs out): {t_seg_sk * 1e3:8.1f} ms")
    print(f"cc3d.connected_components (labels only):            {t_cc3d * 1e3:8.1f} ms")
    print(f"skimage.measure.label (labels only):                 {t_sk * 1e3:8.1f} ms")
    print(f"ratio segmill(cc3d) / cc3d: {t_seg / t_cc3d:.2f}x (target <= 1.5x); "
          f"skimage label / cc3d: {t_sk / t_cc3d:.2f}x")


if __name__ == "__main__":
    main()
