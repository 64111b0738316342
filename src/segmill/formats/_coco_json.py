"""JSON in and out for the COCO formats: fast, exact, with useful errors.

orjson parses about twice as fast as the standard library on COCO files and
serializes about five times as fast; it is used when installed. The standard
library is the fallback and also the second chance for input orjson refuses
but Python's ``json`` accepts (``NaN``/``Infinity``, integers beyond 64 bits),
so that the geometry checks, not the parser, report such values.
"""

from __future__ import annotations

import contextlib
import gc
import json
from array import array
from typing import Any, Iterable

from .. import jsonio

try:  # optional speed-up, see the module docs
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

__all__ = ["load", "dumps", "ChunkedWriter", "write_list", "no_gc", "peek", "jsonable"]


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector while building many small objects.

    Parsing and model building allocate millions of containers and no cycles;
    the collector would otherwise walk them again and again (~40 % of the
    time on a val2017-sized file). On the way out everything tracked is
    promoted to the oldest generation (``gc.freeze()`` + ``gc.unfreeze()``,
    two list splices), so re-enabling does not start by scanning the whole
    new dataset as "young" objects; nothing is exempted from collection.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


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
    import numpy as np

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
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, default=_default,
                                 option=_orjson.OPT_NON_STR_KEYS | _orjson.OPT_SERIALIZE_NUMPY)
        except (TypeError, _orjson.JSONEncodeError):
            pass  # e.g. integers beyond 64 bits: let the standard library try
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default,
                          allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the source): escaped, it reads back the same
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=_default,
                          allow_nan=True).encode("ascii")


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

    def stream(self, name: str, records: Iterable) -> None:
        """Write ``records`` as a JSON list under ``name``."""
        self._key(name)
        write_list(self.f, records, self.chunk)

    def close(self) -> None:
        self.f.write(b"}")


def write_list(f, records: Iterable, chunk: int = 4096) -> None:
    """Write ``records`` to the binary file ``f`` as one JSON list, in chunks."""
    f.write(b"[")
    buf: list = []
    first = True
    for r in records:
        buf.append(r)
        if len(buf) >= chunk:
            f.write((b"" if first else b",") + dumps(buf)[1:-1])
            first, buf = False, []
    if buf:
        f.write((b"" if first else b",") + dumps(buf)[1:-1])
    f.write(b"]")
