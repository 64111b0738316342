"""What metrics see: the comparison as a whole (:class:`RunContext`) and one image (:class:`ImageContext`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import numpy as np

from .pairing import ImageGroup, Pairing
from .pixel import boundary_map
from .rasterize import prepare
from .settings import AgreeSettings


@dataclass(frozen=True)
class RunContext:
    """One comparison: annotators and categories lined up, settings, annotator pairs.

    Attributes
    ----------
    pairing : Pairing
    settings : AgreeSettings
    pairs : tuple of (int, int)
        Every annotator pair ``(a, b)``, ``a < b``, in a fixed order: the
        order of ``report["pairs"]``.
    reference_index : int or None
        The ``--reference`` annotator, ``None`` for the majority vote.
    """

    pairing: Pairing
    settings: AgreeSettings
    pairs: tuple = ()
    reference_index: int | None = None

    @classmethod
    def of(cls, pairing: Pairing, settings: AgreeSettings) -> RunContext:
        """The context of ``pairing`` under ``settings`` (checks the reference name)."""
        ref = settings.reference_index(pairing.names)
        return cls(pairing, settings, tuple(combinations(range(len(pairing.names)), 2)), ref)

    @property
    def names(self) -> list[str]:
        return self.pairing.names

    @property
    def categories(self) -> list[str]:
        return self.pairing.categories

    @property
    def n_classes(self) -> int:
        """Number of categories (labels 1..n_classes in label maps; 0 is background)."""
        return len(self.pairing.categories)

    def pair_key(self, a: int, b: int) -> str:
        """``"A vs B"``: how a pair is named in per-image records and reports."""
        return f"{self.names[a]} vs {self.names[b]}"


@dataclass
class ImageContext:
    """One image as every metric sees it.

    Attributes
    ----------
    run : RunContext
    group : ImageGroup
    annotators : list of segmill.agree.rasterize.ImageAnnotations or None
        Each annotator's prepared annotations (``None`` where it lacks the image).
    pairs : list of (int, int)
        The pairs of :attr:`RunContext.pairs` both members of which have the image.
    record : dict
        The image's per-image record, ``{"image": key, "pairs": {"A vs B": {...}}}``;
        metrics add their numbers to it (see :meth:`pair_record`).
    """

    run: RunContext
    group: ImageGroup
    annotators: list
    pairs: list = field(default_factory=list)
    record: dict = field(default_factory=dict)

    @classmethod
    def prepare(cls, run: RunContext, group: ImageGroup) -> ImageContext:
        """Rasterize every annotator's annotations of ``group``."""
        s = run.settings
        prep = [None if it is None else
                prepare(it, run.pairing.category_index[a], group.height, group.width, s.raster, s.unlabeled)
                for a, it in enumerate(group.items)]
        pairs = [(a, b) for a, b in run.pairs if prep[a] is not None and prep[b] is not None]
        record = {"image": group.key, "pairs": {run.pair_key(a, b): {} for a, b in pairs}}
        return cls(run, group, prep, pairs, record)

    @property
    def key(self) -> str:
        return self.group.key

    @property
    def height(self) -> int:
        return self.group.height

    @property
    def width(self) -> int:
        return self.group.width

    @property
    def complete(self) -> bool:
        """Whether every annotator has this image."""
        return self.group.complete

    @property
    def present(self) -> list[int]:
        """Indices of the annotators that have this image."""
        return [a for a, p in enumerate(self.annotators) if p is not None]

    @cached_property
    def stack(self) -> np.ndarray:
        """The label maps of :attr:`present`, one ``int32`` row each (all annotators when complete).

        Flat column-major maps: 0 background, ``k + 1`` category ``k``, -1 void.
        """
        present = self.present
        block = np.zeros((len(present), self.height * self.width), np.int32)
        for row, a in enumerate(present):
            self.annotators[a].label_map(block[row])
        return block

    @cached_property
    def label_maps(self) -> list:
        """Per annotator, its flat label map (a row of :attr:`stack`), or ``None``."""
        maps = [None] * len(self.annotators)
        for row, a in enumerate(self.present):
            maps[a] = self.stack[row]
        return maps

    @cached_property
    def boundary_maps(self) -> list:
        """Per annotator, its flat boundary map (label at boundary pixels, 0 elsewhere), or ``None``."""
        return [None if lm is None else boundary_map(lm, self.height, self.width) for lm in self.label_maps]

    def pair_record(self, a: int, b: int) -> dict:
        """The per-image numbers of pair ``(a, b)`` (one of :attr:`pairs`) in :attr:`record`."""
        return self.record["pairs"][self.run.pair_key(a, b)]

    def unusable(self) -> list[dict]:
        """``{"image", "annotator", "reason"}`` for every annotation left out of this image."""
        names = self.run.names
        return [{"image": self.key, "annotator": names[a], "reason": r}
                for a, p in enumerate(self.annotators) if p is not None for r in p.unusable]

    def release(self) -> None:
        """Drop what this image cached on the datasets' geometries (one image in memory at a time)."""
        for p in self.annotators:
            if p is not None:
                p.release()

