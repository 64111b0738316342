"""A COCO file written from a stream of its own reader: the bytes of the in-memory write, in bounded memory.

The images come one at a time; the file wants every image record before any
annotation record, and the annotations in the order the source file had
them (not grouped by image). So each image's record goes to one spill file
and each annotation's record to another, with its position in the source
file (:meth:`segmill.formats._coco_stream.CocoItems.annotation_positions`);
once the stream is used up, the file is assembled in the source's top-level
key order, the annotation records copied back in file order. A stream whose
``item_order`` is true (``segmill merge``'s, a dataset no file holds) has no
positions: its annotations are written in item order, as :func:`write` writes
a dataset that was not read from one file.

Nothing is kept per record in memory. Records in output order (the images;
annotations in item order) are copied back as written (:class:`Sequential`).
Annotations to be put back in file order go to one of at most
:data:`_BUCKETS` bucket files by their position, each record with its
position (:class:`_Buckets`); a bucket is read back whole, sorted by
position and written out, one after the other. Memory holds one image and
one bucket (the annotations of at most ``1 / _BUCKETS`` of the file, and
never fewer than :data:`_BUCKET_MIN` positions); the disk holds the output
about twice while it is assembled.

Every record is made by :class:`._coco_write._Write`, the in-memory
writer's own code, so the output is byte-identical to
``write(read(src), dst, "coco")`` (tests compare the bytes).
"""

from __future__ import annotations

import struct
import tempfile
from itertools import repeat
from pathlib import Path

import numpy as np

from .._progress import track
from ..errors import OutputError
from ..losses import WriteReport
from ..model import Dataset
from . import _coco_json as J
from ._coco_write import _annotation_record, _Opts, _Write, lose_splits, section_order, top_keys

__all__ = ["Sequential", "write_stream"]

#: Most bucket files of a write, and fewest source positions a bucket covers.
_BUCKETS = 256
_BUCKET_MIN = 1 << 14
#: Records joined per write.
_RUN = 4096
#: Bytes copied back per read.
_BLOCK = 8 << 20


class Sequential:
    """Records written one after the other to a temporary file, with ``sep`` between them (a JSON list's
    text; COCO panoptic's writer spills its lists here too, with ``json.dumps``'s ``", "``)."""

    def __init__(self, folder: Path, sep: bytes = b","):
        self.f = tempfile.TemporaryFile(dir=folder)
        self.n, self.sep = 0, sep

    def add(self, data: bytes, at=None) -> None:
        """Append a record (``at``, a position, is not needed: records stay in the order added)."""
        self.f.write(self.sep + data if self.n else data)
        self.n += 1

    def chunks(self):
        """The list's JSON text (its commas included), a block at a time."""
        self.f.flush()
        self.f.seek(0)
        while block := self.f.read(_BLOCK):
            yield block


class _Buckets:
    """Records keyed by their position among ``total``, put back in position order bucket by bucket."""

    _HEAD = struct.Struct("<qi")  # position, length

    def __init__(self, folder: Path, total: int):
        self.folder = folder
        self.width = max(_BUCKET_MIN, -(-max(total, 1) // _BUCKETS))
        self.files: dict[int, object] = {}

    def add(self, data: bytes, at: int) -> None:
        b = at // self.width
        f = self.files.get(b)
        if f is None:
            f = self.files[b] = tempfile.TemporaryFile(dir=self.folder)
        f.write(self._HEAD.pack(at, len(data)) + data)

    def chunks(self):
        """The records in position order, joined by commas: a bucket read at a time, written a run at a time."""
        first = True
        for b in sorted(self.files):
            f = self.files.pop(b)
            f.seek(0)
            blob = f.read()
            f.close()
            ats, starts, ends = self._entries(blob)
            order = np.argsort(ats, kind="stable").tolist()
            for i in range(0, len(order), _RUN):
                part = b",".join([blob[starts[k]:ends[k]] for k in order[i:i + _RUN]])
                yield part if first else b"," + part
                first = False

    def _entries(self, blob: bytes):
        unpack, head = self._HEAD.unpack_from, self._HEAD.size
        ats, starts, ends = [], [], []
        p = 0
        while p < len(blob):
            at, n = unpack(blob, p)
            ats.append(at)
            starts.append(p + head)
            p += head + n
            ends.append(p)
        return np.array(ats, np.int64), starts, ends


def write_stream(stream, path, *, segmentation: str = "keep", recompute: bool = False, raster: str = "coco",
                 polygon_mode: str = "exact", tolerance: float = 1.0) -> WriteReport:
    """Write the items of ``stream`` (read by the COCO reader) to ``path`` (see the module docs)."""
    header: Dataset = stream.header
    positions = stream.annotation_positions
    if positions is None and not getattr(stream, "item_order", False):
        raise OutputError("a COCO stream write needs the positions of the source file's annotations")
    opts = _Opts(segmentation, recompute, raster, polygon_mode, tolerance)
    report = WriteReport()
    w = _Write(header, opts, report)  # no items: no id maps, the categories' map if any
    folder = Path(path).parent
    images = Sequential(folder)
    total = getattr(stream, "annotation_total", None)
    if positions is not None and total is None:
        raise OutputError("a COCO stream write needs the number of the source file's annotations")
    anns = Sequential(folder) if positions is None else _Buckets(folder, total)
    splits: list = []
    with J.no_gc():
        for k, item in enumerate(track(stream, desc="writing")):
            if item.split is not None:
                splits.append((item.split, item.id))
            images.add(J.dumps(w.image_record(item, item.id)))
            ats = repeat(None) if positions is None else positions(k).tolist()
            for ann, at in zip(item.annotations, ats):
                rec = _annotation_record(ann, item, item.id, w.cat_map, None, opts, report)
                if rec is not None:
                    report.annotations += 1
                    anns.add(J.dumps(rec), at)
        head = WriteReport()  # the in-memory writer reports these first
        lose_splits(splits, head)
        report.losses.prepend(head.losses)
        with open(path, "wb") as fh:
            out = J.ChunkedWriter(fh)
            for key in section_order(header):
                if key == "images":
                    out.raw_list(key, images.chunks())
                elif key == "annotations":
                    out.raw_list(key, anns.chunks())
                else:
                    w.section(out, key, top_keys(header))
            out.close()
    report.files = 1
    return report
