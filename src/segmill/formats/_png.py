"""PNG reading and writing shared by the mask formats (VOC, mask folders, panoptic, ...).

Small API:

* :func:`voc_colormap` - the Pascal VOC palette (DESIGN.md section 5);
* :func:`read_png` - open a PNG safely (Pillow's decompression-bomb limit
  and any decoding failure become :class:`~segmill.errors.InputError` naming
  the file) and return a :class:`PngImage` (array, mode, palette);
* :func:`read_label_png` - a 2-D map of integer labels from a paletted, 8-bit
  or 16-bit PNG, with size and bit-depth checks;
* :func:`write_png` - write a label map (paletted with a given palette, 8-bit
  or 16-bit grey) or an RGB array.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["PngImage", "voc_colormap", "read_png", "read_label_png", "write_png", "check_size", "colors_to_index"]


def voc_colormap(n: int = 256) -> np.ndarray:
    """The Pascal VOC colour map: an ``(n, 3)`` uint8 array.

    For index ``i``, over 8 rounds ``j = 0..7``, bits 0, 1, 2 of ``i`` go to R,
    G, B at bit ``7 - j``, then ``i`` is shifted right by 3.

    Examples
    --------
    >>> voc_colormap()[[0, 1, 2, 255]].tolist()
    [[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]]
    """
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

    Raises
    ------
    segmill.errors.InputError
        The file is missing, not an image, truncated, or larger than
        Pillow's ``Image.MAX_IMAGE_PIXELS`` (a decompression bomb).
    """
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                mode = im.mode
                palette = None
                if mode == "P":
                    raw = im.getpalette() or []
                    palette = np.asarray(raw, np.uint8).reshape(-1, 3)
                    arr = np.asarray(im)
                elif mode in ("RGBA", "LA", "PA"):
                    arr = np.asarray(im)
                    if not np.all(arr[..., -1] == 255):
                        raise InputError(f"image has a transparent alpha channel (mode {mode}); "
                                         "labels cannot be read from it", path)
                    arr = arr[..., :-1]
                    if mode == "LA":
                        arr = arr[..., 0]
                    mode = mode[:-1]
                elif mode in ("I;16", "I;16B", "I;16L"):
                    arr = np.asarray(im).astype(np.uint16)
                elif mode == "I":
                    arr = np.asarray(im)
                    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
                        raise InputError("32-bit image values do not fit a label map", path)
                    arr = arr.astype(np.uint16)
                    mode = "I;16"
                elif mode == "1":
                    arr = np.asarray(im).astype(np.uint8)
                    mode = "L"
                else:
                    arr = np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            f"image exceeds Pillow's decompression-bomb limit of {limit} pixels ({exc}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted",
            path,
        ) from None
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except UnidentifiedImageError:
        raise InputError("not an image Pillow can read", path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot decode image: {exc}", path) from None
    return PngImage(np.ascontiguousarray(arr), mode, palette)


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


def write_png(path, array: np.ndarray, palette: np.ndarray | None = None, compress_level: int = 1) -> None:
    """Write a label map or RGB array as PNG.

    ``uint8`` 2-D arrays are written paletted when ``palette`` (``(k, 3)``)
    is given, else as 8-bit grey; ``uint16`` (or wider with values up to
    65535) as 16-bit grey; ``(h, w, 3)`` uint8 as RGB. ``compress_level`` 1
    (zlib's fastest) is the default: label maps compress well anyway, and
    level 6 (Pillow's default) costs about 3x the time.
    """
    from PIL import Image

    arr = np.asarray(array)
    if arr.ndim == 3:
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), "RGB")
    elif palette is not None:
        if arr.size and int(arr.max()) > 255:
            raise ValueError("a paletted PNG holds values 0..255 only")
        a8 = np.ascontiguousarray(arr, dtype=np.uint8)
        im = Image.frombytes("P", (a8.shape[1], a8.shape[0]), a8.tobytes())
        im.putpalette(np.asarray(palette, np.uint8).reshape(-1).tolist())
    elif arr.dtype != np.uint16 and (arr.size == 0 or (int(arr.min()) >= 0 and int(arr.max()) <= 255)):
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8), "L")
    else:
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
            raise ValueError("label values must fit 16 bits")
        im = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint16))
    im.save(path, format="PNG", compress_level=compress_level)
