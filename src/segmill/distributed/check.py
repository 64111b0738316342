"""``segmill check --workers N``: per-image rules on the workers, dataset-level rules on the driver.

A rule is *per-image* when its findings for an image depend on that image
(and the categories) alone: run on a shard, it finds what it finds for those
images in the whole dataset, so the shards' findings, put in shard order,
are the single-process findings. The others compare images (repeated ids
or file names, unused categories, whether any image file exists, classes
that have instances anywhere): they run on the driver over a *skeleton* of
the dataset each worker sends back, every item and annotation without its
geometry (ids, file names, sizes, categories, attributes). C007 also needs
the pixels of the images that have VOC instances: those items keep their
geometry. A rule this module does not know (C008 size-outlier, off by
default, and any rule added later) runs on the driver over skeletons that
keep every geometry: correct, but the dataset then travels to the driver.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from ..check import check_datasets
from ..check.config import Config
from ..check.registry import select_rules
from ..check.result import CheckResult
from ..formats import detect, get_format
from ..model import Dataset
from .shards import (
    Shard,
    count_annotations,
    light,
    merged_meta,
    open_shard,
    pack_meta,
    plan,
    run,
    with_offsets,
)

__all__ = ["PER_IMAGE_RULES", "SKELETON_RULES", "check_shard", "check_sharded"]

#: Rules whose findings for an image depend on that image alone (run on the workers).
PER_IMAGE_RULES = frozenset({f"G{n:03d}" for n in range(1, 17)} | {"C001", "C002", "C003", "C009", "S004", "S008",
                                                                   "S011", "S012"})
#: Dataset-level rules that need no geometry (C007: only that of items with VOC instances).
SKELETON_RULES = frozenset({"S001", "S002", "S003", "S005", "S006", "S007", "S009", "S010", "S013", "S014",
                            "C004", "C005", "C006", "C007"})


def _only(cfg: Config, codes) -> Config:
    """``cfg`` running exactly ``codes`` (severities, options and image root kept)."""
    return replace(cfg, select=sorted(codes), extend_select=[], ignore=[])


def _skeleton_item(item, keep_geometry: bool):
    """A copy of ``item`` whose annotations have no geometry (unless kept)."""
    out = copy.copy(item)
    anns = []
    for a in item.annotations:
        b = copy.copy(a)
        if not keep_geometry:
            b.geometry = None
        anns.append(b)
    out.annotations = anns
    return out


def _keeps(item, full: bool) -> bool:
    return full or any(a.extra.get("voc_instance") is not None for a in item.annotations if a.extra)


def check_shard(shard: Shard, cfg: Config | None, full_skeleton: bool) -> tuple[Dataset, list, dict, bytes]:
    """On a worker: ``(header, skeleton items, {code: findings in order}, meta)`` of one shard."""
    header, items, everything = open_shard(shard, whole=True)
    ds = Dataset(header.categories, list(items), header.info, header.licenses, header.extra, dict(header.meta))
    found: dict = {}
    if cfg is not None:
        for f in check_datasets([(ds, shard.path)], config=cfg).findings:
            found.setdefault(f.code, []).append(f)
    skeleton = [_skeleton_item(it, _keeps(it, full_skeleton)) for it in ds.items]
    return light(header), skeleton, found, pack_meta(header.meta, ds.items if everything is None else everything)


def _shards_of(client, path, format, options, workers) -> list[Shard]:
    fmt = format or detect(Path(path))[0].name
    shards = plan(path, get_format(fmt).name, {**options, "errors": "keep"}, workers)
    if any(isinstance(s.selection, dict) and s.selection.get("first_annotation_id", 0) is None for s in shards):
        # Annotation ids are numbered across the whole path: count each part first so that every
        # finding names the id the whole read gives.
        shards = with_offsets(shards, run(client, count_annotations, shards, desc="count"))
    return shards


def check_sharded(client, workers: int, paths, *, format: str | None = None, config: Config | None = None,
                  **read_options) -> CheckResult:
    """:func:`segmill.check.check_path` run shard by shard on the cluster (same result).

    Parameters
    ----------
    client : distributed.Client
    workers : int
        Workers of the cluster (sets the number of shards).
    paths : path or sequence of paths
    format, config, **read_options :
        As :func:`~segmill.check.check_path`.
    """
    cfg = config or Config()
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    rules = select_rules(cfg.select, cfg.ignore, cfg.extend_select)
    codes = [r.code for r in rules]
    per_image = [c for c in codes if c in PER_IMAGE_RULES]
    driver = [c for c in codes if c not in PER_IMAGE_RULES]
    full = any(c not in SKELETON_RULES for c in driver)
    worker_cfg = _only(cfg, per_image) if per_image else None
    shard_findings, skeletons = [], []
    for p in paths:
        shards = _shards_of(client, p, format, read_options, workers)
        results = run(client, check_shard, shards, worker_cfg, full, desc="check")
        head = results[0][0]
        skel = Dataset(head.categories, [it for _, items, _, _ in results for it in items], head.info,
                       head.licenses, head.extra)
        skel.meta = merged_meta(shards, [m for _, _, _, m in results], skel.items)
        skeletons.append((skel, str(p)))
        shard_findings.append([found for _, _, found, _ in results])
    by_code: dict = {}
    if driver:
        for f in check_datasets(skeletons, config=_only(cfg, driver)).findings:
            by_code.setdefault(f.code, []).append(f)
    findings = []
    for code in codes:
        if code in PER_IMAGE_RULES:
            for per_path in shard_findings:
                for found in per_path:
                    findings += found.get(code, [])
        else:
            findings += by_code.get(code, [])
    return CheckResult(findings=findings, rules=rules,
                       severities={r.code: cfg.severity.get(r.code, r.severity) for r in rules},
                       fail_on=cfg.fail_on, paths=[str(p) for p in paths],
                       images=sum(len(ds.items) for ds, _ in skeletons),
                       annotations=sum(ds.num_annotations for ds, _ in skeletons))
