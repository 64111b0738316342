"""Label Studio reader: tasks -> items, annotations' regions -> annotations (see :mod:`segmill.formats.label_studio`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import jsonio
from ..errors import InputError, UsageError
from ..geometry import InvalidGeometry
from ..images import image_size
from ..model import Annotation, Category, Dataset, Item
from ..paths import resolve_inside
from ..validate import ErrorPolicy, brief, finite, hashable_id, string
from ..validate import image_size as checked_size
from ._label_studio_geometry import kind_of, read_geometry
from ._label_studio_tasks import annotator_of, as_tasks, image_reference, local_name

__all__ = ["ReadSettings", "Reader", "read_tasks", "header", "task_record", "parse_region", "FORMAT"]

FORMAT = "label_studio"


@dataclass
class ReadSettings:
    """What one read was asked for (the reader's options, checked)."""

    path: Path
    policy: ErrorPolicy
    annotations: str = "all"
    predictions: bool = False
    root: Path | None = None
    layout: str = "json"
    explicit_root: bool = False

    @classmethod
    def of(cls, path, errors, annotations, predictions, image_root) -> "ReadSettings":
        policy = ErrorPolicy.of(errors)
        if not isinstance(annotations, str) or not annotations:
            raise UsageError(f"annotations must be all, latest, none or an annotator's email or id; got "
                             f"{brief(annotations)}")
        if not isinstance(predictions, bool):
            raise UsageError(f"predictions must be True or False, got {brief(predictions)}")
        p = Path(path)
        if image_root is not None:
            try:
                root = Path(image_root)
            except TypeError:
                raise UsageError(f"image_root must be a path, got {brief(image_root)}") from None
            if not root.is_dir():
                raise UsageError(f"image root {str(root)!r} is not a folder")
        else:
            root = p.parent
        return cls(p, policy, annotations, predictions, root, explicit_root=image_root is not None)


def read_tasks(s: ReadSettings) -> Dataset:
    """The dataset of the export at ``s.path``."""
    doc, _ = jsonio.load(s.path)
    if isinstance(doc, dict):
        if "data" not in doc:
            raise InputError("not a Label Studio export: a list of tasks, or one task with 'data', was expected",
                             s.path)
        doc = [doc]
    if not isinstance(doc, list):
        raise InputError(f"not a Label Studio export: a list of tasks was expected, got {type(doc).__name__}",
                         s.path)
    tasks, s.layout = as_tasks(doc)
    ds = header(s)
    reader = Reader(s)
    ds.items = list(reader.items(tasks))
    ds.categories = reader.cats
    if reader.left_out:
        ds.meta["label_studio_left_out"] = reader.left_out
    if not s.policy.keeping:
        ds.validate(s.path)
    return ds


def header(s: ReadSettings) -> Dataset:
    """The dataset without items and categories: the meta of a read (``skipped`` listed there when lenient)."""
    ds = Dataset(meta={"image_root": str(s.root), "label_studio_layout": s.layout})
    if s.predictions:
        ds.meta["label_studio_predictions"] = True
    if not s.policy.raising:
        s.policy.skipped = ds.meta.setdefault("skipped", [])
    return ds


def task_record(task, k: int) -> str:
    """How messages name the ``k``-th task (from 0): by its id, else by its position."""
    return f"task {brief(task.get('id'))}" if isinstance(task, dict) and "id" in task else f"task #{k}"


class Reader:
    """Builds items one task at a time; holds the categories and the next annotation id.

    Parameters
    ----------
    s : ReadSettings
    cats : list of Category, optional
        The categories known before the first task (a stream's first pass):
        a label is added to this list when it is new.
    """

    def __init__(self, s: ReadSettings, cats: list[Category] | None = None):
        self.s = s
        self.cats: list[Category] = [] if cats is None else cats
        self.by_name: dict[str, Category] = {c.name: c for c in self.cats}
        self.next_id = 1
        self.seen: set = set()  # task ids
        self.left_out = 0  # tasks the annotator asked for has no annotation of (not theirs to compare)

    def items(self, tasks, first: int = 0):
        """Yield the item of each task in turn (a bad task raises, or is dropped when lenient); ``first``: the
        position of the first one in the list."""
        s = self.s
        for k, task in enumerate(tasks, first):
            rec = task_record(task, k)
            try:
                item = self.task(task, k, rec)
            except InputError as exc:
                if s.policy.raising:
                    raise
                s.policy.drop(InputError(exc.message, s.path, exc.record or rec))
                continue
            if item is not None:
                yield item

    def labels(self, task, rec: str) -> tuple[bool, list[str]]:
        """``(left out, labels)`` of a task: whether :meth:`task` leaves it out, else the first label of each
        region it reads, in order (the categories it adds, when nothing is refused).

        Nothing but the annotations' results is looked at: a task :meth:`task` refuses may give labels.
        """
        if not isinstance(task, dict):
            return False, []
        groups = self._groups(task, rec)
        if self._left_out(groups):
            return True, []
        out = []
        for g in groups:
            for results in _regions(g["results"])[0] if g["read"] else []:
                labels = _first_labels(_result_labels(results, self.s.path, rec))
                if labels:
                    out.append(labels[0])
        return False, out

    def _left_out(self, groups) -> bool:
        """Whether a task read for one annotator has no annotation of theirs."""
        return self.s.annotations not in _MODES and not any(g["read"] and not g["prediction"] for g in groups)

    # -------------------------------------------------------------- a task
    def task(self, task, k: int, rec: str) -> Item | None:
        """The item of one task; ``None`` when read for one annotator who did not annotate it."""
        s = self.s
        if not isinstance(task, dict):
            raise InputError(f"a task must be an object, got {brief(task)}", s.path, rec)
        tid = self.task_id(task, k, rec)
        if tid in self.seen and not s.policy.keeping:
            raise InputError(f"duplicate task id {brief(tid)}", s.path, rec)
        self.seen.add(tid)
        key, ref = image_reference(task.get("data"), s.path, rec)
        name = self._file_name(ref, rec)
        groups = self._groups(task, rec)
        if self._left_out(groups):
            self.left_out += 1
            return None
        size = self._size(task, groups, name, rec)
        h, w = size if size is not None else (None, None)
        item = Item(tid, name, w, h)
        top = {k2: v for k2, v in task.items() if k2 not in ("annotations", "predictions")}
        sections = [k2 for k2 in ("annotations", "completions", "predictions") if k2 in task]
        item.origin = (FORMAT, {"task": top, "image_key": key, "groups": [g["origin"] for g in groups],
                                "sections": sections})
        for g in groups:
            if g["read"]:
                item.annotations.extend(self._group_annotations(g, size, rec))
        return item

    def task_id(self, task: dict, k: int, rec: str):
        """The item id of the ``k``-th task (from 0): its ``id``, else its position from 1."""
        return hashable_id(task["id"], "task id", self.s.path, rec) if "id" in task else k + 1

    def _file_name(self, ref: str, rec: str) -> str:
        name = local_name(ref)
        parts = name.split("/")
        if not name or "\0" in name or ".." in parts:
            msg = f"image reference {brief(ref)} names no file inside an image folder"
            if not self.s.policy.keeping:
                raise InputError(msg, self.s.path, rec)
        return name

    def _size(self, task, groups, name, rec):
        """``(height, width)`` from the regions' original size, the task's meta, or the image file; or None."""
        s = self.s
        for g in groups:
            if not g["read"]:
                continue
            for r in g["results"]:
                if isinstance(r, dict) and ("original_width" in r or "original_height" in r):
                    try:
                        return checked_size(r.get("original_height"), r.get("original_width"), s.path,
                                            f"{rec} original_height/original_width")
                    except InputError:
                        continue  # that region is refused on its own (see _region)
        meta = task.get("meta")
        if isinstance(meta, dict) and ("original_width" in meta or "original_height" in meta):
            return checked_size(meta.get("original_height"), meta.get("original_width"), s.path,
                                f"{rec} meta.original_height/original_width")
        return self._image_file_size(name, rec)

    def _image_file_size(self, name, rec):
        try:
            target = resolve_inside(self.s.root, name, self.s.path, f"{rec} image")
        except InputError:
            if self.s.explicit_root and not self.s.policy.keeping:
                raise
            return None
        if not target.is_file():
            return None
        return image_size(target, target, f"{rec} image")

    # -------------------------------------------------------------- annotations and predictions
    def _groups(self, task, rec) -> list[dict]:
        """Each annotation / prediction as ``{"origin", "results", "read", "prediction", "head"}``, in order."""
        s = self.s
        out = []
        for section in ("annotations", "completions", "predictions"):
            raw = task.get(section)
            if raw is None:
                continue
            if not isinstance(raw, list):
                raise InputError(f"{section} must be a list, got {brief(raw)}", s.path, rec)
            pred = section == "predictions"
            chosen = _chosen(raw, s.annotations) if not pred else None
            for i, a in enumerate(raw):
                where = f"{rec} {section[:-1]} {brief(a.get('id')) if isinstance(a, dict) else '#' + str(i)}"
                if not isinstance(a, dict) or not isinstance(a.get("result", []), list):
                    s.policy.drop(InputError(f"an {section[:-1]} must be an object with a result list",
                                             s.path, where))
                    continue
                read = s.predictions if pred else i in chosen
                keep_raw = (pred and not s.predictions) or (not pred and s.annotations == "all" and not read)
                if not read and not keep_raw:
                    continue
                head = {k: v for k, v in a.items() if k != "result"}
                origin = {"section": section, "head": head, "raw": None if read else a, "others": []}
                out.append({"origin": origin, "results": a.get("result", []), "read": read, "prediction": pred,
                            "head": head, "where": where})
        return out

    def _group_annotations(self, g, size, rec) -> list[Annotation]:
        attrs = {}
        who = annotator_of(g["head"].get("completed_by"))
        if who is not None and not g["prediction"]:
            attrs["annotator"] = who
        score = None
        if g["prediction"]:
            attrs["prediction"] = True
            mv = g["head"].get("model_version")
            if isinstance(mv, (str, int)) and not isinstance(mv, bool):
                attrs["model_version"] = mv
            if g["head"].get("score") is not None:
                score = self._score(g["head"]["score"], g["where"])
        out = []
        regions, others = _regions(g["results"])
        g["origin"]["others"] = others
        for results in regions:
            ann = self._region(results, size, g, dict(attrs), score)
            if ann is not None:
                out.append(ann)
        return out

    def _score(self, v, where):
        try:
            return finite(v, "score", self.s.path, where)
        except InputError as exc:
            self.s.policy.drop(exc)
            return None

    def _region(self, results, size, g, attrs, score) -> Annotation | None:
        s = self.s
        first = results[0][1]
        where = f"{g['where']} result {results[0][0]}"
        if isinstance(first, dict) and first.get("id") is not None:
            where += f" (id {brief(first.get('id'))})"
        try:
            geom, labels, extra, rscore = parse_region(results, size, s.path, where)
        except InputError as exc:
            if not s.policy.keep_or_drop(exc):
                return None
            geom, labels, extra, rscore = InvalidGeometry([r for _, r in results], exc.message), [], {}, None
        attrs.update(extra)
        if len(labels) > 1:
            attrs["labels"] = list(labels)
        ann = Annotation(self.next_id, self._category(labels[0]) if labels else None, geom,
                         score=rscore if rscore is not None else score, attributes=attrs)
        self.next_id += 1
        ann.origin = (FORMAT, {"group": g["origin"], "results": [r for _, r in results]})
        return ann

    def _category(self, name: str):
        cat = self.by_name.get(name)
        if cat is None:
            cat = Category(len(self.cats) + 1, name)
            self.cats.append(cat)
            self.by_name[name] = cat
        return cat.id


#: The ``annotations=`` values that are not an annotator.
_MODES = ("all", "latest", "none")


def _chosen(raw: list, mode: str) -> set[int]:
    """Positions of the annotations read under ``annotations=mode`` (cancelled ones never)."""
    live = [i for i, a in enumerate(raw)
            if isinstance(a, dict) and not (a.get("was_cancelled") is True or a.get("skipped") is True)]
    if mode == "all":
        return set(live)
    if mode == "none":
        return set()
    if mode == "latest":
        if not live:
            return set()
        stamp = lambda i: next((v for v in (raw[i].get("updated_at"), raw[i].get("created_at")) if isinstance(v, str)),
                               "")
        return {max(live, key=lambda i: (stamp(i), i))}
    return {i for i in live if _names(raw[i].get("completed_by"), mode)}


def _names(completed_by, wanted: str) -> bool:
    """Whether ``completed_by`` (an id, or a user object) is the annotator ``wanted`` (email or id)."""
    if isinstance(completed_by, dict):
        return any(str(v) == wanted for v in (completed_by.get("email"), completed_by.get("id")) if v is not None)
    return completed_by is not None and not isinstance(completed_by, (dict, list)) and str(completed_by) == wanted


def _regions(results: list) -> tuple[list[list[tuple[int, dict]]], list]:
    """Results grouped by region ``id`` (in order); and the results that are no region (choices, text...)."""
    groups: dict = {}
    order: list = []
    for k, r in enumerate(results):
        rid = r.get("id") if isinstance(r, dict) else None
        key = ("id", rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else ("pos", k)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((k, r))
    regions, others = [], []
    for key in order:
        members = groups[key]
        if any(_is_region(r) for _, r in members) or any(not isinstance(r, dict) for _, r in members):
            regions.append(members)
        else:
            others.extend(r for _, r in members)
    return regions, others


def _is_region(r) -> bool:
    if not isinstance(r, dict) or not isinstance(r.get("value"), dict):
        return False
    rtype = r.get("type", "")
    return isinstance(rtype, str) and kind_of(rtype, r["value"]) is not None


def parse_region(results, size, path, where):
    """``(geometry, labels, attributes, score)`` of one region's results."""
    geom_result, attrs = None, {}
    found = _result_labels(results, path, where)
    labels = _first_labels(found)
    for (_, r), lab in zip(results, found):
        rtype, value = r.get("type", ""), r["value"]
        kind = kind_of(rtype, value)
        if kind is not None and geom_result is None:
            geom_result = (kind, r)
        if kind is None and lab is None:
            name = r.get("from_name") if isinstance(r.get("from_name"), str) else rtype
            attrs[name] = value.get(rtype, value)
    if geom_result is None:
        raise InputError("no result of this region holds a shape", path, where)
    kind, r = geom_result
    rsize = size
    if "original_width" in r or "original_height" in r:
        rsize = checked_size(r.get("original_height"), r.get("original_width"), path,
                             f"{where} original_height/original_width")
        if size is not None and rsize != size:
            raise InputError(f"the region's original size {rsize[1]}x{rsize[0]} differs from the image's "
                             f"{size[1]}x{size[0]}", path, where)
    if rsize is None:
        raise InputError("no original_width/original_height and no image to take the size from", path, where)
    geom = read_geometry(kind, r["value"], rsize, path, where)
    score = finite(r["score"], "score", path, where) if r.get("score") is not None else None
    return geom, labels, attrs, score


def _result_labels(results, path, where) -> list:
    """The label list of each result of a region (``None`` where it has none), each result's types checked."""
    out = []
    for k, r in results:
        if not isinstance(r, dict):
            raise InputError(f"a result must be an object, got {brief(r)}", path, where)
        rtype = r.get("type", "")
        value = r.get("value")
        if not isinstance(rtype, str) or not isinstance(value, dict):
            raise InputError(f"a result needs a string type and an object value, got type {brief(rtype)}",
                             path, where)
        out.append(_labels(rtype, value, path, where))
    return out


def _first_labels(found: list) -> list[str]:
    """The labels of a region from :func:`_result_labels`: its first result's list (``[]`` when none has one)."""
    return next((x for x in found if x is not None), None) or []


def _labels(rtype, value, path, where):
    """The label list of a result (``value[<kind>labels]`` or ``value.labels``), or None."""
    key = rtype if rtype.endswith("labels") and rtype in value else next(
        (k for k in value if isinstance(k, str) and k.endswith("labels")), None)
    if key is None:
        return None
    labels = value[key]
    if not isinstance(labels, list):
        raise InputError(f"value.{key} must be a list of label names, got {brief(labels)}", path, where)
    return [string(x, f"value.{key} entry", path, where) for x in labels]
