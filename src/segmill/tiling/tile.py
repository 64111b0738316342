"""``tile_dataset``: every image of a dataset cut into chips, every annotation clipped to every chip.

Per object (annotation with an area) and chip: the part inside the chip is
kept when its area is at least ``min_visible`` of the object's area
(recorded T101 when the object was cut), else dropped (T102). Accounting:
each kept or dropped part is also cut to the chip's core (cores tile the
image once, see :mod:`.grid`), so for every object ``kept + dropped`` core
areas equal its area; the report gives the largest relative difference.
Points and lines are cut to the chip too (a line may give several pieces);
they are not accounted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..geometry import Box, Mask, Polygons, Shape
from ..model import Annotation, Dataset, Item
from ..rle import RLE, encode
from ..validate import brief
from .clip import clip_shape, mask_extent, mask_window, region, to_polygons
from .grid import chip_grid
from .report import TileReport
from .scenes import ChipSource, chip_name, find_scene

__all__ = ["TILE_KEY", "TileSettings", "tile_dataset"]

#: The chip item attribute that says where the chip lies in its image (read by ``untile``).
TILE_KEY = "tile"
_GEO = "geo"


@dataclass(frozen=True)
class TileSettings:
    """What ``segmill tile`` does.

    Parameters
    ----------
    size : int
        Chip side in pixels.
    overlap : int
        Pixels shared by neighbouring chips, in ``[0, size)``.
    min_visible : float
        A part whose area is under this fraction of its object's is dropped (0: keep every part).
    roots : tuple of path
        Folders the images may be in (an item's ``file_name`` is relative to one).
    """

    size: int = 512
    overlap: int = 0
    min_visible: float = 0.0
    roots: tuple = ()

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 1:
            raise UsageError(f"--size must be a positive number of pixels; got {brief(self.size)}")
        if not isinstance(self.overlap, int) or not 0 <= self.overlap < self.size:
            raise UsageError(f"--overlap must be in [0, --size); got {brief(self.overlap)}")
        if not 0.0 <= self.min_visible <= 1.0:
            raise UsageError(f"--min-visible must be a fraction in [0, 1]; got {brief(self.min_visible)}")


class _Object:
    """One annotation prepared for clipping: its kind, region or mask, area and running accounting."""

    def __init__(self, ann, item):
        self.ann = ann
        g = ann.geometry
        self.kind = "other"
        self.area = 0.0
        self.kept = self.dropped = self.chips_area = 0.0
        if isinstance(g, (Polygons, Box)):
            self.region = region(g)
            self.area = float(self.region.area)
            self.kind = "region" if self.area > 0 else "other"
        elif isinstance(g, (RLE, Mask)) and item.size is not None:
            self.extent = mask_extent(g, item.height, item.width)
            if self.extent is not None:
                self.kind = "mask"
                self.area = float(g.area if isinstance(g, RLE) else np.count_nonzero(g.array))
        elif isinstance(g, Shape):
            self.kind = "shape"


def _core_part(arr_or_geom, chip, kind):
    x0, y0, x1, y1 = chip.core
    if kind == "mask":
        return float(np.count_nonzero(arr_or_geom[y0 - chip.y : y1 - chip.y, x0 - chip.x : x1 - chip.x]))
    import shapely

    return float(arr_or_geom.intersection(shapely.box(x0, y0, x1, y1)).area)


def _piece(obj: _Object, item, chip):
    """``(geometry in chip pixels, area, core area)`` of an object's part in a chip, or None."""
    g = obj.ann.geometry
    if obj.kind == "mask":
        ex = obj.extent
        if ex[0] >= chip.x + chip.w or ex[2] <= chip.x or ex[1] >= chip.y + chip.h or ex[3] <= chip.y:
            return None
        arr = mask_window(g, item.height, item.width, chip.x, chip.y, chip.w, chip.h)
        n = float(np.count_nonzero(arr))
        return (encode(arr), n, _core_part(arr, chip, "mask")) if n else None
    import shapely

    part = obj.region.intersection(shapely.box(*chip.box))
    area = float(part.area)
    if area <= 0:
        return None
    if isinstance(g, Box):
        x0, y0, x1, y1 = part.bounds
        geom = Box(x0 - chip.x, y0 - chip.y, x1 - x0, y1 - y0)
    else:
        geom = to_polygons(part, chip.x, chip.y)
        if geom is None:
            return None
    return geom, area, _core_part(part, chip, "region")


def _chip_item(item, chip, number, name, geo) -> Item:
    attrs = {k: v for k, v in item.attributes.items() if k not in (_GEO, TILE_KEY)}
    attrs[TILE_KEY] = {"image": item.file_name, "image_id": item.id, "width": item.width, "height": item.height,
                       "x": chip.x, "y": chip.y, "core": list(chip.core)}
    if geo is not None:
        attrs[TILE_KEY]["image_geo"] = geo
        a, b, c, d, e, f = geo["transform"]
        attrs[_GEO] = dict(geo, transform=[a, b, chip.x * a + chip.y * b + c, d, e, chip.x * d + chip.y * e + f],
                           width=chip.w, height=chip.h)
    return Item(number, name, chip.w, chip.h, split=item.split, attributes=attrs)


class _Tiler:
    def __init__(self, settings: TileSettings, out: Path, report: TileReport):
        self.s = settings
        self.out = out
        self.report = report
        self.next_item = 1
        self.next_ann = 1

    def annotation(self, ann, geom) -> Annotation:
        a = Annotation(self.next_ann, ann.category_id, geom, ann.iscrowd, None, None, ann.score,
                       dict(ann.attributes, source_annotation_id=ann.id))
        self.next_ann += 1
        return a

    def clip(self, obj: _Object, item, chip, chip_item) -> None:
        ann = obj.ann
        if obj.kind == "shape":
            box = chip.box
            for piece in clip_shape(ann.geometry, box):
                moved = Shape(piece.kind, np.asarray(piece.points) - (chip.x, chip.y))
                chip_item.annotations.append(self.annotation(ann, moved))
            return
        got = _piece(obj, item, chip)
        if got is None:
            return
        geom, area, core = got
        visible = area / obj.area
        if visible < self.s.min_visible:
            self.report.add("T102", item.file_name, chip_item.file_name, ann.id, visible)
            obj.dropped += core
            return
        if visible < 1.0 - 1e-12:
            self.report.add("T101", item.file_name, chip_item.file_name, ann.id, visible)
        obj.kept += core
        obj.chips_area += area
        chip_item.annotations.append(self.annotation(ann, geom))

    def item(self, item, geo, source: ChipSource, chips_out: list) -> None:
        h, w = source.size
        if item.size is not None and item.size != (h, w):
            raise InputError(f"the image is {w} x {h} pixels but the dataset says {item.width} x {item.height}",
                             source.path, f"image id {brief(item.id)}")
        item_sized = item if item.size is not None else dataclasses.replace(item, width=w, height=h)
        objs = [_Object(a, item_sized) for a in item.annotations]
        for o in objs:
            if o.kind == "other":
                self.report.add("T103", item.file_name, None, o.ann.id)
        tree, regions = _tree(objs)
        for chip in chip_grid(w, h, self.s.size, self.s.overlap):
            name = chip_name(item.file_name, chip.x, chip.y, source.tiff)
            source.write(chip, self.out.joinpath(*name.split("/")))
            ci = _chip_item(item_sized, chip, self.next_item, name, geo if source.tiff else None)
            self.next_item += 1
            for k in _candidates(tree, regions, objs, chip):
                self.clip(objs[k], item_sized, chip, ci)
            chips_out.append(ci)
            self.report.chips += 1
        for o in objs:
            if o.kind in ("region", "mask"):
                self.report.account(o.area, o.kept, o.dropped, o.chips_area)


def _tree(objs):
    import shapely

    regions = [k for k, o in enumerate(objs) if o.kind == "region"]
    return (shapely.STRtree([objs[k].region for k in regions]) if regions else None), regions


def _candidates(tree, regions, objs, chip) -> list[int]:
    import shapely

    found = [regions[i] for i in tree.query(shapely.box(*chip.box))] if tree is not None else []
    found += [k for k, o in enumerate(objs) if o.kind in ("mask", "shape")]
    return sorted(found)


def _renumber(chips: list) -> None:
    """Chips in file-name order (the order folder readers list them in), ids 1, 2, ... for chips and annotations."""
    chips.sort(key=lambda it: Path(*it.file_name.split("/")))
    n = 1
    for k, item in enumerate(chips, 1):
        item.id = k
        for ann in item.annotations:
            ann.id = n
            n += 1


def tile_dataset(dataset: Dataset, out: Path, settings: TileSettings) -> tuple[Dataset, TileReport]:
    """Cut every image of ``dataset`` into chips written under the folder ``out``; the chips' dataset.

    Returns
    -------
    (Dataset, TileReport)
        The chips (one item each, ``file_name`` relative to ``out``, the
        attribute ``tile`` saying where it lies in its image, ``geo`` its
        georeferencing for GeoTIFF chips) and what was clipped and dropped.

    Raises
    ------
    segmill.errors.InputError
        An image that cannot be found or read, or whose size differs from the dataset's.
    """
    from ..formats.geojson import geo_of

    report = TileReport()
    tiler = _Tiler(settings, Path(out), report)
    chips: list[Item] = []
    for item in dataset.items:
        path = find_scene(item, settings.roots)
        if path is None:
            raise InputError(f"image {brief(item.file_name)} not found (give the image folder with --images)",
                             dataset.meta.get("source_path"), f"image id {brief(item.id)}")
        geo = geo_of(item, dataset.meta.get("source_path"))
        with ChipSource(path, f"image {brief(item.file_name)}") as source:
            if geo is None and source.tiff:
                from ..formats.geojson import scene_header

                geo = scene_header(path)
            tiler.item(item, geo, source, chips)
        report.items += 1
    _renumber(chips)
    ds = Dataset(categories=list(dataset.categories), items=chips, info=dataset.info, licenses=dataset.licenses,
                 meta={"image_root": str(out), "raster_rule": dataset.meta.get("raster_rule", "coco")})
    return ds, report
