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

A *selection* (:mod:`segmill.formats._file_runs`, from :func:`shards`) is a
run of the files. The header is the whole read's, so the first pass reads
every file: :func:`shards` makes it once, on the driver, noting the facts and
the dropped files where each run starts and stops, and puts in each
selection what its part needs (a :class:`FirstPass`: the header's facts, the
facts before the run and after it, the run's drops, or the error that
stopped the pass before the run), so that a part reads its own files only.
The second pass reads the run, its run resumed from the facts of the files
before it (a file may be refused for what an earlier one holds: a name, a
segment), annotation ids from the selection's first id. Its facts must then
be the first pass's where the run stops, the files it drops those the first
pass dropped in the run (the only ones its header lists). A run the first
pass never reached (an error before it) raises that error. A selection
without a first pass (made by hand) has its part make the pass itself. A run needs one more method:

``resume(facts, first_id)``
    Start from ``facts`` (those of the files before the run, a copy) and
    number annotations from ``first_id`` (the header is finished from a
    run resumed from the facts of every file).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import InputError, LimitError, SegmillError
from ..model import Dataset, Item
from ..validate import ErrorPolicy
from ._file_runs import first_annotation_id, header_of, raising, runs, size_of, with_headers
from ._perfile_stream import UniqueIds, validated

__all__ = ["FirstPass", "each_volume", "first_passes", "read_run", "shards", "stream_run"]


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


def stream_run(new_run: Callable, ds: Dataset, errors: str, folder,
               selection: dict | None = None) -> tuple[Dataset, Iterator[Item]]:
    """``(header, items)`` of :func:`read_run`'s dataset: a first pass for the header, then the items (module docs).

    Parameters
    ----------
    new_run : callable
        ``new_run()``: a fresh run of the files (one per pass).
    ds : Dataset
        The header so far (the meta known before any file is read).
    errors : {"raise", "skip", "keep"}
        The files the first pass drops are listed in the header's
        ``meta["skipped"]`` before the first item (those of the selection's
        run only, with one).
    folder : path
        What the whole read validates against.
    selection : dict, optional
        One part of :func:`shards`: the items of that run of files only,
        after the first pass the selection carries (made here without one).
    """
    policy, run = ErrorPolicy.of(errors), new_run()
    start, stop = (0, len(run.files)) if selection is None else (selection["start"], selection["stop"])
    first = header_of(selection, lambda: first_passes(new_run, errors, [(start, stop)])[0])
    if not policy.raising:
        ds.meta["skipped"] = list(first.skipped)
    run.resume(copy.deepcopy(first.whole), 1)
    run.finish(ds)
    if first.start is None:  # the first pass stopped before the run: the whole read stops there
        return ds, raising(first.error)
    run = new_run()
    run.resume(copy.deepcopy(first.start), first_annotation_id(selection))
    items = _second(run, run.files[start:stop], first.stop, policy, list(first.skipped), folder)
    return ds, UniqueIds(items if policy.keeping else validated(items, ds.categories, folder))


@dataclass(frozen=True)
class FirstPass:
    """What one run of the files needs of the first pass over every file (picklable, in its selection).

    Attributes
    ----------
    whole : object
        The facts of the whole pass: the header's.
    start : object or None
        The facts of the files before the run; ``None`` when the pass
        stopped before the run.
    stop : object
        The facts of the files up to the run's end (up to where the pass
        stopped, in the run): what its second pass must find.
    skipped : list of dict
        The records of the files of the run the pass dropped (of every file
        it read, for a run it never reached, as the whole read lists them).
    error : SegmillError or None
        What stopped the pass before the run.
    """

    whole: object
    start: object
    stop: object
    skipped: list
    error: SegmillError | None = None


def first_passes(new_run: Callable, errors: str, bounds: list[tuple[int, int]]) -> list[FirstPass]:
    """One first pass of :meth:`first` over every file, and what each run ``(start, stop)`` of ``bounds`` needs
    of it."""
    first, policy = new_run(), ErrorPolicy.of(errors)
    policy.skipped = []
    cuts = {k for run in bounds for k in run}
    marks: dict = {}

    def mark(k: int) -> None:  # the facts and the drops of the files before the k-th
        if k in cuts and k not in marks:
            marks[k] = copy.deepcopy(first.facts()), len(policy.skipped)

    error = None
    try:
        for _ in each_volume(_marked(first.files, mark), first.first, policy):
            pass
    except SegmillError as exc:
        error = exc  # the second pass raises it where the read raises it, after the items before it
    end = first.facts(), len(policy.skipped)
    return [_cut(marks, end, policy.skipped, error, a, b) for a, b in bounds]


def _cut(marks: dict, end: tuple, skipped: list, error, start: int, stop: int) -> FirstPass:
    """The :class:`FirstPass` of the run ``start:stop``: ``marks`` ``{k: (facts, drops)}`` before the k-th file,
    ``end`` where the pass ended."""
    if start not in marks:
        return FirstPass(end[0], None, end[0], list(skipped), error)
    (before, k), (after, j) = marks[start], marks.get(stop, end)
    return FirstPass(end[0], before, after, skipped[k:j])


def shards(new_run: Callable, n: int, errors: str) -> list[dict]:
    """At most ``n`` selections of :func:`stream_run`: runs of the files of about equal bytes, each with what it
    needs of the first pass, made here once (:class:`FirstPass`).

    Annotation ids run across the whole dataset: a part numbers from 1 and
    a sharded run renumbers.
    """
    sels = runs([size_of(f) for f in new_run().files], n)
    return with_headers(sels, first_passes(new_run, errors, [(s["start"], s["stop"]) for s in sels]))


def _marked(files, mark: Callable) -> Iterator:
    """``files`` in turn, ``mark(k)`` called before the k-th is given (and ``mark(len(files))`` at the end)."""
    for k, f in enumerate(files):
        mark(k)
        yield f
    mark(len(files))


def _second(run, files, expected, policy: ErrorPolicy, skipped: list, folder) -> Iterator[Item]:
    """The items of ``files`` read by ``run``, file by file; its facts and the files it drops must be the first
    pass's."""
    for items in each_volume(files, run.volume, policy):
        yield from items
    if run.facts() != expected or policy.skipped != skipped:
        raise InputError("the volume files changed while they were read", folder)
