"""The synthetic COCO generator: deterministic, COCO-like, and self-consistent."""

from __future__ import annotations

import json

import numpy as np
from pycocotools import mask as mu

from segmill.synth import COCO_CATEGORY_IDS, coco_dict, write_coco


def test_same_seed_gives_the_same_dataset():
    assert coco_dict(20, seed=4) == coco_dict(20, seed=4)


def test_different_seeds_give_different_datasets():
    assert coco_dict(20, seed=4) != coco_dict(20, seed=5)


def test_write_coco_writes_what_coco_dict_returns(tmp_path):
    p = write_coco(tmp_path / "s.json", 25, seed=9)
    assert json.loads(p.read_text()) == coco_dict(25, seed=9)


def test_coco_category_ids_are_the_80_sparse_ids():
    assert len(COCO_CATEGORY_IDS) == 80 and COCO_CATEGORY_IDS[-1] == 90 and 12 not in COCO_CATEGORY_IDS


def test_scale_is_about_7_annotations_per_image_with_crowds_and_multipart():
    d = coco_dict(600, seed=1)
    anns = d["annotations"]
    assert 6.3 < len(anns) / 600 < 8.3
    crowd = [a for a in anns if a["iscrowd"]]
    assert 0 < len(crowd) < 0.03 * len(anns)
    multi = sum(len(a["segmentation"]) > 1 for a in anns if not a["iscrowd"])
    assert 0.05 < multi / len(anns) < 0.2
    assert {a["category_id"] for a in anns} <= set(COCO_CATEGORY_IDS)


def test_polygons_have_10_to_60_vertices():
    d = coco_dict(100, seed=3)
    n = [len(p) // 2 for a in d["annotations"] if not a["iscrowd"] for p in a["segmentation"]]
    assert min(n) >= 10 and max(n) <= 60


def test_crowd_area_and_bbox_agree_with_pycocotools():
    d = coco_dict(400, seed=6)
    crowd = [a for a in d["annotations"] if a["iscrowd"]]
    assert crowd
    for a in crowd:
        h, w = a["segmentation"]["size"]
        rle = mu.frPyObjects(a["segmentation"], h, w)
        assert a["area"] == int(mu.area(rle))
        assert a["bbox"] == mu.toBbox(rle).tolist()


def test_polygon_area_is_the_shoelace_sum_and_bbox_the_vertex_extent():
    d = coco_dict(40, seed=8)
    for a in d["annotations"]:
        if a["iscrowd"]:
            continue
        parts = [np.asarray(p).reshape(-1, 2) for p in a["segmentation"]]
        area = sum(0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
                   for p in parts)
        allp = np.concatenate(parts)
        assert abs(a["area"] - area) < 1e-6
        assert a["bbox"][0] == allp[:, 0].min() and a["bbox"][1] == allp[:, 1].min()


def test_polygons_stay_inside_their_image():
    d = coco_dict(40, seed=10)
    size = {i["id"]: (i["width"], i["height"]) for i in d["images"]}
    for a in d["annotations"]:
        if a["iscrowd"]:
            continue
        w, h = size[a["image_id"]]
        for p in a["segmentation"]:
            assert 0 <= min(p[0::2]) and max(p[0::2]) <= w and 0 <= min(p[1::2]) and max(p[1::2]) <= h


def test_unknown_fields_appear_at_every_level():
    d = coco_dict(200, seed=0)
    assert "segmill_synth" in d
    assert any("x_capture" in i for i in d["images"])
    assert any("x_review" in a for a in d["annotations"])
    assert any("x_frequency" in c for c in d["categories"])
