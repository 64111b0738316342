"""Instances of a label volume: 3-D connected components (``cc3d``).

The 3-D counterpart of ``segmill split-instances`` (:mod:`segmill.bridges.split`):
two voxels belong to one instance when they have the same label value and are
connected (``connectivity`` 6: faces, 18: faces and edges, 26: faces, edges
and corners); ``stuff`` label values stay one region per volume; components
(stuff regions too) with fewer than ``min_area`` voxels are dropped and
counted. Background (0) is never an instance.

Component ids are cc3d's (``cc3d.connected_components`` on the volume with
the stuff values set to 0), kept as they are when small components are
dropped; each stuff region gets the next id after cc3d's largest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from ..validate import brief

__all__ = ["CONNECTIVITIES", "Components", "components", "require_cc3d"]

CONNECTIVITIES = (6, 18, 26)


@dataclass
class Components:
    """What :func:`components` found.

    Attributes
    ----------
    ids : numpy.ndarray
        Component id per voxel (0: none), same shape as the volume.
    classes : dict
        ``{component id: label value}``.
    dropped : dict
        ``{label value: components dropped for being smaller than min_area}``.
    """

    ids: np.ndarray
    classes: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)


def require_cc3d():
    """The ``cc3d`` module; a :class:`~segmill.errors.UsageError` naming the extra when it is missing."""
    try:
        # lazy: optional dependency (the medical extra)
        import cc3d
    except ImportError:
        raise UsageError("3-D instances need connected-components-3d: pip install 'segmill[medical]'") from None
    return cc3d


def check_options(connectivity, min_area) -> tuple[int, int]:
    """``(connectivity, min_area)`` checked; a :class:`~segmill.errors.UsageError` otherwise."""
    if isinstance(connectivity, str) and connectivity.isdigit():
        connectivity = int(connectivity)
    if isinstance(connectivity, bool) or connectivity not in CONNECTIVITIES:
        raise UsageError(f"connectivity must be 6, 18 or 26 for volumes, got {brief(connectivity)}")
    if isinstance(min_area, bool) or not isinstance(min_area, int) or min_area < 0:
        raise UsageError(f"min_area must be a non-negative integer (voxels), got {brief(min_area)}")
    return int(connectivity), int(min_area)


def components(volume: np.ndarray, *, connectivity: int = 26, stuff=(), min_area: int = 0) -> Components:
    """Split a 3-D label volume into connected components (module docs).

    Parameters
    ----------
    volume : numpy.ndarray (3-D, integers)
    connectivity : {6, 18, 26}
    stuff : iterable of int
        Label values kept as one region per volume.
    min_area : int
        Components with fewer voxels are dropped.
    """
    connectivity, min_area = check_options(connectivity, min_area)
    cc3d = require_cc3d()
    stuff = sorted({int(s) for s in stuff} - {0})
    vol = np.ascontiguousarray(volume)
    things = vol
    if stuff:
        things = vol.copy()
        things[np.isin(vol, stuff)] = 0
    ids, n = cc3d.connected_components(things, connectivity=connectivity, return_N=True)
    ids = ids.astype(np.uint32 if n + len(stuff) < 2**32 - 1 else np.uint64, copy=False)
    classes = {}
    if n:
        flat_ids, flat_vals = ids.reshape(-1), vol.reshape(-1)
        nz = np.flatnonzero(flat_ids)
        first = np.full(n + 1, -1, np.int64)
        first[flat_ids[nz][::-1]] = nz[::-1]  # the first voxel of each component (any voxel would do)
        classes = {i: int(flat_vals[first[i]]) for i in range(1, n + 1)}
    nxt = int(n) + 1
    for s in stuff:
        where = vol == s
        if where.any():
            ids[where] = nxt
            classes[nxt] = s
            nxt += 1
    out = Components(ids, classes)
    if min_area > 0 and classes:
        sizes = np.bincount(ids.reshape(-1), minlength=nxt)
        small = [i for i in classes if sizes[i] < min_area]
        if small:
            ids[np.isin(ids, small)] = 0
            for i in small:
                v = classes.pop(i)
                out.dropped[v] = out.dropped.get(v, 0) + 1
    return out
