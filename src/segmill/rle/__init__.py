"""Run-length encoded masks in COCO semantics, on numba kernels.

The verbs mirror ``pycocotools.mask`` (``encode``, ``decode``, ``merge``,
``iou``, ``area``, ``toBbox`` as :func:`bbox`, ``frPyObjects`` as
:func:`from_polygons` / :func:`from_bbox` / :func:`from_coco`), with three
differences a pycocotools user should know:

* masks may be in any memory order, and nonzero means foreground;
* malformed input (counts that do not sum to ``h * w``, bad strings, polygons
  with fewer than 3 points, NaN) raises :class:`segmill.errors.RLEError` or
  :class:`segmill.errors.PolygonError` instead of returning garbage, and so
  does an argument of the wrong type: no verb lets a ``TypeError``,
  ``ValueError`` or ``OverflowError`` escape (both classes are
  ``ValueError`` subclasses, so callers catching that keep working);
* sizes are held to the pixel limit of :mod:`segmill.limits`
  (``SEGMILL_MAX_PIXELS``), and a polygon whose edges would take more
  tracing steps than that limit is refused before anything is allocated;
* counts are kept canonical (no empty interior runs), so equal masks compare
  equal.

Many RLEs travel packed in one :class:`RLEBatch` (one counts array and
offsets), the form the kernels take and :func:`segmill.raster.rasterize_packed`
returns.
"""

from ._api import area, bbox, decode, decode_batch, encode, encode_batch, from_coco, iou, merge
from ._batch import RLEBatch
from ._polygons import (
    MAX_COORD,
    RULES,
    FlatBatch,
    from_bbox,
    from_polygons,
    from_polygons_batch,
)
from ._rle import RLE, string_to_counts

__all__ = [
    "RLE",
    "RLEBatch",
    "FlatBatch",
    "RULES",
    "MAX_COORD",
    "area",
    "bbox",
    "decode",
    "decode_batch",
    "encode",
    "encode_batch",
    "from_bbox",
    "from_coco",
    "from_polygons",
    "from_polygons_batch",
    "iou",
    "merge",
    "string_to_counts",
]
