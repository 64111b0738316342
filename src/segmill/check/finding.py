"""A finding: one rule violation at one place, with the numbers behind it."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Any, Union

from .._coded import place
from .._fields import fields_dict

__all__ = ["Finding", "SEVERITIES", "jsonable", "severity_rank"]

Id = Union[int, str, None]

#: Severities from the most to the least serious.
SEVERITIES = ("error", "warning", "info")
_RANK = {"error": 3, "warning": 2, "info": 1}


def severity_rank(severity: str) -> int:
    """3 for ``"error"``, 2 for ``"warning"``, 1 for ``"info"``.

    Raises
    ------
    ValueError
        For anything else.
    """
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}") from None


@dataclass(frozen=True)
class Finding:
    """One rule violation.

    Parameters
    ----------
    code : str
        The rule code, a letter and 3 digits (``"S001"``): S structure,
        G geometry, C consistency.
    severity : {"error", "warning", "info"}
        After configuration overrides.
    message : str
        What is wrong, for a person.
    file : str, optional
        The dataset file holding the record, as given to the checker.
    item_id, annotation_id : int or str, optional
        The image and annotation concerned (``None`` for dataset-level findings).
    data : dict
        The numbers behind the finding (measured areas, IoUs, thresholds).
        Not part of equality or the fingerprint.
    key : str
        A stable discriminator when one location can hold several findings of
        a rule (the other annotation of a pair, a polygon part, a category).
    """

    code: str
    severity: str
    message: str
    file: str | None = None
    item_id: Id = None
    annotation_id: Id = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    key: str = ""

    def fingerprint(self) -> str:
        """A stable identity for baselines: code + location + discriminator.

        Built from the rule code, the file's base name, the image id, the
        annotation id and :attr:`key`, never from the measured numbers or the
        message, so a finding keeps its fingerprint when a threshold or a
        message changes, or when the dataset is checked from another folder.
        Ids are compared by their text (``3`` and ``"3"`` are the same).
        """
        parts = [
            self.code,
            _base_name(self.file) if self.file else "",
            "" if self.item_id is None else str(self.item_id),
            "" if self.annotation_id is None else str(self.annotation_id),
            self.key,
        ]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]

    def location(self) -> str:
        """``file: image 3, annotation 7`` (the parts that are known)."""
        loc = place(self.item_id, self.annotation_id) or "dataset"
        return f"{self.file}: {loc}" if self.file else loc

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (see :meth:`CheckResult.to_dict`)."""
        return {**fields_dict(self, _PLAIN), "data": jsonable(self.data), "fingerprint": self.fingerprint()}


_PLAIN = ("code", "severity", "message", "file", "item_id", "annotation_id", "key")  # to_dict's plain fields, in order


def _base_name(file) -> str:
    """``PurePath(file).name``, worked out once per distinct file (every finding of a file asks)."""
    try:
        return _cached_base_name(file)
    except TypeError:  # unhashable: not worth caching
        return PurePath(file).name


@lru_cache(maxsize=256)
def _cached_base_name(file) -> str:
    return PurePath(file).name


def jsonable(value):
    """Numpy scalars and tuples to plain JSON values; non-finite floats to strings."""
    t = type(value)
    # Plain values first: what findings hold, decided without the isinstance chain below.
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        return value if math.isfinite(value) else str(value)
    if t is dict:
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
