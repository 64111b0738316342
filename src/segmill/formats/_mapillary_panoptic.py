"""A Mapillary panoptic JSON (``panoptic_2018.json`` / ``panoptic_2020.json``) as its reader takes it.

A split keeps one such file with every image's ``segments_info``. The whole
read (:func:`segmill.formats.mapillary.read`) loads it whole
(:class:`WholeDoc`); the stream indexes it (:func:`indexed`): the COCO span
scanner (:mod:`segmill.formats._coco_stream`, :mod:`segmill._json_spans`)
finds the byte spans of the ``images`` and ``annotations`` records a block
at a time, every record is parsed once to check that the file is JSON, and
then only the spans stay (16 bytes a record, spilled to a temporary file
past a few megabytes) and the records are read back a few at a time
(:class:`IndexedDoc`). A file the index cannot vouch for (not JSON, nested
too deeply, a repeated top-level key, no ``images`` or ``annotations``
array, a byte-order mark) is loaded whole instead, which gives the whole
read's error or document: the same values either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .. import jsonio
from ..errors import InputError
from . import _coco_json as J
from ._coco_stream import RUN, _records, _Unstreamable, document_spans
from ._file_runs import file_stamp

__all__ = ["IndexedDoc", "WholeDoc", "indexed", "load"]

#: Annotation records parsed per read while streaming (each holds one image's segments).
BATCH = 64


class WholeDoc:
    """A panoptic JSON loaded whole: the document, its image records and its annotation records."""

    def __init__(self, doc):
        self.top = doc

    def image_runs(self) -> Iterator[tuple[int, object]]:
        """``(position of the first, records)``: here the ``images`` value, whatever it is (absent: ``[]``)."""
        yield 0, self.top.get("images", [])

    def count(self, jf) -> int:
        """How many ``annotations`` records there are (the list checked to be one)."""
        records = self.top.get("annotations") if type(self.top) is dict else None
        if type(records) is not list:
            raise InputError("a panoptic JSON needs an 'annotations' list", jf)
        return len(records)

    def records(self, jf, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, object]]:
        """``(position, record)`` of the ``annotations`` list (those ``start:stop``), checked to be one first."""
        self.count(jf)
        return enumerate(self.top["annotations"][start:stop], start)


class IndexedDoc:
    """A panoptic JSON read by the byte spans of its records (see the module docs).

    ``top`` is the document without its records (``images`` and
    ``annotations`` are ``[]`` there); ``images`` and ``annotations`` are the
    records' byte spans ``[start, end)`` in file order, as
    :func:`segmill.formats._coco_stream._array_spans` gives them (an int64
    array of shape ``(n, 2)``, or a :class:`~segmill.formats._coco_stream.SpanFile`).
    """

    def __init__(self, path: Path, top: dict, images, annotations, stamp: tuple):
        self.path, self.top, self.images, self.annotations, self._stamp = path, top, images, annotations, stamp

    def _runs(self, spans, what: str, size: int, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, list]]:
        stop = len(spans) if stop is None else min(stop, len(spans))
        for a in range(start, stop, size):
            with open(self.path, "rb") as f:
                if file_stamp(f.fileno()) != self._stamp:
                    raise InputError("the file changed while it was read", self.path)
                recs, _ = _records(f.fileno(), spans, a, min(a + size, stop), self.path, what)
            yield a, recs

    def image_runs(self) -> Iterator[tuple[int, list]]:
        """``(position of the first, records)`` of the ``images`` array, a run at a time."""
        return self._runs(self.images, "images", RUN)

    def count(self, jf) -> int:
        """How many ``annotations`` records there are."""
        return len(self.annotations)

    def records(self, jf, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, object]]:
        """``(position, record)`` of the ``annotations`` array (those ``start:stop``), a few read at a time."""
        return ((a + k, rec) for a, recs in self._runs(self.annotations, "annotations", BATCH, start, stop)
                for k, rec in enumerate(recs))


def indexed(path: Path) -> IndexedDoc | None:
    """The index of a panoptic JSON, every record parsed once; ``None`` when the index cannot vouch for it."""
    if J._orjson is None:
        return None
    try:
        with open(path, "rb") as f:
            stamp = file_stamp(f.fileno())
            fd = f.fileno()
            top, *arrays = document_spans(f, stamp[0])
            for rows, what in zip(arrays, ("images", "annotations")):
                for a in range(0, len(rows), RUN):  # invalid JSON anywhere is the whole load's error
                    _records(fd, rows, a, min(a + RUN, len(rows)), path, what)
    except (_Unstreamable, InputError, OSError):
        return None
    return IndexedDoc(path, top, *arrays, stamp)


def load(path: Path, streaming: bool):
    """The document of a panoptic JSON: indexed when ``streaming`` and the index vouches for it, else whole.

    Raises
    ------
    segmill.errors.InputError
        The file cannot be read, or is not JSON (:func:`segmill.jsonio.load`).
    """
    doc = indexed(path) if streaming else None
    return doc if doc is not None else WholeDoc(jsonio.load(path)[0])
