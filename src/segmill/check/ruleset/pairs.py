"""Consistency rules on pairs of annotations of one image (C001-C003).

Pairs come from :meth:`segmill.check.context.Context.pairs`: boxes are swept
first, pixels are intersected only for overlapping boxes.
"""

from __future__ import annotations

from ..registry import Hit, rule


def _pairs(ctx):
    for it in ctx.dataset.items:
        if ctx.size(it) is None:
            continue
        for p in ctx.pairs(it):
            yield it, it.annotations[p.i], it.annotations[p.j], p


def _data(p, a, b, **extra):
    return {"other_annotation_id": a.id, "iou": p.iou, "overlap": p.overlap, "intersection": p.inter, **extra}


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
    for it, a, b, p in _pairs(ctx):
        if p.overlap >= min_overlap and p.iou < duplicate_iou:
            yield Hit(f"overlaps annotation {a.id} by {p.overlap:.0%} of the smaller one (IoU {p.iou:.2f})",
                      it.id, b.id, _data(p, a, b, min_overlap=min_overlap), key=f"with {a.id}",
                      file=ctx.file_of(it))


@rule("C002", "duplicate-annotation", severity="error",
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
    for it, a, b, p in _pairs(ctx):
        if p.iou >= min_iou and a.category_id == b.category_id:
            yield Hit(f"duplicates annotation {a.id} (same class, IoU {p.iou:.3f})", it.id, b.id,
                      _data(p, a, b, min_iou=min_iou), key=f"with {a.id}", file=ctx.file_of(it))


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
    for it, a, b, p in _pairs(ctx):
        if p.iou >= min_iou and a.category_id != b.category_id:
            yield Hit(f"same object as annotation {a.id} under another class "
                      f"({b.category_id!r} vs {a.category_id!r}, IoU {p.iou:.3f})", it.id, b.id,
                      _data(p, a, b, min_iou=min_iou, category_ids=[a.category_id, b.category_id]),
                      key=f"with {a.id}", file=ctx.file_of(it))
