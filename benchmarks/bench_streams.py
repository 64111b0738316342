"""Every streaming reader in bounded memory: peak memory of a whole read and of a stream, at 1x and 4x.

Usage::

    python benchmarks/bench_streams.py                       # every format that streams, 200 and 800 images
    python benchmarks/bench_streams.py --formats voc,yolo --images 100
    python benchmarks/bench_streams.py --data DIR --traced          # + tracemalloc peaks (twice as long)

The formats are those whose :class:`~segmill.formats.FormatSpec` declares
``stream`` (looked up at run time: a format added later is measured without
an edit here). Each gets a dataset at a base size (``--images``) and at
``--scale`` times it, made once under ``--data`` (default
``bench-data/streams``) and reused:

* a format with a writer: a COCO-like dataset from :mod:`segmill.synth`
  (COCO's image sizes, ~7.3 objects an image; black images of each size for
  the writers that copy or measure them) written with :func:`segmill.write`,
  and read back (as many items) before anything is measured; for NIfTI and
  NRRD the images are the slices of volumes of 32 (:func:`as_volumes`);
* a read-only format with a builder here (:data:`REPLICATORS`): its fixture
  under ``fixtures/<format>`` copied N times with new names (ADE20K and
  Mapillary with every image and mask scaled up 40 times with nearest
  neighbours, 8 x 6 -> 320 x 240 pixels; Open Images likewise, its image
  and two masks; DICOM SEG as it is, 3 slices of 16 x 12 a file), and read
  back;
* any other format is listed as not built, with the reason.

Each measurement runs in a fresh interpreter (peak RSS from ``os.wait4`` on
that child, as ``bench_scale.py`` does): ``segmill.read(path, fmt)``, then
``segmill.stream(path, fmt)`` iterated with each item dropped (its
``bounded`` printed). With ``--traced`` a second child per job runs
the same under :mod:`tracemalloc`: the peak of Python allocations during
the job, without the interpreter and the imports that every RSS peak
includes. Every child imports segmill and loads numba
(``segmill._jit.load``) before the job, so that the baseline ("imports")
is the same whatever the job, the format and the size (numba, with scipy,
is ~140 MiB of RSS: whether a job loads it on its own depends on the sizes
of its arrays). COCO's ``STREAM_BYTES`` is set to 0: a COCO file under
32 MiB is otherwise read whole, on purpose (``segmill.formats.coco``).
Times are those of the job inside the child, imports excluded; the
datasets are made, and the formats listed, in children too (a child's
``ru_maxrss`` starts from its parent's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
sys.path.insert(0, str(ROOT / "src"))  # this checkout's segmill, here and in the children (PYTHONPATH)

#: What a child runs: ``python -c CHILD mode format path traced``; prints one JSON line.
CHILD = r"""
import json, resource, sys, time
mode, fmt, path, traced = sys.argv[1:5]
import segmill
from segmill.formats import coco
coco.STREAM_BYTES = 0  # stream COCO files of any size (module docstring)
from segmill import _jit
_jit.load()  # numba in every child before the job, whether the job's kernels would load it or not
if traced == "1":
    import tracemalloc
    tracemalloc.start()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
bounded = None
if mode == "read":
    ds = segmill.read(path, fmt)
    items, anns = len(ds.items), sum(len(i.annotations) for i in ds.items)
    del ds
else:
    st = segmill.stream(path, fmt)
    items = anns = 0
    for item in st:
        items += 1
        anns += len(item.annotations)
        del item
    bounded = st.bounded
