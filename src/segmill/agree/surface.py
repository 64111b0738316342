"""Surface distances and overlap of two segmentations (2-D or 3-D), in physical units.

The medical agreement metrics: Dice, the Hausdorff distance (HD), its 95th
percentile (HD95), the average symmetric surface distance (ASSD) and the
surface Dice at a tolerance, for two binary masks
(:func:`binary_surface_metrics`) or per label of two label maps
(:func:`surface_metrics`).

Definitions
-----------
``spacing`` is the size of a voxel along each axis in physical units
(millimetres for medical volumes); the default, 1 per axis, gives pixels.
Every distance is the Euclidean distance between voxel centres, each axis
scaled by its spacing.

Surface
    The voxels of a mask that have a face neighbour (connectivity 1: 4 in
    2-D, 6 in 3-D) outside the mask, or that lie on the array's edge: the
    mask minus its binary erosion by the cross with ``border_value=0``.
    This is ``medpy.metric.binary``'s surface (``__surface_distances`` with
    ``connectivity=1``); results agree with medpy to rounding.
Surface distances
    ``d(a, B)`` for every surface voxel ``a`` of A: the distance to the
    nearest surface voxel of B; and the same from B to A. Computed with an
    exact Euclidean distance transform of the other surface.
Dice
    ``2 |A ∩ B| / (|A| + |B|)`` over voxels (no spacing: every voxel has
    the same volume).
HD
    The largest surface distance of either direction.
HD95
    The 95th percentile of the surface distances of both directions pooled
    (``numpy.percentile``, linear interpolation), as medpy's ``hd95``.
ASSD
    The mean of the surface distances of both directions pooled:
    ``(sum d(a, B) + sum d(b, A)) / (|∂A| + |∂B|)``, as medpy 0.5's
    ``assd`` (medpy 0.4 averaged the two directed means instead).
Surface Dice at tolerance τ (Nikolov et al. 2018, "normalized surface Dice")
    The fraction of both surfaces within τ of the other:
    ``(#{a ∈ ∂A: d(a, B) <= τ} + #{b ∈ ∂B: d(b, A) <= τ}) / (|∂A| + |∂B|)``.
    Surface voxels are counted, each with weight 1 (the DeepMind
    ``surface-distance`` package weights surface elements by their area,
    so its numbers differ slightly).

Empty masks
-----------
Both empty
    Nothing to compare: every score is ``None`` (``null`` in JSON). A label
    missing from both label maps is not listed by :func:`surface_metrics`
    unless asked for.
One empty
    Dice 0.0 and surface Dice 0.0 (no voxel of the one surface has a
    partner within any tolerance); HD, HD95 and ASSD are ``None``: the
    distance to an empty set is undefined (infinite), and ``None`` keeps
    reports valid JSON (no NaN, no Infinity). The ``voxels_a`` /
    ``voxels_b`` counts say which side was empty.

No score is ever NaN or infinite.

Memory and speed
----------------
Each label is cropped to the bounding box of its voxels in either array,
grown by one voxel (clipped to the array, so the array's edge stays an edge)
before surfaces and distances are computed; the distance transform needs
one float64 array of that box. Surfaces and distance transforms are numba
kernels (:mod:`segmill.agree._surface_kernels`).

Examples
--------
>>> import numpy as np
>>> a = np.zeros((10, 10), bool); a[2:6, 2:6] = True
>>> b = np.zeros((10, 10), bool); b[2:6, 3:7] = True
>>> s = binary_surface_metrics(a, b, spacing=(1.0, 0.5), tolerance=0.5)
>>> s.dice, s.hd, s.surface_dice
(0.75, 0.5, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..validate import brief, finite
from . import _surface_kernels as K

#: Surface Dice tolerance when none is given (physical units of the spacing).
DEFAULT_TOLERANCE = 1.0
#: Label values up to this are boxed with one ``scipy.ndimage.find_objects`` pass.
_FIND_OBJECTS_MAX = 1 << 16

__all__ = ["DEFAULT_TOLERANCE", "SurfaceScores", "binary_surface_metrics", "surface_distances", "surface_metrics",
           "surface_of"]


@dataclass(frozen=True)
class SurfaceScores:
    """The agreement of two binary masks (definitions in the module doc).

    Attributes
    ----------
    dice, hd, hd95, assd, surface_dice : float or None
        ``None`` when undefined (see "Empty masks" in the module doc).
    voxels_a, voxels_b : int
        Voxels in each mask.
    surface_a, surface_b : int
        Surface voxels of each mask.
    """

    dice: float | None
    hd: float | None
    hd95: float | None
    assd: float | None
    surface_dice: float | None
    voxels_a: int
    voxels_b: int
    surface_a: int
    surface_b: int

    def to_dict(self) -> dict:
        """The scores as a JSON-ready dict (field order)."""
        return asdict(self)


def binary_surface_metrics(a, b, spacing=None, tolerance: float = DEFAULT_TOLERANCE) -> SurfaceScores:
    """Dice, HD, HD95, ASSD and surface Dice of two binary masks.

    Parameters
    ----------
    a, b : array_like, same shape, 1 to 3 axes
        Nonzero = inside.
    spacing : sequence of float, optional
        Voxel size per axis (physical units); default 1 per axis (pixels).
    tolerance : float
        Surface Dice tolerance, in the units of ``spacing`` (>= 0).

    Returns
    -------
    SurfaceScores

    Raises
    ------
    segmill.errors.InputError
        Shapes differ, more than 3 axes, a bad spacing or tolerance.
    """
    a, b = _pair(a, b)
    sp = _spacing(spacing, a.ndim)
    tol = _tolerance(tolerance)
    a, b = a != 0, b != 0
    box = _box(np.logical_or(a, b))
    if box is None:
        return _scores(a[:0], b[:0], sp, tol)
    return _scores(a[box], b[box], sp, tol)


def surface_metrics(a, b, labels=None, spacing=None, tolerance: float = DEFAULT_TOLERANCE) -> list[dict]:
    """Per label of two label maps: Dice, HD, HD95, ASSD and surface Dice.

    Parameters
    ----------
    a, b : array_like of int, same shape, 1 to 3 axes
        Label maps; 0 is background.
    labels : iterable of int, optional
        The labels to measure, in this order. Default: every nonzero label
        found in either map, ascending.
    spacing : sequence of float, optional
        Voxel size per axis (physical units); default 1 per axis (pixels).
    tolerance : float
        Surface Dice tolerance, in the units of ``spacing``.

    Returns
    -------
    list of dict
        One row per label: ``label`` then the fields of :class:`SurfaceScores`.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((6, 6), np.uint8); a[1:3, 1:3] = 1; a[4:, 4:] = 2
    >>> b = a.copy(); b[4:, 4:] = 0
    >>> [(r["label"], r["dice"], r["hd"]) for r in surface_metrics(a, b)]
    [(1, 1.0, 0.0), (2, 0.0, None)]
    """
    a, b = _pair(a, b)
    sp = _spacing(spacing, a.ndim)
    tol = _tolerance(tolerance)
    boxes = _label_boxes(a, b, labels)
    rows = []
    for label, box in boxes:
        if box is None:
            scores = _scores(a[:0] != 0, b[:0] != 0, sp, tol)
        else:
            scores = _scores(a[box] == label, b[box] == label, sp, tol)
        rows.append({"label": _plain(label), **scores.to_dict()})
    return rows


def surface_of(mask) -> np.ndarray:
    """The surface voxels of ``mask`` (1 to 3 axes): inside, with a face neighbour outside or on the edge.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 5), bool); m[1:4, 1:4] = True
    >>> surface_of(m).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 0, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    m = np.asarray(mask)
    if not 1 <= m.ndim <= 3:
        raise InputError(f"a mask must have 1 to 3 axes, got {m.ndim}")
    cube, real = _as_3d(m != 0)
    out = np.empty(cube.shape, np.bool_)
    K.surface_voxels(cube, real, out)
    return out.reshape(m.shape)


