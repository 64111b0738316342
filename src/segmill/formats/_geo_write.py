"""The ``geojson`` writer: one ``<scene stem>.geojson`` beside each scene (layout A of :mod:`.geojson`).

Pixel coordinates go back to map coordinates by the forward transform of the
item's ``geo`` attribute (else the scene's own header, else the identity: a
scene without georeferencing), then to the vector CRS recorded at read
(``vector_crs``) with pyproj when it differs from the scene's.

:func:`write` (a dataset) and :func:`write_stream` (any reader's stream) write
each scene with one code path (:class:`_Scenes`); a scene's losses and notes
join the report in the order a re-read lists the scenes (sorted paths), with
the image and annotation ids it gives (:func:`_put_in_order`).
"""

from __future__ import annotations

import json
import math
import pickle
import tempfile
from pathlib import Path, PurePosixPath
from typing import NamedTuple

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
from ._stream_checks import checked_items

__all__ = ["VECTOR_SUFFIX", "write", "write_stream"]

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


def _planned(item, out: Path, seen: dict) -> PurePosixPath:
    """The scene path of ``item`` relative to ``out``, its parts checked; ``seen`` maps the vector files taken
    (case folded) to the file names of their images."""
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
        raise InputError(f"two images ({brief(seen[key])} and {brief(item.file_name)}) "
                         f"would share the vector file {key!r}", out, rec)
    seen[key] = item.file_name
    return rel


def _reading_order(rel: PurePosixPath) -> Path:
    """The sort key of a scene: a re-read lists the scenes in this order (and numbers them so)."""
    return Path(*rel.parts)


def _plan(dataset: Dataset, out: Path) -> list[tuple[int, PurePosixPath]]:
    """``[(item index, relative scene path)]`` in the order a re-read lists them; names checked first."""
    seen: dict = {}
    plan = [(k, _planned(item, out, seen)) for k, item in enumerate(dataset.items)]
    plan.sort(key=lambda t: _reading_order(t[1]))
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


def _feature(ann, item, cats, fn, report, marks: list):
    """The GeoJSON feature of ``ann``, or None (reported); a feature's annotation id goes to ``marks`` with the
    place of its L905 among the losses (the id a re-read gives depends on the scenes before this one)."""
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
    marks.append((len(report.losses), ann.id))
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
    w = _Scenes(dataset, out, image_root, link_images, report)
    if not dataset.items:
        w.no_items()
    base = 1
    for number, (k, rel) in enumerate(plan, 1):
        item = dataset.items[k]
        log = w.scene(item, rel)
        _put_in_order(report, item.id, number, base, log)
        base += log.features
    return report


def write_stream(stream, path, image_root=None, link_images: bool = False) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, a scene at a time.

    The same files and report as :func:`write` of the whole dataset: each
    scene's vector file is written as its item comes; its losses and notes
    wait in a spill file (:class:`_Logs`) until the stream ends, then join the
    report in the order a re-read lists the scenes, with the image and
    annotation ids a re-read gives (L904, L905). An image the write refuses
    stops it there (the caller stages the folder). Memory holds one image and
    each image's scene path.
    """
    deps()
    items = checked_items(stream, path)
    header = stream.header
    out = Path(path)
    seen: dict = {}
    out.mkdir(parents=True)
    report = WriteReport()
    w = _Scenes(header, out, image_root, link_images, report)
    with _Logs(out) as logs:
        for item in items:
            rel = _planned(item, out, seen)
            logs.add(_reading_order(rel), item.id, w.scene(item, rel))
        if not seen:
            w.no_items()
        base = 1
        for number, (item_id, log) in enumerate(logs.in_order(), 1):
            _put_in_order(report, item_id, number, base, log)
            base += log.features
    return report


class _Log(NamedTuple):
    """What one scene's write reported: its losses and notes, and ``marks`` (see :func:`_feature`)."""

    losses: list
    notes: list
    marks: list

    @property
    def features(self) -> int:
        return len(self.marks)


class _Scenes:
    """Writes each scene's vector file (and copy) with the categories and meta of ``dataset`` (or a header)."""

    def __init__(self, dataset, out: Path, image_root, link_images: bool, report: WriteReport):
        self.out, self.link, self.report = out, link_images, report
        self.dataset = dataset
        self.roots = _roots(dataset, image_root)
        self.cats = dataset.category_by_id()
        self.decl = [{k: v for k, v in (("id", c.id), ("name", c.name), ("supercategory", c.supercategory))
                      if v is not None} for c in dataset.categories]

    def no_items(self) -> None:
        if self.dataset.categories:
            self.report.lose("L903", f"{len(self.dataset.categories)} categories not written (no image)")

    def scene(self, item, rel: PurePosixPath) -> _Log:
        """Write ``item``'s vector file (and its scene) at ``rel``; counts go to the report, the rest is returned."""
        r = WriteReport()
        scene_dst = self.out.joinpath(*rel.parts)
        src = find_image(item, self.roots)
        if src is None:
            r.lose("L901", f"scene {brief(item.file_name)} not found", item.id)
        else:
            place_image(src, scene_dst, self.link, r)
        if rel.suffix.lower() not in SCENE_SUFFIXES:
            r.lose("L907", f"{rel.name!r} is not a .tif, .png or .jpg scene", item.id)
        geo, fn = _georef(item, src, self.out, r)
        feats, marks = [], []
        for ann in item.annotations:
            feat = _feature(ann, item, self.cats, fn, r, marks)
            if feat is not None:
                feats.append(feat)
        doc = _collection(item, geo, self.decl, feats, r)
        scene_dst.parent.mkdir(parents=True, exist_ok=True)
        scene_dst.with_suffix(VECTOR_SUFFIX).write_text(json.dumps(doc, allow_nan=False) + "\n", encoding="utf-8")
        self.report.files += r.files + 1
        self.report.items += 1
        self.report.annotations += len(feats)
        return _Log(list(r.losses), r.notes, marks)


def _put_in_order(report: WriteReport, item_id, number: int, base: int, log: _Log) -> None:
    """A scene's losses and notes added to ``report``, read back as image ``number`` whose annotations are
    numbered from ``base``: L904 first, each L905 in its place."""
    if item_id != number:
        report.lose("L904", f"image id {brief(item_id)} read back as {number}", item_id)
    prev = 0
    for j, (at, aid) in enumerate(log.marks):
        report.losses.extend(log.losses[prev:at])
        prev = at
        if aid != base + j:
            report.lose("L905", f"annotation id {brief(aid)} read back as {base + j}", item_id, aid)
    report.losses.extend(log.losses[prev:])
    report.notes.extend(log.notes)


class _Logs:
    """Scenes' logs pickled to a temporary file as they come, read back in reading order (a context)."""

    def __init__(self, folder: Path):
        self.f = tempfile.TemporaryFile(dir=folder)
        self.index: list = []  # (reading order, offset, item id)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()

    def add(self, key: Path, item_id, log: _Log) -> None:
        self.index.append((key, self.f.tell(), item_id))
        pickle.dump(log, self.f, protocol=pickle.HIGHEST_PROTOCOL)

    def in_order(self):
        """``(item id, log)`` of every scene, in reading order."""
        self.f.flush()
        self.index.sort(key=lambda t: t[0])
        for _, at, item_id in self.index:
            self.f.seek(at)
            yield item_id, pickle.load(self.f)
