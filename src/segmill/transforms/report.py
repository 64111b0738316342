"""What the transforms did: one :class:`Edit` per change, gathered in an :class:`EditReport`."""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from typing import Any, Iterator, NamedTuple

from .._coded import entry_text
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

    Past :data:`SPILL_EDITS` edits, the older ones wait in an unnamed
    temporary file (pickled in runs), so a streamed edit of a big dataset
    keeps a run of edits in memory, not all of them; the counts are kept as
    they come. Reading :attr:`edits` (or :meth:`to_dict`) reads them all back.

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
        self._tail: list[Edit] = []
        self._spill = None
        self._counts: Counter = Counter()
        self.notes: list[str] = list(notes)
        for e in edits:
            self._append(Edit(*e))

    def __repr__(self) -> str:
        return f"EditReport({sum(self._counts.values())} edits, {len(self.notes)} notes)"

    def __eq__(self, other):
        if not isinstance(other, EditReport):
            return NotImplemented
        return self.edits == other.edits and self.notes == other.notes

    __hash__ = None

    def add(self, code: str, message: str, *, item_id: Any = None, annotation_id: Any = None,
            category_id: Any = None) -> None:
        """Record one edit (``code`` must be in the table)."""
        if code not in EDIT_CODES:
            raise ValueError(f"edit code {code!r} is not declared in segmill.transforms.codes")
        self._append(Edit(code, message, item_id, annotation_id, category_id))

    def _append(self, edit: Edit) -> None:
        self._tail.append(edit)
        self._counts[edit.code] += 1
        if len(self._tail) >= SPILL_EDITS:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile()
            self._spill.seek(0, 2)
            pickle.dump(self._tail, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
            self._tail = []

    def __iter__(self) -> Iterator[Edit]:
        """The edits in order, the spilled ones read back a run at a time."""
        if self._spill is not None:
            self._spill.flush()
            end = self._spill.seek(0, 2)
            at = 0
            while at < end:
                self._spill.seek(at)
                run = pickle.load(self._spill)
                at = self._spill.tell()
                yield from run
        yield from list(self._tail)

    @property
    def edits(self) -> list[Edit]:
        """Every edit, in order (a new list)."""
        return list(self)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def extend(self, other: "EditReport") -> None:
        """Append another report's edits and notes."""
        for e in other:
            self._append(e)
        self.notes.extend(other.notes)

    def summary(self) -> dict[str, int]:
        """Count of edits per code, sorted by code."""
        return {c: self._counts[c] for c in sorted(self._counts) if self._counts[c]}

    @property
    def drops(self) -> list[Edit]:
        """The edits that removed an annotation, a class or an image."""
        return [e for e in self if is_drop(e.code)] if self.drop_count else []

    @property
    def drop_count(self) -> int:
        """How many edits removed an annotation, a class or an image."""
        return sum(n for c, n in self._counts.items() if is_drop(c))

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


#: Edits a report keeps in memory before it writes them to its temporary file.
SPILL_EDITS = 50_000
