"""Void regions (VOC 255, CVAT label-less shapes) through readers, writers, info and check."""


from __future__ import annotations

import json

from click.testing import CliRunner

import segmill
from segmill.cli import main


def _check(path, fmt):
    return CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--output-format", "json"])


def _codes(result):
    doc = json.loads(result.output)
    return {f["code"] for f in doc["findings"]}


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


def test_panoptic_writer_reports_void_regions_it_paints_as_unlabeled(fixtures_dir, tmp_path):
    ds = segmill.read(fixtures_dir / "masks", "masks")
    report = segmill.write(ds, tmp_path / "pan", "coco_panoptic")
    assert [(loss.item_id, loss.annotation_id) for loss in report.losses if loss.code == "L254"] == _void_ids(ds)
