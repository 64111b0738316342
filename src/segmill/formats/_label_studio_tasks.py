"""Label Studio exports as a list of tasks: the JSON export as it is, the JSON-MIN export regrouped.

A task of the JSON export is ``{"id", "data": {"image": <reference>, ...},
"annotations": [...], "predictions": [...], ...}``; each annotation (and
prediction) holds a ``result`` list. The JSON-MIN export (and the CSV-like
"min" form of label-studio-converter) writes one flat record per annotation:
the task's data keys, ``id``, ``annotator``, ``annotation_id`` and, under each
control tag's name, the list of its region values (no ``type``; the
``<kind>labels`` key of a value names its kind). :func:`as_tasks` turns such
records into tasks of the JSON export, one per task id, one annotation per
record, so that one reader serves both.

Image references are kept verbatim; :func:`local_name` maps one to a path
relative to the image root.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ..errors import InputError
from ..validate import brief

__all__ = ["MIN_KEYS", "is_task", "as_tasks", "layout_of", "image_reference", "local_name", "annotator_of"]

#: The keys of a JSON-MIN record that are not task data nor control tags.
MIN_KEYS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement")


def is_task(rec) -> bool:
    """Whether a record is a task of the JSON export (it has ``data``) rather than a JSON-MIN record."""
    return isinstance(rec, dict) and "data" in rec


def _regions(value) -> bool:
    """Whether a JSON-MIN field holds region values: a list of objects."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _min_results(rec: dict) -> list[dict]:
    """The results of a JSON-MIN record, as the JSON export writes them (``type`` left empty)."""
    out = []
    for key, values in rec.items():
        if key in MIN_KEYS or not _regions(values):
            continue
        for v in values:
            value = {k: x for k, x in v.items() if k not in ("original_width", "original_height", "id", "score")}
            r = {"type": "", "value": value, "from_name": key}
            for k in ("original_width", "original_height", "id", "score"):
                if k in v:
                    r[k] = v[k]
            out.append(r)
    return out


def as_tasks(records: list) -> tuple[list, str]:
    """``(tasks, layout)``: the records as tasks, ``layout`` ``"json"`` or ``"json-min"``.

    JSON-MIN records are grouped by ``id`` (else by their image reference),
    in order of first appearance; a record that is not an object is left as
    it is (the reader refuses it with its position).
    """
    if layout_of(next((r for r in records if isinstance(r, dict)), None)) == "json":
        return records, "json"
    tasks: dict = {}
    out = []
    for k, rec in enumerate(records):
        if not isinstance(rec, dict) or is_task(rec):
            out.append(rec)
            continue
        data = {key: v for key, v in rec.items() if key not in MIN_KEYS and not _regions(v)}
        key = ("id", rec["id"]) if _hashable(rec.get("id")) else ("data", _frozen(data), k)
        task = tasks.get(key)
        if task is None:
            task = {"data": data, "annotations": []}
            if "id" in rec:
                task["id"] = rec["id"]
            tasks[key] = task
            out.append(task)
        ann = {"result": _min_results(rec)}
        for src, dst in (("annotation_id", "id"), ("annotator", "completed_by"), ("created_at", "created_at"),
                         ("updated_at", "updated_at"), ("lead_time", "lead_time")):
            if src in rec:
                ann[dst] = rec[src]
        task["annotations"].append(ann)
    return out, "json-min"


def layout_of(first: dict | None) -> str:
    """The layout of an export whose first object record is ``first``: ``"json"`` (tasks, or no object at all)
    or ``"json-min"``."""
    if first is None or is_task(first) or "annotations" in first or "predictions" in first:
        return "json"
    return "json-min"


def _hashable(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str)


def _frozen(data: dict):
    try:
        return tuple(sorted((k, v) for k, v in data.items() if isinstance(v, (str, int, float))))
    except TypeError:  # pragma: no cover - keys are strings (JSON)
        return ()


def image_reference(data, path, record) -> tuple[str, str]:
    """``(key, reference)``: ``data["image"]``, else the first text value of the task's data."""
    if not isinstance(data, dict):
        raise InputError(f"task data must be an object, got {brief(data)}", path, record)
    if "image" in data:
        key = "image"
    else:
        key = next((k for k, v in data.items() if isinstance(v, str)), None)
        if key is None:
            raise InputError("task data holds no image reference", path, record)
    ref = data[key]
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"image reference data.{key} must be a non-empty string, got {brief(ref)}", path, record)
    if len(ref) > 4096:
        raise InputError(f"image reference data.{key} is longer than 4096 characters", path, record)
    return key, ref


def local_name(ref: str) -> str:
    """The path, relative to an image root, that an image reference names.

    ``/data/upload/<rest>`` -> ``<rest>`` (Label Studio's upload folder);
    ``/data/local-files/?d=<path>`` -> ``<path>``; ``scheme://host/path``
    (``s3://``, ``gs://``, ``https://`` ...) -> ``host/path``; anything else
    without its leading ``/``. Percent escapes are decoded, query strings
    dropped (except ``?d=``).

    >>> local_name("/data/upload/29/example.png"), local_name("/data/local-files/?d=dir/a%20b.png")
    ('29/example.png', 'dir/a b.png')
    >>> local_name("s3://bucket/x/y.jpg"), local_name("/image1")
    ('bucket/x/y.jpg', 'image1')
    """
    if ref.startswith("/data/upload/"):
        rest = unquote(ref[len("/data/upload/"):].split("?", 1)[0])
    elif ref.startswith("/data/") and "?d=" in ref:
        rest = unquote(ref.split("?d=", 1)[1])
    elif "://" in ref:
        parts = urlsplit(ref)
        rest = unquote(parts.netloc + parts.path)
    else:
        rest = ref
    return rest.replace("\\", "/").lstrip("/")


def annotator_of(completed_by):
    """The annotator an annotation names: an email, else a user id (``completed_by`` or its ``id``)."""
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        if isinstance(email, str) and email:
            return email
        completed_by = completed_by.get("id")
    if isinstance(completed_by, bool) or not isinstance(completed_by, (int, str)):
        return None
    if isinstance(completed_by, str) and (not completed_by or len(completed_by) > 256):
        return None
    return completed_by
