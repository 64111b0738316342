"""Shards: the parts of one dataset that workers read apart, and running a task over them.

A :class:`Shard` names the dataset (path, format, reader options) and a
selection of it:

- a format that declares ``FormatSpec.shards`` (SA-1B: runs of tar shards or
  JSON files) cuts itself; ``stream(path, selection=s)`` reads one part, and
  parts read in order give the items of the whole read, in order;
- any other format is cut into :class:`PositionRange` parts: the worker reads
  the whole dataset (as :func:`segmill.read` does) and keeps the items at
  positions ``[N*part//parts, N*(part+1)//parts)``: correct, but every worker
  parses the whole file and holds it in memory.

Selections whose ``first_annotation_id`` is ``None`` number their
annotations from 1 (SA-1B numbers annotations across the whole path); the
driver adds the annotations of the parts before (:func:`renumber`), or asks
for the counts first (:func:`with_offsets`) when the ids must be right on
the worker.
"""

from __future__ import annotations

import io as _io
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import _progress, io
from ..formats import get_format
from ..model import Dataset, Item, carried_meta

__all__ = [
    "SHARDS_PER_WORKER",
    "PositionRange",
    "Shard",
    "gather",
    "light",
    "merged_meta",
    "open_shard",
    "own_numbered",
    "pack_meta",
    "plan",
    "renumber",
    "results_in_order",
    "run",
    "shift_ids",
    "unpack_meta",
    "with_offsets",
]

#: Parts per worker for formats that cut themselves: small parts balance the load, each costs a task.
SHARDS_PER_WORKER = 4


