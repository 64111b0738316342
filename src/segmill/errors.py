"""Exception hierarchy.

Every error segmill raises on purpose derives from :class:`SegmillError`, so a
caller (and the CLI, which maps it to exit code 2) can catch one class.
"""

from __future__ import annotations

__all__ = [
    "SegmillError",
    "GeometryError",
    "RLEError",
    "PolygonError",
    "InputError",
    "FormatDetectionError",
    "LossError",
]


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
        self.message = message
        self.path = None if path is None else str(path)
        self.record = record
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.record:
            where.append(self.record)
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class FormatDetectionError(SegmillError):
    """The format of a path could not be told, or several formats fit."""


class LossError(SegmillError):
    """A conversion would lose information and strict mode forbids it."""
