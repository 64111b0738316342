"""Datasets whose items wait on disk: read once from a stream, fetched one at a time by position.

``segmill diff``, ``segmill gate`` and ``segmill agree`` line up the images of
two or more datasets by name, then walk the pairs: an image of one dataset
may pair with one anywhere in the other, so a stream read once in order is
not enough. :func:`spill` reads a dataset as a stream and keeps each item
pickled in an unnamed temporary file, and a *skeleton* of each item (its
fields without annotations, for the keys, sizes and names the line-up uses)
in a second one: in memory stay their offsets, 16 bytes an item. :class:`SpilledItems` is a
read-only sequence: ``len``, iteration (a sequential read) and indexing (one
item unpickled) behave as on the list :func:`segmill.read` gives, so code
written for a :class:`~segmill.model.Dataset` runs on a spilled one
unchanged, with one item in memory at a time.

An item fetched twice is two equal objects: code that pairs items must do it
by position (:func:`segmill.agree.align.align` does), not by ``id()``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from array import array
from collections.abc import Sequence
from typing import Iterable, Iterator

from . import io
from ._fields import without_init
from ._indexing import item_at
from .errors import InputError
from .model import Dataset, Item
from .streaming import Stream

__all__ = ["PickledList", "SpilledItems", "as_stream", "spill", "spill_or_read"]

_EMPTY: dict = {}
_READ_AHEAD = 1 << 20  # bytes read at a time by a sequential pass


class PickledList(Sequence):
    """Objects pickled one after another in an unnamed temporary file; in memory, 8 bytes an object.

    Filled once by :meth:`append`, then read: ``len``, iteration (a
    sequential read, :data:`_READ_AHEAD` bytes at a time) and indexing (one
    object unpickled). An object fetched twice is two equal objects.

    Parameters
    ----------
    load : callable, optional
        Applied to each object as it is read back (its stored form made
        into the object handed out).
    """

    def __init__(self, load=None):
        self._file = tempfile.TemporaryFile()
        self._ends = array("Q")
        self._at = 0
        self._load = load

    def append(self, obj) -> None:
        """Add ``obj`` at the end (pickled now)."""
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        self._file.write(data)
        self._at += len(data)
        self._ends.append(self._at)

    def finish(self) -> None:
        """Make what was appended readable (flush the file)."""
        self._file.flush()

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, key):
        return item_at(key, len(self), self._read)

    def _read(self, k: int):
        start, end = (self._ends[k - 1] if k else 0), self._ends[k]
        obj = pickle.loads(os.pread(self._file.fileno(), end - start, start))
        return obj if self._load is None else self._load(obj)

    def __iter__(self) -> Iterator:
        fd, at, buf, base, load = self._file.fileno(), 0, b"", 0, self._load
        for end in self._ends:
            if end > base + len(buf):  # read the next stretch (at least the whole next object)
                buf = buf[at - base:] + os.pread(fd, max(_READ_AHEAD, end - at), base + len(buf))
                base = at
            obj = pickle.loads(buf[at - base:end - base])
            yield obj if load is None else load(obj)
            at = end

    def close(self) -> None:
        """Remove the temporary file (the objects can no longer be read)."""
        self._file.close()

    def __reduce__(self):  # a copy sent to another process carries its objects
        return (list, (list(self),))


def _skeleton_fields(item: Item) -> tuple:
    """What an item's skeleton keeps: what images are lined up by (id, file name, size, split)."""
    return (item.id, item.file_name, item.width, item.height, item.split)


def _skeleton(fields: tuple) -> Item:
    """The skeleton of :func:`_skeleton_fields`: no annotations; ``attributes`` and ``extra`` one shared
    empty dict (a COCO image's extra fields, URLs and dates, would cost more than the rest)."""
    i, name, w, h, split = fields
    return without_init(Item, id=i, file_name=name, width=w, height=h, annotations=[], split=split,
                        attributes=_EMPTY, extra=_EMPTY, origin=None)


class SpilledItems(PickledList):
    """The items of one dataset, pickled in a temporary file (see the module docs).

    Parameters
    ----------
    items : iterable of Item
        Read once, in order.
    skeletons : bool, default True
        Whether to keep :attr:`skeletons` (a pass that needs none keeps
        only the items: ``segmill check``).

    Attributes
    ----------
    skeletons : PickledList of Item
        Per item, a copy with ``id``, ``file_name``, size and ``split`` only
        (no annotations, empty ``attributes`` and ``extra``), in a second
        temporary file: what the line-up of images reads in its passes
        (:func:`segmill.agree.align.align`) without unpickling annotations.
        Absent when not kept.
    annotation_count : int
        The items' annotations, counted as they were spilled
        (:attr:`segmill.model.Dataset.num_annotations` reads it: no pass).
    """

    def __init__(self, items: Iterable[Item], *, skeletons: bool = True):
        super().__init__()
        kept = PickledList(_skeleton) if skeletons else None
        n_annotations = 0
        for item in items:
            n_annotations += len(item.annotations)
            self.append(item)
            if kept is not None:
                kept.append(_skeleton_fields(item))
        self.finish()
        self.annotation_count = n_annotations
        if kept is not None:
            kept.finish()
            self.skeletons = kept

    def close(self) -> None:
        """Remove the temporary files (the items can no longer be read)."""
        super().close()
        if hasattr(self, "skeletons"):
            self.skeletons.close()


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
