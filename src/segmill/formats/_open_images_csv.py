"""The CSV files of Open Images, checked, and the nearest-neighbour mask resize.

Every value comes from an untrusted file and passes a validator here; a bad
one raises :class:`~segmill.errors.InputError` naming the file and the line.

* ``<split>-annotations-object-segmentation.csv`` (v5, v6, v7): columns
  ``MaskPath, ImageID, LabelName, BoxID, BoxXMin, BoxXMax, BoxYMin,
  BoxYMax, PredictedIoU, Clicks``; the box is in normalized coordinates
  (0..1), ``Clicks`` the annotator's clicks as text.
* Class descriptions: ``oidv6-class-descriptions.csv`` (header
  ``LabelName,DisplayName``) or the headerless ``class-descriptions.csv`` /
  ``class-descriptions-boxable.csv`` of v5: ``MID,display name`` a line.
* ``images.meta`` (Datumaro's, optional): ``ImageID height width`` a line,
  ``#`` comments.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..validate import brief, finite, image_size, string

__all__ = ["MaskRow", "Offsets", "read_csv", "mask_header", "mask_rows", "checked_rows", "row_at", "class_names",
           "image_meta", "resize_nearest"]

REQUIRED = ("MaskPath", "ImageID", "LabelName")
BOX = ("BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax")


def _text(raw: bytes, f) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", f) from None


class Offsets:
    """Where in its file (bytes) the rows :func:`read_csv` yields end: the header's, the last row's."""

    def __init__(self) -> None:
        self.header_end = -1
        self.end = -1


class _Lines:
    """The lines of a CSV opened as text (``newline=""``), counting the bytes they take in the file."""

    def __init__(self, fh) -> None:
        self._fh = fh
        self.pos = 3 if fh.buffer.peek(3)[:3] == codecs.BOM_UTF8 else 0  # utf-8-sig drops the BOM

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self._fh.readline()
        if not line:
            raise StopIteration
        self.pos += len(line.encode("utf-8"))  # decoded strictly from UTF-8: the same bytes
        return line


def read_csv(f, offsets: Offsets | None = None) -> Iterator[tuple[int, list]]:
    """``(line number, fields)`` of each non-empty row of the CSV file ``f``, streamed.

    Parameters
    ----------
    f : path
    offsets : Offsets, optional
        Set, as each row is yielded, to where it ends in the file (and the
        first row, the header, ends): what :func:`row_at` reads back.

    Raises
    ------
    segmill.errors.InputError
        The file cannot be opened, is not UTF-8, or is not well-formed CSV
        (naming the line), when the reader gets there.
    """
    line = 0
    reader = None
    try:
        with open(f, encoding="utf-8-sig", newline="") as fh:
            lines = fh if offsets is None else _Lines(fh)
            reader = csv.reader(lines, strict=True)
            for row in reader:
                line = reader.line_num
                if row and any(v.strip() for v in row):
                    if offsets is not None:
                        offsets.end = lines.pos  # the reader reads no line ahead of the row
                        if offsets.header_end < 0:
                            offsets.header_end = lines.pos
                    yield line, row
    except IsADirectoryError:
        raise InputError("is a directory, not a CSV file", f) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", f) from None
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text (within the lines after line {line})", f) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", f, f"line {reader.line_num if reader else 1}") from None


def row_at(fd: int, span: tuple[int, int], header: list, line: int, f) -> MaskRow:
    """The row :func:`read_csv` gave at line ``line``, ending at ``span[1]`` after the previous row's end
    ``span[0]`` (blank lines between are passed over as it does), read back from the open file ``fd`` and
    checked again.

    Raises
    ------
    segmill.errors.InputError
        The row's check fails, or the file no longer holds a row there.
    """
    start, end = span
    raw = os.pread(fd, end - start, start)
    try:
        rows = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), strict=True)
        row = next(r for r in rows if r and any(v.strip() for v in r))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise InputError("the CSV file changed while it was read", f, f"line {line}") from None
    return _mask_row(line, dict(zip(header, row)), len(row) == len(header), f)


@dataclass
class MaskRow:
    """One checked row of a segmentation CSV."""

    line: int
    mask_path: str
    image_id: str
    label: str
    attributes: dict = field(default_factory=dict)


def _name(value: str, what: str, f, rec) -> str:
    """A single file-name component (no folder, no ``..``)."""
    string(value, what, f, rec, max_len=255, allow_empty=False)
    if value in (".", "..") or any(c in value for c in "/\\\0"):
        raise InputError(f"{what} {brief(value)} must be a plain file name", f, rec)
    return value


def mask_header(rows: Iterator, f) -> list:
    """The columns of a segmentation CSV: its first row (taken from ``rows``), checked."""
    first = next(rows, None)
    if first is None:
        raise InputError("empty segmentation CSV (no header)", f)
    header = [h.strip() for h in first[1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"no column {', '.join(missing)} in the header (expected MaskPath, ImageID, LabelName, "
                         "BoxID, BoxXMin, BoxXMax, BoxYMin, BoxYMax, PredictedIoU, Clicks)", f, f"line {first[0]}")
    return header


def mask_rows(rows: Iterator, f) -> Iterator:
    """The rows of a segmentation CSV after its header: each a :class:`MaskRow` or the InputError it raised."""
    yield from checked_rows(rows, mask_header(rows, f), f)


def checked_rows(rows: Iterator, header: list, f) -> Iterator:
    """The rows after the header ``header``: each a :class:`MaskRow` or the InputError it raised."""
    for line, row in rows:
        try:
            yield _mask_row(line, dict(zip(header, row)), len(row) == len(header), f)
        except InputError as exc:
            yield exc


def _mask_row(line: int, rec: dict, complete: bool, f) -> MaskRow:
    where = f"line {line}"
    if not complete:
        raise InputError("the row does not have one value per header column", f, where)
    r = MaskRow(line, _name(rec["MaskPath"], "MaskPath", f, where),
                string(rec["ImageID"], "ImageID", f, where, max_len=255, allow_empty=False),
                string(rec["LabelName"], "LabelName", f, where, max_len=255, allow_empty=False))
    _name(r.image_id, "ImageID", f, where)
    if rec.get("BoxID"):
        r.attributes["box_id"] = string(rec["BoxID"], "BoxID", f, where, max_len=255)
    box = [rec.get(k, "") for k in BOX]
    if any(box):
        r.attributes["box"] = [_number(v, k, f, where, 0.0, 1.0) for k, v in zip(BOX, box)]
    if rec.get("PredictedIoU"):
        r.attributes["predicted_iou"] = _number(rec["PredictedIoU"], "PredictedIoU", f, where, 0.0, 1.0)
    if rec.get("Clicks"):
        r.attributes["clicks"] = string(rec["Clicks"], "Clicks", f, where, max_len=1 << 20)
    return r


def _number(text: str, what: str, f, where, lo: float, hi: float) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{what} must be a number, got {brief(text)}", f, where) from None
    return finite(v, what, f, where, lo=lo, hi=hi)


def class_names(rows: Iterator, f) -> dict:
    """``{MID: display name}`` of a class description file (its header row, if any, skipped)."""
    out: dict = {}
    for line, row in rows:
        if [v.strip() for v in row[:2]] == ["LabelName", "DisplayName"]:
            continue
        if len(row) < 2:
            raise InputError("a class description is 'MID,display name'", f, f"line {line}")
        mid = string(row[0], "LabelName", f, f"line {line}", max_len=255, allow_empty=False)
        out.setdefault(mid, string(row[1], "DisplayName", f, f"line {line}", max_len=1024))
    return out


def image_meta(raw: bytes, f) -> dict:
    """``{ImageID: (height, width)}`` of Datumaro's ``images.meta``."""
    out = {}
    for n, line in enumerate(_text(raw, f).splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 3:
            raise InputError("an images.meta line is 'ImageID height width'", f, f"line {n}")
        try:
            h, w = int(parts[1]), int(parts[2])
        except ValueError:
            raise InputError(f"height and width must be integers, got {brief(line)}", f, f"line {n}") from None
        out.setdefault(parts[0], image_size(h, w, f, f"line {n}", allow_zero=False))
    return out


def resize_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """``mask`` resized to ``height x width`` by nearest neighbour, OpenCV's ``INTER_NEAREST`` rule.

    Destination pixel ``x`` takes source pixel ``min(floor(x * (1 / (width / w))), w - 1)``
    (and the same for rows), computed in double precision as ``cv2.resize`` does.
    """
    h, w = mask.shape
    if (h, w) == (height, width):
        return mask
    return mask[np.ix_(_source_index(h, height), _source_index(w, width))]


def _source_index(src: int, dst: int) -> np.ndarray:
    scale = 1.0 / (dst / src)  # sizes are >= 1: finite and positive
    idx = np.floor(np.arange(dst, dtype=np.float64) * scale).astype(np.int64)
    return np.minimum(idx, src - 1)
