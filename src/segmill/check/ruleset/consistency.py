"""Consistency rules (C004-C009): categories, palettes, masks, outliers, empty images."""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import compress
from operator import attrgetter

import numpy as np

from ...geometry import Box, Mask, Polygons
from ...rle import RLE
from ..registry import Hit, rule

_SEP = re.compile(r"[\s_\-]+")


def name_key(name: str) -> str:
    """A category name folded for comparison: case, separators and a plural ``s`` removed.

    >>> name_key(" Traffic_Lights "), name_key("bus"), name_key("buses"), name_key("glass")
    ('traffic light', 'bus', 'bus', 'glass')
    """
    s = _SEP.sub(" ", name.strip().lower())
    words = s.split(" ")
    w = words[-1] if words else ""
    if len(w) > 3 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith(("ses", "xes", "zes", "ches", "shes")):
        w = w[:-2]
    elif len(w) > 2 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    words[-1] = w
    return " ".join(words)


@rule("C004", "similar-category-names", severity="warning",
      summary="Two category names differ only by case, spacing or a plural.",
      doc="""
      ``Person`` and ``persons`` (or ``traffic light`` and ``traffic_light``)
      are almost surely one class split in two by different annotators or
      tools; a model has to learn an impossible distinction.

      Bad: categories ``car`` and ``Cars``. Good: one category ``car``.
      """)
def similar_category_names(ctx):
    first: dict[str, object] = {}
    for c in ctx.dataset.categories:
        k = name_key(c.name)
        if not k:
            continue
        other = first.get(k)
        if other is not None and other.name != c.name:
            yield Hit(f"category {c.name!r} (id {c.id!r}) looks like {other.name!r} (id {other.id!r})",
                      data={"category_id": c.id, "name": c.name, "other_id": other.id, "other_name": other.name},
                      key=f"category {c.id}")
        first.setdefault(k, c)


@rule("C005", "category-id-conflict", severity="error",
      summary="One category name has different ids (in a file, or across splits or files).",
      doc="""
      A class must keep its id everywhere: when ``train`` says ``dog`` is 3
      and ``val`` says 5, a model trained on one and evaluated on the other
      scores zero for dogs. Checked within each file and across all the paths
      given to one ``segmill check`` run.

      Bad: ``train.json`` ``{"id": 3, "name": "dog"}``, ``val.json`` ``{"id": 5, "name": "dog"}``.
      Good: ``"id": 3`` in both.
      """)
def category_id_conflict(ctx):
    # Within this dataset.
    ids: dict[str, list] = defaultdict(list)
    for c in ctx.dataset.categories:
        if c.id not in ids[c.name]:
            ids[c.name].append(c.id)
    for name, lst in ids.items():
        for other in lst[1:]:
            yield Hit(f"category {name!r} has id {other!r} here and also id {lst[0]!r}",
                      data={"name": name, "ids": lst}, key=f"category {other}")
    # Across datasets: reported once, by the first one, against the first file naming the class.
    if ctx.siblings[0] is not ctx:
        return
    seen: dict[str, tuple] = {}
    for other_ctx in ctx.siblings:
        names = {}
        for c in other_ctx.dataset.categories:
            names.setdefault(c.name, c.id)
        for name, cid in names.items():
            if name not in seen:
                seen[name] = (other_ctx.file, cid)
            elif seen[name][1] != cid and other_ctx is not ctx:
                yield Hit(f"category {name!r} has id {cid!r} here but {seen[name][1]!r} in {seen[name][0]}",
                          data={"name": name, "id": cid, "other_id": seen[name][1], "other_file": seen[name][0]},
                          key=f"category {cid}", file=other_ctx.file)


@rule("C006", "palette-mismatch", severity="warning",
      summary="Class colours disagree with the palette, or two classes share a colour.",
      doc="""
      In VOC-style datasets the class of a pixel is read from its colour.
      When the class list (``labelmap.txt``) gives a class a colour that the
      mask palette assigns to another index, or two classes share a colour,
      masks decode to the wrong class. The palette is the one the reader found
      in the mask PNGs (``meta["palette"]``: label
      value -> RGB); a class's label value is its category id (VOC's
      convention), or its position in the class list when ids are not ints.

      Bad: ``labelmap.txt`` ``cat:64,0,0`` while palette entry 8 (cat) is
      ``(192, 0, 0)``. Good: both say ``(64, 0, 0)``.
      """)
