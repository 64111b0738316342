"""Label Studio writer: one JSON export, a task per item (see :mod:`segmill.formats.label_studio`).

Each item becomes a task; its annotations go into one Label Studio
annotation per annotator (``attributes["annotator"]``; one annotation when
none is named) and, for scored or prediction annotations, one prediction per
model version. A region read from Label Studio whose geometry, label and
attributes are unchanged is written back as the results it was read from;
anything else is written anew with percent coordinates that read back to the
same pixel coordinates. What a re-read would not give back is reported.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .._atomic import write_bytes
from ..errors import GeometryError, InputError
from ..geometry import Box, Mask, Polygons, Shape
from ..limits import check_pixels
from ..losses import WriteReport
from ..model import Dataset, origin_of
from ..rle import RLE
from ..validate import brief
from ._label_studio_geometry import box_value, brush_value, point_value, polygon_value
from ._label_studio_list import TaskList
from ._label_studio_read import FORMAT, parse_region
from ._label_studio_tasks import annotator_of, local_name
from ._stored_values import coco_area_bbox, stored_differs
from ._stream_checks import checked_items

__all__ = ["KEPT_ATTRS", "write", "write_stream"]

#: Annotation attributes a Label Studio task holds (as the annotation's annotator, a prediction, extra labels).
KEPT_ATTRS = ("annotator", "prediction", "model_version", "labels")
_LINES = ("linestrip", "line", "polyline")


@dataclass
class _Run:
    """What every task of one write shares."""

    report: WriteReport
    cats: dict
    prefix: str
    tasks: TaskList
    next_read_id: int = 1  # the id the reader gives the next annotation it reads
    next_ls_id: int = 1  # Label Studio annotation / prediction ids made here
    predictions_read: bool = False  # the source was read with predictions: a re-read with them numbers them too
    made: int = 0  # task ids made for images whose id is not an integer
    used: list = field(default_factory=list)  # category names in first use (what a re-read numbers them by)


def write(dataset: Dataset, path, indent: int = 2, image_prefix: str = "") -> WriteReport:
    """Write ``dataset`` as a Label Studio JSON export (a list of tasks) at ``path``.

    Parameters
    ----------
    indent : int, default 2
        JSON indentation (``json.dumps``'s meaning; Label Studio's own export uses 2).
    image_prefix : str, default ""
        Put before an image's file name to make the task's ``data.image``
        when the item does not keep its own reference (read from Label
        Studio): e.g. ``/data/local-files/?d=images/`` for Label Studio's
        local storage, ``s3://bucket/`` for a bucket. A prefix that is an URL
        or a ``/data/`` path gets the name percent-encoded.
    """
    if not isinstance(image_prefix, str):
        raise InputError(f"image_prefix must be a string, got {brief(image_prefix)}")
    dataset.validate(path)
    out = io.BytesIO()  # written only whole: every refusal before anything is written
    tasks = TaskList(out, indent)
    for it in dataset.items:
        if _int(it.id):
            tasks.see_id(it.id)
    report = _write(dataset, dataset.items, tasks, image_prefix)
    write_bytes(Path(path), tasks.out.getvalue())
    return report


def write_stream(stream, path, indent: int = 2, image_prefix: str = "") -> WriteReport:
    """Write the items of ``stream`` (any reader's) as :func:`write` writes them, a task at a time.

    The same file and report as :func:`write` of the whole dataset: each
    task is appended to the list as its item comes (what the later items
    change of the earlier tasks is put right at the end, see
    :mod:`._label_studio_list`). An image the write refuses stops it there
    (the caller stages the file, so nothing is left of it). Memory holds one
    task and the category names used.
    """
    if not isinstance(image_prefix, str):
        raise InputError(f"image_prefix must be a string, got {brief(image_prefix)}")
    Dataset(categories=stream.header.categories).validate(path)
    with open(path, "w+b") as out:
        tasks = TaskList(out, indent)
        try:
            return _write(stream.header, checked_items(stream, path), tasks, image_prefix)
        finally:
            tasks.out.close()


def _write(dataset: Dataset, items, tasks: TaskList, image_prefix: str) -> WriteReport:
    """Write the tasks of ``items`` (a list, or a stream's checked items) with the header of ``dataset``."""
    report = WriteReport()
    run = _Run(report, dataset.category_by_id(), image_prefix, tasks)
    run.predictions_read = dataset.meta.get("label_studio_predictions") is True
    _dataset_losses(dataset, report)
    for item in items:
        if _int(item.id):
            tasks.see_id(item.id)
        _first_use(item, run)
        task, made = _task(item, run)
        tasks.add(task, made)
    _category_losses(dataset, run.used, report)
    tasks.finish(report)
    report.files = 1
    report.items = tasks.count
    return report


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------ losses of the whole dataset
def _dataset_losses(dataset, report) -> None:
    dropped = [k for k in ("info", "licenses") if getattr(dataset, k)] + [str(k) for k in dataset.extra]
    if dropped:
        report.lose("L001", f"dataset fields dropped: {', '.join(dropped)}")


def _first_use(item, run) -> None:
    """Add the names of the categories ``item`` uses first to ``run.used``."""
    for a in item.annotations:
        c = run.cats.get(a.category_id)
        if c is not None and c.name not in run.used and a.geometry is not None:
            run.used.append(c.name)


def _category_losses(dataset, seen, report) -> None:
    """Categories a re-read would not give back: ids 1, 2, ... by first use (``seen``), names only."""
    expect = {name: i for i, name in enumerate(seen, 1)}
    bad = [c.name for c in dataset.categories
           if expect.get(c.name) != c.id or c.supercategory or c.isthing is not None or c.color or c.extra]
    if bad:
        more = " ..." if len(bad) > 5 else ""
        report.lose("L801", f"categories {bad[:5]}{more}: ids, details or unused categories not kept")


# ------------------------------------------------------------------ one task
def _task(item, run: _Run) -> tuple[dict, int | None]:
    """The task of ``item``, and ``k`` when its id is the ``k``-th made up (else ``None``)."""
    report = run.report
    stored = origin_of(item, FORMAT) or {}
    top = dict(stored.get("task") or {})
    tid, made = item.id, None
    if not _int(tid):
        run.made += 1
        made, tid = run.made, run.tasks.made_id(run.made)
        report.lose("L803", f"image id {brief(item.id)} written as task id {tid}", item.id)
    task = {"id": tid, "data": _data(item, stored, top, run)}
    for k, v in top.items():
        if k not in ("id", "data"):
            task[k] = v
    _item_losses(item, report)
    slots = _slots(item, stored, run)
    sections = stored.get("sections") or ("annotations", "predictions")
    for section in dict.fromkeys([*sections, *(s["section"] for s in slots)]):
        task[section] = [_slot_doc(s) for s in slots if s["section"] == section]
    if item.size is not None and not any(s["results"] for s in slots if s["section"] != "predictions"):
        # no region a re-read takes the size from: keep it in the task's meta
        meta = dict(task["meta"]) if isinstance(task.get("meta"), dict) else {}
        meta.update(original_width=item.width, original_height=item.height)
        task["meta"] = meta
    return task, made


def _data(item, stored, top, run) -> dict:
    """The task's ``data``: as read when the image reference still names the item's file, else made."""
    data = top.get("data")
    key = stored.get("image_key", "image")
    if isinstance(data, dict) and isinstance(data.get(key), str) and local_name(data[key]) == item.file_name:
        return dict(data)
    out = dict(data) if isinstance(data, dict) else {}
    prefix = run.prefix
    name = item.file_name or f"image_{item.id}"  # a task needs a reference; L800 below says it is made up
    if prefix.startswith("/data/") or "://" in prefix:
        name = quote(name, safe="/")
    out[key] = prefix + name
    if local_name(out[key]) != item.file_name:
        run.report.lose("L800", f"image {brief(item.file_name)} written as {brief(out[key])}, which reads back "
                                f"as {brief(local_name(out[key]))}", item.id)
    return out


def _item_losses(item, report) -> None:
    dropped = [f"split {item.split!r}"] if item.split is not None else []
    dropped += [str(k) for k in item.attributes] + [str(k) for k in item.extra]
    if dropped:
        report.lose("L001", f"image fields dropped: {', '.join(dropped)}", item.id)


# ------------------------------------------------------------------ annotations and predictions of a task
def _slots(item, stored, run) -> list[dict]:
    """Each Label Studio annotation / prediction of the task with the results it gets, in order."""
    slots, by_origin = [], {}
    for g in stored.get("groups") or []:
        slot = {"section": g["section"], "head": dict(g["head"]), "raw": g["raw"], "results": [],
                "others": list(g["others"])}
        slots.append(slot)
        by_origin[id(g)] = slot
    for ann in item.annotations:
        o = origin_of(ann, FORMAT) or {}
        slot = by_origin.get(id(o.get("group")))
        if slot is None or slot["raw"] is not None or _who(slot) != _wanted(ann):
            slot = _slot_for(ann, slots, run)
        slot["results"].append(ann)
    for slot in slots:
        slot["results"] = _written(slot, item, run)
    return slots


def _wanted(ann) -> tuple:
    """``(prediction?, annotator or model version)``: where an annotation belongs."""
    pred = bool(ann.attributes.get("prediction")) or ann.score is not None
    return pred, ann.attributes.get("model_version" if pred else "annotator")


def _who(slot) -> tuple:
    """``(prediction?, annotator or model version)`` of a Label Studio annotation / prediction."""
    head = slot["head"]
    if slot["section"] == "predictions":
        return True, head.get("model_version")
    return False, annotator_of(head.get("completed_by"))


def _slot_for(ann, slots, run) -> dict:
    """The annotation / prediction of the task that ``ann`` goes to: one of its annotator's, else a new one."""
    want = _wanted(ann)
    for slot in slots:
        if slot["raw"] is None and _who(slot) == want:
            return slot
    pred, who = want
    head = {"id": run.next_ls_id}
    run.next_ls_id += 1
    if pred:
        if who is not None:
            head["model_version"] = who
    else:
        if who is not None:
            head["completed_by"] = who
        head.update(was_cancelled=False, ground_truth=False)
    slot = {"section": "predictions" if pred else "annotations", "head": head, "raw": None, "results": [],
            "others": []}
    slots.append(slot)
    return slot


def _slot_doc(slot) -> dict:
    if slot["raw"] is not None:
        return slot["raw"]
    doc = dict(slot["head"])
    doc["result"] = slot["results"] + slot["others"]
    return doc


def _written(slot, item, run) -> list[dict]:
    """The result dicts of a slot's annotations (reporting losses; counting the ids a re-read gives)."""
    if slot["raw"] is not None:
        return []
    pred = slot["section"] == "predictions"
    out, used = [], {_rid(r) for r in slot["others"]} - {None}
    for ann in slot["results"]:
        regions = _same_results(ann, item, run) or _new_results(ann, item, run, pred)
        if not regions:
            continue
        _annotation_losses(ann, item, run, pred)
        for k, region in enumerate(regions):
            _unique_id(region, used, ann, k)
            if not pred or run.predictions_read:  # predictions are read only when asked
                if k == 0 and ann.id != run.next_read_id:
                    run.report.lose("L804", f"annotation id {brief(ann.id)} reads back as {run.next_read_id}",
                                    item.id, ann.id)
                run.next_read_id += 1
            out.extend(region)
        run.report.annotations += 1
    return out


def _rid(result):
    """A result's region id when the reader groups by it (a string or an integer), else ``None``."""
    rid = result.get("id") if isinstance(result, dict) else None
    return rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None


def _unique_id(region: list[dict], used: set, ann, k: int) -> None:
    """Give a region's results an id no other region of the annotation has (the reader groups results by id)."""
    rid = _rid(region[0])
    if rid is None or rid in used:
        n, rid = 0, f"r{ann.id}" + (f"_{k}" if k else "")
        while rid in used:
            n += 1
            rid = f"r{ann.id}_{k}_{n}"
        for r in region:
            r["id"] = rid
    used.add(rid)


# ------------------------------------------------------------------ one annotation
def _labels(ann, run) -> list[str]:
    cat = run.cats.get(ann.category_id)
    if cat is None:
        return []
    more = ann.attributes.get("labels")
    if isinstance(more, list) and more and more[0] == cat.name and all(isinstance(x, str) for x in more):
        return list(more)
    return [cat.name]


def _same_results(ann, item, run) -> list[list[dict]] | None:
    """The results the annotation was read from, when reading them again gives the same annotation."""
    o = origin_of(ann, FORMAT)
    if not o or not o.get("results"):
        return None
    try:
        geom, labels, attrs, score = parse_region(list(enumerate(o["results"])), item.size, None, "")
    except (InputError, GeometryError):
        return None
    if geom != ann.geometry or labels != _labels(ann, run) or (score is not None and score != ann.score):
        return None
    if any(ann.attributes.get(k) != v for k, v in attrs.items()):
        return None
    rest = {k for k in ann.attributes if k not in KEPT_ATTRS and k not in attrs}
    if rest or ann.extra or ann.iscrowd:
        return None
    return [[dict(r) for r in o["results"]]]


def _values(g, item, ann, report) -> tuple[str, list[dict]]:
    """``(kind, values)`` for a geometry: one value per region written."""
    h, w = item.height, item.width
    if isinstance(g, Polygons):
        if len(g.parts) > 1:
            report.lose("L806", f"a polygon of {len(g.parts)} parts written as {len(g.parts)} regions", item.id,
                        ann.id)
        return "polygon", [polygon_value(p, h, w) for p in g.parts]
    if isinstance(g, Box):
        return "rectangle", [box_value(g, h, w)]
    if isinstance(g, (RLE, Mask)):
        check_pixels(h, w, None, f"image id {brief(item.id)}")
        return "brush", [brush_value(g, h, w)]
    if isinstance(g, Shape) and g.kind in ("point", "points"):
        if len(g.points) != 1:
            report.lose("L808", f"a shape of {len(g.points)} points written as as many keypoints", item.id, ann.id)
        return "keypoint", [point_value(x, y, h, w) for x, y in g.points]
    if isinstance(g, Shape) and g.kind in _LINES and len(g.points) >= 2:
        if g.kind != "linestrip":
            report.lose("L807", f"a {g.kind!r} shape written as an open polygon reads back as a linestrip",
                        item.id, ann.id)
        return "polygon", [dict(polygon_value(g.points, h, w), closed=False)]
    what = f"a {g.kind!r} shape" if isinstance(g, Shape) else f"geometry {type(g).__name__}"
    report.lose("L002", f"{what} has no Label Studio region", item.id, ann.id)
    return "", []


def _new_results(ann, item, run, pred) -> list[list[dict]]:
    report = run.report
    if ann.geometry is None:
        report.lose("L002", "annotation without geometry", item.id, ann.id)
        return []
    if item.size is None:
        report.lose("L005", "regions are written in percent of the image size, which is unknown", item.id, ann.id)
        return []
    kind, values = _values(ann.geometry, item, ann, report)
    if not values:
        return []
    o = origin_of(ann, FORMAT) or {}
    base = next((r for r in o.get("results") or [] if isinstance(r, dict) and isinstance(r.get("value"), dict)),
                {})
    labels = _labels(ann, run)
    out = []
    for k, value in enumerate(values):
        rid = base.get("id") if k == 0 and isinstance(base.get("id"), str) else None
        value[f"{kind}labels"] = list(labels)
        r = {"id": rid, "type": f"{kind}labels", "value": value, "origin": "manual",
             "to_name": base.get("to_name", "image"), "from_name": base.get("from_name", "label"),
             "original_width": item.width, "original_height": item.height, "image_rotation": 0}
        if pred and ann.score is not None:
            r["score"] = ann.score
        out.append([r])
    dropped = [str(k) for k in ann.attributes if k not in KEPT_ATTRS] + [str(k) for k in ann.extra]
    if dropped:
        report.lose("L001", f"annotation fields dropped: {', '.join(dropped)}", item.id, ann.id)
    return out


def _annotation_losses(ann, item, run, pred) -> None:
    report = run.report
    odd = [k for k in ("annotator", "model_version") if k in ann.attributes
           and annotator_of(ann.attributes[k]) != ann.attributes[k]]
    odd += ["labels"] if "labels" in ann.attributes and _labels(ann, run) != ann.attributes["labels"] else []
    odd += ["prediction"] if not isinstance(ann.attributes.get("prediction", False), bool) else []
    if odd:
        report.lose("L001", f"annotation fields Label Studio cannot hold as they are: {', '.join(odd)}", item.id,
                    ann.id)
    if ann.iscrowd:
        report.lose("L802", "crowd region written as an ordinary region", item.id, ann.id)
    if pred and not ann.attributes.get("prediction"):
        report.lose("L809", "a scored annotation written as a prediction (read back with predictions on)",
                    item.id, ann.id)
    if (ann.area is not None or ann.bbox is not None) and _stored_differs(ann, item):
        report.lose("L805", f"stored area {brief(ann.area)} / bbox {brief(ann.bbox)} differ from what a re-read "
                            "recomputes", item.id, ann.id)


def _stored_differs(ann, item) -> bool:
    return stored_differs(ann, lambda: coco_area_bbox(ann.geometry, item))
