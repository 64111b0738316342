"""Lenient reads (errors=keep/skip): one bad record costs itself, `check` reports it, `raise` still refuses."""


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
from segmill.geometry import InvalidGeometry


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
