"""Transforms on a stream: the same :class:`~segmill.transforms.base.Step` objects, fed a stream's batches.

:func:`edit_stream` gives what :func:`segmill.write_stream` writes: the
items of a :class:`~segmill.streaming.Stream` after every edit, with the
header the edits make, in the memory of the stream (a batch of items, and
the edit report). The items and the report are those
:func:`~segmill.transforms.apply_all` gives for the whole dataset read at
once (``tests/test_edit_stream.py`` compares the bytes written).

A step that *selects* (a sample, a split) must know every image before it
edits one, so each such step costs one pass over the source first, with the
steps before it, to learn what it chooses from (each image's id, and its
class set for a stratified split); the source is opened again for every pass
(``open_stream`` is called once per pass). A destination written one file
per split is written one pass per split, each keeping the images of its
split (:attr:`EditedStream.split`).
"""

from __future__ import annotations

from typing import Callable, Sequence

from .._progress import track
from ..budget import scaled
from ..model import Dataset
from ..streaming import Stream, batched
from .base import Step, derive
from .report import EditReport

__all__ = ["EditedStream", "edit_stream", "BATCH"]

#: Items edited together (a minimum-area step rasterizes them in one call).
BATCH = 1000


class EditedStream:
    """The items of ``source`` after ``steps`` (begun, and decided where they select), with their ``header``.

    Parameters
    ----------
    source : Stream
    steps : list of Step
    header : Dataset
        The header after every step's :meth:`~Step.begin`.
    on_end : callable
        Called with the :class:`EditReport` of the steps once the last item
        is out; what it raises (``--strict`` refusing a drop) ends the stream.
    split : str, optional
        Only the images of this split come out.
    """

    item_order = False

    def __init__(self, source: Stream, steps: list[Step], header: Dataset, on_end: Callable, split=None):
        self.source, self.steps, self.header, self.on_end, self.split = source, steps, header, on_end, split
        self.path, self.bounded = source.path, source.bounded
        self._positions: dict = {}

    @property
    def annotation_total(self):
        """As :attr:`Stream.annotation_total`: the source file's count."""
        return self.source.annotation_total

    @property
    def annotation_positions(self):
        """As :attr:`Stream.annotation_positions`, for the items and annotations that come out."""
        return None if self.source.annotation_positions is None else self._positions.__getitem__

    def __iter__(self):
        positions = self.source.annotation_positions
        out = first = 0
        for batch in self.source.batches(scaled(BATCH, 16)):
            where = _places(batch, first) if positions is not None else None
            first += len(batch)
            for st in self.steps:
                batch = st.edit(batch)
            self._positions.clear()
            for item in batch:
                if self.split is not None and item.split != self.split:
                    continue
                if where is not None:
                    k, at = where[item.id]
                    self._positions[out] = positions(k)[[at[a.id] for a in item.annotations]]
                yield item
                out += 1
        report = EditReport()
        for st in self.steps:
            report.extend(st.end())
        self.on_end(report)


def _places(batch: list, first: int) -> dict:
    """``{item id: (its index in the source, {annotation id: its index in the item})}``."""
    out = {}
    for k, item in enumerate(batch, first):
        at = {a.id: i for i, a in enumerate(item.annotations)}
        if len(at) != len(item.annotations):  # the readers that stream positions refuse repeated ids
            raise AssertionError(f"image id {item.id!r}: annotation ids repeat in a positioned stream")
        out[item.id] = (k, at)
    return out


def _begun(steps: list[Step], header: Dataset, keys: dict) -> Dataset:
    """Begin ``steps`` in order on ``header`` (deciding those that select with their ``keys``); the last header."""
    for j, st in enumerate(steps):
        categories = st.begin(header)
        if categories is not None:
            header = derive(header, categories=categories)
        if st.selects:
            st.decide(keys[j])
    return header


def edit_stream(transforms: Sequence, open_stream: Callable[[], Stream], on_end: Callable,
                by_split: bool = False):
    """The edited stream of ``transforms`` over the source ``open_stream`` opens (see the module docs).

    Parameters
    ----------
    transforms : sequence of Transform
        Each with ``step()``; else ``None`` is returned (read whole).
    open_stream : callable
        Opens the source again, the same items in the same order.
    on_end : callable
        ``on_end(report)`` once the edited items are used up (see :class:`EditedStream`).
    by_split : bool, default False
        One edited stream per split, for a destination written one file per
        split; ``None`` when the splits are not known before the items are
        (no split step, or a sample after the last one).

    Returns
    -------
    callable, list of (str, callable), or None
        ``make() -> EditedStream``; with ``by_split``, ``(split name, make)``
        pairs in the order the splits' first images come; ``None`` when the
        edits cannot stream.
    """
    if not all(hasattr(t, "step") for t in transforms):
        return None
    if not transforms and not by_split:
        return open_stream  # nothing to edit: the source as it streams
    keys: dict[int, list] = {}
    selecting = [j for j, t in enumerate(transforms) if t.step().selects]
    if by_split and not (selecting and _splits(transforms[selecting[-1]])):
        return None
    for j in selecting:
        keys[j] = _keys_of(transforms, j, open_stream(), keys)

    def make(split=None) -> EditedStream:
        source = open_stream()
        steps = [t.step() for t in transforms]
        return EditedStream(source, steps, _begun(steps, source.header, keys), on_end, split)

    if not by_split:
        return make
    j = selecting[-1]
    last = transforms[j].step()
    last.begin(Dataset())
    last.decide(keys[j])
    names = list(dict.fromkeys(last.split_of(k) for k in range(len(keys[j]))))
    return [(name, lambda name=name: make(name)) for name in names]


def _splits(transform) -> bool:
    """Whether ``transform`` assigns splits (its step says which split each image it decided on has)."""
    return hasattr(transform.step(), "split_of")


def _keys_of(transforms, j: int, source: Stream, keys: dict) -> list:
    """What the ``j``-th (selecting) step is to decide with: one pass of ``source`` through the steps before it."""
    steps = [t.step() for t in transforms[:j]]
    header = _begun(steps, source.header, keys)
    probe = transforms[j].step()
    probe.begin(header)
    out = probe.new_keys()
    what = type(transforms[j]).__name__.lower()
    for batch in batched(track(source, desc=f"reading the images the {what} chooses from"),
                         scaled(BATCH, 16)):
        for st in steps:
            batch = st.edit(batch)
        out.extend(probe.key(it) for it in batch)
    return out
