"""COCO results read as a stream: the COCO span index of the results array, then a batch of images at a time.

A results file is one JSON array of records in any image order; without
``images=`` its items are the image ids in order of first appearance, each
sized by its first record's RLE. :func:`results_index` scans the array with
the COCO stream's scanner (:func:`._coco_stream._scan`, the array read as
the one member of ``{"r": ...}``), keeps per record its byte span (spilled
to a temporary file past a size) and its image's place in item order
(4 bytes), per image its id and size (24 bytes), and reads every record
once, a run at a time, through the reader's own annotation code: whatever
the whole read would refuse is found before the first item, and the stream
then reads the file whole (``None``), so the error is the read's own.
:class:`ResultItems` then yields the images a batch at a time, their
records read back by span (:class:`._coco_stream.CocoItems`).

Read whole instead (``None``) as well: records with an ``id``, image or
category ids that are not integers, JSON only the standard library reads
(``NaN``, integers beyond 64 bits), a byte order mark, no orjson.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..limits import max_pixels
from ..model import Category, Dataset, Item
from . import _coco_json as J
from ._coco_read import CocoOrder, _AnnotationReader, _Errors
from ._coco_stream import RUN, CocoIndex, CocoItems, _array_spans, _between, _column, _ids, _read, _records, _scan, \
    _Unstreamable
from ._perfile_stream import validated

__all__ = ["ResultItems", "inferred_size", "results_header", "sorted_categories", "stream_results"]


def inferred_size(r: dict, limit: int) -> tuple:
    """``(height, width)`` of an image from its first record's RLE ``size`` (two non-negative integers within
    the pixel limit), else ``(None, None)``."""
    seg = r.get("segmentation")
    if type(seg) is dict and type(seg.get("size")) is list and len(seg["size"]) == 2:
        h, w = seg["size"]
        if type(h) is int and type(w) is int and h >= 0 and w >= 0 and h * w <= limit:
            return h, w
    return None, None


def sorted_categories(cats) -> list[Category]:
    """The categories of a results file without ``images=``: integer ids first, each kind in order."""
    return sorted(cats, key=lambda c: (type(c.id) is str, c.id))


def results_header(cats) -> Dataset:
    """The dataset a results file without ``images=`` gives, without its items: categories named by their ids."""
    ds = Dataset(sorted_categories(cats), [], None, None)
    ds.meta["coco"] = {"keys": [], "order": CocoOrder(), "results": True}
    return ds


def stream_results(path, err: _Errors):
    """``(header, items)`` of a results file read without ``images=``, or ``None`` to read it whole."""
    found = results_index(Path(path), err)
    if found is None:
        return None
    index, cat_ids, sizes = found
    header = results_header([Category(c, str(c)) for c in cat_ids])
    return header, ResultItems(index, header.categories, err, sizes)


def results_index(path: Path, err: _Errors):
    """``(index, category ids, image sizes)`` of a results file, or ``None`` (see the module docs)."""
    if J._orjson is None:
        return None
    image_ids, cat_ids = array("q"), set()
    try:
        with open(path, "rb") as f, J.no_gc():
            size = os.fstat(f.fileno()).st_size
            members, spans = _scan(f, size, wrapped=True)
            fd = f.fileno()
            _, start, end = members[0].tolist()
            if len(members) != 1 or start < 0 or end < 0 or _read(fd, start, start + 1) != b"[":
                raise _Unstreamable
            _between(fd, 0, start, b"")
            _between(fd, end, size, b"")
            recs = _array_spans(fd, spans, 0, (start, end))
            del spans
            for a in range(0, len(recs), RUN):
                found = _ids(fd, recs, a, min(a + RUN, len(recs)))
                if np.any(found[:, 0] != 0):  # an "id" (the ABSENT kind is 0): the whole read checks them
                    raise _Unstreamable
                _column(found, 1, image_ids)
                refs = array("q")
                _column(found, 2, refs)
                cat_ids.update(refs)
            index, firsts = _grouped(path, recs, np.frombuffer(image_ids, np.int64))
            sizes = _check_records(fd, index, firsts, cat_ids, err)
    except (_Unstreamable, InputError):
        return None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path) from None
    return index, cat_ids, sizes


def _grouped(path: Path, recs, ids: np.ndarray) -> tuple[CocoIndex, np.ndarray]:
    """The index of the records grouped by image (order of first appearance); each image's first record."""
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int32)
    rank[np.argsort(first)] = np.arange(len(first), dtype=np.int32)
    firsts = np.sort(first)
    images = np.broadcast_to(np.zeros((1, 2), np.int64), (len(first), 2))  # no image records: a count
    return CocoIndex(path, {}, images, recs, rank[inverse.reshape(-1)], ids[firsts]), firsts


def _items(ids, sizes: np.ndarray) -> list[Item]:
    """The items of image ids ``ids`` (ints) of sizes ``sizes`` (rows ``(height, width)``, ``-1``: none)."""
    return [Item(i, "", w if w >= 0 else None, h if h >= 0 else None) for i, (h, w) in zip(ids, sizes.tolist())]


def _check_records(fd: int, index: CocoIndex, firsts: np.ndarray, cat_ids: set, err: _Errors) -> np.ndarray:
    """Read every record once, a run at a time in file order, as the whole read reads them; unstreamable where
    the read would refuse one. Returns per image ``(height, width)`` from its first record (``-1``: none),
    as the whole read infers them: an image's first record comes in the run that first names it."""
    owner = np.empty(len(index.by_image), np.int32)
    owner[index.by_image] = np.repeat(np.arange(len(index.bounds) - 1, dtype=np.int32), np.diff(index.bounds))
    sizes = np.full((len(firsts), 2), -1, np.int64)
    limit = max_pixels()
    for a in range(0, len(owner), RUN):
        b = min(a + RUN, len(owner))
        recs, nonfinite = _records(fd, index.annotations, a, b, index.path, "annotations")
        if nonfinite or not all(type(r) is dict and "score" in r for r in recs):
            raise _Unstreamable
        for r in range(*np.searchsorted(firsts, [a, b]).tolist()):  # the images first named in this run
            h, w = inferred_size(recs[int(firsts[r]) - a], limit)
            if h is not None:
                sizes[r] = h, w
        ks = np.unique(owner[a:b])
        items = _items(index.image_ids[ks].tolist(), sizes[ks])
        reader = _AnnotationReader(items, cat_ids, err, False, CocoOrder(), True, True)
        reader.feed(recs, a)
        reader.finish()
    return sizes


class ResultItems(CocoItems):
    """The items of an indexed results file: images in order of first appearance, a batch at a time."""

    results = True

    def __init__(self, index: CocoIndex, cats: list, err: _Errors, sizes: np.ndarray):
        self.sizes, self.cats = sizes, cats
        super().__init__(index, cats, err)

    def _items(self):
        yield from validated(super()._items(), self.cats, self.index.path)

    def items_at(self, ks) -> list:
        """The items at positions ``ks`` (ascending) of the item order, each with its records."""
        ix = self.index
        ks = np.asarray(ks, np.int64)
        items = _items(ix.image_ids[ks].tolist(), self.sizes[ks])
        with open(ix.path, "rb") as f, J.no_gc():
            lo, hi = ix.bounds[ks], ix.bounds[ks + 1]
            self._attach_at(f.fileno(), items, np.sort(np.concatenate([ix.by_image[a:b] for a, b in zip(lo, hi)])))
        return items
