"""Cutting large images into fixed-size chips and putting chip annotations back (``segmill tile`` / ``untile``).

:func:`tile_dataset` cuts every image of a dataset into ``size`` x ``size``
chips (windows read from GeoTIFFs with rasterio, never the whole scene; other
images cropped with Pillow) and clips each annotation to each chip with
shapely; :func:`untile_dataset` puts chip annotations back into scene
coordinates and joins the parts of an object cut by chip borders. See
``docs/geospatial.md`` for the rules (grid, cores, visibility, joining).
"""

from .grid import Chip, chip_grid
from .report import CODES, TileReport
from .tile import TileSettings, tile_dataset
from .untile import UntileSettings, untile_dataset

__all__ = [
           "CODES",
           "Chip",
           "TileReport",
           "TileSettings",
           "UntileSettings",
           "chip_grid",
           "tile_dataset",
           "untile_dataset",
]
