"""Fixes to problems found between the format modules (keep mode, void regions, option routing, info)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import segmill
from segmill.cli import main
from segmill.errors import InputError
from segmill.formats._png import write_png
from segmill.geometry import InvalidGeometry, Shape


def _check(path, fmt):
    return CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--output-format", "json"])


def _codes(result):
    doc = json.loads(result.output)
    return {f["code"] for f in doc["findings"]}


# ---------------------------------------------------------------- keep mode
def test_cvat_keep_mode_keeps_an_escaping_image_name_for_check(fixtures_dir):
    ds = segmill.read(fixtures_dir / "cvat" / "escape", "cvat", errors="keep")
    assert [it.file_name for it in ds.items] == ["../../../etc/passwd"]


def test_cvat_check_reports_an_escaping_image_name_with_exit_1(fixtures_dir):
    res = _check(fixtures_dir / "cvat" / "escape", "cvat")
    assert res.exit_code == 1, res.output
    assert "S012" in _codes(res)


def test_cvat_raise_mode_still_refuses_an_escaping_image_name(fixtures_dir):
    with pytest.raises(InputError, match=r"annotations.xml: image id '0'.*outside the dataset root"):
        segmill.read(fixtures_dir / "cvat" / "escape", "cvat")


def test_cvat_keep_mode_keeps_the_label_of_a_bad_mask(fixtures_dir):
    ds = segmill.read(fixtures_dir / "cvat" / "bad_rle", "cvat", errors="keep")
    (ann,) = ds.items[0].annotations
    assert isinstance(ann.geometry, InvalidGeometry)
    assert ann.category_id in {c.id for c in ds.categories}


def test_cvat_check_of_a_bad_mask_reports_no_unknown_category(fixtures_dir):
    res = _check(fixtures_dir / "cvat" / "bad_rle", "cvat")
    assert res.exit_code == 1, res.output
    codes = _codes(res)
    assert "G009" in codes and "S004" not in codes


def test_labelme_keep_mode_keeps_an_escaping_image_path_for_check(fixtures_dir):
    ds = segmill.read(fixtures_dir / "labelme" / "escape", "labelme", errors="keep")
    assert [it.file_name for it in ds.items] == ["../../../../etc/passwd"]


def test_labelme_check_reports_an_escaping_image_path_with_exit_1(fixtures_dir):
    res = _check(fixtures_dir / "labelme" / "escape", "labelme")
    assert res.exit_code == 1, res.output
    assert "S012" in _codes(res)


def test_labelme_raise_mode_still_refuses_an_escaping_image_path(fixtures_dir):
    with pytest.raises(InputError, match=r"evil.json: imagePath.*outside the dataset root"):
        segmill.read(fixtures_dir / "labelme" / "escape", "labelme")


def test_yolo_keep_mode_lists_a_label_file_without_image(fixtures_dir):
    ds = segmill.read(fixtures_dir / "yolo" / "missing_image", "yolo", errors="keep")
    assert [s["record"] for s in ds.meta["skipped"]] == ["labels/train/gone.txt"]


def test_yolo_check_reports_a_missing_image_with_exit_1(fixtures_dir):
    res = _check(fixtures_dir / "yolo" / "missing_image", "yolo")
    assert res.exit_code == 1, res.output
    assert "S014" in _codes(res)


def test_yolo_raise_mode_still_refuses_a_missing_image(fixtures_dir):
    with pytest.raises(InputError, match=r"gone.txt: labels/train/gone.txt: image images/train/gone.\* not found"):
        segmill.read(fixtures_dir / "yolo" / "missing_image", "yolo")


@pytest.fixture()
def pan_small_png(fixtures_dir, tmp_path):
    dst = tmp_path / "p"
    shutil.copytree(fixtures_dir / "panoptic", dst)
    write_png(dst / "annotations" / "panoptic_val" / "000000000285.png", np.zeros((2, 2, 3), np.uint8))
    return dst


def test_panoptic_keep_mode_keeps_segments_of_a_wrong_size_png_as_invalid(pan_small_png):
    ds = segmill.read(pan_small_png, "coco_panoptic", errors="keep")
    item = next(it for it in ds.items if it.extra.get("panoptic_file_name") == "000000000285.png")
    assert item.annotations and all(isinstance(a.geometry, InvalidGeometry) and a.geometry.code == "G008"
                                    for a in item.annotations)


def test_panoptic_check_reports_a_wrong_size_png_with_exit_1(pan_small_png):
    res = _check(pan_small_png, "coco_panoptic")
    assert res.exit_code == 1, res.output
    assert "G008" in _codes(res)


def test_panoptic_raise_mode_still_refuses_a_wrong_size_png(pan_small_png):
    with pytest.raises(InputError, match=r"000000000285.png: PNG is 2x2"):
        segmill.read(pan_small_png, "coco_panoptic")


# ------------------------------------------------------------ void regions
def _void_ids(ds):
    return [(it.id, a.id) for it in ds.items for a in it.annotations if a.attributes.get("void")]


def test_voc_void_regions_are_dropped_by_the_coco_writer_with_l003(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "voc", "voc")
    voids = _void_ids(ds)
    assert voids  # the fixture has a 255 region
    report = segmill.write(ds, tmp_path / "out.json", "coco")
    lost = [(loss.item_id, loss.annotation_id) for loss in report.losses if loss.code == "L003"]
    assert lost == voids


def test_voc_to_coco_writes_every_annotation_with_a_category_id(fixtures_dir, tmp_path):
    segmill.convert(fixtures_dir / "voc", tmp_path / "out.json", "voc", "coco")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["annotations"] and all(isinstance(a.get("category_id"), int) for a in doc["annotations"])


def test_info_counts_voc_void_regions_as_void_not_undeclared(fixtures_dir):
    from segmill._info import summarize

    s = summarize(segmill.read(fixtures_dir / "voc", "voc"))
    assert (s["void"], s["uncategorized"]) == (1, 0)


def test_info_text_names_void_regions(fixtures_dir):
    res = CliRunner().invoke(main, ["info", str(fixtures_dir / "voc")])
    assert res.exit_code == 0, res.output
    assert "void regions (no class on purpose): 1" in res.output
    assert "undeclared category" not in res.output


# ------------------------------------------------- conversion matrix (small fixtures)
_SOURCES = {
    "coco": ("coco", "coco/annotations.json"),
    "voc": ("voc", "voc"),
    "masks": ("masks", "masks"),
    "panoptic": ("coco_panoptic", "panoptic"),
    "yolo": ("yolo", "yolo/seg"),
    "labelme": ("labelme", "labelme/basic"),
    "cvat": ("cvat", "cvat/basic"),
    "cityscapes": ("cityscapes", "cityscapes/basic"),
}
_TARGETS = sorted(n for n, s in segmill.formats.formats().items() if s.write is not None)


def _out(tmp_path, target):
    return tmp_path / ("out.json" if segmill.formats.get_format(target).output == "file" else "out")


@pytest.mark.parametrize("target", _TARGETS)
@pytest.mark.parametrize("source", sorted(_SOURCES))
def test_convert_matrix_never_crashes(fixtures_dir, tmp_path, source, target):
    fmt, rel = _SOURCES[source]
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / rel), str(_out(tmp_path, target)),
                                    "--from", fmt, "--to", target, "--json", "-q"])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 2), res.output
    if res.exit_code == 0:
        assert json.loads(res.stdout)["format"] == target


def _profile(ds):
    """(category name, pixel count, crowd) of every annotation: what a lossless conversion keeps."""
    from collections import Counter

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


@pytest.mark.parametrize("source", sorted(_SOURCES))
def test_convert_matrix_without_losses_keeps_every_annotations_pixels(fixtures_dir, tmp_path, source):
    fmt, rel = _SOURCES[source]
    before = _profile(segmill.read(fixtures_dir / rel, fmt))
    for target in _TARGETS:
        if target in (fmt, "coco_results"):
            continue
        out = _out(tmp_path / target, target)
        if segmill.convert(fixtures_dir / rel, out, fmt, target).losses:
            continue
        assert _profile(segmill.read(out, target)) == before, f"{source} -> {target}"


@pytest.mark.parametrize("source", ["cvat", "labelme"])
def test_voc_writer_drops_lines_and_points_with_l002(fixtures_dir, tmp_path, source):
    fmt, rel = _SOURCES[source]
    ds = segmill.read(fixtures_dir / rel, fmt)
    no_area = [a.id for it in ds.items for a in it.annotations if getattr(a.geometry, "kind", None)
               in ("line", "linestrip", "polyline", "point", "points")]
    assert no_area
    report = segmill.write(ds, tmp_path / "voc", "voc")
    assert sorted(loss.annotation_id for loss in report.losses if loss.code == "L002") == sorted(no_area)
    assert not [loss for loss in report.losses if loss.code == "L703"]


def test_panoptic_writer_reports_void_regions_it_paints_as_unlabeled(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "masks", "masks")
    report = segmill.write(ds, tmp_path / "pan", "coco_panoptic")
    assert [(loss.item_id, loss.annotation_id) for loss in report.losses if loss.code == "L254"] == _void_ids(ds)


def test_convert_matrix_without_losses_keeps_polygons_and_boxes_as_vertices(fixtures_dir, tmp_path):
    """A lossless conversion may turn pixels into exact polygons, never vertices into pixels."""
    from collections import Counter

    from segmill.geometry import Box, Polygons

    def vertex_profile(ds):
        names = {c.id: c.name for c in ds.categories}
        return Counter((names.get(a.category_id), int(a.to_rle(it.height, it.width).area))
                       for it in ds.items for a in it.annotations if isinstance(a.geometry, (Polygons, Box)))

    for source, (fmt, rel) in sorted(_SOURCES.items()):
        before = vertex_profile(segmill.read(fixtures_dir / rel, fmt))
        for target in _TARGETS:
            if target in (fmt, "coco_results"):
                continue
            out = _out(tmp_path / source / target, target)
            if segmill.convert(fixtures_dir / rel, out, fmt, target).losses:
                continue
            assert not before - vertex_profile(segmill.read(out, target)), f"{source} -> {target}"


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
    assert set(report.summary()) == {"L705"}


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


# ------------------------------------------------- VOC void regions via CVAT
def test_voc_void_region_stays_void_through_cvat(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "voc", "voc")
    report = segmill.write(ds, tmp_path / "c", "cvat")
    void_ids = {a for _, a in _void_ids(ds)}
    assert not [l for l in report.losses if l.annotation_id in void_ids]
    back = segmill.read(tmp_path / "c", "cvat")
    voids = [a.attributes for it in back.items for a in it.annotations if a.category_id is None]
    assert voids == [{"void": True}] * len(void_ids)


def test_voc_to_cvat_check_treats_the_void_region_as_void(fixtures_dir, tmp_path):
    segmill.convert(fixtures_dir / "voc", tmp_path / "c", "voc", "cvat")
    res = _check(tmp_path / "c", "cvat")
    assert res.exit_code == 0, res.output
    assert "S004" not in _codes(res)


def _cvat_doc(void_text):
    return ('<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><meta><task><labels>'
            '<label><name>car</name></label></labels></task></meta>'
            '<image id="0" name="a.png" width="8" height="6">'
            f'<polygon label="" points="0,0;4,0;4,4"><attribute name="void">{void_text}</attribute></polygon>'
            '</image></annotations>\n')


def test_cvat_label_less_shape_with_void_false_is_not_void(tmp_path):
    (tmp_path / "annotations.xml").write_text(_cvat_doc("false"))
    (ann,) = segmill.read(tmp_path, "cvat").items[0].annotations
    assert ann.attributes == {"void": False}
    assert "S004" in _codes(_check(tmp_path, "cvat"))


def test_cvat_writer_reports_a_text_void_flag_that_reads_back_as_a_bool(tmp_path):
    from segmill.geometry import Polygons
    from segmill.model import Annotation, Category, Dataset, Item

    ann = Annotation(1, None, Polygons([[0, 0, 4, 0, 4, 4]]), attributes={"void": "true"})
    report = segmill.write(Dataset([Category(1, "car")], [Item(1, "a.png", 8, 6, [ann])]), tmp_path / "c", "cvat")
    assert [l.code for l in report.losses] == ["L504"]


# --------------------------------------------- segmill formats lists all codes
def test_formats_lists_every_loss_code_declared_anywhere_in_a_fresh_process():
    import importlib
    import pkgutil
    import subprocess
    import sys
    from pathlib import Path

    from segmill.losses import all_codes

    for mod in pkgutil.walk_packages(segmill.__path__, "segmill."):
        spec = importlib.util.find_spec(mod.name)
        if spec.origin and spec.origin.endswith(".py") and "register_codes(" in Path(spec.origin).read_text():
            importlib.import_module(mod.name)
    declared = all_codes()
    assert "L705" in declared and "L701" in declared
    out = subprocess.run([sys.executable, "-m", "segmill", "formats", "--json"], capture_output=True, text=True,
                         check=True).stdout
    listed = json.loads(out)["loss_codes"]
    assert {c: t for c, t in declared.items() if listed.get(c) != t} == {}


# --------------------------------------- LabelMe: one bad record, not the file
def _labelme_file(tmp_path, shapes, **top):
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": None, "imageData": None,
           "imageHeight": 6, "imageWidth": 8}
    doc.update(top)
    (tmp_path / "x.json").write_text(json.dumps(doc))
    return tmp_path


_OUTSIDE = {"label": "car", "points": [[0, 0], [12, 0], [12, 4]], "shape_type": "polygon"}  # past the right edge
_GIF = "R0lGODlhIG5vdCBhIHBuZw=="


def test_labelme_skip_mode_drops_only_bad_image_data_and_keeps_the_shapes(tmp_path):
    ds = segmill.read(_labelme_file(tmp_path, [_OUTSIDE], imageData=_GIF), "labelme", errors="skip")
    assert [len(it.annotations) for it in ds.items] == [1]
    assert [s["record"] for s in ds.meta["skipped"]] == ["imageData"]


def test_labelme_check_reports_bad_image_data_and_still_checks_the_shapes(tmp_path):
    res = _check(_labelme_file(tmp_path, [_OUTSIDE], imageData=_GIF), "labelme")
    assert res.exit_code == 1, res.output
    assert {"S014", "G007"} <= _codes(res)


def test_labelme_raise_mode_still_refuses_bad_image_data(tmp_path):
    with pytest.raises(InputError, match="not a PNG or JPEG"):
        segmill.read(_labelme_file(tmp_path, [_OUTSIDE], imageData=_GIF), "labelme")


def test_labelme_keep_mode_keeps_the_label_of_a_bad_shape(tmp_path):
    bad = {"label": "car", "points": [[0, 0]], "shape_type": "rectangle"}
    ds = segmill.read(_labelme_file(tmp_path, [_OUTSIDE, bad]), "labelme", errors="keep")
    good, kept = ds.items[0].annotations
    assert isinstance(kept.geometry, InvalidGeometry) and kept.category_id == good.category_id


def test_labelme_check_of_a_bad_shape_with_a_label_reports_no_missing_category(tmp_path):
    bad = {"label": "car", "points": [[0, 0]], "shape_type": "rectangle"}
    res = _check(_labelme_file(tmp_path, [_OUTSIDE, bad]), "labelme")
    assert res.exit_code == 1, res.output
    codes = _codes(res)
    assert "G001" in codes and "S004" not in codes


@pytest.fixture()
def labelme_circle_fails(monkeypatch):
    """An instance whose geometry cannot be built (the reader's GeometryError path)."""
    from segmill.errors import GeometryError
    from segmill.formats import labelme

    real = labelme.instance_geometry

    def fake(shapes, h, w, rule):
        if shapes[0][0] == "circle":
            raise GeometryError("cannot combine these shapes")
        return real(shapes, h, w, rule)

    monkeypatch.setattr(labelme, "instance_geometry", fake)


_CIRCLE = {"label": "dog", "points": [[3, 3], [4, 4]], "shape_type": "circle"}


def test_labelme_skip_mode_drops_only_the_instance_whose_geometry_fails(tmp_path, labelme_circle_fails):
    ds = segmill.read(_labelme_file(tmp_path, [_OUTSIDE, _CIRCLE]), "labelme", errors="skip")
    assert [len(it.annotations) for it in ds.items] == [1]
    assert [s["record"] for s in ds.meta["skipped"]] == ["instance 'dog' group_id None"]


def test_labelme_keep_mode_keeps_an_instance_whose_geometry_fails_as_invalid(tmp_path, labelme_circle_fails):
    ds = segmill.read(_labelme_file(tmp_path, [_OUTSIDE, _CIRCLE]), "labelme", errors="keep")
    good, bad = ds.items[0].annotations
    assert isinstance(bad.geometry, InvalidGeometry) and bad.geometry.reason == "cannot combine these shapes"
    assert {c.id: c.name for c in ds.categories}[bad.category_id] == "dog"
