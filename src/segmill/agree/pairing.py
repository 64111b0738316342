"""Line up the same images across annotators, and their categories by name.

Images are matched by ``file_name`` (default) or by image ``id``. An image
that some annotators lack is *reported* (:attr:`Pairing.missing`), never
dropped silently: pairwise metrics use the images both members of a pair
have; the all-annotator metrics (Fleiss' kappa, Krippendorff's alpha, the
annotator view and the consensus) use the images every annotator has.

Categories are matched by name; the common list is the union of the
annotators' names in order of first appearance (annotator 0 first).

The lining up itself is :func:`segmill.agree.align.align`, the image pairer
``segmill diff`` and ``segmill gate`` use too.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._entries import Entries
from .._indexing import item_at
from ..errors import InputError
from ..model import Dataset, Item
from .align import KeyRule, Row, Rows, align
from .settings import MATCH_BY


class ImageGroup:
    """One image as seen by every annotator.

    Attributes
    ----------
    key : str
        The matching key (file name, or ``str(id)``).
    items : list of Item or None
        One entry per annotator; ``None`` where the annotator lacks the image.
        Taken from the datasets when asked for (from a spilled dataset, read
        again at each access: see :mod:`segmill.spilled`).
    height, width : int
    """

    __slots__ = ("key", "height", "width", "_items", "_row")

    def __init__(self, key: str, items, height: int, width: int):
        self.key, self.height, self.width = key, height, width
        self._items = self._row = None
        if isinstance(items, Row):
            self._row = items
        else:
            self._items = list(items)

    @property
    def items(self) -> list[Item | None]:
        return self._row.items if self._row is not None else self._items

    @property
    def complete(self) -> bool:
        """``True`` when every annotator has this image."""
        if self._row is not None:
            return all(j is not None for j in self._row.positions)
        return all(it is not None for it in self._items)

    def __repr__(self) -> str:
        return f"ImageGroup({self.key!r}, {self.height}x{self.width})"


class Groups(Sequence):
    """The images a pairing compares: rows of the line-up and their sizes, kept as arrays (16 bytes an
    image); an :class:`ImageGroup` is made when one is asked for (its key read from the skeletons).

    Parameters
    ----------
    rows : Rows
        The line-up the groups are rows of.
    """

    def __init__(self, rows: Rows):
        self._rows = rows
        self._at, self._size = array("q"), array("q")

    def add(self, row: Row, height: int, width: int) -> None:
        """Add the image of ``row`` (its position in the line-up) at the end."""
        self._at.append(row.index)
        self._size.extend((height, width))

    def __len__(self) -> int:
        return len(self._at)

    def __getitem__(self, k):
        return item_at(k, len(self), self._group, "group")

    def _group(self, k: int) -> ImageGroup:
        row = self._rows[self._at[k]]
        return ImageGroup(row.key, row, self._size[2 * k], self._size[2 * k + 1])

    def complete(self) -> "Groups":
        """The groups every annotator has, in order (arrays again)."""
        out = Groups(self._rows)
        if len(self):
            at = np.frombuffer(self._at, np.int64)
            whole = (self._rows.positions[at] >= 0).all(axis=1)
            out._at.frombytes(at[whole].tobytes())
            out._size.frombytes(np.frombuffer(self._size, np.int64).reshape(-1, 2)[whole].tobytes())
        return out


@dataclass
class Pairing:
    """Images and categories lined up across annotators.

    Attributes
    ----------
    names : list of str
        Annotator names.
    categories : list of str
        Category names, the common index used by every metric (label ``k + 1``
        in a label map is ``categories[k]``; 0 is background).
    category_index : list of dict
        Per annotator: its category id -> index into ``categories``.
    groups : sequence of ImageGroup
        Images with a known size, in order of first appearance (from
        :func:`pair_datasets`, :class:`Groups`).
    missing : list-like of dict
        ``{"image": key, "missing_from": [names]}`` for incomplete images
        (from :func:`pair_datasets`, an :class:`~segmill._entries.Entries`:
        past a few tens of thousands they wait in a temporary file).
    skipped : list-like of dict
        ``{"image": key, "reason": str}`` for images that cannot be compared
        (unknown or conflicting sizes); likewise.
    """

    names: list[str]
    categories: list[str]
    category_index: list[dict]
    groups: list[ImageGroup] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    void: frozenset = frozenset()


def default_names(datasets, names=None) -> list[str]:
    """Annotator names: ``names`` when given (checked), else from the source paths."""
    n = len(datasets)
    if names is not None:
        names = [str(x) for x in names]
        if len(names) != n:
            raise InputError(f"{len(names)} names given for {n} datasets")
        if len(set(names)) != n:
            raise InputError(f"annotator names must be unique, got {names}")
        return names
    out = []
    for i, ds in enumerate(datasets):
        src = ds.meta.get("source_path") if isinstance(ds, Dataset) else None
        base = src.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if src else f"annotator{i + 1}"
        out.append(base)
    if len(set(out)) != n:
        out = [f"{i + 1}:{x}" for i, x in enumerate(out)]
    return out


def pair_datasets(datasets, names=None, match_by: str = "file_name", void=()) -> Pairing:
    """Line up the images and categories of two or more datasets.

    Parameters
    ----------
    datasets : sequence of Dataset
    names : sequence of str, optional
    match_by : {"file_name", "id"}
    void : iterable of str
        Category names whose pixels are void (excluded from every metric).

    Returns
    -------
    Pairing

    Raises
    ------
    segmill.errors.InputError
        Fewer than two datasets, bad ``match_by``, duplicate image keys.
    """
    if len(datasets) < 2:
        raise InputError(f"agreement needs at least two annotators, got {len(datasets)}")
    if match_by not in MATCH_BY:
        raise InputError(f"match_by must be one of {MATCH_BY}, got {match_by!r}")
    names = default_names(datasets, names)
    void = frozenset(void)
    categories, cat_index = _line_up_categories(datasets, void)
    rows = align([ds.items for ds in datasets], [_image_rule(datasets, names, match_by)])
    pairing = Pairing(names, categories, cat_index, Groups(rows), Entries(coded=False), Entries(coded=False),
                      void=void)
    for row in rows:
        _add_image(pairing, row)
    return pairing


def _line_up_categories(datasets, void: frozenset) -> tuple[list[str], list[dict]]:
    """The common category names (first appearance) and, per dataset, its id -> index (-1 void)."""
    categories: list[str] = []
    pos: dict[str, int] = {}
    cat_index = []
    for ds in datasets:
        m = {}
        for c in ds.categories:
            if c.name in void:
                m[c.id] = -1
                continue
            if c.name not in pos:
                pos[c.name] = len(categories)
                categories.append(c.name)
            m.setdefault(c.id, pos[c.name])
        cat_index.append(m)
    return categories, cat_index


def _image_rule(datasets, names, match_by: str) -> KeyRule:
    """One key per image (file name or ``str(id)``); a key twice in one dataset is an error."""

    def duplicate(a: int, key) -> None:
        src = datasets[a].meta.get("source_path")
        raise InputError(f"two images share the {match_by} {key!r}", src, f"annotator {names[a]!r}")

    if match_by == "file_name":
        return KeyRule(key=lambda item: item.file_name, duplicates=duplicate)
    return KeyRule(key=lambda item: str(item.id), duplicates=duplicate)


def _add_image(pairing: Pairing, row: Row) -> None:
    """Record one image row: missing annotators, and either a group or the reason it is skipped."""
    names, key = pairing.names, row.key
    items = row.skeletons  # the fields an image is lined up by, without reading its annotations
    absent = [names[a] for a, it in enumerate(items) if it is None]
    if absent:
        pairing.missing.append({"image": key, "missing_from": absent})
    sizes = {it.size for it in items if it is not None and it.size is not None}
    if len(sizes) != 1:
        reason = "no annotator gives the image size" if not sizes else (
            "annotators disagree on the image size: "
            + ", ".join(f"{names[a]} {it.height}x{it.width}" for a, it in enumerate(items) if it is not None)
        )
        pairing.skipped.append({"image": key, "reason": reason})
        return
    h, w = sizes.pop()
    pairing.groups.add(row, h, w)
