"""Semantic -> instance splitting, the dataset-level split and the split-instances CLI."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.measure import label

import segmill
from segmill.bridges.split import split_instances, split_dataset
from segmill.cli import main
from segmill.rle import encode


def _reference(cm, connectivity, stuff=(), ignore=255, background=0):
    """Per-class skimage labelling of each class alone, ordered by column-major first pixel."""
    out = []
    for v in np.unique(cm).tolist():
        if v in (ignore, background):
            continue
        if v in stuff:
            out.append((v, encode(cm == v)))
            continue
        lab = label(cm == v, connectivity=1 if connectivity == 4 else 2)
        out += [(v, encode(lab == k)) for k in range(1, lab.max() + 1)]
    first = [np.flatnonzero(r.decode().T.reshape(-1))[0] for _, r in out]
    return [out[i] for i in np.argsort(first, kind="stable")]


class_maps = st.integers(1, 16).flatmap(
    lambda h: st.integers(1, 16).flatmap(
        lambda w: arrays(np.uint8, (h, w), elements=st.sampled_from([0, 1, 2, 3, 255]))))


# cc3d is optional: split falls back to scikit-image without it
HAVE_CC3D = importlib.util.find_spec("cc3d") is not None


@pytest.mark.parametrize("backend", [
    "skimage", pytest.param("cc3d", marks=pytest.mark.skipif(not HAVE_CC3D, reason="cc3d not installed"))])
@settings(max_examples=60, deadline=None)
@given(cm=class_maps, connectivity=st.sampled_from([4, 8]))
def test_split_matches_per_class_skimage_labelling(cm, connectivity, backend):
    got = split_instances(cm, connectivity=connectivity, stuff=[3], backend=backend).instances
    assert got == _reference(cm, connectivity, stuff=(3,))


def test_diagonal_pixels_are_one_instance_with_8_and_two_with_4():
    cm = np.array([[1, 0], [0, 1]], np.uint8)
    assert len(split_instances(cm).instances) == 1
    assert len(split_instances(cm, connectivity=4).instances) == 2


def test_instances_come_in_column_major_first_pixel_order():
    cm = np.zeros((5, 5), np.uint8)
    cm[0, 3] = 1  # first in row-major order, but column 3
    cm[4, 0] = 2  # column 0: first in column-major order
    cm[2, 1] = 1
    assert [v for v, _ in split_instances(cm).instances] == [2, 1, 1]


def test_stuff_classes_stay_one_region_per_image():
    cm = np.zeros((4, 6), np.uint8)
    cm[0, 0] = cm[3, 5] = 2
    res = split_instances(cm, stuff=[2])
    assert [(v, r.area) for v, r in res.instances] == [(2, 2)]


def test_components_under_min_area_are_dropped_and_counted():
    cm = np.zeros((6, 6), np.uint8)
    cm[0, 0] = 1
    cm[2:5, 2:5] = 1
    cm[5, 0] = 3
    res = split_instances(cm, min_area=2)
    assert [(v, r.area) for v, r in res.instances] == [(1, 9)]
    assert res.dropped == {1: 1, 3: 1} and res.dropped_pixels == {1: 1, 3: 1}


def test_ignore_value_is_never_an_instance_and_zero_can_be_a_class():
    cm = np.array([[0, 255], [255, 1]], np.uint8)
    res = split_instances(cm, background=None)
    assert sorted(v for v, _ in res.instances) == [0, 1]


def test_sixteen_bit_class_values_are_split():
    cm = np.zeros((3, 3), np.uint16)
    cm[0, 0] = 1000
    cm[2, 2] = 1000
    assert [v for v, _ in split_instances(cm).instances] == [1000, 1000]


def test_split_dataset_on_mask_fixture_splits_the_void_cut_person(fixtures_dir):
    ds = segmill.read(fixtures_dir / "masks")
    out, report = split_dataset(ds, stuff=["road", "tree"])
    street = {i.id: i for i in out.items}["street_001"]
    names = {c.id: c.name for c in out.categories}
    got = sorted((names.get(a.category_id), a.geometry.area) for a in street.annotations if a.category_id is not None)
    # person 2 is cut in two by a void row: three person regions
    assert got == [("person", 6), ("person", 6), ("person", 12), ("road", 32), ("tree", 15)]
    assert "8-connectivity" in report.notes[0]


def test_cli_split_instances_writes_voc_and_reports_dropped_components(fixtures_dir, tmp_path):
    r = CliRunner().invoke(main, ["split-instances", str(fixtures_dir / "masks"), str(tmp_path / "v"),
                                  "--to", "voc", "--min-area", "7", "--stuff", "road"])
    assert r.exit_code == 0, r.output
    assert "L704" in r.output and "8-connectivity" in r.output
    ds = segmill.read(tmp_path / "v")
    assert sum(1 for _, a in ds.annotations() if a.category_id is not None) == 4


def test_cli_unknown_stuff_name_is_a_usage_error(fixtures_dir, tmp_path):
    r = CliRunner().invoke(main, ["split-instances", str(fixtures_dir / "masks"), str(tmp_path / "v"),
                                  "--stuff", "lava"])
    assert r.exit_code == 2 and "lava" in r.output
    assert not (tmp_path / "v").exists()


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    (tmp_path / "m" / "semantic").mkdir(parents=True)
    (tmp_path / "m" / "classes.txt").write_text("background\nthing\n")
    (tmp_path / "m" / "semantic" / "a.png").write_bytes(b"not a png")
    r = CliRunner().invoke(main, ["split-instances", str(tmp_path / "m"), str(tmp_path / "o")])
    assert r.exit_code == 2 and "a.png" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_cli_ignore_value_is_passed_to_the_masks_reader(tmp_path):
    from segmill.formats._png import write_png

    (tmp_path / "m" / "semantic").mkdir(parents=True)
    (tmp_path / "m" / "classes.txt").write_text("background\nthing\n")
    a = np.zeros((4, 6), np.uint8)
    a[:, 0:2] = 1
    a[:, 2] = 200  # void line between two things
    a[:, 3:5] = 1
    write_png(tmp_path / "m" / "semantic" / "a.png", a)
    r = CliRunner().invoke(main, ["split-instances", str(tmp_path / "m"), str(tmp_path / "o"),
                                  "--ignore-value", "200", "-q"])
    assert r.exit_code == 0, r.output
    ds = segmill.read(tmp_path / "o")
    things = [a.geometry.area for _, a in ds.annotations() if a.category_id == 1]
    assert things == [8, 8]
    r = CliRunner().invoke(main, ["split-instances", str(tmp_path / "m"), str(tmp_path / "o2"), "-q"])
    assert r.exit_code == 2 and "pixel value 200 has no class" in r.output


def test_checkerboard_is_one_8_connected_instance_even_past_the_first_run_buffer():
    cm = (np.add.outer(np.arange(200), np.arange(200)) % 2).astype(np.uint8)
    (inst,) = split_instances(cm).instances
    assert inst == (1, encode(cm == 1))
    assert len(split_instances(cm, connectivity=4).instances) == 20000


def test_cli_split_of_label_maps_not_under_semantic_splits_them(fixtures_dir, tmp_path):
    """Issue 13: PNGs straight in the folder (no semantic/) were read as nothing and written as "no loss"."""
    import shutil

    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(fixtures_dir / "masks" / "classes.txt", flat)
    for png in (fixtures_dir / "masks" / "semantic").glob("*.png"):
        shutil.copy(png, flat)
    r = CliRunner().invoke(main, ["split-instances", str(flat), str(tmp_path / "o.json"), "--from", "masks",
                                  "--to", "coco"])
    assert r.exit_code == 0, r.output
    ds = segmill.read(tmp_path / "o.json", "coco")
    want = split_dataset(segmill.read(fixtures_dir / "masks"))[0]
    assert len(ds.items) == 2
    assert sum(a.category_id is not None for _, a in ds.annotations()) == \
        sum(a.category_id is not None for _, a in want.annotations()) > 0


def test_cli_split_of_png_folder_without_classes_is_an_error_naming_the_layout(fixtures_dir, tmp_path):
    import shutil

    sub = tmp_path / "src" / "labels"
    sub.mkdir(parents=True)
    shutil.copy(fixtures_dir / "masks" / "classes.txt", tmp_path / "src")
    for png in (fixtures_dir / "masks" / "semantic").glob("*.png"):
        shutil.copy(png, sub)
    r = CliRunner().invoke(main, ["split-instances", str(tmp_path / "src"), str(tmp_path / "o"), "--from", "masks"])
    assert r.exit_code == 2 and "semantic/" in r.output and "labels" in r.output
    assert not (tmp_path / "o").exists()


def test_cli_split_of_a_source_without_images_is_an_error_and_writes_nothing(tmp_path):
    import json

    src = tmp_path / "empty.json"
    src.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}]}))
    r = CliRunner().invoke(main, ["split-instances", str(src), str(tmp_path / "o.json")])
    assert r.exit_code == 2 and "no image found" in r.output and "nothing to split" in r.output
    assert not (tmp_path / "o.json").exists()


def test_split_of_images_without_regions_says_so():
    from segmill.model import Category, Dataset, Item

    ds = Dataset([Category(1, "a")], [Item(1, "a.png", 4, 4)])
    out, report = split_dataset(ds)
    assert len(out.items) == 1 and any("no region to split in 1 image" in n for n in report.notes)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**40), values=st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3)), max_size=40))
def test_the_seeded_order_is_the_digests_sorted_with_ties_by_index(seed, values):
    from segmill.transforms.stable import seeded_order, stable_key

    want = sorted(range(len(values)), key=lambda i: (stable_key(seed, values[i]), i))
    assert seeded_order(seed, values).tolist() == want
