"""The building blocks of :mod:`segmill.rle` that other segmill packages compose.

:mod:`segmill.rle`'s verbs are the face for users; the rasterization service
(:mod:`segmill.raster`), the check tables (:mod:`segmill.check`) and the
geometry classes need a level below: numba functions they call from their own
kernels, and the checks the verbs run on their arguments. They import them from
here, never from the private modules behind it, so those can change freely.

* :func:`inter_union` (numba): intersection and union pixel counts of two
  RLE count runs of one size, callable from another ``@njit`` kernel.
* :func:`area_batch`, :func:`bbox_batch` (numba): areas and ``[x, y, w, h]``
  boxes of packed RLEs (counts + offsets).
* :func:`flat_runs`: polygons given as flat coordinate arrays rasterized
  under the COCO rule, in one kernel call.
* :func:`as_parts`: polygon input normalized to ``(k, 2)`` float64 arrays
  (raising :class:`~segmill.errors.PolygonError`).
* :func:`check_size`, :func:`check_rule`: the argument checks of the verbs.
* :func:`label_components` (numba): connected regions of a 2-D label array,
  numbered as scipy.ndimage.label numbers them.
* :func:`decode_strings`: many compressed COCO counts strings decoded and
  checked in one kernel call over one byte buffer (what ``from_coco`` does
  to a list).
"""

from __future__ import annotations

from ._codec import decode_strings
from ._components import label_components
from ._iou import _inter_union as inter_union
from ._kernels import area_batch, bbox_batch
from ._polygons import _as_parts as as_parts
from ._polygons import _check_rule as check_rule
from ._polygons import flat_runs
from ._rle import check_size

__all__ = ["inter_union", "area_batch", "bbox_batch", "flat_runs", "as_parts", "check_size", "check_rule",
           "label_components", "decode_strings"]
