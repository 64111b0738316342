"""Sharded runs on dask: images/s of ``info``, ``check`` and ``convert --to coco`` on SA-1B-like tar shards.

For each command: the single-process run, then the sharded run on a
LocalCluster of 1 and of 2 worker processes (one thread each). Cluster
start-up is timed apart (it is paid once per command); each sharded figure
is the best of ``--repeat`` runs on a started cluster, after one warm-up run
(numba kernels loaded in the workers). The sharded results are checked
against the single-process ones before any time is printed. Per-shard cost
is the 1-worker time divided by the number of tar shards; the projection to
the full SA-1B (about 1,000 tars, 11M images) assumes the 2-worker
efficiency holds at 64 workers and that reading is not I/O bound. The CPU
seconds of the driver and of the workers per run are printed too: on a
shared machine they move less than wall times, and they show what the
driver (and the scheduler in its process) takes from the workers' cores.

Usage::

    python benchmarks/bench_shards.py [--data DIR] [--shards 8] [--images 96] [--masks 100] [--repeat 2]
                                      [--commands "info,check,convert --to coco"]
    python benchmarks/bench_shards.py --data DIR --format labelme     # any format that cuts itself
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import segmill
from segmill import io
from segmill._info import summarize_stream
from segmill.check import check_path, render
from segmill.distributed import (
    check_sharded,
    connect,
    convert_sharded,
    summarize_sharded,
)
from segmill.distributed.shards import plan

HERE = Path(__file__).resolve().parent
SA1B_IMAGES, SA1B_TARS = 11_000_000, 1000
COMMANDS = ("info", "check", "convert --to coco")


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _usage() -> tuple[float, int]:
    """CPU seconds (user + system) and peak resident bytes of this process (run on each worker)."""
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime, use.ru_maxrss * 1024


def _workers_cpu(client) -> float:
    return sum(cpu for cpu, _ in client.run(_usage).values())


def _best_sharded(client, fn, repeat: int) -> tuple[float, tuple[float, float]]:
    """:func:`_best` of ``fn`` and, over the same runs, the CPU seconds a run cost: the driver's, all workers'.

    The driver's includes the scheduler, which runs in its process.
    """
    driver, workers = time.process_time(), _workers_cpu(client)
    best = _best(fn, repeat)
    return best, ((time.process_time() - driver) / repeat, (_workers_cpu(client) - workers) / repeat)


def _jobs(data: Path, out: Path, fmt: str):
    """``{command: (single-process fn, sharded fn(client, n))}``; each returns what the equality check compares.

    A conversion returns its output's path (rewritten by every run, as a user
    re-running it would): reading the bytes back is not part of the time.
    """

    def conv_single():
        dst = out / "one.json"
        io.convert(data, dst, fmt, "coco", force=True)
        return dst

    def conv_sharded(client, n):
        dst = out / "sharded.json"
        convert_sharded(client, n, data, dst, fmt, "coco", force=True)
        return dst

    return {
        "info": (lambda: summarize_stream(segmill.stream(data, fmt)),
                 lambda c, n: summarize_sharded(c, data, fmt, {}, n)[0]),
        "check": (lambda: render(check_path(data, format=fmt), "json"),
                  lambda c, n: render(check_sharded(c, n, data, format=fmt), "json")),
        "convert --to coco": (conv_single, conv_sharded),
    }


def _result(got):
    return got.read_bytes() if isinstance(got, Path) else got


def run(data: Path, repeat: int, commands: list[str], fmt: str = "sa1b") -> dict:
    images = segmill.stream(data, fmt)
    n_images = sum(1 for _ in images)
    # SA-1B: its tar shards; another format: the parts a 2-worker run plans
    tars = len(list(data.glob("*.tar"))) if fmt == "sa1b" else len(plan(data, fmt, {}, 2))
    figures: dict = {"images": n_images, "tars": tars, "load": os.getloadavg()[0], "commands": commands,
                     "format": fmt}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {name: job for name, job in _jobs(data, Path(tmp), fmt).items() if name in commands}
        single = {}
        for name, (fn, _) in jobs.items():
            expected = _result(fn())  # warm-up (numba cache, file cache) and the reference result
            single[name] = (expected, _best(fn, repeat))
        for n in (1, 2):
            t = time.perf_counter()
            with connect(n) as client:
                figures[f"startup_{n}"] = time.perf_counter() - t
                for name, (_, sharded) in jobs.items():
                    if _result(sharded(client, n)) != single[name][0]:
                        raise SystemExit(f"{name}: the sharded result differs from the single-process one")
                    figures[(name, n)], figures[("cpu", name, n)] = _best_sharded(
                        client, lambda fn=sharded, c=client, k=n: fn(c, k), repeat)
                figures[f"worker_rss_{n}"] = max(peak for _, peak in client.run(_usage).values())
        for name in jobs:
            figures[(name, 0)] = single[name][1]
    return figures


def report(f: dict) -> str:
    n, tars = f["images"], f["tars"]
    unit = "tar shards" if f["format"] == "sa1b" else f"{f['format']} parts (a 2-worker plan)"
    lines = [(f"{n} images in {tars} {unit}; load average at start {f['load']:.2f}; cluster start-up "
              f"{f['startup_1']:.1f} s (1 worker), {f['startup_2']:.1f} s (2 workers), not included"),
             "", "| command | single process | 1 worker | 2 workers | scaling 2 vs 1 | per-shard cost (1 worker) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in f["commands"]:
        s, w1, w2 = f[(name, 0)], f[(name, 1)], f[(name, 2)]
        lines.append(f"| {name} | {n / s:.1f} img/s | {n / w1:.1f} img/s | {n / w2:.1f} img/s | "
                     f"**{w1 / w2:.2f}x** | {w1 / tars:.2f} s per {n // tars}-image shard |")
    lines += ["", "CPU seconds per run (machine load does not inflate these as it does wall times):", "",
              "| command | 1 worker: driver, workers | 2 workers: driver, workers | worker CPU 2 vs 1 |",
              "| --- | --- | --- | --- |"]
    for name in f["commands"]:
        (d1, w1), (d2, w2) = f[("cpu", name, 1)], f[("cpu", name, 2)]
        lines.append(f"| {name} | {d1:.2f} s, {w1:.2f} s | {d2:.2f} s, {w2:.2f} s | {w2 / w1:.2f} |")
    lines.append("")
    lines.append(f"peak RSS of a worker over the commands: {f['worker_rss_1'] / 2**20:.0f} MiB (1 worker), "
                 f"{f['worker_rss_2'] / 2**20:.0f} MiB (2 workers)")
    for name in f["commands"] if f["format"] == "sa1b" else ():
        per_image = f[(name, 1)] / n
        eff = f[(name, 1)] / f[(name, 2)] / 2
        hours = SA1B_IMAGES * per_image / (64 * eff) / 3600
        lines.append(f"projection, {name}: {per_image * 1000:.1f} ms per image per worker -> full SA-1B "
                     f"({SA1B_IMAGES:,} images, {SA1B_TARS} tars) on 64 workers at {eff:.0%} efficiency: "
                     f"{hours:.1f} h")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="existing SA-1B-like folder (default: generated in a temp dir)")
    ap.add_argument("--format", default="sa1b", help="the format of --data (default sa1b); any format that reads")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--images", type=int, default=96,
                    help="images per tar shard (a real SA-1B tar holds about 11,000; runs of a few tenths of a "
                         "second measure the cluster's fixed costs, not its scaling)")
    ap.add_argument("--masks", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--commands", default=",".join(COMMANDS),
                    help=f"comma-separated, of {', '.join(COMMANDS)} (default: all)")
    args = ap.parse_args()
    commands = [c.strip() for c in args.commands.split(",")]
    if not commands or set(commands) - set(COMMANDS):
        ap.error(f"--commands takes some of {', '.join(COMMANDS)}")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "sa1b"
            subprocess.run([sys.executable, str(HERE / "gen_sa1b.py"), str(data), "--shards", str(args.shards),
                            "--images", str(args.images), "--masks", str(args.masks)], check=True)
        figures = run(data, args.repeat, commands, args.format)
    print(report(figures))
    print(json.dumps({"/".join(map(str, k)) if isinstance(k, tuple) else k: v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
