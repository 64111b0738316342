"""The agreement metrics :func:`segmill.agree.compare` runs: one list, :data:`METRICS`.

Each metric implements :class:`segmill.agree.metric.Metric`. Adding one is a
module of its own and one :func:`register` call (or, for a built-in, one
entry in :data:`METRICS`):

>>> from segmill.agree.metrics import METRICS
>>> [m.name for m in METRICS]
['instance', 'pixel', 'all_raters', 'image_scores', 'surface']
"""

from __future__ import annotations

from ...errors import UsageError
from ..metric import Metric
from .all_raters import AllRatersMetric
from .image_scores import ImageScoreMetric
from .instances import InstanceMetric
from .pixels import PixelMetric
from .surface import SurfaceMetric

#: The metrics of a comparison, in the order they run and report.
METRICS: list = [InstanceMetric(), PixelMetric(), AllRatersMetric(), ImageScoreMetric(), SurfaceMetric()]


def register(metric):
    """Add ``metric`` to :data:`METRICS` (after the others); returns it.

    Raises
    ------
    segmill.errors.UsageError
        Not a metric, a name already taken, or a required metric missing.
    """
    if not isinstance(metric, Metric) or not isinstance(getattr(metric, "name", None), str):
        raise UsageError(f"not an agreement metric (see segmill.agree.metric.Metric): {metric!r}")
    names = [m.name for m in METRICS]
    if metric.name in names:
        raise UsageError(f"an agreement metric named {metric.name!r} is already registered")
    missing = [r for r in getattr(metric, "requires", ()) if r not in names]
    if missing:
        raise UsageError(f"agreement metric {metric.name!r} needs {missing} registered before it")
    METRICS.append(metric)
    return metric


def unregister(name: str) -> None:
    """Remove the metric called ``name`` from :data:`METRICS` (no error when absent)."""
    METRICS[:] = [m for m in METRICS if m.name != name]


__all__ = [
    "METRICS",
    "AllRatersMetric",
    "ImageScoreMetric",
    "InstanceMetric",
    "PixelMetric",
    "SurfaceMetric",
    "register",
    "unregister",
]
