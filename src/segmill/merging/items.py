"""Images matched by file name across sources: one merged image per name, annotations unioned, duplicates found."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from ..errors import InputError
from ..model import Annotation, Dataset, Item
from ..validate import brief
from .dedupe import Entry, find_duplicates
from .fields import COMBINED, CONFLICT, Fields, MergeConflictError
from .ids import IdPool
from .report import Duplicate, MergeReport, named
from .settings import MergeSettings

__all__ = ["ItemTable", "image_key"]


def image_key(file_name, match_by: str = "file_name") -> str:
    """What images are matched by: the file name with ``/`` separators and no leading ``./``; or its base name."""
    name = file_name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.rsplit("/", 1)[-1] if match_by == "base_name" else name


@dataclass
class _Group:
    """One merged image while sources are added."""

    id: object
    first: Item
    source: int
    size: dict  # "width"/"height" -> (value, source)
    fields: Fields  # split
    attributes: Fields
    extra: Fields
    entries: list[Entry] = field(default_factory=list)

    @property
    def hw(self):
        h, w = self.size["height"][0], self.size["width"][0]
        return None if h is None or w is None else (h, w)

    def changed(self) -> bool:
        sized = (self.size["height"][0], self.size["width"][0]) != (self.first.height, self.first.width)
        return sized or self.fields.changed or self.attributes.changed or self.extra.changed or self.id != self.first.id

    def build(self) -> Item:
        """The merged :class:`Item`: a copy of the first one (keeping its origin) when its own fields are unchanged."""
        anns = [e.out for e in self.entries if e.out is not None]
        if not self.changed():
            out = copy.copy(self.first)
            out.annotations, out.attributes, out.extra = anns, dict(self.first.attributes), dict(self.first.extra)
            return out
        h, w = self.hw or (self.size["height"][0], self.size["width"][0])
        return Item(self.id, self.first.file_name, w, h, anns, self.fields.values["split"],
                    dict(self.attributes.values), dict(self.extra.values))


class ItemTable:
    """The merged images, in order of first appearance, with their annotations.

    Parameters
    ----------
    settings : MergeSettings
    report : MergeReport
    labels : list of str
        The sources' names, for messages.
    """

    def __init__(self, settings: MergeSettings, report: MergeReport, labels: list[str]):
        self.settings, self.report, self.labels = settings, report, labels
        self.groups: dict[str, _Group] = {}
        self.image_ids = IdPool()
        self.ann_ids = IdPool()
        self.category_names: dict = {}  # merged category id -> name, kept current by the caller
        self._ann_plan: dict = {}  # the current source's annotation ids -> merged ids

    def add_source(self, s: int, ds: Dataset, cmap: dict) -> dict:
        """Add source ``s`` (from 1) with its category map; its image map ``{image id: merged id}``."""
        rule = ds.meta.get("raster_rule") or "coco"
        seen: dict[str, object] = {}
        keys = [self._key(s, item, seen) for item in ds.items]
        new_ids = self.image_ids.claim_all(it.id for it, k in zip(ds.items, keys) if k not in self.groups)
        self._ann_plan = self.ann_ids.claim_all(a.id for _, a in ds.annotations() if a.id is not None)
        imap: dict = {}
        for item, key in zip(ds.items, keys):
            g = self.groups.get(key)
            g = self.groups[key] = self.add_item(s, item, g, new_ids.get(item.id), cmap, rule)
            imap[item.id] = g.id
        return imap

    def add_item(self, s: int, item: Item, group: _Group | None, new_id, cmap: dict, rule: str,
                 ann_plan: dict | None = None) -> _Group:
        """Add image ``item`` of source ``s`` and its annotations; the merged image it is part of.

        A new merged image with id ``new_id`` when ``group`` is None, else
        ``item`` meets ``group``. ``ann_plan`` (``{annotation id: merged id}``)
        replaces the source's plan made by :meth:`add_source` (a streamed
        merge gives each image's own).
        """
        if ann_plan is not None:
            self._ann_plan = ann_plan
        if group is None:
            group = self._new_group(s, item, new_id)
        else:
            self._meet(s, item, group)
        self._add_annotations(s, item, group, [Entry(a, s, self._category(s, item, a, cmap), rule)
                                               for a in item.annotations])
        return group

    def items(self) -> list[Item]:
        """The merged images, in order."""
        return [g.build() for g in self.groups.values()]

    # ------------------------------------------------------------ images
    def _key(self, s: int, item: Item, seen: dict) -> str:
        key = self.key_of(s, item)
        if key in seen:
            self.repeated(s, key, seen[key], item)
        seen[key] = item.id
        return key

    def key_of(self, s: int, item: Item) -> str:
        """What image ``item`` of source ``s`` is matched by (:func:`image_key`); an InputError when it has
        no file name."""
        if not isinstance(item.file_name, str):
            raise InputError(f"file name must be a string, got {brief(item.file_name)}", self.labels[s - 1],
                             f"image id {brief(item.id)}")
        return image_key(item.file_name, self.settings.match_by)

    def repeated(self, s: int, key: str, first_id, item: Item) -> None:
        """Raise the InputError of two images of source ``s`` (``first_id``, ``item``) with the same ``key``."""
        what = "base name" if self.settings.match_by == "base_name" else "file name"
        raise InputError(f"images {brief(first_id)} and {brief(item.id)} have the same {what} {brief(key)}: "
                         "merge matches images by it", self.labels[s - 1])

    def _new_group(self, s: int, item: Item, new_id) -> _Group:
        if new_id != item.id:
            self.report.note("M002", f"source {s}: image {brief(item.file_name)} id {brief(item.id)} -> "
                             f"{brief(new_id)}", s)
        return _Group(new_id, item, s, {"width": (item.width, s), "height": (item.height, s)},
                      Fields({"split": item.split}, s), Fields(item.attributes, s), Fields(item.extra, s))

    def _meet(self, s: int, item: Item, g: _Group) -> None:
        """Check the size, resolve the other fields of ``item`` against the merged image ``g``."""
        for name in ("width", "height"):
            value, old_s = g.size[name]
            new = getattr(item, name)
            if value is None:
                g.size[name] = (new, s)
            elif new is not None and new != value:
                raise InputError(f"image size differs: {name} {value} in {named(self.labels, old_s)} "
                                 f"but {new} in {named(self.labels, s)}", None,
                                 f"image {brief(item.file_name)}")
        self.report.note("M004", f"image {brief(g.first.file_name)}: source {s} (id {brief(item.id)}) merged into "
                         f"image {brief(g.id)} of source {g.source}", s)
        policy = self.settings.on_conflict
        self._outcome(s, item, "split", g.fields.meet("split", item.split, s, policy), g.fields, "split", item.split)
        for label, fields, values in (("attributes", g.attributes, item.attributes), ("extra", g.extra, item.extra)):
            for k, v in values.items():
                self._outcome(s, item, f"{label}[{brief(k)}]", fields.meet(k, v, s, policy), fields, k, v)

    def _outcome(self, s, item, name, met, fields: Fields, key, value) -> None:
        outcome, old, old_s = met
        if outcome is None:
            return
        where = (f"image {brief(item.file_name)}: {name} is {brief(old)} in {named(self.labels, old_s)} "
                 f"but {brief(value)} in {named(self.labels, s)}")
        if outcome == CONFLICT:
            raise MergeConflictError(f"{where} (--on-conflict first|last|union chooses)")
        kept = fields.values[key]
        if outcome == COMBINED:
            self.report.note("M010", f"{where}: combined into {brief(kept)}", s)
        else:
            self.report.note("M008", f"{where}: {brief(kept)} kept", s)

    # ------------------------------------------------------------ annotations
    def _category(self, s: int, item: Item, ann: Annotation, cmap: dict):
        if ann.category_id is None:
            return None
        try:
            return cmap[ann.category_id]
        except KeyError:
            raise InputError(f"category_id {brief(ann.category_id)} is not a declared category", self.labels[s - 1],
                             f"image id {brief(item.id)}, annotation id {brief(ann.id)}") from None

    def _add_annotations(self, s: int, item: Item, g: _Group, new: list[Entry]) -> None:
        matches = self._duplicates(s, item, g, new) if g.entries and new else {}
        for i, e in enumerate(new):
            if i in matches and self.settings.drop_duplicates:
                continue
            e.out = self._annotation(s, item, e)
            g.entries.append(e)

    def _annotation(self, s: int, item: Item, e: Entry) -> Annotation:
        ann = e.src
        new_id = None if ann.id is None else self._ann_plan[ann.id]
        if new_id != ann.id:
            self.report.note("M003", f"source {s}: annotation {brief(ann.id)} (image {brief(item.file_name)}) -> "
                             f"{brief(new_id)}", s)
        if new_id == ann.id and e.category == ann.category_id:
            out = copy.copy(ann)
            out.attributes, out.extra = dict(ann.attributes), dict(ann.extra)
            return out
        return dataclasses.replace(ann, id=new_id, category_id=e.category, attributes=dict(ann.attributes),
                                   extra=dict(ann.extra))

    def _duplicates(self, s: int, item: Item, g: _Group, new: list[Entry]) -> dict:
        """Find (and report) the entries of ``new`` that duplicate one of the image's earlier entries."""
        threshold = self.settings.dedupe_iou
        if threshold is None:
            return {}
        name = brief(g.first.file_name)
        if g.hw is None:
            self.report.note("M012", f"image {name}: size unknown, {len(new)} annotation(s) of source {s} not "
                             "compared", s)
            return {}
        earlier = g.entries
        matches, bad = find_duplicates(earlier, new, g.hw, threshold)
        for e, reason in bad:
            self.report.note("M012", f"image {name}: source {e.source} annotation {brief(e.src.id)} has no pixels "
                             f"({reason}): not compared", e.source)
        names = self.category_names
        drop = self.settings.drop_duplicates
        for i, m in sorted(matches.items()):
            e, k = new[i], earlier[m.index]
            d = Duplicate(g.first.file_name, names.get(e.category), s, e.src.id, k.source, k.src.id, m.iou, drop)
            self.report.duplicates.append(d)
            self.report.note("M006" if drop else "M005",
                             f"image {name}, category {brief(d.category)}: source {s} annotation {brief(e.src.id)} "
                             f"matches source {k.source} annotation {brief(k.src.id)} (IoU {m.iou:.3f})"
                             + (": dropped" if drop else ""), s)
        return matches
