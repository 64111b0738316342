"""Other OGR vector files (GeoPackage, shapefile) through pyogrio, as GeoJSON-like feature collections.

A file reaches GDAL only when its first bytes are a GeoPackage's (SQLite) or
a shapefile's (file code 9994): a ``.gpkg`` holding an OGR VRT could
otherwise make GDAL read any file. Attribute values become plain Python
values; geometries GeoJSON objects (shapely), so the GeoJSON reader's checks
apply to them unchanged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import InputError, UsageError
from ..validate import brief

__all__ = ["OGR_SUFFIXES", "load_ogr"]

#: Vector files read through pyogrio, by their name's ending.
OGR_SUFFIXES = (".gpkg", ".shp")
_MAGIC = {".gpkg": b"SQLite format 3\x00", ".shp": b"\x00\x00\x27\x0a"}
_MAX_FEATURES = 10_000_000


def _plain(v):
    """A JSON-able Python value of a column value (numpy scalars, dates as ISO text, NaN as None)."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def _crs_name(crs, path) -> str | None:
    if crs is None:
        return None
    from ._geo_scene import deps

    _, pyproj = deps()
    try:
        auth = pyproj.CRS.from_user_input(crs).to_authority()
    except Exception as exc:  # noqa: BLE001 - PROJ refusing the file's CRS in any way
        raise InputError(f"the file's CRS cannot be read: {brief(str(exc))}", path, "crs") from None
    if auth is None:
        raise InputError("the file's CRS has no EPSG (or other authority) code", path, "crs")
    return f"{auth[0]}:{auth[1]}"


def load_ogr(path: Path) -> dict:
    """The features of a GeoPackage or shapefile as a GeoJSON FeatureCollection (first layer)."""
    try:
        import pyogrio.raw
        import shapely
    except ImportError as exc:
        raise UsageError(f"reading {path.suffix} files needs {exc.name}: pip install 'segmill[geo]'") from None
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if not head.startswith(_MAGIC[path.suffix.lower()]):
        raise InputError(f"not a {path.suffix} file (its first bytes say otherwise)", path)
    try:
        meta, _fids, geoms, fields = pyogrio.raw.read(path, max_features=_MAX_FEATURES)
        shapes = shapely.from_wkb(geoms)
    except Exception as exc:  # noqa: BLE001 - GDAL / pyogrio / GEOS refusing a malformed file in any way
        raise InputError(f"GDAL cannot read the vector file: {brief(str(exc))}", path) from None
    names = [str(n) for n in meta.get("fields", [])]
    feats = []
    for k, g in enumerate(shapes):
        props = {n: _plain(col[k]) for n, col in zip(names, fields)}
        geom = json.loads(shapely.to_geojson(g)) if g is not None else None
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    doc: dict = {"type": "FeatureCollection", "features": feats}
    name = _crs_name(meta.get("crs"), path)
    if name is not None:
        doc["crs"] = {"type": "name", "properties": {"name": name}}
    return doc
