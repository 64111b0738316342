"""Open Images read as a stream: a compact index of the segmentation CSVs, then one image at a time.

The rows of one image need not be adjacent (nor in one CSV), and the items
come in order of first appearance, so no image is complete before every CSV
has been read. :func:`build_index` reads the CSVs once, checking each row as
:func:`~segmill.formats.open_images.read` does, and keeps per row a few
packed integers: where the row ends in its file (8 bytes), its line (4) and
its place in image order (4). Image ids are told apart by a keyed 16-byte
hash while the CSVs are read (16 bytes a row, dropped once the rows are
grouped): no Python object is kept per row or per image. The items are then
built one image at a time from their rows read back by offset
(:meth:`RowIndex.row`, through the reader's own row check).

Whatever the CSVs themselves show wrong (a row that fails its check, an
image in two splits, a malformed CSV) is found here; the index stops at the
first such row (:attr:`RowIndex.error`), where a whole read in ``raise``
mode stops at the latest.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
import os
from array import array
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._coco_stream import _group
from ._open_images_csv import MaskRow, Offsets, checked_rows, mask_header, read_csv, row_at

__all__ = ["CsvPart", "RowIndex", "build_index", "other_split"]


@dataclass
class CsvPart:
    """One segmentation CSV of the index: its rows are positions ``first`` to the next part's ``first``."""

    path: Path
    split: str
    header: list
    first: int
    header_end: int


@dataclass
class RowIndex:
    """The rows of every segmentation CSV, grouped by image in order of first appearance.

    Positions number the rows in reading order (CSV by CSV, row by row);
    ``by_image[bounds[k]:bounds[k + 1]]`` are the positions of image ``k``'s
    rows, in reading order.
    """

    parts: list[CsvPart]
    ends: np.ndarray
    lines: np.ndarray
    by_image: np.ndarray
    bounds: np.ndarray
    labels: list
    error: InputError | None

    def __post_init__(self) -> None:
        self._firsts = [c.first for c in self.parts]

    @property
    def n_images(self) -> int:
        return len(self.bounds) - 1

    @property
    def nbytes(self) -> int:
        return self.ends.nbytes + self.lines.nbytes + self.by_image.nbytes + self.bounds.nbytes

    def rows(self, k: int) -> np.ndarray:
        """The positions of image ``k``'s rows, in reading order."""
        return self.by_image[self.bounds[k]:self.bounds[k + 1]]

    def part(self, p: int) -> CsvPart:
        """The CSV of the row at position ``p``."""
        return self.parts[bisect_right(self._firsts, p) - 1]

    def row(self, p: int, fds: dict) -> tuple[MaskRow, CsvPart]:
        """The checked row at position ``p`` and its CSV, read back from the files ``fds`` (:meth:`opened`)."""
        p = int(p)
        c = self.part(p)
        start = c.header_end if p == c.first else int(self.ends[p - 1])
        return row_at(fds[c.path], (start, int(self.ends[p])), c.header, int(self.lines[p]), c.path), c

    @contextmanager
    def opened(self):
        """``{path: file descriptor}`` of the CSVs, open for :meth:`row` in the body."""
        fds: dict = {}
        try:
            for c in self.parts:
                if c.path not in fds:
                    try:
                        fds[c.path] = os.open(c.path, os.O_RDONLY)
                    except OSError as exc:
                        raise InputError(f"cannot read the file: {exc.strerror or exc}", c.path) from None
            yield fds
        finally:
            for fd in fds.values():
                os.close(fd)


def other_split(row: MaskRow, split: str, f) -> InputError:
    """The error of a row whose image is already in ``split``, another split than its CSV's."""
    return InputError(f"ImageID {row.image_id!r} is also in the {split} split", f, f"line {row.line}")


