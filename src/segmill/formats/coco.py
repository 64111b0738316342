"""COCO instances JSON: lossless reader and writer.

Reading keeps every field (unknown ones in ``extra``), the stored ``area``
and ``bbox``, polygon coordinates exactly as written (ints stay ints), each
RLE's encoding (compressed string or uncompressed list), sparse category ids,
and the order of records and keys, so that ``write(read(f))`` gives JSON equal
to ``f``. Polygons stay lists until something needs pixels.

Writing converts geometry only when asked (``segmentation="polygon"`` or
``"rle"``) or when it comes from another format, recomputing ``area`` and
``bbox`` then by docs/internals.md, "COCO area and bbox" (polygon: shoelace sum and vertex
extent; RLE: pixel count and ``toBbox``). Loss codes L101-L105 (see
``segmill formats``).

Examples
--------
>>> import segmill, tempfile, os
>>> ds = segmill.read("fixtures/coco/annotations.json")       # doctest: +SKIP
>>> report = segmill.write(ds, "out.json", "coco")             # doctest: +SKIP
>>> report.lossless                                            # doctest: +SKIP
True
"""

from __future__ import annotations

import re
from pathlib import Path

from ..losses import WriteReport
from ..model import Dataset
from . import Detection, FormatSpec, NO, register_format
from ._coco_geom import CocoBox, CocoPolygons, CocoRLE, rasterize_items
from ._coco_json import peek
from ._coco_read import read_instances
from ._coco_write import LOSS_CODES, SEGMENTATION_MODES, write_instances
from .options import ERRORS, Option, raster

__all__ = ["read", "write", "detect", "rasterize_items", "CocoPolygons", "CocoRLE", "CocoBox",
           "LOSS_CODES", "SEGMENTATION_MODES"]


#: Fields of SA-1B (Segment Anything) annotations that COCO instances files do not have.
_SA1B_KEYS = ("predicted_iou", "stability_score", "point_coords", "crop_box")


def _has_key(blob: bytes, key: str) -> bool:
    return re.search(rb'"' + key.encode() + rb'"\s*:', blob) is not None


def detect(path) -> Detection:
    """A JSON object with COCO's top-level keys (peeks at the first and last 4 KiB).

    Panoptic files (``segments_info``, ``isthing``) get a low confidence so
    that the ``coco_panoptic`` format wins them; so do SA-1B files (a single
    ``image`` object and ``annotations``, no ``images`` list), which this
    reader cannot read.
    """
    p = Path(path)
    if not p.is_file():
        return NO
    head, tail = peek(p)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"{"):
        return NO
    blob = head + tail
    keys = [k for k in ("images", "annotations", "categories") if _has_key(blob, k)]
    if not keys:
        if p.suffix.lower() == ".json":
            return Detection(0.1, "a JSON object without COCO's images/annotations/categories keys in view")
        return NO
    if _has_key(blob, "segments_info") or _has_key(blob, "isthing"):
        return Detection(0.4, f"JSON object with {', '.join(keys)} but panoptic fields (segments_info/isthing)")
    if "images" not in keys and (re.search(rb'"image"\s*:\s*\{', blob) is not None
                                 or any(_has_key(blob, k) for k in _SA1B_KEYS)):
        # SA-1B (Segment Anything): one JSON per image, {"image": {...}, "annotations": [...]}.
        return Detection(0.2, "JSON object with a single 'image' record (or SA-1B fields such as "
                              "predicted_iou/stability_score) and no 'images' list: an SA-1B style file, "
                              "not COCO instances")
    conf = 0.6 + 0.1 * len(keys)
    if _has_key(blob, "segmentation") or _has_key(blob, "file_name"):
        conf += 0.05
    return Detection(min(conf, 0.95), f"JSON object with COCO key(s) {', '.join(keys)}")


def read(path, errors: str = "raise") -> Dataset:
    """Read a COCO instances file (captions, keypoints and labels files read too).

    Parameters
    ----------
    path : str or os.PathLike
    errors : {"raise", "skip", "keep"}
        See :mod:`segmill.formats`.

    Returns
    -------
    Dataset
        Categories and images in file order, annotations attached to their
        image; geometry :class:`CocoPolygons`, :class:`CocoRLE`,
        :class:`CocoBox` (``"segmentation": []`` with a bbox) or ``None``.

    Raises
    ------
    segmill.errors.InputError
        Invalid JSON (line and column), wrong top-level type, bad records,
        dangling ids, duplicate ids, RLE sizes not matching the image.
    """
    return read_instances(path, errors=errors)


def write(dataset: Dataset, path, segmentation: str = "keep", recompute: bool = False, raster: str = "coco",
          polygon_mode: str = "exact", tolerance: float = 1.0) -> WriteReport:
    """Write a COCO instances file.

    Parameters
    ----------
    dataset : Dataset
    path : str or os.PathLike
        A fresh file path.
    segmentation : {"keep", "polygon", "rle"}
        ``keep``: as read; other formats' masks and RLEs become RLE
        (compressed, uncompressed for crowd), boxes become 4-point polygons.
        ``polygon``: masks traced exactly (``segmill.bridges.trace``);
        ``rle``: polygons rasterized (loss L101).
    recompute : bool
        Recompute ``area``/``bbox`` even where the geometry is unchanged.
    raster : {"coco", "pil"}
        Rasterization rule for ``segmentation="rle"``.
    polygon_mode : {"exact", "simplified"}
        Tracing mode for ``segmentation="polygon"``; ``simplified`` reports
        the IoU lost (L103).
    tolerance : float
        Simplification tolerance in pixels.

    Returns
    -------
    WriteReport
    """
    return write_instances(dataset, path, segmentation=segmentation, recompute=recompute, raster=raster,
                           polygon_mode=polygon_mode, tolerance=tolerance)


register_format(
    FormatSpec(
        name="coco",
        description="COCO instances JSON (polygons, compressed/uncompressed RLE, crowd); lossless round trip",
        detect=detect,
        read=read,
        write=write,
        output="file",
        options=(
            ERRORS,
            Option("segmentation", "writer", "keep as read, or write every mask as polygons or every geometry as RLE",
                   kind="choice", choices=("keep", "polygon", "rle"), default="keep"),
            Option("recompute", "writer", "recompute area and bbox even for unchanged geometry", kind="bool",
                   default=False),
            raster("writer", "the rule used when polygons become RLE: coco (pycocotools) or pil"),
            Option("polygon_mode", "writer", "how masks become polygons with --segmentation polygon",
                   kind="choice", choices=("exact", "simplified"), default="exact"),
            Option("tolerance", "writer", "simplification tolerance in pixels (--polygon-mode simplified)",
                   kind="float", default=1.0),
        ),
    )
)
