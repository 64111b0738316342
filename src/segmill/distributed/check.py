"""``segmill check --workers N``: per-image rules on the workers, dataset-level rules on the driver.

The rules are split as :mod:`segmill.check.streamed` splits them: each
worker checks its shard with the per-image rules and sends back the shard's
skeleton; the driver runs the dataset-level rules over the skeletons.
"""

from __future__ import annotations

from pathlib import Path

from .._entries import spill_limit
from ..budget import scaled
from ..check.config import Config
from ..check.result import CheckResult
from ..errors import InputError
from ..check.streamed import (
    PER_IMAGE_RULES,
    SKELETON_RULES,
    as_paths,
    assemble,
    checked_skeletons,
    collect,
    split_rules,
)
from ..formats import detect, get_format
from ..model import Dataset
from ..spilled import SpilledItems
from ..transforms.streamed import BATCH
from .shards import (
    Shard,
    count_annotations,
    light,
    merged_meta,
    open_shard,
    pack_meta,
    plan,
    results_in_order,
    run,
    with_offsets,
)

__all__ = ["PER_IMAGE_RULES", "SKELETON_RULES", "check_shard", "check_sharded"]


def check_shard(shard: Shard, cfg: Config | None, full_skeleton: bool) -> tuple[Dataset, list, dict, bytes]:
    """On a worker: ``(header, skeleton items, {code: findings in order}, meta)`` of one shard.

    A format's own part (a tar, a group of files, a run of a COCO file's
    images) streams: the per-image rules run on a batch of images at a time,
    as in :func:`segmill.check.streamed.check_streamed`, so that the worker
    holds a batch and the skeletons, not the part (a real SA-1B tar is
    11,000 images, about 9 GB as items). A position range has the whole
    read in memory anyway and is checked in one batch. (A format's own part
    sends a meta that refers to no item: COCO's parts carry their file
    order as arrays, :class:`~segmill.formats._coco_stream.FileOrder`.)
    """
    header, items, everything = open_shard(shard, whole=True)
    found: dict = {}

    def add(findings):
        for f in findings:
            found.setdefault(f.code, []).append(f)

    size = max(1, len(everything)) if everything is not None else scaled(BATCH, 16)
    skeleton = list(checked_skeletons(header, items, cfg, full_skeleton, shard.path, size, add))
    return light(header), skeleton, found, pack_meta(header.meta, everything)


def _shards_of(client, path, format, options, workers, strict: bool) -> list[Shard]:
    """The shards a check reads: with ``strict``, the format's own parts of a strict read where it has them,
    else those of the lenient read (``errors="keep"``: an unreadable record is a finding, S014)."""
    fmt = get_format(format or detect(Path(path))[0].name).name
    shards = plan(path, fmt, {**options, "errors": "raise"}, workers) if strict else None
    if shards is None or shards[0].by_position:
        shards = plan(path, fmt, {**options, "errors": "keep"}, workers)
    if any(isinstance(s.selection, dict) and s.selection.get("first_annotation_id", 0) is None for s in shards):
        # Annotation ids are numbered across the whole path: count each part first so that every
        # finding names the id the whole read gives.
        shards = with_offsets(shards, run(client, count_annotations, shards, desc="count"))
    return shards


def check_sharded(client, workers: int, paths, *, format: str | None = None, config: Config | None = None,
                  **read_options) -> CheckResult:
    """:func:`segmill.check.check_path` run shard by shard on the cluster (same result).

    A format that cuts itself (:attr:`~segmill.formats.FormatSpec.shards`)
    is read strictly, each part streamed by a worker; a record the strict
    reader refuses makes the path checked again from a lenient read (its
    own parts where it cuts itself leniently, else ranges of positions),
    which reports that record as a finding, as
    :func:`segmill.check.streamed.check_streamed` falls back to the whole
    check. The driver takes the shards' results in order, one at a time. For a
    format's own parts it spills the skeletons as they come, as the
    single-process streamed check does (:class:`~segmill.spilled.SpilledItems`:
    8 bytes an image in memory), and keeps the budget's share of the
    findings (the rest in temporary files). Position ranges (a dataset
    every worker reads whole) keep their skeletons in memory.

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
    paths = as_paths(paths)
    rules, codes, driver, full, worker_cfg = split_rules(cfg)
    limit = spill_limit(len(worker_cfg.select) if worker_cfg is not None else 1)
    parts, skeletons = [], []
    for p in paths:
        try:
            shards = _shards_of(client, p, format, read_options, workers, strict=True)
            skel, found = _checked_path(client, shards, worker_cfg, full, limit)
        except InputError:  # a record only the lenient read keeps: checked again from the lenient read
            shards = _shards_of(client, p, format, read_options, workers, strict=False)
            skel, found = _checked_path(client, shards, worker_cfg, full, limit)
        skeletons.append((skel, str(p)))
        parts.append([found])
    return assemble(cfg, rules, codes, driver, parts, skeletons, paths)


def _checked_path(client, shards: list[Shard], worker_cfg, full: bool, limit: int) -> tuple[Dataset, dict]:
    """``(skeleton dataset, {code: findings})`` of one path's shards checked on the cluster."""
    results = results_in_order(client, check_shard, shards, worker_cfg, full, desc="check")
    heads, blobs, found = [], [], {}

    def skeleton_items():
        for head, items, part_found, blob in results:
            heads.append(head)
            blobs.append(blob)
            for findings in part_found.values():
                collect(found, findings, limit)
            yield from items

    by_position = shards[0].by_position
    items = list(skeleton_items()) if by_position else SpilledItems(skeleton_items(), skeletons=False)
    head = heads[0]
    skel = Dataset(head.categories, items, head.info, head.licenses, head.extra)
    # a format's own part refers to no item in its meta (see check_shard): nothing to resolve in the spill
    skel.meta = merged_meta(shards, blobs, items if by_position else None)
    return skel, found
