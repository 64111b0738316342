"""The reader contract in code: one error policy and typed validators for untrusted values.

Every value a reader takes from a file passes through one of these functions
before it reaches the model. Each returns the value in its checked Python type
or raises :class:`~segmill.errors.InputError` naming the file and the record;
none lets a ``TypeError``, ``ValueError``, ``OverflowError`` or
``RecursionError`` escape, whatever the value is.

>>> from segmill.validate import finite, int_in, brief
>>> finite(2, "x", "a.json", "annotation 1")
2.0
>>> int_in(True, "iscrowd", "a.json", "annotation 1")
Traceback (most recent call last):
...
segmill.errors.InputError: a.json: annotation 1: iscrowd must be an integer, got True
>>> brief([[[[[[[[1]]]]]]]])
'[[[[[[[...]]]]]]]'
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError, UsageError, one_line
from .limits import check_pixels

__all__ = ["ErrorPolicy", "MODES", "brief", "finite", "int_in", "string", "hashable_id", "image_size"]

MODES = ("raise", "skip", "keep")

_repr = reprlib.Repr()
_repr.maxlevel = 6
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8
_repr.maxlong = 40


def brief(value: Any) -> str:
    """A short, one-line ``repr`` of an untrusted value: bounded in length and depth, never raises."""
    try:
        return one_line(_repr.repr(value))
    except Exception:  # a hostile __repr__ cannot come from JSON/XML, but stay total anyway
        return f"<{type(value).__name__}>"


@dataclass
class ErrorPolicy:
    """What a reader does with a bad record: the ``errors=`` option as an object.

    ``raise`` (default)
        Raise the :class:`~segmill.errors.InputError`.
    ``skip``
        Drop the record and list it in :attr:`skipped` (the CLI prints each).
    ``keep``
        For ``segmill check``: the caller keeps what it can (for example as
        :class:`~segmill.geometry.InvalidGeometry`); the problem is listed in
        :attr:`skipped` only when the record itself is dropped.

    Parameters
    ----------
    mode : {"raise", "skip", "keep"}
        An unknown mode is a :class:`~segmill.errors.UsageError`.
    skipped : list of dict
        Where dropped records are listed as ``{"path", "record", "reason"}``;
        usually ``dataset.meta["skipped"]``.
    """

    mode: str = "raise"
    skipped: list = field(default_factory=list)

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"errors must be one of {', '.join(MODES)}; got {brief(self.mode)}")

    @classmethod
    def of(cls, errors, dataset=None) -> ErrorPolicy:
        """The policy for ``errors=`` (a mode name or a policy), listing into ``dataset.meta["skipped"]``."""
        if isinstance(errors, ErrorPolicy):
            return errors
        policy = cls(errors)
        if dataset is not None:
            policy.skipped = dataset.meta.setdefault("skipped", [])
        return policy

    @property
    def raising(self) -> bool:
        return self.mode == "raise"

    @property
    def keeping(self) -> bool:
        return self.mode == "keep"

    def drop(self, exc: InputError) -> None:
        """A record cannot be read: raise in ``raise`` mode, list it otherwise (the caller drops it)."""
        if self.mode == "raise":
            raise exc
        self.skipped.append({"path": exc.path, "record": exc.record, "reason": exc.message})

    def keep_or_drop(self, exc: InputError) -> bool:
        """Raise in ``raise`` mode; list and return ``False`` in ``skip`` mode; return ``True`` in ``keep`` mode.

        For records ``keep`` mode keeps (as invalid geometry) for ``segmill check``.
        """
        if self.mode == "keep":
            return True
        self.drop(exc)
        return False


def _fail(what: str, expected: str, value, path, record):
    raise InputError(f"{what} must be {expected}, got {brief(value)}", path, record)


def finite(value, what: str, path=None, record: str | None = None, *, lo: float | None = None,
           hi: float | None = None) -> float:
    """A finite number (int or float, not bool) as a float, optionally within ``[lo, hi]``."""
    if type(value) is float:
        v = value
    elif type(value) is int or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        try:
            v = float(value)
        except OverflowError:
            _fail(what, "a finite number", value, path, record)
    else:
        _fail(what, "a number", value, path, record)
    if not math.isfinite(v):
        _fail(what, "a finite number", value, path, record)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        _fail(what, f"a number {rng}", value, path, record)
    return v


def int_in(value, what: str, path=None, record: str | None = None, *, lo: int | None = None,
           hi: int | None = None, integral_floats: bool = False) -> int:
    """An integer (not bool) within ``[lo, hi]``; with ``integral_floats``, ``3.0`` is accepted as 3."""
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        v = int(value)
    elif integral_floats and type(value) is float and math.isfinite(value) and value == int(value):
        v = int(value)
    else:
        _fail(what, "an integer", value, path, record)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        _fail(what, f"an integer {rng}", value, path, record)
    return v


def string(value, what: str, path=None, record: str | None = None, *, max_len: int = 4096,
           allow_empty: bool = True) -> str:
    """A ``str`` of at most ``max_len`` characters (and not empty unless ``allow_empty``)."""
    if not isinstance(value, str):
        _fail(what, "a string", value, path, record)
    if len(value) > max_len:
        _fail(what, f"a string of at most {max_len} characters", value, path, record)
    if not allow_empty and not value:
        _fail(what, "a non-empty string", value, path, record)
    return str(value)


def hashable_id(value, what: str, path=None, record: str | None = None) -> int | str:
    """An id: an integer (not bool) or a non-empty string of at most 256 characters."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        _fail(what, "an integer or a string", value, path, record)
    if isinstance(value, str):
        return string(value, what, path, record, max_len=256, allow_empty=False)
    return int(value)


def image_size(height, width, path=None, record: str | None = None, *, what: str = "image",
               allow_zero: bool = True) -> tuple[int, int]:
    """``(height, width)`` as non-negative ints within the pixel limit (:mod:`segmill.limits`)."""
    lo = 0 if allow_zero else 1
    h = int_in(height, f"{what} height", path, record, lo=lo)
    w = int_in(width, f"{what} width", path, record, lo=lo)
    check_pixels(h, w, path, record, what=what)
    return h, w
