"""``segmill.agree.compare``: every agreement metric in one pass over the images."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .._progress import track
from ..errors import InputError
from . import _kernels as K
from .multirater import MultiRaterCounts
from .pairing import Pairing, pair_datasets
from .panoptic import InstanceCounts, compare_instances
from .pixel import PixelCounts, boundary_map, cohen_kappa, disk_offsets
from .rasterize import UNLABELED, prepare
from .report import AgreementReport


def compare(datasets, names=None, *, iou: float = 0.5, boundary_tolerance: float = 2,
            match_by: str = "file_name", reference: str | None = None, void=(),
            unlabeled: str = "background", raster: str = "coco") -> AgreementReport:
    """Measure how far two or more annotators agree.

    Parameters
    ----------
    datasets : sequence of Dataset
        Two or more annotations of the same images (any formats).
    names : sequence of str, optional
        Annotator names (default: from the source paths).
    iou : float, default 0.5
        Instances match when their mask IoU is greater than this.
    boundary_tolerance : float, default 2
        Boundary pixels match within this Euclidean distance in pixels.
    match_by : {"file_name", "id"}
        How images are matched across annotators.
    reference : str, optional
        Annotator the others are ranked against; default: the pixel-wise
        majority vote of all annotators.
    void : iterable of str
        Category names whose pixels are void: excluded from IoUs, unions and
        every pixel statistic.
    unlabeled : {"background", "void"}
        What pixels an annotator leaves unlabelled are. ``"void"`` suits
        panoptic data (panopticapi's segment id 0): in a pair, the part of
        one annotator's region that the other left unlabelled is left out of
        the IoU, and such pixels are missing values for the pixel statistics.
    raster : {"coco", "pil"}
        Polygon rasterization rule.

    Returns
    -------
    AgreementReport
        ``report.to_dict()`` holds every number (schema in
        :mod:`segmill.agree.report_json`); the overall PQ is under ``"pq"``.

    Raises
    ------
    segmill.errors.InputError
        Fewer than two datasets, an unknown reference name, duplicate image
        keys, a bad threshold.

    Examples
    --------
    >>> from segmill.model import Dataset, Category, Item, Annotation
    >>> from segmill.geometry import Box
    >>> def ds(x):
    ...     a = Annotation(1, 1, Box(x, 0, 4, 4))
    ...     return Dataset([Category(1, "cat")], [Item(1, "a.png", 8, 8, [a])])
    >>> rep = compare([ds(0), ds(0)], names=["ann1", "ann2"])
    >>> rep.to_dict()["pq"], rep.to_dict()["kappa"]
    (1.0, 1.0)
    """
    if not 0.0 <= float(iou) < 1.0:
        raise InputError(f"the IoU threshold must be in [0, 1), got {iou}")
    if unlabeled not in UNLABELED:
        raise InputError(f"unlabeled must be one of {UNLABELED}, got {unlabeled!r}")
    if float(boundary_tolerance) < 0:
        raise InputError(f"the boundary tolerance must not be negative, got {boundary_tolerance}")
    pairing = pair_datasets(datasets, names, match_by, void)
    m = len(pairing.names)
    if reference is not None and reference not in pairing.names:
        raise InputError(f"--reference {reference!r} is not one of the annotators {pairing.names}")
    ref_idx = None if reference is None else pairing.names.index(reference)
    n_cls = len(pairing.categories)
    pairs = list(combinations(range(m), 2))
    inst = {p: InstanceCounts(n_cls) for p in pairs}
    pix = {p: PixelCounts(n_cls) for p in pairs}
    images_per_pair = {p: 0 for p in pairs}
    multi = MultiRaterCounts(m, n_cls + 1)
    view = np.zeros((m, n_cls + 1, n_cls + 1), np.int64)
    offsets = disk_offsets(float(boundary_tolerance))
    unusable: list[dict] = []
    per_image: list[dict] = []

    for g in track(pairing.groups, desc="agree"):
        prep = [None if it is None else prepare(it, pairing.category_index[a], g.height, g.width, raster, unlabeled)
                for a, it in enumerate(g.items)]
        for a, p in enumerate(prep):
            if p is not None:
                unusable.extend({"image": g.key, "annotator": pairing.names[a], "reason": r} for r in p.unusable)
        present = [a for a, p in enumerate(prep) if p is not None]
        block = np.zeros((len(present), g.height * g.width), np.int32)
        maps = [None] * m
        for row, a in enumerate(present):
            maps[a] = prep[a].label_map(block[row])
        bmaps = [None if lm is None else boundary_map(lm, g.height, g.width) for lm in maps]
        rec = {"image": g.key, "pairs": {}}
        for (a, b) in pairs:
            if prep[a] is None or prep[b] is None:
                continue
            images_per_pair[(a, b)] += 1
            ic = compare_instances(prep[a], prep[b], n_cls, iou)
            pc = PixelCounts(n_cls)
            pc.add_maps(maps[a], maps[b])
            pc.add_boundaries(bmaps[a], bmaps[b], g.height, g.width, offsets)
            inst[(a, b)] += ic
            pix[(a, b)] += pc
            rec["pairs"][_pair_key(pairing, a, b)] = {
                "pq": ic.panoptic()["pq"],
                "tp": int(ic.tp.sum()), "fp": int(ic.fp.sum()), "fn": int(ic.fn.sum()),
                "mean_iou": pc.mean_iou(), "kappa": cohen_kappa(pc.conf) if pc.conf.any() else None,
            }
        if g.complete:
            K.all_rater_pass(block, n_cls + 1, -1 if ref_idx is None else ref_idx, multi.fleiss_totals,
                             multi.alpha_totals, multi.scalars, view)
        for p in prep:
            if p is not None:
                p.release()
        scores = [v["pq"] if v["pq"] is not None else 1.0 for v in rec["pairs"].values()]
        rec["score"] = float(np.mean(scores)) if scores else None
        per_image.append(rec)

    return AgreementReport(
        pairing=pairing,
        settings={
            "iou": float(iou), "boundary_tolerance": float(boundary_tolerance), "match_by": match_by,
            "reference": reference, "void": sorted(pairing.void), "unlabeled": unlabeled, "raster": raster,
        },
        pairs=[_pair_summary(pairing, a, b, inst[(a, b)], pix[(a, b)], images_per_pair[(a, b)]) for a, b in pairs],
        multi=multi,
        view=view,
        per_image=per_image,
        unusable=unusable,
    )


def _pair_key(pairing: Pairing, a: int, b: int) -> str:
    return f"{pairing.names[a]} vs {pairing.names[b]}"


def _pair_summary(pairing, a, b, ic: InstanceCounts, pc: PixelCounts, n_images: int) -> dict:
    return {
        "a": pairing.names[a],
        "b": pairing.names[b],
        "images": n_images,
        "instance": ic.summary(pairing.categories),
        "pixel": pc.summary(pairing.categories),
    }
