"""A COCO file written from a stream of its own reader: the bytes of the in-memory write, in bounded memory.

The images come one at a time; the file wants every image record before any
annotation record, and the annotations in the order the source file had
them (not grouped by image). So each image's record goes to one spill file
and each annotation's record to another, with its position in the source
file (:meth:`segmill.formats._coco_stream.CocoItems.annotation_positions`);
once the stream is used up, the file is assembled in the source's top-level
key order, the annotation records copied back in file order. Memory holds
three integers per annotation and one image at a time; the disk holds the
output about twice while it is assembled.

Every record is made by :class:`._coco_write._Write`, the in-memory
writer's own code, so the output is byte-identical to
``write(read(src), dst, "coco")`` (tests compare the bytes).
"""

from __future__ import annotations

import os
import tempfile
from array import array
from pathlib import Path

import numpy as np

from .._progress import track
from ..errors import OutputError
from ..losses import WriteReport
from ..model import Dataset
from . import _coco_json as J
from ._coco_write import _annotation_record, _Opts, _Write, section_order, top_keys

__all__ = ["write_stream"]

#: Annotation records read back from the spill per write.
_CHUNK = 4096


class _Spill:
    """Records written one after the other to a temporary file, read back by number."""

    def __init__(self, folder: Path):
        self.f = tempfile.TemporaryFile(dir=folder)
        self.offsets, self.lengths = array("q"), array("q")

    def add(self, data: bytes) -> None:
        self.offsets.append(self.f.tell())
        self.lengths.append(len(data))
        self.f.write(data)

    def chunks(self, order: np.ndarray):
        """The records in ``order``, joined by commas, a chunk at a time."""
        self.f.flush()
        fd = self.f.fileno()
        off, ln = np.frombuffer(self.offsets, np.int64), np.frombuffer(self.lengths, np.int64)
        for a in range(0, len(order), _CHUNK):
            idx = order[a:a + _CHUNK]
            yield (b"," if a else b"") + b",".join(os.pread(fd, int(n), int(o)) for o, n in zip(off[idx], ln[idx]))


def write_stream(stream, path, *, segmentation: str = "keep", recompute: bool = False, raster: str = "coco",
                 polygon_mode: str = "exact", tolerance: float = 1.0) -> WriteReport:
    """Write the items of ``stream`` (read by the COCO reader) to ``path`` (see the module docs)."""
    header: Dataset = stream.header
    positions = stream.annotation_positions
    if positions is None:
        raise OutputError("a COCO stream write needs the positions of the source file's annotations")
    opts = _Opts(segmentation, recompute, raster, polygon_mode, tolerance)
    report = WriteReport()
    w = _Write(header, opts, report)  # no items: no id maps, the categories' map if any
    folder = Path(path).parent
    images, anns = _Spill(folder), _Spill(folder)
    where = array("q")
    with J.no_gc():
        for k, item in enumerate(track(stream, desc="writing")):
            images.add(J.dumps(w.image_record(item, item.id)))
            for ann, at in zip(item.annotations, positions(k).tolist()):
                rec = _annotation_record(ann, item, item.id, w.cat_map, None, opts, report)
                if rec is not None:
                    report.annotations += 1
                    anns.add(J.dumps(rec))
                    where.append(at)
        order = np.argsort(np.frombuffer(where, np.int64), kind="stable")
        with open(path, "wb") as fh:
            out = J.ChunkedWriter(fh)
            for key in section_order(header):
                if key == "images":
                    out.raw_list(key, images.chunks(np.arange(len(images.offsets))))
                elif key == "annotations":
                    out.raw_list(key, anns.chunks(order))
                else:
                    w.section(out, key, top_keys(header))
            out.close()
    report.files = 1
    return report
