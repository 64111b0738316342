"""JSON rendering of an :class:`~segmill.agree.AgreementReport`.

Schema ``segmill.agree/1`` (every ratio is a float in [0, 1], or ``null``
when undefined, e.g. PQ with no instance on either side; kappa and alpha may
be negative):

``schema``, ``annotators`` (names), ``categories`` (names, matched across
annotators), ``settings`` {iou, boundary_tolerance, match_by, reference,
void, unlabeled, raster, and surface_tolerance only when set}

Headline numbers:
  ``pq``, ``sq``, ``rq``
      mean over annotator pairs of each pair's PQ/SQ/RQ (which are
      panopticapi averages over the categories present);
  ``mean_iou``
      mean over pairs of the pixel-level mean IoU over categories;
  ``kappa``
      pixel Cohen's kappa with two annotators, Fleiss' kappa with more;
  ``boundary_f1``
      mean over pairs of the boundary F1 at the tolerance;
  ``hd95``, ``surface_dice``
      with ``--surface``: mean over pairs of each pair's HD95 and surface Dice.

``images``
  {total, compared, complete, missing: [{image, missing_from}], skipped:
  [{image, reason}]}
``unusable_annotations``
  {count, items: [{image, annotator, reason}]} (points, lines, invalid
  geometry, undeclared categories: left out, listed here)
``pairs``: one per annotator pair
  {a, b, images,
  instance: {tp, fp, fn, precision, recall, f1, mean_iou, pq, sq, rq,
  n_classes, per_class: {name: {tp, fp, fn, precision, recall, f1,
  mean_iou, pq, sq, rq}}, label_agreement: {matched, agree, kappa, labels,
  confusion (rows a, columns b)}},
  pixel: {pixels, accuracy, kappa, mean_iou, mean_dice, boundary_f1,
  per_class: {name: {iou, dice, pixels_a, pixels_b, boundary_f1}}},
  surface (with ``--surface``): {tolerance, units, dice, surface_dice, hd95,
  hd, assd, per_class: {name: {images, one_sided, dice, surface_dice, hd95,
  hd, assd}}}}; per-image pair records then add surface_dice and hd95
``multi_rater``
  {pixels (rated by all, non-void), fleiss_kappa, krippendorff_alpha}
``annotator_view``
  {reference, definition, annotators: [{name, sensitivity, specificity,
  iou, pixels, rank}]} (best first)
``lowest_images``
  image keys, lowest agreement first
``consensus`` (only when the CLI built one)
  {method, mode, annotators, images, output, staple: per-rater estimates}
``per_image`` (unless left out)
  [{image, pairs: {"A vs B": {pq, tp, fp, fn, mean_iou, kappa}}, score}]

A metric added through :mod:`segmill.agree.metrics` adds its headline numbers
after ``boundary_f1``, its section of each pair after ``pixel``, and its
top-level sections after ``lowest_images``; the keys above, and their order,
stay as they are.
"""

from __future__ import annotations

from typing import Iterator


def render(report, per_image: bool = True) -> str:
    """The report as indented JSON text (no NaN: undefined values are ``null``)."""
    return "".join(render_chunks(report, per_image))


def render_chunks(report, per_image: bool = True) -> Iterator[str]:
    """:func:`render`'s text as chunks: the per-image records (and the other lists that grow with the
    images) written one at a time."""
    # lazy: start-up time (the JSON writer is needed only here)
    from ..check.report.json import document_chunks

    return document_chunks(report.to_dict(per_image=per_image, spliced=True), ensure_ascii=True)
