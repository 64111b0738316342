"""``segmill.agree.consensus``: one dataset from several annotators.

Two methods, two modes:

``method="majority"``
    ``mode="multiclass"``: each pixel takes the label most annotators give
    it (ties go to the lowest label, background first; void votes are not
    counted). ``mode="binary"``: each category on its own, a pixel belongs
    to it when more than half of the annotators mark it (regions of
    different categories may then overlap).
``method="staple"``
    The EM estimate of :mod:`segmill.agree.staple`, fitted on all images at
    once (rater performance is a property of the rater, not of one image).
    ``mode="binary"``: one binary STAPLE per category, a pixel belongs to the
    category when its posterior probability is > 0.5. ``mode="multiclass"``:
    multi-class STAPLE, each pixel takes the label of highest posterior.

Only images every annotator has are used (the others are listed in
``dataset.meta["consensus"]["missing"]``). The output holds one annotation
per (image, category) with an RLE of the consensus region: consensus is a
pixel decision, so it has no instances. Category ids are kept from the first
annotator that declares the name.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import rle as R
from .._progress import track
from ..errors import InputError
from ..model import Annotation, Category, Dataset, Item
from ..streaming import Stream
from . import _kernels as K
from .pairing import pair_datasets
from .rasterize import prepare
from .settings import AgreeSettings
from .staple import PatternHistogram, staple_patterns

METHODS = ("majority", "staple")
MODES = ("multiclass", "binary")
MAX_BINARY_RATERS = 16


def consensus(datasets, method: str = "majority", names=None, *, mode: str = "multiclass",
              settings: AgreeSettings | None = None, **options) -> Dataset:
    """Consensus of two or more annotators, as a dataset.

    Parameters
    ----------
    datasets : sequence of Dataset
    method : {"majority", "staple"}
    names : sequence of str, optional
    mode : {"multiclass", "binary"}
    settings : AgreeSettings, optional
        The run's settings as one object (those below are used); keyword
        options override it.
    **options
        :class:`AgreeSettings` fields, among them:
    match_by : {"file_name", "id"}
    void : iterable of str
        Category names whose pixels are void (no vote).
    unlabeled : {"background", "void"}
        ``"void"``: pixels an annotator leaves unlabelled are no vote (panoptic data).
    raster : {"coco", "pil"}

    Returns
    -------
    Dataset
        ``meta["consensus"]`` describes the run; for STAPLE it holds each
        annotator's estimated sensitivity and specificity (binary: per
        category) or confusion matrix (multiclass).

    Examples
    --------
    >>> from segmill.model import Dataset, Category, Item, Annotation
    >>> from segmill.geometry import Box
    >>> def ds(w):
    ...     a = Annotation(1, 1, Box(0, 0, w, 4))
    ...     return Dataset([Category(1, "cat")], [Item(1, "a.png", 8, 8, [a])])
    >>> out = consensus([ds(2), ds(4), ds(4)], "majority")
    >>> out.items[0].annotations[0].area
    16.0
    """
    return consensus_stream(datasets, method, names, mode=mode, settings=settings, **options).to_dataset()


def consensus_stream(datasets, method: str = "majority", names=None, *, mode: str = "multiclass",
                     settings: AgreeSettings | None = None, **options) -> Stream:
    """:func:`consensus` as a :class:`~segmill.streaming.Stream`: each image decided when it is read.

    Parameters are those of :func:`consensus`. A STAPLE fit passes over
    every image before the stream is returned; ``header.meta["consensus"]``
    is then complete. Memory holds one image of each annotator (with
    :mod:`segmill.spilled` datasets), whatever the number of images.
    """
    if method not in METHODS:
        raise InputError(f"consensus method must be one of {METHODS}, got {method!r}")
    if mode not in MODES:
        raise InputError(f"consensus mode must be one of {MODES}, got {mode!r}")
    settings = AgreeSettings.of(settings, **options)
    pairing = pair_datasets(datasets, names, settings.match_by, settings.void)
    groups = pairing.groups.complete()  # arrays: an image group is made when it is reached
    info: dict = {"method": method, "mode": mode, "annotators": list(pairing.names),
                  "images": len(groups), "missing": list(pairing.missing), "skipped": list(pairing.skipped)}
    prepared = _Preparer(pairing, settings)
    if mode == "multiclass":
        decide = _multiclass_staple(prepared, groups, info) if method == "staple" else _plurality(pairing)
    else:
        on = _binary_staple(prepared, groups, info) if method == "staple" else _binary_majority(pairing)
        decide = _BinaryDecision(on)
    return _stream(datasets, pairing, groups, prepared, decide, info)


class _Preparer:
    """Every annotator's annotations of one image, rasterized under the run's settings."""

    def __init__(self, pairing, settings: AgreeSettings):
        self.pairing, self.settings = pairing, settings

    def __call__(self, g) -> list:
        s = self.settings
        return [prepare(it, self.pairing.category_index[a], g.height, g.width, s.raster, s.unlabeled)
                for a, it in enumerate(g.items)]


class _LabelDecision:
    """Multi-class consensus: one label per pixel from the stack of label maps."""

    def __init__(self, labels):
        self.labels = labels  # (n_raters, n_pixels) label stack -> (n_pixels,) labels

    def masks(self, prep, h: int, w: int) -> list[tuple[int, R.RLE]]:
        lab = self.labels(np.stack([p.label_map() for p in prep]))
        return [(int(k) - 1, R.encode((lab == k).reshape(w, h).T)) for k in np.unique(lab) if k > 0]


class _BinaryDecision:
    """Binary consensus: per category, ``on[k][pattern]`` says whether the annotators' pattern is in."""

    def __init__(self, on):
        self.on = on

    def masks(self, prep, h: int, w: int) -> list[tuple[int, R.RLE]]:
        out = []
        for k in range(len(self.on)):
            code = _class_code(prep, k, h * w)
            if code is None:
                continue
            mask = self.on[k][code]
            if mask.any():
                out.append((k, R.encode(mask.reshape(w, h).T)))
        return out


