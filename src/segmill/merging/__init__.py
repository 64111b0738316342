"""``segmill.merge``: several datasets into one.

* Categories are matched by name. The merged dataset keeps the first source's
  ids; a later source's category takes the id of the same name, and a new
  name keeps its own id while it is free (else the next free integer). Every
  id that changes is reported (``M001``) and the maps are in the report.
* Images are matched by file name: the image's path relative to its dataset
  root as the reader gives it (``Item.file_name``, ``\\`` read as ``/``, no
  leading ``./``), or its base name with ``match_by="base_name"``. The annotations of
  one image are unioned. Sizes must agree (else an
  :class:`~segmill.errors.InputError`); other fields that differ are
  conflicts, resolved by ``on_conflict``.
* Annotations of one image from different sources with the same class and
  crowd flag whose mask IoU is at least ``dedupe_iou`` are duplicates:
  reported, and with ``drop_duplicates`` the later source's copy is left out.
* Image and annotation ids are kept while free, else renumbered (reported).

Every remap, duplicate and conflict is a note with a code of
:data:`segmill.merging.report.CODES`. The sources are not changed; geometries
are shared between them and the merged dataset. The whole merge is in memory
(the sources and the result).
"""

from __future__ import annotations

from typing import Sequence

from ..errors import UsageError
from ..model import Dataset
from ..validate import brief
from .categories import CategoryTable
from .fields import MergeConflictError, resolve, resolve_keys
from .items import ItemTable, image_key
from .report import CODES, LOSS_CODES, Duplicate, MergeReport, Note, describe
from .settings import DEFAULT_DEDUPE_IOU, MergeSettings

__all__ = ["merge", "MergeReport", "MergeSettings", "MergeConflictError", "Note", "Duplicate", "CODES",
           "LOSS_CODES", "describe", "image_key"]

#: ``meta`` keys that describe one read, not a dataset: never carried into the merged one.
_READ_ONLY_META = ("skipped", "placeholder_images", "orphan_annotations", "read_notes")


def merge(datasets: Sequence[Dataset], on_conflict: str = "error", dedupe_iou: float | None = DEFAULT_DEDUPE_IOU,
          drop_duplicates: bool = False, match_by: str = "file_name",
          names: Sequence[str] | None = None) -> tuple[Dataset, MergeReport]:
    """Merge ``datasets`` into one (see the module docs for the rules).

    Parameters
    ----------
    datasets : sequence of Dataset
        The sources, in priority order (the first one's ids and values win).
    on_conflict : {"error", "first", "last", "union"}
        What a field two sources give different values does (image sizes
        excepted: they must agree). ``error`` raises
        :class:`MergeConflictError`; ``first`` / ``last`` keep the earlier /
        later value; ``union`` combines dicts and lists and keeps the first
        of two scalars. Dataset-level fields (``info``, ``licenses``,
        ``extra``) never raise: the first value is kept (``last``: the last;
        ``union``: combined), reported as ``M009``.
    dedupe_iou : float or None, default 0.95
        IoU at or above which two annotations are duplicates; ``None`` skips
        the search.
    drop_duplicates : bool, default False
        Leave the later copy of each duplicate out.
    match_by : {"file_name", "base_name"}
        Match images by their path relative to the dataset root (``Item.file_name``), or by its base name.
    names : sequence of str, optional
        How messages name the sources; default their ``meta["source_path"]``.

    Returns
    -------
    Dataset, MergeReport

    Raises
    ------
    MergeConflictError
        Two values of one field differ under ``on_conflict="error"``, or two
        categories of one source share a name.
    segmill.errors.InputError
        A source fails :meth:`Dataset.validate`; two images of one source
        have the same file name; one image has two sizes.
    segmill.errors.UsageError
        A bad option value, or fewer than one dataset.
    """
    settings = MergeSettings(on_conflict, dedupe_iou, drop_duplicates, match_by)
    sources = _sources(datasets)
    labels = _labels(sources, names)
    for ds, label in zip(sources, labels):
        ds.validate(label)
    report = MergeReport(sources=labels)
    cats = CategoryTable(on_conflict, report, labels)
    items = ItemTable(settings, report, labels)
    for s, ds in enumerate(sources, 1):
        cmap = cats.add_source(s, ds)
        items.category_names = {m.id: name for name, m in cats.by_name.items()}
        report.category_maps.append(cmap)
        report.image_maps.append(items.add_source(s, ds, cmap))
    out = Dataset(categories=cats.categories(), items=items.items())
    _dataset_fields(out, sources, on_conflict, report)
    out.meta = _meta(sources, report)
    report.items, report.annotations, report.categories = len(out.items), out.num_annotations, len(out.categories)
    return out, report


def _sources(datasets) -> list[Dataset]:
    if isinstance(datasets, Dataset) or not hasattr(datasets, "__iter__"):
        raise UsageError("merge takes a sequence of datasets")
    sources = list(datasets)
    if not sources:
        raise UsageError("merge needs at least one dataset")
    for ds in sources:
        if not isinstance(ds, Dataset):
            raise UsageError(f"merge takes Dataset objects, got {type(ds).__name__}")
    return sources


def _labels(sources: list[Dataset], names) -> list[str]:
    if names is None:
        return [str(ds.meta.get("source_path") or f"source {i}") for i, ds in enumerate(sources, 1)]
    labels = [str(n) for n in names]
    if len(labels) != len(sources):
        raise UsageError(f"{len(labels)} names for {len(sources)} datasets")
    return labels


def _dataset_fields(out: Dataset, sources: list[Dataset], on_conflict: str, report: MergeReport) -> None:
    """``info``, ``licenses`` and ``extra`` of the merged dataset: filled, resolved, never raising (M009/M010)."""
    policy = "first" if on_conflict == "error" else on_conflict
    out.info = None if sources[0].info is None else dict(sources[0].info)
    out.licenses = None if sources[0].licenses is None else list(sources[0].licenses)
    out.extra = dict(sources[0].extra)
    for s, ds in enumerate(sources[1:], 2):
        events = []
        if isinstance(out.info, dict) and isinstance(ds.info, dict):
            out.info, more = resolve_keys(out.info, ds.info, policy)
            events += [(f"info[{brief(k)}]", o) for k, o, _, _ in more]
        else:
            out.info, outcome = resolve(out.info, ds.info, policy)
            events.append(("info", outcome))
        out.licenses, outcome = resolve(out.licenses, ds.licenses, policy)
        events.append(("licenses", outcome))
        out.extra, more = resolve_keys(out.extra, ds.extra, policy)
        events += [(f"extra[{brief(k)}]", o) for k, o, _, _ in more]
        for name, outcome in events:
            if outcome is not None:
                code = "M010" if outcome == "combined" else "M009"
                report.note(code, f"dataset {name}: source {s} differs from the sources before it: "
                            + ("combined" if code == "M010" else "one value kept"), s)


def _meta(sources: list[Dataset], report: MergeReport) -> dict:
    """The first source's ``meta`` without what describes its read only; M013 when the polygon rules differ."""
    meta = {k: v for k, v in sources[0].meta.items() if k not in _READ_ONLY_META}
    rules = [ds.meta.get("raster_rule") or "coco" for ds in sources]
    for s, r in enumerate(rules[1:], 2):
        if r != rules[0]:
            report.note("M013", f"source {s} draws polygons by the {brief(r)} rule, source 1 by the "
                        f"{brief(rules[0])} rule: the output is written with the first", s)
    return meta
