"""The edit codes: one table of what a transform may change, drop or assign.

Every change a transform makes to a dataset is reported with a code ``E`` +
3 digits (``E`` for "edit"), the way writers report losses with ``L`` codes
(:mod:`segmill.losses`). A code never changes meaning and is never reused.
A code marked ``drop`` removes something (an annotation, a class or an
image): ``segmill convert --strict`` refuses to write when any such edit is
made. Renames, merges and split assignment are not drops.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["EditCode", "EDIT_CODES", "describe_edit", "is_drop"]


class EditCode(NamedTuple):
    """One entry of :data:`EDIT_CODES`.

    Parameters
    ----------
    meaning : str
        One line: what an edit with this code did.
    drop : bool
        Whether it removes an annotation, a class or an image.
    """

    meaning: str
    drop: bool


#: Every edit code, in code order. docs/editing.md lists the same table (a test compares them).
EDIT_CODES: dict[str, EditCode] = {
    "E001": EditCode("class renamed (its id and its annotations kept)", False),
    "E002": EditCode("class merged into another (its annotations moved there, the class removed)", False),
    "E003": EditCode("annotation dropped by --keep-class / --drop-class", True),
    "E004": EditCode("annotation dropped: its pixel area is below --min-area", True),
    "E005": EditCode("crowd annotation dropped (--drop-crowd)", True),
    "E006": EditCode("image left out by --sample", True),
    "E007": EditCode("class removed by --keep-class / --drop-class", True),
    "E010": EditCode("images assigned to splits (--split; one entry for the whole dataset)", False),
}


def describe_edit(code: str) -> str:
    """The one-line meaning of an edit code (``"(unknown edit code)"`` for one not in the table)."""
    entry = EDIT_CODES.get(code)
    return entry.meaning if entry is not None else "(unknown edit code)"


def is_drop(code: str) -> bool:
    """Whether edits with ``code`` remove data (what ``--strict`` refuses)."""
    entry = EDIT_CODES.get(code)
    return entry is not None and entry.drop
