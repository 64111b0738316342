"""Writing datasets as label volumes (NIfTI, NRRD): the part both formats share.

Items are grouped into volumes by their ``attributes["volume"]``
(:mod:`segmill.formats._volume_slices`); each slice's annotations are painted
with :func:`segmill.bridges.compose.compose` (a polygon or box is rasterized
and reported, ``L705``; where annotations overlap the ``overlap`` rule picks
the winner and the overwritten pixels are reported, ``L701``) and stacked
into the volume at the slice's index; slices no item gives stay 0.

Items without volume attributes (a dataset from a 2-D format) become the
slices of a volume in item order along the last axis, with spacing 1 and no
orientation (``L890``): one volume ``volume`` when they all have the same
size, else one volume ``volume_<W>x<H>`` per image size. An image without a
known size is refused (:class:`~segmill.errors.InputError`, exit 2) before
anything is written. A dataset without images writes nothing (its
categories reported, ``L004``).

Voxel values are the category ids when every id is an integer 1..65535,
else 1..n in category order (``L891``); a volume read from the other volume
format has its orientation converted (NRRD space directions and origin in an
LPS, RAS or LAS space <-> the NIfTI affine, both as RAS+ world coordinates),
else keeps its spacing only (``L892``); ``values="instance"`` writes the
annotations' ``attributes["instance"]`` (3-D instance ids) instead, numbering
annotations without one after the largest. ``labels.txt`` (ITK-SNAP) names
the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..geometry import AREA_KINDS
from ..losses import WriteReport
from ..model import Dataset, Item
from ..paths import output_name
from ..validate import brief
from ._volume_read import Backend, check_voxels
from ._volume_slices import (
    AXIS_LETTERS,
    VolumePlan,
    put_slice,
    same_volume,
    volume_key,
    volume_of_items,
)
from ._volume_table import MAX_LABEL, LabelEntry, name_ok, table_text
from .options import check_choice, raster_rule

__all__ = ["DTYPES", "write_volumes"]

#: The stored dtypes a volume may be written with (a header naming another one is refused).
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64", "float32", "float64")


@dataclass(frozen=True)
class _Run:
    values: dict  # {category id: label value}
    names: dict  # {category id: name}
    mode: str  # "label" | "instance"
    raster: str
    overlap: str
    report: WriteReport


def write_volumes(dataset: Dataset, path, backend: Backend, *, values: str = "label", overlap: str = "zorder",
                  raster: str | None = None) -> WriteReport:
    """Write ``dataset`` as a folder of label volumes plus ``labels.txt`` (module docs)."""
    check_choice("values", values, ("label", "instance"))
    check_choice("overlap", overlap, ("zorder", "last"))
    raster = raster_rule(dataset, raster)
    report = WriteReport()
    vals, entries = _label_values(dataset, report)
    plans = _plans(dataset, backend, report)
    out = Path(path)
    out.mkdir(parents=True)
    run = _Run(vals, {c.id: c.name for c in dataset.categories}, values, raster, overlap, report)
    for plan in plans:
        if plan.fmt and plan.fmt != backend.fmt and plan.header:
            header = backend.adopt(plan)
            if header is None:
                report.lose("L892", f"volume {brief(plan.name)} was read as {brief(plan.fmt)}: its orientation "
                            "cannot be converted (spacing kept)")
            else:
                plan.header, plan.fmt = header, backend.fmt
                plan.shape = plan.shape3
        arr = _paint_volume(plan, run)
        backend.save(out / f"{plan.name}{backend.ext}", arr, plan)
        report.files += 1
    if plans:
        (out / "labels.txt").write_text(table_text(entries), encoding="utf-8")
    elif dataset.categories:  # a label table alone would be no volume folder: nothing could read it back
        report.lose("L004", f"no image: the {len(dataset.categories)} categories are not written")
    return report


def _label_values(dataset: Dataset, report: WriteReport) -> tuple[dict, list]:
    """``{category id: label value}`` and the label table entries."""
    ids = [c.id for c in dataset.categories]
    if all(type(i) is int and 1 <= i <= MAX_LABEL for i in ids):
        vals = {i: i for i in ids}
    else:
        if len(ids) > MAX_LABEL:
            raise InputError(f"{len(ids)} categories: a label volume holds at most {MAX_LABEL}")
        vals = {c.id: k for k, c in enumerate(dataset.categories, 1)}
        report.lose("L891", "category ids are not label values 1..65535: categories numbered 1..n in order "
                    "(labels.txt keeps their names)")
    entries = []
    for c in dataset.categories:
        name = c.name
        if not name_ok(name):
            name = " ".join(str(name).encode("utf-8", "replace").decode("utf-8").replace('"', "'").split())
            name = name if name_ok(name) else f"label_{vals[c.id]}"
            report.lose("L004", f"category {brief(c.name)} renamed {brief(name)} for labels.txt")
        color = tuple(c.color) if isinstance(c.color, (tuple, list)) and len(c.color) == 3 and all(
            type(x) is int and 0 <= x <= 255 for x in c.color) else None
        entries.append(LabelEntry(vals[c.id], name, color))
    return vals, entries


def _plans(dataset: Dataset, backend: Backend, report: WriteReport) -> list[VolumePlan]:
    """The volumes to write, every slice placed and checked before anything is written."""
    plans: dict[str, VolumePlan] = {}
    loose: list[Item] = []
    for item in dataset.items:
        info = volume_key(item)
        if info is None:
            loose.append(item)
            continue
        plan = volume_of_items(info, item)
        have = plans.get(plan.name)
        if have is None:
            output_name(plan.name, "volume name", None, f"image {brief(item.id)}", suffix=backend.ext)
            check_voxels(plan.shape3, None)
            plans[plan.name] = have = plan
        elif not same_volume(have, plan):
            raise InputError(f"volume {brief(plan.name)}: this slice's volume attributes differ from the first "
                             "slice's", None, f"image {brief(item.id)}")
        _place(have, info, item)
    if loose:
        for plan in _loose_volumes(loose, report):
            if plan.name in plans:
                raise InputError(f"images without volume attributes and a volume named {brief(plan.name)}: the "
                                 "loose images cannot be written as that volume", None, f"image {brief(loose[0].id)}")
            plans[plan.name] = plan
    return list(plans.values())


def _place(plan: VolumePlan, info: dict, item: Item) -> None:
    """Add ``item`` as slice ``info["index"]`` of ``plan``; its size and index checked."""
    rec = f"image {brief(item.id)}"
    index = info.get("index")
    n = plan.shape3[plan.axis]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise InputError(f"volume slice index {brief(index)} is not in 0..{n - 1}", None, rec)
    if info.get("slices") != n:
        raise InputError(f"volume slices {brief(info.get('slices'))} differs from the shape's {n}", None, rec)
    rest = [s for a, s in enumerate(plan.shape3) if a != plan.axis]
    if (item.height, item.width) != (rest[1], rest[0]):
        raise InputError(f"image is {item.width}x{item.height} but slices of volume {brief(plan.name)} along "
                         f"axis {plan.axis} are {rest[0]}x{rest[1]}", None, rec)
    if any(i == index for i, _ in plan.slices):
        raise InputError(f"volume {brief(plan.name)} has two slices {index}", None, rec)
    plan.slices.append((index, item))


def _loose_volumes(items: list[Item], report: WriteReport) -> list[VolumePlan]:
    """Volumes of images without volume attributes: one per image size, slices in item order.

    One size gives one volume ``volume``; several give ``volume_<W>x<H>`` each.
    """
    by_size: dict[tuple, list] = {}
    for it in items:
        if it.height is None or it.width is None:
            raise InputError("image size unknown: it cannot be a slice of a volume", None, f"image {brief(it.id)}")
        by_size.setdefault((it.width, it.height), []).append(it)
    plans = []
    for (w, h), group in by_size.items():
        name = "volume" if len(by_size) == 1 else f"volume_{w}x{h}"
        shape = (w, h, len(group))
        check_voxels(shape, None)
        plan = VolumePlan(name, "", 2, shape, "", (1.0, 1.0, 1.0), {})
        plan.slices = list(enumerate(group))
        plans.append(plan)
    report.lose("L890", f"{len(items)} image(s) without volume attributes written as the slices of "
                f"{len(plans)} volume(s) along axis 2 (one per image size), spacing 1 (their file names are not "
                "kept)")
    return plans


def _dtype(plan: VolumePlan, top: int) -> np.dtype:
    """The stored dtype: the one read when it holds ``top``, else the smallest unsigned one that does."""
    if plan.dtype in DTYPES:
        dt = np.dtype(plan.dtype)
        if dt.kind == "f" or top <= np.iinfo(dt).max:
            return dt
    return np.dtype(np.uint8 if top <= 255 else np.uint16 if top <= 0xFFFF else np.uint32)


def _paint_volume(plan: VolumePlan, run: _Run) -> np.ndarray:
    """The volume array of ``plan``, every slice painted."""
    maps = []
    top = 0
    for index, item in plan.slices:
        plane = _paint_slice(item, run, f"{plan.name}/{AXIS_LETTERS[plan.axis]}_{index:04d}")
        if plane.size:
            top = max(top, int(plane.max()))
        maps.append((index, plane))
    arr = np.zeros(plan.shape3, _dtype(plan, top))
    for index, plane in maps:
        put_slice(arr, plan.axis, index, plane)
    return arr


def _paint_slice(item: Item, run: _Run, derived_id: str = "") -> np.ndarray:
    """One slice's label (or instance) map; what it cannot hold reported.

    ``derived_id`` is the id the reader gives this slice: COCO's ``segmill_id``
    holding it is not a loss.
    """
    # lazy: start-up time (the paint kernels are only needed by writing)
    from ..bridges.compose import compose

    report = run.report
    extra_fields = sorted(k for k in item.attributes if k != "volume") + sorted(
        k for k, v in item.extra.items() if not (k == "segmill_id" and v == derived_id))
    if extra_fields:
        report.lose("L001", f"image fields {extra_fields} have no place in a label volume", item.id)
    ivals = _instance_values(item, run)
    cmap, imap, losses = compose(item, run.values, overlap=run.overlap, raster=run.raster, instance_values=ivals,
                                 void_value=0, category_names=run.names, paint_boxes=True)
    unpainted = set()
    for l in losses:
        report.lose(l.code, l.message, l.item_id, l.annotation_id)
        if l.code in ("L702", "L703"):
            unpainted.add(l.annotation_id)
    for a in item.annotations:
        # an area without pixels under the rule leaves no trace in the volume: it does not read back
        if (isinstance(a.geometry, AREA_KINDS) and a.id not in unpainted
                and a.to_rle(item.height, item.width, run.raster).area == 0):
            report.lose("L703", f"no pixels under the {run.raster} rule: nothing painted", item.id, a.id)
            unpainted.add(a.id)
    report.items += 1
    report.annotations += sum(1 for a in item.annotations if isinstance(a.geometry, AREA_KINDS)
                              and a.id not in unpainted)
    return imap if run.mode == "instance" else cmap


def _instance_values(item: Item, run: _Run) -> list[int]:
    """Each annotation's value in the instance map; what a volume cannot hold reported."""
    report = run.report
    given = [a.attributes.get("instance") for a in item.annotations]
    ok = [v if type(v) is int and 0 < v < 2**32 - 1 else None for v in given]
    nxt = max([v for v in ok if v is not None], default=0) + 1
    out = []
    for a, v in zip(item.annotations, ok):
        if v is None:
            v, nxt = nxt, nxt + 1
        out.append(v)
        lost = sorted(k for k in a.attributes if k != "instance") + sorted(a.extra)
        if lost:
            report.lose("L001", f"fields {lost} have no place in a label volume", item.id, a.id)
        if a.score is not None:
            report.lose("L204", f"score {a.score} dropped", item.id, a.id)
        if a.iscrowd:
            report.lose("L203", "crowd region written as an ordinary region", item.id, a.id)
    return out


def usage_values(values) -> str:
    if values not in ("label", "instance"):
        raise UsageError(f"values must be label or instance, got {brief(values)}")
    return values
