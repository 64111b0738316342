"""Benchmark ``segmill check`` (all default rules) against ``datum validate``.

Data: the val2017-like synthetic COCO file (``segmill.synth``, 5,000 images,
~36,000 annotations), written once to a temporary folder in the layout
Datumaro expects (``annotations/instances_val.json``).

Timed, side by side in one run:

* segmill in-process: read (``errors="keep"``) and check, separately;
* segmill CLI (``segmill check``, a fresh process: what CI pays);
  with ``--repeat N`` every timing (CLI and Datumaro's too) is the best of N;
* ``datum validate -t segmentation`` from a separate virtualenv (Datumaro's
  dependencies clash with segmill's), when it is installed there: the CLI,
  and its Python API timed inside that process (import of the dataset and
  ``SegmentationValidator.validate``; interpreter start and imports left out);
* with ``--profile``: the rule-by-rule table (rule, seconds, findings) from
  the engine's ``timings`` hook, shared tables (rasterization, pairs) as rows
  of their own.

Usage::

    python benchmarks/bench_check.py [--images 5000] [--datum /tmp/dm-venv/bin/datum] [--repeat 1] [--profile]

Make the Datumaro venv with
``python -m venv /tmp/dm-venv && /tmp/dm-venv/bin/pip install 'datumaro[cli]'``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(fn, repeat):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _profile(ds, ann, check) -> None:
    """Print the rule-by-rule table of one check run (slowest first), as markdown."""
    timings: dict = {}
    check(ds, path=ann, timings=timings)
    rows = sorted(timings.items(), key=lambda kv: -kv[1][0])
    print("| rule | seconds | findings |\n| --- | --- | --- |")
    for code, (sec, n) in rows:
        if sec >= 0.0005 or n:
            print(f"| {code} | {sec:.3f} | {n if not code.startswith('shared') else ''} |")
    rest = [c for c, (sec, n) in rows if sec < 0.0005 and not n]
    print(f"| {len(rest)} other rules | < 0.0005 each | 0 |")
    print(f"| total | {sum(sec for sec, _ in timings.values()):.3f} | {sum(n for _, n in timings.values())} |")


_DM_SCRIPT = """
import time, datumaro as dm
from datumaro.plugins.validators import SegmentationValidator
t = time.perf_counter()
ds = dm.Dataset.import_from({root!r}, "coco_instances")
reports = SegmentationValidator().validate(ds)
print(time.perf_counter() - t, len(reports.get("validation_reports", ())))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--datum", default="/tmp/dm-venv/bin/datum")
    ap.add_argument("--profile", action="store_true", help="print the rule-by-rule table")
    args = ap.parse_args()

    import segmill
    from segmill.check import check
    from segmill.synth import write_coco

    tmp = Path(tempfile.mkdtemp(prefix="segmill-bench-check-"))
    try:
        ann = tmp / "annotations" / "instances_val.json"
        ann.parent.mkdir(parents=True)
        (tmp / "images" / "val").mkdir(parents=True)  # Datumaro insists on the folder; images are not read
        write_coco(ann, args.images, args.seed)
        print(f"data: {ann.stat().st_size / 1e6:.1f} MB, {args.images} images (segmill.synth seed {args.seed})")

        t_read, ds = _time(lambda: segmill.read(ann, "coco", errors="keep"), args.repeat)
        t_check, result = _time(lambda: check(ds, path=ann), args.repeat)
        counts = result.counts()
        print(f"segmill read (errors=keep): {t_read:7.2f} s  ({ds.num_annotations} annotations)")
        print(f"segmill check, {len(result.rules)} default rules: {t_check:7.2f} s  "
              f"({len(result.findings)} findings: {counts})")
        print(f"segmill read + check:        {t_read + t_check:7.2f} s")
        if args.profile:
            _profile(ds, ann, check)

        cli = [sys.executable, "-m", "segmill", "check", str(ann), "--statistics", "--quiet"]
        t_cli, proc = _time(lambda: subprocess.run(cli, capture_output=True, text=True), args.repeat)
        print(f"segmill check CLI (new process): {t_cli:7.2f} s  exit {proc.returncode}")

        datum = args.datum
        if not (os.path.exists(datum) or shutil.which(datum)):
            print(f"datum validate: not run ({datum} not found; see the module docstring to install it)")
            return 0
        cmd = [datum, "validate", "-t", "segmentation", f"{tmp}:coco_instances"]
        t_dm, proc = _time(lambda: subprocess.run(cmd, capture_output=True, text=True, cwd=tmp), args.repeat)
        if proc.returncode != 0:
            print(f"datum validate: failed (exit {proc.returncode}) after {t_dm:.2f} s:\n{proc.stderr[-2000:]}")
            return 0
        print(f"datum validate -t segmentation: {t_dm:7.2f} s")
        print(f"ratio datum / segmill CLI: {t_dm / t_cli:6.1f}x;  datum CLI / segmill in-process read+check: "
              f"{t_dm / (t_read + t_check):6.1f}x")
        py = Path(datum).with_name("python")
        runs = [subprocess.run([str(py), "-c", _DM_SCRIPT.format(root=str(tmp))], capture_output=True, text=True)
                for _ in range(args.repeat)]
        if all(r.returncode == 0 for r in runs):
            t_api = min(float(r.stdout.split()[-2]) for r in runs)
            n_rep = runs[-1].stdout.split()[-1]
            print(f"datumaro API import + SegmentationValidator (in its process): {t_api:7.2f} s  "
                  f"({n_rep} reports);  ratio to segmill in-process read+check: {t_api / (t_read + t_check):6.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
