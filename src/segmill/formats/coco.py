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

from ..budget import scaled
from ..errors import UsageError
from ..losses import WriteReport
from ..model import Dataset
from ..validate import brief
from . import NO, Detection, FormatSpec, register_format
from ._coco_geom import CocoBox, CocoPolygons, CocoRLE, rasterize_items
from ._coco_json import peek
from ._coco_read import read_instances
from ._coco_stream import CocoPart, part_stream, plan_parts, stream_instances
from ._coco_write import LOSS_CODES, SEGMENTATION_MODES, Part, int_ids_top, splits_of, write_instances
from ._coco_write import render_part as _render_part
from ._coco_write import write_parts as _write_parts
from ._coco_write_stream import write_stream as _write_stream
from .options import ERRORS, Option, raster, raster_rule

__all__ = ["read", "write", "detect", "rasterize_items", "CocoPolygons", "CocoRLE", "CocoBox",
           "LOSS_CODES", "SEGMENTATION_MODES", "Part", "int_ids_top", "render_part", "splits_of",
           "write_parts"]


#: Bytes a detector reads at each end of a file: enough to see an annotation record's keys past a long
#: images list or polygon, still cheap on a file of gigabytes.
_PEEK = 65536

#: Fields of SA-1B (Segment Anything) annotations that COCO instances files do not have.
_SA1B_KEYS = ("predicted_iou", "stability_score", "point_coords", "crop_box")


def _has_key(blob: bytes, key: str) -> bool:
    return re.search(rb'"' + key.encode() + rb'"\s*:', blob) is not None


def detect(path) -> Detection:
    """A JSON object with COCO's top-level keys (peeks at the first and last 64 KiB).

    An ``annotations`` list whose records carry ``segmentation`` is COCO
    instances whatever extra keys the images or categories carry
    (``panoptic_file_name``, ``isthing``: segmill's own output from a panoptic
    or Cityscapes source, Detectron2-style files); it is detected with a
    confidence above every other JSON detector's. Panoptic files
    (``segments_info``) get a low confidence so that the ``coco_panoptic``
    format wins them, and ``isthing`` categories with no annotation record in
    view a middling one (the panoptic detector, which sees the PNG folder
    beside a panoptic file, decides); so do SA-1B files (a single ``image``
    object and ``annotations``, no ``images`` list), which this reader cannot
    read.
    """
    p = Path(path)
    if not p.is_file():
        return NO
    head, tail = peek(p, _PEEK)
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body.startswith(b"{"):
        return NO
    blob = head + tail
    keys = [k for k in ("images", "annotations", "categories") if _has_key(blob, k)]
    if not keys:
        if p.suffix.lower() == ".json":
            return Detection(0.1, "a JSON object without COCO's images/annotations/categories keys in view")
        return NO
    if "images" not in keys and (re.search(rb'"image"\s*:\s*\{', blob) is not None
                                 or any(_has_key(blob, k) for k in _SA1B_KEYS)):
        # SA-1B (Segment Anything): one JSON per image, {"image": {...}, "annotations": [...]}.
        return Detection(0.2, "JSON object with a single 'image' record (or SA-1B fields such as "
                              "predicted_iou/stability_score) and no 'images' list: an SA-1B style file, "
                              "not COCO instances")
    panoptic = _has_key(blob, "segments_info")
    if "annotations" in keys and _has_key(blob, "segmentation") and not panoptic:
        return Detection(0.98, f"JSON object with COCO key(s) {', '.join(keys)}; annotation records carry "
                               "'segmentation'")
    if panoptic:
        return Detection(0.4, f"JSON object with {', '.join(keys)} but panoptic segments_info")
    if _has_key(blob, "isthing"):
        # No annotation record in view says which: an instances file without annotations, or an
        # empty panoptic one. A panoptic file has its PNG folder beside it; that detector says so.
        return Detection(0.55, f"JSON object with COCO key(s) {', '.join(keys)} and isthing categories but no "
                               "annotation record in view")
    conf = 0.6 + 0.1 * len(keys)
    if _has_key(blob, "file_name"):
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


def stream(path, errors: str = "raise", selection: CocoPart | None = None):
    """The header and the items of a COCO instances file, one batch of images at a time (see ``_coco_stream``).

    Files under :data:`STREAM_BYTES` are read whole (no index pays off
    there), and so is any file the index cannot vouch for; ``None`` then.
    ``selection``: one part of :func:`shards`, its images only (whatever the
    file's size: the part was made from the index).
    """
    if selection is not None:
        return part_stream(path, selection, errors)
    return None if _small(path) else stream_instances(path, errors)


def shards(path, n: int, errors: str = "raise") -> list[CocoPart] | None:
    """At most ``n`` runs of images in file order that :func:`stream` reads apart (``selection=``).

    ``None`` (a sharded run then cuts the whole read's items by position)
    when :func:`stream` would read the file whole: under
    :data:`STREAM_BYTES`, ``errors`` other than ``"raise"``, or a file the
    index cannot vouch for.
    """
    if errors != "raise" or _small(path):
        return None
    return plan_parts(path, n)


def _small(path) -> bool:
    """Whether the file is under :data:`STREAM_BYTES` (scaled to the memory budget), or cannot be looked at."""
    try:
        return Path(path).stat().st_size < scaled(STREAM_BYTES)
    except OSError:
        return True  # the whole read words the problem


