"""Reading chips out of an image: rasterio windows for GeoTIFFs, Pillow crops for other images.

A GeoTIFF is never read whole: each chip is one windowed read (GDAL's block
cache is capped at :data:`GDAL_CACHE_MB`), written as a GeoTIFF chip with the
window's transform and the scene's CRS. Other images (PNG, JPEG...) are
opened through :func:`segmill.images.open_image` (pixel limit) and cropped;
their chips are PNG (lossless).
"""

from __future__ import annotations

import contextlib
import posixpath
from pathlib import Path

from ..errors import InputError
from ..limits import check_pixels
from ..paths import output_name, resolve_inside

__all__ = ["GDAL_CACHE_MB", "ChipSource", "chip_name", "find_scene"]

#: GDAL's block cache while tiling, in MiB (the default is 5% of the machine's memory).
GDAL_CACHE_MB = 64
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def find_scene(item, roots) -> Path | None:
    """The image file of ``item``: its file name under each root, then its base name (confined to the root)."""
    name = item.file_name.replace("\\", "/") if isinstance(item.file_name, str) else ""
    for cand in dict.fromkeys([name, posixpath.basename(name)]):
        if not cand:
            continue
        for root in roots:
            try:
                p = resolve_inside(root, cand)
            except InputError:
                continue
            if p.is_file():
                return p
    return None


def is_tiff(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in _TIFF


def chip_name(file_name: str, x: int, y: int, tiff: bool) -> str:
    """``<folder>/<stem>_x<x>_y<y>.tif`` (``.png`` for chips of other images)."""
    parts = [p for p in file_name.replace("\\", "/").split("/") if p not in ("", ".", "..")]  # stays in DST
    stem = posixpath.splitext(parts[-1])[0] if parts else ""
    name = f"{stem or 'image'}_x{x}_y{y}{'.tif' if tiff else '.png'}"
    output_name(name, "chip file name", None, file_name)
    return posixpath.join(*parts[:-1], name)


class ChipSource(contextlib.AbstractContextManager):
    """An open image that writes chips: ``write(chip, dst)``."""

    def __init__(self, path: Path, record: str | None = None):
        self.path = path
        self.record = record
        self.tiff = is_tiff(path)
        self._src = None
        self._env = None
        self._image = None

    def __enter__(self):
        if self.tiff:
            from ..formats.geojson import deps, open_scene

            rasterio, _ = deps()
            self._env = rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB, GDAL_PAM_ENABLED="NO")
            self._env.__enter__()
            self._src = open_scene(self.path, self.record)
            self.size = (self._src.height, self._src.width)
        else:
            from ..images import open_image

            self._image = open_image(self.path, self.path, self.record)
            self._image.load()
            self.size = (self._image.height, self._image.width)
        return self

    def __exit__(self, *exc):
        if self._src is not None:
            self._src.close()
        if self._env is not None:
            self._env.__exit__(*exc)
        if self._image is not None:
            self._image.close()
        return False

    def write(self, chip, dst: Path) -> None:
        """Write the chip's window of the image to ``dst``."""
        check_pixels(chip.h, chip.w, self.path, self.record, what="chip")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not self.tiff:
            self._image.crop(chip.box).save(dst, format="PNG")
            return
        self._write_tiff(chip, dst)

    def _write_tiff(self, chip, dst: Path) -> None:
        import rasterio
        from rasterio.errors import RasterioError
        from rasterio.windows import Window

        src = self._src
        window = Window(chip.x, chip.y, chip.w, chip.h)
        try:
            data = src.read(window=window)
            profile = {"driver": "GTiff", "width": chip.w, "height": chip.h, "count": src.count,
                       "dtype": src.dtypes[0], "crs": src.crs, "transform": src.window_transform(window),
                       "nodata": src.nodata, "compress": "deflate"}
            with rasterio.open(dst, "w", **profile) as out:
                out.write(data)
        except (RasterioError, ValueError) as exc:
            raise InputError(f"cannot read the window {chip.box} of the scene: {exc}", self.path, self.record) \
                from None
