"""What the masks of a VOC folder say of the whole dataset: ``meta["palette"]`` and ``meta["voc_mask_mode"]``.

A VOC read records the palette when every paletted class mask has the same
one, and ``voc_mask_mode = "RGB"`` when every image with a mask has RGB
masks (the writer writes them back so). A stream needs both before the first
item: :func:`mask_facts` gives a mask's mode and palette from its PNG header
alone (Pillow opens lazily: ``PLTE`` is read, the pixels are not), exactly
as :func:`segmill.formats._png.read_png` would give them once decoded. Where
the header alone cannot say it exactly (no ``PLTE``, a ``PLTE`` whose length
is not a whole number of colours up to 256, an animated PNG, not a PNG at
all) the mask is decoded, as the read decodes it.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..images import open_header
from ._png import read_label_png

__all__ = ["MaskFacts", "mask_facts", "png_header"]

#: What the read accepts, by the mode Pillow opens a PNG in (``RGBA``: when fully opaque, checked on decoding).
_READ_AS = {"P": "P", "RGB": "RGB", "RGBA": "RGB"}


class MaskFacts:
    """The palettes and modes of the masks read so far, in constant memory.

    ``add`` each image's class-mask palette (bytes or None) and mask mode
    (``"P"``, ``"RGB"`` or None); :meth:`apply` sets the dataset meta.
    """

    def __init__(self):
        self.palette: bytes | None = None
        self.palettes = 0  # distinct palettes seen: 0, 1 or 2 (two or more)
        self.modes: set[str] = set()

    def add(self, palette: bytes | None, mode: str | None) -> None:
        if palette is not None and self.palettes < 2:
            if self.palettes == 0:
                self.palette, self.palettes = palette, 1
            elif palette != self.palette:
                self.palette, self.palettes = None, 2
        if mode:
            self.modes.add(mode)

    def apply(self, meta: dict) -> None:
        """Set ``meta["palette"]`` (one palette across the class masks) and ``meta["voc_mask_mode"]``."""
        if self.palettes == 1:
            # bytes, not an array: Dataset equality compares meta
            meta["palette"] = self.palette
        if self.modes == {"RGB"}:
            meta["voc_mask_mode"] = "RGB"

    def __eq__(self, other) -> bool:
        if not isinstance(other, MaskFacts):
            return NotImplemented
        return (self.palettes, self.palette, self.modes) == (other.palettes, other.palette, other.modes)


@contextmanager
def png_header(path):
    """The image at ``path`` opened lazily (its header read, not its pixels) when it is a single-frame PNG,
    whose header says what decoding it gives; else ``None`` (decode it to know).

    Raises
    ------
    segmill.errors.InputError
        The file is not an image, or over the pixel limit.
    """
    im = open_header(path, path, None)
    with im:
        yield im if im.format == "PNG" and getattr(im, "n_frames", 1) == 1 else None


def mask_facts(path) -> tuple[str, bytes | None]:
    """``(mode, palette)`` of a mask as the VOC read gets them on decoding it, from the header where exact.

    ``mode`` is ``"P"`` or ``"RGB"``; ``palette`` the raw RGB bytes of a
    paletted mask, else None.

    Raises
    ------
    segmill.errors.InputError
        The file is not an image, over the pixel limit, or (when decoded)
        one the read refuses; the read then refuses it too.
    """
    with png_header(path) as im:
        mode = _READ_AS.get(im.mode) if im is not None else None
        if mode is not None:
            if mode == "RGB":
                return mode, None
            raw = _plain_palette(im)
            if raw is not None:
                return mode, raw
    img = read_label_png(path, modes=("P", "RGB"))  # the decode the read makes
    return img.mode, img.palette.tobytes() if img.palette is not None else None


def _plain_palette(im) -> bytes | None:
    """The ``PLTE`` bytes of a lazily opened paletted PNG when Pillow's decoded palette is exactly them.

    Pillow keeps ``PLTE`` raw until it decodes; it then stores whole colours,
    up to 256. A ``PLTE`` of 0 to 256 whole colours comes back unchanged
    (tests/test_voc_read_stream.py checks each length); other lengths are
    decoded instead.
    """
    pal = im.palette
    if pal is None or pal.rawmode is not None or pal.mode != "RGB":
        return None
    raw = pal.palette
    if not isinstance(raw, (bytes, bytearray)) or len(raw) % 3 or len(raw) > 768:
        return None
    return bytes(raw)
