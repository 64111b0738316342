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


def _write_read(ds, out, **opts):
    """Write ``ds`` as YOLO (no images), give every item a blank image, read it back."""
    from PIL import Image

    report = segmill.write(ds, out, "yolo", copy_images=False, **opts)
    for item in ds.items:
        folder = out / "images" / (item.split or opts.get("split", "train"))
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("L", (item.width, item.height)).save(folder / item.file_name)
    return report, segmill.read(out, "yolo")


def test_sparse_category_ids_become_classes_0_to_n_and_read_back_as_the_source_ids(tmp_path):
    import yaml

    poly = Polygons([[0, 0, 4, 0, 4, 4]])
    ds = Dataset([Category(7, "dog"), Category(3, "cat")],
                 [Item(1, "a.png", 10, 8, [Annotation(1, 7, poly), Annotation(2, 3, poly)], split="train")])
    report, back = _write_read(ds, tmp_path / "o")
    doc = yaml.safe_load((tmp_path / "o" / "data.yaml").read_text())
    assert doc["names"] == ["cat", "dog"] and doc["segmill_category_ids"] == [3, 7]
    classes = [ln.split()[0] for ln in (tmp_path / "o" / "labels" / "train" / "a.txt").read_text().splitlines()]
    assert classes == ["1", "0"] and not report.summary()
    assert [(c.id, c.name) for c in back.categories] == [(3, "cat"), (7, "dog")]
    assert [a.category_id for a in back.items[0].annotations] == [7, 3]


def test_string_category_ids_are_kept_through_data_yaml(tmp_path):
    ds = Dataset([Category("b", "dog"), Category("a", "cat")],
                 [Item(1, "a.png", 10, 8, [Annotation(1, "b", Polygons([[0, 0, 4, 0, 4, 4]]))], split="train")])
    report, back = _write_read(ds, tmp_path / "o")
    assert not report.summary()
    assert [(c.id, c.name) for c in back.categories] == [("a", "cat"), ("b", "dog")]
    assert back.items[0].annotations[0].category_id == "b"


def test_inconsistent_segmill_ids_key_is_refused(tmp_path):
    poly = Polygons([[0, 0, 4, 0, 4, 4]])
    ds = Dataset([Category(3, "cat"), Category(7, "dog")],
                 [Item(1, "a.png", 10, 8, [Annotation(1, 7, poly)], split="train")])
    _write_read(ds, tmp_path / "o")
    y = tmp_path / "o" / "data.yaml"
    y.write_text(y.read_text().replace("- 7\n", ""))
    with pytest.raises(InputError) as exc:
        segmill.read(tmp_path / "o", "yolo")
    assert "segmill_category_ids" in exc.value.message


def test_vertex_outside_the_image_is_clipped_and_reported(tmp_path):
    # 0.385 px beyond the right edge of a 10-wide image used to be written as 1.0385 (refused on re-read)
    poly = Polygons([[1, 1, 10.385, 1, 10.385, 6, 1, 6]])
    report, back = _write_read(_one_item([Annotation(1, 0, poly)]), tmp_path / "o")
    assert report.summary() == {"L310": 1}
    pts = back.items[0].annotations[0].geometry.parts[0]
    assert pts[:, 0].max() == 10.0


def test_box_outside_the_image_is_cut_and_reported(tmp_path):
    report, back = _write_read(_one_item([Annotation(1, 0, Box(-2, 1, 6, 3))]), tmp_path / "o")
    assert report.summary() == {"L310": 1}
    assert back.items[0].annotations[0].geometry == Box(0.0, 1.0, 4.0, 3.0)


@pytest.mark.parametrize("v,w", [(26.7, 427), (1.7, 6), (29.9, 300), (4.7, 5), (0.0999999, 1000)])
def test_written_coordinate_reads_back_on_the_source_grid_point(v, w):
    text = yolo.format_coord(v / w, w, v)
    assert yolo._snap(float(text) * w) == yolo._snap(v) and 0.0 <= float(text) <= 1.0


_SIDE = st.integers(1, 2000)


@st.composite
def _polygon_case(draw):
    w, h = draw(_SIDE), draw(_SIDE)
    # a mix of arbitrary values and values exactly on pycocotools' snapping boundaries (k / 5 - 0.1)
    def coord(side):
        return draw(st.one_of(st.floats(0, side), st.integers(1, 5 * side).map(lambda k: k / 5 - 0.1),
                              st.integers(0, 10 * side).map(lambda k: k / 10)))
    n = draw(st.integers(3, 8))
    pts = [(coord(w), coord(h)) for _ in range(n)]
    return w, h, np.array(pts, dtype=np.float64)


