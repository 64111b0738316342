"""segmill check on the external corpus: the findings are the ones reviewed by hand.

Each expectation below was looked at in the data (see the closing notes of
issue 6); a change means a reader or a rule changed behaviour.
"""

from __future__ import annotations

import pytest

from segmill.check import check_path

pytestmark = pytest.mark.corpus


def found(result, *codes):
    return sorted((f.code, f.item_id, f.annotation_id) for f in result.findings if f.code in codes)


def test_datumaro_coco_instances_has_only_an_unused_category(corpus):
    r = check_path(corpus / "datumaro/coco_dataset/coco_instances/annotations/instances_val.json")
    assert [(f.code, f.data.get("name")) for f in r.findings if f.code != "S013"] == [("S010", "c")]


def test_labelme_coco_export_stores_pixel_areas_not_polygon_areas(corpus):
    # labelme writes area and bbox of its Pillow-drawn mask; COCO's convention is shoelace / vertex extent.
    r = check_path(corpus / "labelme/instance_segmentation/data_dataset_coco/annotations.json", select=["G"])
    assert found(r, "G011", "G012") == [("G011", 1, 5), ("G012", 0, 2), ("G012", 2, 8), ("G012", 2, 10)]
    g012 = next(f for f in r.findings if f.code == "G012" and f.annotation_id == 2)
    assert (g012.data["stored"], g012.data["expected"]) == (873.0, pytest.approx(817.5))


def test_labelme_click_just_outside_the_image_is_found(corpus):
    r = check_path(corpus / "labelme/instance_segmentation/data_annotated", select=["G007"])
    assert [(f.item_id, round(f.data["max_distance"], 3)) for f in r.findings] == [("2011_000006", 0.385)]


def test_cvat_shapes_with_an_empty_label_are_unknown_categories(corpus):
    r = check_path(corpus / "datumaro/cvat_dataset/for_images/export_task")
    assert found(r, "S004") == [("S004", 0, 2), ("S004", 1, 3)]
    assert r.counts()["error"] == 2


def test_voc_xml_without_masks_but_segmented_flag_is_reported(corpus):
    r = check_path(corpus / "datumaro/voc_dataset/voc_dataset3", select=["C009"])
    assert found(r, "C009") == [("C009", "2007_000001", None)]


def test_every_readable_corpus_dataset_checks_without_crashing(corpus):
    from segmill.io import detect_format

    checked = 0
    for p in sorted(corpus.rglob("*")):
        if not (p.is_dir() or p.suffix in (".json", ".xml")):
            continue
        try:
            detect_format(p)
            r = check_path(p, select=["ALL"])
        except Exception as exc:  # unreadable input is the reader's business, not check's
            from segmill.errors import SegmillError

            assert isinstance(exc, SegmillError), f"{p}: {exc!r}"
            continue
        checked += 1
        assert r.images >= 0
    assert checked >= 10
