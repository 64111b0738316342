"""The ``geojson`` writer: one ``<scene stem>.geojson`` beside each scene (layout A of :mod:`.geojson`).

Pixel coordinates go back to map coordinates by the forward transform of the
item's ``geo`` attribute (else the scene's own header, else the identity: a
scene without georeferencing), then to the vector CRS recorded at read
(``vector_crs``) with pyproj when it differs from the scene's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import GeometryError, InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..jsonio import strict_jsonable
from ..losses import WriteReport
from ..model import Dataset
from ..paths import output_name
from ..rle import RLE
from ..validate import brief
from ._geo_features import geometry_to_geojson
from ._geo_scene import (
    GEO_KEY,
    SCENE_SUFFIXES,
    deps,
    geo_of,
    reprojector,
    scene_header,
    to_map,
)
from ._image_files import find_image, place_image

__all__ = ["VECTOR_SUFFIX", "write"]

VECTOR_SUFFIX = ".geojson"


def _roots(dataset, image_root) -> list[Path]:
    if image_root is not None:
        return [Path(image_root)]
    out = []
    root = dataset.meta.get("image_root")
    if isinstance(root, str) and root:
        out.append(Path(root))
    src = dataset.meta.get("source_path")
    if isinstance(src, str) and src:
        folder = Path(src) if Path(src).is_dir() else Path(src).parent
        out += [folder, folder / "images"]
    return [r for r in out if r.is_dir()]


def _plan(dataset: Dataset, out: Path) -> list[tuple[int, PurePosixPath]]:
    """``[(item index, relative scene path)]`` in the order a re-read lists them; names checked first."""
    seen: dict[str, int] = {}
    plan = []
    for k, item in enumerate(dataset.items):
        rec = f"image id {brief(item.id)}"
        name = item.file_name.replace("\\", "/") if isinstance(item.file_name, str) else ""
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            parts = [str(item.id)]
        for part in parts:
            output_name(part, "image file name", out, rec, suffix=VECTOR_SUFFIX)
        rel = PurePosixPath(*parts)
        key = rel.with_suffix(VECTOR_SUFFIX).as_posix().lower()
        if key in seen:
            raise InputError(f"two images ({brief(dataset.items[seen[key]].file_name)} and {brief(item.file_name)}) "
                             f"would share the vector file {key!r}", out, rec)
        seen[key] = k
        plan.append((k, rel))
    plan.sort(key=lambda t: Path(*t[1].parts))
    return plan


def _georef(item, scene: Path | None, path, report) -> tuple[dict | None, object]:
    """``(geo, to_map)``: the georeferencing used and the pixel -> vector-CRS function."""
    geo = geo_of(item, path)
    if geo is None and scene is not None and scene.suffix.lower() in (".tif", ".tiff"):
        try:
            geo = scene_header(scene)
        except InputError:
            geo = None
    if geo is None:
        report.notes.append(f"image {brief(item.file_name)}: no georeferencing, coordinates written in pixels")
        return None, lambda cr: cr
    back = reprojector(geo.get("vector_crs"), geo, inverse=True, path=path, record=f"image id {brief(item.id)}")
    t = geo["transform"]

    def fn(cr):
        xy = to_map(cr, t)
        return back(xy) if back is not None else xy

    return geo, fn


def _area_changed(ann, g) -> bool:
    if ann.area is None and ann.bbox is None:
        return False
    if not isinstance(g, (Polygons, Box)):
        return True
    if ann.area is not None and not math.isclose(ann.area, g.area, rel_tol=1e-9, abs_tol=1e-9):
        return True
    return ann.bbox is not None and not np.allclose(ann.bbox, g.bounds, rtol=1e-9, atol=1e-9)


def _vector_geometry(ann, item, report):
    """The geometry to write (masks traced to polygons, L902), or None (reported)."""
    g = ann.geometry
    if isinstance(g, (RLE, Mask)):
        if item.size is None:
            report.lose("L005", "mask written without a known image size", item.id, ann.id)
            return None
        from ..bridges.trace import trace

        try:
            g = trace(g.to_rle(item.height, item.width) if isinstance(g, Mask) else g)
        except GeometryError:
            report.lose("L908", "an empty mask has no polygon", item.id, ann.id)
            return None
        report.lose("L902", "mask traced to polygons", item.id, ann.id)
    return g


def _feature(ann, item, cats, fn, report, expected_id):
    cat = cats.get(ann.category_id)
    if cat is None:
        report.lose("L003", "an annotation without a category has no class", item.id, ann.id)
        return None
    g = _vector_geometry(ann, item, report)
    if g is None:
        return None
    geom = geometry_to_geojson(g, fn) if isinstance(g, (Polygons, Box, Shape)) else None
    if geom is None:
        report.lose("L908", f"geometry {type(g).__name__} has no GeoJSON geometry", item.id, ann.id)
        return None
    if ann.id != expected_id:
        report.lose("L905", f"annotation id {brief(ann.id)} read back as {expected_id}", item.id, ann.id)
    if _area_changed(ann, ann.geometry):
        report.lose("L906", "stored area / bbox differ from the polygon's", item.id, ann.id)
    if ann.extra:
        report.lose("L001", f"annotation fields {brief(sorted(map(str, ann.extra)))} dropped", item.id, ann.id)
    props = {"class": cat.name, "category_id": cat.id}
    if ann.iscrowd:
        props["iscrowd"] = True
    if ann.score is not None:
        props["score"] = ann.score
    feat = {"type": "Feature", "properties": props, "geometry": geom}
    for k, v in ann.attributes.items():
        if k == "feature_id" and isinstance(v, (int, str)) and not isinstance(v, bool):
            feat = {"type": "Feature", "id": v, "properties": props, "geometry": geom}
        elif k in props or k in ("image", "feature_id") or not strict_jsonable(v):
            report.lose("L001", f"attribute {brief(k)} dropped", item.id, ann.id)
        else:
            props[k] = v
    return feat


def _collection(item, geo, categories, features, report) -> dict:
    doc: dict = {"type": "FeatureCollection"}
    if geo is not None and geo.get("vector_crs"):
        doc["crs"] = {"type": "name", "properties": {"name": geo["vector_crs"]}}
    doc["categories"] = categories
    attrs = {k: v for k, v in item.attributes.items() if k != GEO_KEY}
    if attrs:
        if strict_jsonable(attrs):
            doc["image_attributes"] = attrs
        else:
            report.lose("L001", "image attributes that are not JSON dropped", item.id)
    if item.extra:
        report.lose("L001", f"image fields {brief(sorted(map(str, item.extra)))} dropped", item.id)
    doc["features"] = features
    return doc


def write(dataset: Dataset, path, image_root=None, link_images: bool = False) -> WriteReport:
    """Write ``<scene>.geojson`` beside a copy of each scene under the folder ``path``.

    Parameters
    ----------
    image_root : path, optional
        Where the source scenes are (default: ``meta["image_root"]``, the
        source's folder and its ``images/``). A scene not found is L901.
    link_images : bool, default False
        Hard-link scenes instead of copying them.
    """
    deps()
    dataset.validate(path)
    out = Path(path)
    plan = _plan(dataset, out)
    out.mkdir(parents=True)
    report = WriteReport()
    roots = _roots(dataset, image_root)
    cats = dataset.category_by_id()
    decl = [{k: v for k, v in (("id", c.id), ("name", c.name), ("supercategory", c.supercategory)) if v is not None}
            for c in dataset.categories]
    if not dataset.items and dataset.categories:
        report.lose("L903", f"{len(dataset.categories)} categories not written (no image)")
    next_ann = 1
    for number, (k, rel) in enumerate(plan, 1):
        item = dataset.items[k]
        if item.id != number:
            report.lose("L904", f"image id {brief(item.id)} read back as {number}", item.id)
        scene_dst = out.joinpath(*rel.parts)
        src = find_image(item, roots)
        if src is None:
            report.lose("L901", f"scene {brief(item.file_name)} not found", item.id)
        else:
            place_image(src, scene_dst, link_images, report)
        if rel.suffix.lower() not in SCENE_SUFFIXES:
            report.lose("L907", f"{rel.name!r} is not a .tif, .png or .jpg scene", item.id)
        geo, fn = _georef(item, src, out, report)
        feats = []
        for ann in item.annotations:
            feat = _feature(ann, item, cats, fn, report, next_ann)
            if feat is not None:
                feats.append(feat)
                next_ann += 1
        doc = _collection(item, geo, decl, feats, report)
        scene_dst.parent.mkdir(parents=True, exist_ok=True)
        scene_dst.with_suffix(VECTOR_SUFFIX).write_text(json.dumps(doc, allow_nan=False) + "\n", encoding="utf-8")
        report.files += 1
        report.items += 1
        report.annotations += len(feats)
    return report
