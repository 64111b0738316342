"""JSON in and out for the COCO formats: fast, exact, with useful errors.

orjson parses about twice as fast as the standard library on COCO files and
serializes about five times as fast; it is used when installed. The standard
library is the fallback and also the second chance for input orjson refuses
but Python's ``json`` accepts (``NaN``/``Infinity``, integers beyond 64 bits),
so that the geometry checks, not the parser, report such values.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .. import jsonio
from .._gc import no_gc
from ..limits import MAX_JSON_DEPTH

try:  # optional speed-up, see the module docs
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

__all__ = ["load", "load_split", "SplitDocument", "Reparse", "dumps", "ChunkedWriter", "write_list", "no_gc", "peek",
           "jsonable"]


def _compact_hook(d: dict) -> dict:
    # Called by json for every object as soon as it is parsed: the float lists
    # of an annotation's polygons become array('d') before the next one is read,
    # so a big file never holds all its coordinates as Python floats.
    seg = d.get("segmentation")
    if type(seg) is list and seg and "image_id" in d:
        out = []
        for part in seg:
            if type(part) is list and all(map(_is_float, part)):
                out.append(array("d", part))
            else:
                out.append(part)
        d["segmentation"] = out
    return d


_is_float = float.__instancecheck__


def load(path, compact: bool = False) -> tuple[Any, bool]:
    """Parse a JSON file.

    Parameters
    ----------
    path : path
    compact : bool
        Store annotation polygons whose coordinates are all floats as
        ``array('d')`` while parsing (standard-library parser; for big files,
        where orjson's intermediate document would cost several times the
        file size in memory).

    Returns
    -------
    value : object
    nonfinite : bool
        ``True`` when the file holds ``NaN``/``Infinity`` literals (only the
        standard library accepts them), so callers must check numbers for
        finiteness.

    Raises
    ------
    segmill.errors.InputError
        Unreadable file, not UTF-8, or invalid JSON (with line and column).
    """
    return jsonio.load(path, object_hook=_compact_hook if compact else None)


class Reparse(Exception):
    """A slice of a :class:`SplitDocument` does not parse: read the whole file the careful way.

    Not a :class:`~segmill.errors.SegmillError`: the reader catches it and
    starts over with :func:`load`, whose parser words the error.
    """


#: Annotations per slice of a :class:`SplitDocument` (a few MB of parsed objects at a time).
SLICE = 1024


class SplitDocument:
    """A JSON object parsed but for one big array, whose elements are parsed a slice at a time.

    orjson parses several times faster than the standard library, but a
    whole big document as Python objects costs many times its size; parsed
    a slice at a time, only one slice of the array exists as dicts while the
    reader turns it into the model. The document is checked as a whole all
    the same: every slice must parse with exactly the elements the scan
    counted, and the rest of the document with ``[]`` in the array's place
    (together that is the whole document, valid).

    Attributes
    ----------
    top : dict
        The document, with an empty list in the array's place.
    """

    def __init__(self, data: bytes, top: dict, start: int, end: int, commas: int, cuts: list, ints: list):
        self.top = top
        bounds = [start, *cuts, end]
        view = memoryview(data)
        # Each slice's text on its own, as the array it is part of: freed as soon as it is parsed, so
        # the file's bytes are not held while the model grows.
        self._texts = [b"".join((b"[", view[a + 1:b], b"]")) for a, b in zip(bounds, bounds[1:])]
        view.release()
        self._empty = not commas and not self._texts[0][1:-1].strip()
        self._ints = ints  # per slice: integer literals 5 levels deep (in polygon parts, among others)
        self._commas = commas
        self._next = 0  # the first slice not handed out yet

    def __len__(self) -> int:
        """The number of elements, if the slices parse (no element at all for ``[]`` or ``[ ]``)."""
        return 0 if self._empty else self._commas + 1

    def slices(self):
        """Yield ``(index of the first element, list of parsed elements, floats only)`` in order.

        The third value is true when no number in the slice's polygon parts
        (and nothing else nested as deep) is written as an integer.

        Raises
        ------
        Reparse
            A slice does not parse.
        """
        base = 0
        while self._next < len(self._texts):
            k = self._next
            part = self._parse(k)
            self._next += 1
            yield base, part, not self._ints[k]
            base += len(part)

    def rest_parses(self) -> bool:
        """Whether every slice not yet handed out parses (after an error in an earlier record)."""
        try:
            for k in range(self._next, len(self._texts)):
                self._parse(k)
        except Reparse:
            return False
        return True

    def _parse(self, k: int) -> list:
        text = self._texts[k]
        self._texts[k] = None  # parsed once: by slices() or by rest_parses()
        try:
            part = _orjson.loads(text)
        except _orjson.JSONDecodeError:
            raise Reparse from None
        last = k == len(self._texts) - 1
        want = self._commas - SLICE * (len(self._texts) - 1) + 1 if last else SLICE
        if len(part) != want and not (last and not part and not self._commas):
            raise Reparse  # a stray comma ("[1,]"): not JSON
        return part


def load_split(path, key: str = "annotations") -> SplitDocument | tuple[Any, bool]:
    """Parse a JSON file whose top-level object holds a big array under ``key``.

    Returns a :class:`SplitDocument` when the file can be parsed that way,
    else what :func:`load` with ``compact=True`` returns (orjson missing, the
    document is not an object, the array is not there, or something only
    the standard parser reads as Python's ``json`` does: ``NaN``, a byte
    order mark, integers beyond 64 bits...).

    Raises
    ------
    segmill.errors.InputError
        As :func:`load`; the nesting depth is checked before anything is parsed.
    """
    path = Path(path)  # named in messages as jsonio.load names it
    data = jsonio.read_bytes(path)
    if _orjson is None or len(data) < 2:
        return jsonio.parse(data, path, object_hook=_compact_hook)
    # lazy: start-up time (the splitting kernel is only needed for big files)
    from .._json_depth import SPLIT_OK, SPLIT_TOO_DEEP, split_array

    cuts = np.zeros(len(data) // SLICE + 1, np.int64)
    ints = np.zeros(cuts.shape[0] + 1, np.int64)
    status, start, end, commas, ncuts = split_array(np.frombuffer(data, np.uint8), MAX_JSON_DEPTH,
                                                    np.frombuffer(_dumps_key(key), np.uint8), SLICE, cuts, ints,
                                                    _PART_DEPTH)
    if status == SPLIT_TOO_DEEP:
        raise jsonio.too_deep_error(path)
    top = None
    if status == SPLIT_OK:
        try:
            top = _orjson.loads(b"".join((data[:start], b"[]", data[end + 1:])))
        except _orjson.JSONDecodeError:
            pass
    if type(top) is not dict or top.get(key) != []:
        return jsonio.parse(data, path, object_hook=_compact_hook)
    return SplitDocument(data, top, start, end, commas, cuts[:ncuts].tolist(), ints[:ncuts + 1].tolist())


#: How deep the coordinates of a polygon part are: document, annotations, record, segmentation, part.
_PART_DEPTH = 5


def _dumps_key(key: str) -> bytes:
    return json.dumps(key).encode("ascii")


def peek(path, size: int = 4096) -> tuple[bytes, bytes]:
    """The first and the last ``size`` bytes of a file (for detectors)."""
    with open(path, "rb") as f:
        head = f.read(size)
        f.seek(0, 2)
        end = f.tell()
        if end <= size:
            return head, head
        f.seek(max(end - size, size))
        return head, f.read(size)


def _default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, array):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj) -> bytes:
    """Compact JSON bytes; numpy values and tuples become JSON numbers and lists."""
    return _encoded(obj)[0]


def _encoded(obj) -> tuple[bytes, bool]:
    """:func:`dumps`'s text, and whether the first-choice encoder wrote it.

    ``False`` when orjson refused ``obj`` (or a lone surrogate made the
    standard library escape every non-ASCII character): the text of a list
    then depends on which records were encoded together.
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, default=_default,
                                 option=_orjson.OPT_NON_STR_KEYS | _orjson.OPT_SERIALIZE_NUMPY), True
        except (TypeError, _orjson.JSONEncodeError):
            pass  # e.g. integers beyond 64 bits: let the standard library try
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default,
                          allow_nan=True).encode("utf-8"), _orjson is None
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the source): escaped, it reads back the same
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=_default,
                          allow_nan=True).encode("ascii"), False


