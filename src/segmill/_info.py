"""What a dataset holds, in numbers (the library side of ``segmill info``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from .model import Dataset
from .rle import RLE

__all__ = ["summarize", "format_summary"]


def _kind(g) -> str:
    if g is None:
        return "none"
    if isinstance(g, Polygons):
        return "polygon"
    if isinstance(g, RLE):
        return "rle"
    if isinstance(g, Mask):
        return "mask"
    if isinstance(g, Box):
        return "box"
    if isinstance(g, Shape):
        return "shape"
    if isinstance(g, InvalidGeometry):
        return "invalid"
    return type(g).__name__


def summarize(ds: Dataset) -> dict[str, Any]:
    """Counts describing ``ds``.

    Returns
    -------
    dict
        ``images``, ``images_without_annotations``, ``annotations``,
        ``crowd``, ``geometry`` (count per kind: polygon, rle, mask, box,
        shape, none, invalid), ``multipart_polygons``, ``categories`` (id,
        name, annotation count, in dataset order), ``uncategorized``,
        ``void`` (void / ignore regions, e.g. VOC's 255: no category on
        purpose, so not counted in ``uncategorized``), ``image_size``
        (min/max width and height, count of unknown sizes),
        ``skipped`` (records a lenient reader dropped).

    Examples
    --------
    >>> from segmill.model import Dataset, Category, Item, Annotation
    >>> from segmill.geometry import Box
    >>> ds = Dataset([Category(1, "a")], [Item(1, "x.png", 4, 3, [Annotation(1, 1, Box(0, 0, 1, 1))])])
    >>> s = summarize(ds)
    >>> s["annotations"], s["geometry"], s["categories"][0]["annotations"]
    (1, {'box': 1}, 1)
    """
    per_cat: Counter = Counter()
    kinds: Counter = Counter()
    crowd = multipart = empty_images = unknown_size = void = 0
    ws: list[int] = []
    hs: list[int] = []
    for it in ds.items:
        if not it.annotations:
            empty_images += 1
        if it.width is None or it.height is None:
            unknown_size += 1
        else:
            ws.append(it.width)
            hs.append(it.height)
        for a in it.annotations:
            if a.attributes.get("void"):
                void += 1  # a void region has no class on purpose
            else:
                per_cat[a.category_id] += 1
            g = a.geometry
            k = _kind(g)
            kinds[k] += 1
            if k == "polygon":
                n = getattr(g, "num_parts", None)
                if (len(g.parts) if n is None else n) > 1:
                    multipart += 1
            if a.iscrowd:
                crowd += 1
    known = set()
    cats = []
    for c in ds.categories:
        known.add(c.id)
        cats.append({"id": c.id, "name": c.name, "annotations": per_cat.get(c.id, 0)})
    uncategorized = sum(n for cid, n in per_cat.items() if cid not in known)
    return {
        "images": len(ds.items),
        "images_without_annotations": empty_images,
        "annotations": sum(kinds.values()),
        "crowd": crowd,
        "geometry": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "multipart_polygons": multipart,
        "categories": cats,
        "uncategorized": uncategorized,
        "void": void,
        "image_size": {
            "width": [min(ws), max(ws)] if ws else None,
            "height": [min(hs), max(hs)] if hs else None,
            "unknown": unknown_size,
        },
        "skipped": len(ds.meta.get("skipped", [])),
    }


def format_summary(s: dict[str, Any], head: list[str] | None = None) -> str:
    """The human-readable text of :func:`summarize`'s result."""
    lines = list(head or [])
    lines.append(f"images: {s['images']} ({s['images_without_annotations']} without annotations)")
    size = s["image_size"]
    if size["width"]:
        txt = f"image size: width {size['width'][0]}-{size['width'][1]}, height {size['height'][0]}-{size['height'][1]}"
        if size["unknown"]:
            txt += f", {size['unknown']} unknown"
        lines.append(txt)
    elif s["images"]:
        lines.append("image size: unknown")
    lines.append(f"annotations: {s['annotations']} (crowd: {s['crowd']})")
    if s["geometry"]:
        kinds = ", ".join(f"{k} {n}" for k, n in s["geometry"].items())
        if s["multipart_polygons"]:
            kinds += f" (multi-part polygons: {s['multipart_polygons']})"
        lines.append(f"geometry: {kinds}")
    lines.append(f"categories: {len(s['categories'])}")
    width = max((len(str(c["name"])) for c in s["categories"]), default=4)
    for c in s["categories"]:
        lines.append(f"  {str(c['id']):>6}  {str(c['name']):<{width}}  {c['annotations']}")
    if s["uncategorized"]:
        lines.append(f"  annotations with an undeclared category: {s['uncategorized']}")
    if s.get("void"):
        lines.append(f"  void regions (no class on purpose): {s['void']}")
    if s["skipped"]:
        lines.append(f"skipped records: {s['skipped']}")
    return "\n".join(lines)
