"""A COCO panoptic JSON indexed for a stream: where its records are, not what they hold.

A panoptic JSON keeps its images and their annotation records (one an
image, with its ``segments_info``) in two arrays, so no image is complete
before the whole file has been seen. :func:`index_split` reads the file a
block at a time with the COCO scanner (:func:`segmill.formats._coco_stream._scan`:
the byte span of every element of the top-level arrays, the rest of the
document parsed as :func:`segmill.formats._coco_stream._top` gives it), and
parses every record once, a run at a time, to check that the whole document
is JSON the read parses and to take the ids it needs. What it keeps (a
:class:`SplitIndex`): the document without its two big arrays (categories,
``info`` and the other keys), 16 bytes an image record (its span, in a
temporary file past :data:`~segmill.formats._coco_stream.SPILL_BYTES`), 24
an annotation record (image id and span; only the last record of an image
id, the one the read uses) and, until the stream checks them, 8 an image
id. The records of an image are parsed again when its item is built
(:meth:`SplitIndex.image_records`, :class:`RecordLookup`).

The index cannot vouch for (and the stream then reads the file whole, which
words the problem): a file that is not one object whose arrays are
separated as JSON requires, a record the parsers refuse, an annotation
record :func:`~segmill.formats.coco_panoptic._record_key` refuses, an image
or annotation record whose image id is a string or beyond 64 bits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import _coco_json as J
from ._coco_stream import RUN, SpanFile, _records, _unique, _Unstreamable, document_spans

__all__ = ["RecordLookup", "SplitIndex", "distinct", "index_split"]

_INT64 = (-(2**63), 2**63)


@dataclass
class SplitIndex:
    """Where one panoptic JSON's records are (module docs).

    Attributes
    ----------
    path : Path
    top : dict
        The document with ``[]`` in place of ``images`` and ``annotations``.
    images : ndarray of int64, shape (n, 2), or SpanFile
        The byte span ``[start, end)`` of each image record, in file order.
    keys : ndarray of int64
        The image ids annotation records name, sorted, each once.
    spans : ndarray of int64, shape (len(keys), 2)
        The span of the last annotation record of each of ``keys``.
    image_ids : ndarray of int64
        The integer ids of the image records (the others fail as their items are built).
    """

    path: Path
    top: dict
    images: np.ndarray | SpanFile
    keys: np.ndarray
    spans: np.ndarray
    image_ids: np.ndarray

    def image_records(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, object]]:
        """``(position, image record)`` of each image (those at positions ``start:stop``), parsed a run at a
        time when the items come."""
        n = len(self.images) if stop is None else min(stop, len(self.images))
        with _Reopened(self.path) as f:
            for a in range(start, n, RUN):
                recs, _ = _records(f.fileno(), self.images, a, min(a + RUN, n), self.path, "images")
                yield from enumerate(recs, a)

    def lookup(self) -> RecordLookup:
        return RecordLookup(self)


class RecordLookup:
    """The annotation records of a :class:`SplitIndex` by image id, as the read's dict of them gives them."""

    def __init__(self, index: SplitIndex):
        self.index = index

    def get(self, iid):
        """The annotation record of image ``iid`` (parsed from the file now), or ``None``."""
        ix = self.index
        if type(iid) is not int or not _INT64[0] <= iid < _INT64[1] or not len(ix.keys):
            return None  # the read's keys are these integers: no other id (a string) is one of them
        k = int(np.searchsorted(ix.keys, iid))
        if k == len(ix.keys) or ix.keys[k] != iid:
            return None
        with _Reopened(ix.path) as f:
            recs, _ = _records(f.fileno(), ix.spans, k, k + 1, ix.path, "annotations")
        return recs[0]


class _Reopened:
    """The indexed file opened again; a file that cannot be is an InputError (it was read a moment ago)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        try:
            self.f = open(self.path, "rb")  # noqa: SIM115 (closed in __exit__)
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror or exc}", self.path) from None
        return self.f

    def __exit__(self, *exc) -> None:
        self.f.close()


def index_split(path: Path, record_key) -> SplitIndex | None:
    """Index one panoptic JSON; ``None`` when the index cannot vouch for it (module docs).

    ``record_key(record, position, path)`` is the read's image id of an
    annotation record (an InputError where the read refuses it).
    """
    if J._orjson is None:
        return None
    try:
        with open(path, "rb") as f:
            fd = f.fileno()
            top, images, anns = document_spans(f, os.fstat(fd).st_size)
            image_ids = _image_ids(fd, images, path)
            ann_keys, ann_spans = _annotation_keys(fd, anns, path, record_key)
    except (_Unstreamable, InputError, OSError):  # the read words the problem
        return None
    order = np.argsort(ann_keys, kind="stable")
    ordered = ann_keys[order]
    last = np.ones(len(ordered), bool)  # the last record of an image id wins, as in the read
    last[:-1] = ordered[1:] != ordered[:-1]
    return SplitIndex(Path(path), top, images, ordered[last], ann_spans[order[last]], image_ids)


def _int_id(value) -> int | None:
    """``value`` as the int64 it stands for; None for what is no integer (refused by the read's checks)."""
    if type(value) is str or (type(value) is int and not _INT64[0] <= value < _INT64[1]):
        raise _Unstreamable  # an id the compact index cannot hold
    return value if type(value) is int else None


def _image_ids(fd: int, spans, path: Path) -> np.ndarray:
    """The integer ids of the image records, every record parsed (a run at a time) to check it."""
    out = []
    for a in range(0, len(spans), RUN):
        recs, _ = _records(fd, spans, a, min(a + RUN, len(spans)), path, "images")
        ids = [_int_id(r.get("id")) if type(r) is dict else None for r in recs]
        out.append(np.array([v for v in ids if v is not None], np.int64))
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _annotation_keys(fd: int, spans, path: Path, record_key) -> tuple[np.ndarray, np.ndarray]:
    """``(image id, span)`` of each annotation record, in file order, every record parsed to check it."""
    keys, found = [], []
    for a in range(0, len(spans), RUN):
        b = min(a + RUN, len(spans))
        recs, _ = _records(fd, spans, a, b, path, "annotations")
        run = [_int_id(record_key(r, k, path)) for k, r in enumerate(recs, a)]
        keys.append(np.array(run, np.int64))
        found.append(np.asarray(spans[a:b], np.int64))
    if not keys:
        return np.empty(0, np.int64), np.empty((0, 2), np.int64)
    return np.concatenate(keys), np.concatenate(found)


def distinct(ids: list[np.ndarray]) -> bool:
    """No image id twice across the files' ``ids``."""
    return _unique(np.concatenate(ids)) if ids else True

