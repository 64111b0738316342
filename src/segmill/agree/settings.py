"""The settings of one agreement run, checked in one place.

:class:`AgreeSettings` carries what :func:`segmill.agree.compare` and
:func:`segmill.agree.consensus` used to thread through pairing, preparation
and every metric as loose parameters (``void``, ``unlabeled``, ``match_by``,
...). Building one validates every field; a bad value raises
:class:`segmill.errors.InputError` (an unknown ``raster`` rule:
:class:`~segmill.errors.UsageError`, as :mod:`segmill.rle` does) with a
one-line message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from ..errors import InputError, UsageError
from ..rle import RULES as RASTER_RULES
from ..validate import brief

MATCH_BY = ("file_name", "id")
UNLABELED = ("background", "void")


@dataclass(frozen=True)
class AgreeSettings:
    """How annotators are compared (frozen; validated on construction).

    Attributes
    ----------
    iou : float
        Instances match when their mask IoU is greater than this; in [0, 1).
    boundary_tolerance : float
        Boundary pixels match within this Euclidean distance in pixels (>= 0).
    match_by : {"file_name", "id"}
        How images are matched across annotators.
    reference : str or None
        Annotator the others are ranked against (``None``: the majority vote).
    void : frozenset of str
        Category names whose pixels are void.
    unlabeled : {"background", "void"}
        What pixels an annotator leaves unlabelled are.
    raster : {"coco", "pil"}
        Polygon rasterization rule.
    surface_tolerance : float or None
        Surface Dice tolerance in pixels (>= 0) of the surface distance
        metric (:mod:`segmill.agree.metrics.surface`); ``None`` (the
        default) leaves that metric out.

    Examples
    --------
    >>> AgreeSettings(iou=0.75, void=["ignore"]).to_dict()["void"]
    ['ignore']
    >>> AgreeSettings(iou=1.0)
    Traceback (most recent call last):
    ...
    segmill.errors.InputError: the IoU threshold must be in [0, 1), got 1.0
    """

    iou: float = 0.5
    boundary_tolerance: float = 2.0
    match_by: str = "file_name"
    reference: str | None = None
    void: frozenset = field(default_factory=frozenset)
    unlabeled: str = "background"
    raster: str = "coco"
    surface_tolerance: float | None = None

    def __post_init__(self):
        # Order of the checks = the order compare() has always reported them in.
        object.__setattr__(self, "iou", _iou(self.iou))
        _choice("unlabeled", self.unlabeled, UNLABELED)
        object.__setattr__(self, "boundary_tolerance", _tolerance(self.boundary_tolerance))
        _choice("match_by", self.match_by, MATCH_BY)
        if not isinstance(self.raster, str) or self.raster not in RASTER_RULES:
            # the message segmill.rle gives for the same mistake
            raise UsageError(f"unknown rasterization rule {brief(self.raster)}; choose one of {RASTER_RULES}")
        object.__setattr__(self, "void", _void(self.void))
        if self.surface_tolerance is not None:
            object.__setattr__(self, "surface_tolerance", _surface_tolerance(self.surface_tolerance))

    def reference_index(self, names) -> int | None:
        """Index of :attr:`reference` among the annotator ``names`` (``None`` for the majority vote).

        Raises
        ------
        segmill.errors.InputError
            The reference is not one of the annotators.
        """
        if self.reference is None:
            return None
        if self.reference not in names:
            raise InputError(f"--reference {self.reference!r} is not one of the annotators {names}")
        return list(names).index(self.reference)

    @classmethod
    def of(cls, settings: "AgreeSettings | None" = None, **options) -> "AgreeSettings":
        """``settings`` (or the defaults) with ``options`` (field name -> value) in place.

        Raises
        ------
        segmill.errors.UsageError
            An option that is not a field of :class:`AgreeSettings`.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"unknown agreement setting(s) {unknown}; known: {sorted(known)}")
        return replace(settings, **options) if settings is not None else cls(**options)

    def to_dict(self) -> dict:
        """The ``settings`` object of the JSON report (schema ``segmill.agree/1``).

        ``surface_tolerance`` is there only when set (the surface metric ran).
        """
        out = {
            "iou": self.iou, "boundary_tolerance": self.boundary_tolerance, "match_by": self.match_by,
            "reference": self.reference, "void": sorted(self.void), "unlabeled": self.unlabeled,
            "raster": self.raster,
        }
        if self.surface_tolerance is not None:
            out["surface_tolerance"] = self.surface_tolerance
        return out


def _number(value):
    """``float(value)``, or ``None`` when it cannot be converted."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _iou(value) -> float:
    v = _number(value)
    if v is None:
        raise InputError(f"the IoU threshold must be in [0, 1), got {brief(value)}")
    if not 0.0 <= v < 1.0:
        raise InputError(f"the IoU threshold must be in [0, 1), got {value}")
    return v


def _tolerance(value) -> float:
    v = _number(value)
    if v is None or not math.isfinite(v):
        # NaN and infinity have no disk of pixels around them
        raise InputError(f"the boundary tolerance must be a finite number of pixels, got {brief(value)}")
    if v < 0:
        raise InputError(f"the boundary tolerance must not be negative, got {value}")
    return v


def _surface_tolerance(value) -> float:
    v = _number(value)
    if v is None or not math.isfinite(v) or isinstance(value, bool):
        raise InputError(f"the surface Dice tolerance must be a finite number of pixels, got {brief(value)}")
    if v < 0:
        raise InputError(f"the surface Dice tolerance must not be negative, got {value}")
    return v


def _choice(name: str, value, allowed: tuple) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{name} must be one of {allowed}, got {brief(value)}")


def _void(value) -> frozenset:
    # A bare string would be taken letter by letter: certainly not what was meant.
    if isinstance(value, str):
        raise InputError(f"void must be a list of category names, not the string {brief(value)}")
    try:
        names = frozenset(value)
    except TypeError:
        raise InputError(f"void must be a list of category names, got {brief(value)}") from None
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise InputError(f"void category names must be strings, got {brief(bad[0])}")
    return names
