"""Peak memory and time of ``segmill merge`` of two train2017-like COCO files: streamed, and in memory.

Usage::

    python benchmarks/bench_merge.py                      # makes bench-data/train_1x.json and train_1x_b.json once
    python benchmarks/bench_merge.py --a PATH             # an existing train2017-like file (make_synth.py)

The second file is the first with every other image given a new id and file
name (so half the images meet in the merge, half are new), every annotation
id moved past the first file's, and the polygons of the shared images
shifted by 3 px (so they are compared for duplicates, and few are). Each job
runs in a fresh interpreter, its peak RSS taken by ``os.wait4``
(``bench_scale.measure``): ``segmill info`` and a whole
``segmill.read`` of the first file, then the merge as streams (the default
for files this big) and in memory (the streaming threshold raised). The goal
(issue 16): the streamed merge in about the memory of reading one file. The
two merges must write the same bytes.
"""

from __future__ import annotations

import argparse
import filecmp
import tempfile
from pathlib import Path

from bench_scale import measure, train_1x  # this folder is on sys.path when a script in it runs

_MERGE = ("from segmill.formats import coco; coco.STREAM_BYTES = {limit}; from segmill.cli import main; "
          "main(['merge', {a!r}, {b!r}, '-o', {out!r}, '--quiet'], standalone_mode=False)")


def make_second(a: Path, b: Path) -> None:
    """Write ``b`` from ``a`` (see the module docs)."""
    import orjson

    doc = orjson.loads(a.read_bytes())
    moved = {}
    top = max(im["id"] for im in doc["images"]) + 1
    for im in doc["images"][::2]:
        moved[im["id"]] = im["id"] + top
        im["id"] += top
        im["file_name"] = "b_" + im["file_name"]
    step = max(an["id"] for an in doc["annotations"]) + 1
    for an in doc["annotations"]:
        an["id"] += step
        if an["image_id"] in moved:
            an["image_id"] = moved[an["image_id"]]
        elif isinstance(an["segmentation"], list):
            an["segmentation"] = [[v + 3 for v in part] for part in an["segmentation"]]
    b.write_bytes(orjson.dumps(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, help="a train2017-like file (default: made under bench-data/)")
    ap.add_argument("--b", type=Path, help="the second file (default: made from --a beside it)")
    ap.add_argument("--skip-memory-merge", action="store_true", help="leave out the in-memory merge")
    args = ap.parse_args()
    a = train_1x(args.a)
    b = args.b or a.with_name(a.stem + "_b.json")
    if not b.exists():
        make_second(a, b)
    out = Path(tempfile.mkdtemp())
    jobs = {
        "segmill info (stream)": f"from segmill.cli import main; main(['info', {str(a)!r}], standalone_mode=False)",
        "segmill.read (whole)": f"import segmill; segmill.read({str(a)!r})",
        "segmill merge (streams)": _MERGE.format(limit="32 << 20", a=str(a), b=str(b), out=str(out / "s.json")),
    }
    if not args.skip_memory_merge:
        jobs["segmill merge (in memory)"] = _MERGE.format(limit="1 << 60", a=str(a), b=str(b),
                                                          out=str(out / "m.json"))
    got = {}
    print(f"{a.name} ({a.stat().st_size / 1e6:.0f} MB) + {b.name} ({b.stat().st_size / 1e6:.0f} MB)")
    for name, code in jobs.items():
        got[name] = measure(code)
        print(f"  {name:<28} {got[name][0]:8.1f} s {got[name][1]:9.0f} MiB", flush=True)
    stream = got["segmill merge (streams)"][1]
    print(f"streamed merge / whole read of one file: {stream / got['segmill.read (whole)'][1]:.2f}")
    print(f"streamed merge / info of one file: {stream / got['segmill info (stream)'][1]:.2f}")
    if "segmill merge (in memory)" in got:
        print(f"in-memory merge / streamed merge: {got['segmill merge (in memory)'][1] / stream:.2f}")
        print("same bytes:", filecmp.cmp(out / "s.json", out / "m.json", shallow=False))
    for p in out.iterdir():
        p.unlink()
    out.rmdir()


if __name__ == "__main__":
    main()
