"""Image + mask folder writer (layout and rules in :mod:`segmill.formats.image_masks`).

Writes ``masks/<stem>.png`` for every image with a known size (class values,
or the label colours with ``mask_mode="RGB"``), the image as
``images/<stem><ext>`` when found, and ``dataset_meta.json`` with ``labels``,
``label_map``, ``segmentation_colors`` and ``background_label`` (Datumaro
writes the same keys). Items with splits go to ``<split>/`` folders, one
``dataset_meta.json`` each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..losses import WriteReport
from ..model import Dataset
from ..validate import brief
from ._png import write_png
from ._semantic_maps import (
    BACKGROUND_KEY,
    Painting,
    SemanticCodes,
    copy_image,
    distinct_colors,
    image_roots,
    label_values,
    paint_classes,
    painting_rule,
    plan_split_item,
    report_category_fields,
)
from ._stream_checks import checked_items

__all__ = ["META", "MODES", "write", "write_stream"]

META = "dataset_meta.json"
MODES = ("L", "RGB")
CODES = SemanticCodes(merged="L840", crowd="L841", void="L842")


class _Labels(NamedTuple):
    """What painting a mask needs: values by category id, names by value, colours by value (RGB) or None."""

    values: dict
    names: list
    palette: np.ndarray | None


class _Parts:
    """The folders of one write (``masks/``, ``images/``, ``dataset_meta.json``), each made for its first image.

    Images without a split go to ``default`` (``""``: the root; ``"default"``
    when some image has a split). ``default=None`` (a stream): the root until
    an image with a split comes, when what the root got so far moves to
    ``default/``, as :func:`write` of the whole dataset places it.
    """

    def __init__(self, out: Path, doc: str, default: str | None, report: WriteReport):
        self.out, self.doc, self.default, self.report = out, doc, default, report
        self.made: set = set()
        self.seen: dict = {}  # stems by folder

    def plan(self, item) -> tuple:
        """``(item, folder, stem)``: the item's name checked (:func:`plan_split_item`)."""
        if self.default is None and item.split:
            self._regroup()
        return plan_split_item(item, self.default or "", self.seen, self.report)

    def _regroup(self) -> None:
        """The first image with a split: the images without one go to ``default/``, those written so far too."""
        self.default = "default"
        if "" in self.seen:  # no image had a split: no "default" folder yet
            self.seen["default"] = self.seen.pop("")
        if "" in self.made:
            self.made.remove("")
            (self.out / "default").mkdir()
            for name in ("masks", "images", META):
                (self.out / name).rename(self.out / "default" / name)
            self.made.add("default")

    def folder(self, part: str) -> Path:
        """The folder ``part``, made (with its ``dataset_meta.json``) when it is new."""
        if part not in self.made:
            (self.out / part / "masks").mkdir(parents=True)
            (self.out / part / "images").mkdir()
            (self.out / part / META).write_text(self.doc, encoding="utf-8")
            self.report.files += 1
            self.made.add(part)
        return self.out / part


def _write_items(dataset: Dataset, parts: _Parts, plan, labels: _Labels, painting: Painting, roots, report) -> None:
    """Every image's mask (and image)."""
    names_by_id = {c.id: c.name for c in dataset.categories}
    missing = 0
    for item, part, stem in plan:
        folder = parts.folder(part)
        copied = copy_image(item, roots, folder / "images", stem, False, report) if roots is not None else None
        missing += roots is not None and copied is None
        if item.size is None:
            if item.annotations or copied is None:
                report.lose("L005", "image size unknown: no mask written", item.id)
            report.items += copied is not None
            continue
        cmap, painted, holes = paint_classes(item, labels.values, names_by_id, painting, report)
        if holes is not None and holes.any():
            report.lose("L845", f"{int(holes.sum())} unannotated pixels written as value 0 "
                        f"({brief(labels.names[0])})", item.id)
        write_png(folder / "masks" / f"{stem}.png",
                  labels.palette[cmap.astype(np.intp)] if labels.palette is not None else cmap)
        report.files += 1
        report.items += 1
        report.annotations += painted
    if not parts.made:  # no image: one empty folder
        parts.folder("")
    if missing:
        report.notes.append(f"{missing} image(s) not found: masks written without them")