def surface_distances(a, b, spacing=None) -> tuple[np.ndarray, np.ndarray]:
    """The surface distances of two nonempty masks: from each surface voxel of ``a`` to ``b``'s, and back.

    Parameters
    ----------
    a, b : array_like, same shape, 1 to 3 axes
    spacing : sequence of float, optional

    Returns
    -------
    d_ab, d_ba : numpy.ndarray of float64
        In the C order of the surface voxels of ``a`` (``b``).

    Raises
    ------
    segmill.errors.InputError
        Either mask is empty (no surface to measure from), or bad arguments.
    """
    a, b = _pair(a, b)
    sp = _spacing(spacing, a.ndim)
    a, b = a != 0, b != 0
    if not a.any() or not b.any():
        raise InputError("surface distances need two nonempty masks "
                         f"(voxels: {int(np.count_nonzero(a))} and {int(np.count_nonzero(b))})")
    box = _box(np.logical_or(a, b))
    ca, ra = _as_3d(a[box])
    cb, _ = _as_3d(b[box])
    return _directed(ca, cb, ra, _spacing_3d(sp))


def _scores(a, b, spacing, tolerance) -> SurfaceScores:
    """The scores of two cropped boolean masks (crop = union box plus one voxel, or empty)."""
    na, nb = int(np.count_nonzero(a)), int(np.count_nonzero(b))
    if na == 0 and nb == 0:
        return SurfaceScores(None, None, None, None, None, 0, 0, 0, 0)
    dice = 2.0 * int(np.count_nonzero(a & b)) / (na + nb)
    if na == 0 or nb == 0:
        sa = 0 if na == 0 else int(surface_of(a).sum())
        sb = 0 if nb == 0 else int(surface_of(b).sum())
        return SurfaceScores(dice, None, None, None, 0.0, na, nb, sa, sb)
    ca, real = _as_3d(a)
    cb, _ = _as_3d(b)
    d_ab, d_ba = _directed(ca, cb, real, _spacing_3d(spacing))
    both = np.concatenate([d_ab, d_ba])
    within = int(np.count_nonzero(d_ab <= tolerance)) + int(np.count_nonzero(d_ba <= tolerance))
    return SurfaceScores(
        dice=dice,
        hd=float(max(d_ab.max(), d_ba.max())),
        hd95=float(np.percentile(both, 95)),
        assd=float(both.mean()),
        surface_dice=within / both.size,
        voxels_a=na, voxels_b=nb, surface_a=int(d_ab.size), surface_b=int(d_ba.size),
    )


