"""A small progress bar on stderr, shown only when enabled and stderr is a TTY."""

from __future__ import annotations

import contextvars
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("segmill_progress", default=False)


def enable(on: bool = True) -> None:
    """Turn progress bars on (the CLI does, unless ``--quiet``); the library default is off."""
    _enabled.set(on)


def track(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterator[T]:
    """Yield ``items``, drawing a bar on stderr at most 10 times a second."""
    if not _enabled.get() or not sys.stderr.isatty():
        yield from items
        return
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    start = last = time.monotonic()
    n = 0
    for n, x in enumerate(items, 1):
        yield x
        now = time.monotonic()
        if now - last >= 0.1:
            last = now
            _draw(desc, n, total, now - start)
    _draw(desc, n, total, time.monotonic() - start)
    sys.stderr.write("\n")


def _draw(desc: str, n: int, total: int | None, elapsed: float) -> None:
    if total:
        frac = min(n / total, 1.0)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{desc} [{bar:<30}] {n}/{total} {elapsed:5.1f}s")
    else:
        sys.stderr.write(f"\r{desc} {n} {elapsed:5.1f}s")
    sys.stderr.flush()


class paused:
    """A ``with`` block that draws no bar (inner work of a run that draws its own)."""

    def __enter__(self):
        self._token = _enabled.set(False)
        return self

    def __exit__(self, *exc):
        _enabled.reset(self._token)
        return False
