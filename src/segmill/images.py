"""Opening images without trusting them: the pixel limit is checked before any decode.

Pillow reads an image's header lazily; only :meth:`PIL.Image.Image.load`
decodes. :func:`open_image` checks the declared size against
:func:`segmill.limits.max_pixels` in between, so a 93 KB PNG declaring 95
million pixels is refused before a byte of it is inflated. Every path that
reads an image (readers, ``segmill check``, the HTML report) goes through here.
"""

from __future__ import annotations

import threading
import warnings

from .errors import InputError
from .limits import check_pixels

__all__ = ["open_header", "open_image", "image_size"]

_PIL_LIMIT_LOCK = threading.Lock()


def open_header(src, path, record):
    """Open ``src`` (a path or a file object) reading only its header; segmill's limit, not Pillow's.

    Parameters
    ----------
    src : path or file object
    path, record :
        What an :class:`~segmill.errors.InputError` names.

    Returns
    -------
    PIL.Image.Image
        Opened lazily (no pixel decoded), its size within the pixel limit.
    """
    # lazy: start-up time (PIL is only needed to open images)
    from PIL import Image, UnidentifiedImageError

    with _PIL_LIMIT_LOCK:  # Pillow's own bomb check would apply its limit, not SEGMILL_MAX_PIXELS
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(src)
        except FileNotFoundError:
            raise InputError("file not found", path, record) from None
        except IsADirectoryError:
            raise InputError("is a directory, not an image", path, record) from None
        except UnidentifiedImageError:
            raise InputError("not an image Pillow can read", path, record) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"cannot read the image header: {exc}", path, record) from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    try:
        w, h = im.size
        check_pixels(h, w, path, record)
    except BaseException:
        im.close()
        raise
    return im


def image_size(src, path=None, record: str | None = None) -> tuple[int, int]:
    """``(height, width)`` from an image's header, within the pixel limit; nothing is decoded."""
    im = open_header(src, path if path is not None else src, record)
    with im:
        w, h = im.size
    return h, w


def open_image(src, path=None, record: str | None = None):
    """Decode an image within the pixel limit.

    Parameters
    ----------
    src : path or file object
    path, record :
        For messages (``path`` defaults to ``src``).

    Returns
    -------
    PIL.Image.Image
        Decoded (Pillow closes a file it opened by name once a single-frame image is loaded).

    Raises
    ------
    segmill.errors.InputError
        Missing, a directory, not an image, truncated, or over the pixel limit
        (:class:`~segmill.errors.LimitError`).
    """
    path = path if path is not None else src
    im = open_header(src, path, record)
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        im.close()
        raise InputError(f"cannot decode the image: {exc}", path, record) from None
    return im
