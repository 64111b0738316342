"""What a merge did: the code table (``M001``...), each note, the id maps and the duplicates found.

Every remap, duplicate and conflict a merge meets is one :class:`Note` with a
code from :data:`CODES`. A code marked as a loss means something of a source
is not in the merged dataset (a value, a distinction, an annotation):
``segmill merge --strict`` fails on those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._coded import count_codes, entry_text
from ..validate import brief

__all__ = ["CODES", "LOSS_CODES", "Note", "Duplicate", "MergeReport", "describe", "named"]

#: code -> (meaning, whether it is a loss). The one table of merge codes; codes are never reused.
CODES: dict[str, tuple[str, bool]] = {
    "M001": ("category id remapped (categories are matched by name)", False),
    "M002": ("image id renumbered: another image of the merged dataset has it", False),
    "M003": ("annotation id renumbered: another annotation of the merged dataset has it", False),
    "M004": ("image found in several sources (same file name): its annotations are unioned", False),
    "M005": ("duplicate annotation across sources (same class and crowd flag, mask IoU at or above the "
             "threshold): both kept", False),
    "M006": ("duplicate annotation across sources dropped (the earlier source's copy is kept)", True),
    "M007": ("category field conflict (same name, different values): one value kept", True),
    "M008": ("image field conflict (same file name, different values): one value kept", True),
    "M009": ("dataset-level field (info, licenses, extra) differs between sources: one value kept", True),
    "M010": ("conflicting values combined (--on-conflict union): nothing dropped", False),
    "M011": ("two categories of one source share a name: merged into one", True),
    "M012": ("duplicate check skipped: no pixels (image size unknown, or a geometry without pixels)", False),
    "M013": ("sources use different polygon rasterization rules: the first source's is kept", True),
}

LOSS_CODES = frozenset(c for c, (_, loss) in CODES.items() if loss)


def named(labels: list[str], s: int) -> str:
    """How messages name source ``s`` (from 1): ``source 2 (b.json)``, or ``source 2`` when that is its name."""
    label = labels[s - 1]
    return f"source {s}" if label == f"source {s}" else f"source {s} ({label})"


def describe(code: str) -> str:
    """The meaning of a merge code."""
    return CODES[code][0]


class Note(NamedTuple):
    """One remap, duplicate or conflict.

    Parameters
    ----------
    code : str
        A key of :data:`CODES`.
    message : str
        What exactly, naming the source (``source 2: category 'dog' 3 -> 18``).
    source : int, optional
        The source concerned, counted from 1.
    """

    code: str
    message: str
    source: int | None = None

    __str__ = entry_text


@dataclass
class Duplicate:
    """An annotation of a later source whose mask matches one of an earlier source.

    Attributes
    ----------
    file_name : str
        The image, as the merged dataset names it.
    category : str or None
        The class name (``None`` for a region without a class).
    source, annotation_id
        The later annotation: its source (from 1) and its id in that source.
    kept_source, kept_annotation_id
        The earlier annotation it matches best.
    iou : float
        Their mask IoU.
    dropped : bool
        Whether the later one was left out of the merged dataset.
    """

    file_name: str
    category: str | None
    source: int
    annotation_id: Any
    kept_source: int
    kept_annotation_id: Any
    iou: float
    dropped: bool


@dataclass
class MergeReport:
    """Everything a merge did.

    Attributes
    ----------
    sources : list of str
        The sources' names (their ``meta["source_path"]``, else ``source N``), in order.
    notes : list of Note
        Every remap, duplicate and conflict, in the order met.
    category_maps : list of dict
        Per source, ``{its category id: merged category id}`` for every category.
    renamed : list of tuple
        ``(source, category name, its id, merged id)`` for every id that changed (the ``M001`` notes).
    image_maps : list of dict
        Per source, ``{its image id: merged image id}`` for every image.
    duplicates : list of Duplicate
    items, annotations, categories : int
        Sizes of the merged dataset.
    """

    sources: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    category_maps: list[dict] = field(default_factory=list)
    renamed: list[tuple] = field(default_factory=list)
    image_maps: list[dict] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    items: int = 0
    annotations: int = 0
    categories: int = 0

    def note(self, code: str, message: str, source: int | None = None) -> None:
        """Record one note (``code`` must be in :data:`CODES`)."""
        if code not in CODES:
            raise KeyError(code)
        self.notes.append(Note(code, message, source))

    @property
    def losses(self) -> list[Note]:
        """The notes whose code is a loss (see :data:`CODES`)."""
        return [n for n in self.notes if n.code in LOSS_CODES]

    def summary(self) -> dict[str, int]:
        """Count of notes per code, sorted by code."""
        return count_codes(self.notes)

    def text(self, examples: int = 3) -> str:
        """The summary for people: per code its count, meaning and a few examples; the category id maps."""
        lines = [f"merged {len(self.sources)} sources: {self.items} images, {self.annotations} annotations, "
                 f"{self.categories} categories"]
        for i, name in enumerate(self.sources, 1):
            lines.append(f"  source {i}: {name}")
        summary = self.summary()
        if not summary:
            lines.append("nothing remapped, no duplicate, no conflict")
        for code, n in summary.items():
            lines.append(f"  {code} x{n}  {describe(code)}{'  [loss]' if code in LOSS_CODES else ''}")
            if code == "M001":
                lines.extend(self._map_lines())
                continue
            shown = [note for note in self.notes if note.code == code][:examples]
            lines.extend(f"    e.g. {note.message}" for note in shown)
        return "\n".join(lines)

    def _map_lines(self, limit: int = 8) -> list[str]:
        """One line per source whose category ids moved (the M001 notes, grouped)."""
        lines = []
        for i, cmap in enumerate(self.category_maps, 1):
            moved = [r for r in self.renamed if r[0] == i]
            if not moved:
                continue
            shown = ", ".join(f"{brief(name)} {brief(old)} -> {brief(new)}" for _, name, old, new in moved[:limit])
            more = f", ... ({len(moved) - limit} more; --json lists all)" if len(moved) > limit else ""
            lines.append(f"    source {i} ({len(moved)} of {len(cmap)} ids): {shown}{more}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (id maps as lists of pairs: ids may be int or str)."""
        return {
            "sources": list(self.sources),
            "items": self.items,
            "annotations": self.annotations,
            "categories": self.categories,
            "summary": {c: {"count": n, "description": describe(c), "loss": c in LOSS_CODES}
                        for c, n in self.summary().items()},
            "notes": [{"code": n.code, "message": n.message, "source": n.source} for n in self.notes],
            "category_maps": [[[old, new] for old, new in m.items()] for m in self.category_maps],
            "renamed": [{"source": s, "category": n, "from": a, "to": b} for s, n, a, b in self.renamed],
            "image_maps": [[[old, new] for old, new in m.items()] for m in self.image_maps],
            "duplicates": [vars(d).copy() for d in self.duplicates],
        }
