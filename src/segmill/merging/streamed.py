"""COCO files merged as streams: the bytes of :func:`segmill.merging.merge` then a COCO write, in bounded memory.

The merged dataset is never built. Each source is a COCO file streamed
through its index (:mod:`segmill.formats._coco_stream`; a file under the
streaming threshold, or one the index cannot vouch for, is read whole), and
the merge runs in two passes over the sources:

1. the plan: every image record (without annotations) gives the image's
   key (its file name, see :func:`~segmill.merging.items.image_key`), kept
   in a dict ``key -> position`` per source; the image and annotation ids
   are claimed source by source exactly as :class:`~segmill.merging.ids.IdPool`
   claims them, on integer arrays (:class:`IntPool`);
2. the items, in the merged order (each source's images not met in an
   earlier source, in file order): each image with its annotations, then the
   images of later sources with the same key, read by position through the
   index (``CocoItems.items_at``), merged by the in-memory merge's own code
   (:meth:`~segmill.merging.items.ItemTable.add_item`) and handed to the COCO
   stream writer (``FormatSpec.write_stream``), which writes them in item
   order as the whole write writes a merged dataset.

Memory holds the indexes, the key dicts, a few integers per annotation (its
id and merged id) and one batch of images at a time; the report's notes are
the in-memory merge's (one per remap, duplicate or conflict). They are
recorded as the images are merged and put back in the order the in-memory
merge meets them (source by source) at the end.

Only integer image and annotation ids are streamed (COCO's own; the index
requires them): :func:`merge_files` returns ``None`` for anything else, and
the caller merges in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..budget import scaled
from ..errors import UsageError
from ..model import Dataset
from . import _dataset_fields, _meta
from .categories import CategoryTable
from .items import ItemTable
from .report import MergeReport
from .settings import DEFAULT_DEDUPE_IOU, MergeSettings

__all__ = ["merge_files", "streams", "IntPool", "IdMap"]

#: Images of a source merged per batch (their partners in later sources are read together).
BATCH = 512
_INT64 = (-(1 << 63), (1 << 63) - 1)


class IntPool:
    """:class:`~segmill.merging.ids.IdPool` for integer ids, as a sorted array: the same claims.

    >>> pool = IntPool()
    >>> pool.claim_all(np.array([1, 2])).tolist(), pool.claim_all(np.array([2, 3])).tolist()
    ([1, 2], [4, 3])
    """

    def __init__(self):
        self.taken = np.empty(0, np.int64)
        self.next = 0

    def claim_all(self, wanted: np.ndarray) -> np.ndarray:
        """The merged ids of one source's ids (unique, in order): free ones kept, the others numbered after
        the largest id taken, in order (what ``IdPool.claim_all`` gives)."""
        wanted = np.asarray(wanted, np.int64)
        busy = np.isin(wanted, self.taken)
        free = wanted[~busy]
        if len(free):
            self.next = max(self.next, int(free.max()) + 1)
        out = wanted.copy()
        fresh = np.arange(self.next, self.next + int(busy.sum()), dtype=np.int64)
        out[busy] = fresh
        self.next += len(fresh)
        self.taken = np.union1d(self.taken, np.concatenate([free, fresh]))
        return out


class IdMap(Mapping):
    """``{source id: merged id}`` of one source's images, held as two arrays (a report's ``image_maps``)."""

    def __init__(self, ids: np.ndarray, merged: np.ndarray):
        self.ids, self.merged = ids, merged
        self._order = np.argsort(ids, kind="stable")

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and _INT64[0] <= key <= _INT64[1]:
            k = int(np.searchsorted(self.ids, key, sorter=self._order))
            if k < len(self.ids) and self.ids[self._order[k]] == key:
                return int(self.merged[self._order[k]])
        raise KeyError(key)

    def __iter__(self):
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def items(self):
        return zip(self.ids.tolist(), self.merged.tolist())


class _Report(MergeReport):
    """A :class:`MergeReport` whose notes and duplicates are put in the in-memory merge's order at the end.

    Each note is recorded with the place the in-memory merge would meet it
    (:attr:`at`: ``(source, 0, 0)`` for its categories, ``(source, 1,
    position)`` for one of its images, after every source for the dataset's
    fields); :meth:`finish` sorts them, stably, by it.
    """

    def __init__(self, **fields):
        super().__init__(**fields)
        self.at = (0, 0, 0)
        self._keyed: list = []
        self._dups: list = []

    def note(self, code: str, message: str, source: int | None = None) -> None:
        super().note(code, message, source)
        self._keyed.append((self.at, self.notes.pop()))

    def tag_duplicates(self, since: int) -> None:
        """Key the duplicates appended since ``since`` with :attr:`at`."""
        self._dups.extend((self.at, d) for d in self.duplicates[since:])
        del self.duplicates[since:]

    def finish(self) -> None:
        self.notes = [n for _, n in sorted(self._keyed, key=lambda kn: kn[0])]
        self.duplicates = [d for _, d in sorted(self._dups, key=lambda kd: kd[0])]
        self._keyed, self._dups = [], []


class _Source:
    """One source: its header, image ids, annotation ids in item order and ``bounds`` (each image's slice)."""

    def __init__(self, header: Dataset, items, whole: Dataset | None = None):
        self.header, self._items, self._whole = header, items, whole
        if whole is None:
            ix = items.index
            self.image_ids, self.bounds, self.ann_ids = ix.image_ids, ix.bounds, items.annotation_ids()
        else:
            self.image_ids = _int_array([it.id for it in whole.items])
            counts = [len(it.annotations) for it in whole.items]
            self.bounds = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
            self.ann_ids = _int_array([a.id for _, a in whole.annotations()])
        self.rule = header.meta.get("raster_rule") or "coco"

    def image_batches(self):
        """The images (their annotations not needed), a list at a time, in file order."""
        if self._whole is not None:
            yield self._whole.items
        else:
            yield from self._items.image_batches()

    def items_at(self, ks: np.ndarray) -> list:
        """The items at positions ``ks`` (ascending), with their annotations."""
        if self._whole is not None:
            return [self._whole.items[k] for k in ks.tolist()]
        return self._items.items_at(ks)


class _NotStreamable(Exception):
    """An id that is not a 64-bit integer: the merge runs in memory instead."""


def _int_array(values: list) -> np.ndarray:
    if not all(type(v) is int and _INT64[0] <= v <= _INT64[1] for v in values):
        raise _NotStreamable
    return np.array(values, np.int64)


def _open(path, label: str) -> _Source:
    # lazy: the COCO reader loads numba kernels
    from .. import io
    from ..formats import coco

    parts = coco.stream(path)
    if parts is None:
        ds = io.read(path, "coco")
        ds.validate(label)
        return _Source(ds, None, ds)
    header, items = parts
    header.meta.setdefault("source_format", "coco")
    header.meta.setdefault("source_path", str(Path(path)))
    return _Source(header, items)


class _Merged:
    """The merged dataset as a stream for the COCO stream writer: ``header``, then the items in item order."""

    annotation_positions = None
    item_order = True  # no source file holds this order: write the annotations as they come

    def __init__(self, sources: list[_Source], settings: MergeSettings, labels: list[str],
                 done: Callable[[MergeReport], None] | None):
        self.sources, self.settings, self.done = sources, settings, done
        self.report = _Report(sources=labels)
        self.cats = CategoryTable(settings.on_conflict, self.report, labels)
        self.table = ItemTable(settings, self.report, labels)
        self.cmaps = []
        for s, src in enumerate(sources, 1):
            self.report.at = (s, 0, 0)
            cmap = self.cats.add_source(s, src.header)
            self.cmaps.append(cmap)
            self.report.category_maps.append(cmap)
        self.table.category_names = {m.id: name for name, m in self.cats.by_name.items()}
        self._plan()
        headers = [src.header for src in sources]
        self.header = Dataset(categories=self.cats.categories(), items=[])
        self.report.at = (len(sources) + 1, 0, 0)
        _dataset_fields(self.header, headers, settings.on_conflict, self.report)
        self.header.meta = _meta(headers, self.report)
        self.report.categories = len(self.header.categories)

    def _plan(self) -> None:
        """Each source's keys, which of its images an earlier source has, and the merged image and annotation ids."""
        images, anns = IntPool(), IntPool()
        self.keys: list[dict] = []
        self.met: list[np.ndarray] = []  # per source: whether an earlier source has the image
        self.image_ids: list[np.ndarray] = []  # per source: the merged image id of each image
        self.ann_plan: list[np.ndarray] = []  # per source: the merged id of each annotation (item order)
        for s, src in enumerate(self.sources, 1):
            keys: dict = {}
            for batch in src.image_batches():
                for item in batch:
                    key = self.table.key_of(s, item)
                    if key in keys:
                        self.table.repeated(s, key, int(src.image_ids[keys[key]]), item)
                    keys[key] = len(keys)
            met = np.zeros(len(keys), bool)
            merged = np.empty(len(keys), np.int64)
            for key, k in keys.items():
                for t in range(s - 1):
                    j = self.keys[t].get(key)
                    if j is not None:
                        met[k], merged[k] = True, self.image_ids[t][j]
                        break
            merged[~met] = images.claim_all(src.image_ids[~met])
            self.keys.append(keys)
            self.met.append(met)
            self.image_ids.append(merged)
            self.report.image_maps.append(IdMap(src.image_ids, merged))
            self.ann_plan.append(anns.claim_all(src.ann_ids))

    def __iter__(self):
        report = self.report
        n_items = n_anns = 0
        for s, src in enumerate(self.sources, 1):
            todo = np.flatnonzero(~self.met[s - 1])
            for a in range(0, len(todo), BATCH):
                ks = todo[a:a + BATCH]
                items = src.items_at(ks)
                partners = self._partners(s, items)
                for k, item, theirs in zip(ks.tolist(), items, partners):
                    g = self._add(s, k, item, None)
                    for t, j, other in theirs:
                        self._add(t, j, other, g)
                    out = g.build()
                    n_items += 1
                    n_anns += len(out.annotations)
                    yield out
        report.items, report.annotations = n_items, n_anns
        report.finish()
        if self.done is not None:
            self.done(report)

    def _partners(self, s: int, items: list) -> list[list]:
        """Per item of source ``s``: ``(source, position, item)`` of the images of later sources with its key."""
        out: list[list] = [[] for _ in items]
        keys = [self.table.key_of(s, it) for it in items]
        for t in range(s + 1, len(self.sources) + 1):
            found = [(i, j) for i, key in enumerate(keys) if (j := self.keys[t - 1].get(key)) is not None]
            if not found:
                continue
            found.sort(key=lambda ij: ij[1])
            got = self.sources[t - 1].items_at(np.array([j for _, j in found], np.int64))
            for (i, j), other in zip(found, got):
                out[i].append((t, j, other))
        return out

    def _add(self, s: int, k: int, item, group):
        """Merge image ``k`` of source ``s`` (``item``) into ``group`` (None: a new merged image)."""
        src, report = self.sources[s - 1], self.report
        lo, hi = int(src.bounds[k]), int(src.bounds[k + 1])
        plan = dict(zip(src.ann_ids[lo:hi].tolist(), self.ann_plan[s - 1][lo:hi].tolist()))
        report.at = (s, 1, k)
        since = len(report.duplicates)
        group = self.table.add_item(s, item, group, int(self.image_ids[s - 1][k]), self.cmaps[s - 1], src.rule,
                                    plan)
        report.tag_duplicates(since)
        return group


def merge_files(paths: Sequence, dst, *, on_conflict: str = "error",
                dedupe_iou: float | None = DEFAULT_DEDUPE_IOU, drop_duplicates: bool = False,
                match_by: str = "file_name", names: Sequence[str] | None = None, force: bool = False,
                strict: bool = False, done: Callable[[MergeReport], None] | None = None,
                **write_options) -> tuple[MergeReport, object] | None:
    """Merge the COCO files ``paths`` into the COCO file ``dst`` as streams (see the module docs).

    The merge's parameters are :func:`segmill.merging.merge`'s, the write's
    :func:`segmill.io.write`'s; the output is byte for byte what
    ``write(merge([read(p) for p in paths])[0], dst, "coco")`` writes.

    Parameters
    ----------
    done : callable, optional
        Called with the complete merge report once every item is merged,
        before the output is moved into place: raising there (``--strict``
        refusing a merge loss) leaves nothing written.

    Returns
    -------
    (MergeReport, WriteReport) or None
        ``None`` when the sources cannot be streamed (an image or annotation
        id that is not an integer): nothing was written, merge in memory.

    Raises
    ------
    segmill.errors.InputError
        As :func:`segmill.merging.merge` (a conflict under
        ``on_conflict="error"``, two sizes of one image...); which of several
        conflicts is named first may differ, as the images are met in
        another order.
    """
    from .. import io  # lazy: io loads the format registry

    settings = MergeSettings(on_conflict, dedupe_iou, drop_duplicates, match_by)
    paths = [Path(p) for p in paths]
    labels = [str(n) for n in names] if names is not None else [str(p) for p in paths]
    if len(labels) != len(paths):
        raise UsageError(f"{len(labels)} names for {len(paths)} sources")
    try:
        sources = [_open(p, label) for p, label in zip(paths, labels)]
    except _NotStreamable:
        return None
    merged = _Merged(sources, settings, labels, done)
    wreport = io.write_stream(merged, dst, "coco", strict=strict, force=force, sources=paths, **write_options)
    return merged.report, wreport


def streams(paths: Sequence, formats: Sequence, dst=None) -> bool:
    """Whether ``segmill merge`` of ``paths`` (read as ``formats``; ``None``: detected) to the COCO file ``dst``
    streams: every source is a local COCO file, one of them is at least COCO's streaming threshold
    (``segmill.formats.coco.STREAM_BYTES``), and ``dst`` is one local file."""
    # lazy: io loads the format registry
    from .. import io, remote
    from ..formats import coco

    if dst is not None and (remote.is_remote(dst) or io.SPLIT_FIELD in str(dst)):
        return False
    big = False
    for p, fmt in zip(paths, formats):
        if remote.is_remote(p) or not Path(p).is_file():
            return False  # the in-memory merge reads (and words the errors of) anything else
        if (fmt or io.detect_format(p)[0]) != "coco":
            return False
        big = big or Path(p).stat().st_size >= scaled(coco.STREAM_BYTES)
    return big
