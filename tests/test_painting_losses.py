"""Writers that paint label maps: what they report (L705, L002) and what they count."""


from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.geometry import Shape


def _check(path, fmt):
    return CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--output-format", "json"])


def _codes(result):
    doc = json.loads(result.output)
    return {f["code"] for f in doc["findings"]}


# ------------------------------------------- rasterizing writers report L705
def _polygon_ids(ds):
    from segmill.geometry import Polygons

    return sorted((it.id, a.id) for it in ds.items for a in it.annotations if isinstance(a.geometry, Polygons))


@pytest.mark.parametrize("target", ["voc", "masks", "coco_panoptic"])
def test_painting_writers_report_each_rasterized_polygon_once_with_l705(fixtures_dir, tmp_path, target):
    ds = segmill.read(fixtures_dir / "yolo" / "seg", "yolo")
    assert _polygon_ids(ds)
    report = segmill.write(ds, tmp_path / "out", target)
    assert sorted((l.item_id, l.annotation_id) for l in report.losses if l.code == "L705") == _polygon_ids(ds)


def test_cityscapes_writer_reports_each_rasterized_polygon_once_with_l705(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "cityscapes" / "basic", "cityscapes", source="polygons")
    assert _polygon_ids(ds)
    report = segmill.write(ds, tmp_path / "cs", "cityscapes")
    assert sorted((l.item_id, l.annotation_id) for l in report.losses if l.code == "L705") == _polygon_ids(ds)


def test_yolo_to_voc_is_no_longer_reported_lossless(fixtures_dir, tmp_path):
    report = segmill.convert(fixtures_dir / "yolo" / "seg", tmp_path / "v", "yolo", "voc")
    assert set(report.summary()) == {"L208", "L705"}


def _pngs(root):
    from PIL import Image

    return {p.relative_to(root).as_posix(): np.asarray(Image.open(p)) for p in sorted(root.rglob("*.png"))}


@pytest.mark.parametrize("fmt, rel", [("voc", "voc"), ("masks", "masks"), ("coco_panoptic", "panoptic")])
def test_mask_to_same_format_conversions_stay_lossless_and_pixel_identical(fixtures_dir, tmp_path, fmt, rel):
    report = segmill.convert(fixtures_dir / rel, tmp_path / "o", fmt, fmt)
    assert report.lossless, report.summary()
    # panoptic PNGs by file name (a single source file has no split: written as panoptic_default/)
    def key(k):
        return k.rsplit("/", 1)[-1] if fmt == "coco_panoptic" else k

    src, out = ({key(k): v for k, v in _pngs(root).items()} for root in (fixtures_dir / rel, tmp_path / "o"))
    assert src and set(src) <= set(out)
    assert all(np.array_equal(src[k], out[k]) for k in src)


def test_masks_to_voc_stays_lossless_with_identical_class_maps(fixtures_dir, tmp_path):
    report = segmill.convert(fixtures_dir / "masks", tmp_path / "v", "masks", "voc")
    assert report.lossless, report.summary()
    src, out = _pngs(fixtures_dir / "masks"), _pngs(tmp_path / "v")
    stems = [k.split("/")[-1] for k in src if k.startswith("semantic/")]
    assert stems and all(np.array_equal(src[f"semantic/{s}"], out[f"SegmentationClass/{s}"]) for s in stems)


# --------------------------------------------------- masks writer paints boxes
def _box_dataset():
    from segmill.geometry import Box
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, 1, Box(1.5, 1, 3, 2.5))
    return Dataset([Category(0, "background"), Category(1, "car")], [Item("b", "b.png", 8, 6, [ann])])


def test_masks_writer_paints_a_box_and_reports_it_rasterized(tmp_path):
    ds = _box_dataset()
    report = segmill.write(ds, tmp_path / "m", "masks")
    assert [(l.code, l.annotation_id) for l in report.losses] == [("L705", 1)]
    (back,) = segmill.read(tmp_path / "m", "masks").items[0].annotations
    assert back.category_id == 1
    assert np.array_equal(back.to_rle(6, 8).decode(), ds.items[0].annotations[0].to_rle(6, 8).decode())


def test_masks_writer_counts_a_painted_box_but_not_a_dropped_line(tmp_path):
    from segmill.model import Annotation

    ds = _box_dataset()
    ds.items[0].annotations.append(Annotation(2, 1, Shape("line", [[0, 0], [4, 4]])))
    report = segmill.write(ds, tmp_path / "m", "masks")
    assert "L703" in report.summary() and report.annotations == 1


# --------------------------------------------- VOC writer counts what it wrote
def test_voc_writer_counts_only_the_annotations_it_wrote(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    anns = [Annotation(1, 1, Polygons([[0, 0, 3, 0, 3, 3]])),
            Annotation(2, 1, Shape("line", [[0, 0], [4, 4]])),  # L002: no area
            Annotation(3, None, Polygons([[4, 0, 7, 0, 7, 3]]))]  # no category, not void: L702
    ds = Dataset([Category(0, "background"), Category(1, "car")], [Item("x", "x.png", 8, 6, anns)])
    report = segmill.write(ds, tmp_path / "v", "voc")
    assert {l.annotation_id for l in report.losses if l.code in ("L002", "L702")} == {2, 3}
    assert report.annotations == 1


def test_voc_writer_counts_every_annotation_of_a_lossless_conversion(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "voc", "voc")
    report = segmill.write(ds, tmp_path / "v", "voc")
    assert report.lossless and report.annotations == sum(len(it.annotations) for it in ds.items)


@pytest.mark.parametrize("source", ["cvat", "labelme"])
def test_voc_writer_drops_lines_and_points_with_l002(fixtures_dir, tmp_path, source):
    fmt, rel = {"cvat": ("cvat", "cvat/basic"), "labelme": ("labelme", "labelme/basic")}[source]
    ds = segmill.read(fixtures_dir / rel, fmt)
    no_area = [a.id for it in ds.items for a in it.annotations if getattr(a.geometry, "kind", None)
               in ("line", "linestrip", "polyline", "point", "points")]
    assert no_area
    report = segmill.write(ds, tmp_path / "voc", "voc")
    assert sorted(loss.annotation_id for loss in report.losses if loss.code == "L002") == sorted(no_area)
    assert not [loss for loss in report.losses if loss.code == "L703"]
