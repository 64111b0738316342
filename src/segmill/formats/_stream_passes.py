"""What the streams of folder formats whose header depends on every mask share (image + mask folders, mask folders).

Their header (the mask mode of the dataset, the classes found in the
masks) is known once every mask was seen: a first pass reads it
(:func:`first_pass`), from the PNG headers where they say it
(:func:`decoded_mode`), then the items are read one at a time and what
their masks said is held to what the first pass read (:func:`unchanged`).
The first pass stops at the first mask the read refuses: the read raises
there, or before, so the header is never used. Each reader's item ids are
unique by construction, so the stream keeps no set of them
(:class:`~segmill.formats._perfile_stream.UniqueIds`).

A part of a sharded read (a run of the entries, see
:mod:`segmill.formats._file_runs`) needs the whole's header and, for its
check, what its own run's masks say: the driver finds both for every part
in one pass (:func:`by_run`) and each selection carries its pair, which the
part takes (:func:`whole_and_own`) instead of making the passes itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice

from ..errors import InputError
from ._file_runs import header_of, unchanged
from ._png import read_png
from ._voc_palette import png_header

__all__ = ["by_run", "decoded_mode", "first_pass", "unchanged", "whole_and_own"]

#: The mode :func:`segmill.formats._png.read_png` gives a decoded image, by the mode Pillow opens a PNG in
#: (where it decodes without an error: ``RGBA`` and the others with alpha when fully opaque).
_DECODED_AS = {"RGBA": "RGB", "LA": "L", "PA": "P", "I": "I;16", "1": "L"}


def decoded_mode(path) -> str:
    """The mode :func:`~segmill.formats._png.read_png` gives the image at ``path``, from its header where exact.

    A single-frame PNG keeps on decoding the mode Pillow opens it in
    (tests/test_image_masks_read_stream.py checks each); any other image
    (another type, an animated PNG) is decoded, as the read decodes it.

    Raises
    ------
    segmill.errors.InputError
        Where the read of the image refuses it (:func:`png_header
        <segmill.formats._voc_palette.png_header>`, then the decode).
    """
    with png_header(path) as im:
        if im is not None:
            return _DECODED_AS.get(im.mode, im.mode)
    return read_png(path).mode


def first_pass(entries: Iterable, facts: Callable) -> bool:
    """``facts(entry)`` for each entry in turn, until the first one the read refuses (an InputError, from
    ``facts`` or from listing the entries); whether it stopped there."""
    try:
        for entry in entries:
            facts(entry)
    except InputError:
        return True
    return False


def by_run(entries: Iterable, selections: list[dict], first: Callable, merge: Callable) -> list[tuple]:
    """``(whole, own)`` of each selection (runs of ``entries`` one after another from the first), in one pass.

    ``first(entries)`` gives ``(found, stopped)``, what a first pass finds
    over ``entries`` and whether it stopped at one the read refuses
    (:func:`first_pass`). ``own`` is what it finds over the selection's run,
    as the part's own pass would; ``whole`` what it finds over every entry:
    the runs' findings merged (``merge(a, b)``) up to the first run where it
    stopped, as the whole pass stops there.
    """
    found, whole, done = [], None, False
    it = iter(entries)
    for sel in selections:
        run = islice(it, sel["stop"] - sel["start"])
        own, stopped = first(run)
        deque(run, maxlen=0)  # the run's entries after a refused one
        found.append(own)
        if not done:
            whole, done = own if whole is None else merge(whole, own), stopped
    return [(whole, own) for own in found]


def whole_and_own(selection: dict | None, first: Callable, entries: Iterable, part: Iterable) -> tuple:
    """``(whole, own)`` of a part (:func:`by_run`): its selection's, else found here by ``first`` over
    ``entries`` and over ``part`` (the selection's run of them; ``own`` is ``whole`` without a selection)."""
    def found():
        whole = first(entries)[0]
        return whole, whole if selection is None else first(part)[0]

    return header_of(selection, found)


