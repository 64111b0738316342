"""The chip grid of one image: chip origins, sizes and cores.

Chips start every ``size - overlap`` pixels along each axis; the last chip of
a row (column) is moved back to end at the image's edge, so every chip is
``size`` wide unless the image itself is narrower (then one chip as wide as
the image). A chip's *core* is the part of the image it is responsible for:
the overlap between two neighbours is split at its middle (integer pixel
boundary), so the cores tile the image exactly once. Area accounting and
``untile`` use the cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

__all__ = ["Chip", "axis_starts", "chip_grid"]


@dataclass(frozen=True)
class Chip:
    """One chip: its window ``(x, y, w, h)`` and its core ``(x0, y0, x1, y1)``, in image pixels."""

    x: int
    y: int
    w: int
    h: int
    core: tuple[int, int, int, int]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of the window."""
        return (self.x, self.y, self.x + self.w, self.y + self.h)


def axis_starts(length: int, size: int, overlap: int) -> list[int]:
    """Chip origins along one axis of ``length`` pixels."""
    if length <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, length - size, stride))
    starts.append(length - size)
    return starts


def _cores(starts: list[int], size: int, length: int) -> list[tuple[int, int]]:
    bounds = [0] + [(b + a + size) // 2 for a, b in pairwise(starts)] + [length]
    return list(pairwise(bounds))


def chip_grid(width: int, height: int, size: int, overlap: int) -> list[Chip]:
    """Every chip of a ``width x height`` image, row by row.

    Raises
    ------
    ValueError
        ``size`` < 1, or ``overlap`` not in ``[0, size)``.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"size must be at least 1 and overlap in [0, size); got size {size}, overlap {overlap}")
    xs, ys = axis_starts(width, size, overlap), axis_starts(height, size, overlap)
    cx, cy = _cores(xs, size, width), _cores(ys, size, height)
    out = []
    for y, (y0, y1) in zip(ys, cy):
        for x, (x0, x1) in zip(xs, cx):
            out.append(Chip(x, y, min(size, width), min(size, height), (x0, y0, x1, y1)))
    return out