@settings(max_examples=300, deadline=None)
@given(_polygon_case())
def test_coco_to_yolo_to_coco_gives_identical_pycocotools_masks(tmp_path_factory, case):
    from pycocotools import mask as cmask

    w, h, part = case
    src = Dataset([Category(1, "a")], [Item(1, "a.png", w, h, [Annotation(1, 1, Polygons([part]))])])
    out = tmp_path_factory.mktemp("y")
    report = segmill.write(src, out / "o", "yolo", copy_images=False)
    assert not report.summary()
    line = (out / "o" / "labels" / "train" / "a.txt").read_text().split()
    back = np.array([float(t) for t in line[1:]]).reshape(-1, 2) * np.array([w, h], dtype=np.float64)

    def mask(p):
        return cmask.decode(cmask.merge(cmask.frPyObjects([p.reshape(-1).tolist()], h, w)))

    assert np.array_equal(mask(back), mask(part))


def _coco_tree(tmp_path, layout, split_file="instances_val2017.json"):
    """A COCO file in ``annotations/`` with its image placed by ``layout`` (relative folder)."""
    from PIL import Image

    (tmp_path / "annotations").mkdir()
    (tmp_path / layout).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (10, 8)).save(tmp_path / layout / "a.jpg")
    ds = Dataset([Category(3, "cat")], [Item(1, "a.jpg", 10, 8, [Annotation(1, 3, Polygons([[0, 0, 4, 0, 4, 4]]))])])
    segmill.write(ds, tmp_path / "annotations" / split_file, "coco")
    return segmill.read(tmp_path / "annotations" / split_file, "coco")


@pytest.mark.parametrize("layout", ["images", "val2017", "images/val", "annotations"])
def test_images_are_found_in_the_usual_coco_layouts_and_the_split_comes_from_the_file_name(tmp_path, layout):
    ds = _coco_tree(tmp_path, layout)
    report = segmill.write(ds, tmp_path / "y", "yolo")
    assert "L307" not in report.summary()
    assert (tmp_path / "y" / "images" / "val" / "a.jpg").is_file()
    assert (tmp_path / "y" / "labels" / "val" / "a.txt").is_file()
    back = segmill.read(tmp_path / "y", "yolo")
    assert [c.id for c in back.categories] == [3] and back.items[0].split == "val"


def test_image_root_split_and_link_options(tmp_path):
    ds = _coco_tree(tmp_path, "elsewhere/pics", "instances.json")
    report = segmill.write(ds, tmp_path / "y0", "yolo")
    assert "L307" in report.summary()  # not in any usual place
    report = segmill.write(ds, tmp_path / "y", "yolo", image_root=tmp_path / "elsewhere" / "pics", split="test",
                           link_images=True)
    assert not report.summary()
    img = tmp_path / "y" / "images" / "test" / "a.jpg"
    assert img.is_file() and (img.stat().st_nlink == 2 or any("copied" in n for n in report.notes))


def test_convert_cli_takes_image_root_and_split(tmp_path):
    from click.testing import CliRunner

    from segmill.cli import main

    _coco_tree(tmp_path, "elsewhere", "instances.json")
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "annotations" / "instances.json"), str(tmp_path / "y"),
                                    "--from", "coco", "--to", "yolo", "--image-root", str(tmp_path / "elsewhere"),
                                    "--split", "val", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "y" / "images" / "val" / "a.jpg").is_file()


def test_data_yaml_has_train_and_val_and_no_working_directory_path(tmp_path):
    import yaml

    ds = _one_item([Annotation(1, 0, Polygons([[0, 0, 4, 0, 4, 4]]))])
    ds.meta["yolo_yaml"] = {"path": "../datasets/old", "nc": 9, "download": "https://example.org/x.zip"}
    report = segmill.write(ds, tmp_path / "o", "yolo", copy_images=False)
    doc = yaml.safe_load((tmp_path / "o" / "data.yaml").read_text())
    # Ultralytics resolves a relative "path" against the working directory and requires train and val
    assert "path" not in doc and "nc" not in doc and doc["download"] == "https://example.org/x.zip"
    assert doc["train"] == doc["val"] == "images/train"
    assert any("'val' points at images/train" in n for n in report.notes)


#: The conversion matrix's rows (tests/test_cross_format.py) whose later format in registry order is
#: yolo: ``segmill convert <example> out --from S --to T`` reports exactly these loss codes.
CONVERSIONS = {
    ("coco", "yolo"): {"L001", "L302", "L303", "L305", "L307", "L309"},
    ("coco_panoptic", "yolo"): {"L302", "L307", "L309"},
    ("coco_results", "yolo"): {"L001", "L307"},
    ("masks", "yolo"): {"L003", "L303", "L307", "L309"},
    ("voc", "yolo"): {"L001", "L003", "L305", "L307", "L308", "L309"},
    ("yolo", "coco"): {"L105"},
    ("yolo", "coco_panoptic"): {"L705"},
    ("yolo", "coco_results"): {"L101", "L110", "L111"},
    ("yolo", "masks"): {"L208", "L705"},
    ("yolo", "voc"): {"L208", "L705"},
    ("yolo", "yolo"): set(),
}
