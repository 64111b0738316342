"""segmill.check API: selection, configuration, fingerprints, results, bbox pruning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as cocomask

from segmill.check import Finding, check, load_config, rules, select_rules
from segmill.check.context import Context
from segmill.errors import InputError, SegmillError
from segmill.geometry import Polygons
from segmill.model import Annotation, Category, Dataset, Item


def square(x, y, s):
    return Polygons([[x, y, x + s, y, x + s, y + s, x, y + s]])


def overlapping_pair():
    """One image with a C001 finding, info by default (75% overlap of two different classes)."""
    anns = [Annotation(1, 1, square(0, 0, 20)), Annotation(2, 2, square(5, 0, 20))]
    return Dataset([Category(1, "car"), Category(2, "truck")], [Item(1, "a.png", 100, 100, anns)])


# ------------------------------------------------------------------ catalogue
def test_catalogue_has_at_least_30_rules_in_three_families():
    cat = rules()
    assert len(cat) >= 30
    assert {r.code[0] for r in cat} == {"S", "G", "C"}


def test_every_rule_doc_has_a_bad_and_a_good_example():
    for r in rules():
        assert "Bad:" in r.doc and "Good:" in r.doc, r.code


def test_rule_codes_and_names_are_unique():
    cat = rules()
    assert len({r.code for r in cat}) == len(cat)
    assert len({r.name for r in cat}) == len(cat)


# ------------------------------------------------------------------ selection
def test_default_selection_leaves_out_rules_that_are_off_by_default():
    codes = {r.code for r in select_rules()}
    assert "C008" not in codes and "S001" in codes


def test_select_prefix_picks_a_whole_family():
    assert {r.code[0] for r in select_rules(select=["G"])} == {"G"}


def test_ignore_removes_a_selected_rule():
    codes = {r.code for r in select_rules(select=["C00"], ignore=["C001"])}
    assert "C001" not in codes and "C002" in codes


def test_a_selector_matching_no_rule_is_an_error():
    with pytest.raises(SegmillError, match="X9"):
        select_rules(select=["X9"])


# --------------------------------------------------------------------- result
def test_failed_depends_on_the_fail_level():
    result = check(overlapping_pair())
    assert [f.code for f in result.findings] == ["C001"]
    assert not result.failed("error")
    assert not result.failed("warning")
    assert result.failed("info")


def test_to_dict_is_json_with_the_documented_keys():
    d = json.loads(json.dumps(check(overlapping_pair()).to_dict()))
    assert d["schema"] == "segmill.check/1"
    assert set(d) == {"schema", "segmill_version", "paths", "fail_on", "failed", "summary", "rules", "findings"}
    assert d["summary"]["by_rule"] == {"C001": 1}
    f = d["findings"][0]
    assert set(f) == {"code", "severity", "message", "file", "item_id", "annotation_id", "key", "data",
                      "fingerprint"}
    assert f["data"]["other_annotation_id"] == 1


def test_statistics_counts_findings_per_rule():
    rows = check(overlapping_pair()).statistics()
    assert rows == [{"code": "C001", "name": "overlapping-instances", "severity": "info", "count": 1}]


# --------------------------------------------------------------- fingerprints
def test_fingerprint_ignores_numbers_message_and_severity():
    a = Finding("C001", "warning", "overlaps by 75%", "x/ann.json", 1, 2, {"iou": 0.6}, "with 1")
    b = Finding("C001", "error", "overlaps by 80%", "x/ann.json", 1, 2, {"iou": 0.7}, "with 1")
    assert a.fingerprint() == b.fingerprint()


def test_fingerprint_ignores_the_folder_a_dataset_was_checked_from():
    a = Finding("S001", "error", "m", "/tmp/base/ann.json", 1)
    b = Finding("S001", "error", "m", "head/ann.json", 1)
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.parametrize("change", ["code", "item_id", "annotation_id", "key", "file"])
def test_fingerprint_changes_with_the_location(change):
    base = dict(code="C001", severity="warning", message="m", file="ann.json", item_id=1, annotation_id=2,
                key="with 1")
    other = dict(base, **{change: {"code": "C002", "item_id": 7, "annotation_id": 8, "key": "with 9",
                                   "file": "other.json"}[change]})
    assert Finding(**base).fingerprint() != Finding(**other).fingerprint()


# --------------------------------------------------------------------- config
def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_found_in_pyproject_of_a_parent_folder(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.segmill]\nselect = ["S", "G"]\nfail-on = "warning"\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    cfg = load_config(tmp_path / "a" / "b")
    assert cfg.select == ["S", "G"] and cfg.fail_on == "warning"
    assert cfg.path == tmp_path / "pyproject.toml"


def test_segmill_toml_wins_over_pyproject_in_the_same_folder(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.segmill]\nfail-on = "warning"\n')
    write(tmp_path / "segmill.toml", 'fail-on = "info"\n')
    assert load_config(tmp_path).fail_on == "info"


def test_pyproject_without_a_segmill_table_is_passed_over(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.segmill]\nfail-on = "info"\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "x"\n')
    assert load_config(tmp_path / "sub").fail_on == "info"


def test_config_keeps_other_commands_tables(tmp_path):
    write(tmp_path / "segmill.toml", '[gate]\nmax-new-errors = 0\n')
    assert load_config(tmp_path).tables == {"gate": {"max-new-errors": 0}}


def test_per_rule_threshold_and_severity_apply(tmp_path):
    p = write(tmp_path / "segmill.toml", '[rules.C001]\nseverity = "error"\nmin-overlap = 0.5\n')
    result = check(overlapping_pair(), config=load_config(file=p))
    assert [(f.code, f.severity) for f in result.findings] == [("C001", "error")]
    p = write(tmp_path / "segmill.toml", '[rules.C001]\nmin-overlap = 0.9\n')
    assert check(overlapping_pair(), config=load_config(file=p)).findings == []


@pytest.mark.parametrize("text, words", [
    ('selct = ["S"]\n', "unknown key"),
    ('[rules.Z001]\nseverity = "error"\n', "unknown rule"),
    ('[rules.C001]\nmin-overlapp = 0.4\n', "unknown threshold"),
    ('[rules.C001]\nmin-overlap = "big"\n', "must be a number"),
    ('fail-on = "fatal"\n', "fail-on"),
    ('select = ["Q"]\n', "matches no rule"),
    ("select = [\n", "not valid TOML"),
])
def test_bad_config_is_an_input_error_naming_the_file(tmp_path, text, words):
    p = write(tmp_path / "segmill.toml", text)
    with pytest.raises(InputError, match=words) as info:
        load_config(file=p)
    assert str(p) in str(info.value)


def test_command_line_select_overrides_the_file(tmp_path):
    p = write(tmp_path / "segmill.toml", 'select = ["S"]\nignore = ["S010"]\n')
    cfg = load_config(file=p).override(select=["C001"], ignore=["S011"])
    assert cfg.select == ["C001"] and cfg.ignore == ["S010", "S011"]


# -------------------------------------------------------------------- pairing
def grid_dataset(n_side, size=10, step=12):
    anns = [Annotation(k, 1, square(x * step, y * step, size))
            for k, (x, y) in enumerate((x, y) for x in range(n_side) for y in range(n_side))]
    return Dataset([Category(1, "c")], [Item(1, "a.png", n_side * step, n_side * step, anns)])


def test_pairs_never_intersect_annotations_whose_boxes_are_apart():
    ds = grid_dataset(20)  # 400 disjoint squares: 79,800 pairs if done naively
    ctx = Context(ds)
    assert ctx.pairs(ds.items[0]) == []
    assert ctx.pairs_tested == 0


def test_pairs_intersect_only_annotations_whose_boxes_overlap():
    ds = grid_dataset(20, size=14)  # 14 px squares every 12 px: each overlaps its right, lower, diagonal neighbours
    ctx = Context(ds)
    pairs = ctx.pairs(ds.items[0])
    side_neighbours = 2 * 20 * 19
    assert ctx.pairs_tested == side_neighbours + 2 * 19 * 19  # plus both diagonals of every 2x2 block
    assert len(pairs) == ctx.pairs_tested  # every tested pair does share pixels


def test_pair_iou_and_overlap_match_pycocotools():
    rng = np.random.default_rng(3)
    anns = []
    for k in range(25):
        x, y = rng.uniform(0, 60, 2)
        pts = np.column_stack([x + rng.uniform(0, 30, 6), y + rng.uniform(0, 30, 6)])
        anns.append(Annotation(k, 1, Polygons([pts])))
    ds = Dataset([Category(1, "c")], [Item(1, "a.png", 90, 95, anns)])
    pairs = Context(ds).pairs(ds.items[0])
    assert pairs
    coco = [cocomask.merge(cocomask.frPyObjects([a.geometry.parts[0].ravel().tolist()], 95, 90)) for a in anns]
    ref = cocomask.iou(coco, coco, [0] * len(coco))
    areas = cocomask.area(coco)
    got = {(p.i, p.j): p for p in pairs}
    for i in range(len(anns)):
        for j in range(i + 1, len(anns)):
            inter = cocomask.area(cocomask.merge([coco[i], coco[j]], intersect=True))
            if inter == 0:
                assert (i, j) not in got
                continue
            p = got[(i, j)]
            assert p.iou == pytest.approx(ref[i, j], abs=1e-12)
            assert p.inter == inter
            assert p.overlap == pytest.approx(inter / min(areas[i], areas[j]))


# ------------------------------------------------------- pruning, as a property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_rect = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 15), st.integers(1, 15))


@settings(max_examples=40, deadline=None)
@given(st.lists(_rect, min_size=2, max_size=14))
def test_bbox_sweep_finds_every_intersecting_pair(rects):
    """The sweep keeps exactly the pairs a brute-force all-pairs intersection finds."""
    anns = [Annotation(k, 1, Polygons([[x, y, x + w, y, x + w, y + h, x, y + h]]))
            for k, (x, y, w, h) in enumerate(rects)]
    ds = Dataset([Category(1, "c")], [Item(1, "a.png", 60, 60, anns)])
    got = {(p.i, p.j): p.inter for p in Context(ds).pairs(ds.items[0])}
    want = {}
    for i, (xi, yi, wi, hi) in enumerate(rects):
        for j in range(i + 1, len(rects)):
            xj, yj, wj, hj = rects[j]
            inter = max(0, min(xi + wi, xj + wj) - max(xi, xj)) * max(0, min(yi + hi, yj + hj) - max(yi, yj))
            if inter:
                want[(i, j)] = inter
    assert got == want
