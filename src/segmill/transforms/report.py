"""What the transforms did: one :class:`Edit` per change, gathered in an :class:`EditReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._coded import count_codes, entry_text
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


@dataclass
class EditReport:
    """Every edit of one or more transforms, in the order they were made.

    Attributes
    ----------
    edits : list of Edit
    notes : list of str
        Facts worth telling that are not edits ("all 3 images kept: the
        sample asked for 10").
    """

    edits: list[Edit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, code: str, message: str, *, item_id: Any = None, annotation_id: Any = None,
            category_id: Any = None) -> None:
        """Record one edit (``code`` must be in the table)."""
        if code not in EDIT_CODES:
            raise ValueError(f"edit code {code!r} is not declared in segmill.transforms.codes")
        self.edits.append(Edit(code, message, item_id, annotation_id, category_id))

    def extend(self, other: "EditReport") -> None:
        """Append another report's edits and notes."""
        self.edits.extend(other.edits)
        self.notes.extend(other.notes)

    def summary(self) -> dict[str, int]:
        """Count of edits per code, sorted by code."""
        return count_codes(self.edits)

    @property
    def drops(self) -> list[Edit]:
        """The edits that removed an annotation, a class or an image."""
        return [e for e in self.edits if is_drop(e.code)]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``segmill convert --json`` prints it under ``"edits"``)."""
        return {
            "summary": {c: {"count": n, "description": describe_edit(c), "drop": is_drop(c)}
                        for c, n in self.summary().items()},
            "edits": [{"code": e.code, "message": e.message, "image_id": e.item_id,
                       "annotation_id": e.annotation_id, "category_id": e.category_id} for e in self.edits],
            "notes": list(self.notes),
        }

    def lines(self, examples: int = 5) -> list[str]:
        """The report as text: one line per code with its count and meaning, a few examples, the notes."""
        out = []
        summary = self.summary()
        if summary:
            out.append(f"edits ({len(self.edits)}):")
            for code, n in summary.items():
                out.append(f"  {code} x{n}  {describe_edit(code)}")
                out.extend(f"    e.g. {e}" for e in [e for e in self.edits if e.code == code][:examples])
        out.extend(f"note: {n}" for n in self.notes)
        return out

    def drop_message(self) -> str:
        """The ``--strict`` refusal: what would be dropped, by code."""
        lines = ["the edits would drop data (strict mode, nothing written):"]
        for code, n in count_codes(self.drops).items():
            lines.append(f"  {code} x{n}: {describe_edit(code)}")
        return "\n".join(lines)
