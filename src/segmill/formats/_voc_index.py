"""The image index of a Pascal VOC folder: its ids in reading order, and what ``ImageSets`` says of each.

A VOC read reads the images in the order their ids are first listed
(``ImageSets/Main``, ``Segmentation``, ``Layout``, ``Action``; the files of
a folder sorted), then the ids found only as ``Annotations`` /
``SegmentationClass`` / ``SegmentationObject`` files. Per id it needs the
lists naming it (``{"Main": ["train"], ...}``), the image-level class labels
of ``Main/<class>_<split>.txt`` and where the id was first listed (for
messages).

:class:`SetsIndex` holds that compactly: the id strings, and per id a
reference to a tuple of its lists, one of its labels, a source number and a
line number. Datasets repeat the same few combinations (``train`` in
``Main`` and ``Segmentation``): once the index is built, equal tuples are
one object.
"""

from __future__ import annotations

from array import array
from pathlib import Path

from ..errors import InputError
from ..paths import confined_glob
from ..validate import brief
from ._voc_masks import read_text_lines
from ._voc_write import SETS  # the ImageSets folders, in reading order

__all__ = ["SetsIndex", "read_index"]

#: The folders whose files add the ids no list names, in reading order.
_FOLDERS = ("Annotations", "SegmentationClass", "SegmentationObject")


class SetsIndex:
    """Image ids in reading order, with their lists, labels and first listing.

    Attributes
    ----------
    ids : list of str
        Each id once, in reading order.
    """

    def __init__(self, root: Path):
        self.root = root
        self.ids: list[str] = []
        self._pos: dict[str, int] | None = {}  # id -> position, while the index is built
        self._sets: list[tuple] = []  # ((kind, split), ...) per id
        self._labels: list[tuple] = []  # (("<class>_<split>", value), ...) per id
        self._source = array("i")  # index into _sources
        self._line = array("q")  # line number (0: none)
        self._sources: list = []  # a list file (Path), or (folder, suffix) of a file found in a folder
        self._source_no: dict = {}
        self._shared: dict[tuple, tuple] = {}

    def __len__(self) -> int:
        return len(self.ids)

    # ---------------------------------------------------------------- building
    def _number(self, source) -> int:
        n = self._source_no.get(source)
        if n is None:
            n = self._source_no[source] = len(self._sources)
            self._sources.append(source)
        return n

    def _share(self, t: tuple) -> tuple:
        return self._shared.setdefault(t, t)

    def add(self, iid: str, source, line: int = 0) -> int:
        """The position of ``iid``, added (first listed in ``source`` at ``line``) when new."""
        k = self._pos.get(iid)
        if k is None:
            k = self._pos[iid] = len(self.ids)
            self.ids.append(iid)
            self._sets.append(())
            self._labels.append(())
            self._source.append(self._number(source))
            self._line.append(line)
        return k

    def add_split(self, k: int, kind: str, split: str) -> None:
        """Image ``k`` is listed in ``ImageSets/<kind>/<split>.txt``."""
        pair = self._share((kind, split))
        if pair not in self._sets[k]:
            self._sets[k] = self._sets[k] + (pair,)

    def add_label(self, k: int, key: str, value: int) -> None:
        """Image ``k`` has image-level label ``value`` for ``key`` (``<class>_<split>``); a later one wins."""
        self._labels[k] = self._labels[k] + (self._share((key, value)),)

    def knows(self, iid: str) -> bool:
        return iid in self._pos

    def done(self) -> None:
        """The index is complete: equal tuples are shared, the id lookup is dropped (every id is listed once)."""
        for per_id in (self._sets, self._labels):
            for k, t in enumerate(per_id):
                per_id[k] = self._share(t)
        self._pos = None
        self._source_no = {}
        self._shared = {}

    # ---------------------------------------------------------------- per image
    def sets(self, k: int) -> dict[str, list[str]]:
        """``{kind: [splits]}`` of image ``k`` (a new dict)."""
        out: dict[str, list[str]] = {}
        for kind, split in self._sets[k]:
            out.setdefault(kind, []).append(split)
        return out

    def labels(self, k: int) -> dict | None:
        """The image-level labels of image ``k``, or None when no ``<class>_<split>`` list names it."""
        return dict(self._labels[k]) if self._labels[k] else None

    def where(self, k: int) -> tuple:
        """``(file, record)`` where image ``k`` was first found: a list and its line, or a folder's file."""
        source = self._sources[self._source[k]]
        if isinstance(source, Path):
            return source, f"line {self._line[k]}"
        folder, suffix = source
        return self.root / folder / f"{self.ids[k]}{suffix}", None


def read_index(root: Path) -> SetsIndex:
    """The index of the VOC folder ``root``.

    Raises
    ------
    segmill.errors.InputError
        A list that is not UTF-8 text, a line that is not one id (or, in a
        ``<class>_<split>`` list of ``Main``, ``<id> <1|0|-1>``), a listed
        file that is a symbolic link out of ``root``.
    """
    index = SetsIndex(root)
    for kind in SETS:
        for f in confined_glob(root, f"ImageSets/{kind}/*.txt"):
            _read_list(index, kind, f)
    for sub in _FOLDERS:
        for f in confined_glob(root, f"{sub}/*"):
            suffix = f.suffix
            if suffix.lower() in (".xml", ".png") and not index.knows(f.stem):
                index.add(f.stem, (sub, suffix))
    index.done()
    return index


def _read_list(index: SetsIndex, kind: str, f: Path) -> None:
    """Add the ids of one ``ImageSets`` list ``f``."""
    labelled = kind == "Main" and "_" in f.stem
    cls, _, split = f.stem.rpartition("_")
    for ln, line in enumerate(read_text_lines(f, "image list"), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        k = index.add(parts[0], f, ln)
        if labelled and len(parts) == 2:
            try:
                value = int(parts[1])
            except ValueError:
                raise InputError(f"expected '<id> <1|0|-1>', got {brief(line)}", f, f"line {ln}") from None
            index.add_label(k, f"{cls}_{split}", value)
            continue
        if len(parts) != 1:
            raise InputError(f"expected one image id a line, got {brief(line)}", f, f"line {ln}")
        index.add_split(k, kind, f.stem)
