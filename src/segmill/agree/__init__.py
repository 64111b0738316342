"""Annotator agreement and consensus for instance and semantic segmentation.

Public API
----------
:func:`compare`
    Every agreement metric of two or more annotators -> :class:`AgreementReport`.
:func:`consensus`
    Majority vote or STAPLE consensus of two or more annotators -> ``Dataset``.

Lower-level pieces, each with its reference tests: :func:`match` and
:func:`iou_matrix` (instance matching), :func:`cohen_kappa`,
:func:`fleiss_kappa`, :func:`krippendorff_alpha`, :func:`staple_binary`.

Extending: :class:`AgreeSettings` (the settings of a run, validated once),
:class:`segmill.agree.metric.Metric` (the metric seam) and
:mod:`segmill.agree.metrics` (the one list of metrics ``compare`` runs).
"""

from .compare import compare
from .consensus import consensus, consensus_stream
from .matching import iou_matrix, match
from .multirater import fleiss_kappa, krippendorff_alpha
from .pixel import cohen_kappa
from .report import SCHEMA, AgreementReport
from .settings import AgreeSettings
from .staple import staple_binary

__all__ = [
    "AgreeSettings",
    "AgreementReport",
    "SCHEMA",
    "cohen_kappa",
    "compare",
    "consensus",
    "consensus_stream",
    "fleiss_kappa",
    "iou_matrix",
    "krippendorff_alpha",
    "match",
    "staple_binary",
]
