"""What a writer could not carry into its target format: loss codes and the write report.

Every loss has a code ``L`` + 3 digits. ``L0xx`` are generic (any writer)
and ``L7xx`` belong to the representation bridges (tracing, splitting,
composing); every format owns a block of its own (COCO ``L1xx``, VOC and
mask folders ``L2xx``, ...), chosen free when the format is added: the
owners are recorded at registration (:func:`owners`) and
``docs/formats.md``'s tables of codes per format are generated from them.

A format module declares its codes with :func:`register_codes`; ``segmill
convert`` prints each code with its description and count.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._coded import entry_text
from ._entries import Entries
from ._fields import fields_dict
from .formats import formats

_CODES: dict[str, str] = {
    "L001": "an attribute or field the target format has no place for was dropped",
    "L002": "an annotation whose geometry kind the target format cannot hold was dropped",
    "L003": "an annotation without a category was dropped",
    "L004": "a category the target format cannot express was dropped or renamed",
    "L005": "an image without a known size was written without its annotations' pixels",
}


_OWNERS: dict[str, str] = dict.fromkeys(_CODES, __name__)

#: What a loss may change in the data a reader gives back: a reported code of
#: the kind explains that change (the round-trip property over every reader
#: and writer pair checks each change is explained).
CHANGE_KINDS = ("images", "classes", "pixels", "instance classes", "crowd")
_CHANGES: dict[str, frozenset] = {
    "L002": frozenset({"pixels"}),
    "L003": frozenset({"pixels"}),
    "L005": frozenset({"pixels"}),
}


def register_codes(codes: dict[str, str], *, changes: dict[str, tuple] | None = None) -> None:
    """Declare loss codes (``{"L301": "holes dropped", ...}``); a code may not change meaning.

    The calling module is recorded as the codes' owner (:func:`owners`), which
    is how the generated docs list each format's codes.

    Parameters
    ----------
    codes : dict
        ``{code: one-line description}``.
    changes : dict, optional
        ``{kind: codes}``: which of ``codes`` may change what a reader gives
        back, by kind (:data:`CHANGE_KINDS`); a code of no kind changes only
        fields outside pixels, classes, crowd flags and the image set.
    """
    owner = sys._getframe(1).f_globals.get("__name__", "?")
    for kind, listed in (changes or {}).items():
        if kind not in CHANGE_KINDS or not set(listed) <= set(codes):
            raise ValueError(f"changes: {kind!r} must be one of {CHANGE_KINDS} and list codes declared here")
        for code in listed:
            _CHANGES[code] = _CHANGES.get(code, frozenset()) | {kind}
    for code, text in codes.items():
        if len(code) != 4 or code[0] != "L" or not code[1:].isdigit():
            raise ValueError(f"loss code {code!r} is not 'L' + 3 digits")
        old = _CODES.get(code)
        if old is not None and old != text:
            raise ValueError(f"loss code {code} already means {old!r}")
        _CODES[code] = text
        _OWNERS.setdefault(code, owner)


def owners() -> dict[str, str]:
    """Every declared loss code with the module that declared it (after :func:`all_codes`)."""
    all_codes()
    return dict(sorted(_OWNERS.items()))


def changes_of(code: str) -> frozenset:
    """The kinds of change (:data:`CHANGE_KINDS`) loss ``code`` may explain (after :func:`all_codes`)."""
    all_codes()
    return _CHANGES.get(code, frozenset())


def describe(code: str) -> str:
    """The one-line description of a loss code, whichever modules have been imported so far."""
    text = _CODES.get(code)
    if text is None:  # declared by a module not imported yet: load the whole catalogue once
        text = all_codes().get(code, "(undocumented loss code)")
    return text


#: Modules besides the format modules that declare loss codes when imported.
#: Formats and bridges load lazily, so :func:`all_codes` imports them first.
CODE_MODULES = ("segmill.bridges.compose",)


def all_codes() -> dict[str, str]:
    """Every declared loss code with its description.

    Imports every format module (through the registry) and every module in
    :data:`CODE_MODULES` first, so the catalogue is complete even when those
    modules have not been used yet.
    """
    formats()
    for name in CODE_MODULES:
        importlib.import_module(name)
    return dict(sorted(_CODES.items()))


class Loss(NamedTuple):
    """One thing a writer could not carry (immutable; cheap to make a million of).

    Parameters
    ----------
    code : str
        ``L`` + 3 digits, see the module docs.
    message : str
        What exactly was lost.
    item_id, annotation_id : int or str, optional
        Where.
    """

    code: str
    message: str
    item_id: Any = None
    annotation_id: Any = None

    __str__ = entry_text


@dataclass
class WriteReport:
    """What a writer did: where, in what format, and every loss.

    Attributes
    ----------
    path : str
    format : str
    losses : Entries of Loss
        A list that keeps at most a run of them in memory (see
        :mod:`segmill._entries`): a streamed conversion can lose something
        of every annotation.
    items, annotations : int
        How many images and annotations were written.
    files : int
        How many files were written.
    notes : list of str
        Facts worth telling the user that are not losses (e.g. "instances
        split with 8-connectivity").
    """

    path: str = ""
    format: str = ""
    losses: Entries = field(default_factory=Entries)
    items: int = 0
    annotations: int = 0
    files: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not isinstance(self.losses, Entries):
            self.losses = Entries(self.losses)

    def lose(self, code: str, message: str, item_id: Any = None, annotation_id: Any = None) -> None:
        """Record one loss."""
        self.losses.append(Loss(code, message, item_id, annotation_id))

    def extend(self, other: "WriteReport") -> None:
        """Add another report's losses and notes (for multi-step conversions)."""
        self.losses.extend(other.losses)
        self.notes.extend(other.notes)

    @property
    def lossless(self) -> bool:
        return not self.losses

    def summary(self) -> dict[str, int]:
        """Count of losses per code, sorted by code."""
        return self.losses.counts()

    def to_dict(self) -> dict[str, Any]:
        return {
            **fields_dict(self, ("path", "format", "items", "annotations", "files", "lossless")),
            "summary": {c: {"count": n, "description": describe(c)} for c, n in self.summary().items()},
            "losses": [
                {"code": l.code, "message": l.message, "image_id": l.item_id, "annotation_id": l.annotation_id}
                for l in self.losses
            ],
            "notes": list(self.notes),
        }
