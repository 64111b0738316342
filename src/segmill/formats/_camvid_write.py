"""CamVid writer (layout and facts in :mod:`segmill.formats.camvid`).

Writes ``<split>/<stem><ext>`` (the image, when found), ``<split>annot/<stem>.png``
(every image with a known size gets one, so sizes survive), ``<split>.txt``
(``/<split>/<image> /<split>annot/<stem>.png`` lines, quoted when a path holds
white space) and ``label_colors.txt`` (``r g b name`` lines in value order:
the background black at 0, every other label its own colour).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..losses import WriteReport
from ..model import Dataset
from ..validate import brief
from ._cityscapes_labels import LABEL_COLORS, Entry, label_colors_text
from ._png import write_png
from ._semantic_maps import (
    Painting,
    SemanticCodes,
    check_table_names,
    copy_image,
    distinct_colors,
    image_roots,
    label_values,
    note_spaced_names,
    paint_classes,
    painting_rule,
    plan_split_item,
    report_category_fields,
    split_folder,
)
from ._stream_checks import planned_items

__all__ = ["MODES", "write", "write_stream"]

MODES = ("RGB", "L")
CODES = SemanticCodes(merged="L830", crowd="L831", void="L832")
_EXT = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


def _listable(path: str, rec: str) -> str:
    """``path`` if a list line can hold it (no double quote, no line break); InputError otherwise."""
    if '"' in path or len(path.splitlines()) != 1 or path != path.strip():
        raise InputError(f"the path {brief(path)} cannot be written in a CamVid list (a double quote, a line "
                         "break or surrounding white space)", record=rec)
    return path


def _plan(dataset: Dataset, default_split: str, report: WriteReport) -> list:
    """``[(item, split, stem, image extension)]``: names and painted sizes checked before anything is written."""
    seen: dict = {}
    return [_planned(item, default_split, seen, report) for item in dataset.items]


def _planned(item, default_split: str, seen: dict, report: WriteReport) -> tuple:
    """``(item, split, stem, image extension)`` of one item, its stem unique among ``seen`` (by split)."""
    item, sp, stem = plan_split_item(item, default_split, seen, report, _listable, "split {} written as {!r}")
    ext = Path(item.file_name).suffix.lower() if isinstance(item.file_name, str) else ""
    return item, sp, stem, ext if _EXT.match(ext) else ".png"


def _line(image: str, mask: str | None) -> str:
    paths = [image] + ([mask] if mask else [])
    if any(len(x.split()) > 1 for x in paths):
        return " ".join(f'"{x}"' for x in paths)
    return " ".join(paths)


def write(dataset: Dataset, path, raster: str | None = None, overlap: str = "zorder", split: str = "train",
          mask_mode: str | None = None, copy_images: bool = True, image_root=None) -> WriteReport:
    """Write a CamVid folder.

    Parameters
    ----------
    raster : {"coco", "pil"}, optional
        How polygons and boxes are painted (default: the rule the dataset was
        read with, else ``coco``); each is reported (``L705``).
    overlap : {"zorder", "last"}
        Which of two overlapping annotations owns a pixel (``L701``).
    split : str
        Split (list file) of items without a split.
    mask_mode : {"RGB", "L"}, optional
        Annotation PNGs as label colours or 8-bit class values; default: as
        read, else RGB (Datumaro's default).
    copy_images : bool
        Copy each image into ``<split>/`` (from ``image_root``, else
        ``meta["image_root"]``); a missing image is noted, not a loss.

    Label values: category ids when they are label values (a label-map
    source), else ``background`` 0 and the others 1, 2, ... (``L208``).
    """
    rule = _check_options(dataset, raster, overlap, split, mask_mode)
    dataset.validate(path)
    return _write_planned(dataset, lambda report: _plan(dataset, split, report), path, rule,
                          (overlap, split, mask_mode, copy_images, image_root))


def write_stream(stream, path, raster: str | None = None, overlap: str = "zorder", split: str = "train",
                 mask_mode: str | None = None, copy_images: bool = True, image_root=None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image the write refuses (its name, its size, what
    :meth:`~segmill.model.Dataset.validate` refuses) stops it there (the
    caller stages the folder, so nothing is left of it). Memory holds one
    image and each image's name and list line.
    """
    header = stream.header
    rule = _check_options(header, raster, overlap, split, mask_mode)
    return _write_planned(header, planned_items(stream, path, _planned, split), path, rule,
                          (overlap, split, mask_mode, copy_images, image_root))


def _check_options(dataset: Dataset, raster, overlap: str, split, mask_mode) -> str:
    """The raster rule; a UsageError for an unknown option value, before any work."""
    rule = painting_rule(dataset, raster, overlap, mask_mode, MODES)
    if not isinstance(split, str) or split_folder(split) != split:
        raise UsageError(f"split must be a file name (letters, digits, '_', '.', '-'), got {brief(split)}")
    return rule


def _write_planned(dataset: Dataset, plan, path, rule: str, options: tuple) -> WriteReport:
    """Write the ``(item, split, stem, extension)`` of ``plan(report)`` with the categories and meta of
    ``dataset``."""
    overlap, split, mask_mode, copy_images, image_root = options
    report = WriteReport()
    values, names, colors, _ = label_values(dataset, report, background_zero=True)
    check_table_names(names)
    colors = distinct_colors(names, colors, 0, report, "L833")
    report_category_fields(dataset, report, "L834")
    mode = mask_mode or dataset.meta.get("camvid_mask_mode")
    mode = mode if mode in MODES else "RGB"
    plan = plan(report)  # the whole dataset: every name checked before anything is written
    out = Path(path)
    out.mkdir(parents=True)
    lists = _write_items(dataset, out, plan, (values, colors, mode), Painting(rule, overlap, 0, CODES), report,
                         image_roots(dataset, image_root) if copy_images else None)
    for sp in lists or {split: []}:
        (out / f"{sp}.txt").write_text("".join(ln + "\n" for ln in lists.get(sp, [])), encoding="utf-8")
        report.files += 1
    (out / LABEL_COLORS).write_text(label_colors_text([Entry(v, n, colors[v], None) for v, n in enumerate(names)]),
                                    encoding="utf-8")
    report.files += 1
    note_spaced_names(names, report)
    return report


def _write_items(dataset, out: Path, plan, table, paint: Painting, report: WriteReport, roots) -> dict:
    """Write every image's annotation (and image); ``{split: [list lines]}``."""
    values, colors, mode = table
    palette = np.array(colors, np.uint8).reshape(-1, 3)
    names = {c.id: c.name for c in dataset.categories}
    lists: dict = {}
    missing = 0
    for item, sp, stem, ext in plan:
        image_name = stem + ext
        if roots is not None:
            (out / sp).mkdir(exist_ok=True)
            copied = copy_image(item, roots, out / sp, stem, False, report)
            missing += copied is None
            image_name = copied or image_name
        image_line = f"/{sp}/{_listable(image_name, f'image {brief(item.id)}')}"
        if item.size is None:
            if item.annotations:
                report.lose("L005", "image size unknown: listed without an annotation", item.id)
            lists.setdefault(sp, []).append(_line(image_line, None))
            report.items += 1
            continue
        cmap, painted, _ = paint_classes(item, values, names, paint, report)
        (out / f"{sp}annot").mkdir(exist_ok=True)
        mask = out / f"{sp}annot" / f"{stem}.png"
        write_png(mask, palette[cmap.astype(np.intp)] if mode == "RGB" else cmap.astype(np.uint8))
        lists.setdefault(sp, []).append(_line(image_line, f"/{sp}annot/{stem}.png"))
        report.files += 1
        report.items += 1
        report.annotations += painted
    if missing:
        report.notes.append(f"{missing} image(s) not found: annotations written without them")
    return lists
