"""Benchmark the surface distance metrics (:mod:`segmill.agree.surface`) on a CT-sized volume pair.

Two overlapping wavy ellipsoids in a 512 x 512 x 300 volume (spacing
0.7 x 0.8 x 2.5 mm, about 15 million voxels each). Times, in one process:

* segmill: Dice, HD, HD95, ASSD and surface Dice at 1 mm in one call
  (the numba kernels compiled beforehand, on a small pair, and not timed);
* medpy 0.5: ``medpy.metric.binary.hd95`` and ``assd`` (each runs scipy's
  distance transform over the whole volume, twice);
* SimpleITK: ``HausdorffDistanceImageFilter`` (HD over all foreground
  voxels, multi-threaded; its HD is not a surface distance, see
  docs/medical.md, but equals segmill's on these convex-ish blobs).

For each it prints the time, the ratio to segmill's, the peak memory of the
numpy / scipy allocations (``tracemalloc``; SimpleITK's own buffers are not
seen there, the process's peak RSS is printed instead), and checks that the
numbers agree (1e-6 relative).

Usage::

    python benchmarks/bench_surface.py [--shape 512 512 300] [--skip-medpy]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

SPACING = (0.7, 0.8, 2.5)


def blob(shape, centre, radii, phase) -> np.ndarray:
    """A wavy ellipsoid, built slice by slice along the last axis (little memory)."""
    out = np.empty(shape, bool)
    ii = (np.arange(shape[0], dtype=np.float32)[:, None] - centre[0]) / radii[0]
    jj = (np.arange(shape[1], dtype=np.float32)[None, :] - centre[1]) / radii[1]
    base = ii * ii + jj * jj
    angle = np.arctan2(jj, ii)
    for k in range(shape[2]):
        zz = (k - centre[2]) / radii[2]
        wave = 1.0 + 0.15 * np.sin(3.0 * angle + phase + 0.05 * k)
        out[:, :, k] = base + zz * zz <= wave * wave
    return out


def volumes(shape):
    s = np.asarray(shape, float)
    a = blob(shape, s * (0.49, 0.51, 0.50), s * (0.35, 0.33, 0.37), 0.0)
    b = blob(shape, s * (0.52, 0.49, 0.48), s * (0.34, 0.35, 0.38), 1.0)
    return a, b


def timed(label, fn):
    """Run ``fn`` once: its result, seconds, and tracemalloc peak in GiB."""
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**30
    print(f"  {label:<44s} {dt:8.2f} s   numpy peak {peak:5.2f} GiB   process RSS peak {rss():5.2f} GiB", flush=True)
    return out, dt


def rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(512, 512, 300))
    ap.add_argument("--skip-medpy", action="store_true", help="medpy takes minutes and about 4.4 GiB at the full size")
    args = ap.parse_args(argv)
    from segmill.agree.surface import binary_surface_metrics

    shape = tuple(args.shape)
    t0 = time.perf_counter()
    a, b = volumes(shape)
    print(f"volumes {shape}, spacing {SPACING} mm: {int(a.sum())} and {int(b.sum())} voxels "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    small_a, small_b = volumes((24, 24, 12))
    binary_surface_metrics(small_a, small_b, SPACING)
    print(f"numba kernels compiled or loaded from the cache in {time.perf_counter() - t0:.1f} s (not timed below)")

    tracemalloc.start()
    print(f"process RSS before: {rss():.2f} GiB")
    ours, t_ours = timed("segmill (Dice, HD, HD95, ASSD, surface Dice)", lambda: binary_surface_metrics(
        a, b, SPACING, tolerance=1.0))
    print(f"    HD95 {ours.hd95:.6f} mm  ASSD {ours.assd:.6f} mm  HD {ours.hd:.6f} mm  "
          f"surface Dice {ours.surface_dice:.6f}  Dice {ours.dice:.6f}")

    import SimpleITK as sitk

    def sitk_hd():
        imgs = []
        for m in (a, b):
            img = sitk.GetImageFromArray(m.view(np.uint8))
            img.SetSpacing(SPACING[::-1])
            imgs.append(img)
        f = sitk.HausdorffDistanceImageFilter()
        f.Execute(*imgs)
        return f.GetHausdorffDistance()

    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    hd, t_sitk = timed(f"SimpleITK HausdorffDistance ({threads} threads)", sitk_hd)
    print(f"    HD {hd:.6f} mm ({'equal' if abs(hd - ours.hd) <= 1e-6 * hd else 'differs'}: x{t_sitk / t_ours:.1f} "
          "segmill's time)")
    if not args.skip_medpy:
        import medpy.metric.binary as mb

        hd95, t_hd95 = timed("medpy hd95", lambda: mb.hd95(a, b, SPACING))
        print(f"    HD95 {hd95:.6f} mm ({_agree(hd95, ours.hd95)}: x{t_hd95 / t_ours:.1f} segmill's time)")
        assd, t_assd = timed("medpy assd", lambda: mb.assd(a, b, SPACING))
        print(f"    ASSD {assd:.6f} mm ({_agree(assd, ours.assd)}: x{t_assd / t_ours:.1f} segmill's time)")
    tracemalloc.stop()
    return 0


def _agree(value, want) -> str:
    return "equal" if abs(value - want) <= 1e-6 * abs(want) else f"DIFFERS from segmill's {want:.6f}"


if __name__ == "__main__":
    raise SystemExit(main())