def palette_mismatch(ctx):
    cats = ctx.dataset.categories
    by_color: dict = {}
    for c in cats:
        if c.color is None:
            continue
        other = by_color.get(c.color)
        if other is not None and other.id != c.id:
            yield Hit(f"category {c.name!r} has the same colour {list(c.color)} as {other.name!r}",
                      data={"color": list(c.color), "name": c.name, "other_name": other.name},
                      key=f"category {c.id} colour")
        by_color.setdefault(c.color, c)
    palette = ctx.dataset.meta.get("palette")
    if palette is None or len(palette) == 0:
        return
    if isinstance(palette, (bytes, bytearray)):
        # The VOC reader keeps the PNG palette as raw RGB bytes.
        raw = bytes(palette)
        palette = [raw[i : i + 3] for i in range(0, len(raw) - len(raw) % 3, 3)]
    pal = [tuple(int(v) for v in p) for p in palette]
    for position, c in enumerate(cats):
        index = c.id if isinstance(c.id, int) else position
        if c.color is None or not 0 <= index < len(pal):
            continue
        if pal[index] != c.color:
            yield Hit(f"category {c.name!r} (index {index}) is {list(c.color)} in the class list "
                      f"but {list(pal[index])} in the palette",
                      data={"index": index, "class_color": list(c.color), "palette_color": list(pal[index])},
                      key=f"category {c.id} palette")


@rule("C007", "instance-class-disagreement", severity="warning",
      options={"min_pixels": 1},
      option_docs={"min_pixels": "smallest number of disagreeing pixels reported"},
      summary="An instance's pixels carry another class in the semantic mask.",
      doc="""
      Datasets that ship both an instance mask and a class mask (VOC's
      ``SegmentationObject`` and ``SegmentationClass``) must agree: the class
      mask under an instance should be that instance's class, and object
      classes should not appear outside every instance. The VOC reader keeps
      what it finds: an instance spread over several classes becomes one
      annotation per class (``extra["voc_instance"]`` shared), class pixels
      outside every instance become ``extra["voc_semantic"]`` regions (reported
      only for classes that have instances elsewhere: a class that never does,
      like ``road`` in a mask folder, is stuff). Other
      readers may give a class map per image in ``item.attributes["class_map"]``
      (category id per pixel, 255 void). Void pixels are never counted.

      Bad: instance 2 (``dog``) where the class mask says ``cat``.
      Good: the class mask says ``dog`` under instance 2.
      """)
def instance_class_disagreement(ctx, min_pixels):
    voc = _voc_items(ctx)
    things = _thing_classes(ctx, voc)
    for p, it in enumerate(ctx.dataset.items):
        if p in voc:
            yield from _voc_disagreement(ctx, it, min_pixels, things)
        cmap = it.attributes.get("class_map")
        if cmap is None or ctx.size(it) is None:
            continue
        arr = np.asarray(cmap)
        for a, r in zip(it.annotations, ctx.pixels(it)):
            if r is None or a.iscrowd or r.area == 0 or a.attributes.get("void"):
                continue
            vals = arr[r.decode()]
            vals = vals[vals != 255]
            wrong = int((vals != a.category_id).sum())
            if wrong >= min_pixels:
                yield Hit(f"{wrong} of the instance's {vals.size} pixels have another class than "
                          f"{a.category_id!r} in the class mask", it.id, a.id,
                          {"pixels": wrong, "instance_pixels": int(vals.size), "min_pixels": min_pixels},
                          file=ctx.file_of(it))


def _pixels_of(a):
    g = a.geometry
    return int(g.area) if isinstance(g, RLE) else 0


def _voc_items(ctx) -> dict:
    """Item position -> its annotations that carry a VOC instance number (only items having any)."""
    out: dict = {}
    # One pass over the items (no annotation table: a streamed check's items are on disk). Most
    # annotations have no extra fields at all: only those that do are looked into.
    for p, it in enumerate(ctx.dataset.items):
        for a in compress(it.annotations, map(attrgetter("extra"), it.annotations)):
            if a.extra.get("voc_instance") is not None:
                out.setdefault(p, []).append(a)
    return out


def _thing_classes(ctx, voc: dict) -> set:
    """Classes that have instances somewhere in the dataset (and are not declared stuff)."""
    stuff = {c.id for c in ctx.dataset.categories if c.isthing is False}
    return {a.category_id for anns in voc.values() for a in anns} - stuff


