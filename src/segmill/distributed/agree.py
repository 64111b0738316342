"""``segmill agree --workers N``: images measured on the workers, the metric states merged on the driver.

Every agreement metric is a mergeable accumulator (``start``, ``add_image``,
``merge``, ``finalize``: :mod:`segmill.agree.metric`), and one pass over the
images is a :class:`segmill.agree.compare.Tally`. Each worker reads the
annotators' datasets, lines up the images as the driver does and measures
one run of consecutive image groups; the driver merges the tallies in order
and finalizes: the report is the single-process one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import io
from ..agree.compare import accumulate, check_order
from ..agree.context import RunContext
from ..agree.metrics import METRICS
from ..agree.pairing import pair_datasets
from ..agree.report import AgreementReport
from ..agree.settings import AgreeSettings
from ..errors import UsageError
from ..formats import get_format
from ..spilled import spill
from .shards import PositionRange

__all__ = ["AgreeSources", "load_annotators", "measure_part", "measure_sharded"]


@dataclass(frozen=True)
class AgreeSources:
    """Where the annotators' datasets come from, for the workers to read them again.

    ``paths`` are two or more datasets, or one file holding several
    annotators' work (its format declares ``annotators``); ``formats`` one
    name (or ``None``: detected) per path.
    """

    paths: tuple
    formats: tuple


def load_annotators(sources: AgreeSources) -> list:
    """The annotators' datasets, as ``segmill agree`` loads them."""
    if len(sources.paths) == 1:
        path = sources.paths[0]
        spec = get_format(sources.formats[0] or io.detect_format(path)[0])
        if spec.annotators is None:
            raise UsageError(f"{path}: the {spec.name} format holds one annotator's work")
        return list(spec.annotators(path).values())
    return [spill(p, f) for p, f in zip(sources.paths, sources.formats)]


def measure_part(part: PositionRange, sources: AgreeSources, names, settings: AgreeSettings):
    """On a worker: the :class:`~segmill.agree.compare.Tally` of one run of image groups."""
    pairing = pair_datasets(load_annotators(sources), names, settings.match_by, settings.void)
    ctx = RunContext.of(pairing, settings)
    start, stop = part.bounds(len(pairing.groups))
    return accumulate(ctx, pairing.groups[start:stop], tuple(METRICS))


def measure_sharded(client, workers: int, datasets, names, settings: AgreeSettings,
                    sources: AgreeSources) -> AgreementReport:
    """:func:`segmill.agree.compare.measure` with the images measured on the cluster.

    Parameters
    ----------
    client : distributed.Client
    workers : int
        One run of images per worker.
    datasets : sequence of Dataset
        The annotators' datasets, loaded on the driver (for the line-up and
        the final numbers).
    names : sequence of str or None
    settings : AgreeSettings
    sources : AgreeSources
        Where the workers read the same datasets.
    """
    # lazy: dask is optional; this function only runs once it was found
    from distributed import as_completed

    from .. import _progress

    metrics = tuple(METRICS)
    check_order(metrics)
    pairing = pair_datasets(datasets, names, settings.match_by, settings.void)
    ctx = RunContext.of(pairing, settings)
    parts = [PositionRange(k, max(1, workers)) for k in range(max(1, workers))]
    futures = [client.submit(measure_part, p, sources, pairing.names, settings, pure=False) for p in parts]
    for _ in _progress.track(as_completed(futures), total=len(futures), desc="agree"):
        pass
    for f in futures:
        if f.status == "error":
            raise f.exception()
    tallies = client.gather(futures)
    tally = tallies[0]
    for other in tallies[1:]:
        tally.merge(other, metrics)
    results = {m.name: m.finalize(state, ctx) for m, state in zip(metrics, tally.states)}
    return AgreementReport(run=ctx, metrics=metrics, results=results, pair_images=tally.pair_images,
                           per_image=tally.per_image, unusable=tally.unusable)
