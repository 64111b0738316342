"""YOLO segmentation (Ultralytics layout): reading, writing, precision, losses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmill
from segmill.errors import InputError
from segmill.formats import yolo
from segmill.geometry import Box, Polygons
from segmill.model import Annotation, Category, Dataset, Item
from segmill.rle import encode, from_polygons


@pytest.fixture
def seg(fixtures_dir):
    return fixtures_dir / "yolo" / "seg"


def _one_item(anns, h=8, w=10):
    return Dataset([Category(0, "cat"), Category(1, "dog")], [Item("train/a", "a.png", w, h, anns, split="train")])


def test_polygon_coordinates_are_denormalized_by_width_and_height(seg):
    ds = segmill.read(seg, "yolo")
    square = ds.items[0].annotations[0].geometry
    assert square == Polygons([[1.0, 1.0, 5.0, 1.0, 5.0, 5.0, 1.0, 5.0]])


def test_items_follow_the_split_folders_and_names_list(seg):
    ds = segmill.read(seg, "yolo")
    got = [(i.id, i.split, i.width, i.height) for i in ds.items]
    assert got == [("train/a", "train", 10, 8), ("val/b", "val", 10, 8)]
    assert [(c.id, c.name) for c in ds.categories] == [(0, "cat"), (1, "dog")]


def test_box_only_file_gives_boxes_and_names_dict_keeps_sparse_ids(fixtures_dir):
    ds = segmill.read(fixtures_dir / "yolo" / "boxes", "yolo")
    assert [(c.id, c.name) for c in ds.categories] == [(0, "cat"), (3, "dog")]
    # "0 0.5 0.5 0.4 0.5" on 10x8: centre (5, 4), size 4 x 4
    assert ds.items[0].annotations[0].geometry == Box(3.0, 2.0, 4.0, 4.0)


def test_box_line_inside_a_segmentation_file_is_refused_with_file_and_line(fixtures_dir):
    with pytest.raises(InputError) as exc:
        segmill.read(fixtures_dir / "yolo" / "mixed_box_line", "yolo")
    assert exc.value.path.endswith("a.txt") and exc.value.record == "line 2"
    assert "2-point segment" in exc.value.message


def test_coordinate_outside_unit_interval_is_reported_with_line(fixtures_dir):
    with pytest.raises(InputError) as exc:
        segmill.read(fixtures_dir / "yolo" / "out_of_range", "yolo")
    assert exc.value.record == "line 2" and "1.2" in exc.value.message


def test_odd_coordinate_count_is_reported_with_line(fixtures_dir):
    with pytest.raises(InputError) as exc:
        segmill.read(fixtures_dir / "yolo" / "odd_count", "yolo")
    assert exc.value.record == "line 1" and "odd" in exc.value.message


def test_missing_image_is_an_input_error_naming_it(fixtures_dir):
    with pytest.raises(InputError) as exc:
        segmill.read(fixtures_dir / "yolo" / "missing_image", "yolo")
    assert "images/train/gone" in exc.value.message


def test_skip_mode_lists_the_bad_line_and_keeps_the_good_one(fixtures_dir):
    ds = segmill.read(fixtures_dir / "yolo" / "out_of_range", "yolo", errors="skip")
    assert len(ds.items[0].annotations) == 1
    assert ds.meta["skipped"][0]["record"] == "line 2"


def test_read_write_read_round_trip_is_exact(seg, tmp_path):
    ds = segmill.read(seg, "yolo")
    report = segmill.write(ds, tmp_path / "out", "yolo")
    assert report.lossless
    again = segmill.read(tmp_path / "out", "yolo")
    assert again.items == ds.items and again.categories == ds.categories


def test_written_label_text_uses_six_decimals(seg, tmp_path):
    segmill.write(segmill.read(seg, "yolo"), tmp_path / "out", "yolo")
    text = (tmp_path / "out" / "labels" / "train" / "a.txt").read_text()
    assert text.splitlines()[0] == "0 0.1 0.125 0.5 0.125 0.5 0.625 0.1 0.625"


def test_six_decimals_alone_would_move_a_vertex_to_another_coco_grid_point():
    # x = 0.0999999 px in a 1000 px wide image snaps to grid 0; "0.000100" would give 0.1 px -> grid 1.
    frac = 0.0999999 / 1000
    assert yolo._snap(float(f"{frac:.6f}") * 1000) != yolo._snap(0.0999999)
    text = yolo.format_coord(frac, 1000)
    assert yolo._snap(float(text) * 1000) == yolo._snap(0.0999999)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(5, 400),
    st.integers(5, 400),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=12),
)
def test_written_polygon_rasterizes_to_the_same_coco_mask(w, h, pts):
    part = np.array(pts, dtype=np.float64) * np.array([w, h])
    line = yolo._polygon_line(part, h, w, "coco")
    back = np.array([float(v) for v in line.split()]).reshape(-1, 2) * np.array([w, h])
    assert from_polygons([back], h, w) == from_polygons([part], h, w)


def test_multipart_object_keeps_largest_part_and_reports_l303(tmp_path):
    poly = Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 9, 3, 9, 7, 3, 7]])
    report = segmill.write(_one_item([Annotation(1, 0, poly)]), tmp_path / "o", "yolo", copy_images=False)
    assert "L303" in report.summary()
    lines = (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert lines == ["0 0.3 0.375 0.9 0.375 0.9 0.875 0.3 0.875"]


def test_multipart_lines_option_writes_one_line_per_part_and_reports_l304(tmp_path):
    poly = Polygons([[0, 0, 2, 0, 2, 2], [3, 3, 9, 3, 9, 7, 3, 7]])
    report = segmill.write(_one_item([Annotation(1, 0, poly)]), tmp_path / "o", "yolo", copy_images=False,
                           multipart="lines")
    assert "L304" in report.summary()
    assert len((tmp_path / "o" / "labels" / "train" / "a.txt").read_text().splitlines()) == 2


def test_crowd_region_is_dropped_with_l302(tmp_path):
    anns = [Annotation(1, 0, Polygons([[0, 0, 4, 0, 4, 4]]), iscrowd=True)]
    report = segmill.write(_one_item(anns), tmp_path / "o", "yolo", copy_images=False)
    assert report.summary() == {"L302": 1}
    assert (tmp_path / "o" / "labels" / "train" / "a.txt").read_text() == ""


def test_mask_is_traced_to_a_polygon_with_the_same_coco_pixels(tmp_path):
    m = np.zeros((8, 10), bool)
    m[1:4, 2:7] = True
    m[5, 5] = True
    segmill.write(_one_item([Annotation(1, 1, encode(m))]), tmp_path / "o", "yolo", copy_images=False)
    line = (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().split()
    pts = np.array([float(v) for v in line[1:]]).reshape(-1, 2) * np.array([10, 8])
    assert from_polygons([pts], 8, 10).decode()[1:4].tolist() == m[1:4].tolist()


def test_mask_hole_is_reported_with_l308(tmp_path):
    m = np.zeros((8, 10), bool)
    m[1:6, 1:6] = True
    m[3, 3] = False
    report = segmill.write(_one_item([Annotation(1, 1, encode(m))]), tmp_path / "o", "yolo", copy_images=False)
    assert report.summary() == {"L308": 1}
    line = (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().split()
    pts = np.array([float(v) for v in line[1:]]).reshape(-1, 2) * np.array([10, 8])
    assert from_polygons([pts], 8, 10) == encode(m)


def test_box_beside_polygons_is_written_as_polygon_with_l305(tmp_path):
    anns = [Annotation(1, 0, Polygons([[0, 0, 4, 0, 4, 4]])), Annotation(2, 1, Box(1, 1, 4, 2))]
    report = segmill.write(_one_item(anns), tmp_path / "o", "yolo", copy_images=False)
    assert "L305" in report.summary()
    lines = (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert all(len(ln.split()) > 6 for ln in lines)


def test_data_yaml_names_are_a_list_for_dense_ids(seg, tmp_path):
    import yaml

    segmill.write(segmill.read(seg, "yolo"), tmp_path / "o", "yolo")
    doc = yaml.safe_load((tmp_path / "o" / "data.yaml").read_text())
    assert doc["names"] == ["cat", "dog"] and doc["train"] == "images/train"


def test_detection_gives_a_reason(seg):
    d = yolo.detect(seg)
    assert d.confidence >= 0.9 and "data.yaml" in d.reason


def test_keep_mode_holds_the_bad_line_as_invalid_geometry(fixtures_dir):
    from segmill.geometry import InvalidGeometry

    ds = segmill.read(fixtures_dir / "yolo" / "out_of_range", "yolo", errors="keep")
    bad = ds.items[0].annotations[1]
    assert isinstance(bad.geometry, InvalidGeometry) and bad.category_id == 0


@settings(max_examples=30, deadline=None)
@given(
    st.integers(5, 200),
    st.integers(5, 200),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=10),
)
def test_written_polygon_rasterizes_to_the_same_pil_mask(w, h, pts):
    part = np.array(pts, dtype=np.float64) * np.array([w, h])
    line = yolo._polygon_line(part, h, w, "pil")
    back = np.array([float(v) for v in line.split()]).reshape(-1, 2) * np.array([w, h])
    assert from_polygons([back], h, w, "pil") == from_polygons([part], h, w, "pil")


def test_cli_reports_the_bad_line_with_exit_2_and_no_output(fixtures_dir, tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["convert", str(fixtures_dir / "yolo" / "odd_count"), str(out),
                                    "--from", "yolo", "--to", "coco"])
    assert res.exit_code == 2 and "line 1" in res.output
    assert not out.exists()


def test_writer_never_copies_files_outside_the_image_root_nor_writes_outside_the_output(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.png").write_bytes(b"not yours")
    item = Item(1, "../secret.png", 10, 8, [Annotation(1, 0, Polygons([[0, 0, 4, 0, 4, 4]]))], split="../../evil")
    ds = Dataset([Category(0, "cat")], [item], meta={"image_root": str(tmp_path / "root")})
    report = segmill.write(ds, tmp_path / "o", "yolo")
    assert "L307" in report.summary()
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {"secret.png", "o/data.yaml", "o/labels/evil/secret.txt"}
