"""The check split in parts: per-image rules on parts of a dataset, dataset-level rules over skeletons.

A rule is *per-image* when its findings for an image depend on that image
(and the categories) alone: run on a part, it finds what it finds for those
images in the whole dataset, so the parts' findings, put in order, are the
whole check's. The others compare images (repeated ids or file names,
unused categories, whether any image file exists, classes that have
instances anywhere): they run at the end over a *skeleton* of the dataset,
every item and annotation without its geometry (ids, file names, sizes,
categories, attributes). C007 also needs the pixels of the images that have
VOC instances: those items keep their geometry. A rule this module does not
know (C008 size-outlier, off by default, and any rule added later) runs over
skeletons that keep every geometry: correct, but the dataset is then held.

Two runs use the split: :func:`check_streamed` (a stream, a batch of images
at a time, in one process) and :func:`segmill.distributed.check_sharded`
(shards on a dask cluster). :func:`check_streamed` keeps the skeletons on
disk (:class:`~segmill.spilled.SpilledItems`, 8 bytes an image in memory):
the dataset-level rules read them in passes and keep packed values (ids as
int64, file-name hashes), never an annotation table over the whole dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from .. import _progress, io
from .._entries import Entries, spill_limit
from ..budget import scaled
from ..errors import InputError
from ..model import Dataset
from ..spilled import SpilledItems
from ..streaming import batched
from ._tally import findings_entries
from .config import Config
from .engine import check_datasets
from .registry import select_rules
from .result import CheckResult

__all__ = ["PER_IMAGE_RULES", "SKELETON_EXTRA", "SKELETON_RULES", "as_paths", "assemble", "check_streamed",
           "check_streams", "checked_skeletons", "collect", "keeps_geometry", "only", "skeleton_item", "split_rules"]

#: Rules whose findings for an image depend on that image alone (run on the workers).
PER_IMAGE_RULES = frozenset({f"G{n:03d}" for n in range(1, 17)} | {"C001", "C002", "C003", "C009", "S004", "S008",
                                                                   "S011", "S012"})
#: Dataset-level rules that need no geometry (C007: only that of items with VOC instances).
SKELETON_RULES = frozenset({"S001", "S002", "S003", "S005", "S006", "S007", "S009", "S010", "S013", "S014",
                            "C004", "C005", "C006", "C007"})


def only(cfg: Config, codes) -> Config:
    """``cfg`` running exactly ``codes`` (severities, options and image root kept)."""
    return replace(cfg, select=sorted(codes), extend_select=[], ignore=[])


#: The one empty dict every skeleton record without attributes or extra points to (rules only read them).
_EMPTY: dict = {}


def _bare(obj, **fields):
    """A shallow copy of the dataclass instance ``obj`` with ``fields`` replaced, in a third of the memory.

    Set field by field on a new instance, the copy keeps its values inline
    (``copy.copy`` makes a ``__dict__``: 290 bytes for an annotation against
    about 100), and empty ``attributes`` and ``extra`` are one shared dict.
    """
    out = type(obj).__new__(type(obj))
    put = object.__setattr__
    for k, v in obj.__dict__.items():
        if k in fields:
            v = fields[k]
        elif (k == "attributes" or k == "extra") and not v:
            v = _EMPTY
        put(out, k, v)
    return out


#: The keys of an annotation's ``extra`` that a rule of :data:`SKELETON_RULES` reads (C007: VOC's masks).
SKELETON_EXTRA = ("voc_instance", "voc_semantic")


def _skeleton_extra(extra: dict) -> dict:
    kept = {k: extra[k] for k in SKELETON_EXTRA if k in extra} if extra else None
    return kept or _EMPTY


def skeleton_item(item, keep_geometry: bool):
    """A copy of ``item`` whose annotations have no geometry (unless kept).

    An annotation without its geometry goes without its ``origin`` and with
    only the keys of ``extra`` a dataset-level rule reads
    (:data:`SKELETON_EXTRA`): what a reader kept there to write the record
    again may hold the geometry's own text (SA-1B keeps the compressed RLE
    it read in ``origin``, about 1 KB an annotation, and its point prompts
    and crop box in ``extra``), and no rule reads it. An SA-1B annotation's
    skeleton took 1,190 bytes in memory with them, 3x less without.
    """
    if keep_geometry:
        anns = [_bare(a) for a in item.annotations]
    else:
        anns = [_bare(a, geometry=None, origin=None, extra=_skeleton_extra(a.extra)) for a in item.annotations]
    return _bare(item, annotations=anns)


def keeps_geometry(item, full: bool) -> bool:
    """Whether ``item``'s skeleton keeps its geometry: every item when ``full``, else those with VOC instances."""
    return full or any(a.extra.get("voc_instance") is not None for a in item.annotations if a.extra)


def split_rules(cfg: Config):
    """``(rules, codes, dataset-level codes, keep every geometry?, config of the per-image rules or None)``."""
    rules = select_rules(cfg.select, cfg.ignore, cfg.extend_select)
    codes = [r.code for r in rules]
    per_image = [c for c in codes if c in PER_IMAGE_RULES]
    driver = [c for c in codes if c not in PER_IMAGE_RULES]
    full = any(c not in SKELETON_RULES for c in driver)
    return rules, codes, driver, full, (only(cfg, per_image) if per_image else None)


