"""The agreement metric seam: what a metric implements to take part in ``compare``.

A metric is an object with a unique :attr:`Metric.name` and five methods
(:class:`Metric`). :func:`segmill.agree.compare` calls them in this order:

``start(run) -> state``
    Once per comparison; ``run`` is the :class:`~segmill.agree.context.RunContext`
    (annotators, categories, annotator pairs, settings).
``add_image(state, image)``
    Once per image; ``image`` is an :class:`~segmill.agree.context.ImageContext`
    (each annotator's prepared annotations, label maps and boundary maps,
    the annotator pairs both members of which have the image, and the
    image's per-image record to add numbers to).
``merge(state, other) -> state``
    Combines two states of the same run (images split into parts).
``finalize(state, run) -> MetricResult``
    The numbers the metric adds to the report dict.
``rows(result, run) -> Rows``
    What it shows in the text and HTML reports.

The metrics of a comparison are :data:`segmill.agree.metrics.METRICS` (one
list; :func:`segmill.agree.metrics.register` adds one). Metrics run in list
order, so one may read what an earlier one put in the per-image record; it
names those in :attr:`Metric.requires`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from .context import ImageContext, RunContext


@dataclass
class MetricResult:
    """What one metric adds to the report dict (schema ``segmill.agree/1``).

    Attributes
    ----------
    headline : dict
        Top-level headline numbers (``pq``, ``kappa``...). The report puts
        the schema's headline keys in the schema's order, others after them.
    pairs : list of dict, optional
        One entry per annotator pair (in :attr:`RunContext.pairs` order),
        stored as ``report["pairs"][i][metric.name]``.
    sections : dict
        Further top-level keys of the report (``multi_rater``...), after
        ``pairs``, in metric order.
    """

    headline: dict = field(default_factory=dict)
    pairs: list | None = None
    sections: dict = field(default_factory=dict)


def fmt(v, digits: int = 3) -> str:
    """A number for a report cell (``-`` when undefined)."""
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


@dataclass(frozen=True)
class Column:
    """A column a metric adds to a report table.

    Attributes
    ----------
    label : str
        Header in the HTML page.
    short : str, optional
        Header in the text table (default: ``label``).
    compact : bool
        Whether the narrow text table shows it too (the HTML page shows all).
    """

    label: str
    short: str | None = None
    compact: bool = True

    @property
    def text_label(self) -> str:
        return self.label if self.short is None else self.short


@dataclass
class CategoryColumns:
    """Columns of the per-category table of each annotator pair (HTML page).

    ``per_pair[i]`` maps a category name to its cells for pair ``i``; a
    category the metric has nothing on gets ``missing``. A category shows
    when any metric has cells for it.
    """

    columns: list
    per_pair: list
    missing: list


@dataclass
class Table:
    """A table of its own: ``title`` heads it in HTML, ``caption`` in text.

    ``annotator_column``: the first cell of each row is an annotator name
    (the HTML page puts the annotator's colour beside it).
    """

    title: str
    caption: str
    header: list
    rows: list
    annotator_column: bool = False


@dataclass
class Rows:
    """What one metric shows in the reports.

    Attributes
    ----------
    headline : dict
        Report key -> label of its headline numbers (the text headline line,
        the HTML figures).
    figures : list of (str, value)
        More numbers, shown as figures on the HTML page.
    lines : list of str
        Lines under the headline of the text report.
    pair_columns : list of (Column, list)
        Columns of the annotator pair table, with one cell per pair.
    category_columns : CategoryColumns, optional
    tables : list of Table
        Shown after the pair table.
    """

    headline: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    pair_columns: list = field(default_factory=list)
    category_columns: CategoryColumns | None = None
    tables: list = field(default_factory=list)


@runtime_checkable
class Metric(Protocol):
    """An agreement metric (see the module doc for the calling order).

    Attributes
    ----------
    name : str
        Unique; also the key of its section in each ``report["pairs"]`` entry.
    requires : tuple of str
        Metrics that must run before this one (it reads their per-image
        numbers). Optional; default none.
    """

    name: str

    def start(self, run: RunContext) -> Any:
        """A fresh, empty state for one comparison."""

    def add_image(self, state: Any, image: ImageContext) -> None:
        """Add one image to ``state`` (and, optionally, numbers to ``image.record``)."""

    def merge(self, state: Any, other: Any) -> Any:
        """``state`` and ``other`` combined (``state`` may be updated in place and returned)."""

    def finalize(self, state: Any, run: RunContext) -> MetricResult:
        """The metric's numbers for the report."""

    def rows(self, result: MetricResult, run: RunContext) -> Rows:
        """What the metric shows in the text and HTML reports."""
