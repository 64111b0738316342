"""GeoTIFF scenes for the ``geojson`` format and ``segmill tile``: headers, CRSs and the affine transform.

Only a scene's header is read (``rasterio.open``: CRS, transform, width,
height), never its pixels. A file is handed to GDAL only when its first bytes
are those of a TIFF, PNG or JPEG, and GDAL may open it only with those three
drivers (a ``.tif`` holding VRT XML could otherwise make GDAL read any file).

The georeferencing travels as the item attribute ``geo`` (see
:func:`geo_attribute`), plain JSON, so it survives a trip through COCO.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..validate import brief, finite, int_in

__all__ = [
    "DRIVERS",
    "GEO_KEY",
    "MAX_SIDE",
    "SCENE_SUFFIXES",
    "deps",
    "geo_attribute",
    "geo_of",
    "reprojector",
    "scene_header",
    "to_map",
    "to_pixels",
    "vector_crs_name",
]

#: File name endings of scenes (GeoTIFF first; PNG/JPEG scenes have no georeferencing: pixel coordinates).
SCENE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: The item attribute holding a scene's georeferencing.
GEO_KEY = "geo"
#: The largest scene side accepted (GDAL's own limit on a raster side is 2**31 - 1).
MAX_SIDE = 2**31 - 1
#: The GDAL drivers a scene may be opened with.
DRIVERS = ("GTiff", "PNG", "JPEG")
_MAGIC = ((b"II*\x00", "GTiff"), (b"MM\x00*", "GTiff"), (b"II+\x00", "GTiff"), (b"MM\x00+", "GTiff"),
          (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))
_GDAL_ENV = {"GDAL_PAM_ENABLED": "NO", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_LOG_ERRORS": "OFF"}


def deps():
    """``(rasterio, pyproj)``, or a UsageError naming the ``geo`` extra."""
    try:
        import pyproj
        import rasterio
    except ImportError as exc:
        raise UsageError(f"the geojson format and `segmill tile` need {exc.name}: "
                         "pip install 'segmill[geo]'") from None
    return rasterio, pyproj


def _driver(path: Path, record) -> str:
    """The one GDAL driver the file's first bytes call for; InputError for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"cannot read the scene: {exc.strerror or exc}", path, record) from None
    for magic, driver in _MAGIC:
        if head.startswith(magic):
            return driver
    raise InputError("the scene is not a TIFF, PNG or JPEG file", path, record)


def open_scene(path: Path, record: str | None = None):
    """The scene opened read-only with rasterio (header only until a window is read); InputError when GDAL refuses."""
    rasterio, _ = deps()
    driver = _driver(path, record)
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with rasterio.Env(**_GDAL_ENV), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path, driver=driver)
    except (RasterioError, OSError, ValueError) as exc:
        raise InputError(f"GDAL cannot open the scene: {brief(str(exc))}", path, record) from None


def scene_header(path: Path, record: str | None = None) -> dict:
    """The scene's georeferencing as the ``geo`` attribute (:func:`geo_attribute`), from its header only."""
    src = open_scene(path, record)
    try:
        crs = src.crs
        t = src.transform
        width, height = src.width, src.height
        wkt = crs.to_wkt() if crs is not None else None
        epsg = crs.to_epsg() if crs is not None else None
    except Exception as exc:  # noqa: BLE001 - GDAL/PROJ refusing a malformed header in any way
        raise InputError(f"the scene's header cannot be read: {brief(str(exc))}", path, record) from None
    finally:
        src.close()
    return geo_attribute(wkt, epsg, (t.a, t.b, t.c, t.d, t.e, t.f), width, height, path, record)


def geo_attribute(crs_wkt, epsg, transform, width, height, path=None, record=None) -> dict:
    """The ``geo`` attribute, checked: ``{"crs", "epsg", "transform", "width", "height"}``.

    ``transform`` is rasterio's ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``,
    ``y = d*col + e*row + f``; it must be invertible.
    """
    if crs_wkt is not None and not isinstance(crs_wkt, str):
        raise InputError(f"geo crs must be WKT text, got {brief(crs_wkt)}", path, record)
    if epsg is not None:
        epsg = int_in(epsg, "geo epsg", path, record, lo=1, hi=2**31 - 1)
    if not isinstance(transform, (list, tuple)) or len(transform) != 6:
        raise InputError(f"geo transform must be 6 numbers, got {brief(transform)}", path, record)
    t = [finite(v, "geo transform", path, record) for v in transform]
    det = t[0] * t[4] - t[1] * t[3]
    if not math.isfinite(det) or det == 0:
        raise InputError(f"geo transform {brief(t)} cannot be inverted", path, record)
    w = int_in(width, "scene width", path, record, lo=1, hi=MAX_SIDE)
    h = int_in(height, "scene height", path, record, lo=1, hi=MAX_SIDE)
    return {"crs": crs_wkt, "epsg": epsg, "transform": t, "width": w, "height": h}