secs = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced == "1" else None
with open("/proc/self/status") as f:  # this process's own high-water mark: a check on wait4's
    hwm = next((int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")), None)
print(json.dumps({"items": items, "annotations": anns, "bounded": bounded, "secs": secs, "base": base,
                  "traced": peak, "hwm": hwm}))
"""


# ------------------------------------------------------------------ datasets from the writers
def synth_source(data: Path, n: int) -> Path:
    """A synthetic COCO file of ``n`` images under ``data/_source/n<n>``, with a black image of each size.

    Parameters
    ----------
    data : pathlib.Path
        The benchmark's data folder.
    n : int
        Images.

    Returns
    -------
    pathlib.Path
        The COCO file; its images are in ``images/`` beside it.
    """
    import segmill
    from PIL import Image
    from segmill.synth import write_coco

    folder = data / "_source" / f"n{n}"
    src = folder / "coco.json"
    if (folder / "done").exists():
        return src
    shutil.rmtree(folder, ignore_errors=True)
    write_coco(src, n, seed=n)
    images = folder / "images"
    images.mkdir()
    for item in segmill.read(src, "coco").items:
        Image.new("RGB", (item.width, item.height)).save(images / item.file_name)
    (folder / "done").write_text("")
    return src


def write_dataset(fmt: str, src: Path, out: Path) -> None:
    """Write the COCO file ``src`` (its images beside it) as ``fmt`` at ``out``.

    Parameters
    ----------
    fmt : str
        A format with a writer.
    src : pathlib.Path
        From :func:`synth_source`.
    out : pathlib.Path
        The destination (a file or a folder, as the format writes).
    """
    import segmill

    ds = segmill.read(src, "coco")
    ds.meta["image_root"] = str(src.parent / "images")
    if fmt in VOLUME_FORMATS:
        as_volumes(ds.items)
    segmill.write(ds, out, fmt)


#: Formats that write label volumes; :func:`as_volumes` gives them volumes of this many slices at most.
VOLUME_FORMATS = ("nifti", "nrrd")
VOLUME_SLICES = 32


def as_volumes(items: list) -> None:
    """Make the items slices of volumes of :data:`VOLUME_SLICES` (images of one size each), in place.

    Without volume attributes the volume writers make one volume per image
    size, so the volumes, which the volume readers stream one at a time,
    would grow with the dataset. Here a larger dataset has more volumes of
    the same size.

    Parameters
    ----------
    items : list of segmill.model.Item
        Given ``attributes["volume"]`` (see ``segmill.formats._volume_slices``).
    """
    by_size: dict = {}
    for item in items:
        by_size.setdefault((item.width, item.height), []).append(item)
    k = 0
    for (w, h), group in by_size.items():
        for start in range(0, len(group), VOLUME_SLICES):
            chunk = group[start:start + VOLUME_SLICES]
            for j, item in enumerate(chunk):
                item.attributes["volume"] = {"name": f"vol{k:05d}", "axis": 2, "index": j, "slices": len(chunk),
                                             "shape": [w, h, len(chunk)], "dtype": "", "spacing": [1.0, 1.0, 1.0],
                                             "header": {}, "format": ""}
            k += 1


# ------------------------------------------------------------------ read-only formats: fixtures replicated
def _scaled_image(src: Path, dst: Path, factor: int) -> None:
    """``src`` (PNG or JPEG) at ``factor`` times its size, nearest neighbour (labels stay labels), as ``dst``."""
    from PIL import Image

    with Image.open(src) as im:
        im.load()
        big = im.resize((im.width * factor, im.height * factor), Image.NEAREST)
        dst.parent.mkdir(parents=True, exist_ok=True)
        big.save(dst, **({"quality": 90} if dst.suffix.lower() in (".jpg", ".jpeg") else {}))


def replicate_ade20k(out: Path, n: int, factor: int = 40) -> None:
    """``n`` copies of the fixture's training image (4 objects, parts included), scaled ``factor`` times.

    Each copy ``ADE_train_<k>`` has its JSON (``filename``, ``imsize``, the
    objects' ``instance_mask`` paths and polygons renamed and scaled), its
    ``_seg.png``, ``_parts_1.png`` and per-object masks, under
    ``out/training/outdoor/street``.

    Parameters
    ----------
    out : pathlib.Path
        The dataset root (made).
    n : int
        Copies.
    factor : int, default 40
        Scale of every image and coordinate (the fixture is 8 x 6).
    """
    stem0 = "ADE_train_00000001"
    here = FIXTURES / "ade20k" / "basic" / "training" / "outdoor" / "street"
    doc0 = json.loads((here / f"{stem0}.json").read_text())
    dst = out / "training" / "outdoor" / "street"
    dst.mkdir(parents=True)
    for k in range(n):
        stem = f"ADE_train_{k + 1:08d}"
        text = json.dumps(doc0).replace(stem0, stem)
        doc = json.loads(text)
        ann = doc["annotation"]
        ann["imsize"] = [ann["imsize"][0] * factor, ann["imsize"][1] * factor, *ann["imsize"][2:]]
        for obj in ann["object"]:
            obj["polygon"] = {key: [v * factor for v in obj["polygon"][key]] for key in ("x", "y")}
        (dst / f"{stem}.json").write_text(json.dumps(doc))
        for p in [here / f"{stem0}.jpg", *here.glob(f"{stem0}_*.png"), *(here / stem0).glob("*.png")]:
            _scaled_image(p, dst / p.relative_to(here).as_posix().replace(stem0, stem), factor)


def replicate_mapillary(out: Path, n: int, factor: int = 40) -> None:
    """``n`` copies of the fixture's training image (v2.0 images, instances and labels), scaled ``factor`` times.

    The reader's default source is ``instances``; the panoptic and polygon
    files, which it would not read, are left out.

    Parameters
    ----------
    out : pathlib.Path
        The dataset root (made): ``config_v2.0.json``, ``training/images``,
        ``training/v2.0/{instances,labels}``.
    n : int
        Copies.
    factor : int, default 40
        Scale of every image (the fixture's is 8 x 6).
    """
    here = FIXTURES / "mapillary" / "basic"
    out.mkdir(parents=True)
    shutil.copy(here / "config_v2.0.json", out / "config_v2.0.json")
    parts = {"images/a.jpg": "images/{}.jpg", "v2.0/instances/a.png": "v2.0/instances/{}.png",
             "v2.0/labels/a.png": "v2.0/labels/{}.png"}
    for k in range(n):
        for src, dst in parts.items():
            _scaled_image(here / "training" / src, out / "training" / dst.format(f"img{k:06d}"), factor)


def replicate_dicom_seg(out: Path, n: int) -> None:
    """The fixture's SEG file (3 slices of 16 x 12) copied until there are at least ``n`` slices (items).

    Parameters
    ----------
    out : pathlib.Path
        A folder (made) of ``case<k>.dcm`` files.
    n : int
        Items wanted.
    """
    out.mkdir(parents=True)
    src = FIXTURES / "dicom_seg" / "basic" / "case01.dcm"
    for k in range(math.ceil(n / 3)):
        shutil.copy(src, out / f"case{k:06d}.dcm")


def replicate_open_images(out: Path, n: int, factor: int = 40) -> None:
    """``n`` copies of the fixture's training image with its two masks and their CSV rows, scaled ``factor`` times.

    Each copy has its own ``ImageID`` (16 hex digits), its image under
    ``images/train`` and its masks under ``masks/train``; the rows of every
    copy are in ``annotations/train-annotations-object-segmentation.csv``,
    beside the fixture's class descriptions.

    ``out`` is the dataset root (made); ``factor`` scales the image and the
    masks (the fixture's image is 8 x 6), as for :func:`replicate_ade20k`.
    """
    here = FIXTURES / "open_images" / "basic"
    id0 = "0001eeaf4aed83f9"
    (out / "annotations").mkdir(parents=True)
    shutil.copy(here / "annotations" / "oidv6-class-descriptions.csv", out / "annotations")
    lines = (here / "annotations" / "train-annotations-object-segmentation.csv").read_text().splitlines()
    rows = [lines[0]]
    for k in range(n):
        iid = f"{k:016x}"
        rows += [line.replace(id0, iid) for line in lines[1:]]
        _scaled_image(here / "images" / "train" / f"{id0}.jpg", out / "images" / "train" / f"{iid}.jpg", factor)
        for m in (here / "masks" / "train").glob(f"{id0}_*.png"):
            _scaled_image(m, out / "masks" / "train" / m.name.replace(id0, iid), factor)
    (out / "annotations" / "train-annotations-object-segmentation.csv").write_text("\n".join(rows) + "\n")


#: Read-only formats that streams: how to make a dataset of about ``n`` items at ``out``.
REPLICATORS = {"ade20k": replicate_ade20k, "mapillary": replicate_mapillary, "dicom_seg": replicate_dicom_seg,
               "open_images": replicate_open_images}
#: Formats whose items are the images some annotation names (an image without any is no item).
ONLY_ANNOTATED = {"coco_results"}
#: Python modules a format's reader or writer needs (the benchmark says so when one is missing).
NEEDS = {"nifti": "nibabel", "nrrd": "nrrd", "dicom_seg": "highdicom", "geojson": "rasterio"}


# ------------------------------------------------------------------ building and checking
def _missing(fmt: str) -> str | None:
    """Why ``fmt`` cannot be measured here (a module it needs is not installed), or None."""
    import importlib.util

    need = NEEDS.get(fmt)
    if need and importlib.util.find_spec(need) is None:
        return f"{need} is not installed"
    return None


def dataset_path(data: Path, fmt: str, n: int) -> Path:
    """Where the ``n``-image dataset of ``fmt`` lives: ``data/<fmt>/n<n>/data`` (``data.json`` for a file)."""
    from segmill.formats import get_format

    spec = get_format(fmt)
    name = "data.json" if spec.write is not None and spec.output == "file" else "data"
    return data / fmt / f"n{n}" / name


def build(data: Path, fmt: str, n: int) -> tuple[Path, int]:
    """The ``n``-image dataset of ``fmt``, made (and read back) unless a previous run made it.

    Parameters
    ----------
    data : pathlib.Path
        The benchmark's data folder.
    fmt : str
        A format that streams.
    n : int
        Images (for DICOM SEG: slices, rounded up to whole files).

    Returns
    -------
    (pathlib.Path, int)
        The dataset and its number of items (as read back).

    Raises
    ------
    RuntimeError
        No way to make it, or it does not read back with as many items.
    """
    import segmill
    from segmill.formats import get_format

    out = dataset_path(data, fmt, n)
    marker = out.parent / "built.json"
    if marker.exists():
        return out, json.loads(marker.read_text())["items"]
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    if get_format(fmt).write is not None:
        write_dataset(fmt, synth_source(data, n), out)
    elif fmt in REPLICATORS:
        REPLICATORS[fmt](out, n)
    else:
        raise RuntimeError("read-only and no builder in this benchmark (REPLICATORS)")
    items = len(segmill.read(out, fmt).items)
    want = 3 * math.ceil(n / 3) if fmt == "dicom_seg" else n
    # COCO results: an image is an item only when some result names it (synth leaves a few without)
    if items != want and not (fmt in ONLY_ANNOTATED and 0.9 * want <= items < want):
        raise RuntimeError(f"wrote {n} images, read back {items} items")
    marker.write_text(json.dumps({"items": items}))
    return out, items


# ------------------------------------------------------------------ measuring
def _env() -> dict:
    """The children's environment: this checkout's ``src`` first, numba loaded at the first kernel call."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, SEGMILL_JIT="compile", PYTHONPATH=path)


def in_child(*args: str) -> dict:
    """This script run as ``python bench_streams.py --child ARGS`` (:func:`child_main`): its JSON answer.

    The datasets are made and the formats listed in children, so that this
    process never holds segmill nor a dataset: a child's ``ru_maxrss``
    starts from its parent's high-water mark (the memory the parent had
    when it forked, kept by the kernel across ``exec``).
    """
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=_env())
    if out.returncode:
        return {"error": f"exit {out.returncode}: " + (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(args: list[str]) -> None:
    """``--child list``: the formats that stream; ``--child build FMT N DATA``: :func:`build`'s answer."""
    if args[0] == "list":
        from segmill.formats import formats

        print(json.dumps([name for name, spec in formats().items() if spec.stream is not None]))
        return
    fmt, n, data = args[1], int(args[2]), Path(args[3])
    try:
        path, items = build(data, fmt, n)
        print(json.dumps({"path": str(path), "items": items}))
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to print, not a crash
        print(json.dumps({"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"}))


def measure(mode: str, fmt: str, path: Path, traced: bool) -> dict:
    """Run ``mode`` (``read`` or ``stream``) of ``path`` in a fresh interpreter.

    Parameters
    ----------
    mode : {"read", "stream"}
    fmt : str
    path : pathlib.Path
    traced : bool
        Under :mod:`tracemalloc` (its peak in ``traced``; the RSS and the time
        of such a run are not reported).

    Returns
    -------
    dict
        :data:`CHILD`'s line, with ``peak``: the child's peak RSS in MiB (``os.wait4``).
    """
    env = _env()
    with tempfile.TemporaryFile() as err:  # not communicate(): it reaps the child, and wait4 must
        proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, fmt, str(path), "1" if traced else "0"],
                                stdout=subprocess.PIPE, stderr=err, env=env)
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not RUSAGE_CHILDREN's largest
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{mode} {fmt} {path}: exit {proc.returncode}\n"
                               f"{err.read().decode(errors='replace')[-1500:]}")
    return dict(json.loads(out.decode().strip().splitlines()[-1]), peak=usage.ru_maxrss / 1024)


def measure_format(fmt: str, paths: dict, traced: bool) -> dict:
    """Every job of one format: ``{(mode, label): result}`` (:func:`measure`; ``traced`` merged in)."""
    res = {}
    for label, path in paths.items():
        for mode in ("read", "stream"):
            r = measure(mode, fmt, path, False)
            if traced:
                r["traced"] = measure(mode, fmt, path, True)["traced"]
            res[(mode, label)] = r
            print(f"  {fmt:<14} {label} {mode:<6} {r['items']:>6} items {r['annotations']:>7} anns  "
                  f"peak {r['peak']:7.1f} MiB (VmHWM {r['hwm']:7.1f}, imports {r['base']:6.1f})"
                  + (f"  traced {r['traced']:7.1f} MiB" if r["traced"] is not None else "")
                  + f"  {r['secs']:7.2f} s" + (f"  bounded={r['bounded']}" if mode == "stream" else ""), flush=True)
    return res


def _pair(a, b, spec: str) -> str:
    """``"a / b"`` with both formatted by ``spec``; ``"-"`` when either is missing."""
    return "-" if a is None or b is None else f"{a:{spec}} / {b:{spec}}"


def table(rows: dict, scale: int) -> list[str]:
    """The Markdown table of :func:`main`'s results (``rows``: format -> :func:`measure_format`)."""
    x = f"{scale}x"
    traced = any(r["traced"] is not None for res in rows.values() for r in res.values())
    head = ["format", f"items 1x / {x}", "imports MiB", f"read peak MiB 1x / {x}", f"stream peak MiB 1x / {x}",
            f"stream {x}/1x", f"read {x}/1x", f"read s 1x / {x}", f"stream s 1x / {x}", "bounded"]
    if traced:
        head[7:7] = [f"traced read MiB 1x / {x}", f"traced stream MiB 1x / {x}"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for fmt, res in rows.items():
        r1, r4, s1, s4 = res[("read", "1x")], res[("read", x)], res[("stream", "1x")], res[("stream", x)]
        cells = [fmt, f"{s1['items']} / {s4['items']}", f"{s1['base']:.0f}", _pair(r1["peak"], r4["peak"], ".0f"),
                 _pair(s1["peak"], s4["peak"], ".0f"), f"**{s4['peak'] / s1['peak']:.2f}**",
                 f"{r4['peak'] / r1['peak']:.2f}", _pair(r1["secs"], r4["secs"], ".2f"),
                 _pair(s1["secs"], s4["secs"], ".2f"),
                 "yes" if s1["bounded"] and s4["bounded"] else f"no ({s1['bounded']}, {s4['bounded']})"]
        if traced:
            cells[7:7] = [_pair(r1["traced"], r4["traced"], ".1f"), _pair(s1["traced"], s4["traced"], ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def build_all(fmt: str, sizes: dict, data: Path) -> tuple[dict | None, str | None]:
    """``({label: path}, None)`` for the datasets of ``fmt`` at ``sizes`` (made in children), or ``(None, why)``."""
    reason = _missing(fmt)
    if reason is not None:
        return None, reason
    t = time.perf_counter()
    paths = {}
    for label, n in sizes.items():
        got = in_child("build", fmt, str(n), str(data))
        if "error" in got:
            return None, got["error"]
        paths[label] = Path(got["path"])
    print(f"{fmt}: datasets ready ({time.perf_counter() - t:.1f} s)", flush=True)
    return paths, None


def main() -> None:
    """Build what is missing, measure every format, print the table (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200, help="images at 1x (default 200)")
    ap.add_argument("--scale", type=int, default=4, help="the larger size, times --images (default 4)")
    ap.add_argument("--formats", default="", help="comma-separated formats (default: every one that streams)")
    ap.add_argument("--data", type=Path, default=ROOT / "bench-data" / "streams", help="datasets, made once")
    ap.add_argument("--traced", action="store_true", help="also run each job under tracemalloc (twice the children)")
    args = ap.parse_args()
    streaming = in_child("list")
    chosen = [f.strip() for f in args.formats.split(",") if f.strip()] or streaming
    unknown = [f for f in chosen if f not in streaming]
    if unknown:
        raise SystemExit(f"not formats that stream: {', '.join(unknown)} (these do: {', '.join(streaming)})")
    t0 = time.perf_counter()
    sizes = {"1x": args.images, f"{args.scale}x": args.images * args.scale}
    rows, skipped = {}, {}
    for fmt in chosen:
        paths, reason = build_all(fmt, sizes, args.data.resolve())
        reason = None if reason is None else f"not built: {reason}"
        if paths is not None:
            try:
                rows[fmt] = measure_format(fmt, paths, args.traced)
            except RuntimeError as exc:
                reason = f"measuring failed: {exc}"
        if reason is not None:
            skipped[fmt] = reason
            print(f"{fmt}: {reason}", flush=True)
    print(f"\n{args.images} images at 1x, {args.images * args.scale} at {args.scale}x; "
          f"{time.perf_counter() - t0:.0f} s in all\n")
    print("\n".join(table(rows, args.scale)))
    for fmt, reason in skipped.items():
        print(f"\n{fmt}: {reason}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