def assemble(cfg: Config, rules, codes, driver, parts, skeletons, paths) -> CheckResult:
    """The findings in the single-process order: rule by rule, the parts' per-image findings in order
    (``parts``: per path, a ``{code: findings}`` a part), the driver's over ``skeletons`` for the rest.

    The findings are an :class:`~segmill._entries.Entries` (spilled past the memory budget, tallied
    as they come: :func:`segmill.check._tally.findings_entries`); the parts' lists are taken out of
    ``parts`` as they are copied (a spilled one's file goes with it). The driver's findings go to an
    :class:`~segmill._entries.Entries` per rule as they come.
    """
    by_code: dict = {}
    if driver:
        limit = spill_limit(len(driver))
        check_datasets(skeletons, config=only(cfg, driver),
                       sink=lambda code: by_code.setdefault(code, Entries(limit=limit)))
    findings = findings_entries()
    for code in codes:
        if code in PER_IMAGE_RULES:
            for per_path in parts:
                for found in per_path:
                    findings.extend(found.pop(code, ()))  # dropped once copied: spilled lists close their files
        else:
            findings.extend(by_code.pop(code, ()))
    return CheckResult(findings=findings, rules=rules,
                       severities={r.code: cfg.severity.get(r.code, r.severity) for r in rules},
                       fail_on=cfg.fail_on, paths=[str(p) for p in paths],
                       images=sum(len(ds.items) for ds, _ in skeletons),
                       annotations=sum(ds.num_annotations for ds, _ in skeletons))


def checked_skeletons(header: Dataset, items, cfg: Config | None, full: bool, path, size: int,
                      add) -> Iterator:
    """The skeletons of ``items``, the per-image rules run on each batch of ``size`` items on the way.

    Parameters
    ----------
    header : Dataset
        The dataset the items belong to (categories, meta), without items.
    items : iterable of Item
    cfg : Config or None
        The per-image rules (``None``: none run).
    full : bool
        Whether every skeleton keeps its geometry (see :func:`keeps_geometry`).
    path : path
        What the findings name.
    size : int
        Items a batch: what is held at once.
    add : callable
        Called with each batch's findings (rule by rule, in item order).
    """
    for batch in batched(items, size):
        if cfg is not None:
            ds = Dataset(header.categories, batch, header.info, header.licenses, header.extra, dict(header.meta))
            with _progress.paused():
                add(check_datasets([(ds, str(path))], config=cfg).findings)
        for it in batch:
            yield skeleton_item(it, keeps_geometry(it, full))


def collect(found: dict, findings, limit: int) -> None:
    """Add ``findings`` to ``found`` (code -> :class:`~segmill._entries.Entries` keeping ``limit`` in memory)."""
    for f in findings:
        got = found.get(f.code)
        if got is None:
            got = found[f.code] = Entries(limit=limit)
        got.append(f)


def as_paths(paths) -> list:
    """One path or several, as a list."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def check_streamed(paths, *, format: str | None = None, config: Config | None = None,
                   **read_options) -> CheckResult | None:
    """:func:`segmill.check.check_path` over streams, a batch of images at a time (same result), or ``None``.

    The per-image rules run on each batch as it is read; the dataset-level
    rules run at the end over the skeletons of the batches (every item and
    annotation without its geometry, as the workers of
    :func:`segmill.distributed.check_sharded` send them). Memory holds a batch (:data:`segmill.transforms.streamed.BATCH`
    images, scaled by the memory budget), the skeletons and the budget's share of the findings
    (:class:`~segmill._entries.Entries` per rule, the rest in temporary files).

    Returns ``None``, having used nothing of what it read, when a path does
    not stream (a format or a file read whole, a remote path) or holds a
    record the strict stream refuses: the caller then checks the whole read,
    leniently (``errors="keep"``), which reports that record as a finding.
    """
    paths = as_paths(paths)
    # opened one after another, as each is checked: one path's index in memory at a time
    opened = ((p, io.stream_bounded(p, format, **read_options)) for p in paths)
    return check_streams(opened, paths, config=config)


def check_streams(streams, paths, *, config: Config | None = None) -> CheckResult | None:
    """:func:`check_streamed` of streams already open: ``(path, Stream or None)`` per path of ``paths``.

    ``segmill gate`` checks the items it spilled for its diff this way,
    without reading the file again (:func:`segmill.spilled.as_stream`).
    ``None`` as for :func:`check_streamed`, for a ``None`` stream too.
    """
    from ..transforms.streamed import BATCH  # lazy: the transforms are not needed by a whole check

    cfg = config or Config()
    rules, codes, driver, full, worker_cfg = split_rules(cfg)
    limit = spill_limit(len(worker_cfg.select) if worker_cfg is not None else 1)  # the lists of a path share it
    parts, skeletons = [], []
    for p, st in streams:
        if st is None:
            return None
        header, found = st.header, {}

        def add(findings, found=found):
            collect(found, findings, limit)

        try:
            # on disk, not in memory: the dataset-level rules read them in passes, an item at a time
            items = SpilledItems(checked_skeletons(header, _progress.track(st, desc="check"), worker_cfg, full, p,
                                                   scaled(BATCH, 16), add), skeletons=False)
        except InputError:
            return None
        ds = Dataset(header.categories, [], header.info, header.licenses, header.extra, dict(header.meta))
        ds.items = items
        skeletons.append((ds, str(p)))
        parts.append([found])
    return assemble(cfg, rules, codes, driver, parts, skeletons, paths)