class _Rows:
    """What the CSV pass keeps per row, packed: its end in the file, its line, its image id's hash."""

    def __init__(self) -> None:
        self.ends, self.lines, self.digests = array("q"), array("I"), bytearray()
        self.labels: dict = {}
        self._key = os.urandom(16)  # keyed: no one can choose ids whose hashes collide

    def add(self, row: MaskRow, end: int) -> None:
        self.lines.append(row.line)  # OverflowError past 2**32 - 1 lines: read whole
        self.ends.append(end)
        self.digests += hashlib.blake2b(row.image_id.encode(), digest_size=16, key=self._key).digest()
        self.labels.setdefault(row.label)


def build_index(csvs: list[Path], split_of) -> RowIndex | None:
    """The index of the segmentation CSVs ``csvs`` (in reading order; ``split_of(path)`` names a CSV's split).

    ``None`` when the index cannot be made (a line number beyond 32 bits):
    the caller reads whole.
    """
    rows, parts, error = _Rows(), [], None
    for f in csvs:
        at, first = Offsets(), len(rows.lines)
        try:
            lines = read_csv(f, at)
            header = mask_header(lines, f)
            for row in checked_rows(lines, header, f):
                if isinstance(row, InputError):
                    raise row
                rows.add(row, at.end)
        except InputError as exc:  # the first error of the CSVs: a whole read in raise mode stops there
            error = exc
        except OverflowError:
            return None
        if len(rows.lines) > first:
            parts.append(CsvPart(f, split_of(f), header, first, at.header_end))
        if error is not None:
            break
    return _grouped(rows, parts, error)


def _grouped(rows: _Rows, parts: list[CsvPart], error: InputError | None) -> RowIndex | None:
    """The rows grouped by image (order of first appearance), cut at the first row of an image in two splits.

    The rows are sorted by the first 8 bytes of their hash; ``None`` (read
    whole) in the unlikely case that two ids share those but not the rest.
    """
    n = len(rows.lines)
    h = np.frombuffer(rows.digests, "<u8").reshape(n, 2)
    order = np.argsort(h[:, 0], kind="stable")  # by image, in reading order within one
    key = h[order, 0]
    same = key[1:] == key[:-1]
    del key
    key = h[order, 1]
    if np.any(same & (key[1:] != key[:-1])):
        return None
    del key, h
    rows.digests = None
    starts = np.flatnonzero(np.concatenate([[True], ~same])) if n else np.empty(0, np.int64)
    firsts = order[starts]  # each image's first row
    rank = np.empty(len(starts), np.int32)
    rank[np.argsort(firsts)] = np.arange(len(starts), dtype=np.int32)
    ordinal = np.empty(n, np.int32)
    ordinal[order] = np.repeat(rank, np.diff(np.append(starts, n)))
    del order, rank, same
    index = RowIndex(parts, np.frombuffer(rows.ends, np.int64) if n else np.empty(0, np.int64),
                     np.frombuffer(rows.lines, f"u{rows.lines.itemsize}") if n else np.empty(0, np.uint32),
                     np.empty(0, np.int32), np.zeros(1, np.int64), list(rows.labels), error)
    cut = _split_conflict(index, ordinal, np.sort(firsts))
    if cut is not None:
        ordinal = ordinal[:cut]
    index.by_image, index.bounds = _group(ordinal, int(ordinal.max()) + 1 if len(ordinal) else 0)
    return index


def _split_conflict(index: RowIndex, ordinal: np.ndarray, firsts: np.ndarray) -> int | None:
    """The position of the first row whose image's first row is in another split (its error set as the
    index's error), or None."""
    if not len(ordinal):
        return None
    names = sorted({c.split for c in index.parts})
    per_part = np.array([names.index(c.split) for c in index.parts], np.int16)
    counts = np.diff([c.first for c in index.parts] + [len(ordinal)])
    split = np.repeat(per_part, counts)
    bad = np.flatnonzero(split != split[firsts][ordinal])
    if not len(bad):
        return None
    p = int(bad[0])
    with index.opened() as fds:
        row, c = index.row(p, fds)
    index.error = other_split(row, names[split[firsts[ordinal[p]]]], c.path)
    return p
