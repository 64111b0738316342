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

import ast
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
#: Every reader's own example (``FormatSpec.example``, a path under fixtures/).
MATRIX_SOURCES = {n: (n, s.example) for n, s in segmill.formats.formats().items() if s.read is not None}
NO_LOSS: frozenset = frozenset()
TESTS = Path(__file__).resolve().parent


class Usage(str):
    """An expected usage/input error (exit 2): the text its one-line message must hold."""


def _conversions() -> tuple[dict, dict]:
    """The matrix, gathered from the ``CONVERSIONS`` tables of the per-format test modules.

    A row (S, T) lives in ``tests/test_<F>.py`` where F is whichever of S and T
    comes later in registry order, so a new format (registered last) brings
    all its rows in its own test module. A value is the set of loss codes
    reported (exit 0), or a string: a usage/input error (exit 2) whose message
    holds it. The tables are read as literals, without importing the modules.
    """
    table, owner = {}, {}
    for name in segmill.formats.formats():
        path = TESTS / f"test_{name}.py"
        if not path.exists():
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CONVERSIONS" for t in node.targets):
                for pair, want in ast.literal_eval(node.value).items():
                    assert pair not in table, f"{pair} is listed twice"
                    table[pair] = Usage(want) if isinstance(want, str) else frozenset(want)
                    owner[pair] = name
    return table, owner


#: The outcome of ``segmill convert <example> out --from S --to T`` for every pair: the exact set of loss
#: codes reported (exit 0), or :class:`Usage` (exit 2, nothing written). Any other outcome fails.
MATRIX, MATRIX_OWNER = _conversions()
_WRITERS = sorted(n for n, s in segmill.formats.formats().items() if s.write is not None)


def test_matrix_names_every_source_and_writer():
    assert set(MATRIX) == {(s, t) for s in MATRIX_SOURCES for t in _WRITERS}


def test_each_row_lives_with_the_later_format_of_its_pair():
    order = {n: i for i, n in enumerate(segmill.formats.formats())}
    for (s, t), name in MATRIX_OWNER.items():
        assert name == max((s, t), key=order.__getitem__), f"({s}, {t}) belongs in tests/test_{name}.py"


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
    # read back, except a results file (it has no images), a YOLO folder missing its images (L307: no sizes) and
    # GeoJSON without its scenes (L901: a scene is what the reader reads)
    if target != "coco_results" and not {"L307", "L901"} & set(want):
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
