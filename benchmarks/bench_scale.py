"""Peak memory and time of reading a train2017-like COCO file at 1x and 4x: stream, whole read, pycocotools.

Usage::

    python benchmarks/bench_scale.py                      # makes bench-data/train_1x.json and _4x.json once
    python benchmarks/bench_scale.py --one-x PATH         # an existing 1x file (benchmarks/make_synth.py)

The 4x file is the 1x file four times over, image and annotation ids offset
per copy (the same records, so the four parts cost the same). Each
measurement runs in a fresh process (peak RSS from ``os.wait4`` on
the child): ``segmill info`` (streams COCO through its index), a whole
``segmill.read`` and pycocotools' ``COCO(path)``. The goal (issue 14): the
streamed peak at 4x at most 1.2x the peak at 1x, and under 1 GiB at 1x.
The edit jobs (issue 16) convert with edit flags, streamed
(:mod:`segmill.transforms.streamed`). ``diff`` and ``agree`` compare the
file with itself, its items spilled (:mod:`segmill.spilled`); agree
rasterizes every annotation twice (about 11 minutes at 1x here: leave it
out with ``--skip agree``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"

JOBS = {
    "segmill info (stream)": "from segmill.cli import main; main(['info', {path!r}], standalone_mode=False)",
    "segmill convert -> coco (stream)": ("import os, tempfile; from segmill.cli import main; d = tempfile.mkdtemp(); "
                                         "main(['convert', {path!r}, d + '/o.json', '-q'], standalone_mode=False); "
                                         "os.remove(d + '/o.json')"),
    "segmill convert -> voc (stream)": ("import shutil, tempfile; from segmill.cli import main; d = tempfile.mkdtemp(); "
                                        "main(['convert', {path!r}, d + '/voc', '--to', 'voc', '-q'], "
                                        "standalone_mode=False); shutil.rmtree(d)"),
    "segmill convert + edits (stream)": (
        "import os, tempfile; from segmill.cli import main; d = tempfile.mkdtemp(); "
        "main(['convert', {path!r}, d + '/o.json', '-q', '--drop-crowd', '--map', 'class01=class03', "
        "'--min-area', '50'], standalone_mode=False); os.remove(d + '/o.json')"),
    "segmill convert + split (stream)": (
        "import os, shutil, tempfile; from segmill.cli import main; d = tempfile.mkdtemp(); "
        "main(['convert', {path!r}, d + '/o_{{split}}.json', '-q', '--split', 'train=0.9,val=0.1', '--stratify'], "
        "standalone_mode=False); shutil.rmtree(d)"),
    "segmill check (stream)": ("from segmill.cli import main\ntry:\n    main(['check', {path!r}, '-q', '--output-format', "
                               "'json', '-o', '/dev/null'], standalone_mode=False)\nexcept SystemExit:\n    pass"),
    "segmill diff (spill)": ("from segmill.cli import main\ntry:\n    main(['diff', {path!r}, {path!r}, '-q', "
                             "'--output-format', 'json', '-o', '/dev/null'], standalone_mode=False)\n"
                             "except SystemExit:\n    pass"),
    "segmill agree (spill)": ("from segmill.cli import main\ntry:\n    main(['agree', {path!r}, {path!r}, '-q', "
                              "'--match-by', 'id', '--output-format', 'json', '-o', '/dev/null'], "
                              "standalone_mode=False)\nexcept SystemExit:\n    pass"),
    "segmill.read (whole)": "import segmill; segmill.read({path!r})",
    "pycocotools COCO()": "from pycocotools.coco import COCO; COCO({path!r})",
}


def make_4x(one: Path, four: Path) -> None:
    """Write ``one`` four times over with offset ids (images, annotations), streaming the output."""
    import orjson

    doc = orjson.loads(one.read_bytes())
    images, anns = doc.pop("images"), doc.pop("annotations")
    di = max(im["id"] for im in images) + 1
    da = max(a["id"] for a in anns) + 1
    tmp = four.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(doc)[:-1] + b',"images":[')
        for k in range(4):
            part = [{**im, "id": im["id"] + k * di} for im in images]
            f.write((b"," if k else b"") + orjson.dumps(part)[1:-1])
        f.write(b'],"annotations":[')
        for k in range(4):
            part = [{**a, "id": a["id"] + k * da, "image_id": a["image_id"] + k * di} for a in anns]
            f.write((b"," if k else b"") + orjson.dumps(part)[1:-1])
        f.write(b"]}")
    os.replace(tmp, four)


def measure(code: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of ``code`` in a fresh interpreter."""
    # This child's own peak (os.wait4), not RUSAGE_CHILDREN: that is the largest of every child so far.
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"failed: {code}\n{err[-2000:].decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024


def train_1x(path: Path | None = None) -> Path:
    """``path``, or bench-data/train_1x.json made by make_synth.py (118,000 images) the first time."""
    one = path or DATA / "train_1x.json"
    if not one.exists():
        DATA.mkdir(exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_synth.py"), str(one), "--images", "118000"],
                       check=True)
    return one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one-x", type=Path, help="a train2017-like file (default: made under bench-data/)")
    ap.add_argument("--skip", nargs="*", default=[], help="job names to leave out (e.g. pycocotools)")
    ap.add_argument("--only", nargs="*", default=[], help="run only the jobs whose names hold one of these")
    args = ap.parse_args()
    one = train_1x(args.one_x)
    four = one.with_name(one.stem + "_4x.json")
    if not four.exists():
        make_4x(one, four)
    rows = []
    for label, path in (("1x", one), ("4x", four)):
        size = path.stat().st_size / 1e6
        for job, code in JOBS.items():
            if any(s in job for s in args.skip) or (args.only and not any(s in job for s in args.only)):
                continue
            # peaks are per child: run each job in its own process group of one
            out = subprocess.run([sys.executable, __file__, "--child", code.format(path=str(path))],
                                 capture_output=True, text=True)
            if out.returncode:
                print(f"{label} {job}: failed\n{out.stderr[-1500:]}")
                continue
            secs, mib = json.loads(out.stdout)
            rows.append((label, size, job, secs, mib))
            print(f"{label} ({size:,.0f} MB)  {job:<24} {secs:7.1f} s  peak {mib:7.0f} MiB", flush=True)
    peaks = {(r[0], r[2]): r[4] for r in rows}
    print()
    for job in JOBS:
        if ("1x", job) in peaks and ("4x", job) in peaks:
            print(f"{job:<34} peak 4x / 1x: {peaks[('4x', job)] / peaks[('1x', job)]:.2f} (goal <= 1.2), "
                  f"1x peak {peaks[('1x', job)]:.0f} MiB (goal < 1024)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
