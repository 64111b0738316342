"""Duplicates across sources: annotations of one image with the same class and crowd flag whose masks overlap.

Pixels come from :func:`segmill.raster.rasterize` (each source's polygon
rule, nothing cached on the geometries) and overlap from
:func:`segmill.rle.iou` without crowd semantics: ``|a & b| / |a | b|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import raster, rle
from ..model import Annotation

__all__ = ["Entry", "Match", "find_duplicates"]


@dataclass
class Entry:
    """One annotation of a merged image while sources are added.

    Attributes
    ----------
    src : Annotation
        The annotation as its source holds it.
    source : int
        Its source (from 1).
    category : int or str or None
        Its merged category id.
    rule : str
        Its source's polygon rule (``meta["raster_rule"]``).
    out : Annotation or None
        The merged annotation, once built.
    unchecked : bool
        Already reported as having no pixels (reported once).
    """

    src: Annotation
    source: int
    category: Any
    rule: str
    out: Annotation | None = None
    unchecked: bool = False

    @property
    def key(self) -> tuple:
        return (self.category, bool(self.src.iscrowd))


@dataclass
class Match:
    """A later entry's best match among the earlier ones: index into them and IoU."""

    index: int
    iou: float


def find_duplicates(earlier: list[Entry], new: list[Entry], size: tuple[int, int],
                    threshold: float) -> tuple[dict[int, Match], list[tuple[Entry, str]]]:
    """The entries of ``new`` duplicating one of ``earlier`` in an image of ``size`` (height, width).

    Returns
    -------
    matches, without_pixels
        ``{index in new: Match}`` for every new entry whose best IoU with an
        earlier entry of the same key (class, crowd flag) is at least
        ``threshold``; and the entries of either side that have no pixels,
        with the reason, not reported before (their ``unchecked`` is set).
    """
    old_rles, old_bad = _pixels(earlier, size)
    new_rles, new_bad = _pixels(new, size)
    groups: dict[tuple, list[int]] = {}
    for j, (e, r) in enumerate(zip(earlier, old_rles)):
        if r is not None:
            groups.setdefault(e.key, []).append(j)
    wanted: dict[tuple, list[int]] = {}
    for i, (e, r) in enumerate(zip(new, new_rles)):
        if r is not None and e.key in groups:
            wanted.setdefault(e.key, []).append(i)
    matches = {}
    for key, rows in wanted.items():
        cols = groups[key]
        m = rle.iou([new_rles[i] for i in rows], [old_rles[j] for j in cols])
        for r, i in enumerate(rows):
            c = int(m[r].argmax())
            if m[r, c] >= threshold:
                matches[i] = Match(cols[c], float(m[r, c]))
    return matches, old_bad + new_bad


def _pixels(entries: list[Entry], size) -> tuple[list, list]:
    """Each entry's RLE (``None`` without pixels) and the entries newly found without pixels."""
    out: list = [None] * len(entries)
    by_rule: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_rule.setdefault(e.rule, []).append(i)
    bad = []
    for rule, idx in by_rule.items():
        results = raster.rasterize([entries[i].src.geometry for i in idx], size, rule, cache=False)
        for i, r in zip(idx, results):
            if isinstance(r, rle.RLE):
                out[i] = r
            elif not entries[i].unchecked:
                entries[i].unchecked = True
                bad.append((entries[i], str(r)))
    return out, bad
