"""Datasets whose items wait on disk: read once from a stream, fetched one at a time by position.

``segmill diff``, ``segmill gate`` and ``segmill agree`` line up the images of
two or more datasets by name, then walk the pairs: an image of one dataset
may pair with one anywhere in the other, so a stream read once in order is
not enough. :func:`spill` reads a dataset as a stream and keeps each item
pickled in an unnamed temporary file; in memory stay the offsets (8 bytes an
item) and a *skeleton* of each item (its fields without annotations, for
the keys, sizes and names the line-up uses). :class:`SpilledItems` is a
read-only sequence: ``len``, iteration (a sequential read) and indexing (one
item unpickled) behave as on the list :func:`segmill.read` gives, so code
written for a :class:`~segmill.model.Dataset` runs on a spilled one
unchanged, with one item in memory at a time.

An item fetched twice is two equal objects: code that pairs items must do it
by position (:func:`segmill.agree.align.align` does), not by ``id()``.
"""

from __future__ import annotations

import operator
import os
import pickle
import tempfile
from array import array
from collections.abc import Sequence
from typing import Iterable, Iterator

from . import io
from ._fields import without_init
from .errors import InputError
from .model import Dataset, Item
from .streaming import Stream

__all__ = ["SpilledItems", "as_stream", "spill", "spill_or_read"]

_EMPTY: dict = {}
_READ_AHEAD = 1 << 20  # bytes read at a time by a sequential pass


def _skeleton(item: Item) -> Item:
    """A copy of ``item`` with what images are lined up by (id, file name, size, split), in little memory.

    No annotations, and ``attributes`` and ``extra`` one shared empty dict:
    a COCO image's extra fields (URLs, dates) would cost more than the rest.
    """
    return without_init(Item, **{**item.__dict__, "annotations": [], "attributes": _EMPTY, "extra": _EMPTY,
                                 "origin": None})


class SpilledItems(Sequence):
    """The items of one dataset, pickled in a temporary file (see the module docs).

    Parameters
    ----------
    items : iterable of Item
        Read once, in order.
    skeletons : bool, default True
        Whether to keep :attr:`skeletons` (a pass that needs none keeps
        only the offsets in memory: ``segmill check``).

    Attributes
    ----------
    skeletons : list of Item
        Per item, a copy with ``id``, ``file_name``, size and ``split`` only
        (no annotations, empty ``attributes`` and ``extra``). Absent when
        not kept.
    annotation_count : int
        The items' annotations, counted as they were spilled
        (:attr:`segmill.model.Dataset.num_annotations` reads it: no pass).
    """

    def __init__(self, items: Iterable[Item], *, skeletons: bool = True):
        self._file = tempfile.TemporaryFile()
        self._ends = array("Q")
        kept: list[Item] | None = [] if skeletons else None
        at = n_annotations = 0
        dumps, write = pickle.dumps, self._file.write
        for item in items:
            n_annotations += len(item.annotations)
            data = dumps(item, pickle.HIGHEST_PROTOCOL)
            write(data)
            at += len(data)
            self._ends.append(at)
            if kept is not None:
                kept.append(_skeleton(item))
        self._file.flush()
        self.annotation_count = n_annotations
        if kept is not None:
            self.skeletons = kept

    def __len__(self) -> int:
        return len(self._ends)

    def _span(self, k: int) -> tuple[int, int]:
        return (self._ends[k - 1] if k else 0), self._ends[k]

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self[k] for k in range(*key.indices(len(self)))]
        k = operator.index(key)
        k += len(self) if k < 0 else 0
        if not 0 <= k < len(self):
            raise IndexError("item index out of range")
        start, end = self._span(k)
        return pickle.loads(os.pread(self._file.fileno(), end - start, start))

    def __iter__(self) -> Iterator[Item]:
        fd, at, buf, base = self._file.fileno(), 0, b"", 0
        for end in self._ends:
            if end > base + len(buf):  # read the next stretch (at least the whole next item)
                buf = buf[at - base:] + os.pread(fd, max(_READ_AHEAD, end - at), base + len(buf))
                base = at
            yield pickle.loads(buf[at - base:end - base])
            at = end

    def __reversed__(self) -> Iterator[Item]:
        for k in range(len(self) - 1, -1, -1):
            yield self[k]

    def close(self) -> None:
        """Remove the temporary file (the items can no longer be read)."""
        self._file.close()

    def __reduce__(self):  # a copy sent to another process carries its items
        return (list, (list(self),))


def spill(path, format: str | None = None, **options) -> Dataset:
    """:func:`segmill.read`, with the items in a :class:`SpilledItems` (memory: one item and the skeletons).

    Parameters and errors are those of :func:`segmill.stream`. A format
    that cannot stream this input is read whole (its items a list).
    """
    return _spilled(io.stream(path, format, **options), path)


def _spilled(st, path) -> Dataset:
    if not st.bounded:  # read whole already: nothing to gain
        return st.to_dataset()
    # lazy: the progress bar module is needed only here
    from ._progress import track

    ds = st.header
    ds.items = SpilledItems(track(st, desc=f"read {os.path.basename(str(path))}"))
    return ds


def spill_or_read(path, format: str | None = None, **options) -> Dataset:
    """A dataset read leniently (``errors="keep"``), spilled when its reader streams it.

    A file whose reader yields items as it reads them and that holds no
    record the strict reader refuses is spilled as :func:`spill` does (the
    strict and the lenient read give the same dataset for such a file);
    anything else is read whole by :func:`segmill.read` with ``errors="keep"``.
    ``options`` go to both readers.
    """
    st = io.stream_bounded(path, format, **options)
    if st is not None:
        try:
            return _spilled(st, path)
        except InputError:
            pass  # a record only the lenient reader keeps: read it whole
    return io.read(path, format, errors="keep", **options)


def as_stream(ds: Dataset, path=None) -> Stream:
    """A spilled dataset's items as a bounded :class:`~segmill.streaming.Stream`, read back in order from disk.

    The stream its items were spilled from, again, without reading the
    source: ``segmill gate`` checks a version it spilled for its diff this
    way. The header shares ``ds``'s categories and fields.
    """
    header = Dataset(ds.categories, [], ds.info, ds.licenses, ds.extra, ds.meta)
    return Stream(header, iter(ds.items), True, path)
