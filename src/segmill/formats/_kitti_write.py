"""KITTI segmentation writer (layout and facts in :mod:`segmill.formats.kitti`).

Per image: ``<split>/semantic/<stem>.png`` (8-bit class values),
``<split>/instance/<stem>.png`` (16-bit, class * 256 + k),
``<split>/semantic_rgb/<stem>.png`` (the label colours) and, when found, the
image in ``<split>/image_2/``. A custom table goes to ``label_colors.txt``.

Instance numbers ``k``: the one a KITTI read kept, when free; else crowd
regions of a class with instances (official table) take 0, other regions of
a class without instances take 0 first, and instances take 1, 2, ... per
class and image. Value 0 (unlabeled, or a custom table's first label) never
takes ``k = 0``: that pixel value is "no annotation".
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import UsageError
from ..geometry import AREA_KINDS
from ..losses import WriteReport
from ..model import Dataset, origin_of
from ..validate import brief
from ._cityscapes_labels import (
    BY_NAME,
    LABEL_COLORS,
    LABELS,
    Entry,
    custom_table_needed,
    label_colors_text,
    official_categories,
)
from ._png import voc_colormap, write_png
from ._semantic_maps import (
    check_table_names,
    copy_image,
    image_roots,
    label_values,
    note_spaced_names,
    painting_rule,
    plan_split_item,
    plan_split_items,
    report_category_fields,
    split_folder,
)
from ._stream_checks import planned_items
from ._voc_masks import dropped_fields

__all__ = ["TABLES", "write", "write_stream"]

TABLES = ("auto", "official", "custom")
#: Most instances of one class in one image (k is the low byte of a 16-bit value).
MAX_K = 255


class _Table(NamedTuple):
    """What the writer paints with."""

    values: dict  # category id -> label value
    names: dict  # category id -> name
    crowd_values: frozenset  # values whose k = 0 reads back as a crowd region
    entries: list | None  # custom table lines (None: official)
    palette: np.ndarray  # (256, 3) colours of semantic_rgb


def _custom_wanted(dataset: Dataset, label_table: str) -> bool:
    if label_table != "auto":
        return label_table == "custom"
    if not dataset.categories:
        return False
    return custom_table_needed(dataset)


def _official(dataset: Dataset, report: WriteReport) -> _Table:
    if dataset.categories != official_categories():
        report.lose("L821", "categories written as the official label table: ids follow the table by name, "
                    "other fields and categories are not kept")
    values = {c.id: BY_NAME[c.name].id for c in dataset.categories
              if c.name in BY_NAME and BY_NAME[c.name].id >= 0}
    palette = voc_colormap()
    for lab in LABELS:
        if lab.id >= 0:
            palette[lab.id] = lab.color
    crowd = frozenset(lab.id for lab in LABELS if lab.has_instances)
    return _Table(values, {c.id: c.name for c in dataset.categories}, crowd, None, palette)


def _custom(dataset: Dataset, report: WriteReport) -> _Table:
    values, names, colors, _ = label_values(dataset, report, background_zero=True)
    check_table_names(names)
    report_category_fields(dataset, report, "L820")
    palette = voc_colormap()
    for v, c in enumerate(colors[:256]):
        palette[v] = c
    entries = [Entry(v, n, tuple(colors[v]), None) for v, n in enumerate(names)]
    return _Table(values, {c.id: c.name for c in dataset.categories}, frozenset(), entries, palette)


# ------------------------------------------------------------------ instance numbers
def _stored_k(ann, free0: bool):
    k = origin_of(ann, "kitti")
    if isinstance(k, int) and not isinstance(k, bool) and (1 <= k <= MAX_K or (k == 0 and free0)):
        return k
    return None


def _instance_numbers(item, table: _Table, report: WriteReport) -> list[int]:
    """``k`` of every annotation (0 for those not painted as instances), losses reported."""
    ks = [0] * len(item.annotations)
    used: dict = {}
    pending = []
    for i, a in enumerate(item.annotations):
        v = table.values.get(a.category_id) if a.category_id is not None else None
        if v is None or not isinstance(a.geometry, AREA_KINDS):
            continue
        taken = used.setdefault(v, set())
        if a.iscrowd and v in table.crowd_values:
            if 0 in taken:
                report.lose("L824", "merged with another crowd region of its class (k = 0)", item.id, a.id)
            taken.add(0)
            continue
        if a.iscrowd:
            report.lose("L823", "crowd flag dropped: written as an ordinary region", item.id, a.id)
        free0 = v not in table.crowd_values and v != 0
        k = _stored_k(a, free0)
        if k is not None and k not in taken:
            ks[i] = k
            taken.add(k)
        else:
            pending.append((i, v, free0))
    for i, v, free0 in pending:
        taken = used[v]
        k = 0 if free0 and 0 not in taken else next((j for j in range(1, MAX_K + 1) if j not in taken), None)
        if k is None:
            report.lose("L822", f"more than {MAX_K} instances of its class in the image: merged into k = 0",
                        item.id, item.annotations[i].id)
            k = 0
        ks[i] = k
        taken.add(k)
    return ks


# ------------------------------------------------------------------ painting one image
def _paint(item, table: _Table, rule: str, overlap: str, report: WriteReport):
    """``(class map, instance values, annotations painted)`` of one image."""
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import compose

    ks = _instance_numbers(item, table, report)
    cmap, kmap, losses = compose(item, table.values, overlap=overlap, raster=rule, instance_values=ks, void_value=0,
                                 background=0, paint_boxes=True, category_names=table.names)
    skipped = set()
    for loss in losses:
        report.lose(loss.code, loss.message, loss.item_id, loss.annotation_id)
        if loss.code in ("L702", "L703"):
            skipped.add(loss.annotation_id)
    painted = 0
    for a in item.annotations:
        lost = dropped_fields(a) + (["score"] if a.score is not None else [])
        if lost:
            report.lose("L001", f"fields {lost} have no place in a KITTI map", item.id, a.id)
        if not isinstance(a.geometry, AREA_KINDS) or a.id in skipped:
            continue
        if a.to_rle(item.height, item.width, rule).area == 0:
            report.lose("L703", f"no pixels under the {rule} rule: nothing painted", item.id, a.id)
        elif a.category_id is None or table.names.get(a.category_id) == "__ignore__":
            report.lose("L825", "void region written as unlabeled (0)", item.id, a.id)
        else:
            painted += 1
    inst = cmap.astype(np.uint32) * 256 + kmap.astype(np.uint32)
    return cmap, inst.astype(np.uint16), painted


def _write_maps(folder: Path, stem: str, cmap, inst, palette) -> None:
    write_png(folder / "semantic" / f"{stem}.png", cmap.astype(np.uint8))
    write_png(folder / "instance" / f"{stem}.png", inst)
    write_png(folder / "semantic_rgb" / f"{stem}.png", palette[cmap.astype(np.intp)])


# ------------------------------------------------------------------ the writer
def write(dataset: Dataset, path, raster: str | None = None, overlap: str = "zorder", label_table: str = "auto",
          split: str = "training", copy_images: bool = True, image_root=None) -> WriteReport:
    """Write a KITTI segmentation folder.

    Parameters
    ----------
    raster : {"coco", "pil"}, optional
        How polygons and boxes are painted (default: the rule the dataset was
        read with, else ``coco``); each is reported (``L705``).
    overlap : {"zorder", "last"}
        Which of two overlapping annotations owns a pixel (``L701`` reports it).
    label_table : {"auto", "official", "custom"}
        official: categories matched to the Cityscapes ids by name (others not
        painted, ``L702``); custom: the dataset's categories written to
        ``label_colors.txt`` (values: ids when they are label values, else
        ``background`` 0 and the others 1, 2, ...); auto: custom when the
        dataset was read with a custom table or a name is not an official label.
    split : str
        Split folder of items without a split.
    copy_images : bool
        Copy each image into ``<split>/image_2/`` (from ``image_root``, else
        ``meta["image_root"]``); a missing image is noted, not a loss.

    Raises
    ------
    segmill.errors.InputError
        Before anything is written: a name no file can have, an image over
        the pixel limit, a category name ``label_colors.txt`` cannot hold.
    """
    rule = _check_options(dataset, raster, overlap, label_table, split)
    dataset.validate(path)
    return _write_planned(dataset, lambda report: plan_split_items(dataset, split, report), path, rule,
                          (overlap, label_table, split, copy_images, image_root))


def write_stream(stream, path, raster: str | None = None, overlap: str = "zorder", label_table: str = "auto",
                 split: str = "training", copy_images: bool = True, image_root=None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image the write refuses (its name, its size, what
    :meth:`~segmill.model.Dataset.validate` refuses) stops it there (the
    caller stages the folder, so nothing is left of it). Memory holds one
    image and each image's name.
    """
    header = stream.header
    rule = _check_options(header, raster, overlap, label_table, split)
    return _write_planned(header, planned_items(stream, path, plan_split_item, split), path, rule,
                          (overlap, label_table, split, copy_images, image_root))


