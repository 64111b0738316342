"""Structure rules (S): ids, references, categories and image files."""

from __future__ import annotations

from array import array
from collections import defaultdict
from itertools import islice
from operator import attrgetter

import numpy as np

from ...errors import InputError
from ...images import image_size
from .._files import image_files
from ..fixes.categories import DROP_UNUSED_CATEGORIES, POSITIONAL_FORMATS
from ..fixes.renumber import RENUMBER_ANNOTATIONS, RENUMBER_CATEGORIES, RENUMBER_IMAGES
from ..fixes.unreadable import DROP_ORPHANS, DROP_UNKNOWN_CATEGORY, DROP_UNREADABLE
from ..registry import Hit, rule


def _repeats(values):
    """Yield ``(index, first_index, occurrence)`` for every repeat of a value, in index order.

    ``values`` is read once. Integers (the usual ids) are packed, 8 bytes
    each, and compared sorted; anything else is compared in a dict, ``None``
    never a repeat. Both ways give the same answers (``True`` equals ``1``
    in either).
    """
    packed, listed = array("q"), None
    it = iter(values)
    while chunk := list(islice(it, _CHUNK)):
        if listed is None:
            try:
                packed += array("q", chunk)
                continue
            except (TypeError, OverflowError):
                listed = packed.tolist()
                packed = None
        listed += chunk
    if listed is None:
        yield from _packed_repeats(np.frombuffer(packed, np.int64))
        return
    if len(set(listed)) == len(listed):
        return  # all distinct (the common case, decided in C)
    first: dict = {}
    seen: dict = defaultdict(int)
    for i, v in enumerate(listed):
        if v is None:
            continue
        seen[v] += 1
        if v in first:
            yield i, first[v], seen[v]
        else:
            first[v] = i


_CHUNK = 1 << 16