def _meta_doc(names, colors, background) -> dict:
    doc = {"labels": list(names), "label_map": {str(v): n for v, n in enumerate(names)},
           "segmentation_colors": [list(c) for c in colors]}
    if background is not None:
        doc["background_label"] = str(background)
    return doc


def write(dataset: Dataset, path, raster: str | None = None, overlap: str = "zorder", mask_mode: str | None = None,
          copy_images: bool = True, image_root=None) -> WriteReport:
    """Write image + mask folders.

    Parameters
    ----------
    raster : {"coco", "pil"}, optional
        How polygons and boxes are painted (default: the rule the dataset was
        read with, else ``coco``); each is reported (``L705``).
    overlap : {"zorder", "last"}
        Which of two overlapping annotations owns a pixel (``L701``).
    mask_mode : {"L", "RGB"}, optional
        Masks as class values (8-bit, 16-bit past 255) or label colours;
        default: as read, else L.
    copy_images : bool
        Copy each image into ``images/`` (from ``image_root``, else
        ``meta["image_root"]``); a missing image is noted, not a loss.

    Label values: category ids when they are label values (a label-map
    source), else ``background`` 0 and the others 1, 2, ... (``L208``).
    """
    rule = painting_rule(dataset, raster, overlap, mask_mode, MODES)
    dataset.validate(path)
    # items with a split go to <split>/ folders (those without to default/); none with one: one folder
    default = "default" if any(item.split for item in dataset.items) else ""
    return _write_planned(dataset, lambda parts: [parts.plan(item) for item in dataset.items], default, path,
                          rule, (overlap, mask_mode, copy_images, image_root))


def write_stream(stream, path, raster: str | None = None, overlap: str = "zorder", mask_mode: str | None = None,
                 copy_images: bool = True, image_root=None) -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, an image at a time.

    The same files and report as :func:`write` of the whole dataset; an
    image the write refuses (its name, its size, what
    :meth:`~segmill.model.Dataset.validate` refuses) stops it there (the
    caller stages the folder, so nothing is left of it). Memory holds one
    image and each image's name. Images without a split are written to the
    root until an image with a split comes; they are then moved to
    ``default/`` (:class:`_Parts`).
    """
    header = stream.header
    rule = painting_rule(header, raster, overlap, mask_mode, MODES)
    return _write_planned(header, lambda parts: (parts.plan(item) for item in checked_items(stream, path)), None,
                          path, rule, (overlap, mask_mode, copy_images, image_root))


def _write_planned(dataset: Dataset, plan, default, path, rule: str, options: tuple) -> WriteReport:
    """Write the ``(item, folder, stem)`` triples ``plan(parts)`` gives with the categories and meta of
    ``dataset``; ``default``: the folder of images without a split (None: not known yet, :class:`_Parts`)."""
    overlap, mask_mode, copy_images, image_root = options
    report = WriteReport()
    values, names, colors, bg = label_values(dataset, report)
    meta = dataset.meta
    if meta.get("voc_class_values") and BACKGROUND_KEY in meta and meta[BACKGROUND_KEY] is None:
        bg = None  # read without a background: every value is a class
    mode = mask_mode or dataset.meta.get("image_masks_mode")
    mode = mode if mode in MODES else "L"
    if mode == "RGB":
        colors = distinct_colors(names, colors, bg, report, "L843")
    report_category_fields(dataset, report, "L844", META)
    parts = _Parts(Path(path), json.dumps(_meta_doc(names, colors, bg), indent=1), default, report)
    plan = plan(parts)  # the whole dataset: every name checked before anything is written
    palette = np.array(colors, np.uint8).reshape(-1, 3) if mode == "RGB" else None
    _write_items(dataset, parts, plan, _Labels(values, names, palette), Painting(rule, overlap, bg, CODES),
                 image_roots(dataset, image_root) if copy_images else None, report)
    return report
