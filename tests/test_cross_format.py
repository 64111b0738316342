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
CHANGES_CATEGORIES = {"L306", "L309", "L402", "L505", "L601", "L606", "L607"}


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


def test_labelme_through_coco_reports_exactly_the_two_dropped_shapes(fixtures_dir, tmp_path):
    _, _, losses = _chain("labelme", "labelme", fixtures_dir, tmp_path)
    assert losses == Counter({"L002": 2})


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
    from segmill.formats import formats

    if dst_fmt not in formats():
        pytest.skip(f"the {dst_fmt} format is not available")
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
