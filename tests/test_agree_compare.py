"""segmill.agree.compare on in-memory datasets: pairing, pixel metrics, annotator view, reports."""

from __future__ import annotations

import json
import re

import pytest

from segmill.agree import AgreementReport, compare, report_html, report_json, report_text
from segmill.errors import InputError
from segmill.geometry import Box, Shape
from segmill.model import Annotation, Category, Dataset, Item


def ds(images, cats=(("cat", 1), ("dog", 2))):
    """``images``: {file_name: [(category id, geometry), ...]}."""
    items = []
    for n, (name, anns) in enumerate(images.items(), 1):
        items.append(Item(n, name, 40, 30, [Annotation(i + 1, c, g) for i, (c, g) in enumerate(anns)]))
    return Dataset([Category(i, n) for n, i in cats], items)


BASE = {"a.png": [(1, Box(2, 2, 10, 8)), (2, Box(20, 10, 12, 12))], "b.png": [(1, Box(5, 5, 6, 6))]}


def test_identical_annotators_agree_perfectly_everywhere():
    d = compare([ds(BASE), ds(BASE), ds(BASE)]).to_dict()
    assert d["pq"] == 1.0 and d["mean_iou"] == 1.0 and d["boundary_f1"] == 1.0
    assert d["kappa"] == 1.0
    assert d["multi_rater"]["fleiss_kappa"] == 1.0 and d["multi_rater"]["krippendorff_alpha"] == 1.0


def test_disjoint_annotators_have_zero_pq_and_iou_and_no_positive_kappa():
    other = {"a.png": [(1, Box(34, 24, 5, 5))], "b.png": [(1, Box(30, 0, 5, 5))]}
    d = compare([ds(BASE), ds(other)]).to_dict()
    assert d["pq"] == 0.0 and d["mean_iou"] == 0.0 and d["boundary_f1"] == 0.0
    assert d["kappa"] <= 0.0 and d["multi_rater"]["krippendorff_alpha"] <= 0.0


def test_images_missing_from_an_annotator_are_reported():
    partial = {"a.png": BASE["a.png"]}
    d = compare([ds(BASE), ds(partial)], names=["x", "y"]).to_dict()
    assert d["images"]["missing"] == [{"image": "b.png", "missing_from": ["y"]}]
    assert d["pairs"][0]["images"] == 1 and d["images"]["complete"] == 1


def test_images_can_be_matched_by_id_instead_of_file_name():
    renamed = {"A.PNG": BASE["a.png"], "B.PNG": BASE["b.png"]}
    assert compare([ds(BASE), ds(renamed)], match_by="id").to_dict()["pq"] == 1.0
    by_name = compare([ds(BASE), ds(renamed)]).to_dict()
    assert len(by_name["images"]["missing"]) == 4


def test_categories_are_matched_by_name_not_id():
    swapped = ds(BASE, cats=(("cat", 1), ("dog", 2)))
    other = Dataset([Category(7, "dog"), Category(9, "cat")], [
        Item(1, "a.png", 40, 30, [Annotation(1, 9, Box(2, 2, 10, 8)), Annotation(2, 7, Box(20, 10, 12, 12))]),
        Item(2, "b.png", 40, 30, [Annotation(3, 9, Box(5, 5, 6, 6))]),
    ])
    assert compare([swapped, other]).to_dict()["pq"] == 1.0


def test_conflicting_image_sizes_are_reported_and_skipped():
    other = ds(BASE)
    other.items[1].width = 41
    d = compare([ds(BASE), other]).to_dict()
    assert [s["image"] for s in d["images"]["skipped"]] == ["b.png"]


def test_annotations_without_area_are_listed_not_dropped_silently():
    pts = {"a.png": BASE["a.png"] + [(1, Shape("point", [[3, 3]]))], "b.png": BASE["b.png"]}
    d = compare([ds(BASE), ds(pts)]).to_dict()
    assert d["unusable_annotations"]["count"] == 1
    assert "Shape" in d["unusable_annotations"]["items"][0]["reason"]


def test_pixel_iou_and_dice_of_a_half_overlapping_box():
    a = {"a.png": [(1, Box(0, 0, 10, 10))]}
    b = {"a.png": [(1, Box(5, 0, 10, 10))]}
    px = compare([ds(a), ds(b)]).to_dict()["pairs"][0]["pixel"]["per_class"]["cat"]
    assert px["iou"] == pytest.approx(50 / 150) and px["dice"] == pytest.approx(100 / 200)


