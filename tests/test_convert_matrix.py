"""Every fixture converted to every writable format: outcomes, losses and pixels."""


from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import segmill
import segmill.formats
from segmill.cli import main
from segmill.geometry import Shape


def _check(path, fmt):
    return CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--output-format", "json"])


def _codes(result):
    doc = json.loads(result.output)
    return {f["code"] for f in doc["findings"]}


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
