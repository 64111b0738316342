"""The official Cityscapes label table (cityscapesScripts ``helpers/labels.py``) and ``label_colors.txt``.

Facts only: name, id, trainId, category, categoryId, hasInstances,
ignoreInEval, color. ``id`` is what ``*_labelIds.png`` holds and what
``*_instanceIds.png`` multiplies by 1000 for classes with instances;
``trainId`` 255 means "ignored in training"; ``license plate`` has id -1 and
never appears in label images.

Custom tables (Cityscapes and KITTI, whose values are the Cityscapes ids):
:class:`LabelTable` is the table a dataset is read with, chosen by
:func:`read_label_table`; :func:`read_table_lines` is the line loop every
``label_colors.txt`` reader shares (each format parses a line its own way);
:func:`label_name_ok` and :func:`custom_table_needed` are the writers' side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

from ..errors import InputError, UsageError
from ..model import Category
from ..paths import confine
from ..validate import brief, string
from ._voc_masks import read_text_lines


class Label(NamedTuple):
    name: str
    id: int
    train_id: int
    category: str
    category_id: int
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    Label("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    Label("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    Label("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    Label("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    Label("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    Label("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    Label("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    Label("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    Label("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    Label("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    Label("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    Label("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    Label("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    Label("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    Label("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    Label("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    Label("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    Label("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    Label("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    Label("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    Label("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    Label("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    Label("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    Label("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    Label("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    Label("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    Label("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    Label("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    Label("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    Label("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    Label("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    Label("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    Label("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    Label("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
)

BY_ID = {lab.id: lab for lab in LABELS}
BY_NAME = {lab.name: lab for lab in LABELS}


def official_categories() -> list[Category]:
    """The official label table as categories (ids 0..33; trainId, categoryId, ignoreInEval in ``extra``)."""
    out = []
    for lab in LABELS:
        if lab.id < 0:
            continue
        extra = {"cityscapes": {"trainId": lab.train_id, "categoryId": lab.category_id,
                                "ignoreInEval": lab.ignore_in_eval}}
        out.append(Category(lab.id, lab.name, lab.category, lab.has_instances, lab.color, extra))
    return out


# ------------------------------------------------------------ custom tables
#: The file Datumaro reads and writes for a custom Cityscapes label table.
LABEL_COLORS = "label_colors.txt"
#: Most labels a custom table may list (a labelIds PNG holds values up to 255, instanceIds up to 65535).
MAX_LABELS = 0x10000


class Entry(NamedTuple):
    """One label of a table: its pixel value, name, colour and whether it has instances (None: unknown)."""

    value: int
    name: str
    color: tuple[int, int, int] | None
    has_instances: bool | None


def official_entries() -> list[Entry]:
    """The official table as entries (``license plate``, id -1, is left out)."""
    return [Entry(lab.id, lab.name, lab.color, lab.has_instances) for lab in LABELS if lab.id >= 0]


def _line(line: str, path, rec):
    """``(name, colour or None)`` of one ``r g b name`` (or bare ``name``) line.

    A line of three or more words starting with an integer is ``r g b name``.
    """
    tokens = line.split()
    if len(tokens) < 3 or not tokens[0].lstrip("+-").isdigit():
        return line, None  # no colour: the whole line is the name
    try:
        rgb = tuple(int(t) for t in tokens[:3])
    except ValueError:
        raise InputError(f"colour {brief(' '.join(tokens[:3]))} is not three integers r g b", path, rec) from None
    if not all(0 <= v <= 255 for v in rgb):
        raise InputError(f"colour {brief(' '.join(tokens[:3]))} is not three values 0..255", path, rec)
    if len(tokens) == 3:
        raise InputError(f"colour {brief(line)} has no label name after it", path, rec)
    return line.split(maxsplit=3)[3].strip(), rgb


def parse_label_colors(path) -> list[Entry]:
    """A custom label table in Datumaro's ``label_colors.txt`` form.

    One label a line, ``r g b name`` (or a bare ``name``); empty lines and
    ``#`` comments are skipped. Values follow Datumaro's rule
    (``make_cityscapes_categories``): when no label is black (0, 0, 0), a
    label named ``background`` is moved to value 0, or, if there is none,
    value 0 is an implicit background that is no label; otherwise values are
    the line order. Datumaro reads only the first word of a name; segmill
    reads the rest of the line.

    Raises
    ------
    segmill.errors.InputError
        Not UTF-8 text, a colour out of range or without a name, a name
        listed twice, no label, or more than :data:`MAX_LABELS` labels.
    """
    labels = read_table_lines(path, _line)
    if not any(c == (0, 0, 0) for _, c in labels):
        names = [n for n, _ in labels]
        if "background" in names:
            labels.insert(0, labels.pop(names.index("background")))
            first = 0
        else:
            first = 1  # value 0: Datumaro's implicit background, not listed
    else:
        first = 0
    return [Entry(first + i, n, c, None) for i, (n, c) in enumerate(labels)]


def read_table_lines(path, parse_line: Callable) -> list[tuple[str, tuple | None]]:
    """The labels of a ``label_colors.txt`` in line order: ``[(name, (r, g, b) or None)]``.

    Empty lines and ``#`` comments are skipped; ``parse_line(line, path,
    record)`` gives a line's ``(name, colour or None)`` (the formats differ in
    what makes a line ``r g b name``).

    Raises
    ------
    segmill.errors.InputError
        Not UTF-8 text, a line ``parse_line`` refuses, a name listed twice, no
        label, or more than :data:`MAX_LABELS` labels.
    """
    labels: list[tuple[str, tuple | None]] = []
    seen: set = set()
    for ln, raw in enumerate(read_text_lines(path, "label table"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rec = f"line {ln}"
        name, color = parse_line(line, path, rec)
        string(name, "label name", path, rec)
        if name in seen:
            raise InputError(f"label {brief(name)} is listed twice", path, rec)
        seen.add(name)
        labels.append((name, color))
        if len(labels) > MAX_LABELS:
            raise InputError(f"more than {MAX_LABELS} labels", path, rec)
    if not labels:
        raise InputError("label table lists no label", path)
    return labels


class LabelTable(NamedTuple):
    """The label table a dataset is read with: its name (``official`` or a file) and entries."""

    name: str
    entries: list
    by_value: dict
    by_name: dict

    @classmethod
    def of(cls, name: str, entries) -> LabelTable:
        return cls(name, entries, {e.value: e for e in entries}, {e.name: e for e in entries})

    @property
    def official(self) -> bool:
        return self.name == "official"

    def categories(self) -> list[Category]:
        if self.official:
            return official_categories()
        return [Category(e.value, e.name, color=e.color) for e in self.entries]


def read_label_table(root: Path, labels, label_table: str, parse: Callable) -> LabelTable:
    """The official table, ``labels`` (a file), or ``label_colors.txt`` in ``root`` when present.

    Parameters
    ----------
    labels : path or None
        A custom table given by the user.
    label_table : {"auto", "official", "custom"}
    parse : callable
        ``parse(path) -> [Entry]``: the format's reading of a custom table.

    Raises
    ------
    segmill.errors.UsageError
        ``labels`` together with ``label_table="official"``.
    segmill.errors.InputError
        ``label_table="custom"`` with no table to read, or what ``parse`` raises.
    """
    if labels is not None:
        if label_table == "official":
            raise UsageError("labels (a custom label table) and label_table='official' contradict each other")
        return LabelTable.of(str(labels), parse(Path(labels)))
    f = root / LABEL_COLORS
    if label_table != "official" and f.is_file():
        return LabelTable.of(LABEL_COLORS, parse(confine(root, f)))
    if label_table == "custom":
        raise InputError(f"no {LABEL_COLORS} in the dataset root (label_table='custom'); give labels=FILE", root)
    return LabelTable.of("official", official_entries())


# ------------------------------------------------------------ writing a table
def custom_table_needed(dataset) -> bool:
    """Whether a dataset needs a custom table: read with one, or naming a label the official table lacks."""
    read_with = dataset.meta.get("label_table")
    if isinstance(read_with, str) and read_with != "official":
        return True
    return any(BY_NAME.get(c.name) is None or BY_NAME[c.name].id < 0 for c in dataset.categories)


def label_name_ok(name: str) -> bool:
    """Whether ``name`` reads back from an ``r g b name`` line as itself."""
    if not name or name != name.strip() or len(name.splitlines()) != 1 or name.startswith("#"):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def label_colors_text(entries) -> str:
    """The ``label_colors.txt`` text of ``entries`` (in value order): ``r g b name`` or bare names."""
    colored = any(e.color is not None for e in entries)
    if colored and any(e.color is None for e in entries):
        raise ValueError("either every label has a colour or none has (Datumaro reads no mix)")
    lines = []
    for e in entries:
        lines.append(f"{e.color[0]} {e.color[1]} {e.color[2]} {e.name}" if colored else e.name)
    return "\n".join(lines) + "\n"