def test_boundary_f1_counts_boundaries_within_the_tolerance():
    a = {"a.png": [(1, Box(5, 5, 10, 10))]}
    b = {"a.png": [(1, Box(7, 5, 10, 10))]}  # shifted 2 px
    assert compare([ds(a), ds(b)], boundary_tolerance=2).to_dict()["boundary_f1"] == 1.0
    assert compare([ds(a), ds(b)], boundary_tolerance=1).to_dict()["boundary_f1"] < 1.0


def test_overlapping_annotations_paint_the_smaller_one_on_top():
    # dog inside cat: the label map must show the dog, so the two agree
    a = {"a.png": [(2, Box(4, 4, 4, 4)), (1, Box(0, 0, 20, 20))]}
    b = {"a.png": [(1, Box(0, 0, 20, 20)), (2, Box(4, 4, 4, 4))]}
    assert compare([ds(a), ds(b)]).to_dict()["mean_iou"] == 1.0


def test_annotator_view_ranks_the_sloppy_annotator_last():
    sloppy = {"a.png": [(1, Box(4, 2, 10, 8)), (2, Box(24, 14, 12, 12))], "b.png": [(1, Box(8, 8, 6, 6))]}
    view = compare([ds(BASE), ds(sloppy), ds(BASE)], names=["p", "q", "r"]).to_dict()["annotator_view"]
    assert view["reference"] == "majority vote"
    assert [a["name"] for a in view["annotators"]][-1] == "q"


def test_reference_annotator_is_left_out_of_the_ranking():
    view = compare([ds(BASE), ds(BASE)], names=["p", "q"], reference="p").to_dict()["annotator_view"]
    assert [a["name"] for a in view["annotators"]] == ["q"] and view["annotators"][0]["iou"] == 1.0


def test_unknown_reference_is_an_input_error():
    with pytest.raises(InputError, match="reference"):
        compare([ds(BASE), ds(BASE)], names=["p", "q"], reference="z")


def test_a_single_dataset_is_an_input_error():
    with pytest.raises(InputError, match="at least two"):
        compare([ds(BASE)])


def test_thresholds_report_what_failed():
    other = {"a.png": [(1, Box(25, 20, 5, 5))], "b.png": [(1, Box(30, 0, 5, 5))]}
    rep = compare([ds(BASE), ds(other)])
    assert rep.check_thresholds(min_pq=0.5) == ["PQ 0.0000 is below the minimum 0.5"]
    assert compare([ds(BASE), ds(BASE)]).check_thresholds(0.9, 0.9, 0.9) == []


def test_json_report_has_the_documented_keys_and_no_nan():
    text = report_json.render(compare([ds(BASE), ds({"a.png": BASE["a.png"]})]))
    d = json.loads(text)
    for key in ("schema", "annotators", "categories", "settings", "pq", "sq", "rq", "mean_iou", "kappa",
                "boundary_f1", "images", "unusable_annotations", "pairs", "multi_rater", "annotator_view",
                "lowest_images", "per_image"):
        assert key in d, key
    assert d["schema"] == "segmill.agree/1" and "NaN" not in text


def test_text_report_names_the_missing_images():
    text = report_text.render(compare([ds(BASE), ds({"a.png": BASE["a.png"]})], names=["x", "y"]))
    assert "b.png: missing from y" in text and "PQ 1.000" in text


def test_html_report_is_self_contained():
    other = {"a.png": [(1, Box(3, 2, 10, 8))], "b.png": []}
    page = report_html.render(compare([ds(BASE), ds(other)]), n_lowest=2)
    assert page.count("data:image/png;base64,") == 2
    # nothing fetched from anywhere: no src/href other than data: URIs
    refs = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)""", page)
    assert refs and all(r.startswith("data:") for r in refs)
    assert "http://" not in page and "https://" not in page


def test_compare_returns_an_agreement_report():
    assert isinstance(compare([ds(BASE), ds(BASE)]), AgreementReport)


def test_label_maps_never_exist_for_more_than_one_image_at_a_time(monkeypatch):
    from segmill.agree import rasterize

    live = []
    real = rasterize.ImageAnnotations.label_map

    def spy(self, *args):
        out = real(self, *args)
        live.append(out.size)
        return out

    monkeypatch.setattr(rasterize.ImageAnnotations, "label_map", spy)
    many = {f"{i}.png": BASE["a.png"] for i in range(5)}
    compare([ds(many), ds(many)])
    assert len(live) == 10 and set(live) == {40 * 30}  # one map per annotator per image, image-sized
