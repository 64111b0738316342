"""Consistency rules on pairs of annotations of one image (C001-C003).

Pairs come from :meth:`segmill.check.context.Context.pair_table`: boxes are
swept first, pixels are intersected only for overlapping boxes. Each rule
selects its pairs with a numpy mask over the table; only the selected ones
become Python values.
"""

from __future__ import annotations

from itertools import compress
from operator import attrgetter, eq, ne

import numpy as np

from ..engine import HitColumns
from ..fixes.duplicates import DEDUPLICATE, exact_copy
from ..registry import rule

_id = attrgetter("id")
_category = attrgetter("category_id")


def _spans(ctx, selected: np.ndarray):
    """``(item, file, ks)`` per item with selected pairs, in dataset order: ``ks`` are the pair indices."""
    sel = np.flatnonzero(selected)
    if not sel.size:
        return
    for it, s, e in ctx.pair_spans():
        ks = sel[np.searchsorted(sel, s):np.searchsorted(sel, e)]
        if ks.size:
            yield it, ctx.file_of(it), ks


def _formatted(values: np.ndarray, spec: str) -> list[str]:
    """``format(v, spec)`` of each value (as a Python float), each distinct value formatted once.

    Pairs of similar small objects share a few IoU and overlap values; a
    million formatted floats cost more than the rest of a finding.
    """
    uniq, inverse = np.unique(values, return_inverse=True)
    text = [format(v, spec) for v in uniq.tolist()]
    return [text[k] for k in inverse.reshape(-1).tolist()]


def _rows(pt, ks):
    """The selected pairs' values as Python lists: i, j, inter, iou, overlap."""
    return pt.i[ks].tolist(), pt.j[ks].tolist(), pt.inter[ks].tolist(), pt.iou[ks].tolist(), pt.overlap[ks].tolist()


def _pairs(anns, i, j) -> tuple[list, list]:
    """The annotations of each pair (first, second), as lists parallel to ``i`` and ``j``."""
    return list(map(anns.__getitem__, i)), list(map(anns.__getitem__, j))


@rule("C001", "overlapping-instances", severity="info",
      options={"min_overlap": 0.5, "duplicate_iou": 0.9},
      option_docs={"min_overlap": "report when the shared pixels are at least this fraction of the smaller instance",
                   "duplicate_iou": "pairs at or above this IoU are left to C002 / C003"},
      summary="Two non-crowd instances share many pixels.",
      doc="""
      Instances of an image should partition what they cover: a pixel belongs
      to one object. Large overlaps (measured as the shared pixels over the
      smaller instance) usually mean one outline was drawn over another.
      Pairs so alike that they are the same object are C002 / C003's. The
      default severity is info because containment is often legitimate (a tie
      on a person); raise it where instances must not overlap.

      Bad: a person polygon covering 70% of the bicycle polygon beneath it.
      Good: the person's outline stops where the bicycle is visible.
      """)
def overlapping_instances(ctx, min_overlap, duplicate_iou):
    pt = ctx.pair_table()
    selected = (pt.overlap >= min_overlap) & (pt.iou < duplicate_iou)
    whole = _whole_table(ctx, selected)
    if whole is not None:  # every pair at once: one file, each item listed once
        ks, file, item_ids, firsts, seconds = whole
        yield _overlaps(pt, ks, item_ids, firsts, seconds, min_overlap, file)
        return
    for it, file, ks in _spans(ctx, selected):
        i, j = pt.i[ks].tolist(), pt.j[ks].tolist()
        firsts, seconds = _pairs(it.annotations, i, j)
        yield _overlaps(pt, ks, [it.id] * len(firsts), firsts, seconds, min_overlap, file)


def _whole_table(ctx, selected: np.ndarray):
    """``(ks, file, item ids, firsts, seconds)`` of the selected pairs of the whole table, in order.

    None when the findings cannot come as one run (an Item object listed
    twice gets its pairs once per listing; items naming files of their own),
    or when nothing is selected.
    """
    t = ctx.table()
    ks = np.flatnonzero(selected)
    if not ks.size or not t.first.all():
        return None
    pos = ctx.pair_table().item[ks]
    uniq = np.unique(pos).tolist()
    items = t.items
    files = {ctx.file_of(items[p]) for p in uniq}
    if len(files) != 1:
        return None
    pt = ctx.pair_table()
    start = t.start[pos]
    anns = t.anns
    firsts = list(map(anns.__getitem__, (start + pt.i[ks]).tolist()))
    seconds = list(map(anns.__getitem__, (start + pt.j[ks]).tolist()))
    item_ids = list(map(_id, map(items.__getitem__, pos.tolist())))
    return ks, files.pop(), item_ids, firsts, seconds