def _plurality(pairing) -> _LabelDecision:
    """Majority vote, multi-class: the label most annotators give (ties to the lowest, void no vote)."""
    n_labels = len(pairing.categories) + 1

    def labels(stack):
        lab = np.empty(stack.shape[1], np.int32)
        K.plurality(stack, n_labels, lab)
        return lab

    return _LabelDecision(labels)


def _multiclass_staple(prepared, groups, info: dict) -> _LabelDecision:
    """Fit multi-class STAPLE on every image; each pixel takes its pattern's most probable label."""
    pairing = prepared.pairing
    n_labels = len(pairing.categories) + 1
    hist = PatternHistogram(len(pairing.names), n_labels)
    for g in track(groups, desc="staple (fit)"):
        hist.add(np.stack([p.label_map() for p in prepared(g)]))
    pats, cnt = hist.arrays()
    res = staple_patterns(pats, cnt, n_labels)
    best = np.argmax(np.nan_to_num(res.probabilities, nan=-1.0), axis=1)
    best[(pats < 0).all(1)] = -1
    lookup = {tuple(p): int(v) for p, v in zip(pats.tolist(), best.tolist())}
    info["staple"] = {
        "iterations": res.iterations,
        "prior": dict(zip(["background"] + pairing.categories, res.prior.tolist())),
        "confusion": {n: res.theta[j].tolist() for j, n in enumerate(pairing.names)},
        "confusion_axes": "[rated label][true label], labels: background then categories",
    }

    def labels(stack):
        p, inv = hist.encode(stack)
        return np.array([lookup[tuple(r)] for r in p.tolist()], np.int32)[inv]

    return _LabelDecision(labels)


def _binary_majority(pairing) -> list[np.ndarray]:
    """Per category, which annotator patterns (bit j: annotator j marks it) more than half mark."""
    m = len(pairing.names)
    votes = np.zeros(2**m, np.int64)
    for j in range(m):
        votes += (np.arange(2**m) >> j) & 1
    on = votes * 2 > m
    return [on] * len(pairing.categories)


def _binary_staple(prepared, groups, info: dict) -> list[np.ndarray]:
    """Fit one binary STAPLE per category; a pattern is in when its posterior is > 0.5."""
    pairing = prepared.pairing
    m, n_cls = len(pairing.names), len(pairing.categories)
    if m > MAX_BINARY_RATERS:
        raise InputError(f"binary STAPLE supports up to {MAX_BINARY_RATERS} annotators, got {m}")
    hist = np.zeros((n_cls, 2**m), np.int64)
    for g in track(groups, desc="staple (fit)"):
        prep = prepared(g)
        hw = g.height * g.width
        for k in range(n_cls):
            code = _class_code(prep, k, hw)
            if code is None:
                hist[k, 0] += hw
            else:
                hist[k] += np.bincount(code, minlength=2**m)
    pats = ((np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1).astype(np.int64)
    on, per_class = [], {}
    for k in range(n_cls):
        res = staple_patterns(pats, hist[k], 2)
        on.append(np.nan_to_num(res.probabilities[:, 1], nan=0.0) > 0.5)
        per_class[pairing.categories[k]] = {
            "iterations": res.iterations,
            "prior": float(res.prior[1]),
            "sensitivity": dict(zip(pairing.names, res.sensitivity.tolist())),
            "specificity": dict(zip(pairing.names, res.specificity.tolist())),
        }
    info["staple"] = per_class
    return on


def _stream(datasets, pairing, groups, prepared, decide, info: dict) -> Stream:
    """The consensus dataset: per image, one RLE annotation per category ``decide`` keeps."""
    header = Dataset(categories=_categories(datasets, pairing), meta={"consensus": info})
    st = Stream(header, _items(groups, prepared, decide, [c.id for c in header.categories]), True)
    st.item_order = True  # made, not read: no file orders its annotations
    return st


def _items(groups, prepared, decide, cat_ids) -> Iterator[Item]:
    ann_id = 0
    for g in track(groups, desc="consensus"):
        anns = []
        for k, r in decide.masks(prepared(g), g.height, g.width):
            ann_id += 1
            anns.append(Annotation(ann_id, cat_ids[k], r, iscrowd=False, area=float(r.area), bbox=r.bbox))
        first = next(it for it in g.items if it is not None)
        yield Item(first.id, first.file_name, g.width, g.height, anns, split=first.split)


def _class_code(prep, k: int, hw: int):
    """Per pixel, the bit pattern of which annotators mark category ``k`` (or ``None`` if none does)."""
    code = None
    for j, p in enumerate(prep):
        u = p.class_union(k)
        if u is None or u.is_empty():
            continue
        if code is None:
            code = np.zeros(hw, np.int64)
        flat = np.zeros(hw, np.int32)
        K.paint_runs(u.counts, flat, np.int32(1))
        code |= flat.astype(np.int64) << j
    return code


def _categories(datasets, pairing) -> list[Category]:
    out, used = [], set()
    for name in pairing.categories:
        src = next((c for ds in datasets for c in ds.categories if c.name == name), None)
        cid = src.id if src is not None else None
        if cid is None or cid in used:
            ints = [u for u in used if isinstance(u, int)]
            cid = max(ints, default=0) + 1
        used.add(cid)
        out.append(Category(cid, name, supercategory=src.supercategory if src else None,
                            isthing=src.isthing if src else None, color=src.color if src else None))
    return out
