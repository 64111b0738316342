"""``segmill.agree.compare``: every agreement metric in one pass over the images.

The metrics themselves live in :mod:`segmill.agree.metrics` (one list);
this module lines up the images, prepares each image once
(:class:`~segmill.agree.context.ImageContext`) and hands it to every metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._entries import Entries
from .._progress import track
from ..errors import UsageError
from .context import ImageContext, RunContext
from .metrics import METRICS
from .pairing import pair_datasets
from .report import AgreementReport
from .settings import AgreeSettings


def compare(datasets, names=None, settings: AgreeSettings | None = None, **options) -> AgreementReport:
    """Measure how far two or more annotators agree.

    Parameters
    ----------
    datasets : sequence of Dataset
        Two or more annotations of the same images (any formats).
    names : sequence of str, optional
        Annotator names (default: from the source paths).
    settings : AgreeSettings, optional
        Every setting below as one object; keyword options override it.
    **options
        :class:`AgreeSettings` fields, described here.
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
    return measure(datasets, names, AgreeSettings.of(settings, **options))


def measure(datasets, names, settings: AgreeSettings, metrics=None) -> AgreementReport:
    """:func:`compare` with its settings as one :class:`AgreeSettings`.

    Parameters
    ----------
    datasets : sequence of Dataset
    names : sequence of str or None
    settings : AgreeSettings
    metrics : sequence of Metric, optional
        Default: :data:`segmill.agree.metrics.METRICS`.

    Returns
    -------
    AgreementReport
    """
    metrics = tuple(METRICS if metrics is None else metrics)
    check_order(metrics)
    pairing = pair_datasets(datasets, names, settings.match_by, settings.void)
    ctx = RunContext.of(pairing, settings)
    tally = accumulate(ctx, pairing.groups, metrics)
    results = {m.name: m.finalize(state, ctx) for m, state in zip(metrics, tally.states)}
    return AgreementReport(run=ctx, metrics=metrics, results=results, pair_images=tally.pair_images,
                           per_image=tally.per_image, unusable=tally.unusable)


@dataclass
class Tally:
    """What one pass over images collects: each metric's state, and the per-image bookkeeping."""

    states: list
    pair_images: list
    per_image: Entries = field(default_factory=lambda: Entries(coded=False))
    unusable: Entries = field(default_factory=lambda: Entries(coded=False))

    def merge(self, other: Tally, metrics) -> Tally:
        """This tally and ``other`` (later images) combined."""
        self.states = [m.merge(s, o) for m, s, o in zip(metrics, self.states, other.states)]
        self.pair_images = [x + y for x, y in zip(self.pair_images, other.pair_images)]
        self.per_image.extend(other.per_image)
        self.unusable.extend(other.unusable)
        return self


def accumulate(ctx: RunContext, groups, metrics) -> Tally:
    """Run every metric over ``groups`` (one image in memory at a time)."""
    tally = Tally([m.start(ctx) for m in metrics], [0] * len(ctx.pairs))
    index = {p: i for i, p in enumerate(ctx.pairs)}
    for g in track(groups, desc="agree"):
        image = ImageContext.prepare(ctx, g)
        tally.unusable.extend(image.unusable())
        for p in image.pairs:
            tally.pair_images[index[p]] += 1
        for m, state in zip(metrics, tally.states):
            m.add_image(state, image)
        image.release()
        tally.per_image.append(image.record)
    return tally


def check_order(metrics) -> None:
    """Refuse duplicate metric names and a metric listed before one it requires."""
    seen: set = set()
    for m in metrics:
        if m.name in seen:
            raise UsageError(f"two agreement metrics are named {m.name!r}")
        missing = [r for r in getattr(m, "requires", ()) if r not in seen]
        if missing:
            raise UsageError(f"agreement metric {m.name!r} needs {missing} to run before it")
        seen.add(m.name)