def _directed(a, b, real, spacing3):
    """Surface distances a -> b and b -> a of two nonempty 3-D boolean masks (one float64 map at a time)."""
    sa = np.empty(a.shape, np.bool_)
    sb = np.empty(b.shape, np.bool_)
    K.surface_voxels(a, real, sa)
    K.surface_voxels(b, real, sb)
    dist = np.empty(a.shape, np.float64)
    K.squared_distance_map(sb, spacing3, dist, targets=sa)
    d_ab = np.sqrt(dist[sa])
    K.squared_distance_map(sa, spacing3, dist, targets=sb)
    d_ba = np.sqrt(dist[sb])
    return d_ab, d_ba


def _as_3d(m):
    """``m`` (bool, 1 to 3 axes) as a C-contiguous 3-D array, and which of its axes are real."""
    lead = 3 - m.ndim
    cube = np.ascontiguousarray(m.reshape((1,) * lead + m.shape))
    return cube, np.array([False] * lead + [True] * m.ndim)


def _spacing_3d(spacing):
    return (1.0,) * (3 - len(spacing)) + tuple(spacing)


def _box(mask):
    """The bounding box of ``mask``'s voxels grown by one voxel (clipped), as slices; ``None`` when empty."""
    if not mask.any():
        return None
    out = []
    for axis in range(mask.ndim):
        others = tuple(i for i in range(mask.ndim) if i != axis)
        hits = np.flatnonzero(mask.any(axis=others) if others else mask)
        out.append(slice(max(int(hits[0]) - 1, 0), min(int(hits[-1]) + 2, mask.shape[axis])))
    return tuple(out)