def _check_options(dataset: Dataset, raster, overlap: str, label_table: str, split) -> str:
    """The raster rule; a UsageError for an unknown option value, before any work."""
    if label_table not in TABLES:
        raise UsageError(f"label_table must be one of {', '.join(TABLES)}; got {brief(label_table)}")
    rule = painting_rule(dataset, raster, overlap)
    if not isinstance(split, str) or split_folder(split) != split:
        raise UsageError(f"split must be a folder name (letters, digits, '_', '.', '-'), got {brief(split)}")
    return rule


def _write_planned(dataset: Dataset, plan, path, rule: str, options: tuple) -> WriteReport:
    """Write the ``(item, split folder, stem)`` triples ``plan(report)`` gives with the categories and meta
    of ``dataset``, each split folder made for its first image."""
    overlap, label_table, split, copy_images, image_root = options
    report = WriteReport()
    table = _custom(dataset, report) if _custom_wanted(dataset, label_table) else _official(dataset, report)
    plan = plan(report)  # the whole dataset: every name checked before anything is written
    out = Path(path)
    made: set = set()
    roots = image_roots(dataset, image_root) if copy_images else []
    missing = 0
    for item, sp, stem in plan:
        if sp not in made:
            _folders(out, sp)
            made.add(sp)
        copied = copy_image(item, roots, out / sp / "image_2", stem, False, report) if copy_images else None
        missing += copy_images and copied is None
        if item.size is None:
            if item.annotations or copied is None:
                report.lose("L005", "image size unknown: no map written", item.id)
            report.items += copied is not None
            continue
        cmap, inst, painted = _paint(item, table, rule, overlap, report)
        _write_maps(out / sp, stem, cmap, inst, table.palette)
        report.files += 3
        report.items += 1
        report.annotations += painted
    if not made:  # no image: the folders of the default split
        _folders(out, split)
    _finish(out, table, missing, report)
    return report


def _folders(out: Path, sp: str) -> None:
    for sub in ("image_2", "instance", "semantic", "semantic_rgb"):
        (out / sp / sub).mkdir(parents=True, exist_ok=True)


def _finish(out: Path, table: _Table, missing: int, report: WriteReport) -> None:
    if table.entries is None:
        report.notes.append("label table: the official KITTI (Cityscapes) labels (ids 0..33)")
    else:
        (out / LABEL_COLORS).write_text(label_colors_text(table.entries), encoding="utf-8")
        report.files += 1
        report.notes.append(f"label table: custom, {len(table.entries)} labels written to {LABEL_COLORS}")
        note_spaced_names([e.name for e in table.entries], report)
    if missing:
        report.notes.append(f"{missing} image(s) not found: maps written without them (sizes are in the maps)")
