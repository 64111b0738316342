"""Benchmark the CLI on one image holding a million tiny polygons.

Data: one 2000 x 2000 image with ``--n`` triangles of about 2 px (default
1,000,000), 3 categories, stored ``area`` and ``bbox``; written once to
``bench-data/many_polygons_<n>.json`` (git-ignored) and reused. About a
third of the triangles overlap a neighbour by half or more, so ``segmill
check`` reports hundreds of thousands of C001-C003 findings: the worst case
for the pair kernel and for the cost of findings.

Each command runs in a fresh process (what a user or CI pays, interpreter
start and imports included) and is measured with ``os.wait4``: wall time,
CPU time (user + system) and peak RSS of that very process:

* ``segmill info FILE``
* ``segmill convert FILE OUT --segmentation rle`` (written to a temporary folder)
* ``segmill check FILE`` (text report to ``/dev/null``; add ``--json`` for
  ``--output-format json`` as well)

Usage::

    python benchmarks/bench_many_polygons.py [--n 1000000] [--json] [--repeat 1]

Other people's work on a shared machine inflates wall time; CPU time moves
much less. Needs Linux or macOS (``os.wait4``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2000


def generate(n: int, path: Path) -> None:
    """Write the test file: ``n`` triangles of about 2 px at random places in one image (seeded)."""
    rng = random.Random(0)
    anns = []
    for i in range(n):
        x = rng.uniform(0, SIZE - 3)
        y = rng.uniform(0, SIZE - 3)
        seg = [round(x, 2), round(y, 2), round(x + 2, 2), round(y, 2), round(x + 1, 2), round(y + 2, 2)]
        anns.append({"id": i + 1, "image_id": 1, "category_id": 1 + i % 3, "segmentation": [seg],
                     "area": 2.0, "bbox": [round(x, 2), round(y, 2), 2.0, 2.0], "iscrowd": 0})
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": SIZE, "height": SIZE}], "annotations": anns,
           "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with open(tmp, "w") as fh:
        json.dump(doc, fh)
    os.replace(tmp, path)


def measure(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float, float, int]:
    """Run ``cmd`` in a fresh process: (wall s, CPU s, peak RSS MiB, exit code)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    rc = proc.returncode
    if rc not in (0, 1):  # check exits 1 when it reports findings
        sys.stderr.write(err.decode("utf-8", "replace"))
        raise SystemExit(f"{' '.join(cmd)} exited {rc}")
    rss_mib = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, usage.ru_utime + usage.ru_stime, rss_mib, rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of polygons (default 1,000,000)")
    ap.add_argument("--json", action="store_true", help="also time `segmill check --output-format json`")
    ap.add_argument("--repeat", type=int, default=1, help="runs per command; the fastest (by CPU) is shown")
    args = ap.parse_args()
    if not hasattr(os, "wait4"):
        raise SystemExit("needs os.wait4 (Linux or macOS)")

    data = ROOT / "bench-data" / f"many_polygons_{args.n}.json"
    if not data.exists():
        t = time.perf_counter()
        generate(args.n, data)
        print(f"wrote {data} ({data.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
    exe = [sys.executable, "-m", "segmill"]
    out = Path(tempfile.mkdtemp(prefix="segmill-bench-many-"))
    try:
        runs = [
            ("info", exe + ["info", str(data)]),
            ("convert --segmentation rle", None),
            ("check (text)", exe + ["check", str(data), "--quiet"]),
        ]
        if args.json:
            runs.append(("check --output-format json", exe + ["check", str(data), "--quiet", "--output-format",
                                                             "json"]))
        print(f"{args.n:,} polygons in one {SIZE}x{SIZE} image; load average "
              f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(f"{'command':<30} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13}")
        for name, cmd in runs:
            best = None
            for k in range(args.repeat):
                if cmd is None:  # convert writes a new file each time
                    dst = out / f"rle_{k}.json"
                    got = measure(exe + ["convert", str(data), str(dst), "--segmentation", "rle", "--quiet"])
                    dst.unlink(missing_ok=True)
                else:
                    got = measure(cmd)
                if best is None or got[1] < best[1]:
                    best = got
            wall, cpu, rss, _ = best
            print(f"{name:<30} {wall:8.2f} {cpu:8.2f} {rss:13.0f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
