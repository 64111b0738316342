"""The memory budget: one setting that sizes everything a streaming run keeps in memory.

A streaming run holds a few things whose size is a choice, not a need: the
size from which a COCO file is streamed instead of read whole, the spans of
its index kept in memory before they spill to a scratch file, the report
entries (losses, edits) kept before they spill, the images an edit holds at
once, the image-list lines a VOC write holds. Each is declared where it is
used as its value at the default budget of 1 GiB, and used as
:func:`scaled` of that: a budget of 256 MiB quarters all of them.

The budget in force is, first to last: the one set with :func:`using` (the
CLI's ``--memory-budget``), the environment variable
``SEGMILL_MEMORY_BUDGET``, the default (1 GiB, or an eighth of the machine's
memory when that is less). Sizes are written ``512M``, ``2G``, ``1.5GiB`` or
a number of bytes.

The budget bounds what segmill chooses to keep; a single image, a dataset's
categories and a whole-dataset read (a format that cannot stream) take what
they take.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from functools import lru_cache

from .errors import UsageError

__all__ = ["DEFAULT", "MINIMUM", "memory_budget", "parse_size", "scaled", "using"]

#: The budget the constants are written for.
DEFAULT = 1 << 30
#: The smallest budget accepted: below it the scratch files would be written a few records at a time.
MINIMUM = 16 << 20

_set: int | None = None
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(text, what: str = "--memory-budget") -> int:
    """Bytes from ``"512M"``, ``"2G"``, ``"1.5GiB"``, ``"800000000"`` (units are powers of 1024).

    Raises
    ------
    segmill.errors.UsageError
        Not a size, or under :data:`MINIMUM`.
    """
    m = _SIZE.fullmatch(str(text))
    if not m:
        raise UsageError(f"{what} must be a size such as 512M, 2G or a number of bytes; got {text!r}")
    value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value < MINIMUM:
        raise UsageError(f"{what} must be at least {MINIMUM >> 20}M; got {text!r}")
    return value


@lru_cache(maxsize=1)
def _machine() -> int | None:
    """The machine's memory in bytes (asked once), or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def memory_budget() -> int:
    """The budget in force, in bytes (module docs)."""
    if _set is not None:
        return _set
    env = os.environ.get("SEGMILL_MEMORY_BUDGET")
    if env:
        return parse_size(env, "SEGMILL_MEMORY_BUDGET")
    ram = _machine()
    return DEFAULT if not ram else max(MINIMUM, min(DEFAULT, ram // 8))


def scaled(value: int, minimum: int = 1) -> int:
    """``value`` (a size chosen for the default budget) scaled to the budget in force.

    Never under ``minimum``, unless ``value`` itself is (a test sets a
    threshold to 0 or 3 to force a path: it stays that).
    """
    return max(min(minimum, value), value * memory_budget() // DEFAULT)


@contextmanager
def using(nbytes: int | None):
    """Run the body with the budget ``nbytes`` (``None``: the environment's or the default)."""
    global _set
    old = _set
    _set = nbytes
    try:
        yield
    finally:
        _set = old
