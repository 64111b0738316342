"""What the transforms did: one :class:`Edit` per change, gathered in an :class:`EditReport`."""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from .._coded import entry_text
from .._entries import Entries
from .codes import EDIT_CODES, describe_edit, is_drop

__all__ = ["Edit", "EditReport"]


class Edit(NamedTuple):
    """One change a transform made (immutable, cheap to make a million of).

    Parameters
    ----------
    code : str
        ``E`` + 3 digits, a key of :data:`~segmill.transforms.codes.EDIT_CODES`.
    message : str
        What exactly changed.
    item_id, annotation_id, category_id : int or str, optional
        Where.
    """

    code: str
    message: str
    item_id: Any = None
    annotation_id: Any = None
    category_id: Any = None

    __str__ = entry_text


class EditReport:
    """Every edit of one or more transforms, in the order they were made.

    The edits are kept in an :class:`~segmill._entries.Entries` (at most a
    run of them in memory, the older ones in a temporary file, read back
    in order), so a streamed edit of a big dataset does not hold them all;
    the counts are kept as they come.

    Parameters
    ----------
    edits : iterable of Edit, optional
    notes : iterable of str, optional

    Attributes
    ----------
    notes : list of str
        Facts worth telling that are not edits ("all 3 images kept: the
        sample asked for 10").
    """

    def __init__(self, edits=(), notes=()):
        self._edits = Entries(Edit(*e) for e in edits)
        self.notes: list[str] = list(notes)

    def __repr__(self) -> str:
        return f"EditReport({len(self)} edits, {len(self.notes)} notes)"

    def __eq__(self, other):
        if not isinstance(other, EditReport):
            return NotImplemented
        return self._edits == other._edits and self.notes == other.notes

    __hash__ = None

    def add(self, code: str, message: str, *, item_id: Any = None, annotation_id: Any = None,
            category_id: Any = None) -> None:
        """Record one edit (``code`` must be in the table)."""
        if code not in EDIT_CODES:
            raise ValueError(f"edit code {code!r} is not declared in segmill.transforms.codes")
        self._edits.append(Edit(code, message, item_id, annotation_id, category_id))

    def __iter__(self) -> Iterator[Edit]:
        """The edits in order (the spilled ones read back a run at a time)."""
        return iter(self._edits)

    @property
    def edits(self) -> list[Edit]:
        """Every edit, in order (a new list)."""
        return list(self._edits)

    def __len__(self) -> int:
        return len(self._edits)

    def extend(self, other: "EditReport") -> None:
        """Append another report's edits and notes."""
        self._edits.extend(other)
        self.notes.extend(other.notes)

    def summary(self) -> dict[str, int]:
        """Count of edits per code, sorted by code."""
        return self._edits.counts()

    @property
    def drops(self) -> list[Edit]:
        """The edits that removed an annotation, a class or an image."""
        return [e for e in self if is_drop(e.code)] if self.drop_count else []

    @property
    def drop_count(self) -> int:
        """How many edits removed an annotation, a class or an image."""
        return sum(n for c, n in self._edits.counts().items() if is_drop(c))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``segmill convert --json`` prints it under ``"edits"``)."""
        return {
            "summary": {c: {"count": n, "description": describe_edit(c), "drop": is_drop(c)}
                        for c, n in self.summary().items()},
            "edits": [{"code": e.code, "message": e.message, "image_id": e.item_id,
                       "annotation_id": e.annotation_id, "category_id": e.category_id} for e in self],
            "notes": list(self.notes),
        }

    def lines(self, examples: int = 5) -> list[str]:
        """The report as text: one line per code with its count and meaning, a few examples, the notes."""
        out = []
        summary = self.summary()
        if summary:
            out.append(f"edits ({len(self)}):")
            shown: dict[str, list] = {c: [] for c in summary}
            for e in self:
                if len(shown[e.code]) < examples:
                    shown[e.code].append(e)
                    if all(len(v) >= min(examples, summary[c]) for c, v in shown.items()):
                        break
            for code, n in summary.items():
                out.append(f"  {code} x{n}  {describe_edit(code)}")
                out.extend(f"    e.g. {e}" for e in shown[code])
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def drop_message(self) -> str:
        """The ``--strict`` refusal: what would be dropped, by code."""
        lines = ["the edits would drop data (strict mode, nothing written):"]
        for code, n in self.summary().items():
            if is_drop(code):
                lines.append(f"  {code} x{n}: {describe_edit(code)}")
        return "\n".join(lines)
