"""``segmill info --workers N``: each shard counted on a worker, the counts merged."""

from __future__ import annotations

from itertools import islice
from typing import Any

from .._info import InfoCounts
from ..model import Dataset
from .shards import Shard, light, merged_meta, open_shard, pack_meta, plan, run

__all__ = ["count_shard", "summarize_sharded"]


def count_shard(shard: Shard, batch: int = 1000) -> tuple[InfoCounts, Dataset, bytes]:
    """The :class:`~segmill._info.InfoCounts` of one shard, its header and meta (on a worker)."""
    header, items, everything = open_shard(shard)
    counts = InfoCounts()
    it = iter(items)
    while chunk := list(islice(it, batch)):
        counts.add(chunk)
    return counts, light(header), pack_meta(header.meta, everything)


def summarize_sharded(client, path, format: str, options: dict, workers: int) -> tuple[dict[str, Any], Dataset]:
    """:func:`segmill._info.summarize_stream`'s dict for the dataset at ``path``, counted shard by shard.

    Returns
    -------
    (dict, Dataset)
        The summary (equal to the single-process one) and the header of the
        whole read (its ``meta`` holds every shard's skipped records).
    """
    shards = plan(path, format, options, workers)
    results = run(client, count_shard, shards, desc="info")
    total = InfoCounts()
    for counts, _, _ in results:
        total.merge(counts)
    header = results[0][1]
    header.meta = merged_meta(shards, [m for _, _, m in results])
    return total.result(header.categories, len(header.meta.get("skipped", []))), header
