"""Semantic label maps shared by the KITTI, CamVid and image + mask folder formats.

Reading
    :func:`read_label_lines` parses a ``label_colors.txt`` in line order
    (``r g b name`` or a bare ``name`` a line, through
    :func:`~segmill.formats._cityscapes_labels.read_table_lines`); :func:`read_class_map` opens a
    label PNG as class values (grey, 16-bit or paletted: the value itself; RGB:
    looked up in a colour table); :func:`class_annotations` turns a class map
    into one annotation per class present (through
    :func:`~segmill.formats._voc_masks.masks_to_annotations`), the background
    value left out.

Writing
    :func:`label_values` gives every category its label value (the mask
    formats' rule: ids kept when the dataset says they are label values, else
    ``background`` at 0 and the others 1, 2, ...); :func:`distinct_colors`
    makes a colour table a colour-coded mask can be read back with;
    :func:`check_table_names`, :func:`report_category_fields` and
    :func:`note_spaced_names` are the checks and notes of a written table;
    :func:`plan_split_items` names every image's files (:func:`split_folder`)
    before anything is written (:func:`plan_split_item` one image's, for a
    stream); :func:`paint_classes` paints one image with
    :func:`segmill.bridges.compose.compose` and reports what a map of classes
    alone cannot keep; :func:`copy_image` puts an item's image beside its mask.

``meta[BACKGROUND_KEY]`` is the label value a reader did not annotate (the
background), ``None`` when every value is a class; writers paint unannotated
pixels with it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._nameset import NameSet
from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS
from ..losses import WriteReport
from ..paths import output_name, split_folder
from ..validate import brief
from ._cityscapes_labels import LABEL_COLORS, label_name_ok, read_table_lines
from ._image_files import find_image, place_image
from ._png import colors_to_index, read_png, voc_colormap
from ._voc_masks import dropped_fields, masks_to_annotations
from ._voc_write import _class_values, check_options, file_stem, painted_size
from .options import raster_rule

__all__ = [
    "BACKGROUND_KEY",
    "SemanticCodes",
    "Painting",
    "check_table_names",
    "class_annotations",
    "copy_image",
    "distinct_colors",
    "image_roots",
    "label_values",
    "note_spaced_names",
    "paint_classes",
    "painting_rule",
    "plan_split_item",
    "plan_split_items",
    "read_class_map",
    "read_label_lines",
    "report_category_fields",
    "split_folder",
]

#: ``Dataset.meta`` key: the label value the reader left unannotated (None: every value is a class).
BACKGROUND_KEY = "label_map_background"
#: A value no 8- or 16-bit map holds: "no void value" for masks_to_annotations.
_NO_VALUE = 1 << 20


# ------------------------------------------------------------------ reading
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _label_line(line: str, path, rec):
    """``(name, colour or None)`` of one line: ``r g b name`` when it starts with three integers."""
    tokens = line.split()
    if len(tokens) < 4 or not all(_INTEGER.fullmatch(t) for t in tokens[:3]):
        return line, None  # a bare name: the whole line
    if any(len(t) > 4 for t in tokens[:3]) or not all(0 <= int(t) <= 255 for t in tokens[:3]):
        raise InputError(f"colour {brief(' '.join(tokens[:3]))} is not three values 0..255", path, rec)
    return line.split(maxsplit=3)[3].strip(), tuple(int(t) for t in tokens[:3])


def read_label_lines(path) -> list[tuple[str, tuple | None]]:
    """The labels of a ``label_colors.txt`` in line order: ``[(name, (r, g, b) or None)]``.

    Empty lines and ``#`` comments are skipped. A line of four or more words
    whose first three are integers is ``r g b name`` (the name is the rest of
    the line; Datumaro keeps its first word only); any other line is a bare
    name.

    Raises
    ------
    segmill.errors.InputError
        Not UTF-8 text, a colour out of range, a name listed twice, no label,
        or more than :data:`~segmill.formats._cityscapes_labels.MAX_LABELS`
        labels.
    """
    return read_table_lines(path, _label_line)


def read_class_map(path, colors: dict | None = None, *, what: str = "mask") -> tuple[np.ndarray, str]:
    """A label PNG as class values, and how it was stored (``"RGB"`` or the grey/paletted mode).

    Parameters
    ----------
    path : path
    colors : dict, optional
        ``{(r, g, b): value}``: how an RGB mask's colours map to values.
    what : str
        Names the file in messages.

    Raises
    ------
    segmill.errors.InputError
        Unreadable, a mode that holds no labels, an RGB mask without a colour
        table, or a colour that is not in it (named with one pixel that has it).
    """
    img = read_png(path)
    if img.array.ndim == 3:
        if img.mode != "RGB":
            raise InputError(f"{what} mode is {img.mode}; expected grey, paletted, 16-bit or RGB", path)
        if not colors:
            raise InputError(f"RGB {what} but no label colours to read it with", path)
        table = list(colors.items())
        rgb = np.array([c for c, _ in table], np.uint8).reshape(-1, 3)
        values = np.array([v for _, v in table], np.int64)
        idx = colors_to_index(img.array, rgb, path)
        return values[idx].astype(np.uint16 if values.max(initial=0) > 255 else np.uint8), "RGB"
    if img.mode not in ("L", "P", "I;16"):
        raise InputError(f"{what} mode is {img.mode}; expected grey, paletted, 16-bit or RGB", path)
    return img.array, img.mode


def class_annotations(class_map: np.ndarray, values, background, path, next_id: int = 1):
    """One annotation per class value in ``class_map`` (category id = value), the background left out.

    Parameters
    ----------
    values : collection of int
        The label values of the table.
    background : int or None
        The value that is no annotation (None: every value is a class).

    Raises
    ------
    segmill.errors.InputError
        A pixel value that is not in the table (named with its first pixel).
    """
    known = set(values)
    found = np.unique(class_map).tolist()
    bad = [v for v in found if v not in known and v != background]
    if bad:
        row, col = np.argwhere(class_map == bad[0])[0]
        raise InputError(f"pixel value {bad[0]} is not a label value of the table (first at row {row}, col {col})",
                         path)
    n = max(known | {0}) + 1
    bg = _NO_VALUE if background is None else background
    pairs = masks_to_annotations(class_map, None, n, path, void_value=_NO_VALUE, background=bg, next_id=next_id)
    return [a for a, _ in pairs]


# ------------------------------------------------------------------ label values for writing
def label_values(dataset, report: WriteReport, *, background_zero: bool = False):
    """``({category id: value}, names by value, colours by value, background value or None)``.

    The mask formats' rule (:func:`segmill.formats._voc_write._class_values`):
    a dataset whose category ids are its label values keeps them; any other
    gets ``background`` at 0 (a category named so, or a name added) and the
    others 1, 2, ... in order (``L208``). With ``background_zero`` the
    background must be value 0 (formats where 0 is never a class).
    """
    bg = dataset.meta.get(BACKGROUND_KEY, 0) if dataset.meta.get("voc_class_values") else 0
    if background_zero and bg != 0:
        dataset = copy.copy(dataset)  # renumbered: background at 0, the meta of the source left alone
        dataset.meta = {k: v for k, v in dataset.meta.items() if k != "voc_class_values"}
        bg = 0
    values, cl = _class_values(dataset, report)
    if not cl.names:  # no category at all: a table still needs its background label
        return values, ["background"], [(0, 0, 0)], 0
    if bg is not None and not (isinstance(bg, int) and 0 <= bg < len(cl.names)):
        bg = 0
    return values, list(cl.names), [tuple(c) for c in cl.colors], bg


def distinct_colors(names, colors, background, report: WriteReport, code: str) -> list[tuple]:
    """Colours a colour-coded mask reads back from: black for the background only, one colour per value.

    A colour already taken (or black on another value) is replaced by the
    first unused VOC colour, reported once per label with ``code``.
    """
    out: list[tuple] = []
    used: set = set()
    if background is not None:
        used.add((0, 0, 0))
    cmap = voc_colormap(max(256, 2 * len(names) + 2))
    spare = (tuple(int(v) for v in c) for c in cmap)
    for value, (name, color) in enumerate(zip(names, colors)):
        want = (0, 0, 0) if value == background else tuple(color)
        if value != background and want in used:
            new = next(c for c in spare if c not in used and c != (0, 0, 0))
            report.lose(code, f"label {brief(name)} (value {value}) written with colour {new}: its colour {want} "
                        "is taken (a colour-coded mask needs one colour per label)")
            want = new
        elif value == background and tuple(color) != (0, 0, 0):
            report.notes.append(f"background label {brief(name)} written black (colour {tuple(color)} not kept)")
        used.add(want)
        out.append(want)
    return out


def check_table_names(names) -> None:
    """Refuse, before anything is written, a category name a ``label_colors.txt`` line cannot hold.

    Raises
    ------
    segmill.errors.InputError
        A name that does not read back from an ``r g b name`` line as itself.
    """
    bad = next((n for n in names if not label_name_ok(n)), None)
    if bad is not None:
        raise InputError(f"category name {brief(bad)} cannot be written in {LABEL_COLORS} (one name a line)")


def report_category_fields(dataset, report: WriteReport, code: str, table: str = LABEL_COLORS) -> None:
    """Report (``code``) category fields a table of names and colours (the file ``table``) cannot keep."""
    if any(c.supercategory is not None or c.isthing is not None or c.extra for c in dataset.categories):
        report.lose(code, f"category supercategory / isthing / extra fields dropped ({table} holds names and "
                    "colours)")


def note_spaced_names(names, report: WriteReport) -> None:
    """Note that another reader of ``label_colors.txt`` cuts a name with spaces."""
    if any(len(n.split()) > 1 for n in names):
        report.notes.append(f"a label name with spaces is read whole by segmill; Datumaro's {LABEL_COLORS} "
                            "reader takes its first word only")


# ------------------------------------------------------------------ names of the files written
def plan_split_items(dataset, default_split: str, report: WriteReport, check_stem=None,
                     note: str = "split {} written as folder {!r}") -> list:
    """``[(item, split folder, stem)]``: every name and painted size checked before anything is written.

    An item without a split goes to ``default_split``; a split that is no
    folder name is written as :func:`split_folder` makes it, noted with
    ``note`` (the split and the folder). ``check_stem(stem, record)`` refuses
    a stem the format cannot hold otherwise.
    """
    seen: dict = {}
    return [plan_split_item(item, default_split, seen, report, check_stem, note) for item in dataset.items]


def plan_split_item(item, default_split: str, seen: dict, report: WriteReport, check_stem=None,
                    note: str = "split {} written as folder {!r}") -> tuple:
    """``(item, split folder, stem)`` of one item (:func:`plan_split_items`), its stem unique among the stems
    ``seen`` (``{split folder: NameSet of stems}``, updated) and its painted size checked."""
    sp = split_folder(item.split) if item.split else default_split
    if item.split and sp != item.split:
        report.notes.append(note.format(brief(item.split), sp))
    names = seen.get(sp)
    if names is None:
        names = seen[sp] = NameSet()
    stem = file_stem(item, names)
    if check_stem is not None:
        check_stem(stem, f"image {brief(item.id)}")
    if item.size is not None:
        painted_size(item)
    return item, sp, stem


# ------------------------------------------------------------------ painting
def painting_rule(dataset, raster: str | None, overlap: str, mask_mode: str | None = None, modes=()) -> str:
    """The raster rule a writer paints with (``raster``, else the dataset's); an unknown raster rule, overlap
    policy or ``mask_mode`` (one of ``modes``, or None) is a UsageError, found before any work."""
    rule = raster_rule(dataset, raster)
    check_options(rule, overlap)
    if mask_mode is not None and mask_mode not in modes:
        raise UsageError(f"mask_mode must be one of {', '.join(modes)}; got {brief(mask_mode)}")
    return rule


@dataclass(frozen=True)
class SemanticCodes:
    """The loss codes of a format whose maps hold classes only."""

    merged: str  # instances of one class in one image merged into one region
    crowd: str  # crowd flag dropped
    void: str  # void region written as background


@dataclass(frozen=True)
class Painting:
    """How :func:`paint_classes` paints: rule, overlap policy, background value and loss codes."""

    raster: str
    overlap: str
    background: int | None
    codes: SemanticCodes


def _field_losses(item, report: WriteReport, codes: SemanticCodes) -> None:
    for a in item.annotations:
        lost = dropped_fields(a)
        if a.score is not None:
            lost.append("score")
        if lost:
            report.lose("L001", f"fields {lost} have no place in a label map", item.id, a.id)
        if a.iscrowd and a.category_id is not None:
            report.lose(codes.crowd, "crowd region written as an ordinary class region", item.id, a.id)


def paint_classes(item, values: dict, names: dict, p: Painting, report: WriteReport):
    """The class map of one image, and how many annotations left pixels in it.

    Every loss is reported: compose's (``L701`` overwritten, ``L702`` no
    value, ``L703`` no area, ``L705`` polygon or box painted), fields and
    scores (``L001``), crowd flags, void regions painted as background, an
    annotation without pixels under the rule (``L703``) and classes whose
    several annotations merge into one region (``p.codes``). Unannotated
    pixels get the background value; with no background (None) they get 0
    and the caller learns which pixels those are from the second return.
    """
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import compose

    _field_losses(item, report, p.codes)
    bg = 0xFFFF if p.background is None else p.background  # None: a value no class has, found afterwards
    cmap, _, losses = compose(item, values, overlap=p.overlap, raster=p.raster,
                              instance_values=[0] * len(item.annotations), void_value=bg, background=bg,
                              paint_boxes=True, category_names=names)
    unpainted = set()
    for loss in losses:
        report.lose(loss.code, loss.message, loss.item_id, loss.annotation_id)
        if loss.code in ("L702", "L703"):
            unpainted.add(loss.annotation_id)
    h, w = item.size
    per_class: dict = {}
    for a in item.annotations:
        if not isinstance(a.geometry, AREA_KINDS) or a.id in unpainted:
            continue
        if a.to_rle(h, w, p.raster).area == 0:
            report.lose("L703", f"no pixels under the {p.raster} rule: nothing painted", item.id, a.id)
            unpainted.add(a.id)
        elif a.category_id is None or names.get(a.category_id) in ("__ignore__",):
            report.lose(p.codes.void, "void region written as background", item.id, a.id)
        else:
            per_class.setdefault(a.category_id, []).append(a.id)
    for cid, ids in per_class.items():
        if len(ids) > 1:
            report.lose(p.codes.merged, f"{len(ids)} annotations of category {brief(names.get(cid, cid))} merged "
                        "into one class region", item.id, ids[0])
    painted = sum(len(ids) for ids in per_class.values())
    if p.background is None:
        holes = cmap == 0xFFFF
        out = np.where(holes, 0, cmap)
        return out.astype(np.uint16 if out.max(initial=0) > 255 else np.uint8), painted, holes
    return cmap, painted, None


# ------------------------------------------------------------------ images
def image_roots(dataset, image_root) -> list[Path]:
    """Folders an item's ``file_name`` may be relative to: ``image_root``, else ``meta["image_root"]``."""
    if image_root is not None:
        return [Path(image_root)]
    root = dataset.meta.get("image_root")
    return [Path(root)] if isinstance(root, str) and root else []


def copy_image(item, roots, folder: Path, stem: str, link: bool, report: WriteReport) -> str | None:
    """Put ``item``'s image in ``folder`` as ``stem`` + its extension; the name written, or None (not found)."""
    src = find_image(item, roots)
    if src is None:
        return None
    name = output_name(stem + src.suffix.lower(), "image file name", None, f"image {brief(item.id)}")
    place_image(src, folder / name, link, report)
    return name
