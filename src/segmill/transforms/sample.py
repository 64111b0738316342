"""A reproducible subset of images: :class:`Sample` (``--sample N --seed S``).

The images kept are the ``n`` first in the seeded order of
:mod:`segmill.transforms.stable`, and they stay in their input order. Every
image left out is reported (E006); asking for more images than there are
keeps them all, with a note. Categories are kept, even those no kept image
uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..validate import brief
from .base import Step, Stepped
from .report import EditReport
from .stable import checked_seed, seeded_order

__all__ = ["Sample"]


class _Sample(Step):
    selects = True

    def __init__(self, n: int, seed: int):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise UsageError(f"the sample size must be an integer >= 0, got {brief(n)}")
        self.n, self.seed = n, checked_seed(seed)
        self.report = EditReport()
        self.seen = 0

    def decide(self, keys: list) -> None:
        total = len(keys)
        if self.n >= total:
            self.chosen = None
            self.report.notes.append(f"--sample {self.n}: the dataset has {total} image(s); all kept")
        else:
            self.chosen = set(seeded_order(self.seed, keys)[: self.n].tolist())

    def edit(self, items: list) -> list:
        first, self.seen = self.seen, self.seen + len(items)
        if self.chosen is None:
            return items
        out = []
        for k, item in enumerate(items, first):
            if k in self.chosen:
                out.append(item)
            else:
                self.report.add("E006", f"image {brief(item.file_name)} left out with its "
                                f"{len(item.annotations)} annotation(s)", item_id=item.id)
        return out

    def end(self) -> EditReport:
        return self.report


@dataclass(frozen=True)
class Sample(Stepped):
    """Keep ``n`` images chosen by ``seed``.

    Parameters
    ----------
    n : int
        How many images to keep (``>= 0``).
    seed : int, default 0
        The same seed keeps the same images of the same dataset.
    """

    n: int
    seed: int = 0

    def step(self) -> Step:
        return _Sample(self.n, self.seed)
