"""Volume files read one at a time: the loop ``read`` and ``stream`` share (NIfTI, NRRD, DICOM SEG).

A format gives a *run* (one read of its files, made fresh for each pass),
with:

``files``
    The volume files, in reading order.
``volume(f) -> list of Item``
    The slice items of one file (its volume, then its slices, in memory
    alone), its facts added to the run's: what the categories and the meta
    come from (label values, segments, notes, the names seen).
``first(f)``
    The facts of one file alone, as :meth:`volume` adds them, made as
    cheaply as the format can (a DICOM SEG's header; a NIfTI or NRRD
    volume's label values, which needs its voxels). It makes no check
    :meth:`volume` does not make, in the same order: where it refuses a
    file, :meth:`volume` refuses it too.
``facts() -> object``
    The facts gathered, comparable with ``==``.
``finish(ds)``
    The categories and the meta of the facts, put into ``ds``.

:func:`read_run` reads the files whole (``read``). :func:`stream_run` makes
a first pass of :meth:`first` over every file, one at a time, for the header
(the categories and meta a whole read gives, before the first item), then
yields the items of :meth:`volume`, file by file: memory holds one volume and
the facts (a set of label values, the names). A file the first pass refuses
stops it: the second pass raises that error there (or one before it), after
the items before it. The second pass's facts must be the first one's (else
the files changed between the passes: refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import InputError, LimitError, SegmillError
from ..model import Dataset, Item
from ..validate import ErrorPolicy
from ._perfile_stream import UniqueIds, validated

__all__ = ["each_volume", "read_run", "stream_run"]


def each_volume(files, read_one: Callable, policy: ErrorPolicy) -> Iterator:
    """What ``read_one(f)`` gives for each file; a file it refuses is dropped under ``policy``
    (raised under ``raise``; a :class:`~segmill.errors.LimitError` is raised in every mode)."""
    for f in files:
        try:
            out = read_one(f)
        except InputError as exc:
            if isinstance(exc, LimitError):
                raise
            policy.drop(exc)
            continue
        yield out


def read_run(run, ds: Dataset, policy: ErrorPolicy, folder) -> Dataset:
    """``ds`` with every item of ``run``, its categories and meta, validated unless ``keep`` (the whole read)."""
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    for items in each_volume(run.files, run.volume, policy):
        ds.items.extend(items)
    run.finish(ds)
    if not policy.keeping:
        ds.validate(folder)
    return ds


def stream_run(new_run: Callable, ds: Dataset, errors: str, folder) -> tuple[Dataset, Iterator[Item]]:
    """``(header, items)`` of :func:`read_run`'s dataset: a first pass for the header, then the items (module docs).

    Parameters
    ----------
    new_run : callable
        ``new_run()``: a fresh run of the files (one per pass).
    ds : Dataset
        The header so far (the meta known before any file is read).
    errors : {"raise", "skip", "keep"}
        The files the first pass drops are listed in the header's
        ``meta["skipped"]`` before the first item.
    folder : path
        What the whole read validates against.
    """
    first, policy = new_run(), ErrorPolicy.of(errors)
    if not policy.raising:
        policy.skipped = ds.meta.setdefault("skipped", [])
    try:
        for _ in each_volume(first.files, first.first, policy):
            pass
    except SegmillError:
        pass  # the second pass raises it where the read raises it, after the items before it
    first.finish(ds)
    items = _second(new_run(), first.facts(), ErrorPolicy.of(errors), list(policy.skipped), folder)
    return ds, UniqueIds(items if policy.keeping else validated(items, ds.categories, folder))


def _second(run, expected, policy: ErrorPolicy, skipped: list, folder) -> Iterator[Item]:
    """The items of ``run``, file by file; its facts and the files it drops must be the first pass's."""
    for items in each_volume(run.files, run.volume, policy):
        yield from items
    if run.facts() != expected or policy.skipped != skipped:
        raise InputError("the volume files changed while they were read", folder)
