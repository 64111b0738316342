"""What changed between two versions of a dataset.

:func:`diff` pairs images by name (:data:`segmill.agree.align.VERSION_RULES`:
the file name, its last component, its stem, then the id, so a round trip
that renumbered ids still pairs the same files) and annotations (rules in
:mod:`segmill.gate._match`), and sorts every change into a kind:

images
    ``added``, ``removed``, ``modified`` (size, file name, metadata or any of
    its annotations changed), ``unchanged``.
annotations
    ``added``, ``removed``; a matched pair is ``unchanged`` or ``modified``,
    and a modified pair is any of ``relabelled`` (its class is not the base
    class's counterpart; a renamed or renumbered class is not a relabel),
    ``reshaped`` (a different geometry value; the IoU of old and new is
    recorded, 1.0 when only the representation changed) and
    ``attributes`` (crowd flag, score, attributes or extra fields, or the
    stored area/bbox of an otherwise unchanged shape). Each kind is counted
    once per pair, so a pair relabelled and reshaped counts in both.
categories
    See :mod:`segmill.gate.categories`.
classes
    Per-class counts and area distributions before and after
    (:mod:`segmill.gate.stats`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._entries import Entries
from ..agree.align import VERSION_RULES, align
from ..model import Annotation, Dataset, Item
from . import _match
from .categories import CategoryDiff, diff_categories, infer_merges
from .stats import ClassStats, class_name_map, class_stats, name_of, percent_change

ANNOTATION_KINDS = ("relabelled", "reshaped", "attributes")


class _Change:
    """What :class:`AnnotationChange` and :class:`ImageChange` share: their JSON form, and their status as
    the ``code`` the lists that hold them count (:class:`segmill._entries.Entries`)."""

    @property
    def code(self) -> str:
        """The change's ``status``."""
        return self.status

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data, tuples (``kinds``, ``reasons``) as lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class AnnotationChange(_Change):
    """One added, removed or modified annotation.

    Attributes
    ----------
    status : {"added", "removed", "modified"}
    image : str
        File name of the image (its id when the name is empty).
    base_id, head_id : int or str or None
    base_class, head_class : str or None
    kinds : tuple of str
        For ``modified``: a subset of :data:`ANNOTATION_KINDS`.
    iou : float or None
        For matched pairs: mask IoU of the old and new geometry (``None``
        when either has no pixels).
    """

    status: str
    image: str
    base_id: Any = None
    head_id: Any = None
    base_class: str | None = None
    head_class: str | None = None
    kinds: tuple[str, ...] = ()
    iou: float | None = None


@dataclass
class ImageChange(_Change):
    """One added, removed or modified image; ``reasons`` says what changed."""

    status: str
    image: str
    base_id: Any = None
    head_id: Any = None
    reasons: tuple[str, ...] = ()