#: Files at least this big (at the default memory budget; :func:`segmill.budget.scaled`) are streamed
#: through an index (smaller ones fit in memory many times over).
STREAM_BYTES = 32 << 20


def write_stream(stream, path, segmentation: str = "keep", recompute: bool = False, raster: str | None = None,
                 polygon_mode: str | None = None, tolerance: float | None = None) -> WriteReport:
    """Write a bounded stream of this reader as :func:`write` writes the whole dataset (``_coco_write_stream``)."""
    _check_tracing_options(segmentation, polygon_mode, tolerance)
    return _write_stream(stream, path, segmentation=segmentation, recompute=recompute,
                         raster=raster_rule(stream.header, raster), polygon_mode=polygon_mode or "exact",
                         tolerance=1.0 if tolerance is None else tolerance)


def write(dataset: Dataset, path, segmentation: str = "keep", recompute: bool = False, raster: str | None = None,
          polygon_mode: str | None = None, tolerance: float | None = None) -> WriteReport:
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
        Rasterization rule for ``segmentation="rle"`` (default: the rule the
        dataset was read with, else ``coco``).
    polygon_mode : {"exact", "simplified"}, optional
        Tracing mode for ``segmentation="polygon"`` (default ``exact``);
        ``simplified`` reports the IoU lost (L103). Only with
        ``segmentation="polygon"``: nothing is traced otherwise.
    tolerance : float, optional
        Simplification tolerance in pixels (default 1.0); only with
        ``polygon_mode="simplified"``.

    Returns
    -------
    WriteReport

    Raises
    ------
    segmill.errors.UsageError
        ``polygon_mode`` without ``segmentation="polygon"``, or ``tolerance``
        without ``polygon_mode="simplified"``: they would change nothing.
    """
    return write_instances(dataset, path, **_writer_options(dataset, segmentation, recompute, raster, polygon_mode,
                                                            tolerance))


def _writer_options(dataset: Dataset, segmentation="keep", recompute=False, raster=None, polygon_mode=None,
                    tolerance=None) -> dict:
    """The writer's options (:func:`write`'s) checked, with their defaults resolved for ``dataset``."""
    _check_tracing_options(segmentation, polygon_mode, tolerance)
    return {"segmentation": segmentation, "recompute": recompute, "raster": raster_rule(dataset, raster),
            "polygon_mode": polygon_mode or "exact", "tolerance": 1.0 if tolerance is None else tolerance}


def render_part(dataset: Dataset, image_top: int = 0, **options) -> Part | None:
    """The records of ``dataset``'s items as :func:`write` writes them among others, or ``None``.

    For a sharded conversion: each worker renders its part, and
    :func:`write_parts` writes the file (see ``_coco_write.render_part``
    for ``image_top`` and ``None``). ``options`` are :func:`write`'s.
    """
    return _render_part(dataset, image_top, **_writer_options(dataset, **options))


def write_parts(header: Dataset, parts: list, path, splits: list, numbered: tuple[int, int] = (0, 0),
                **options) -> WriteReport:
    """The file and the report :func:`write` gives for the dataset whose items ``parts`` hold.

    ``header`` is the dataset without its items; ``splits`` the ``(split,
    image id)`` of every item in order; ``numbered`` how many image ids
    were not ints and the first id they got; ``options`` are
    :func:`write`'s (see ``_coco_write.write_parts``).
    """
    return _write_parts(header, parts, path, splits, numbered, **_writer_options(header, **options))


def _check_tracing_options(segmentation, polygon_mode, tolerance) -> None:
    """Refuse tracing options that would be silently ignored (issue 13)."""
    if polygon_mode is not None and segmentation != "polygon":
        raise UsageError(f"polygon_mode={brief(polygon_mode)} needs segmentation='polygon' (command line: "
                         "--polygon-mode needs --segmentation polygon); without it no mask is traced, so the "
                         "tracing mode would change nothing")
    if tolerance is not None and polygon_mode != "simplified":
        raise UsageError("tolerance needs polygon_mode='simplified' and segmentation='polygon' (command line: "
                         "--tolerance needs --segmentation polygon --polygon-mode simplified); exact tracing "
                         "has no tolerance, so it would change nothing")


register_format(
    FormatSpec(
        name="coco",
        example="coco/annotations.json",
        description="COCO instances JSON (polygons, compressed/uncompressed RLE, crowd); lossless round trip",
        detect=detect,
        read=read,
        write=write,
        stream=stream,
        write_stream=write_stream,
        shards=shards,
        output="file",
        options=(
            ERRORS,
            Option("segmentation", "writer", "keep as read, or write every mask as polygons or every geometry as RLE",
                   kind="choice", choices=("keep", "polygon", "rle"), default="keep"),
            Option("recompute", "writer", "recompute area and bbox even for unchanged geometry", kind="bool",
                   default=False),
            raster("writer", "the rule used when polygons become RLE: coco (pycocotools) or pil"),
            # No declared default: given without the tracing it tunes, each is a usage error.
            Option("polygon_mode", "writer", "how masks become polygons, only with --segmentation polygon: "
                   "exact (the default) or simplified", kind="choice", choices=("exact", "simplified")),
            Option("tolerance", "writer", "simplification tolerance in pixels (default 1.0), only with "
                   "--segmentation polygon --polygon-mode simplified", kind="float"),
        ),
    )
)
