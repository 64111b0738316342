"""Reading JSON from untrusted files: one loader for every reader.

orjson parses first (fast); the standard library is the second chance for
input orjson refuses but Python's ``json`` accepts (``NaN``/``Infinity``,
integers beyond 64 bits), so that validators, not the parser, report such
values. Nesting deeper than :data:`segmill.limits.MAX_JSON_DEPTH` is refused
before parsing, and every parser error becomes one
:class:`~segmill.errors.InputError` line with its position.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from .errors import InputError, LimitError
from .limits import MAX_JSON_DEPTH

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library still works
    _orjson = None

__all__ = ["load", "parse", "read_bytes", "too_deep_error", "strict_jsonable"]

#: Documents smaller than this are scanned for depth in Python (no kernel start-up).
_SMALL = 64 * 1024


def _check_depth(data: bytes, path) -> None:
    if len(data) < _SMALL:
        deep = _too_deep_small(data)
    else:
        # lazy: start-up time (the depth kernel imports numba)
        from ._json_depth import too_deep

        deep = too_deep(data, MAX_JSON_DEPTH)
    if deep:
        raise too_deep_error(path)


def too_deep_error(path) -> LimitError:
    """The error for a document nested deeper than :data:`~segmill.limits.MAX_JSON_DEPTH` (for other scanners too)."""
    return LimitError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", path)


def _too_deep_small(data: bytes) -> bool:
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:  # cannot nest deeper than it opens
        return False
    text = data.decode("utf-8", "replace")
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def parse(data: bytes, path=None, *, object_hook: Callable | None = None) -> tuple[Any, bool]:
    """Parse JSON bytes from ``path``.

    Parameters
    ----------
    data : bytes
    path : path, optional
        For messages.
    object_hook : callable, optional
        Passed to the standard parser (then orjson is not used): called on
        every object as it is parsed.

    Returns
    -------
    value : object
    nonfinite : bool
        ``True`` when the document holds ``NaN``/``Infinity`` literals. A
        number beyond the double range (``1e999``) parses to infinity without
        setting it (a per-number hook would cost seconds on big files), so
        validators check finiteness themselves (``segmill.validate.finite``).

    Raises
    ------
    segmill.errors.InputError
        Not UTF-8, invalid JSON (line and column), or nested too deeply
        (:class:`~segmill.errors.LimitError`).
    """
    _check_depth(data, path)
    if _orjson is not None and object_hook is None:
        try:
            return _orjson.loads(data), False
        except _orjson.JSONDecodeError:
            pass  # the standard parser gives the message (and accepts NaN)
    seen: list[str] = []

    def constant(name):
        seen.append(name)
        return float(name)

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not UTF-8 text (byte {exc.start})", path) from None
    try:
        value = json.loads(text, parse_constant=constant, object_hook=object_hook)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise InputError(f"invalid JSON: {exc}", path) from None
    except RecursionError:  # unreachable after the depth check; kept so no input can reach exit 3
        raise LimitError("JSON nested too deeply", path) from None
    return value, bool(seen)


def load(path, *, object_hook: Callable | None = None) -> tuple[Any, bool]:
    """Read and :func:`parse` the JSON file at ``path``; an unreadable file is an InputError."""
    p = Path(path)
    return parse(read_bytes(p), p, object_hook=object_hook)


def read_bytes(path) -> bytes:
    """The bytes of the file at ``path``; an unreadable file is an InputError (the wording :func:`load` uses)."""
    p = Path(path)
    try:
        return p.read_bytes()
    except IsADirectoryError:
        raise InputError("is a directory, not a JSON file", p) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", p) from None


def strict_jsonable(value) -> bool:
    """``value`` dumps to standard JSON: no NaN or infinity, no object JSON cannot hold, not too deep."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True