def jsonable(value) -> bool:
    """``value`` can be written as JSON (finite numbers, str keys or numbers as keys)."""
    try:
        dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class ChunkedWriter:
    """Write one JSON object whose big lists are streamed in chunks.

    Keeps peak memory at the model plus one chunk instead of the model plus a
    full copy of the output as dicts plus the output text.
    """

    def __init__(self, f, chunk: int = 4096):
        self.f = f
        self.chunk = chunk
        self.first_key = True
        f.write(b"{")

    def key(self, name: str, value) -> None:
        self._key(name)
        self.f.write(dumps(value))

    def _key(self, name: str) -> None:
        self.f.write((b"" if self.first_key else b",") + dumps(name) + b":")
        self.first_key = False

    def raw_list(self, name: str, chunks: Iterable[bytes]) -> None:
        """Write a JSON list under ``name`` from ``chunks``: its elements' JSON text, commas included.

        A chunk is bytes or has ``copy_to(file)`` (text kept in a file, see
        ``_coco_write.Spilled``).
        """
        self._key(name)
        self.f.write(b"[")
        for chunk in chunks:
            if isinstance(chunk, bytes):
                self.f.write(chunk)
            else:
                chunk.copy_to(self.f)
        self.f.write(b"]")

    def stream(self, name: str, records: Iterable) -> None:
        """Write ``records`` as a JSON list under ``name``."""
        self._key(name)
        write_list(self.f, records, self.chunk)

    def close(self) -> None:
        self.f.write(b"}")


def write_list(f, records: Iterable, chunk: int = 4096) -> bool:
    """Write ``records`` to the binary file ``f`` as one JSON list, in chunks.

    Returns whether the first-choice encoder wrote every chunk (see
    :func:`_encoded`): then the text is the records' own texts joined by
    commas, whatever the chunks.
    """
    f.write(b"[")
    buf: list = []
    first = uniform = True
    for r in records:
        buf.append(r)
        if len(buf) >= chunk:
            text, fast = _encoded(buf)
            f.write((b"" if first else b",") + text[1:-1])
            first, buf, uniform = False, [], uniform and fast
    if buf:
        text, fast = _encoded(buf)
        f.write((b"" if first else b",") + text[1:-1])
        uniform = uniform and fast
    f.write(b"]")
    return uniform