@dataclass(frozen=True)
class PositionRange:
    """Part ``part`` of ``parts`` equal runs of item positions (the generic selection)."""

    part: int
    parts: int

    def bounds(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this part among ``n`` items."""
        return n * self.part // self.parts, n * (self.part + 1) // self.parts


@dataclass(frozen=True)
class Shard:
    """One part of a dataset, everything a worker needs to read it.

    Attributes
    ----------
    path : str
    format : str
        A registered format name (detected once, on the driver).
    options : dict
        The reader's keyword arguments.
    selection : PositionRange or the format's selection
    index, total : int
        Position of this part and number of parts (for messages and merging).
    """

    path: str
    format: str
    options: dict
    selection: Any
    index: int
    total: int

    @property
    def by_position(self) -> bool:
        """Whether the worker reads the whole dataset and keeps a range of positions."""
        return isinstance(self.selection, PositionRange)


def plan(path, format: str, options: dict, workers: int) -> list[Shard]:
    """The shards of the dataset at ``path`` for ``workers`` workers.

    A format with ``FormatSpec.shards`` gives up to ``SHARDS_PER_WORKER``
    parts per worker; any other format, or one whose ``shards`` gives
    ``None`` for this path (COCO read whole: a small file, a lenient
    ``errors``), one :class:`PositionRange` per worker (each part reads the
    whole file, so more parts only cost more).
    """
    spec = get_format(format)
    sels = None
    if spec.shards is not None and spec.stream is not None:
        sels = spec.shards(path, max(1, workers) * SHARDS_PER_WORKER, **options)
    if sels is None:
        sels = [PositionRange(k, max(1, workers)) for k in range(max(1, workers))]
    return [Shard(str(path), spec.name, dict(options), s, i, len(sels)) for i, s in enumerate(sels)]


def open_shard(shard: Shard, whole: bool = False) -> tuple[Dataset, Any, list | None]:
    """``(header, items, everything)`` of one shard, on a worker.

    Parameters
    ----------
    shard : Shard
    whole : bool, default False
        Read as :func:`segmill.read` does (the dataset validated, or kept
        as found under ``errors="keep"``) instead of as :func:`segmill.stream`
        does (unique image ids checked as items come); ``segmill check``
        reads whole.

    Returns
    -------
    (Dataset, iterable of Item, list or None)
        The header (no items), the shard's items in order (an iterator for
        a format's own selections, a list for position ranges), and for a
        position range every item of the whole read (what positions in the
        header's ``meta`` refer to, see :func:`pack_meta`).
    """
    if not shard.by_position:
        if whole:  # as segmill.read: repeated image ids are for the reader's policy (or S001), not the stream
            header, items = get_format(shard.format).stream(Path(shard.path), selection=shard.selection,
                                                            **shard.options)
            header.meta.setdefault("source_format", shard.format)
            header.meta.setdefault("source_path", shard.path)
            return header, items, None
        st = io.stream(shard.path, shard.format, selection=shard.selection, **shard.options)
        return st.header, iter(st), None
    if whole:
        ds = io.read(shard.path, shard.format, **shard.options)
        items = ds.items
    else:
        st = io.stream(shard.path, shard.format, **shard.options)
        items = list(st)
        ds = st.header
    start, stop = shard.selection.bounds(len(items))
    header = Dataset(ds.categories, [], ds.info, ds.licenses, ds.extra, ds.meta)
    return header, items[start:stop], items


class _RefPickler(pickle.Pickler):
    """Pickles items and annotations of a known list as positions (the rest as usual)."""

    def __init__(self, f, refs: dict):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self._refs = refs

    def persistent_id(self, obj):
        return self._refs.get(id(obj))


class _RefUnpickler(pickle.Unpickler):
    """Turns the positions of :class:`_RefPickler` into the driver's items and annotations."""

    def __init__(self, f, items: Sequence[Item] | None, offset: int):
        super().__init__(f)
        self._items, self._offset = items, offset

    def persistent_load(self, pid):
        if self._items is None:
            return None
        item = self._items[self._offset + pid[1]]
        return item if pid[0] == "i" else item.annotations[pid[2]]


def pack_meta(meta: dict, items: Sequence[Item] | None) -> bytes:
    """``meta`` pickled with every reference to ``items`` (or their annotations) as a position.

    A reader may keep objects of the dataset in ``meta`` (COCO: the order
    the annotations were read in); sent as they are, they would carry the
    whole dataset along, and arrive as copies the driver's items are not.
    """
    refs: dict = {}
    for p, it in enumerate(items or ()):
        refs[id(it)] = ("i", p)
        for j, a in enumerate(it.annotations):
            refs[id(a)] = ("a", p, j)
    buf = _io.BytesIO()
    _RefPickler(buf, refs).dump(meta)
    return buf.getvalue()


def unpack_meta(blob: bytes, items: Sequence[Item] | None, offset: int = 0) -> dict:
    """The ``meta`` of :func:`pack_meta`, its positions resolved in ``items`` (``None``: references dropped)."""
    return _RefUnpickler(_io.BytesIO(blob), items, offset).load()


def run(client, func: Callable, shards: Sequence, *args, desc: str = "shards") -> list:
    """``func(shard, *args)`` for every shard on the cluster; the results in shard order.

    Progress (shards done / total) goes to stderr when progress is on. When
    shards fail, the error of the first failing shard (in shard order, so
    the first bad record of the dataset as a single process would meet it)
    is raised once every shard has finished. ``shards`` may be futures
    (``func`` then runs where their results are).
    """
    return gather(client, _map(client, func, shards, args), desc)


def _map(client, func: Callable, shards: Sequence, args: tuple) -> list:
    """``func(shard, *args)`` submitted for every shard: the futures, in shard order."""
    # one message to the scheduler for all the tasks (a submit each costs a round trip)
    return client.map(func, shards, *([a] * len(shards) for a in args), pure=False)


def results_in_order(client, func: Callable, shards: Sequence, *args, desc: str = "shards") -> Iterator:
    """:func:`run`, its results yielded in shard order as they come, each let go once yielded.

    The driver then holds one shard's result at a time (the others wait on
    the workers), not every shard's. The first failing shard in order
    raises when its turn comes (the error :func:`run` raises); the tasks
    not yet consumed are cancelled when the iterator is closed.
    """
    futures = _map(client, func, shards, args)
    try:
        for k in _progress.track(range(len(futures)), desc=desc):
            future, futures[k] = futures[k], None
            yield future.result()  # raises the shard's error
            del future
    finally:
        client.cancel([f for f in futures if f is not None])


def gather(client, futures: Sequence, desc: str = "shards") -> list:
    """The results of ``futures`` in order, once all are done (the first failure raised, see :func:`run`).

    Progress counts the tasks as they end; the results are then fetched
    in one request. (With the results taken straight from the workers,
    see :func:`~.cluster.connect`, a sharded ``convert``'s driver spent a
    quarter less CPU than fetching each result as its task ended.)
    """
    # lazy: dask is an optional dependency (segmill[dask]); only called once it was found
    from distributed import as_completed

    for _ in _progress.track(as_completed(futures), total=len(futures), desc=desc):
        pass
    for f in futures:
        if f.status == "error":
            raise f.exception()
    return client.gather(futures)


def own_numbered(shard: Shard) -> bool:
    """Whether the shard numbers its annotations from 1 (the ids of the whole read come from the parts before)."""
    sel = shard.selection
    return isinstance(sel, dict) and "first_annotation_id" in sel and sel["first_annotation_id"] is None


def shift_ids(items: Sequence[Item], offset: int) -> None:
    """Add ``offset`` to every int annotation id of ``items`` (in place)."""
    if offset:
        for it in items:
            for ann in it.annotations:
                if isinstance(ann.id, int):
                    ann.id += offset


def renumber(shards: Sequence[Shard], items_per_shard: Sequence[Sequence[Item]]) -> None:
    """Give annotations the ids of the whole read, where parts numbered from 1 (in place)."""
    offset = 0
    for shard, items in zip(shards, items_per_shard):
        if own_numbered(shard):
            shift_ids(items, offset)
        offset += sum(len(it.annotations) for it in items)


def with_offsets(shards: Sequence[Shard], counts: Sequence[int]) -> list[Shard]:
    """The shards with ``first_annotation_id`` set from the annotation counts of the parts before."""
    out, first = [], 1
    for shard, n in zip(shards, counts):
        if own_numbered(shard):
            shard = replace(shard, selection={**shard.selection, "first_annotation_id": first})
        out.append(shard)
        first += n
    return out


def count_annotations(shard: Shard) -> int:
    """How many annotations the shard's items hold (on a worker)."""
    _, items, _ = open_shard(shard)
    return sum(len(it.annotations) for it in items)


def merged_meta(shards: Sequence[Shard], blobs: Sequence[bytes], items: Sequence[Item] | None = None) -> dict:
    """The header meta of the whole read, from each shard's :func:`pack_meta`.

    The first part's meta (its references resolved in ``items``, the
    whole read's items, when given), with every part's skipped records in
    order. Parts by position each read the whole dataset: their lists are
    the whole read's already, the first part's is taken. With a format's
    own parts, a value of the first part's meta with a ``restricted(items)``
    method (COCO's file order of the annotations, see
    :func:`segmill.model.carried_meta`) is resolved in ``items``.
    """
    meta = unpack_meta(blobs[0], items) if blobs else {}
    if shards and not shards[0].by_position and items is not None:
        meta = carried_meta(meta, items)
    if shards and not shards[0].by_position:
        rest = [unpack_meta(b, None) for b in blobs[1:]]
        if "skipped" in meta or any("skipped" in m for m in rest):
            meta["skipped"] = [*meta.get("skipped", []), *(r for m in rest for r in m.get("skipped", []))]
    return meta


def light(header: Dataset) -> Dataset:
    """``header`` without its meta (sent apart, see :func:`pack_meta`)."""
    return Dataset(header.categories, [], header.info, header.licenses, header.extra, {})