def _overlaps(pt, ks, item_ids, firsts, seconds, min_overlap, file) -> HitColumns:
    """C001's hits for pairs ``ks`` of the pair table."""
    inter, iou, overlap = pt.inter[ks].tolist(), pt.iou[ks].tolist(), pt.overlap[ks].tolist()
    aids = list(map(_id, firsts))
    return HitColumns(
        [f"overlaps annotation {aid} by {so} of the smaller one (IoU {sv})" for aid, so, sv in
         zip(aids, _formatted(pt.overlap[ks], ".0%"), _formatted(pt.iou[ks], ".2f"))],
        item_ids, list(map(_id, seconds)),
        [{"other_annotation_id": aid, "iou": v, "overlap": o, "intersection": n, "min_overlap": min_overlap}
         for aid, v, o, n in zip(aids, iou, overlap, inter)],
        [f"with {aid}" for aid in aids], file)


@rule("C002", "duplicate-annotation", severity="error", fix=DEDUPLICATE,
      options={"min_iou": 0.9},
      option_docs={"min_iou": "IoU at or above which two same-class annotations are one object"},
      summary="The same object is annotated twice with the same class.",
      doc="""
      Two same-class annotations with nearly the same pixels are one object
      counted twice: a model is penalized for finding it only once.

      Bad: two ``car`` polygons with IoU 0.97 in one image.
      Good: one ``car`` polygon.
      """)
def duplicate_annotation(ctx, min_iou):
    pt = ctx.pair_table()
    for it, file, ks in _spans(ctx, pt.iou >= min_iou):
        rows = _same_class(it.annotations, *_rows(pt, ks), True)
        yield HitColumns([f"duplicates annotation {a.id} (same class, IoU {v:.3f})" for a, b, n, v, o in rows],
                         [it.id] * len(rows), [b.id for a, b, n, v, o in rows],
                         [{"other_annotation_id": a.id, "iou": v, "overlap": o, "intersection": n,
                           "min_iou": min_iou, "exact": exact_copy(a, b)} for a, b, n, v, o in rows],
                         [f"with {a.id}" for a, b, n, v, o in rows], file)


def _same_class(anns, i, j, inter, iou, overlap, same: bool) -> list:
    """``(a, b, inter, iou, overlap)`` of the pairs whose classes are the same (or differ, ``same`` false)."""
    firsts, seconds = _pairs(anns, i, j)
    keep = map(eq if same else ne, map(_category, firsts), map(_category, seconds))
    return list(compress(zip(firsts, seconds, inter, iou, overlap), keep))


@rule("C003", "class-conflict", severity="error",
      options={"min_iou": 0.9},
      option_docs={"min_iou": "IoU at or above which two annotations are one object"},
      summary="The same object is annotated under two classes.",
      doc="""
      Two annotations with nearly the same pixels but different classes are
      an annotator disagreement left in the data: the object is both a ``car``
      and a ``truck`` to the model.

      Bad: a ``car`` and a ``truck`` polygon with IoU 0.95.
      Good: one of them, with the right class.
      """)
def class_conflict(ctx, min_iou):
    pt = ctx.pair_table()
    for it, file, ks in _spans(ctx, pt.iou >= min_iou):
        rows = _same_class(it.annotations, *_rows(pt, ks), False)
        yield HitColumns([f"same object as annotation {a.id} under another class "
                          f"({b.category_id!r} vs {a.category_id!r}, IoU {v:.3f})" for a, b, n, v, o in rows],
                         [it.id] * len(rows), [b.id for a, b, n, v, o in rows],
                         [{"other_annotation_id": a.id, "iou": v, "overlap": o, "intersection": n,
                           "min_iou": min_iou, "category_ids": [a.category_id, b.category_id]}
                          for a, b, n, v, o in rows],
                         [f"with {a.id}" for a, b, n, v, o in rows], file)
