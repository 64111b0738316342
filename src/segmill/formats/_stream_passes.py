"""What the streams of folder formats whose header depends on every mask share (image + mask folders, mask folders).

Their header (the mask mode of the dataset, the classes found in the
masks) is known once every mask was seen: a first pass reads it
(:func:`first_pass`), from the PNG headers where they say it
(:func:`decoded_mode`), then the items are read one at a time and what
their masks said is held to what the first pass read (:func:`unchanged`).
The first pass stops at the first mask the read refuses: the read raises
there, or before, so the header is never used. Each reader's item ids are
unique by construction, so the stream keeps no set of them
(:class:`~segmill.formats._perfile_stream.UniqueIds`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..errors import InputError
from ._png import read_png
from ._voc_palette import png_header

__all__ = ["decoded_mode", "first_pass", "unchanged"]

#: The mode :func:`segmill.formats._png.read_png` gives a decoded image, by the mode Pillow opens a PNG in
#: (where it decodes without an error: ``RGBA`` and the others with alpha when fully opaque).
_DECODED_AS = {"RGBA": "RGB", "LA": "L", "PA": "P", "I": "I;16", "1": "L"}


def decoded_mode(path) -> str:
    """The mode :func:`~segmill.formats._png.read_png` gives the image at ``path``, from its header where exact.

    A single-frame PNG keeps on decoding the mode Pillow opens it in
    (tests/test_image_masks_read_stream.py checks each); any other image
    (another type, an animated PNG) is decoded, as the read decodes it.

    Raises
    ------
    segmill.errors.InputError
        Where the read of the image refuses it (:func:`png_header
        <segmill.formats._voc_palette.png_header>`, then the decode).
    """
    with png_header(path) as im:
        if im is not None:
            return _DECODED_AS.get(im.mode, im.mode)
    return read_png(path).mode


def first_pass(entries: Iterable, facts: Callable) -> None:
    """``facts(entry)`` for each entry in turn, until the first one the read refuses (an InputError)."""
    for entry in entries:
        try:
            facts(entry)
        except InputError:
            return


def unchanged(items: Iterator, seen: Callable, expected, path) -> Iterator:
    """``items``, then an InputError when what their masks said (``seen()``) is not what the first pass read."""
    yield from items
    if seen() != expected:
        raise InputError("the mask files changed while they were read", path)