def geo_of(item, path=None) -> dict | None:
    """An item's ``geo`` attribute checked (plus ``vector_crs`` when set), or None when it has none."""
    g = item.attributes.get(GEO_KEY) if isinstance(item.attributes, dict) else None
    if g is None:
        return None
    rec = f"image id {brief(item.id)}"
    if not isinstance(g, dict):
        raise InputError(f"the geo attribute must be an object, got {brief(g)}", path, rec)
    out = geo_attribute(g.get("crs"), g.get("epsg"), g.get("transform"), g.get("width"), g.get("height"), path, rec)
    vc = g.get("vector_crs")
    if vc is not None:
        out["vector_crs"] = vector_crs_name(vc, path, rec)
    return out


def _affine(t):
    from affine import Affine

    return Affine(*t)


def to_pixels(xy: np.ndarray, transform) -> np.ndarray:
    """Map coordinates ``(N, 2)`` to pixel ``(col, row)``: rasterio's ``~transform * (x, y)``, same operations."""
    inv = ~_affine(transform)
    x, y = xy[:, 0], xy[:, 1]
    return np.stack([x * inv.a + y * inv.b + inv.c, x * inv.d + y * inv.e + inv.f], axis=1)


def to_map(cr: np.ndarray, transform) -> np.ndarray:
    """Pixel ``(col, row)`` ``(N, 2)`` to map coordinates: ``transform * (col, row)``."""
    a, b, c, d, e, f = transform
    col, row = cr[:, 0], cr[:, 1]
    return np.stack([col * a + row * b + c, col * d + row * e + f], axis=1)


_CRS_NAME = re.compile(r"^(?:urn:ogc:def:crs:)?(EPSG|OGC|ESRI)(?::[0-9.]*)?:{1,2}([A-Za-z0-9.]{1,16})$", re.IGNORECASE)


def vector_crs_name(value, path=None, record=None) -> str:
    """A vector file's CRS name, checked: ``EPSG:n``, ``OGC:CRS84`` or their URN forms (never a PROJ string)."""
    if not isinstance(value, str) or not _CRS_NAME.match(value):
        raise InputError(f"crs {brief(value)} is not a CRS name segmill accepts (EPSG:<code>, OGC:CRS84 or "
                         "urn:ogc:def:crs:...)", path, record)
    return value


def _crs(name: str, pyproj):
    m = _CRS_NAME.match(name)
    return pyproj.CRS.from_authority(m.group(1).upper(), m.group(2))


def reprojector(vector_crs: str | None, geo: dict, inverse: bool = False, path=None, record=None):
    """A function ``(N, 2) -> (N, 2)`` taking vector-CRS coordinates to the scene CRS (``inverse``: back), or None.

    None when no reprojection applies: the scene has no CRS, or the vector's
    CRS is the scene's. A vector file without a CRS is in ``OGC:CRS84``
    (RFC 7946) when ``vector_crs`` is None.
    """
    if geo.get("crs") is None and geo.get("epsg") is None:
        return None
    _, pyproj = deps()
    from pyproj.exceptions import CRSError, ProjError

    try:
        src = _crs(vector_crs or "OGC:CRS84", pyproj)
        dst = pyproj.CRS.from_epsg(geo["epsg"]) if geo.get("epsg") else pyproj.CRS.from_wkt(geo["crs"])
        if src.equals(dst, ignore_axis_order=True):  # always_xy: CRS84 and EPSG:4326 are one
            return None
        tr = pyproj.Transformer.from_crs(*((dst, src) if inverse else (src, dst)), always_xy=True)
    except (CRSError, ProjError, ValueError, TypeError) as exc:
        raise InputError(f"cannot reproject from {brief(vector_crs)}: {brief(str(exc))}", path, record) from None

    def apply(xy: np.ndarray) -> np.ndarray:
        try:
            x, y = tr.transform(xy[:, 0], xy[:, 1], errcheck=False)
        except ProjError as exc:
            raise InputError(f"coordinates cannot be reprojected: {brief(str(exc))}", path, record) from None
        out = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], axis=1)
        if not np.all(np.isfinite(out)):
            raise InputError(f"coordinates cannot be reprojected from {vector_crs or 'OGC:CRS84'} to the scene's "
                             "CRS (outside its area of use)", path, record)
        return out

    return apply
