"""What a dataset holds, in numbers (the library side of ``segmill info``)."""

from __future__ import annotations

from collections import Counter
from itertools import chain, compress
from operator import attrgetter, not_
from typing import Any

from .geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from .model import Dataset
from .rle import RLE

__all__ = ["InfoCounts", "summarize", "summarize_stream", "format_summary"]


def _kind_of_type(t) -> str:
    """:func:`_kind` of every geometry of type ``t`` (its ``isinstance`` tests, made once per type)."""
    if t is type(None):
        return "none"
    for base, name in ((Polygons, "polygon"), (RLE, "rle"), (Mask, "mask"), (Box, "box"), (Shape, "shape"),
                       (InvalidGeometry, "invalid")):
        if issubclass(t, base):
            return name
    return t.__name__


def _multipart(polys: list, t) -> int:
    """How many of ``polys`` (all of type ``t``) have more than one part."""
    if isinstance(getattr(t, "num_parts", None), property):
        counts = list(map(attrgetter("num_parts"), polys))
    else:
        counts = [len(g.parts) if getattr(g, "num_parts", None) is None else g.num_parts for g in polys]
    return len(counts) - counts.count(1) - counts.count(0)


class InfoCounts:
    """The counts of :func:`summarize`, accumulated over batches of items and mergeable.

    ``add(items)`` takes any number of items at once (the counting loops run
    in C over the batch, so batches of a thousand items cost what one list
    of all of them does); ``merge`` adds another accumulator's counts (shards
    counted apart); ``result(categories, skipped)`` is :func:`summarize`'s dict.
    """

    def __init__(self):
        self.images = self.empty_images = self.unknown_size = 0
        self.crowd = self.multipart = self.void = 0
        self.per_cat: Counter = Counter()
        self.kinds: Counter = Counter()
        self.width: list | None = None  # [min, max] of known sizes
        self.height: list | None = None

    def add(self, items) -> InfoCounts:
        """Count ``items`` (a list of :class:`~segmill.model.Item`); returns self."""
        # One C loop per fact over every annotation (a million of them take a second in a Python loop).
        anns = list(chain.from_iterable(map(attrgetter("annotations"), items)))
        void_flags = [False] * len(anns)
        for r in compress(range(len(anns)), map(attrgetter("attributes"), anns)):  # most have no attributes
            if anns[r].attributes.get("void"):
                void_flags[r] = True  # a void region has no class on purpose
        void = sum(void_flags)
        counted = compress(anns, map(not_, void_flags)) if void else anns
        self.per_cat.update(map(attrgetter("category_id"), counted))
        geoms = list(map(attrgetter("geometry"), anns))
        for t, n in Counter(map(type, geoms)).items():  # in order of first sight, as the kinds are counted
            k = _kind_of_type(t)
            self.kinds[k] += n
            if k == "polygon":
                self.multipart += _multipart([g for g in geoms if type(g) is t] if len(geoms) != n else geoms, t)
        self.crowd += sum(map(bool, map(attrgetter("iscrowd"), anns)))
        self.void += void
        del anns, geoms
        ws: list[int] = []
        hs: list[int] = []
        for it in items:
            self.images += 1
            if not it.annotations:
                self.empty_images += 1
            if it.width is None or it.height is None:
                self.unknown_size += 1
            else:
                ws.append(it.width)
                hs.append(it.height)
        if ws:
            self.width = _span(self.width, min(ws), max(ws))
            self.height = _span(self.height, min(hs), max(hs))
        return self

    def merge(self, other: InfoCounts) -> InfoCounts:
        """Add ``other``'s counts to these (the kinds keep this accumulator's order first); returns self."""
        for name in ("images", "empty_images", "unknown_size", "crowd", "multipart", "void"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.per_cat.update(other.per_cat)
        self.kinds.update(other.kinds)
        for name in ("width", "height"):
            span = getattr(other, name)
            if span is not None:
                setattr(self, name, _span(getattr(self, name), *span))
        return self

    def result(self, categories, skipped: int = 0) -> dict[str, Any]:
        """The summary dict of :func:`summarize` for a dataset of ``categories``."""
        known = set()
        cats = []
        for c in categories:
            known.add(c.id)
            cats.append({"id": c.id, "name": c.name, "annotations": self.per_cat.get(c.id, 0)})
        uncategorized = sum(n for cid, n in self.per_cat.items() if cid not in known)
        return {
            "images": self.images,
            "images_without_annotations": self.empty_images,
            "annotations": sum(self.kinds.values()),
            "crowd": self.crowd,
            "geometry": dict(sorted(self.kinds.items(), key=lambda kv: -kv[1])),
            "multipart_polygons": self.multipart,
            "categories": cats,
            "uncategorized": uncategorized,
            "void": self.void,
            "image_size": {"width": self.width, "height": self.height, "unknown": self.unknown_size},
            "skipped": skipped,
        }


def _span(span: list | None, lo: int, hi: int) -> list:
    return [lo, hi] if span is None else [min(span[0], lo), max(span[1], hi)]


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
    return InfoCounts().add(ds.items).result(ds.categories, len(ds.meta.get("skipped", [])))


def summarize_stream(stream, batch: int = 1000) -> dict[str, Any]:
    """:func:`summarize` of a :class:`segmill.streaming.Stream`, in batches of ``batch`` items.

    The items are counted and let go batch by batch, so memory holds one
    batch; the result equals :func:`summarize` of the whole dataset.
    """
    counts = InfoCounts()
    for items in stream.batches(batch):
        counts.add(items)
    return counts.result(stream.header.categories, len(stream.header.meta.get("skipped", [])))


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
