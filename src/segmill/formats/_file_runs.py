"""Parts of a dataset read from many input files: runs of consecutive inputs, for ``FormatSpec.shards``.

A format whose stream reads its inputs (files, image/label pairs, tar
shards) one after another can be cut into parts that workers read apart
(:mod:`segmill.distributed`): part ``k`` is the inputs ``start:stop`` of the
reading order, chosen so the parts hold about equal bytes. A *selection* is
the picklable dict ``{"start", "stop", "first_annotation_id"}``; a stream
given one reads those inputs only, and numbers its annotations from
``first_annotation_id`` (``None``: from 1, and a sharded run renumbers them
as the whole read numbers them, see :func:`segmill.distributed.shards.renumber`).

The parts read in order give the whole read's items, in order, when each
input gives its item (or none) whatever the others hold: the categories
and any dataset-level value must come from the header, which every part
reads whole. What a header needs a pass over every input for (LabelMe's
labels, YOLO's classes, VOC's mask facts; the facts of every volume for
NIfTI, NRRD and DICOM SEG) the driver finds once, in ``shards``, and puts
in every selection (:func:`with_header`): a part then takes it from there
(:func:`header_of`) instead of making the pass again, which would cost each
part as much as the driver. Where a part needs more than the whole's
header (the state the pass was in where its run starts, what the pass
found in its run, for the check that the files did not change), each
selection carries its own (:func:`with_headers`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from itertools import islice, repeat

from ..errors import InputError

__all__ = ["chosen", "file_stamp", "first_annotation_id", "header_of", "raising", "runs", "size_of", "unchanged",
           "with_header", "with_headers"]


def runs(sizes: Sequence[int], n: int) -> list[dict]:
    """At most ``n`` selections: runs of consecutive inputs of about equal total ``sizes`` (bytes).

    Each cut is made at the input boundary nearest a multiple of the total
    over ``n``; there is one part at least (empty when there are no inputs).

    Examples
    --------
    >>> [(s["start"], s["stop"]) for s in runs([10, 10, 10, 10], 2)]
    [(0, 2), (2, 4)]
    """
    total = sum(sizes) or 1
    n = max(1, min(n, len(sizes)))
    out, start, acc = [], 0, 0
    for i, size in enumerate(sizes):
        acc += size
        # cut at the input boundary nearest each n-th of the bytes (the first one past it made uneven parts)
        if len(out) < n - 1 and i + 1 < len(sizes) and (2 * acc + sizes[i + 1]) * n >= 2 * total * (len(out) + 1):
            out.append({"start": start, "stop": i + 1, "first_annotation_id": None})
            start = i + 1
    out.append({"start": start, "stop": len(sizes), "first_annotation_id": None})
    return out


def size_of(f, default: int = 0) -> int:
    """The bytes of the input file ``f`` a run is weighed by: ``default`` without one, or when it cannot be looked
    at (the part holding it says why)."""
    if f is None:
        return default
    try:
        return f.stat().st_size
    except OSError:
        return default


def file_stamp(f) -> tuple[int, int]:
    """``(size, modification time in ns)`` of the file at path (or open descriptor) ``f``: what a first pass
    saw, held to the second (a file changed in between is refused)."""
    st = os.stat(f)
    return st.st_size, st.st_mtime_ns


def unchanged(items: Iterator, seen: Callable, expected, path,
              message: str = "the mask files changed while they were read") -> Iterator:
    """``items``, then an InputError (``message``) when what they said (``seen()``) is not what the first pass
    read: the inputs changed between the passes."""
    yield from items
    if seen() != expected:
        raise InputError(message, path)


def chosen(inputs, selection: dict | None):
    """The inputs a selection names (all of them for ``None``): a slice of a sequence, else an iterator.

    An iterator of inputs (a folder listed as it is walked) is consumed up
    to the selection's stop.
    """
    if selection is None:
        return inputs
    if isinstance(inputs, Sequence):
        return inputs[selection["start"]:selection["stop"]]
    return islice(inputs, selection["start"], selection["stop"])


def first_annotation_id(selection: dict | None) -> int:
    """The id a part's first annotation gets: the selection's, else 1."""
    return (selection or {}).get("first_annotation_id") or 1


def raising(error: Exception):
    """An iterator of no item raising ``error`` when the first one is asked for: the items of a part whose
    run a first pass over the whole dataset never reached (the whole read raises before it)."""
    raise error
    yield


def with_header(selections: list[dict], value) -> list[dict]:
    """``selections``, each carrying ``value`` (picklable) as what a part's header needs from every input."""
    return with_headers(selections, repeat(value))


def with_headers(selections: list[dict], values) -> list[dict]:
    """``selections``, each carrying its own of ``values`` (picklable, in the selections' order): what its
    part's header needs from every input."""
    for sel, value in zip(selections, values):
        sel["header"] = value
    return selections


def header_of(selection: dict | None, compute):
    """What the header needs from every input: the selection's (found once by the driver), else ``compute()``."""
    if selection is not None and "header" in selection:
        return selection["header"]
    return compute()