@dataclass
class DatasetDiff:
    """The result of :func:`diff`.

    Attributes
    ----------
    base_label, head_label : str
        What was compared (paths or revisions), for reports.
    match_rule : {"id", "iou"}
        How annotations were paired.
    images, annotations : dict of str to int
        Counts per kind.
    image_changes, annotation_changes : Entries
        Every change, in head order then removed items (list-like; beyond
        a few tens of thousands they wait in a temporary file).
    categories : CategoryDiff
    classes : dict
        ``name -> {"base": ClassStats | None, "head": ClassStats | None}``;
        a renamed class is listed under its head name.
    emptied_images : list of str
        Images in both versions that had annotations and now have none.
    retained : dict
        ``{"images", "annotations", "modified"}``: images in both versions,
        their base annotations, and how many of those were removed,
        relabelled or reshaped to different pixels (IoU < 1).
    """

    base_label: str = "base"
    head_label: str = "head"
    match_rule: str = "id"
    images: dict[str, int] = field(default_factory=dict)
    annotations: dict[str, int] = field(default_factory=dict)
    image_changes: Entries = field(default_factory=Entries)
    annotation_changes: Entries = field(default_factory=Entries)
    categories: CategoryDiff = field(default_factory=CategoryDiff)
    classes: dict[str, dict[str, ClassStats | None]] = field(default_factory=dict)
    emptied_images: list[str] = field(default_factory=list)
    retained: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything at all differs."""
        return bool(self.image_changes or self.categories.changes)

    @property
    def modified_share(self) -> float:
        """Percent of the retained images' base annotations removed, relabelled or reshaped."""
        n = self.retained.get("annotations", 0)
        return 100.0 * self.retained.get("modified", 0) / n if n else 0.0

    def class_drift(self) -> dict[str, dict[str, float | None]]:
        """Per class: percent change of the annotation count and of the mean area."""
        out = {}
        for name, side in self.classes.items():
            b, h = side["base"], side["head"]
            out[name] = {
                "count": percent_change(b.count if b else None, h.count if h else 0),
                "mean_area": percent_change(b.mean_area if b else None, h.mean_area if h else None),
            }
        return out

    def to_dict(self, spliced: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (schema documented in ``docs/ci.md``).

        ``spliced``: the change lists as :class:`~segmill.check.report.json.Spliced` generators, for
        :func:`~segmill.check.report.json.document_chunks` (a report written as it is made).
        """
        drift = self.class_drift()
        from ..check.report.json import Spliced  # lazy: the report writer is needed only for a report

        def changes(entries):
            return Spliced.or_list((c.to_dict() for c in entries), spliced)
        return {
            "base": self.base_label,
            "head": self.head_label,
            "match_rule": self.match_rule,
            "images": dict(self.images),
            "annotations": dict(self.annotations),
            "categories": self.categories.to_dict(),
            "classes": {
                k: {
                    "base": v["base"].to_dict() if v["base"] else None,
                    "head": v["head"].to_dict() if v["head"] else None,
                    "count_change_pct": drift[k]["count"],
                    "mean_area_change_pct": drift[k]["mean_area"],
                }
                for k, v in self.classes.items()
            },
            "emptied_images": list(self.emptied_images),
            "retained": dict(self.retained, modified_pct=self.modified_share),
            "image_changes": changes(self.image_changes),
            "annotation_changes": changes(self.annotation_changes),
        }


def match_images(base: Dataset, head: Dataset) -> ImagePairs:
    """``(base_item, head_item)`` pairs by :data:`segmill.agree.align.VERSION_RULES` (file name, then id).

    In head order, then the images only ``base`` has, in base order; one side
    is ``None`` for an added or removed image.
    """
    return ImagePairs(align([head.items, base.items], VERSION_RULES))


class ImagePairs(Sequence):
    """The pairs :func:`match_images` makes, each pair's items taken from the datasets when it is reached
    (a spilled dataset's one pair at a time: :mod:`segmill.spilled`)."""

    def __init__(self, rows):
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        h, b = self._rows[k].items
        return b, h


def _key(item: Item) -> str:
    return item.file_name or f"<id {item.id!r}>"


def _other_fields_differ(a: Annotation, b: Annotation, reshaped: bool) -> bool:
    if (a.iscrowd, a.score, a.attributes, a.extra) != (b.iscrowd, b.score, b.attributes, b.extra):
        return True
    return not reshaped and (a.area, a.bbox) != (b.area, b.bbox)


def diff(base: Dataset, head: Dataset, *, match: str = "auto", match_iou: float = 0.5,
         base_label: str = "base", head_label: str = "head") -> DatasetDiff:
    """Compare two versions of a dataset.

    Parameters
    ----------
    base, head : Dataset
    match : {"auto", "id", "iou"}
        How annotations are paired inside an image (see :mod:`segmill.gate._match`).
    match_iou : float, default 0.5
        Minimum IoU for an ``"iou"`` pair.
    base_label, head_label : str
        Names for reports.

    Returns
    -------
    DatasetDiff

    Examples
    --------
    >>> from segmill.model import Dataset, Category, Item, Annotation
    >>> from segmill.geometry import Box
    >>> cats = [Category(1, "cat"), Category(2, "dog")]
    >>> a = Dataset(cats, [Item(1, "a.jpg", 10, 10, [Annotation(1, 1, Box(0, 0, 4, 4))])])
    >>> b = Dataset(cats, [Item(1, "a.jpg", 10, 10, [Annotation(1, 2, Box(0, 0, 4, 4))])])
    >>> d = diff(a, b)
    >>> d.annotations["relabelled"], d.annotations["unchanged"], d.images["modified"]
    (1, 0, 1)
    """
    if match not in ("auto", "id", "iou"):
        raise ValueError(f"match must be 'auto', 'id' or 'iou', got {match!r}")
    pairs = match_images(base, head)
    rule = match if match != "auto" else ("id" if _match.ids_are_stable(pairs, base, head, match_iou) else "iou")
    cats = diff_categories(base, head)
    t = _Tally(DatasetDiff(base_label=base_label, head_label=head_label, match_rule=rule), class_name_map(base),
               class_name_map(head), cats.base_to_head)
    for b_item, h_item in pairs:
        if b_item is None:
            t.one_side("added", h_item)
        elif h_item is None:
            t.one_side("removed", b_item)
        else:
            t.both(b_item, h_item, rule, match_iou)
    infer_merges(cats, base, head, t.moves)
    out = t.out
    out.images, out.annotations, out.retained = dict(t.img), dict(t.ann), dict(t.retained)
    out.categories = cats
    # A renamed class is the same class: compare it under its new name.
    renamed = {c.base["name"]: c.head["name"] for c in cats.of_kind("renamed")}
    bs = {renamed.get(k, k): v for k, v in class_stats(base).items()}
    hs = class_stats(head)
    out.classes = {k: {"base": bs.get(k), "head": hs.get(k)} for k in sorted(bs.keys() | hs.keys())}
    return out


class _Tally:
    """The counts and changes of one diff, image pair by image pair."""

    def __init__(self, out: DatasetDiff, b_names: dict, h_names: dict, b2h: dict):
        self.out, self.b_names, self.h_names, self.b2h = out, b_names, h_names, b2h
        self.img = Counter({"added": 0, "removed": 0, "modified": 0, "unchanged": 0})
        self.ann = Counter({k: 0 for k in ("added", "removed", "unchanged", "modified", *ANNOTATION_KINDS)})
        self.moves: Counter = Counter()
        self.retained = Counter({"images": 0, "annotations": 0, "modified": 0})

    def same_class(self, a: Annotation, b: Annotation) -> bool:
        return b.category_id == self.b2h.get(a.category_id, a.category_id)

    def one_side(self, status: str, item) -> None:
        """An image only one version has (``"added"`` or ``"removed"``), with all its annotations."""
        self.img[status] += 1
        self.ann[status] += len(item.annotations)
        side = "head_id" if status == "added" else "base_id"
        names = self.h_names if status == "added" else self.b_names
        cls = "head_class" if status == "added" else "base_class"
        self.out.image_changes.append(ImageChange(status, _key(item), **{side: item.id}))
        for a in item.annotations:
            self.out.annotation_changes.append(AnnotationChange(
                status, _key(item), **{side: a.id, cls: name_of(names, a.category_id)}))

    def both(self, b_item, h_item, rule: str, match_iou: float) -> None:
        """An image both versions have: pair its annotations, count and record what changed."""
        key = _key(h_item)
        self.retained["images"] += 1
        self.retained["annotations"] += len(b_item.annotations)
        if rule == "id":
            apairs, removed, added = _match.match_by_id(b_item.annotations, h_item.annotations)
        else:
            apairs, removed, added = _match.match_by_iou(
                b_item.annotations, h_item.annotations, b_item, h_item, self.same_class, match_iou)
        changes = [AnnotationChange("removed", key, base_id=a.id, base_class=name_of(self.b_names, a.category_id))
                   for a in removed]
        changes += [AnnotationChange("added", key, head_id=a.id, head_class=name_of(self.h_names, a.category_id))
                    for a in added]
        self.ann["removed"] += len(removed)
        self.ann["added"] += len(added)
        self.retained["modified"] += len(removed)
        for a, b, iou in apairs:
            change = self._pair(a, b, iou, b_item, h_item, key)
            if change is not None:
                changes.append(change)
        reasons = _image_reasons(b_item, h_item, changes)
        if b_item.annotations and not h_item.annotations:
            self.out.emptied_images.append(key)
        if reasons:
            self.img["modified"] += 1
            self.out.image_changes.append(ImageChange("modified", key, b_item.id, h_item.id, tuple(reasons)))
            self.out.annotation_changes.extend(changes)
        else:
            self.img["unchanged"] += 1

    def _pair(self, a, b, iou, b_item, h_item, key) -> AnnotationChange | None:
        """The change of one paired annotation, counted; None when it is unchanged."""
        self.moves[(a.category_id, b.category_id)] += 1
        kinds = []
        if not self.same_class(a, b):
            kinds.append("relabelled")
        reshaped = not _match.geometry_same(a, b)
        if reshaped:
            kinds.append("reshaped")
        if _other_fields_differ(a, b, reshaped):
            kinds.append("attributes")
        if not kinds:
            self.ann["unchanged"] += 1
            return None
        self.ann["modified"] += 1
        for k in kinds:
            self.ann[k] += 1
        if not reshaped:
            iou = 1.0 if _match.pair_iou_possible(a, b, b_item, h_item) else None
        elif iou is None:
            iou = _match.pair_iou(a, b, b_item, h_item)
        if "relabelled" in kinds or (reshaped and (iou is None or iou < 1.0)):
            self.retained["modified"] += 1
        return AnnotationChange("modified", key, a.id, b.id, name_of(self.b_names, a.category_id),
                                name_of(self.h_names, b.category_id), tuple(kinds), iou)


def _image_reasons(b_item, h_item, changes: list) -> list[str]:
    """Why a paired image counts as modified (empty: unchanged)."""
    reasons = []
    if b_item.id != h_item.id:
        reasons.append("id")
    if b_item.size != h_item.size:
        reasons.append("size")
    if b_item.file_name != h_item.file_name:
        reasons.append("renamed")
    if (b_item.split, b_item.attributes, b_item.extra) != (h_item.split, h_item.attributes, h_item.extra):
        reasons.append("metadata")
    if changes:
        reasons.append("annotations")
    return reasons
