"""COCO results (detections) JSON: a list of ``{image_id, category_id, segmentation, score}``.

``segmentation`` is a compressed RLE whose ``size`` gives the image size;
``area`` and ``bbox`` are derived by evaluation tools, not stored (a record
that has them keeps them). Image file names and category names come from an
instances file passed as ``images=PATH`` (CLI: ``--images``); without it,
items are made from the image ids (in order of first appearance, sized by
their RLEs) and categories are named by their ids.

Loss codes L110-L112 (see ``segmill formats``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..geometry import Box, InvalidGeometry, Mask, Polygons, Shape
from ..limits import check_pixels, max_pixels
from ..losses import WriteReport, register_codes
from ..model import Category, Dataset, Item, origin_of
from ..rle import RLE
from ..validate import brief
from . import NO, Detection, FormatSpec, register_format
from . import _coco_json as J
from ._coco_checks import _is_id
from ._coco_geom import CocoPolygons, CocoRLE
from ._coco_read import CocoOrder, _Errors, read_annotations, read_instances
from ._coco_results_stream import inferred_size, sorted_categories, stream_results
from ._coco_write import _file_order, _ordered
from .options import ERRORS, Option, raster, raster_rule

__all__ = ["read", "stream", "write", "detect", "LOSS_CODES"]

LOSS_CODES = {
    "L110": "image records and category names are not stored in a results file",
    "L111": "an annotation without a score was written with score 1.0",
    "L112": "iscrowd, attributes or unknown fields dropped (a results file holds none)",
}
register_codes(LOSS_CODES, changes={
    "classes": ("L110",),
    "crowd": ("L112",),
    "images": ("L110",),
})
_ORDER = ("image_id", "category_id", "segmentation", "bbox", "score")


def detect(path) -> Detection:
    """A JSON list whose first record has ``score`` (peeks at the first 4 KiB)."""
    p = Path(path)
    if not p.is_file():
        return NO
    head, _ = J.peek(p)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"["):
        return NO
    rest = body[1:].lstrip()
    if rest.startswith(b"]"):
        return Detection(0.5, "an empty JSON list (an empty results file)")
    if not rest.startswith(b"{"):
        return NO
    first = rest.split(b"}", 1)[0] if b'"segmentation"' not in rest[:200] else rest
    has = lambda k: re.search(rb'"' + k + rb'"\s*:', first) is not None  # noqa: E731
    if has(b"score") and has(b"image_id"):
        return Detection(0.9, "JSON list of records with image_id and score")
    if has(b"image_id"):
        return Detection(0.4, "JSON list of records with image_id but no score")
    return NO


def read(path, errors: str = "raise", images=None) -> Dataset:
    """Read a results file.

    Parameters
    ----------
    path : str or os.PathLike
    errors : {"raise", "skip", "keep"}
    images : str or os.PathLike, optional
        A COCO instances file giving images (names, sizes) and categories.

    Returns
    -------
    Dataset
        Each annotation with ``score``; geometry :class:`~segmill.rle.RLE`
        (or polygons, or ``None`` for box-only detections with ``bbox``).
    """
    err = _Errors(errors, path)
    with J.no_gc():
        if images is not None:
            base = read_instances(images, errors="raise")
            items, cats = base.items, base.categories
            for it in items:
                it.annotations = []
            info, lic = base.info, base.licenses
        else:
            items, cats, info, lic = [], [], None, None
        top, nonfinite = J.load(path)
        if type(top) is not list:
            hint = " (an instances file? use the coco format)" if type(top) is dict else ""
            raise InputError(f"a results file must be a JSON list, got a {type(top).__name__}{hint}", path)
        if images is None:
            items, cats = _infer(top)
        for i, r in enumerate(top):
            if type(r) is dict and "score" not in r:
                err.bad(f"results[{i}] (image id {brief(r.get('image_id'))})", "a result needs a 'score'")
                top[i] = None
        order = CocoOrder()
        read_annotations([r for r in top if r is not None], items, {c.id for c in cats}, err, nonfinite, order,
                         results=images is None)
        ds = Dataset(cats, items, info, lic)
        ds.meta["coco"] = {"keys": [], "order": order, "results": True}
        if images is not None:
            ds.meta["images_path"] = str(images)
        if err.skipped:
            ds.meta["skipped"] = err.skipped
        if err.mode == "raise":
            ds.validate(path)
    return ds


def _infer(records):
    """Items and categories from the records themselves.

    An image is sized by its first record's RLE ``size`` when that is two
    non-negative integers within the pixel limit; otherwise it has no size
    (and the RLE's own check words the problem).
    """
    items: dict = {}
    cats: dict = {}
    limit = max_pixels()
    for r in records:
        if type(r) is not dict:
            continue
        iid = r.get("image_id")
        if _is_id(iid) and iid not in items:
            h, w = inferred_size(r, limit)
            items[iid] = Item(iid, "", w, h)
        cid = r.get("category_id")
        if _is_id(cid) and cid not in cats:
            cats[cid] = Category(cid, str(cid))
    return list(items.values()), sorted_categories(cats.values())


def stream(path, errors: str = "raise", images=None):
    """The header and the items, a batch of images at a time (see :mod:`segmill.streaming`), or ``None``.

    The items, categories, meta and errors of :func:`read`, from an index
    of the file that reads every record once before the first item
    (:mod:`segmill.formats._coco_results_stream`, which lists what it reads
    whole instead). ``None`` (read whole) for ``errors`` other than
    ``"raise"`` and with ``images``: the instances file is read and
    checked whole before the results, and its images are the items.
    """
    err = _Errors(errors, path)
    if err.mode != "raise" or images is not None:
        return None
    return stream_results(path, err)


def write(dataset: Dataset, path, raster: str | None = None) -> WriteReport:
    """Write a results file: compressed RLEs (or bbox-only records for boxes) with scores.

    Parameters
    ----------
    dataset : Dataset
    path : str or os.PathLike
    raster : {"coco", "pil"}
        Rule used to rasterize polygons (loss L101).
    """
    raster = raster_rule(dataset, raster)
    report = WriteReport()
    from_results = isinstance(dataset.meta.get("coco"), dict) and dataset.meta["coco"].get("results")
    if not from_results and (dataset.categories or any(it.file_name for it in dataset.items)):
        report.lose("L110", f"{len(dataset.items)} image records and {len(dataset.categories)} category names "
                            "not written")
    pairs = _file_order(dataset)
    if pairs is None:
        pairs = ((a, it) for it in dataset.items for a in it.annotations)

    def records():
        for a, it in pairs:
            rec = _record(a, it, raster, from_results, report)
            if rec is not None:
                report.annotations += 1
                yield rec

    with J.no_gc(), open(path, "wb") as fh:
        J.write_list(fh, records())
    report.items = len(dataset.items)
    report.files = 1
    return report


def _record(ann, item, raster, from_results, report: WriteReport):
    g = ann.geometry
    iid, aid = item.id, ann.id
    keys = origin_of(ann, "coco") if from_results else None
    f: dict = {"image_id": item.id, "category_id": ann.category_id}
    h, w = item.height, item.width
    if g is None:
        pass
    elif isinstance(g, CocoRLE) and (from_results or g.compressed):
        f["segmentation"] = g.raw
    elif isinstance(g, RLE):
        f["segmentation"] = g.to_coco(compressed=True)
    elif from_results and type(g) is CocoPolygons:
        f["segmentation"] = g.source
    elif isinstance(g, Box):
        f["bbox"] = list(g.bounds)
    elif isinstance(g, (Polygons, Mask)):
        if h is None or w is None:
            report.lose("L005", "annotation dropped: the image has no size to rasterize into", iid, aid)
            return None
        check_pixels(h, w, None, _where(iid, aid))  # before rasterizing: a mask is decoded to h x w on the way
        if isinstance(g, Polygons):
            report.lose("L101", "polygon written as RLE", iid, aid)
        f["segmentation"] = g.to_rle(h, w, raster).to_coco(compressed=True)
    elif isinstance(g, Shape):
        report.lose("L002", f"a {brief(g.kind)} shape has no area; a results file cannot hold it", iid, aid)
        return None
    elif isinstance(g, InvalidGeometry):  # kept by a lenient read (errors="keep"): nothing valid to write
        raise InputError(f"invalid geometry cannot be written: {g.reason}", None, _where(iid, aid))
    score = ann.score
    if score is None:
        report.lose("L111", "no score; written with score 1.0", iid, aid)
        score = 1.0
    f["score"] = score
    if keys:
        if "bbox" in keys and ann.bbox is not None and "bbox" not in f:
            f["bbox"] = list(ann.bbox)
        if "area" in keys and ann.area is not None:
            f["area"] = ann.area
        if "id" in keys:
            f["id"] = ann.id
        if "iscrowd" in keys:
            f["iscrowd"] = int(ann.iscrowd)
        if "attributes" in keys:
            f["attributes"] = ann.attributes
        return _ordered(keys, f, ann.extra, _ORDER)
    if g is None and ann.bbox is not None:
        f["bbox"] = list(ann.bbox)
    dropped = [k for k, v in (("iscrowd", ann.iscrowd), ("attributes", ann.attributes), ("fields", ann.extra)) if v]
    if dropped:
        report.lose("L112", f"dropped {', '.join(dropped)}", iid, aid)
    return _ordered(None, f, {}, _ORDER)


def _where(iid, aid) -> str:
    return f"image id {brief(iid)}, annotation id {brief(aid)}"


register_format(
    FormatSpec(
        name="coco_results",
        example="coco/results.json",
        description="COCO results (detections): a JSON list of {image_id, category_id, segmentation, score}",
        detect=detect,
        read=read,
        stream=stream,
        write=write,
        output="file",
        options=(
            ERRORS,
            Option("images", "reader", "a COCO instances file giving image names, sizes and categories",
                   kind="path"),
            raster("writer", "the rule used when polygons become RLE: coco (pycocotools) or pil"),
        ),
    )
)
