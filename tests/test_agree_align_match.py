"""The one image pairer (segmill.agree.align) and the one instance matcher (segmill.agree.matching.match).

Both are shared by ``segmill agree`` and ``segmill diff``/``gate``; each
caller states its rules explicitly, and these tests pin both callers' rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from segmill.agree import compare
from segmill.agree.align import KeyRule, align
from segmill.agree.matching import match, meets
from segmill.errors import InputError, UsageError
from segmill.gate.diff import match_images
from segmill.gate import diff
from segmill.geometry import Box
from segmill.model import Annotation, Category, Dataset, Item

# ---------------------------------------------------------------- matcher


def test_the_comparison_is_explicit_and_strict_by_default():
    m = np.array([[0.5, 0.0], [0.0, 0.7]])
    assert match(m, 0.5)[0].tolist() == [1]
    assert match(m, 0.5, comparison=">")[0].tolist() == [1]
    assert match(m, 0.5, comparison=">=")[0].tolist() == [0, 1]


def test_inclusive_comparison_never_pairs_disjoint_shapes_even_at_threshold_0():
    m = np.array([[0.0, 0.2], [0.0, 0.0]])
    rows, cols, _ = match(m, 0.0, comparison=">=")
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 1)]
    assert not meets(0.0, 0.0, ">=") and meets(0.1, 0.0, ">")


def test_the_two_objectives_differ_where_a_sub_threshold_pair_steals_a_partner():
    # (0,0) passes 0.5; the swap (0,1)+(1,0) has the larger total IoU but neither passes
    m = np.array([[0.6, 0.45], [0.45, 0.0]])
    assert match(m, 0.5, comparison=">=", objective="matches")[0].tolist() == [0]
    assert match(m, 0.5, comparison=">=", objective="total_iou")[0].tolist() == []


def test_the_tie_break_decides_between_equal_ious_only():
    m = np.array([[0.8, 0.8]])
    prefer_second = np.array([[0.0, 1e-9]])
    for objective in ("matches", "total_iou"):
        _, cols, ious = match(m, 0.5, objective=objective, tie_break=prefer_second)
        assert cols.tolist() == [1] and ious.tolist() == [0.8]


def test_unknown_comparison_or_objective_is_a_usage_error():
    with pytest.raises(UsageError, match="comparison"):
        match(np.array([[0.9]]), 0.5, comparison="=>")
    with pytest.raises(UsageError, match="comparison"):
        match(np.zeros((0, 0)), 0.5, comparison="=>")
    with pytest.raises(UsageError, match="objective"):
        match(np.array([[0.9]]), 0.5, objective="greedy")


def _box_ds(w):
    return Dataset([Category(1, "cat")], [Item(1, "a.png", 8, 8, [Annotation(1, 1, Box(0, 0, w, 4))])])


def test_agree_needs_iou_above_the_threshold_and_diff_at_least_the_threshold():
    # boxes 4x4 and 2x4: IoU exactly 0.5
    inst = compare([_box_ds(4), _box_ds(2)], iou=0.5).to_dict()["pairs"][0]["instance"]
    assert (inst["tp"], inst["fp"], inst["fn"]) == (0, 1, 1)
    head = _box_ds(2)
    head.items[0].annotations[0].id = 7  # new id: forces IoU matching
    d = diff(_box_ds(4), head, match="iou", match_iou=0.5)
    assert d.annotations["reshaped"] == 1 and d.annotations["added"] == 0
    assert d.annotation_changes[0].iou == 0.5


# ----------------------------------------------------------------- pairer


def test_rows_come_in_order_of_first_appearance_list_by_list():
    rows = align([["a", "b"], ["c", "a"], ["d", "c"]], [KeyRule(key=lambda s: s)])
    assert [(r.key, r.items) for r in rows] == [("a", ["a", "a", None]), ("b", ["b", None, None]),
                                               ("c", [None, "c", "c"]), ("d", [None, None, "d"])]


def test_later_rules_pair_what_earlier_rules_left():
    by_upper = KeyRule(key=str.upper, when=lambda s: s.isalpha())
    by_len = KeyRule(key=len)
    rows = align([["ab", "x1"], ["AB", "y2"]], [by_upper, by_len])
    assert [r.items for r in rows] == [["ab", "AB"], ["x1", "y2"]]


def test_duplicate_policies():
    same = ["k", "k"]
    first = align([same, ["k"]], [KeyRule(key=lambda s: s, duplicates="first")])
    assert [r.items for r in first] == [["k", "k"], ["k", None]]
    skip = align([same, ["k"]], [KeyRule(key=lambda s: s, duplicates="skip")])
    assert [r.items for r in skip] == [["k", None], ["k", None], [None, "k"]]

    def refuse(li, key):
        raise InputError(f"list {li} repeats {key!r}")

    with pytest.raises(InputError, match="list 0 repeats 'k'"):
        align([same, ["k"]], [KeyRule(key=lambda s: s, duplicates=refuse)])
    with pytest.raises(UsageError):
        KeyRule(key=lambda s: s, duplicates="last")


def _items(*specs):
    return Dataset([], [Item(i, name, 4, 4, []) for i, name in specs])


def test_gate_pairs_by_unique_file_name_then_by_id_in_head_order():
    base = _items((1, "a.png"), (2, "dup.png"), (3, "dup.png"), (4, "old.png"), (5, ""))
    head = _items((9, "dup.png"), (4, "new.png"), (1, "a.png"), (8, "x.png"), (5, ""))
    pairs = match_images(base, head)
    got = [(b and (b.id, b.file_name), h and (h.id, h.file_name)) for b, h in pairs]
    assert got == [
        (None, (9, "dup.png")),                # its name is not unique in base, and id 9 is unknown
        ((4, "old.png"), (4, "new.png")),      # renamed: paired by id
        ((1, "a.png"), (1, "a.png")),          # by name
        (None, (8, "x.png")),
        ((5, ""), (5, "")),                    # empty names pair by id only
        ((2, "dup.png"), None),
        ((3, "dup.png"), None),
    ]
