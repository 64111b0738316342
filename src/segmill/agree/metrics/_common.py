"""Small helpers shared by the built-in metrics."""

from __future__ import annotations

import numpy as np


def mean_defined(values):
    """Mean of the values that are not ``None`` (``None`` when none is)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None
