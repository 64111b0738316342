"""segmill: convert, check, compare and gate segmentation datasets.

Public API: :func:`read`, :func:`stream` (one item at a time), :func:`write`, :func:`convert`, the model classes
(:class:`Dataset`, :class:`Category`, :class:`Item`, :class:`Annotation`),
geometry kinds (:class:`Polygons`, :class:`RLE`, :class:`Mask`, :class:`Box`),
and the modules :mod:`segmill.rle`, ``segmill.check``, ``segmill.agree``,
``segmill.gate``.

Attributes are loaded lazily so that ``import segmill`` does not import numba.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "read": "io",
    "write": "io",
    "convert": "io",
    "detect_format": "io",
    "merge": "merging",
    "stream": "io",
    "Stream": "streaming",
    "Dataset": "model",
    "Category": "model",
    "Item": "model",
    "Annotation": "model",
    "Polygons": "geometry",
    "Mask": "geometry",
    "Box": "geometry",
    "Shape": "geometry",
    "InvalidGeometry": "geometry",
    "RLE": "rle",
    "WriteReport": "losses",
    "Loss": "losses",
    "SegmillError": "errors",
    "InputError": "errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'segmill' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
