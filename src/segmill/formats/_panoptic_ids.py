"""COCO panoptic segment ids and the RGB colours of its PNGs (``id = R + 256 G + 256^2 B``)."""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_ID", "ids_from_rgb", "rgb_from_ids"]

#: The largest segment id an RGB PNG holds.
MAX_ID = 256**3 - 1


def ids_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Segment ids of an ``(h, w, 3)`` uint8 array, ``R + 256 G + 256^2 B`` in int32."""
    a = rgb.astype(np.int32)
    return a[..., 0] + 256 * a[..., 1] + 65536 * a[..., 2]


def rgb_from_ids(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ids_from_rgb`."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)
