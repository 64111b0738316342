"""GeoJSON polygons over GeoTIFF scenes (optional extra ``geo``: rasterio, pyproj, shapely).

Layouts
-------
A. A folder of scenes (``*.tif``, ``*.tiff``; ``*.png``/``*.jpg`` scenes have no
   georeferencing), each with a vector file of the same stem beside it
   (``scene.tif`` + ``scene.geojson``; a GeoPackage ``scene.gpkg`` or a
   shapefile ``scene.shp`` is read through pyogrio, its first layer), searched
   recursively. A scene without a vector file beside it is not an item.
B. One ``.geojson`` (or ``.gpkg`` / ``.shp``) file. Each feature names its scene with the property
   ``image`` (reader option ``image_field``), a path relative to the folder
   ``images`` (reader option; default: the vector file's folder). When no
   feature names a scene, the scene is the file's sibling of the same stem.

Layout A streams (:func:`stream`): one scene and its vector file at a time,
after a first pass over the vector files for the categories. Layout B is
read whole (its features are grouped by scene across the file).

Coordinates
-----------
A feature's coordinates are in the vector file's CRS: the ``crs`` member
(``{"type": "name", "properties": {"name": "EPSG:32633"}}``, GeoJSON 2008) or,
without one, ``OGC:CRS84`` (RFC 7946). When the scene has a CRS and it differs,
coordinates are reprojected to it with pyproj (``always_xy``); then pixel
``(col, row) = ~transform * (x, y)`` with the scene's affine transform, the
same operations as rasterio's. A scene without a CRS (a PNG) has the identity
transform: coordinates are pixels. Only the scene's header is read.

The scene's georeferencing is kept as the item attribute ``geo``: ``crs``
(WKT), ``epsg``, ``transform`` (rasterio's 6 numbers ``a, b, c, d, e, f``),
``width``, ``height`` and ``vector_crs`` (the vector file's CRS name, null for
RFC 7946's CRS84). It is plain JSON, so COCO carries it (image
``attributes``) and COCO -> GeoJSON writes map coordinates back.

Properties: ``class`` (reader option ``class_field``) names the category;
``iscrowd`` and ``score`` set the crowd flag and the score; ``category_id``
picks a category of the file's ``categories`` member (written by segmill);
every other property is an annotation attribute, and a feature's ``id``
becomes the attribute ``feature_id``. Images and annotations are numbered 1,
2, ... in reading order.

Polygons with holes: a hole is joined to its exterior by a zero-width bridge
(the COCO way of keeping a hole in one ring, exact under the pixel rule); the
writer splits such rings back into exterior and holes with shapely.

Scene size: scenes are large by nature and the reader never decodes them, so
the pixel limit does not apply to them (a side is at most 2**31 - 1); a
writer or ``segmill tile`` that decodes pixels checks the limit on what it
decodes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

from .. import jsonio
from ..errors import GeometryError, InputError, LimitError, SegmillError, UsageError
from ..losses import register_codes
from ..model import Dataset, Item
from ..paths import confined_glob, resolve_inside
from ..validate import ErrorPolicy, brief
from . import NO, Detection, FormatSpec, register_format
from ._file_runs import first_annotation_id, header_of, raising, runs, size_of, unchanged, with_headers
from ._folder_scan import scan_levels
from ._geo_features import bridge
from ._geo_ogr import OGR_SUFFIXES, load_ogr
from ._geo_reader import Reader, properties
from ._geo_scene import (
    GEO_KEY,
    SCENE_SUFFIXES,
    deps,
    geo_of,
    open_scene,
    reprojector,
    scene_header,
    to_map,
    to_pixels,
    vector_crs_name,
)
from ._geo_write import VECTOR_SUFFIX, write, write_stream
from ._perfile_stream import UniqueIds, validated
from .options import ERRORS, Option

register_codes(
    {
        "L901": "scene image not found: the vector file is written without it (a re-read needs the scene beside it)",
        "L902": "mask traced to polygons (GeoJSON holds vectors; exact under the COCO pixel rule)",
        "L903": "categories not written: there is no image, and each image's vector file lists them",
        "L904": "image id not kept (images are numbered in reading order)",
        "L905": "annotation id not kept (features are numbered in reading order)",
        "L906": "stored area / bbox dropped (a re-read recomputes them from the polygon)",
        "L907": "image is not a scene the reader opens (.tif, .tiff, .png, .jpg, .jpeg): a re-read skips it",
        "L908": "an empty mask or a shape kind GeoJSON has no geometry for was dropped",
    },
    changes={"classes": ("L901", "L903", "L907"), "images": ("L901", "L907"), "pixels": ("L901", "L907", "L908")},
)

#: Public names for ``segmill.tiling`` (scene headers, windows, coordinates) besides the reader and writer.
__all__ = [
    "GEO_KEY",
    "SCENE_SUFFIXES",
    "bridge",
    "deps",
    "detect",
    "geo_of",
    "open_scene",
    "read",
    "scene_header",
    "shards",
    "stream",
    "to_map",
    "to_pixels",
    "write",
    "write_stream",
]

# ------------------------------------------------------------------ detection
def _head(f: Path, n: int = 4096) -> bytes:
    with open(f, "rb") as fh:
        return fh.read(n)


def _is_geojson(f: Path) -> bool:
    return f.suffix.lower() == VECTOR_SUFFIX and f.is_file() and b'"FeatureCollection"' in _head(f)


def detect(path) -> Detection:
    """A ``.geojson`` FeatureCollection, or a folder whose scenes have a ``.geojson`` of the same stem beside them."""
    p = Path(path)
    if p.is_file():
        if _is_geojson(p):
            return Detection(0.9, "GeoJSON FeatureCollection file")
        if p.suffix.lower() in OGR_SUFFIXES and any(p.with_suffix(x).is_file() for x in SCENE_SUFFIXES):
            return Detection(0.6, f"{p.suffix} vector file with a scene of the same stem beside it")
        return NO
    if not p.is_dir():
        return NO
    lone = None
    for _level, entries in scan_levels(p, 4, 5000, descend=lambda e: True):
        for e in entries:
            f = Path(e.path)
            if f.suffix.lower() in SCENE_SUFFIXES and _is_geojson(f.with_suffix(VECTOR_SUFFIX)):
                where = f.relative_to(p).as_posix()
                return Detection(0.95, f"scene {where!r} with a GeoJSON file of the same stem beside it")
            if f.suffix.lower() in (".tif", ".tiff") and any(f.with_suffix(x).is_file() for x in OGR_SUFFIXES):
                where = f.relative_to(p).as_posix()
                return Detection(0.9, f"GeoTIFF {where!r} with a GeoPackage or shapefile of the same stem beside it")
            if lone is None and f.suffix.lower() == VECTOR_SUFFIX and _is_geojson(f):
                lone = f
    if lone is not None:  # a geojson output whose scenes were not found (L901): the reader needs them
        return Detection(0.6, f"GeoJSON file {lone.relative_to(p).as_posix()!r} (its scene is not beside it)")
    return NO


# ------------------------------------------------------------------ reading
def _vector_crs(doc, f) -> str | None:
    crs = doc.get("crs")
    if crs is None:
        return None
    props = crs.get("properties") if isinstance(crs, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not (isinstance(crs, dict) and crs.get("type") == "name" and isinstance(name, str)):
        raise InputError(f"crs must be {{'type': 'name', 'properties': {{'name': ...}}}}, got {brief(crs)}", f, "crs")
    return vector_crs_name(name, f, "crs")


def _vector_of(scene: Path) -> Path | None:
    """The vector file beside a scene: ``<stem>.geojson``, else ``.gpkg``, else ``.shp``."""
    for suffix in (VECTOR_SUFFIX, *OGR_SUFFIXES):
        cand = scene.with_suffix(suffix)
        if cand.is_file():
            return cand
    return None


def _load_collection(f: Path) -> dict:
    if f.suffix.lower() in OGR_SUFFIXES:
        return load_ogr(f)
    doc, _ = jsonio.load(f)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"),
                                                                                                list):
        raise InputError("not a GeoJSON FeatureCollection with a 'features' list", f)
    return doc


def _scene_item(r: Reader, scene: Path, number: int, vector_crs, f: Path) -> tuple[Item, object]:
    """An item for ``scene`` and the function taking vector coordinates to its pixels."""
    name = scene.relative_to(r.root).as_posix()
    geo = scene_header(scene, name)
    geo["vector_crs"] = vector_crs
    reproject = reprojector(vector_crs, geo, path=f, record="crs")
    t = geo["transform"]

    def to_px(xy):
        return to_pixels(reproject(xy) if reproject is not None else xy, t)

    item = Item(number, name, geo["width"], geo["height"], attributes={GEO_KEY: geo})
    return item, to_px


def _add_features(r: Reader, item, to_px, feats, f) -> None:
    for i, feat in enumerate(feats):
        rec = f"feature {i}"
        try:
            ann = r.annotation(feat, f, rec, to_px)
        except InputError as exc:
            r.policy.drop(InputError(exc.message, exc.path or f, exc.record or rec))
            continue
        item.annotations.append(ann)


def _image_attributes(doc, item, f) -> None:
    extra = doc.get("image_attributes")
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise InputError(f"image_attributes must be an object, got {brief(extra)}", f, "image_attributes")
    for k, v in extra.items():
        if k != GEO_KEY:
            item.attributes[k] = v


def _scenes(root: Path) -> list[tuple[Path, Path]]:
    """``(scene, vector file)`` of every scene below ``root`` with a vector file beside it, in reading order."""
    return [(s, v) for s in _scene_files(root) if (v := _vector_of(s)) is not None]


def _folder_items(r: Reader, scenes: list, start: int = 0, stop: int | None = None) -> Iterator[Item]:
    """Yield the item of each scene in turn (layout A; those ``start:stop``), its vector file read then; images
    numbered 1, 2, ... in the whole list."""
    for number, (scene, f) in enumerate(scenes[start:stop], start + 1):
        try:
            doc = _load_collection(f)
            r.categories(doc, f)
            item, to_px = _scene_item(r, scene, number, _vector_crs(doc, f), f)
            _image_attributes(doc, item, f)
        except InputError as exc:
            r.policy.drop(exc)
            continue
        _add_features(r, item, to_px, doc["features"], f)
        yield item


def _scene_files(root: Path) -> list[Path]:
    try:
        found = confined_glob(root, "**/*")
    except RecursionError:
        raise LimitError("folders nested too deeply", root) from None
    return [p for p in found if p.suffix.lower() in SCENE_SUFFIXES]


def _file_items(r: Reader, f: Path) -> Iterator[Item]:
    """Yield the item of each scene the features of one vector file name (layout B), read whole first."""
    doc = _load_collection(f)
    r.categories(doc, f)
    vcrs = _vector_crs(doc, f)
    groups: dict[str, list] = {}
    for i, feat in enumerate(doc["features"]):
        props = feat.get("properties") if isinstance(feat, dict) else None
        name = props.get(r.image_field) if isinstance(props, dict) else None
        if name is not None and not isinstance(name, str):
            r.policy.drop(InputError(f"property {r.image_field!r} must be a path, got {brief(name)}", f,
                                     f"feature {i}"))
            continue
        groups.setdefault(name, []).append((i, feat))
    if None in groups and len(groups) > 1:
        for i, _ in groups.pop(None):
            r.policy.drop(InputError(f"the feature names no scene (property {r.image_field!r})", f, f"feature {i}"))
    for number, (name, feats) in enumerate(groups.items(), 1):
        try:
            scene = _scene_of(r, f, name)
            item, to_px = _scene_item(r, scene, number, vcrs, f)
        except InputError as exc:
            r.policy.drop(exc)
            continue
        for i, feat in feats:
            try:
                item.annotations.append(r.annotation(feat, f, f"feature {i}", to_px))
            except InputError as exc:
                r.policy.drop(exc)
        yield item


def _scene_of(r: Reader, f: Path, name: str | None) -> Path:
    if name is not None:
        scene = resolve_inside(r.root, name, f, f"{r.image_field} {brief(name)}")
        if not scene.is_file():
            raise InputError(f"scene {brief(name)} not found in {str(r.root)!r}", f)
        return scene
    for suffix in SCENE_SUFFIXES:
        cand = f.with_suffix(suffix)
        if cand.is_file():
            return resolve_inside(r.root, cand.name, f, "scene")
    raise InputError(f"no scene beside the vector file ({f.stem}.tif) and no feature names one (property "
                     f"{r.image_field!r})", f)


def read(path, errors: str = "raise", class_field: str = "class", image_field: str = "image",
         images=None) -> Dataset:
    """Read GeoJSON polygons over their scenes (layouts A and B of the module docs).

    Parameters
    ----------
    path : path
        A folder of scenes with ``<stem>.geojson`` beside each, or one ``.geojson`` file.
    errors : {"raise", "skip", "keep"}
    class_field : str, default "class"
        The property naming a feature's category.
    image_field : str, default "image"
        The property naming a feature's scene (one-file layout).
    images : path, optional
        The folder holding the scenes of a one-file layout (default: the file's folder).

    Raises
    ------
    segmill.errors.UsageError
        rasterio or pyproj missing (``pip install 'segmill[geo]'``), a bad option.
    segmill.errors.InputError
        Invalid JSON, a malformed feature, a scene GDAL cannot open, a scene
        path leaving its folder, an unknown CRS or one that cannot be
        reprojected.
    """
    policy = ErrorPolicy.of(errors)
    p, root, ds = _start(path, class_field, image_field, images)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    r = Reader(root, class_field, image_field, policy)
    ds.items = list(_model_errors(_file_items(r, p) if p.is_file() else _folder_items(r, _scenes(p)), p))
    ds.categories = r.cats
    if not policy.keeping:
        ds.validate(p)
    return ds


def stream(path, errors: str = "raise", class_field: str = "class", image_field: str = "image", images=None,
           selection: dict | None = None):
    """The header and a generator of the items, one scene at a time (see :mod:`segmill.streaming`), or ``None``.

    A folder of scenes (layout A) streams: its items, categories and errors
    are :func:`read`'s (the validation made as the items come). The
    categories come first from a first pass over the vector files, one at a
    time: each is parsed twice (its ``categories`` member and its features'
    classes; the scenes are not opened then). ``None`` (read whole) for one
    vector file (layout B), whose features are grouped by scene across the
    whole file, and for ``errors`` other than ``"raise"``, where the
    categories depend on which files and features a lenient read drops.
    ``selection``: one part of :func:`shards`, a run of the scenes (see
    :mod:`segmill.formats._file_runs`), which carries what the first pass
    found: the part's read resumes from the categories of the scenes before
    its run (images keep the whole read's numbers).
    """
    policy = ErrorPolicy.of(errors)
    p, root, ds = _start(path, class_field, image_field, images)
    if not policy.raising or p.is_file():
        return None
    scenes = _scenes(p)
    start, stop = (0, len(scenes)) if selection is None else (selection["start"], selection["stop"])
    first = Reader(root, class_field, image_field, policy)
    found = header_of(selection, lambda: _part_header(*_first_categories(first, scenes, (start, stop)),
                                                      first.cats, start, stop))
    cats, at_start, expected, error = copy.deepcopy(found)  # the part's own (a selection may be read again)
    ds.categories = cats
    if at_start is None:  # the first pass stopped before the run: the whole read raises there, or before
        return ds, raising(error)
    r = Reader(root, class_field, image_field, policy)
    r.cats, r.by_name, r.by_id = at_start
    r.next_ann = first_annotation_id(selection)
    items = unchanged(_model_errors(_folder_items(r, scenes, start, stop), p), lambda: r.cats, expected, p,
                      "the vector files changed while they were read")
    return ds, UniqueIds(validated(items, ds.categories, p))


def shards(path, n: int, errors: str = "raise", class_field: str = "class", image_field: str = "image",
           images=None) -> list[dict] | None:
    """At most ``n`` selections of :func:`stream`: runs of the scenes of about equal bytes (their vector files).

    ``None`` where :func:`stream` reads whole. The first pass for the
    categories is made here, once: each selection carries what its part
    needs of it (:func:`_part_header`). Annotation ids run across the whole
    dataset: a part numbers from 1 and a sharded run renumbers.
    """
    p, root, _ = _start(path, class_field, image_field, images)
    policy = ErrorPolicy.of(errors)
    if not policy.raising or p.is_file():
        return None
    scenes = _scenes(p)
    sels = runs([size_of(f) for _, f in scenes], n)
    r = Reader(root, class_field, image_field, policy)
    marks, error = _first_categories(r, scenes, {k for s in sels for k in (s["start"], s["stop"])})
    return with_headers(sels, [_part_header(marks, error, r.cats, s["start"], s["stop"]) for s in sels])


def _part_header(marks: dict, error, cats: list, start: int, stop: int) -> tuple:
    """What the part reading the scenes ``start:stop`` needs of the first pass (:func:`_first_categories`'s
    ``marks`` and ``error``, ``cats`` where it ended): ``(categories of the whole read, the reader's
    categories before the run or None where the pass never got there, its categories after the run, the
    error that stopped the pass where it never got to the run, else None)``."""
    at_start = marks.get(start)
    return cats, at_start, marks[stop][0] if stop in marks else cats, error if at_start is None else None


def _start(path, class_field, image_field, images) -> tuple[Path, Path, Dataset]:
    """``(path, scene root, dataset without items)``, the options and the geo extra checked."""
    for name, value in (("class_field", class_field), ("image_field", image_field)):
        if not isinstance(value, str) or not value:
            raise UsageError(f"{name} must be a non-empty string; got {brief(value)}")
    deps()
    p = Path(path)
    if images is not None and not Path(images).is_dir():
        raise UsageError(f"images must be a folder; got {brief(str(images))}")
    if images is not None and p.is_dir() and Path(images).resolve() != p.resolve():
        # layout A: each scene lies beside its vector file, below the folder read
        raise UsageError(f"images names the scenes' folder of one vector file; {brief(str(p))} is a folder "
                         "of scenes, each beside its vector file (leave images out)")
    root = Path(images) if images is not None else (p.parent if p.is_file() else p)
    return p, root, Dataset(meta={"image_root": str(root), "raster_rule": "coco"})


def _model_errors(items: Iterator[Item], p: Path) -> Iterator[Item]:
    """``items``, where the model's own checks (a GeometryError) are never anything but an InputError."""
    try:
        yield from items
    except GeometryError as exc:
        raise InputError(str(exc), p) from None


def _first_categories(r: Reader, scenes: list, at: tuple = ()) -> tuple[dict, SegmillError | None]:
    """The categories a raising read of ``scenes`` ends with, in ``r``: each vector file's declared ones and its
    features' classes, in reading order. It stops at the first file or feature the read refuses (the read
    raises there, or before, whatever the categories).

    Returns
    -------
    (dict, SegmillError or None)
        ``{k: (categories, by name, by id)}`` as they were before the ``k``-th scene, for ``k`` in ``at``
        (copies; ``len(scenes)``: at the end), and the error that stopped the pass.
    """
    marks: dict = {}
    try:
        for k, (_, f) in enumerate([*scenes, (None, None)]):
            if k in at:
                marks[k] = copy.deepcopy((r.cats, r.by_name, r.by_id))
            if f is None:
                break
            doc = _load_collection(f)
            r.categories(doc, f)
            for i, feat in enumerate(doc["features"]):
                rec = f"feature {i}"
                r.category(properties(feat, f, rec), f, rec)
    except SegmillError as exc:
        return marks, exc
    return marks, None


register_format(
    FormatSpec(
        name="geojson",
        description="GeoJSON polygons over GeoTIFF scenes (scene.tif + scene.geojson; extra: segmill[geo])",
        detect=detect,
        read=read,
        stream=stream,
        shards=shards,
        write=write,
        write_stream=write_stream,
        write_stream_any=True,
        output="dir",
        options=(
            ERRORS,
            Option("class_field", "reader", "the feature property naming the class", default="class"),
            Option("image_field", "reader", "the feature property naming its scene (one vector file)",
                   default="image"),
            Option("images", "reader", "folder of the scenes a single vector file refers to", kind="path"),
            Option("image_root", "writer", "where the source scenes are (default: where the source says)",
                   kind="path"),
            Option("link_images", "writer", "hard-link scenes instead of copying them", kind="bool",
                   default=False),
        ),
        example="geojson/basic",
    )
)