def _grow(box, shape):
    """A ``find_objects`` box grown by one voxel on each side, clipped to ``shape``."""
    return tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, shape))


def _label_boxes(a, b, labels):
    """``(label, box)`` for every label measured; the box holds the label in either map (``None``: in neither)."""
    wanted = None
    if labels is not None:
        if isinstance(labels, (str, bytes)) or np.ndim(labels) != 1:
            raise InputError(f"labels must be a list of label values, got {brief(labels)}")
        wanted = [_label_value(v) for v in labels]
    fast = None
    if wanted is None or all(isinstance(v, int) and v > 0 for v in wanted):
        fast = _find_object_boxes(a, b)
    if fast is not None:
        return [(lab, fast.get(lab)) for lab in (sorted(fast) if wanted is None else wanted)]
    if wanted is None:
        values = set(np.unique(a).tolist()) | set(np.unique(b).tolist())
        wanted = sorted(v for v in values if v != 0 and math.isfinite(v))
    return [(lab, _box((a == lab) | (b == lab))) for lab in wanted]


def _find_object_boxes(a, b):
    """Label -> grown union box, by ``find_objects``, for non-negative integer maps with small labels; else ``None``."""
    if a.dtype.kind not in "iub" or b.dtype.kind not in "iub" or a.size == 0:
        return None
    lo = min(int(a.min()), int(b.min()))
    hi = max(int(a.max()), int(b.max()))
    if lo < 0 or hi > _FIND_OBJECTS_MAX:
        return None
    from scipy.ndimage import find_objects  # lazy: scipy.ndimage costs import time

    out = {}
    for arr in (a, b):
        for i, box in enumerate(find_objects(arr.view(np.uint8) if arr.dtype == np.bool_ else arr, hi)):
            if box is None:
                continue
            prev = out.get(i + 1)
            out[i + 1] = box if prev is None else tuple(
                slice(min(p.start, q.start), max(p.stop, q.stop)) for p, q in zip(prev, box))
    return {lab: _grow(box, a.shape) for lab, box in out.items()}


def _pair(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"the two arrays differ in shape: {a.shape} and {b.shape}")
    if not 1 <= a.ndim <= 3:
        raise InputError(f"surface metrics take arrays of 1 to 3 axes, got {a.ndim}")
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        raise InputError(f"surface metrics take numeric arrays, got {a.dtype} and {b.dtype}")
    return a, b


def _spacing(spacing, ndim: int) -> tuple:
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, (str, bytes)) or np.ndim(spacing) != 1 or len(spacing) != ndim:
        raise InputError(f"spacing must give one voxel size per axis ({ndim}), got {brief(spacing)}")
    out = tuple(finite(v.item() if isinstance(v, np.generic) else v, "a voxel spacing") for v in spacing)
    if min(out) <= 0:
        raise InputError(f"a voxel spacing must be positive, got {brief(list(spacing))}")
    return out


def _tolerance(value) -> float:
    v = finite(value.item() if isinstance(value, np.generic) else value, "the surface Dice tolerance")
    if v < 0:
        raise InputError(f"the surface Dice tolerance must not be negative, got {v:g}")
    return v


def _label_value(v):
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"a label must be a finite number, got {brief(v)}")
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _plain(v):
    """A label value as a plain Python number (JSON-ready)."""
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if isinstance(v, float) and v.is_integer() else v
