"""Conversions among YOLO, LabelMe, CVAT and Cityscapes through COCO: the loss report is the only difference.

Each chain reads a fixture, writes COCO, reads it back, writes the target
format, reads that. What must hold, per image (paired in order):

* every pixel of every category is where it was (union of the category's
  area annotations), except when a reported loss says pixels moved (L303 a
  part dropped, L302 crowd dropped, L602 overpainted, L601 category dropped): then it is
  a subset of the source;
* as many area annotations, unless a reported loss says objects were split or
  dropped or overpainted (L501, L303, L304, L302, L601, L602, L604), and one
  by one the same pixels;
* shapes (points, lines) survive, or each one dropped is reported (L002);
* crowd flags survive unless reported (L302, L401, L502);
* category ids and names survive unless reported (L306, L309, L402, L505,
  L601, L606).

Into the label-map formats (voc, masks, coco_panoptic) painting can only take
pixels away, so each category's pixels are equal when nothing is reported and
a subset otherwise.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import segmill
import segmill.formats
from segmill.geometry import Shape
from segmill.rle import merge

SOURCES = {
    "labelme": "labelme/basic",
    "yolo": "yolo/seg",
    "cvat": "cvat/basic",
    "cityscapes": "cityscapes/basic",
}
TARGETS = ("labelme", "yolo", "cvat", "cityscapes")
MOVES_PIXELS = {"L302", "L303", "L310", "L602", "L601", "L604", "L610"}
CHANGES_COUNT = {"L501", "L303", "L304", "L302", "L601", "L602", "L604", "L207", "L609", "L610"}
DROPS_CROWD = {"L302", "L401", "L502", "L608"}
CHANGES_CATEGORIES = {"L208", "L306", "L309", "L402", "L505", "L601", "L606", "L607"}


def _chain(src_fmt, dst_fmt, fixtures_dir, tmp_path):
    src = segmill.read(fixtures_dir / SOURCES[src_fmt], src_fmt)
    r1 = segmill.write(src, tmp_path / "mid.json", "coco")
    mid = segmill.read(tmp_path / "mid.json", "coco")
    opts = {}
    if dst_fmt == "yolo":
        mid.meta["image_root"] = src.meta["image_root"]  # COCO does not say where images are
    r2 = segmill.write(mid, tmp_path / "out", dst_fmt, **opts)
    back = segmill.read(tmp_path / "out", dst_fmt)
    return src, back, Counter(r1.summary()) + Counter(r2.summary())


def _area(item, cats):
    out = {}
    for a in item.annotations:
        if not isinstance(a.geometry, Shape) and a.category_id is not None:
            out.setdefault(cats[a.category_id].name, []).append(a.to_rle(item.height, item.width))
    return {k: merge(v) for k, v in out.items()}


@pytest.mark.parametrize("dst_fmt", TARGETS)
@pytest.mark.parametrize("src_fmt", sorted(SOURCES))
def test_conversion_through_coco_differs_only_by_reported_losses(src_fmt, dst_fmt, fixtures_dir, tmp_path):
    src, back, losses = _chain(src_fmt, dst_fmt, fixtures_dir, tmp_path)
    sc, bc = src.category_by_id(), back.category_by_id()
    if not losses.keys() & CHANGES_CATEGORIES:
        assert [(c.id, c.name) for c in back.categories] == [(c.id, c.name) for c in src.categories]
    assert len(back.items) == len(src.items)
    for s_item, b_item in zip(src.items, back.items):
        assert (b_item.height, b_item.width) == (s_item.height, s_item.width)
        s_px, b_px = _area(s_item, sc), _area(b_item, bc)
        for name, r in b_px.items():
            if losses.keys() & MOVES_PIXELS:
                assert merge([r, s_px[name]], intersect=True) == r, name
            else:
                assert r == s_px[name], name
        if not losses.keys() & MOVES_PIXELS:
            assert set(b_px) == set(s_px)
        s_area = [a for a in s_item.annotations if not isinstance(a.geometry, Shape) and a.category_id is not None]
        b_area = [a for a in b_item.annotations if not isinstance(a.geometry, Shape) and a.category_id is not None]
        if not losses.keys() & CHANGES_COUNT:
            assert len(b_area) == len(s_area)
            if dst_fmt != "cityscapes":  # cityscapes orders annotations by pixel value
                for sa, ba in zip(s_area, b_area):
                    assert ba.to_rle(b_item.height, b_item.width) == sa.to_rle(s_item.height, s_item.width)
        if not losses.keys() & (DROPS_CROWD | CHANGES_COUNT):
            assert sorted(a.iscrowd for a in b_area) == sorted(a.iscrowd for a in s_area)
        n_shapes = sum(isinstance(a.geometry, Shape) for a in s_item.annotations)
        kept = sum(isinstance(a.geometry, Shape) for a in b_item.annotations)
        assert kept == n_shapes - losses.get("L002", 0)


def test_labelme_through_coco_reports_the_two_dropped_shapes_and_otherwise_only_ids(fixtures_dir, tmp_path):
    _, _, losses = _chain("labelme", "labelme", fixtures_dir, tmp_path)
    assert losses["L002"] == 2
    # LabelMe names images by path, numbers shapes in order, and says when an image is not beside its JSON
    assert set(losses) - {"L002"} <= {"L405", "L406", "L407"}


def test_cityscapes_through_coco_is_lossless_and_writes_the_same_pngs(fixtures_dir, tmp_path):
    _, _, losses = _chain("cityscapes", "cityscapes", fixtures_dir, tmp_path)
    assert not losses
    from PIL import Image

    name = "gtFine/train/tiny/tiny_000000_000000_gtFine_instanceIds.png"
    ours = np.asarray(Image.open(tmp_path / "out" / name))
    assert np.array_equal(ours, np.asarray(Image.open(Path(fixtures_dir) / SOURCES["cityscapes"] / name)))


MASK_TARGETS = ("voc", "masks", "coco_panoptic")


@pytest.mark.parametrize("dst_fmt", MASK_TARGETS)
@pytest.mark.parametrize("src_fmt", sorted(SOURCES))
def test_conversion_to_label_map_formats_keeps_pixels_unless_reported(src_fmt, dst_fmt, fixtures_dir, tmp_path):
    src, back, losses = _chain(src_fmt, dst_fmt, fixtures_dir, tmp_path)
    sc, bc = src.category_by_id(), back.category_by_id()
    for s_item, b_item in zip(src.items, back.items):
        s_px, b_px = _area(s_item, sc), _area(b_item, bc)
        for name, r in b_px.items():
            if losses:
                # painting can only take pixels away (overlaps, dropped kinds), and each such loss is reported
                assert merge([r, s_px[name]], intersect=True) == r, name
            else:
                assert r == s_px[name], name
        if not losses:
            assert set(b_px) == set(s_px)


# ------------------------------------------------------------------ the conversion matrix (CLI, bundled fixtures)
MATRIX_SOURCES = {
    "coco": ("coco", "coco/annotations.json"),
    "voc": ("voc", "voc"),
    "masks": ("masks", "masks"),
    "panoptic": ("coco_panoptic", "panoptic"),
    "yolo": ("yolo", "yolo/seg"),
    "labelme": ("labelme", "labelme/basic"),
    "cvat": ("cvat", "cvat/basic"),
    "cityscapes": ("cityscapes", "cityscapes/basic"),
    "kitti": ("kitti", "kitti"),
    "camvid": ("camvid", "camvid"),
    "image_masks": ("image_masks", "image_masks"),
    "ade20k": ("ade20k", "ade20k/basic"),
    "mapillary": ("mapillary", "mapillary/basic"),
    "open_images": ("open_images", "open_images/basic"),
    "label_studio": ("label_studio", "label_studio/tasks.json"),
}
NO_LOSS: frozenset = frozenset()


class Usage(str):
    """An expected usage/input error (exit 2): the text its one-line message must hold."""


#: The outcome of ``segmill convert <fixture> out --from F --to T`` for every pair: the exact set of loss
#: codes reported (exit 0), or :class:`Usage` (exit 2, nothing written). Any other outcome fails.
MATRIX = {
    ("cityscapes", "cityscapes"): NO_LOSS,
    ("cityscapes", "coco"): NO_LOSS,
    ("cityscapes", "coco_panoptic"): NO_LOSS,
    ("cityscapes", "coco_results"): {"L110", "L111", "L112"},
    ("cityscapes", "cvat"): {"L502", "L505"},
    ("cityscapes", "labelme"): {"L001", "L401", "L402", "L406"},
    ("cityscapes", "masks"): {"L203", "L208"},
    ("cityscapes", "voc"): {"L203", "L208"},
    ("cityscapes", "yolo"): {"L302", "L309"},
    ("coco", "cityscapes"): {"L602", "L605", "L607", "L608", "L705"},
    ("coco", "coco"): NO_LOSS,
    ("coco", "coco_panoptic"): {"L001", "L251", "L705"},
    ("coco", "coco_results"): {"L101", "L110", "L111", "L112"},
    ("coco", "cvat"): {"L001", "L502", "L505"},
    ("coco", "labelme"): {"L001", "L401", "L402", "L405", "L406", "L407"},
    ("coco", "masks"): {"L001", "L203", "L208", "L701", "L705"},
    ("coco", "voc"): {"L001", "L203", "L208", "L705"},
    ("coco", "yolo"): {"L001", "L302", "L303", "L305", "L307", "L309"},
    ("cvat", "cityscapes"): {"L002", "L602", "L605", "L606", "L705"},
    ("cvat", "coco"): {"L002"},
    ("cvat", "coco_panoptic"): {"L001", "L251", "L705"},
    ("cvat", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("cvat", "cvat"): NO_LOSS,
    ("cvat", "labelme"): {"L001", "L406"},
    ("cvat", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("cvat", "voc"): {"L002", "L208", "L705"},
    ("cvat", "yolo"): {"L001", "L002", "L305"},
    ("labelme", "cityscapes"): {"L002", "L602", "L605", "L705"},
    ("labelme", "coco"): {"L002"},
    ("labelme", "coco_panoptic"): {"L001", "L251", "L701", "L705"},
    ("labelme", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("labelme", "cvat"): {"L507"},
    ("labelme", "labelme"): NO_LOSS,
    ("labelme", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("labelme", "voc"): {"L002", "L208", "L701", "L705"},
    ("labelme", "yolo"): {"L001", "L002", "L303", "L305"},
    ("masks", "cityscapes"): {"L601"},
    ("masks", "coco"): {"L003"},
    ("masks", "coco_panoptic"): {"L254"},
    ("masks", "coco_results"): {"L110", "L111", "L112"},
    ("masks", "cvat"): {"L505"},
    ("masks", "labelme"): {"L001", "L402", "L405"},
    ("masks", "masks"): NO_LOSS,
    ("masks", "voc"): NO_LOSS,
    ("masks", "yolo"): {"L003", "L303", "L307", "L309"},
    ("panoptic", "cityscapes"): {"L607", "L608"},
    ("panoptic", "coco"): NO_LOSS,
    ("panoptic", "coco_panoptic"): NO_LOSS,
    ("panoptic", "coco_results"): {"L110", "L111", "L112"},
    ("panoptic", "cvat"): {"L001", "L502", "L505"},
    ("panoptic", "labelme"): {"L001", "L401", "L402", "L405", "L406"},
    ("panoptic", "masks"): {"L001", "L203", "L208"},
    ("panoptic", "voc"): {"L001", "L203", "L208"},
    ("panoptic", "yolo"): {"L302", "L307", "L309"},
    ("voc", "cityscapes"): {"L601", "L605", "L705"},
    ("voc", "coco"): {"L003", "L105"},
    ("voc", "coco_panoptic"): {"L001", "L251", "L254"},
    ("voc", "coco_results"): {"L110", "L111", "L112"},
    ("voc", "cvat"): {"L001", "L504", "L505"},
    ("voc", "labelme"): {"L001", "L402", "L405", "L407"},
    ("voc", "masks"): {"L001", "L705"},
    ("voc", "voc"): NO_LOSS,
    ("voc", "yolo"): {"L001", "L003", "L305", "L307", "L308", "L309"},
    ("yolo", "cityscapes"): {"L607", "L705"},
    ("yolo", "coco"): {"L105"},
    ("yolo", "coco_panoptic"): {"L705"},
    ("yolo", "coco_results"): {"L101", "L110", "L111"},
    ("yolo", "cvat"): {"L505"},
    ("yolo", "labelme"): {"L001", "L402", "L406"},
    ("yolo", "masks"): {"L208", "L705"},
    ("yolo", "voc"): {"L208", "L705"},
    ("yolo", "yolo"): NO_LOSS,
    # KITTI, CamVid and image + mask folders (label maps of classes; KITTI also k per instance)
    ("coco", "camvid"): {"L001", "L208", "L701", "L705", "L831", "L834"},
    ("coco", "image_masks"): {"L001", "L208", "L701", "L705", "L841", "L844"},
    ("coco", "kitti"): {"L001", "L208", "L701", "L705", "L820", "L823"},
    ("voc", "camvid"): {"L001", "L705", "L830", "L832"},
    ("voc", "image_masks"): {"L001", "L705", "L840", "L842"},
    ("voc", "kitti"): {"L001", "L705", "L825"},
    ("masks", "camvid"): {"L830", "L832"},
    ("masks", "image_masks"): {"L840", "L842"},
    ("masks", "kitti"): {"L825"},
    ("panoptic", "camvid"): {"L208", "L830", "L831", "L834"},
    ("panoptic", "image_masks"): {"L208", "L840", "L841", "L844"},
    ("panoptic", "kitti"): {"L208", "L820", "L823"},
    ("yolo", "camvid"): {"L208", "L705"},
    ("yolo", "image_masks"): {"L208", "L705"},
    ("yolo", "kitti"): {"L208", "L705"},
    ("labelme", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("labelme", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("labelme", "kitti"): {"L001", "L208", "L701", "L703", "L705"},
    ("cvat", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("cvat", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("cvat", "kitti"): {"L001", "L701", "L703", "L705", "L821"},
    ("cityscapes", "camvid"): {"L208", "L830", "L831", "L833", "L834"},
    ("cityscapes", "image_masks"): {"L208", "L840", "L841", "L844"},
    ("cityscapes", "kitti"): NO_LOSS,
    ("kitti", "camvid"): {"L830", "L831", "L833", "L834"},
    ("kitti", "cityscapes"): NO_LOSS,
    ("kitti", "coco"): {"L105"},
    ("kitti", "coco_panoptic"): NO_LOSS,
    ("kitti", "coco_results"): {"L110", "L111", "L112"},
    ("kitti", "cvat"): {"L502", "L505"},
    ("kitti", "image_masks"): {"L840", "L841", "L844"},
    ("kitti", "kitti"): NO_LOSS,
    ("kitti", "label_studio"): {"L001", "L801", "L802", "L803"},
    ("kitti", "labelme"): {"L001", "L401", "L402", "L406"},
    ("kitti", "masks"): {"L203"},
    ("kitti", "voc"): {"L203"},
    ("kitti", "yolo"): {"L302", "L309"},
    ("camvid", "camvid"): NO_LOSS,
    ("camvid", "cityscapes"): {"L607"},
    ("camvid", "coco"): {"L105"},
    ("camvid", "coco_panoptic"): NO_LOSS,
    ("camvid", "coco_results"): {"L110", "L111", "L112"},
    ("camvid", "cvat"): {"L505"},
    ("camvid", "image_masks"): NO_LOSS,
    ("camvid", "kitti"): NO_LOSS,
    ("camvid", "label_studio"): {"L001", "L801", "L803"},
    ("camvid", "labelme"): {"L001", "L402"},
    ("camvid", "masks"): NO_LOSS,
    ("camvid", "voc"): NO_LOSS,
    ("camvid", "yolo"): {"L309"},
    ("image_masks", "camvid"): NO_LOSS,
    ("image_masks", "cityscapes"): NO_LOSS,
    ("image_masks", "coco"): NO_LOSS,
    ("image_masks", "coco_panoptic"): NO_LOSS,
    ("image_masks", "coco_results"): {"L110", "L111", "L112"},
    ("image_masks", "cvat"): {"L505"},
    ("image_masks", "image_masks"): NO_LOSS,
    ("image_masks", "kitti"): NO_LOSS,
    ("image_masks", "label_studio"): {"L001", "L801", "L803"},
    ("image_masks", "labelme"): {"L001", "L402", "L406"},
    ("image_masks", "masks"): NO_LOSS,
    ("image_masks", "voc"): NO_LOSS,
    ("image_masks", "yolo"): {"L309"},
    # read-only sources: ADE20K (masks and a polygon, parts), Mapillary Vistas v2.0 instances (a void label),
    # Open Images (masks resized to their images; MIDs as category ids)
    ("ade20k", "camvid"): {"L001", "L208", "L701", "L705"},
    ("ade20k", "cityscapes"): {"L602", "L605", "L607", "L705"},
    ("ade20k", "coco"): {"L105"},
    ("ade20k", "coco_panoptic"): {"L001", "L701", "L705"},
    ("ade20k", "coco_results"): {"L101", "L110", "L111", "L112"},
    ("ade20k", "cvat"): {"L001", "L504", "L505"},
    ("ade20k", "image_masks"): {"L001", "L208", "L701", "L705"},
    ("ade20k", "kitti"): {"L001", "L208", "L701", "L705"},
    ("ade20k", "label_studio"): {"L001", "L801", "L803"},
    ("ade20k", "labelme"): {"L001", "L402"},
    ("ade20k", "masks"): {"L001", "L208", "L701", "L705"},
    ("ade20k", "voc"): {"L001", "L205", "L208", "L701", "L705"},
    ("ade20k", "yolo"): {"L001"},
    ("mapillary", "camvid"): {"L208", "L830", "L832", "L834"},
    ("mapillary", "cityscapes"): {"L601", "L607"},
    ("mapillary", "coco"): {"L003", "L105"},
    ("mapillary", "coco_panoptic"): {"L254"},
    ("mapillary", "coco_results"): {"L110", "L111", "L112"},
    ("mapillary", "cvat"): {"L505"},
    ("mapillary", "image_masks"): {"L208", "L840", "L842", "L844"},
    ("mapillary", "kitti"): {"L208", "L820", "L825"},
    ("mapillary", "label_studio"): {"L001", "L801", "L803"},
    ("mapillary", "labelme"): {"L001", "L402", "L406"},
    ("mapillary", "masks"): {"L208"},
    ("mapillary", "voc"): {"L208"},
    ("mapillary", "yolo"): {"L003", "L309"},
    ("open_images", "camvid"): {"L001", "L208", "L701"},
    ("open_images", "cityscapes"): {"L602", "L605", "L607"},
    ("open_images", "coco"): {"L105"},
    ("open_images", "coco_panoptic"): {"L001", "L701"},
    ("open_images", "coco_results"): {"L110", "L111", "L112"},
    ("open_images", "cvat"): {"L504", "L505"},
    ("open_images", "image_masks"): {"L001", "L208", "L701"},
    ("open_images", "kitti"): {"L001", "L208", "L701"},
    ("open_images", "label_studio"): {"L001", "L801", "L803"},
    ("open_images", "labelme"): {"L001", "L402", "L405", "L406"},
    ("open_images", "masks"): {"L001", "L208", "L701"},
    ("open_images", "voc"): {"L205", "L208", "L701"},
    ("open_images", "yolo"): {"L001", "L303", "L307"},
    # Label Studio (tasks of two annotators: polygons, rotated boxes, brushes, a keypoint, an ellipse)
    ("coco", "label_studio"): {"L001", "L801", "L802", "L804", "L806"},
    ("voc", "label_studio"): {"L001", "L801", "L803", "L804"},
    ("masks", "label_studio"): {"L001", "L801", "L803"},
    ("panoptic", "label_studio"): {"L001", "L801", "L802"},
    ("yolo", "label_studio"): {"L001", "L801", "L803"},
    ("labelme", "label_studio"): {"L001", "L803", "L804", "L806", "L807"},
    ("cvat", "label_studio"): {"L001", "L807"},
    ("cityscapes", "label_studio"): {"L001", "L801", "L802", "L803"},
    ("label_studio", "camvid"): {"L001", "L208", "L701", "L703", "L705", "L830"},
    ("label_studio", "cityscapes"): {"L002", "L602", "L605", "L705"},
    ("label_studio", "coco"): {"L002"},
    ("label_studio", "coco_panoptic"): {"L001", "L251", "L701", "L705"},
    ("label_studio", "coco_results"): {"L002", "L101", "L110", "L111", "L112"},
    ("label_studio", "cvat"): {"L504", "L507"},
    ("label_studio", "image_masks"): {"L001", "L208", "L701", "L703", "L705", "L840"},
    ("label_studio", "kitti"): {"L001", "L208", "L701", "L703", "L705"},
    ("label_studio", "label_studio"): NO_LOSS,
    ("label_studio", "labelme"): {"L001", "L405", "L406"},
    ("label_studio", "masks"): {"L001", "L208", "L701", "L703", "L705"},
    ("label_studio", "voc"): {"L002", "L205", "L208", "L701", "L705"},
    ("label_studio", "yolo"): {"L001", "L002", "L305", "L307", "L308"},
}
_WRITERS = sorted(n for n, s in segmill.formats.formats().items() if s.write is not None)


def test_matrix_names_every_source_and_writer():
    assert set(MATRIX) == {(s, t) for s in MATRIX_SOURCES for t in _WRITERS}


def _convert(fixtures_dir, tmp_path, source, target):
    from click.testing import CliRunner

    from segmill.cli import main

    fmt, rel = MATRIX_SOURCES[source]
    out = tmp_path / ("out.json" if segmill.formats.get_format(target).output == "file" else "out")
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / rel), str(out), "--from", fmt, "--to", target,
                                    "--json", "-q"])
    return res, out


@pytest.mark.parametrize(("source", "target"), sorted(MATRIX))
def test_convert_matrix_gives_the_expected_outcome(fixtures_dir, tmp_path, source, target):
    import json

    res, out = _convert(fixtures_dir, tmp_path, source, target)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    want = MATRIX[(source, target)]
    if isinstance(want, Usage):
        assert res.exit_code == 2, res.output
        assert want in res.output and len(res.output.strip().splitlines()) == 1, res.output
        assert not out.exists()
        return
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["format"], set(doc["summary"])) == (target, set(want)), doc["summary"]
    assert doc["lossless"] == (not want)
    # read back, except a results file (it has no images) and a YOLO folder missing its images (L307: no sizes)
    if target != "coco_results" and "L307" not in want:
        back = segmill.read(out, target)
        assert len(back.items) == len(segmill.read(fixtures_dir / MATRIX_SOURCES[source][1],
                                                   MATRIX_SOURCES[source][0]).items)


def _profile(ds):
    """(category name, pixel count, crowd) of every annotation: what a lossless conversion keeps."""
    names = {c.id: c.name for c in ds.categories}
    out = Counter()
    for it in ds.items:
        for a in it.annotations:
            name = "<void>" if a.attributes.get("void") else names.get(a.category_id)
            if isinstance(a.geometry, Shape):  # no pixels: its kind and point count
                size = (a.geometry.kind, len(a.geometry.points))
            else:
                size = int(a.to_rle(it.height, it.width).area)
            out[(name, size, bool(a.iscrowd))] += 1
    return out


LOSSLESS = sorted(pair for pair, want in MATRIX.items() if want == NO_LOSS and not isinstance(want, Usage))


def test_some_conversions_between_different_formats_are_lossless():
    assert any(MATRIX_SOURCES[s][0] != t for s, t in LOSSLESS)


def _vertex_profile(ds):
    """(category name, pixel count) of every polygon and box: what must stay vertices."""
    from segmill.geometry import Box, Polygons

    names = {c.id: c.name for c in ds.categories}
    return Counter((names.get(a.category_id), int(a.to_rle(it.height, it.width).area))
                   for it in ds.items for a in it.annotations if isinstance(a.geometry, (Polygons, Box)))


@pytest.mark.parametrize(("source", "target"), LOSSLESS)
def test_lossless_pairs_keep_every_annotations_class_pixels_and_crowd_flag(fixtures_dir, tmp_path, source, target):
    fmt, rel = MATRIX_SOURCES[source]
    out = tmp_path / ("out.json" if segmill.formats.get_format(target).output == "file" else "out")
    report = segmill.convert(fixtures_dir / rel, out, fmt, target)
    assert not report.losses  # the table says so; test_convert_matrix_gives_the_expected_outcome checks the CLI
    before, back = segmill.read(fixtures_dir / rel, fmt), segmill.read(out, target)
    assert _profile(back) == _profile(before)
    # pixels may become exact polygons, never vertices pixels
    assert not _vertex_profile(before) - _vertex_profile(back)