def _voc_disagreement(ctx, it, min_pixels, things):
    groups: dict = defaultdict(list)
    semantic = []
    for a in it.annotations:
        inst = a.extra.get("voc_instance")
        if inst is not None:
            groups[inst].append(a)
        elif a.extra.get("voc_semantic"):
            semantic.append(a)
    if not groups:
        return
    for inst, anns in groups.items():
        if len(anns) < 2:
            continue
        main = max(anns, key=_pixels_of)
        total = sum(_pixels_of(a) for a in anns)
        for a in anns:
            n = _pixels_of(a)
            if a is main or n < min_pixels:
                continue
            yield Hit(f"{n} of instance {inst}'s {total} pixels are class {a.category_id!r} in the class mask, "
                      f"the rest {main.category_id!r}", it.id, a.id,
                      {"instance": inst, "pixels": n, "instance_pixels": total, "class": a.category_id,
                       "main_class": main.category_id}, key=f"instance {inst} class {a.category_id}",
                      file=ctx.file_of(it))
    for a in semantic:
        n = _pixels_of(a)
        if n >= min_pixels and a.category_id in things:
            yield Hit(f"{n} pixels of class {a.category_id!r} in the class mask belong to no instance", it.id, a.id,
                      {"pixels": n, "class": a.category_id}, key=f"semantic {a.category_id}",
                      file=ctx.file_of(it))


def _area(a):
    g = a.geometry
    if isinstance(g, (Polygons, Box)):
        return g.area
    if isinstance(g, RLE):
        return float(g.area)
    if isinstance(g, Mask):
        return float(g.array.sum())
    return None


@rule("C008", "size-outlier", severity="info", default=False,
      options={"max_z": 5.0, "min_count": 20},
      option_docs={"max_z": "robust z-score of log area above which an object is reported",
                   "min_count": "classes with fewer annotations are not scored"},
      summary="An object's size is far from its class's usual size.",
      doc="""
      Per class, object areas are compared on a log scale with a robust
      z-score (0.6745 x distance to the median / median absolute deviation).
      A ``person`` of 3 pixels among thousands of 5,000-pixel persons is
      usually a wrong class, a stray click or a unit error.

      Bad: a 2x2-pixel ``bus``. Good: the bus outlined at its real size.
      """)
def size_outlier(ctx, max_z, min_count):
    by_cat: dict = defaultdict(list)
    for it, a in ctx.dataset.annotations():
        ar = _area(a)
        if ar is not None and ar > 0 and not a.iscrowd and not a.attributes.get("void"):
            by_cat[a.category_id].append((it, a, ar))
    for cid, rows in by_cat.items():
        if len(rows) < min_count:
            continue
        la = np.log(np.array([r[2] for r in rows]))
        med = float(np.median(la))
        mad = float(np.median(np.abs(la - med)))
        if mad == 0:
            continue
        z = 0.6745 * (la - med) / mad
        for k in np.flatnonzero(np.abs(z) > max_z):
            it, a, ar = rows[k]
            yield Hit(f"area {ar:.4g} px is unusual for class {cid!r} (robust z {z[k]:+.1f}, "
                      f"median {np.exp(med):.4g} px)", it.id, a.id,
                      {"area": ar, "z": float(z[k]), "median_area": float(np.exp(med)), "max_z": max_z},
                      file=ctx.file_of(it))


def _truthy(v) -> bool:
    return v is True or v == 1 or (isinstance(v, str) and v.strip().lower() in ("1", "true", "yes"))


@rule("C009", "unannotated-image", severity="warning",
      options={"require_annotations": False},
      option_docs={"require_annotations": "report every image without annotations, flagged or not"},
      summary="An image that says it is annotated has no annotations.",
      doc="""
      An image flagged as segmented (VOC ``<segmented>1</segmented>``, or an
      image attribute ``segmented``) with no mask or polygon lost its masks
      on the way. Set ``require-annotations`` when every image of a dataset
      must have at least one annotation.

      Bad: ``<segmented>1</segmented>`` and no object.
      Good: its objects, or ``<segmented>0</segmented>``.
      """)
def unannotated_image(ctx, require_annotations):
    for it in ctx.real_items():
        voc = it.extra.get("voc_xml") or {}
        flagged = _truthy(it.attributes.get("segmented")) or _truthy(voc.get("segmented"))
        if flagged:
            if any(isinstance(a.geometry, (Polygons, RLE, Mask)) for a in it.annotations):
                continue
        elif it.annotations or not require_annotations:
            continue
        why = "is flagged as segmented" if flagged else "is required to have annotations"
        what = "segmentation" if flagged else "annotation"
        yield Hit(f"image {it.file_name!r} {why} but has no {what}", it.id, None,
                  {"segmented": flagged}, file=ctx.file_of(it))
