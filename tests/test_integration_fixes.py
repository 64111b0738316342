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


# ----------------------------------------------------------- option routing
def _declared(spec, side):
    from segmill.cli.convert import option_sides

    return {name for name in spec.options if side in option_sides(spec, name)}


def _params(fn):
    import inspect

    return set(list(inspect.signature(fn).parameters)[2 if fn.__name__ == "write" else 1:])


@pytest.mark.parametrize("name", sorted(segmill.formats.formats()))
def test_every_option_doc_names_its_side_with_a_known_prefix(name):
    spec = segmill.formats.get_format(name)
    for opt, doc in spec.options.items():
        assert doc.split(None, 1)[0] in ("reader:", "writer:", "reader/writer:"), (opt, doc)


@pytest.mark.parametrize("name", sorted(segmill.formats.formats()))
def test_declared_reader_options_are_exactly_the_reader_keywords(name):
    spec = segmill.formats.get_format(name)
    if spec.read is not None:
        assert _declared(spec, "reader") == _params(spec.read)


@pytest.mark.parametrize("name", sorted(segmill.formats.formats()))
def test_declared_writer_options_are_exactly_the_writer_keywords(name):
    spec = segmill.formats.get_format(name)
    if spec.write is not None:
        assert _declared(spec, "writer") == _params(spec.write)


def test_router_refuses_an_option_doc_without_a_side_prefix():
    from segmill.cli.convert import route_options
    from segmill.formats import NO, FormatSpec

    vague = FormatSpec("vague", "", lambda p: NO, options={"labels": "class list file"})
    with pytest.raises(ValueError, match="must start with 'reader:', 'writer:' or 'reader/writer:'"):
        route_options(vague, vague, {"labels": "x.txt"})


def test_router_passes_a_reader_writer_option_to_both_sides():
    from segmill.cli.convert import route_options

    voc = segmill.formats.get_format("voc")
    assert route_options(voc, voc, {"labels": "l.txt"}) == ({"labels": "l.txt"}, {"labels": "l.txt"})


def test_router_passes_a_reader_only_option_to_the_reader_only():
    from segmill.cli.convert import route_options

    cvat, coco = segmill.formats.get_format("cvat"), segmill.formats.get_format("coco")
    assert route_options(cvat, coco, {"raster": "pil"}) == ({"raster": "pil"}, {"raster": "pil"})
    assert route_options(cvat, cvat, {"raster": "pil"}) == ({"raster": "pil"}, {})


def test_convert_multipart_lines_reaches_the_yolo_writer(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"),
                                    str(tmp_path / "y"), "--to", "yolo", "--multipart", "lines", "--json", "-q"])
    assert res.exit_code == 0, res.output
    codes = {loss["code"] for loss in json.loads(res.output)["losses"]}
    assert "L304" in codes and "L303" not in codes


def test_convert_source_polygons_reaches_the_cityscapes_reader(fixtures_dir, tmp_path):
    out = tmp_path / "c.json"
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "cityscapes" / "basic"), str(out),
                                    "--to", "coco", "--source", "polygons", "-q"])
    assert res.exit_code == 0, res.output
    segs = [a["segmentation"] for a in json.loads(out.read_text())["annotations"]]
    assert segs and all(isinstance(s, list) for s in segs)


def test_convert_multipart_for_a_writer_without_it_is_a_usage_error(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "coco" / "annotations.json"),
                                    str(tmp_path / "o.json"), "--multipart", "lines"])
    assert res.exit_code == 2
    assert "--multipart is an option of neither" in res.output


def test_split_instances_to_cvat_does_not_pass_raster_to_its_writer(fixtures_dir, tmp_path):
    res = CliRunner().invoke(main, ["split-instances", str(fixtures_dir / "masks"), str(tmp_path / "c"),
                                    "--to", "cvat", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "annotations.xml").is_file()


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
