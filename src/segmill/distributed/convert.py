"""``segmill convert --workers N``: shards read (and, to COCO, rendered) on workers, the output written by the driver.

To one local COCO file without an edit, the costly work stays on the
workers:

1. each worker parses its shard into canonical items and keeps them
   (:func:`parse_shard`); it sends back only what the driver needs to
   decide (:func:`shard_facts`: the annotation count, the image and
   annotation ids, the splits, whether the shard is valid by itself);
2. the driver gives each shard the annotation-id offset of the parts
   before it (the ids the whole read gives, see
   :func:`~.shards.renumber`) and the first COCO id of its image ids that
   are not ints, and checks that no id repeats across shards;
3. each worker renders its records with the COCO writer's own code
   (:func:`segmill.formats.coco.render_part`: the JSON text of its image
   and annotation records, and their losses). When no shard's annotation
   ids depend on the shards before it (they keep the ids read), each shard
   with no image id to number is rendered right after its facts, in the
   same task: no second round for it;
4. the driver writes the header sections and the parts' text in order,
   atomically (:func:`segmill.formats.coco.write_parts`). On a
   LocalCluster the workers put their text in files beside the
   destination and the driver copies it from there (in the kernel); on
   other clusters the text comes to the driver.

Anything that would make a shard's text depend on the others (annotation
ids the writer must give, the annotation order of a COCO source file, an
invalid item, an id repeated across shards, records the first-choice JSON
encoder refuses) falls back to the general path, with the items already
parsed. Memory: each worker holds its shards' items until they are
rendered; the driver holds the output's text only on a cluster that is not
local (the general path holds the whole dataset on the driver).

The general path (any other target, an edit, a ``{split}`` or remote
destination): workers send their items back; the driver puts them in the
order of the whole read, gives annotations the ids the whole read gives,
validates, applies the edit and writes with the one writer.

Either way the output and the loss report are the single-process ones,
byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import io, remote
from .._gc import no_gc
from ..errors import InputError
from ..formats import coco, get_format
from ..losses import WriteReport
from ..model import Dataset
from .shards import (
    Shard,
    gather,
    light,
    merged_meta,
    open_shard,
    own_numbered,
    pack_meta,
    plan,
    renumber,
    run,
    shift_ids,
)

__all__ = ["Parsed", "convert_sharded", "parse_shard", "read_shard", "read_sharded", "shard_facts"]


class Parsed:
    """A shard parsed on a worker and kept there: its header (with its meta), its items, its packed meta.

    dask measures an object it does not know by ``sys.getsizeof``: a few
    bytes for this one, and the scheduler would move it to run a task on an
    idle worker (pickling every item). :attr:`nbytes`, a rough estimate of
    the items' memory, keeps the tasks on it where it is.
    """

    __slots__ = ("header", "items", "blob", "nbytes")

    def __init__(self, header: Dataset, items: list, blob: bytes):
        self.header, self.items, self.blob = header, items, blob
        self.nbytes = len(blob) + 4096 * (len(items) + sum(len(it.annotations) for it in items))

    def __sizeof__(self) -> int:
        return self.nbytes


def parse_shard(shard: Shard) -> Parsed:
    """The header (with its meta), the items and the packed meta of one shard (on a worker).

    The cycle collector is off while the shard is parsed (:func:`segmill._gc.no_gc`:
    the items are acyclic; it took 40 % of an SA-1B shard's parse).
    """
    with no_gc():
        header, items, everything = open_shard(shard, whole=True)
        items = list(items)
    return Parsed(header, items, pack_meta(header.meta, items if everything is None else everything))


def read_shard(shard: Shard) -> tuple[Dataset, list, bytes]:
    """The header, the items and the meta of one shard (on a worker)."""
    return _as_read(parse_shard(shard))


def _as_read(parsed: Parsed) -> tuple[Dataset, list, bytes]:
    return light(parsed.header), parsed.items, parsed.blob


def read_sharded(client, path, format: str, options: dict, workers: int) -> Dataset:
    """The dataset :func:`segmill.read` gives, read shard by shard on the cluster."""
    shards = plan(path, format, options, workers)
    return _assembled(shards, run(client, read_shard, shards, desc="read"), path, format, options)


def _assembled(shards, results, path, format: str, options: dict) -> Dataset:
    """The whole read from each shard's :func:`read_shard`."""
    parts = [items for _, items, _ in results]
    renumber(shards, parts)
    header = results[0][0]
    ds = Dataset(header.categories, [it for part in parts for it in part], header.info, header.licenses,
                 header.extra)
    ds.meta = merged_meta(shards, [m for _, _, m in results], ds.items)
    if not shards[0].by_position and options.get("errors") != "keep":
        ds.validate(path)  # what segmill.read checks of the whole (parts were read apart)
    _stamp(ds, path, format)
    return ds


def _stamp(ds: Dataset, path, format: str) -> None:
    ds.meta.setdefault("source_format", format)
    ds.meta.setdefault("source_path", str(path))


def shard_facts(parsed: Parsed, shard: Shard) -> dict:
    """On a worker: what the driver needs to render a parsed shard apart (small).

    ``images`` are the image ids (an int array when all are ints), ``ids``
    the annotation ids as read, before any offset (an int array, or
    ``(first, count)`` for a run of consecutive ids); ``top`` and
    ``numbered`` the largest int image id and how many image ids are not
    ints (see :func:`segmill.formats.coco.render_part`). ``plain`` is false
    when the shard is not valid by itself or has an annotation id that is
    not an int (the general path then words it or gives the ids).
    """
    header, items, blob = parsed.header, parsed.items, parsed.blob
    images = [it.id for it in items]
    facts = {"header": light(header), "meta": blob, "annotations": sum(len(it.annotations) for it in items),
             "splits": coco.splits_of(items), "top": coco.int_ids_top(images),
             "numbered": sum(type(i) is not int for i in images), "plain": False, "images": None, "ids": None}
    try:
        Dataset(header.categories, items).validate(shard.path)
        anns = [a.id for it in items for a in it.annotations if a.id is not None]
        if all(type(i) is int for i in anns):
            facts["images"] = images if facts["numbered"] else np.array(images, np.int64)
            facts["ids"] = _compact(np.array(anns, np.int64))
            facts["plain"] = True
    except (InputError, OverflowError):
        pass  # the general path raises the single-process error (or holds ids beyond 64 bits)
    return facts


def _compact(ids: np.ndarray):
    """``(first, count)`` when ``ids`` run consecutively (SA-1B's), else ``ids``."""
    if ids.size and int(ids[-1]) - int(ids[0]) == ids.size - 1 and bool(np.all(np.diff(ids) == 1)):
        return int(ids[0]), int(ids.size)
    return ids


def _render(parsed: Parsed, offset: int, image_top: int, options: dict, spill_to: str | None = None):
    """On a worker: the shard's :class:`~segmill.formats.coco.Part`, its annotation ids moved by ``offset``.

    With ``spill_to`` (a new file's path), the part's text is written there
    and the part says where (:meth:`~segmill.formats.coco.Part.spill`).
    """
    header, items = parsed.header, parsed.items
    ds = Dataset(header.categories, items, header.info, header.licenses, header.extra, header.meta)
    shift_ids(items, offset)
    try:
        part = coco.render_part(ds, image_top, **options)
    finally:
        shift_ids(items, -offset)  # the items stay as read, for the general path
    return part.spill(spill_to) if part is not None and spill_to else part


def _facts_rendered(parsed: Parsed, shard: Shard, ahead: bool, options: dict, spill_to: str | None) -> dict:
    """On a worker: :func:`shard_facts`, and with ``ahead`` the shard's Part (``"part"``) when it is valid alone.

    ``"rendered"`` says whether it was rendered: the shard is valid and has
    no image id to number. ``ahead`` is false when the shards' annotation
    ids depend on the shards before them (see :func:`_offsets`).
    """
    facts = shard_facts(parsed, shard)
    facts["rendered"] = ahead and facts["plain"] and not facts["numbered"]
    facts["part"] = _render(parsed, 0, 0, options, spill_to) if facts["rendered"] else None
    return facts


@contextlib.contextmanager
def _spill_folder(client, dst) -> Iterator[str | None]:
    """A new folder beside ``dst`` for the parts' text when the workers share this machine's files, else ``None``.

    The workers of a LocalCluster write their parts there and the driver
    copies them into the output (in the kernel): the text is not sent
    through the cluster, nor held by the driver. The folder goes on exit.
    """
    # lazy: dask is an optional dependency (segmill[dask]); only called once it was found
    from distributed import LocalCluster

    if not isinstance(getattr(client, "cluster", None), LocalCluster):
        yield None
        return
    parent = Path(dst).parent
    folder = tempfile.mkdtemp(prefix=f".{Path(dst).name}.", suffix=".segmill-parts",
                              dir=parent if parent.is_dir() else None)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _offsets(shards, facts) -> list[int]:
    """Each shard's annotation-id offset (what :func:`~.shards.renumber` adds)."""
    out, total = [], 0
    for shard, f in zip(shards, facts):
        out.append(total if own_numbered(shard) else 0)
        total += f["annotations"]
    return out


def _image_tops(facts) -> tuple[list[int], tuple[int, int]]:
    """Each shard's ``image_top`` and ``numbered`` of :func:`segmill.formats.coco.write_parts`."""
    top = max(f["top"] for f in facts)
    out, n = [], 0
    for f in facts:
        out.append(top + n)
        n += f["numbered"]
    return out, ((n, top + 1) if n else (0, 0))


def _unique(facts, offsets) -> bool:
    """Whether no image id and no annotation id repeats across the shards (each shard checked its own)."""
    if all(isinstance(f["images"], np.ndarray) for f in facts):
        images = np.concatenate([f["images"] for f in facts])
        if np.unique(images).size != images.size:
            return False
    else:
        seen: set = set()
        for f in facts:
            ids = f["images"].tolist() if isinstance(f["images"], np.ndarray) else f["images"]
            if not seen.isdisjoint(ids):
                return False
            seen.update(ids)
    return _unique_annotations(facts, offsets)


def _unique_annotations(facts, offsets) -> bool:
    runs = sorted((f["ids"][0] + o, f["ids"][1]) for f, o in zip(facts, offsets) if isinstance(f["ids"], tuple))
    if any(a + n > b for (a, n), (b, _) in zip(runs, runs[1:])):
        return False
    single = [f["ids"] + o for f, o in zip(facts, offsets) if not isinstance(f["ids"], tuple)]
    ids = np.concatenate(single) if single else np.empty(0, np.int64)
    if np.unique(ids).size != ids.size:
        return False
    if runs and ids.size:
        starts = np.array([a for a, _ in runs], np.int64)
        ends = np.array([a + n for a, n in runs], np.int64)
        k = np.searchsorted(starts, ids, side="right") - 1
        if np.any((k >= 0) & (ids < ends[np.maximum(k, 0)])):
            return False
    return True


def _renders(dst, to_format: str, opts: io.ConvertOptions) -> bool:
    """Whether the workers can render the output (see the module docs)."""
    return (get_format(to_format).name == "coco" and opts.edit is None and io.SPLIT_FIELD not in str(dst)
            and not remote.is_remote(dst))


def _convert_rendered(client, shards, src, dst, from_format: str, opts: io.ConvertOptions, strict: bool,
                      force: bool) -> WriteReport:
    """:func:`convert_sharded` to one COCO file, rendered on the workers (the module docs' steps)."""
    with _spill_folder(client, dst) as folder:
        return _convert_rendered_in(folder, client, shards, src, dst, from_format, opts, strict, force)


def _convert_rendered_in(folder, client, shards, src, dst, from_format: str, opts: io.ConvertOptions, strict: bool,
                         force: bool) -> WriteReport:
    parsed = client.map(parse_shard, shards, pure=False)  # the items stay on the workers
    n = len(shards)
    write_opts = [opts.write or {}] * n
    spill = [None if folder is None else os.path.join(folder, f"part-{i}") for i in range(n)]
    # each shard rendered right after its parse when no shard's ids depend on the ones before (all or none:
    # rendering only the first ahead leaves its worker with fewer renders than the others after the barrier)
    ahead = [not any(own_numbered(s) for s in shards[1:])] * n
    facts = gather(client, client.map(_facts_rendered, parsed, shards, ahead, write_opts, spill, pure=False,
                                      priority=1), "read")
    offsets = _offsets(shards, facts)
    tops, numbered = _image_tops(facts)
    parts = None
    if all(f["plain"] for f in facts) and _unique(facts, offsets):
        parts = [f.pop("part") for f in facts]
        todo = [i for i, f in enumerate(facts) if not f["rendered"]]
        if todo:
            again = client.map(_render, *([seq[i] for i in todo] for seq in (parsed, offsets, tops, write_opts, spill)),
                               pure=False)
            for i, part in zip(todo, gather(client, again, "render")):
                parts[i] = part
    if parts is None or any(p is None for p in parts):
        results = gather(client, client.map(_as_read, parsed, pure=False), "read")
        ds = _assembled(shards, results, src, from_format, opts.read or {})
        return io.write(ds, dst, "coco", strict=strict, force=force, sources=[src], **(opts.write or {}))
    header = facts[0]["header"]
    header.meta = merged_meta(shards, [f["meta"] for f in facts])
    _stamp(header, src, from_format)
    splits = [s for f in facts for s in f["splits"]]
    return io.write_staged(lambda tmp: coco.write_parts(header, parts, tmp, splits, numbered, **(opts.write or {})),
                           dst, "coco", header, strict=strict, force=force, sources=[src])


def convert_sharded(client, workers: int, src, dst, from_format: str, to_format: str, *, strict: bool = False,
                    force: bool = False, options: io.ConvertOptions | None = None) -> WriteReport:
    """:func:`segmill.convert` with the reading done shard by shard on the cluster (same arguments).

    To one local COCO file without an edit, the workers also render the
    records; any other conversion writes on the driver (see the module docs).
    """
    opts = options or io.ConvertOptions()
    if io.SPLIT_FIELD not in str(dst):
        io.check_destination(dst, to_format, force=force, sources=[src])
    shards = plan(src, from_format, opts.read or {}, workers)
    if _renders(dst, to_format, opts):
        return _convert_rendered(client, shards, src, dst, from_format, opts, strict, force)
    ds = _assembled(shards, run(client, read_shard, shards, desc="read"), src, from_format, opts.read or {})
    if opts.edit is not None:
        ds = opts.edit(ds)
    return io.write(ds, dst, to_format, strict=strict, force=force, sources=[src], **(opts.write or {}))