def _packed_repeats(vals: np.ndarray):
    """:func:`_repeats` over int64 ``vals``: a sort, and a stable argsort only when a value repeats."""
    s = np.sort(vals)
    if not (s[1:] == s[:-1]).any():
        return
    del s
    order = np.argsort(vals, kind="stable")
    s = vals[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    again = np.flatnonzero(np.r_[False, s[1:] == s[:-1]])  # sorted positions repeating the one before
    group = starts[np.searchsorted(starts, again, side="right") - 1]
    index, first, occurrence = order[again], order[group], again - group + 1
    for k in np.argsort(index, kind="stable"):
        yield int(index[k]), int(first[k]), int(occurrence[k])


@rule("S001", "duplicate-image-id", severity="error", unsafe_fix=RENUMBER_IMAGES,
      summary="Two images share one id.",
      doc="""
      Every image needs its own id: annotations point at images by id, so a
      repeated id makes their owner ambiguous and most tools keep only one of
      the images.

      Bad: ``{"id": 3, "file_name": "a.jpg"}, {"id": 3, "file_name": "b.jpg"}``.
      Good: ``{"id": 3, "file_name": "a.jpg"}, {"id": 4, "file_name": "b.jpg"}``.
      """)
def duplicate_image_id(ctx):
    items = ctx.real_items()
    for i, first, n in _repeats(it.id for it in items):
        it = items[i]
        yield Hit(f"image id {it.id!r} is used again by {it.file_name!r} (first by {items[first].file_name!r})",
                  it.id, None, {"index": i, "first_index": first}, key=f"#{n}", file=ctx.file_of(it))


@rule("S002", "duplicate-annotation-id", severity="error", unsafe_fix=RENUMBER_ANNOTATIONS,
      summary="Two annotations share one id.",
      doc="""
      Annotation ids must be unique across the whole file: evaluation and
      agreement tools match by id, and a repeat silently merges or drops
      annotations.

      Bad: two annotations with ``"id": 17`` (even in different images).
      Good: ids 17 and 18.
      """)
def duplicate_annotation_id(ctx):
    items = ctx.dataset.items  # read in one pass: no annotation table (a streamed check's are on disk)
    counts = array("q")

    def ids():
        for it in items:
            anns = it.annotations
            counts.append(len(anns))
            yield from map(attrgetter("id"), anns)

    ends = None
    for i, first, n in _repeats(ids()):
        if ends is None:
            ends = np.cumsum(np.frombuffer(counts, np.int64))
        p, q = np.searchsorted(ends, [i, first], side="right")
        it = items[int(p)]
        a = it.annotations[i - (int(ends[p - 1]) if p else 0)]
        first_id = items[int(q)].id
        yield Hit(f"annotation id {a.id!r} is used again (first in image {first_id!r})",
                  it.id, a.id, {"first_item_id": first_id}, key=f"#{n}", file=ctx.file_of(it))


@rule("S003", "duplicate-category-id", severity="error", unsafe_fix=RENUMBER_CATEGORIES,
      summary="Two categories share one id.",
      doc="""
      A category id must name one class; with a repeat, annotations of that id
      belong to whichever class a tool happens to keep.

      Bad: ``{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}``.
      Good: ``{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}``.
      """)
def duplicate_category_id(ctx):
    cats = ctx.dataset.categories
    for i, first, n in _repeats([c.id for c in cats]):
        c = cats[i]
        yield Hit(f"category id {c.id!r} is declared again as {c.name!r} (first as {cats[first].name!r})",
                  data={"category_id": c.id, "name": c.name, "first_name": cats[first].name},
                  key=f"category {c.id}#{n}")


def _used_categories(ctx) -> set:
    """Every annotation's ``category_id`` (cached: S004 and S010 share it)."""
    got = ctx.cache.get("used_categories")
    if got is None:
        got = ctx.cache["used_categories"] = {a.category_id for it in ctx.dataset.items for a in it.annotations}
    return got


@rule("S004", "unknown-category", severity="error", unsafe_fix=DROP_UNKNOWN_CATEGORY,
      summary="An annotation points at a category that is not declared.",
      doc="""
      Each annotation's ``category_id`` must be one of the declared
      categories, otherwise its class is unknown.

      Void regions (``attributes["void"]``, VOC's 255) are exempt.

      Bad: categories ``[{"id": 1, "name": "cat"}]`` and an annotation with
      ``"category_id": 7``. Good: ``"category_id": 1``.
      """)
def unknown_category(ctx):
    declared = {c.id for c in ctx.dataset.categories}
    used = _used_categories(ctx)
    if None not in used and used <= declared:
        return  # every annotation names a declared category
    for it, a in ctx.dataset.annotations():
        if a.attributes.get("void"):
            continue  # a void / ignore region (VOC 255) has no class on purpose
        if a.category_id is None:
            yield Hit("annotation has no category", it.id, a.id, {}, file=ctx.file_of(it))
        elif a.category_id not in declared:
            yield Hit(f"category_id {a.category_id!r} is not a declared category", it.id, a.id,
                      {"category_id": a.category_id}, file=ctx.file_of(it))


def orphans(ctx):
    """Annotations whose image does not exist, as ``(image_id, Annotation)``.

    Lenient readers keep them under a placeholder image listed in
    ``dataset.meta["placeholder_images"]`` (COCO), or in
    ``dataset.meta["orphan_annotations"]``, a list of ``(image_id, Annotation)``
    pairs (or dicts with those two keys).
    """
    out = []
    if ctx.placeholders:
        real = {id(it) for it in ctx.real_items()}
        for it in ctx.dataset.items:
            if id(it) not in real:
                out.extend((it.id, a) for a in it.annotations)
    for entry in ctx.dataset.meta.get("orphan_annotations", ()) or ():
        if isinstance(entry, dict):
            out.append((entry.get("image_id"), entry.get("annotation")))
        else:
            out.append((entry[0], entry[1]))
    return out


@rule("S005", "unknown-image", severity="error", unsafe_fix=DROP_ORPHANS,
      summary="An annotation points at an image that is not listed.",
      doc="""
      Each annotation's ``image_id`` must be one of the listed images;
      otherwise it has no pixels to belong to and readers drop it.

      Bad: images ``[{"id": 1, ...}]`` and an annotation with ``"image_id": 9``.
      Good: ``"image_id": 1``.
      """)
def unknown_image(ctx):
    for image_id, a in orphans(ctx):
        aid = getattr(a, "id", None)
        yield Hit(f"image_id {image_id!r} is not a listed image", image_id, aid, {"image_id": image_id})


def _norm_name(name: str) -> str:
    return name.replace("\\", "/").lstrip("./").lower() if name else ""


@rule("S006", "duplicate-image-file", severity="error",
      summary="One image file is listed twice under different ids.",
      doc="""
      An image listed twice is trained on twice and, worse, its annotations
      are split between the two entries. Paths are compared case-insensitively
      with ``\\`` read as ``/``.

      Bad: ``{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.jpg"}``.
      Good: one entry for ``a.jpg``, holding all its annotations.
      """)
def duplicate_image_file(ctx):
    items = ctx.dataset.items
    # A pass keeps 8 bytes an image (the name's hash); the names are compared only where a hash repeats.
    hashes = array("q", (hash(_norm_name(it.file_name)) or 1 if it.file_name else 0 for it in items))
    h = np.frombuffer(hashes, np.int64)
    s = np.sort(h[h != 0])
    twice = np.unique(s[1:][s[1:] == s[:-1]])
    if not twice.size:
        return
    suspect = np.isin(h, twice)
    del hashes, h, s
    first: dict = {}
    for p, it in enumerate(items):
        if not suspect[p]:
            continue
        key = _norm_name(it.file_name)
        if not key:
            continue
        if key in first and first[key] != it.id:
            yield Hit(f"{it.file_name!r} is already listed as image {first[key]!r}", it.id, None,
                      {"file_name": it.file_name, "other_item_id": first[key]},
                      key=f"dup of {first[key]}", file=ctx.file_of(it))
        first.setdefault(key, it.id)


def _image_files(ctx):
    """Per item: ``(path or None, error message or None)``, cached; plus the found count."""
    got = ctx.cache.get("image_files")
    if got is not None:
        return got

    # one lstat per absent name; resolve_inside for the rest (see check._files)
    ctx.cache["image_files"] = got = image_files(ctx.image_root, ctx.dataset.items)
    return got


@rule("S007", "missing-image-file", severity="error",
      summary="An image's file is not under the image root.",
      doc="""
      Each listed image must exist under the image root (the reader's image
      folder, ``image-root`` in the configuration, or the annotation file's
      folder). The rule only runs when at least one image of the dataset is
      found there: an annotation-only checkout is S013's business.

      Bad: ``"file_name": "0001.jpg"`` with no ``images/0001.jpg``.
      Good: the file is there (or the entry is removed).
      """)
def missing_image_file(ctx):
    res, found = _image_files(ctx)
    if not found:
        return
    for it, (p, err) in zip(ctx.dataset.items, res):
        if p is False:
            yield Hit(f"image file {it.file_name!r} not found under {str(ctx.image_root)!r}", it.id, None,
                      {"file_name": it.file_name}, file=ctx.file_of(it))


@rule("S008", "image-size-mismatch", severity="error",
      summary="The image file's size differs from the declared width and height.",
      doc="""
      Masks and polygons are drawn at the declared size; if the real image
      differs (rotated EXIF export, resized copy) every annotation is
      misplaced. Only the image header is read (Pillow), never the pixels.

      Bad: ``"width": 640, "height": 480`` for a 480x640 file.
      Good: the declared size matches the file.
      """)
def image_size_mismatch(ctx):

    res, _ = _image_files(ctx)
    for it, (p, err) in zip(ctx.dataset.items, res):
        if not p or ctx.size(it) is None:
            continue  # S011 reports an unusable declared size
        try:
            h, w = image_size(p)
        except InputError as exc:  # not an image, or a header over the pixel limit: never decoded
            yield Hit(f"image file {it.file_name!r} cannot be read as an image: {exc.message}", it.id, None,
                      {"file_name": it.file_name}, key="unreadable", file=ctx.file_of(it))
            continue
        if (w, h) != (it.width, it.height):
            yield Hit(f"image file is {w}x{h}, declared {it.width}x{it.height}", it.id, None,
                      {"file_width": w, "file_height": h, "width": it.width, "height": it.height},
                      file=ctx.file_of(it))


@rule("S009", "blank-category-name", severity="error",
      summary="A category has an empty or blank name.",
      doc="""
      A category needs a name a person can read and other formats can write
      (YOLO ``names``, VOC ``labelmap.txt``).

      Bad: ``{"id": 3, "name": " "}``. Good: ``{"id": 3, "name": "bicycle"}``.
      """)
def blank_category_name(ctx):
    for c in ctx.dataset.categories:
        if not c.name.strip():
            yield Hit(f"category {c.id!r} has a blank name", data={"category_id": c.id, "name": c.name},
                      key=f"category {c.id}")


@rule("S010", "unused-category", severity="info", fix=DROP_UNUSED_CATEGORIES,
      summary="A declared category has no annotation.",
      doc="""
      A class nobody used is often a typo'd or retired class; models trained
      on the file get an output that never sees a positive.

      Bad: ``"categories": [cat, dog]`` with only ``cat`` annotations.
      Good: drop ``dog``, or annotate it.
      """)
def unused_category(ctx):
    used = _used_categories(ctx)
    # positional: the format numbers classes by position or pixel value (segmill fix leaves them alone).
    positional = ctx.dataset.meta.get("source_format") in POSITIONAL_FORMATS
    for c in ctx.dataset.categories:
        if c.id not in used:
            yield Hit(f"category {c.name!r} (id {c.id!r}) has no annotation",
                      data={"category_id": c.id, "name": c.name, "positional": positional}, key=f"category {c.id}")


@rule("S011", "missing-image-size", severity="error",
      summary="An image has no usable width and height.",
      doc="""
      Without the image size, masks cannot be decoded and polygons cannot be
      rasterized or checked against the image bounds. An image without any
      annotation and no size at all (a VOC image listed in ``ImageSets`` with
      no XML) is left alone; a declared size of 0 is always reported.

      Bad: ``{"id": 1, "file_name": "a.jpg", "width": 0, "height": 480}``.
      Good: ``"width": 640, "height": 480``.
      """)
def missing_image_size(ctx):
    for it in ctx.real_items():
        declared_bad = it.width is not None and it.height is not None
        if ctx.size(it) is None and (declared_bad or it.annotations):
            yield Hit(f"image {it.file_name!r} has no usable size (width {it.width!r}, height {it.height!r})",
                      it.id, None, {"width": it.width, "height": it.height}, file=ctx.file_of(it))


@rule("S012", "unsafe-image-path", severity="error",
      summary="An image path is absolute or escapes the dataset root.",
      doc="""
      Image names are resolved inside the dataset; an absolute path or one
      climbing out with ``..`` reads files that are not part of it.

      Bad: ``"file_name": "../../etc/passwd"``. Good: ``"file_name": "val/0001.jpg"``.
      """)
def unsafe_image_path(ctx):
    res, _ = _image_files(ctx)
    for it, (p, err) in zip(ctx.dataset.items, res):
        if err:
            yield Hit(err, it.id, None, {"file_name": it.file_name}, file=ctx.file_of(it))


@rule("S013", "images-not-found", severity="info",
      summary="None of the dataset's image files is under the image root.",
      doc="""
      Reported once when not a single listed image is found: usually the
      images live elsewhere (pass ``image-root``) or the checkout holds only
      annotations. S007 and S008 cannot run then.

      Bad: ``annotations/instances_val.json`` checked with no image folder.
      Good: ``image-root = "images/val"`` in the configuration.
      """)
def images_not_found(ctx):
    res, found = _image_files(ctx)
    n = sum(1 for p, _ in res if p is False)
    if not found and n:
        yield Hit(f"none of the {n} image files was found under {str(ctx.image_root)!r}; "
                  "set image-root to check them",
                  data={"image_root": str(ctx.image_root), "images": n})


@rule("S014", "unreadable-record", severity="error", unsafe_fix=DROP_UNREADABLE,
      summary="A record the reader could not keep at all.",
      doc="""
      Some records are too broken even for the lenient reader used by
      ``segmill check`` (an image whose width is a string, an annotation that
      is not an object, an id that is a list): they are dropped and listed
      here, so nothing disappears silently.

      Bad: ``{"id": 4, "file_name": "d.jpg", "width": "640", "height": 480}``.
      Good: ``"width": 640``.
      """)
def unreadable_record(ctx):
    for entry in ctx.dataset.meta.get("skipped", ()) or ():
        reason = str(entry.get("reason", ""))
        if "(kept" in reason:
            continue  # kept in the dataset; another rule reports it
        record = str(entry.get("record", ""))
        yield Hit(f"{record}: {reason}" if record else reason, data={"record": record, "reason": reason},
                  key=record, file=str(entry["path"]) if entry.get("path") else None)
