"""Exception hierarchy.

Every error segmill raises on purpose derives from :class:`SegmillError`, so a
caller (and the CLI, which maps it to exit code 2) can catch one class. Any
other exception escaping segmill is a bug: the CLI reports it as an internal
error with exit code 3.

Messages are one line: :func:`one_line` escapes control characters (a file
name with a newline cannot split a message, nor forge a second one).
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = [
    "SegmillError",
    "GeometryError",
    "RLEError",
    "PolygonError",
    "InputError",
    "FormatDetectionError",
    "LossError",
    "LimitError",
    "UsageError",
    "ModelError",
    "one_line",
    "spelling",
    "spelled",
]

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def one_line(text) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x00``...), so it prints as one line."""
    return str(text).translate(_CONTROL)


# How a message names an option the caller can set: Python keywords by default;
# the CLI swaps in its flags for the command that runs (see :func:`spelled`).
_PYTHON_SPELLING = {"format": "format=NAME", "force": "force=True"}
_SPELLING: contextvars.ContextVar[dict | None] = contextvars.ContextVar("segmill_spelling", default=None)


def spelling(option: str) -> str:
    """How the current caller sets ``option`` (``"format"``, ``"force"``), for error messages.

    A Python caller reads ``force=True``; inside ``segmill convert`` the same
    message says ``--force`` (see :func:`spelled`).
    """
    table = _SPELLING.get()
    if table and option in table:
        return table[option]
    return _PYTHON_SPELLING.get(option, option)


@contextlib.contextmanager
def spelled(table: dict):
    """Within the block, :func:`spelling` answers from ``table`` (``{"force": "--force", ...}``)."""
    token = _SPELLING.set(dict(table))
    try:
        yield
    finally:
        _SPELLING.reset(token)


class SegmillError(Exception):
    """Base class of every error segmill raises deliberately."""


class GeometryError(SegmillError, ValueError):
    """A geometry (polygon, RLE, mask, box) is malformed."""


class RLEError(GeometryError):
    """An RLE is malformed: bad counts, size, or compressed string."""


class PolygonError(GeometryError):
    """A polygon is malformed: too few points, odd coordinates, NaN, ..."""


class InputError(SegmillError):
    """A dataset file cannot be read.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or os.PathLike, optional
        The file concerned.
    record : str, optional
        The record inside the file (``"annotation id 7"``, ``"line 12"``).
    """

    def __init__(self, message: str, path=None, record: str | None = None):
        self.message = one_line(message)
        self.path = None if path is None else str(path)
        self.record = None if record is None else one_line(record)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(one_line(self.path))
        if self.record:
            where.append(self.record)
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class FormatDetectionError(SegmillError):
    """The format of a path could not be told, or several formats fit."""


class LossError(SegmillError):
    """A conversion would lose information and strict mode forbids it."""


class OutputError(SegmillError, OSError):
    """The destination cannot be written: no space, no permission, a read-only disk, a name too long."""


class LimitError(InputError):
    """Input is over a resource limit (pixels, JSON depth); see :mod:`segmill.limits`."""


class UsageError(SegmillError, ValueError):
    """A caller passed an option value segmill does not know (exit code 2 on the CLI)."""


class ModelError(SegmillError, TypeError):
    """A model object was built with a value of the wrong type (a reader's validators should have caught it).

    Also a ``TypeError``, so callers building models by hand keep catching what they always did.
    """
