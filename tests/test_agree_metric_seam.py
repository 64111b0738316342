"""The agreement metric seam: a metric added in a test module alone shows up everywhere.

The toy metric below lives only in this file. Registering it is all it takes
for ``compare()`` to run it on every image and for its numbers to reach
``to_dict()``, the JSON, text and HTML reports.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from segmill.agree import compare, report_html, report_json, report_text
from segmill.agree.compare import accumulate, check_order
from segmill.agree.context import RunContext
from segmill.agree.metric import Column, Metric, MetricResult, Rows, Table
from segmill.agree.metrics import METRICS, register, unregister
from segmill.agree.pairing import pair_datasets
from segmill.agree.settings import AgreeSettings
from segmill.errors import InputError, UsageError
from segmill.geometry import Box
from segmill.model import Annotation, Category, Dataset, Item


class ForegroundOverlap:
    """Toy metric: per pair, pixels both annotators label / pixels either labels."""

    name = "foreground"
    requires = ()

    def start(self, run):
        return {p: np.zeros(2, np.int64) for p in run.pairs}

    def add_image(self, state, image):
        for a, b in image.pairs:
            fa, fb = image.label_maps[a] > 0, image.label_maps[b] > 0
            counts = np.array([(fa & fb).sum(), (fa | fb).sum()])
            state[(a, b)] += counts
            image.pair_record(a, b)["fg_overlap"] = float(counts[0] / counts[1]) if counts[1] else None

    def merge(self, state, other):
        for p in other:
            state[p] += other[p]
        return state

    def finalize(self, state, run):
        pairs = [{"both": int(state[p][0]), "either": int(state[p][1]),
                  "overlap": float(state[p][0] / state[p][1]) if state[p][1] else None} for p in run.pairs]
        return MetricResult(headline={"foreground_overlap": float(np.mean([p["overlap"] for p in pairs]))},
                            pairs=pairs, sections={"foreground": {"pixels": sum(p["either"] for p in pairs)}})

    def rows(self, result, run):
        return Rows(headline={"foreground_overlap": "FG overlap"},
                    pair_columns=[(Column("foreground overlap", "FG"), [p["overlap"] for p in result.pairs])],
                    tables=[Table("Foreground pixels", "foreground pixels:", ["pixels"],
                                  [[result.sections["foreground"]["pixels"]]])])


@pytest.fixture
def toy_metric():
    metric = register(ForegroundOverlap())
    yield metric
    unregister(metric.name)


def ds(x0):
    """One 20x16 image with a cat box starting at column ``x0`` and a dog box."""
    anns = [Annotation(1, 1, Box(x0, 2, 8, 6)), Annotation(2, 2, Box(12, 8, 6, 6))]
    return Dataset([Category(1, "cat"), Category(2, "dog")], [Item(1, "a.png", 20, 16, anns),
                                                              Item(2, "b.png", 20, 16, anns[:1])])


def test_the_toy_metric_is_a_metric():
    assert isinstance(ForegroundOverlap(), Metric)


def test_a_registered_metric_shows_up_in_compare_and_every_report(toy_metric):
    rep = compare([ds(0), ds(2)], names=["x", "y"])
    d = rep.to_dict()
    # cat boxes overlap 6 of 10 columns: 48 + 36 both of 60 + 36 + 24 either, twice over the images
    pair = d["pairs"][0]["foreground"]
    assert pair == {"both": 2 * 36 + 36, "either": 2 * 60 + 36, "overlap": pytest.approx(108 / 156)}
    assert d["foreground_overlap"] == pytest.approx(108 / 156)
    assert d["foreground"] == {"pixels": 156}
    assert d["per_image"][0]["pairs"]["x vs y"]["fg_overlap"] == pytest.approx((36 + 36) / (60 + 36))
    # after the schema's own keys: headline numbers after the schema's, sections after lowest_images
    keys = list(d)
    assert keys.index("foreground_overlap") == keys.index("boundary_f1") + 1
    assert keys.index("foreground") == keys.index("lowest_images") + 1
    assert json.loads(report_json.render(rep))["foreground"] == {"pixels": 156}
    text = report_text.render(rep)
    assert "FG overlap 0.692" in text and "foreground pixels:" in text
    header = next(line for line in text.splitlines() if line.startswith("pair "))
    assert header.split()[-1] == "FG"
    page = report_html.render(rep)
    assert "<span>FG overlap</span>" in page and "<th>foreground overlap</th>" in page
    assert "<h2>Foreground pixels</h2>" in page


def test_unregistering_removes_the_metric_again():
    before = [m.name for m in METRICS]
    metric = register(ForegroundOverlap())
    assert [m.name for m in METRICS] == before + ["foreground"]
    unregister(metric.name)
    d = compare([ds(0), ds(2)]).to_dict()
    assert "foreground" not in d and "foreground" not in d["pairs"][0]
    assert [m.name for m in METRICS] == before


def test_the_schema_keys_keep_their_order():
    d = compare([ds(0), ds(2), ds(1)]).to_dict()
    assert list(d) == ["schema", "annotators", "categories", "settings", "pq", "sq", "rq", "mean_iou", "kappa",
                       "boundary_f1", "images", "unusable_annotations", "pairs", "multi_rater", "annotator_view",
                       "lowest_images", "per_image"]
    assert list(d["pairs"][0]) == ["a", "b", "images", "instance", "pixel"]
    assert list(d["per_image"][0]) == ["image", "pairs", "score"]
    first = next(iter(d["per_image"][0]["pairs"].values()))
    assert list(first) == ["pq", "tp", "fp", "fn", "mean_iou", "kappa"]


def test_register_refuses_duplicates_missing_requirements_and_non_metrics(toy_metric):
    with pytest.raises(UsageError, match="already registered"):
        register(ForegroundOverlap())

    class NeedsMissing(ForegroundOverlap):
        name = "needy"
        requires = ("no_such_metric",)

    with pytest.raises(UsageError, match="no_such_metric"):
        register(NeedsMissing())
    with pytest.raises(UsageError, match="not an agreement metric"):
        register(object())


def test_a_metric_listed_before_one_it_requires_is_refused():
    by_name = {m.name: m for m in METRICS}
    with pytest.raises(UsageError, match="needs \\['instance'\\]"):
        check_order([by_name["image_scores"], by_name["instance"]])
    with pytest.raises(UsageError, match="two agreement metrics"):
        check_order([by_name["pixel"], by_name["pixel"]])


def test_two_metrics_cannot_give_the_same_headline_number(toy_metric):
    class Clash(ForegroundOverlap):
        name = "clash"

        def finalize(self, state, run):
            return MetricResult(headline={"pq": 0.0})

    register(Clash())
    try:
        rep = compare([ds(0), ds(2)])
        with pytest.raises(UsageError, match="'pq'"):
            rep.to_dict()
    finally:
        unregister("clash")


@pytest.mark.parametrize("split", [1, 2, 3])
def test_merging_the_states_of_two_parts_equals_one_pass(split, toy_metric):
    many = [ds(x) for x in (0, 2, 5)]
    for d in many:  # four images: split them between the passes
        d.items += [Item(3, "c.png", 20, 16, list(d.items[0].annotations)),
                    Item(4, "d.png", 20, 16, [Annotation(9, 2, Box(1, 1, 3 + len(d.items), 4))])]
    pairing = pair_datasets(many, None)
    run = RunContext.of(pairing, AgreeSettings())
    metrics = tuple(METRICS)
    whole = accumulate(run, pairing.groups, metrics)
    parts = accumulate(run, pairing.groups[:split], metrics).merge(
        accumulate(run, pairing.groups[split:], metrics), metrics)
    for m, a, b in zip(metrics, whole.states, parts.states):
        fa, fb = m.finalize(a, run), m.finalize(b, run)
        assert json.dumps(fa.__dict__, sort_keys=True) == json.dumps(fb.__dict__, sort_keys=True), m.name
    assert whole.per_image == parts.per_image and whole.pair_images == parts.pair_images


def test_settings_are_validated_in_one_place():
    s = AgreeSettings(iou=0.25, boundary_tolerance=1, void=("road", "sky"), reference="b")
    assert s.to_dict() == {"iou": 0.25, "boundary_tolerance": 1.0, "match_by": "file_name", "reference": "b",
                           "void": ["road", "sky"], "unlabeled": "background", "raster": "coco"}
    assert s.reference_index(["a", "b"]) == 1
    with pytest.raises(InputError, match="is not one of the annotators"):
        s.reference_index(["a", "c"])
    with pytest.raises(AttributeError):
        s.iou = 0.9  # frozen
    for bad, message in (({"iou": 1.0}, "IoU threshold"), ({"iou": "x"}, "IoU threshold"),
                         ({"boundary_tolerance": -1}, "must not be negative"),
                         ({"boundary_tolerance": float("nan")}, "finite"),
                         ({"match_by": "name"}, "match_by"), ({"unlabeled": "ignore"}, "unlabeled"),
                         ({"void": "sky"}, "not the string"), ({"void": [3]}, "strings")):
        with pytest.raises(InputError, match=message):
            AgreeSettings(**bad)
    with pytest.raises(UsageError, match="rasterization rule"):
        AgreeSettings(raster="bresenham")


def test_compare_and_consensus_refuse_bad_settings_with_segmill_errors():
    from segmill.agree import consensus

    with pytest.raises(InputError, match="finite"):
        compare([ds(0), ds(2)], boundary_tolerance=float("inf"))
    with pytest.raises(InputError, match="unlabeled"):
        consensus([ds(0), ds(2)], unlabeled="nothing")
