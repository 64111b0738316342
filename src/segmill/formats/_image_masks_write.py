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
    plan_split_items,
    report_category_fields,
)

__all__ = ["META", "MODES", "write"]

META = "dataset_meta.json"
MODES = ("L", "RGB")
CODES = SemanticCodes(merged="L840", crowd="L841", void="L842")


class _Labels(NamedTuple):
    """What painting a mask needs: values by category id, names by value, colours by value (RGB) or None."""

    values: dict
    names: list
    palette: np.ndarray | None


def _write_items(dataset: Dataset, out: Path, plan, labels: _Labels, painting: Painting, roots, report) -> None:
    """Every image's mask (and image)."""
    names_by_id = {c.id: c.name for c in dataset.categories}
    missing = 0
    for item, part, stem in plan:
        copied = copy_image(item, roots, out / part / "images", stem, False, report) if roots is not None else None
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
        write_png(out / part / "masks" / f"{stem}.png",
                  labels.palette[cmap.astype(np.intp)] if labels.palette is not None else cmap)
        report.files += 1
        report.items += 1
        report.annotations += painted
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
    # items with a split go to <split>/ folders (those without to default/); none with one: one folder
    plan = plan_split_items(dataset, "default" if any(item.split for item in dataset.items) else "", report)
    out = Path(path)
    doc = json.dumps(_meta_doc(names, colors, bg), indent=1)
    for part in sorted({part for _, part, _ in plan} or {""}):
        (out / part / "masks").mkdir(parents=True)
        (out / part / "images").mkdir()
        (out / part / META).write_text(doc, encoding="utf-8")
        report.files += 1
    palette = np.array(colors, np.uint8).reshape(-1, 3) if mode == "RGB" else None
    _write_items(dataset, out, plan, _Labels(values, names, palette), Painting(rule, overlap, bg, CODES),
                 image_roots(dataset, image_root) if copy_images else None, report)
    return report
