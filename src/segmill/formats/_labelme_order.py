"""The LabelMe write report in the order the reader finds the files, whatever order the items are written in.

The LabelMe reader takes the JSON files in sorted path order, numbers the
annotations 1, 2, ... across them and the categories by first appearance,
so what a re-read gives back (and the order of the report's losses and
notes) follows the sorted paths, not the order the items come in (a
stream's). Each item is written as it comes, into a report of its own;
:class:`ReadingOrder` keeps those reports (the losses and notes the whole
report holds anyway), and of each item only its JSON path, its id, the
category names it shows and where its annotation ids go (a run of
consecutive ids in one place, as most sources number them, is one entry),
then puts them together in reading order: the categories' loss (L402)
first, then each item's losses with the annotation ids a re-read gives
(L407) in their places.
"""

from __future__ import annotations

from pathlib import Path

from ..losses import WriteReport
from ._labelme_losses import category_changes, dataset_losses, id_loss, item_names

__all__ = ["ReadingOrder"]


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def runs(marks) -> list:
    """``[(loss position, first annotation id, count)]`` of ``marks`` ``[(loss position, annotation id)]``.

    Consecutive integer ids at one loss position make one run; any other id
    is a run of its own.
    """
    out: list = []
    for pos, aid in marks:
        if out and _int(aid) and out[-1][0] == pos and _int(out[-1][1]) and aid == out[-1][1] + out[-1][2]:
            out[-1] = (pos, out[-1][1], out[-1][2] + 1)
        else:
            out.append((pos, aid, 1))
    return out


def with_ids(losses: list, item_id, id_runs: list, offset: int) -> list:
    """``losses`` with the L407 of each annotation in its place, the item's annotations read back from ``offset + 1``."""
    out, prev = [], 0
    for pos, first, n in id_runs:
        out += losses[prev:pos]
        prev = pos
        if not (_int(first) and first == offset + 1):  # a run read back as it is numbered loses nothing
            for k in range(n):
                loss = id_loss(item_id, first + k if n > 1 else first, offset + k + 1)
                if loss is not None:
                    out.append(loss)
        offset += n
    return out + losses[prev:]


class ReadingOrder:
    """Items' reports put together in the LabelMe reader's order (see the module docs).

    Parameters
    ----------
    dataset : Dataset
        The dataset (or a stream's header): its categories and meta.
    report : WriteReport
        The write's report: the items' counts go to it as they are added,
        their losses and notes at :meth:`finish`.
    """

    def __init__(self, dataset, report: WriteReport):
        self.dataset, self.report = dataset, report
        self.cats = dataset.category_by_id() if not dataset.meta.get("labelme_labels") else None
        self.entries: list = []

    def add(self, item, place, report: WriteReport, marks: list) -> None:
        """One item written with ``report`` (its own) at ``place``; ``marks`` ``[(loss position, annotation
        id)]``: where the L407 of each annotation written goes among the item's losses, in file order."""
        names = item_names(item, self.cats) if self.cats is not None else ()
        self.entries.append((place.json, item.id, names, runs(marks), report.losses or None, report.notes or None))
        self.report.items += report.items
        self.report.annotations += report.annotations
        self.report.files += report.files

    def finish(self, first_notes=()) -> None:
        """The losses and notes of every item, in reading order, after the dataset's own and ``first_notes``."""
        report = self.report
        entries = sorted(self.entries, key=lambda e: Path(*e[0]))
        self.entries = []
        changed = category_changes(self.dataset, (e[2] for e in entries))
        if changed:
            report.lose("L402", changed)
        dataset_losses(self.dataset, report)
        report.notes.extend(first_notes)
        offset = 0
        for _, item_id, _, id_runs, losses, notes in entries:
            report.losses += with_ids(losses or [], item_id, id_runs, offset)
            report.notes += notes or []
            offset += sum(n for _, _, n in id_runs)
