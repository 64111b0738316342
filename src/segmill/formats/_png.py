"""PNG reading and writing shared by the mask formats (VOC, mask folders, panoptic, ...).

Small API:

* :func:`voc_colormap` - the Pascal VOC palette (docs/internals.md, "VOC colour map");
* :func:`read_png` - open a PNG safely (through :func:`segmill.images.open_image`:
  the pixel limit is checked before decoding, and any decoding failure is an
  :class:`~segmill.errors.InputError` naming the file) and return a
  :class:`PngImage` (array, mode, palette);
* :func:`read_label_png` - a 2-D map of integer labels from a paletted, 8-bit
  or 16-bit PNG, with size and bit-depth checks;
* :func:`write_png` - write a label map (paletted with a given palette, 8-bit
  or 16-bit grey) or an RGB array.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .. import images
from ..errors import InputError

__all__ = ["PngImage", "check_size", "colors_to_index", "read_label_png", "read_png", "voc_colormap", "write_png"]


def voc_colormap(n: int = 256) -> np.ndarray:
    """The Pascal VOC colour map: an ``(n, 3)`` uint8 array.

    For index ``i``, over 8 rounds ``j = 0..7``, bits 0, 1, 2 of ``i`` go to R,
    G, B at bit ``7 - j``, then ``i`` is shifted right by 3.

    Examples
    --------
    >>> voc_colormap()[[0, 1, 2, 255]].tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]]
    """
    return _VOC_COLORMAP[:n].copy() if n <= 256 else _voc_colormap(n)


def _voc_colormap(n: int) -> np.ndarray:
    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


_VOC_COLORMAP = _voc_colormap(256)


@dataclass
class PngImage:
    """A decoded PNG.

    Attributes
    ----------
    array : numpy.ndarray
        ``(h, w)`` for paletted / grey images (uint8, or uint16 for 16-bit),
        ``(h, w, 3)`` uint8 for RGB (an alpha channel is dropped only when
        fully opaque).
    mode : str
        Pillow's mode as opened (``"P"``, ``"L"``, ``"I;16"``, ``"RGB"``, ...).
    palette : numpy.ndarray or None
        ``(k, 3)`` uint8 palette of a paletted image.
    """

    array: np.ndarray
    mode: str
    palette: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return int(self.array.shape[0]), int(self.array.shape[1])


def read_png(path) -> PngImage:
    """Open a PNG (or any image Pillow reads) without trusting it.

    The image goes through :func:`segmill.images.open_image`: its declared
    size is checked against the pixel limit (``SEGMILL_MAX_PIXELS``, else
    Pillow's ``Image.MAX_IMAGE_PIXELS``) before anything is decoded.

    Raises
    ------
    segmill.errors.InputError
        The file is missing, a directory, not an image, truncated, has a
        transparent alpha channel or 32-bit values beyond 16 bits;
        :class:`~segmill.errors.LimitError` when it is larger than the pixel
        limit (a decompression bomb).
    """
    im = images.open_image(path, path)
    with im:  # a multi-frame image keeps its file open after load()
        try:
            arr, mode, palette = _pixels(im, path)
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise InputError(f"cannot decode image: {exc}", path) from None
    return PngImage(np.ascontiguousarray(arr), mode, palette)


def _pixels(im, path):
    """``(array, mode, palette)`` of a decoded image, with the mode conventions of :class:`PngImage`."""
    mode = im.mode
    palette = None
    if mode in ("P", "PA"):
        raw = im.getpalette() or []
        palette = np.asarray(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3)
    if mode in ("RGBA", "LA", "PA"):
        arr = np.asarray(im)
        if not np.all(arr[..., -1] == 255):
            raise InputError(f"image has a transparent alpha channel (mode {mode}); "
                             "labels cannot be read from it", path)
        arr = arr[..., 0] if mode in ("LA", "PA") else arr[..., :-1]
        return arr, mode[:-1], palette
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16), mode, None
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
            raise InputError("32-bit image values do not fit a label map", path)
        return arr.astype(np.uint16), "I;16", None
    if mode == "1":
        return np.asarray(im).astype(np.uint8), "L", None
    return np.asarray(im), mode, palette


def check_size(img: PngImage | np.ndarray, size, path, what: str = "annotation") -> None:
    """Raise :class:`InputError` when an image is not ``size = (height, width)``."""
    shape = img.size if isinstance(img, PngImage) else img.shape[:2]
    if size is not None and tuple(shape) != tuple(size):
        raise InputError(
            f"mask is {shape[1]}x{shape[0]} (width x height) but the {what} says {size[1]}x{size[0]}", path
        )


def colors_to_index(rgb: np.ndarray, colors: np.ndarray, path=None) -> np.ndarray:
    """Map an ``(h, w, 3)`` RGB array to indices of ``colors`` (``(k, 3)``).

    The first index wins when a colour repeats. A colour that is not in
    ``colors`` raises :class:`InputError` naming it and one pixel that has it.
    """
    key = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2].astype(np.int32)
    ckey = (colors[:, 0].astype(np.int32) << 16) | (colors[:, 1].astype(np.int32) << 8) | colors[:, 2].astype(np.int32)
    lut = {}
    for i, k in enumerate(ckey.tolist()):
        lut.setdefault(k, i)
    uniq, inv = np.unique(key.reshape(-1), return_inverse=True)
    out_u = np.empty(len(uniq), np.uint16 if len(colors) > 256 else np.uint8)
    for j, k in enumerate(uniq.tolist()):
        idx = lut.get(k)
        if idx is None:
            pos = np.argwhere(key == k)[0]
            col = ((k >> 16) & 255, (k >> 8) & 255, k & 255)
            raise InputError(f"colour {col} at pixel (row {pos[0]}, col {pos[1]}) is not in the colour map", path)
        out_u[j] = idx
    return out_u[inv].reshape(key.shape)


def read_label_png(path, *, size=None, allow_16bit: bool = False, modes=("P", "L", "I;16")) -> PngImage:
    """Read a label map (one integer per pixel) and check it.

    Parameters
    ----------
    path : path
    size : (height, width), optional
        Expected size; a mismatch raises.
    allow_16bit : bool
        16-bit images are refused unless this is set.
    modes : tuple of str
        Pillow modes accepted (``"P"``, ``"L"``, ``"I;16"``, ``"RGB"``).

    Raises
    ------
    segmill.errors.InputError
        Unreadable, wrong mode, 16-bit where 8-bit is expected, or wrong size.
    """
    img = read_png(path)
    if img.mode == "I;16" and not allow_16bit:
        raise InputError("16-bit image where an 8-bit label map is expected", path)
    if img.mode not in modes:
        need = " or ".join(modes)
        raise InputError(f"image mode is {img.mode}; expected {need}", path)
    check_size(img, size, path)
    return img


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _paletted_png(a8: np.ndarray, palette: np.ndarray, compress_level: int) -> bytes:
    """An 8-bit paletted PNG of ``a8`` with a 256-colour ``palette`` (768 bytes), as Pillow writes it.

    Pillow's encoder writes IHDR, PLTE, the rows unfiltered (a 0 byte before
    each) deflated with zlib (window 15, memory level 9) in IDAT chunks of at
    most 64 KiB, and IEND; tests/test_png_fastpath.py holds the two to the
    same bytes.
    """
    h, w = a8.shape
    raw = np.empty((h, w + 1), np.uint8)
    raw[:, 0] = 0
    raw[:, 1:] = a8
    z = zlib.compressobj(compress_level, zlib.DEFLATED, 15, 9)
    data = z.compress(raw.data) + z.flush()
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
             _chunk(b"PLTE", palette.tobytes())]
    parts += [_chunk(b"IDAT", data[i:i + _IDAT]) for i in range(0, len(data), _IDAT)]
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


#: Pillow's IDAT chunk size (its encoder's buffer, ImageFile.MAXBLOCK).
_IDAT = 65536


def write_png(path, array: np.ndarray, palette: np.ndarray | None = None, compress_level: int = 1) -> None:
    """Write a label map or RGB array as PNG.

    ``uint8`` 2-D arrays are written paletted when ``palette`` (``(k, 3)``)
    is given, else as 8-bit grey; ``uint16`` (or wider with values up to
    65535) as 16-bit grey; ``(h, w, 3)`` uint8 as RGB. ``compress_level`` 1
    (zlib's fastest) is the default: label maps compress well anyway, and
    level 6 (Pillow's default) costs about 3x the time.
    """
    # lazy: start-up time (PIL is only needed to write PNGs)
    from PIL import Image

    arr = np.asarray(array)
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        # PNG has no empty image; writers refuse such items first, this names the file if one does not
        raise InputError(f"cannot write an empty image (shape {arr.shape})", path)
    if arr.ndim == 3:
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), "RGB")
    elif palette is not None:
        if arr.size and int(arr.max()) > 255:
            raise ValueError("a paletted PNG holds values 0..255 only")
        a8 = np.ascontiguousarray(arr, dtype=np.uint8)
        pal = np.asarray(palette, np.uint8).reshape(-1)
        if pal.size == 768 and a8.ndim == 2:  # a full palette (VOC's): the bytes Pillow writes, without Pillow's overhead
            with open(path, "wb") as f:
                f.write(_paletted_png(a8, pal, compress_level))
            return
        im = Image.frombytes("P", (a8.shape[1], a8.shape[0]), a8.tobytes())
        im.putpalette(np.asarray(palette, np.uint8).reshape(-1).tolist())
    elif arr.dtype != np.uint16 and (arr.size == 0 or (int(arr.min()) >= 0 and int(arr.max()) <= 255)):
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), "L")
    else:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
            raise ValueError("label values must fit 16 bits")
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint16))
    im.save(path, format="PNG", compress_level=compress_level)
