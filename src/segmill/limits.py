"""Resource limits applied to untrusted input, before any decode or allocation.

One pixel limit serves every reader, writer, the HTML report and
:mod:`segmill.rle`. It defaults to Pillow's ``Image.MAX_IMAGE_PIXELS`` (the
value Pillow itself uses to refuse decompression bombs, 89,478,485 unless a
program changed it) and is set for a whole run with the environment variable
``SEGMILL_MAX_PIXELS``. It is read at each check, so a test or a program may
change either at run time.

JSON nesting is limited to :data:`MAX_JSON_DEPTH` levels: annotation files
are a handful of levels deep, and values nested thousands deep only exhaust
the interpreter's stack later on (in messages, comparisons, writers).
"""

from __future__ import annotations

import os
import sys

from .errors import LimitError

__all__ = ["max_pixels", "check_pixels", "MAX_JSON_DEPTH", "PIL_DEFAULT_MAX_PIXELS", "COUNTS_MAX"]

#: Pillow's own default ``Image.MAX_IMAGE_PIXELS`` (1 GiB / 4 bytes / 3 channels).
PIL_DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3

#: RLE counts are uint32, as in pycocotools: no mask may have more pixels.
COUNTS_MAX = 0xFFFFFFFF

#: Deepest JSON nesting a reader accepts.
MAX_JSON_DEPTH = 64


def max_pixels() -> int:
    """The pixel limit in force.

    ``SEGMILL_MAX_PIXELS`` when set (a positive integer), else Pillow's
    ``Image.MAX_IMAGE_PIXELS`` (when Pillow is loaded and the limit is not
    disabled there), else Pillow's default. Never more than 2**32 - 1, the
    most an RLE can count.
    """
    env = os.environ.get("SEGMILL_MAX_PIXELS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise LimitError(f"SEGMILL_MAX_PIXELS must be a positive integer, got {env!r}") from None
        if value <= 0:
            raise LimitError(f"SEGMILL_MAX_PIXELS must be a positive integer, got {env!r}")
        return min(value, COUNTS_MAX)
    image = sys.modules.get("PIL.Image")  # importing Pillow just to read a constant costs start-up time
    limit = getattr(image, "MAX_IMAGE_PIXELS", PIL_DEFAULT_MAX_PIXELS) if image else PIL_DEFAULT_MAX_PIXELS
    return COUNTS_MAX if limit is None else min(int(limit), COUNTS_MAX)


def check_pixels(height: int, width: int, path=None, record: str | None = None, *,
                 error: type = LimitError, what: str = "image") -> None:
    """Raise ``error`` when ``height * width`` is over :func:`max_pixels`.

    Parameters
    ----------
    height, width : int
        Already validated non-negative integers.
    path, record :
        Where the size was read, for the message (``error`` must accept them
        when given: :class:`~segmill.errors.InputError` and its subclasses do).
    error : type
        The exception class raised.
    what : str
        What has that size (``"image"``, ``"RLE"``).
    """
    limit = max_pixels()
    if height * width > limit:
        msg = (f"{what} size {width}x{height} ({height * width:,} pixels) is over the pixel limit of "
               f"{limit:,}; set SEGMILL_MAX_PIXELS to raise it if the data is trusted")
        if path is None and record is None:
            raise error(msg)
        raise error(msg, path, record)
