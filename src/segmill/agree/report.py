"""The result of :func:`segmill.agree.compare`: the metrics' results, assembled into one report."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..errors import UsageError
from .context import RunContext
from .metrics.image_scores import lowest
from .pairing import Pairing

SCHEMA = "segmill.agree/1"
#: The headline numbers of schema ``segmill.agree/1``, in its order; a new
#: metric's headline numbers follow them.
HEADLINE = ("pq", "sq", "rq", "mean_iou", "kappa", "boundary_f1")
#: Top-level keys the report itself writes (a metric's sections may not reuse them).
REPORT_KEYS = ("schema", "annotators", "categories", "settings", "images", "unusable_annotations", "pairs",
               "consensus", "per_image")


@dataclass
class AgreementReport:
    """Every agreement number of one comparison.

    Use :meth:`to_dict` for the numbers (a JSON-ready dict), and
    :mod:`segmill.agree.report_text`, :mod:`~segmill.agree.report_json`,
    :mod:`~segmill.agree.report_html` to render it.

    Attributes
    ----------
    run : RunContext
        Annotators, categories, annotator pairs and settings.
    metrics : tuple of Metric
        The metrics that ran, in order.
    results : dict
        Metric name -> its :class:`~segmill.agree.metric.MetricResult`.
    pair_images : list of int
        Per annotator pair, the images both members have.
    per_image : list-like of dict
        One record per image compared (from :func:`~segmill.agree.compare`,
        an :class:`~segmill._entries.Entries`: past a few tens of thousands
        they wait in a temporary file).
    unusable : list-like of dict
        Annotations left out (no area, undeclared category...); likewise.
    consensus : dict, optional
        Set by the CLI when a consensus was built.
    """

    run: RunContext
    metrics: tuple
    results: dict
    pair_images: list
    per_image: list[dict] = field(default_factory=list)
    unusable: list[dict] = field(default_factory=list)
    consensus: dict | None = None

    @property
    def pairing(self) -> Pairing:
        return self.run.pairing

    @property
    def names(self) -> list[str]:
        return self.pairing.names

    @property
    def settings(self) -> dict:
        """The settings as in the JSON report."""
        return self.run.settings.to_dict()

    @cached_property
    def pairs(self) -> list[dict]:
        """One dict per annotator pair: ``a``, ``b``, ``images``, then each metric's section."""
        out = []
        for i, (a, b) in enumerate(self.run.pairs):
            entry = {"a": self.names[a], "b": self.names[b], "images": self.pair_images[i]}
            for name, result in self.results.items():
                if result.pairs is not None:
                    entry[name] = result.pairs[i]
            out.append(entry)
        return out

    def headline(self) -> dict:
        """The headline numbers: the schema's in its order, then any other metric's."""
        found: dict = {}
        for result in self.results.values():
            for key, value in result.headline.items():
                if key in found:
                    raise UsageError(f"two agreement metrics give the headline number {key!r}")
                found[key] = value
        keys = [k for k in HEADLINE if k in found] + [k for k in found if k not in HEADLINE]
        return {k: found[k] for k in keys}

    def sections(self) -> dict:
        """The metrics' top-level sections, in metric order."""
        out: dict = {}
        for result in self.results.values():
            for key, value in result.sections.items():
                if key in out or key in REPORT_KEYS or key in HEADLINE:
                    raise UsageError(f"the report section {key!r} is taken")
                out[key] = value
        return out

    def rows(self) -> list:
        """What each metric shows in the text and HTML reports (:class:`~segmill.agree.metric.Rows`)."""
        return [m.rows(self.results[m.name], self.run) for m in self.metrics]

    def annotator_view(self) -> dict:
        """Each annotator against the reference: sensitivity, specificity, IoU, ranked by IoU."""
        return self.sections()["annotator_view"]

    def lowest(self, n: int = 8) -> list[dict]:
        """The ``n`` images with the lowest agreement score (mean PQ over the pairs)."""
        return lowest(self.per_image, n)

    def to_dict(self, per_image: bool = True, spliced: bool = False) -> dict:
        """All numbers as a JSON-ready dict (schema ``segmill.agree/1``).

        ``spliced``: the lists that grow with the images (missing, skipped,
        unusable, per-image records) as :class:`~segmill.check.report.json.Spliced`
        iterators, for a report written as it is made
        (:func:`segmill.agree.report_json.render_chunks`).
        """
        from ..check.report.json import Spliced  # lazy: the report writer is needed only for a report

        def many(entries):
            return Spliced.or_list(entries, spliced)
        out = {
            "schema": SCHEMA,
            "annotators": list(self.names),
            "categories": list(self.pairing.categories),
            "settings": self.settings,
        }
        out.update(self.headline())
        out["images"] = {
            "total": len(self.pairing.groups) + len(self.pairing.skipped),
            "compared": len(self.pairing.groups),
            "complete": len(self.pairing.groups.complete()),
            "missing": many(self.pairing.missing),
            "skipped": many(self.pairing.skipped),
        }
        out["unusable_annotations"] = {"count": len(self.unusable), "items": many(self.unusable)}
        out["pairs"] = self.pairs
        out.update(self.sections())
        if self.consensus is not None:
            out["consensus"] = self.consensus
        if per_image:
            out["per_image"] = many(self.per_image)
        return out

    def check_thresholds(self, min_pq=None, min_iou=None, min_kappa=None) -> list[str]:
        """Messages for every threshold the report falls below (empty when all pass)."""
        d = self.to_dict(per_image=False)
        fails = []
        for key, limit, label in (("pq", min_pq, "PQ"), ("mean_iou", min_iou, "mean IoU"),
                                  ("kappa", min_kappa, "kappa")):
            if limit is None:
                continue
            v = d.get(key)
            if v is None:
                fails.append(f"{label} is undefined (nothing to compare) and --min-{key.split('_')[-1]} is set")
            elif v < limit:
                fails.append(f"{label} {v:.4f} is below the minimum {limit:g}")
        return fails
