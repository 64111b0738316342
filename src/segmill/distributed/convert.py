"""``segmill convert --workers N``: shards read on workers, the dataset assembled and written by the driver.

Workers parse their shard into canonical items (the costly part: JSON,
RLE decoding, validation) and send them back; the driver puts them in the
order of the whole read, gives annotations the ids the whole read gives,
applies the edit and writes with the one writer, so the output and the
loss report are the single-process ones, byte for byte.
"""

from __future__ import annotations

from .. import io
from ..losses import WriteReport
from ..model import Dataset
from .shards import (
    Shard,
    light,
    merged_meta,
    open_shard,
    pack_meta,
    plan,
    renumber,
    run,
)

__all__ = ["convert_sharded", "read_shard", "read_sharded"]


def read_shard(shard: Shard) -> tuple[Dataset, list, bytes]:
    """The header, the items and the meta of one shard (on a worker)."""
    header, items, everything = open_shard(shard, whole=True)
    items = list(items)
    return light(header), items, pack_meta(header.meta, items if everything is None else everything)


def read_sharded(client, path, format: str, options: dict, workers: int) -> Dataset:
    """The dataset :func:`segmill.read` gives, read shard by shard on the cluster."""
    shards = plan(path, format, options, workers)
    results = run(client, read_shard, shards, desc="read")
    parts = [items for _, items, _ in results]
    renumber(shards, parts)
    header = results[0][0]
    ds = Dataset(header.categories, [it for part in parts for it in part], header.info, header.licenses,
                 header.extra)
    ds.meta = merged_meta(shards, [m for _, _, m in results], ds.items)
    if not shards[0].by_position and not _keeping(options):
        ds.validate(path)  # what segmill.read checks of the whole (parts were read apart)
    ds.meta.setdefault("source_format", format)
    ds.meta.setdefault("source_path", str(path))
    return ds


def _keeping(options: dict) -> bool:
    return options.get("errors") == "keep"


def convert_sharded(client, workers: int, src, dst, from_format: str, to_format: str, *, strict: bool = False,
                    force: bool = False, options: io.ConvertOptions | None = None) -> WriteReport:
    """:func:`segmill.convert` with the reading done shard by shard on the cluster (same arguments)."""
    opts = options or io.ConvertOptions()
    if io.SPLIT_FIELD not in str(dst):
        io.check_destination(dst, to_format, force=force, sources=[src])
    ds = read_sharded(client, src, from_format, opts.read or {}, workers)
    if opts.edit is not None:
        ds = opts.edit(ds)
    return io.write(ds, dst, to_format, strict=strict, force=force, sources=[src], **(opts.write or {}))
