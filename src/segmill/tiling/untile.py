"""``untile_dataset``: chip annotations put back into their images' coordinates, cut objects joined.

The rule: a chip's annotations are moved by the chip's origin (the ``tile``
attribute ``segmill tile`` wrote) and cut to the chip's *core* (the part of
the image it is responsible for; cores tile the image once), so overlapping
chips never give an object twice (parts outside the core: T203). Then, per
category, polygon parts from *different* chips that touch or overlap (within
:data:`JOIN_DISTANCE` pixels) are joined into one object (their union, on a
grid of :data:`GRID` pixels so the two sides of a border meet exactly; T201);
parts of one chip are never joined to each other. Masks are cut to the core
and kept as they are (T202); points and lines are kept where they fall in the
core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..model import Annotation, Dataset, Item
from ..rle import RLE
from ..validate import brief, hashable_id, int_in, string
from .clip import clip_shape, region, to_polygons, translate
from .report import TileReport
from .tile import TILE_KEY

__all__ = ["GRID", "JOIN_DISTANCE", "UntileSettings", "untile_dataset"]

#: Parts of one category from different chips this close (pixels) are one object.
JOIN_DISTANCE = 1e-6
#: The grid (pixels) joined parts are unioned on.
GRID = 1e-9


@dataclass(frozen=True)
class UntileSettings:
    """What ``segmill untile`` does: ``join`` cut objects across chip borders (default True)."""

    join: bool = True


def _tile_of(item, path) -> dict:
    rec = f"image id {brief(item.id)}"
    t = item.attributes.get(TILE_KEY) if isinstance(item.attributes, dict) else None
    if not isinstance(t, dict):
        raise InputError("the image has no 'tile' attribute: untile reads what `segmill tile` wrote", path, rec)
    out = {"image": string(t.get("image"), "tile image", path, rec, allow_empty=False),
           "image_id": hashable_id(t.get("image_id"), "tile image_id", path, rec)}
    for k in ("width", "height", "x", "y"):
        out[k] = int_in(t.get(k), f"tile {k}", path, rec, lo=0, hi=2**31 - 1)
    core = t.get("core")
    if not isinstance(core, list) or len(core) != 4:
        raise InputError(f"tile core must be 4 integers, got {brief(core)}", path, rec)
    out["core"] = [int_in(v, "tile core", path, rec, lo=0, hi=2**31 - 1) for v in core]
    out["image_geo"] = t.get("image_geo")
    return out


def _scene_item(item, t) -> Item:
    attrs = {k: v for k, v in item.attributes.items() if k not in (TILE_KEY, "geo")}
    if isinstance(t["image_geo"], dict):
        attrs["geo"] = t["image_geo"]
    return Item(t["image_id"], t["image"], t["width"], t["height"], split=item.split, attributes=attrs)


class _Parts:
    """The parts of one image, by category: ``(region, chip number, annotation)``."""

    def __init__(self):
        self.regions: dict = {}
        self.others: list = []


def _place(ann, item, t, number, parts: _Parts, report: TileReport) -> None:
    import shapely

    g = ann.geometry
    x, y = t["x"], t["y"]
    x0, y0, x1, y1 = t["core"]
    core = shapely.box(x0, y0, x1, y1)
    if isinstance(g, (Polygons, Box)):
        piece = region(translate(g, x, y)).intersection(core)
        if piece.area <= 0:
            report.add("T203", t["image"], item.file_name, ann.id)
            return
        parts.regions.setdefault(ann.category_id, []).append((piece, number, ann))
    elif isinstance(g, (RLE, Mask)) and item.size is not None:
        arr = np.asarray(ann.to_rle(item.height, item.width).decode(), bool)
        cut = arr[max(y0 - y, 0) : max(y1 - y, 0), max(x0 - x, 0) : max(x1 - x, 0)]
        if not cut.any():
            report.add("T203", t["image"], item.file_name, ann.id)
            return
        report.add("T202", t["image"], item.file_name, ann.id)
        parts.others.append((ann, Mask(cut, max(x0, x), max(y0, y))))
    elif isinstance(g, Shape):
        for piece in clip_shape(translate(g, x, y), (x0, y0, x1, y1)):
            parts.others.append((ann, piece))


def _groups(entries, join: bool) -> list[list[int]]:
    """Indices of ``entries`` grouped: parts of different chips touching (union-find over an STRtree)."""
    n = len(entries)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if join and n > 1:
        import shapely

        geoms = [e[0] for e in entries]
        pairs = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=JOIN_DISTANCE)
        for i, j in zip(pairs[0].tolist(), pairs[1].tolist()):
            if entries[i][1] != entries[j][1]:
                parent[find(i)] = find(j)
    out: dict[int, list[int]] = {}
    for i in range(n):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def _attrs(ann) -> dict:
    return {k: v for k, v in ann.attributes.items() if k != "source_annotation_id"}


def untile_dataset(dataset: Dataset, settings: UntileSettings = UntileSettings()) -> tuple[Dataset, TileReport]:
    """Put the chips of ``dataset`` (written by ``segmill tile``) back into their images.

    Raises
    ------
    segmill.errors.InputError
        An item without a valid ``tile`` attribute.
    """
    import shapely

    path = dataset.meta.get("source_path")
    report = TileReport()
    scenes: dict[str, tuple[Item, _Parts]] = {}
    for number, item in enumerate(dataset.items):
        t = _tile_of(item, path)
        if t["image"] not in scenes:
            scenes[t["image"]] = (_scene_item(item, t), _Parts())
            report.items += 1
        report.chips += 1
        for ann in item.annotations:
            _place(ann, item, t, number, scenes[t["image"]][1], report)
    next_id = 1
    for scene, parts in scenes.values():
        for cid, entries in parts.regions.items():
            for group in _groups(entries, settings.join):
                first = entries[group[0]][2]
                if len(group) > 1:
                    geom = shapely.union_all([entries[i][0] for i in group], grid_size=GRID)
                    report.add("T201", scene.file_name, None, [entries[i][2].id for i in group])
                else:
                    geom = entries[group[0]][0]
                poly = to_polygons(geom)
                if poly is None:
                    continue
                crowd = any(entries[i][2].iscrowd for i in group)
                scores = [entries[i][2].score for i in group if entries[i][2].score is not None]
                scene.annotations.append(Annotation(next_id, cid, poly, crowd, None, None,
                                                    max(scores) if scores else None, _attrs(first)))
                next_id += 1
        for ann, geom in parts.others:
            scene.annotations.append(Annotation(next_id, ann.category_id, geom, ann.iscrowd, None, None, ann.score,
                                                _attrs(ann)))
            next_id += 1
    items = [s for s, _ in scenes.values()]
    ds = Dataset(categories=list(dataset.categories), items=items, info=dataset.info, licenses=dataset.licenses,
                 meta={"raster_rule": dataset.meta.get("raster_rule", "coco")})
    return ds, report
