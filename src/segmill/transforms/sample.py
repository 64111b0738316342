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
from ..model import Dataset
from ..validate import brief
from .base import derive
from .report import EditReport
from .stable import checked_seed, seeded_order

__all__ = ["Sample"]


@dataclass(frozen=True)
class Sample:
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

    def apply(self, dataset: Dataset) -> tuple[Dataset, EditReport]:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise UsageError(f"the sample size must be an integer >= 0, got {brief(self.n)}")
        seed = checked_seed(self.seed)
        report = EditReport()
        total = len(dataset.items)
        if self.n >= total:
            report.notes.append(f"--sample {self.n}: the dataset has {total} image(s); all kept")
            return derive(dataset), report
        chosen = set(seeded_order(seed, [i.id for i in dataset.items])[: self.n])
        items = []
        for k, item in enumerate(dataset.items):
            if k in chosen:
                items.append(item)
            else:
                report.add("E006", f"image {brief(item.file_name)} left out with its {len(item.annotations)} "
                           "annotation(s)", item_id=item.id)
        return derive(dataset, items=items), report
