"""Semantic -> instance: split a class map into per-class connected components.

Connected components come from connected-components-3d (``cc3d``) when it is
installed and from scikit-image's ``measure.label`` otherwise; both label a
multi-valued image (two pixels connect only when their values are equal) and
give the same components. Instances are ordered by their first pixel in
column-major order (the order RLE counts run in), whatever the backend.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..geometry import AREA_KINDS, Box
from ..losses import WriteReport
from ..model import Annotation, Dataset
from ..rle import RLE
from . import _paint
from .compose import compose

__all__ = ["split_instances", "SplitResult", "connected_components"]


@dataclass
class SplitResult:
    """What :func:`split_instances` found.

    Attributes
    ----------
    instances : list of (int, RLE)
        ``(class value, mask)`` in column-major first-pixel order.
    dropped : dict
        ``{class value: number of components}`` dropped for being smaller
        than ``min_area``.
    dropped_pixels : dict
        ``{class value: pixels}`` in those components.
    connectivity : int
    """

    instances: list[tuple[int, RLE]] = field(default_factory=list)
    dropped: dict[int, int] = field(default_factory=dict)
    dropped_pixels: dict[int, int] = field(default_factory=dict)
    connectivity: int = 8


def connected_components(values_t: np.ndarray, connectivity: int, backend: str = "auto"):
    """Label equal-valued connected regions of a 2-D array (0 = unlabelled).

    Returns ``(labels, n)``; labels are numbered 1..n.
    """
    if backend in ("auto", "cc3d"):
        try:  # lazy: optional dependency (backend "auto" falls back to scikit-image without it)
            import cc3d
        except ImportError:
            if backend == "cc3d":
                raise
        else:
            labels, n = cc3d.connected_components(values_t, connectivity=connectivity, return_N=True)
            return labels, int(n)
    # lazy: start-up time (scikit-image is only needed when cc3d is not used)
    from skimage.measure import label

    labels, n = label(values_t, background=0, connectivity=1 if connectivity == 4 else 2, return_num=True)
    return labels, int(n)


def split_instances(
    class_map,
    *,
    connectivity: int = 8,
    stuff: Iterable[int] = (),
    min_area: int = 0,
    ignore_value: int | None = 255,
    background: Iterable[int] | int | None = 0,
    backend: str = "auto",
) -> SplitResult:
    """Split a semantic label map into instances.

    Parameters
    ----------
    class_map : array_like (h, w) of int
    connectivity : {4, 8}, default 8
        Pixel connectivity of a component.
    stuff : iterable of int
        Class values kept as one region per image (not split).
    min_area : int, default 0
        Components with fewer pixels are dropped and counted in
        :attr:`SplitResult.dropped` (stuff regions too).
    ignore_value : int or None, default 255
        Void; never an instance.
    background : int, iterable of int, or None, default 0
        Values that are not instances.
    backend : {"auto", "cc3d", "skimage"}

    Returns
    -------
    SplitResult

    Examples
    --------
    >>> m = np.array([[1, 0, 1], [0, 0, 0], [2, 2, 255]])
    >>> r = split_instances(m, connectivity=4)
    >>> [(v, rle.area) for v, rle in r.instances]
    [(1, 1), (2, 2), (1, 1)]
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if min_area < 0:
        raise ValueError("min_area must not be negative")
    cm = _class_array(class_map)
    h, w = cm.shape
    vals, shift = _labelled_values(cm, _excluded(background, ignore_value))
    labels, n = connected_components(vals, connectivity, backend)
    result = SplitResult(connectivity=connectivity)
    if n == 0:
        return result
    se, off, first, area = _component_runs(np.ascontiguousarray(labels), n, h, w)
    label_class = vals[first % h, first // h].astype(np.int64) - shift
    groups, out_class = _groups(first, label_class, {int(s) for s in stuff})
    if min_area > 0:
        groups, out_class = _drop_small(groups, out_class, area, min_area, result)
    if not groups:
        return result
    flat_groups = np.fromiter((x for g in groups for x in sorted(g) + [-1]), np.int64)
    counts, offsets = _paint.runs_to_counts(se, off, flat_groups, h * w)
    result.instances = [
        # the kernel emits canonical counts summing to h * w (checked by the
        # tests against encode()), so skip RLE's re-validation
        (out_class[i], RLE._trusted(counts[offsets[i] : offsets[i + 1]].copy(), h, w))
        for i in range(len(out_class))
    ]
    return result


def _class_array(class_map) -> np.ndarray:
    """``class_map`` as an array, refused (ValueError) unless it is a 2-D array of integers or booleans."""
    cm = np.asarray(class_map)
    if cm.ndim != 2:
        raise ValueError(f"class_map must be 2-D, got shape {cm.shape}")
    if cm.dtype.kind not in "ui" and cm.dtype != np.bool_:
        raise ValueError(f"class_map must hold integers, got {cm.dtype}")
    return cm


def _excluded(background, ignore_value) -> set:
    """The values that are never an instance."""
    excluded = set()
    if background is not None:
        excluded.update([int(background)] if np.isscalar(background) else [int(b) for b in background])
    if ignore_value is not None:
        excluded.add(int(ignore_value))
    return excluded


def _labelled_values(cm: np.ndarray, excluded: set) -> tuple[np.ndarray, int]:
    """The labelling input: excluded values become 0, the others are shifted by one when 0 itself is a class.

    Returns the values and the shift.
    """
    if 0 in excluded:
        vals = cm.view(np.uint8) if cm.dtype == np.bool_ else np.ascontiguousarray(cm)
        extra = [e for e in excluded if e != 0]
        top = int(vals.max()) if vals.size else 0  # one fast reduction before any exact test
        hit = [e for e in extra if e <= top and (vals == e).any()]
        if hit:
            vals = vals.copy()
            for e in hit:
                vals[vals == e] = 0
        return vals, 0
    big = np.uint32 if cm.dtype.itemsize >= 2 else np.uint16
    vals = cm.astype(big) + 1
    if excluded:
        vals[np.isin(vals, [e + 1 for e in excluded])] = 0
    return vals, 1


def _component_runs(labels: np.ndarray, n: int, h: int, w: int):
    """``(runs, offsets, first pixel, area)`` of the ``n`` labelled components (buffers grown until they fit)."""
    cap = 4 * (h + w) + 64 * n + 1024
    while True:
        rr = np.empty(4 * cap, np.int64)
        se = np.empty(2 * cap, np.int64)
        k, off, first, area = _paint.label_runs(labels, n, rr, se)
        if k >= 0:
            return se[:k], off, first, area
        cap *= 4


def _groups(first: np.ndarray, label_class: np.ndarray, stuff_set: set) -> tuple[list[list[int]], list[int]]:
    """The components of each instance (a stuff class's all in one) and its class, by column-major first pixel."""
    groups: list[list[int]] = []
    out_class: list[int] = []
    stuff_slot: dict[int, int] = {}
    for lab in np.argsort(first, kind="stable").tolist():  # column-major first pixel
        v = int(label_class[lab])
        if v in stuff_set:
            slot = stuff_slot.get(v)
            if slot is None:
                slot = stuff_slot[v] = len(groups)
                groups.append([])
                out_class.append(v)
            groups[slot].append(lab)
        else:
            groups.append([lab])
            out_class.append(v)
    return groups, out_class


def _drop_small(groups, out_class, area: np.ndarray, min_area: int, result: SplitResult):
    """The groups of at least ``min_area`` pixels and their classes; the others counted in ``result``."""
    kept_g, kept_c = [], []
    for g, v in zip(groups, out_class):
        a = int(area[g].sum())
        if a < min_area:
            result.dropped[v] = result.dropped.get(v, 0) + 1
            result.dropped_pixels[v] = result.dropped_pixels.get(v, 0) + a
        else:
            kept_g.append(g)
            kept_c.append(v)
    return kept_g, kept_c


@dataclass(frozen=True)
class _SplitRun:
    """What splitting every image of one dataset shares."""

    cats: list
    values: dict  # {category id: class value painted}
    cat_of_value: dict  # {class value: category id}
    stuff_values: list
    void_value: int
    connectivity: int
    min_area: int
    raster: str
    overlap: str
    backend: str
    report: WriteReport


def split_dataset(dataset, *, connectivity: int = 8, stuff: Iterable[str] = (), min_area: int = 0,
                  raster: str = "coco", overlap: str = "zorder", backend: str = "auto"):
    """Split every image's semantic regions into instances.

    Each image's area annotations are painted into a class map
    (:func:`segmill.bridges.compose.compose`, overlaps reported as ``L701``,
    painted polygons as ``L705``)
    and split with :func:`split_instances`. Void annotations, boxes and
    point/line shapes are carried over unchanged.

    Parameters
    ----------
    dataset : Dataset
    stuff : iterable of str
        Category names kept whole (one region per image).
    connectivity, min_area, backend
        As in :func:`split_instances`. Dropped components are reported as
        loss ``L704`` (one per image and class, with counts).

    Returns
    -------
    (Dataset, WriteReport)
        The new dataset (same categories and images) and the losses / notes.
    """
    report = WriteReport()
    cats = dataset.categories
    names = {c.name for c in cats}
    unknown = [s for s in stuff if s not in names]
    if unknown:
        raise ValueError(f"--stuff names no category: {', '.join(unknown)} (categories: {', '.join(sorted(names))})")
    values = {c.id: k + 1 for k, c in enumerate(cats)}
    run = _SplitRun(cats, values, {k + 1: c.id for k, c in enumerate(cats)},
                    [values[c.id] for c in cats if c.name in set(stuff)], 0xFFFF if len(cats) >= 255 else 255,
                    connectivity, min_area, raster, overlap, backend, report)
    out = Dataset(categories=copy.deepcopy(cats), info=dataset.info, licenses=dataset.licenses,
                  extra=dict(dataset.extra), meta=dict(dataset.meta))
    next_id = 1
    n_split = 0
    for item in dataset.items:
        new, next_id, n = _split_item(item, next_id, run)
        n_split += n
        out.items.append(new)
    report.notes.append(
        f"instances split with {connectivity}-connectivity"
        + (f"; stuff kept whole: {', '.join(stuff)}" if stuff else "")
        + (f"; components under {min_area} pixels dropped" if min_area else "")
        + f"; {n_split} regions written"
    )
    if not n_split and dataset.items:
        report.notes.append(f"no region to split in {len(dataset.items)} image(s): they are written without "
                            "instances (the source holds no area annotation with a class)")
    return out, report


def _split_item(item, next_id: int, run: _SplitRun):
    """``(the image with its regions split, the next annotation id, instances made)``."""
    new = copy.copy(item)
    keep = [a for a in item.annotations
            if isinstance(a.geometry, Box) or not isinstance(a.geometry, AREA_KINDS) or a.category_id is None]
    paint = [a for a in item.annotations if a not in keep]
    anns = []
    n_split = 0
    if paint and item.size is not None:
        instances = _split_regions(item, paint, run)
        for v, rle in instances:
            anns.append(Annotation(next_id, run.cat_of_value[v], rle))
            next_id += 1
        n_split = len(instances)
    elif paint:
        run.report.lose("L005", "image size unknown: regions not split", item.id)
        keep = item.annotations
    for a in keep:
        b = copy.copy(a)
        b.id = next_id
        next_id += 1
        anns.append(b)
    new.annotations = anns
    return new, next_id, n_split


def _split_regions(item, paint: list, run: _SplitRun) -> list:
    """``[(class value, RLE)]`` of the instances the annotations ``paint`` of ``item`` split into."""
    report = run.report
    sub = copy.copy(item)
    sub.annotations = paint
    cmap, _, losses = compose(sub, run.values, overlap=run.overlap, raster=run.raster, void_value=run.void_value)
    for l in losses:
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
    res = split_instances(cmap, connectivity=run.connectivity, stuff=run.stuff_values, min_area=run.min_area,
                          ignore_value=run.void_value, background=0, backend=run.backend)
    for v, n in res.dropped.items():
        report.lose("L704", f"{n} component(s) of {run.cats[v - 1].name!r} under {run.min_area} pixels "
                    f"({res.dropped_pixels[v]} pixels) dropped", item.id)
    return res.instances
